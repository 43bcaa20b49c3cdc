#pragma once

// The loadgen report (results/README.md, "loadgen report"): schema_version 1, kind
// "loadgen-report". JSON appears only in the to_json/from_json functions below; the sections a
// report lacks (a run that never opened its connections has no window, throughput, latency,
// errors, generator or histogram) are std::nullopt here and absent, not null, in the file.
// The histogram is loadgen's LatencyHistogram: link muxloadgen to use this header.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loadgen/histogram.hpp"
#include "model/environment.hpp"
#include "model/json_support.hpp"
#include "model/latency_summary.hpp"
#include "model/load_mode.hpp"

namespace muxbench {

enum class LoadgenStatus {
  ok,
  errors,          // integrity errors, lost or dropped connections
  connect_failed,  // the connections could not be opened
  interrupted,     // SIGINT/SIGTERM: the window is shorter than asked
  overloaded,      // open loop: the requested rate was not achieved, or sends left too late
  insufficient,    // too few completed echoes in the window for its numbers to mean anything
};
MUXBENCH_JSON_ENUM(LoadgenStatus, {{LoadgenStatus::ok, "ok"},
                                   {LoadgenStatus::errors, "errors"},
                                   {LoadgenStatus::connect_failed, "connect_failed"},
                                   {LoadgenStatus::interrupted, "interrupted"},
                                   {LoadgenStatus::overloaded, "overloaded"},
                                   {LoadgenStatus::insufficient, "insufficient"}})

// "config": the options as run (durations in seconds, addresses as text).
struct LoadgenConfigRecord {
  std::string target;  // HOST:PORT; a merged report joins its generators' targets with ','
  std::uint64_t idle = 0;
  std::uint64_t active = 0;
  std::size_t size = 0;
  LoadMode mode = LoadMode::closed;
  std::optional<std::uint32_t> depth;  // closed loop only
  std::optional<double> rate;          // open loop only: aggregate messages per second
  double duration_s = 0;
  double warmup_s = 0;
  double drain_timeout_s = 0;
  std::vector<std::string> source_ips;
  std::optional<double> connect_rate;
  unsigned threads = 1;
  std::vector<int> cpus;
  std::string cpus_text;  // "1 2"
  bool busy_poll = false;
  std::optional<int> signal_pid;
  std::optional<std::int64_t> start_at_unix_ns;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoadgenConfigRecord, target, idle, active, size,
                                                mode, depth, rate, duration_s, warmup_s,
                                                drain_timeout_s, source_ips, connect_rate, threads,
                                                cpus, cpus_text, busy_poll, signal_pid,
                                                start_at_unix_ns)

struct IdleConnections {
  std::uint64_t requested = 0;
  std::uint64_t opened = 0;
  double open_seconds = 0;
  std::optional<std::uint64_t> alive_at_end;  // null when the run ended before measuring
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IdleConnections, requested, opened, open_seconds,
                                                alive_at_end)

struct ActiveConnections {
  std::uint64_t requested = 0;
  std::uint64_t opened = 0;
  double open_seconds = 0;
  std::optional<std::uint64_t> lost;  // null when the run ended before measuring
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ActiveConnections, requested, opened, open_seconds,
                                                lost)

struct ConnectionsRecord {
  IdleConnections idle;
  ActiveConnections active;
  std::uint64_t retries = 0;
  std::map<std::string, std::uint64_t> failures;  // category ("refused") -> failed attempts
  FdLimit fd_limit;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ConnectionsRecord, idle, active, retries, failures,
                                                fd_limit)

struct WindowRecord {
  double seconds = 0;  // shorter than asked when interrupted
  bool interrupted = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WindowRecord, seconds, interrupted)

struct Throughput {
  std::uint64_t messages = 0;  // echoes completed inside the window
  double messages_per_s = 0;
  double mb_per_s = 0;                   // payload
  std::optional<double> sent_per_s;      // open loop only
  std::optional<double> requested_rate;  // open loop only
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Throughput, messages, messages_per_s, mb_per_s,
                                                sent_per_s, requested_rate)

struct ErrorCounts {
  std::uint64_t mismatches = 0;
  std::uint64_t unexpected_bytes = 0;
  std::uint64_t lost_connections = 0;
  std::uint64_t unanswered = 0;
  std::uint64_t total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ErrorCounts, mismatches, unexpected_bytes,
                                                lost_connections, unanswered, total)

struct GeneratorRecord {
  unsigned threads = 0;
  std::vector<int> cpus;
  bool busy_poll = false;
  double cpu_user_s = 0;  // worker threads, in the window
  double cpu_system_s = 0;
  double busiest_cpu_share = 0;  // threads pinned to one CPU summed
  double work_share = 0;         // busy-poll: share of spins that found work
  std::uint64_t max_in_flight_per_connection = 0;
  bool bound = false;        // saturated, by bound_rule
  bool fell_behind = false;  // open loop sent < 98% of what was due
  double process_cpu_s = 0;  // the whole process, all threads, whole run
  std::string bound_rule;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GeneratorRecord, threads, cpus, busy_poll,
                                                cpu_user_s, cpu_system_s, busiest_cpu_share,
                                                work_share, max_in_flight_per_connection, bound,
                                                fell_behind, process_cpu_s, bound_rule)

// The sections a report has once its connections opened; in the file they sit at the top level.
struct Measurement {
  WindowRecord window;
  Throughput throughput;
  LatencySummary latency_ns;
  std::optional<LatencySummary> send_lateness_ns;  // open loop only (null otherwise)
  ErrorCounts errors;
  GeneratorRecord generator;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Measurement, window, throughput, latency_ns,
                                                send_lateness_ns, errors, generator)

struct LoadgenReport {
  static constexpr const char* kKind = "loadgen-report";
  static constexpr int kSchemaVersion = 1;

