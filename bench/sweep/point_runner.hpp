#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "bench/sweep/sweep_config.hpp"
#include "model/sweep_point.hpp"

namespace muxbench {

struct Tools {
  std::string echo_server;
  std::string loadgen;
  std::string wait_bench;
  std::string claims;
  std::string micro_report;  // bench/micro_report.py
  std::string plot;          // plots/plot.py
  std::string python = "/usr/bin/python3";
};

// Runs one point: echo-server pinned to the server CPU, loadgen pinned by the placement and
// signalling the server at both edges of its window, so the two stats snapshots bracket exactly
// the measured window. Returns the point's record (status ok, unsupported, failed or
// interrupted, with the reason). Raw outputs go to points_dir/<id>.{loadgen,server}.json.
PointRecord run_point(const PointSpec& point, const SweepConfig& config, const Tools& tools,
                      const std::filesystem::path& points_dir, const std::atomic<bool>& stop);

}  // namespace muxbench
