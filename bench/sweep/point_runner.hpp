#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/sweep/sweep_config.hpp"
#include "loadgen/config.hpp"
#include "model/loadgen_report.hpp"
#include "model/stats_snapshot.hpp"
#include "model/sweep_point.hpp"

namespace muxbench {

struct Tools {
  std::string echo_server;
  std::string loadgen;
  std::string wait_bench;
  std::string claims;
  std::string micro_report;  // bench/micro_report.py
  std::string plot;          // plots/plot.py
  std::string report;        // plots/report.py (index.html)
  std::string python = "/usr/bin/python3";
  std::string python_echo_server;  // servers/python/echo_server.py
  std::string libuv_echo_server;   // libuv-echo-server (empty: not built here)
};

// Runs one point: echo-server pinned to the server CPU, loadgen pinned by the placement and
// signalling the server at both edges of its window, so the two stats snapshots bracket exactly
// the measured window. Returns the point's record (status ok, overloaded, unsupported, failed or
// interrupted, with the reason). Raw outputs go to points_dir/<id>.{loadgen,server}.json.
// With a sampler, the server is also measured from outside (/proc) at the window's edges; a
// foreign server (config.servers) is measured only so.
class WindowSampler;
PointRecord run_point(const PointSpec& point, const SweepConfig& config, const Tools& tools,
                      const std::filesystem::path& points_dir, const std::atomic<bool>& stop,
                      WindowSampler* sampler = nullptr);

// "sh -c 'exec TEMPLATE'" with the placeholders replaced: the template's program takes the
// shell's place, so the pid held is the program's.
std::vector<std::string> shell_command(
    std::string text, const std::vector<std::pair<std::string, std::string>>& values);

// The last non-empty line of a child's output (its reason, usually).
std::string last_line(const std::string& text);

// --- The parts of run_point that decide a record, for the tests. ---

// What a point needs from loadgen's report, a single generator's or the merge of several.
struct LoadgenFigures {
  LoadgenStatus status = LoadgenStatus::ok;
  std::vector<std::string> problems;
  // The window's numbers (the server's part is filled in by the sweep); absent when loadgen
  // never measured (connect_failed).
  std::optional<PointMeasurement> measured;
};
LoadgenFigures figures_of(const LoadgenReport& report);

struct GeneratorOutcome {
  std::optional<LoadgenFigures> report;        // loadgen's report, or the merge of several
  std::vector<std::optional<int>> exit_codes;  // one per generator (null: did not finish in time)
  bool remote = false;                         // the generators ran from --generator templates
  bool finished = true;                        // every generator exited on its own
  std::string ended;  // how a generator that did not exit 0 ended ("killed by signal 11 (...)")
  std::string error;  // the last stderr line(s)
};

// The server's snapshots (one per SIGUSR1, one on exit) and how it ended.
struct ServerEnd {
  std::vector<StatsSnapshot> snapshots;
  std::optional<int> exit_code;                      // 128 + signal when a signal ended it
  std::optional<int> signal;                         // the signal that ended it
  std::optional<std::chrono::seconds> killed_after;  // the sweep sent SIGKILL after this long
};

// "echo-server was killed by the sweep after 10 s (no exit on SIGTERM)", "echo-server was killed
// by signal 11 (Segmentation fault)", "echo-server exited with code 3".
std::string server_end_text(const ServerEnd& end);

// What the server did between two snapshots; no per-message figure below default_min_echoes.
ServerWindow server_window(const StatsSnapshot& before, const StatsSnapshot& after,
                           std::size_t message_size);

// The record of a point before it ran: its coordinates in the grid.
PointRecord point_record(const PointSpec& point, const SweepConfig& config);

// The record of a point whose server ran: exit codes, loadgen's figures, the server's window,
// and the status they add up to.
PointRecord measured_record(PointRecord record, const GeneratorOutcome& outcome,
                            const ServerEnd& server, bool stopped);

}  // namespace muxbench