  LoadgenConfigRecord config;
  Environment environment;
  ConnectionsRecord connections;
  std::optional<Measurement> measured;        // absent: the connections never all opened
  std::optional<LatencyHistogram> histogram;  // with measured (not kept in a merged report)
  LoadgenStatus status = LoadgenStatus::ok;
  std::vector<std::string> problems;
};

// "muxbench-loglinear-v1", as LatencyHistogram encodes it.
inline void to_json(nlohmann::json& j, const LatencyHistogram& histogram) {
  j = histogram.encode();
}
inline void from_json(const nlohmann::json& j, LatencyHistogram& histogram) {
  histogram = LatencyHistogram::decode(j);
}

// Throws std::invalid_argument unless `j` is an object of this kind.
inline void require_kind(const nlohmann::json& j, const char* kind) {
  if (!j.is_object() || j.value("kind", "") != kind) {
    throw std::invalid_argument(std::string("not a loadgen report (kind ") + kind + ")");
  }
}

// The fields every loadgen report kind shares, then the sections it may lack (absent if so).
template <class Report>
nlohmann::json report_json(const Report& r, const char* kind) {
  nlohmann::json j = {{"schema_version", LoadgenReport::kSchemaVersion},
                      {"kind", kind},
                      {"config", r.config},
                      {"environment", r.environment},
                      {"connections", r.connections},
                      {"status", r.status},
                      {"problems", r.problems}};
  if (r.measured) j.update(nlohmann::json(*r.measured));
  if (r.histogram) j["histogram"] = *r.histogram;
  return j;
}

template <class Report>
void read_report_json(const nlohmann::json& j, const char* kind, Report& r) {
  require_kind(j, kind);
  j.at("config").get_to(r.config);
  j.at("environment").get_to(r.environment);
  j.at("connections").get_to(r.connections);
  j.at("status").get_to(r.status);
  j.at("problems").get_to(r.problems);
  r.measured.reset();
  if (j.contains("throughput")) r.measured = j.get<typename decltype(r.measured)::value_type>();
  r.histogram.reset();
  if (j.contains("histogram")) r.histogram = j.at("histogram").get<LatencyHistogram>();
}

inline void to_json(nlohmann::json& j, const LoadgenReport& r) {
  j = report_json(r, LoadgenReport::kKind);
}
inline void from_json(const nlohmann::json& j, LoadgenReport& r) {
  read_report_json(j, LoadgenReport::kKind, r);
}

}  // namespace muxbench
