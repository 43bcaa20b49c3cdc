#pragma once

// The loadgen report (results/README.md, "loadgen report"): schema_version 1, kind
// "loadgen-report". JSON appears only in the to_json/from_json functions below; the sections a
// report lacks (a run that never opened its connections has no window, throughput, latency,
// errors, generator or histogram) are std::nullopt here and absent, not null, in the file.
// The histogram is loadgen's LatencyHistogram: link muxloadgen to use this header.
#include <array>
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

// When several apply, the first of: interrupted, connect_failed, errors, insufficient,
// overloaded, ok (status_precedence below).
enum class LoadgenStatus {
  ok,
  errors,          // integrity errors, lost or dropped connections, idle ones sent data
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

// Lower is stronger: the status a report (or a merge of reports) takes when several apply.
inline int status_precedence(LoadgenStatus status) {
  switch (status) {
    case LoadgenStatus::interrupted:
      return 0;
    case LoadgenStatus::connect_failed:
      return 1;
    case LoadgenStatus::errors:
      return 2;
    case LoadgenStatus::insufficient:
      return 3;
    case LoadgenStatus::overloaded:
      return 4;
    case LoadgenStatus::ok:
      break;
  }
  return 5;
}

// "config": the options as run (durations in seconds, addresses as text).
struct LoadgenConfigFields {
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
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoadgenConfigFields, target, idle, active, size,
                                                mode, depth, rate, duration_s, warmup_s,
                                                drain_timeout_s, source_ips, connect_rate, threads,
                                                cpus, cpus_text, busy_poll, signal_pid,
                                                start_at_unix_ns)

struct LoadgenConfigRecord : LoadgenConfigFields {
  // --lifetime: echo exchanges per active connection before it is replaced; nullopt (absent in
  // the file, null read as absent) for persistent connections, as in reports from before it.
  std::optional<std::uint64_t> lifetime;
};
inline void to_json(nlohmann::json& j, const LoadgenConfigRecord& c) {
  to_json(j, static_cast<const LoadgenConfigFields&>(c));
  if (c.lifetime) j["lifetime"] = *c.lifetime;
}
inline void from_json(const nlohmann::json& j, LoadgenConfigRecord& c) {
  from_json(j, static_cast<LoadgenConfigFields&>(c));
  c.lifetime = j.value("lifetime", std::optional<std::uint64_t>());
}

struct IdleConnections {
  std::uint64_t requested = 0;
  std::uint64_t opened = 0;
  double open_seconds = 0;
  std::optional<std::uint64_t> alive_at_end;  // null when the run ended before measuring
  // Idle connections that had bytes waiting at the end (they never send: the server sent data
  // nobody asked for). Absent when the run ended before measuring, and in older reports.
  std::optional<std::uint64_t> unexpected_data;
};
inline void to_json(nlohmann::json& j, const IdleConnections& c) {
  j = {{"requested", c.requested},
       {"opened", c.opened},
       {"open_seconds", c.open_seconds},
       {"alive_at_end", c.alive_at_end}};
  if (c.unexpected_data) j["unexpected_data"] = *c.unexpected_data;
}
inline void from_json(const nlohmann::json& j, IdleConnections& c) {
  c.requested = j.value("requested", std::uint64_t{0});
  c.opened = j.value("opened", std::uint64_t{0});
  c.open_seconds = j.value("open_seconds", 0.0);
  c.alive_at_end = j.value("alive_at_end", std::optional<std::uint64_t>());
  c.unexpected_data = j.value("unexpected_data", std::optional<std::uint64_t>());
}

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

// total counts messages with a problem: mismatches + unanswered (messages in flight on a lost
// connection are unanswered). Bytes (unexpected_bytes) and connections (lost_connections) are
// counted apart, never added to it.
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
  bool fell_behind = false;  // open loop: overloaded (see OpenLoopRecord)
  double process_cpu_s = 0;  // the whole process, all threads, whole run
  std::string bound_rule;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GeneratorRecord, threads, cpus, busy_poll,
                                                cpu_user_s, cpu_system_s, busiest_cpu_share,
                                                work_share, max_in_flight_per_connection, bound,
                                                fell_behind, process_cpu_s, bound_rule)

// "open_loop": how the sends kept to their schedule (open-loop reports only).
struct OpenLoopRecord {
  double requested_rate = 0;  // messages per second asked for
  double sent_per_s = 0;      // sends that left inside the window, per second
  // The lower of sent_per_s and throughput.messages_per_s: a message counts once it left and
  // came back.
  double achieved_rate = 0;
  std::uint64_t due = 0;     // sends due inside the window
  std::uint64_t sent = 0;    // ... of which left (on time or late)
  std::uint64_t unsent = 0;  // ... never left (sending stops at the window's end + tolerance)
  std::uint64_t late = 0;    // ... left more than the tolerance late, or never (unsent)
  double late_share = 0;     // late / due (0 when nothing was due)
  std::uint64_t lateness_p99_ns = 0;             // send_lateness_ns.p99 (unsent included)
  std::uint64_t max_backlog_per_connection = 0;  // due-but-unsent messages, the most seen
  bool overloaded = false;  // achieved < 98% of requested, or lateness p99 beyond the tolerance
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OpenLoopRecord, requested_rate, sent_per_s,
                                                achieved_rate, due, sent, unsent, late, late_share,
                                                lateness_p99_ns, max_backlog_per_connection,
                                                overloaded)

// "criteria": the thresholds that decided the status (absent in reports written before them).
struct StatusCriteria {
  std::uint64_t min_echoes = 0;      // fewer completed echoes in the window: insufficient
  double late_tolerance_s = 0;       // open loop: a send later than this is late
  double min_achieved_share = 0.98;  // open loop: achieved / requested below this: overloaded
  bool allow_overload = false;       // overloaded exits 0 (the status still says overloaded)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StatusCriteria, min_echoes, late_tolerance_s,
                                                min_achieved_share, allow_overload)

// "muxbench-loglinear-v1", as LatencyHistogram encodes it.
inline void to_json(nlohmann::json& j, const LatencyHistogram& histogram) {
  j = histogram.encode();
}
inline void from_json(const nlohmann::json& j, LatencyHistogram& histogram) {
  histogram = LatencyHistogram::decode(j);
}

// "churn": connection replacement with --lifetime K (absent otherwise). Each active connection
// carries K echo exchanges, then loadgen closes it (TIME_WAIT stays on its side) and connects a
// replacement from the same worker at once. Counts are of the measured window: a replacement is
// the window's when the connection it replaces closed (or its retry fell due) inside it; its
// connect() follows at once.
struct ChurnRecord {
  std::uint64_t lifetime = 0;  // K
  std::uint64_t opened = 0;    // the window's replacements that were established
  std::uint64_t closed = 0;    // connections loadgen closed after K exchanges inside the window
  double opened_per_s = 0;     // opened / window seconds
  // From connect() to established (writable with SO_ERROR 0), of the `opened` connections.
  LatencySummary connect_latency_ns;
  // Replacement connects that failed (each attempt; the slot retries after a pause), all run.
  std::uint64_t connect_failures = 0;
  bool port_exhaustion = false;     // some failed for want of a local port (EADDRNOTAVAIL)
  std::optional<int> tcp_tw_reuse;  // net.ipv4.tcp_tw_reuse as read (null: unreadable)
  std::optional<std::array<unsigned, 2>> local_port_range;  // net.ipv4.ip_local_port_range
  // The connect latency histogram, encoded as "histogram" is, so that merges stay exact.
  std::optional<LatencyHistogram> connect_latency_histogram;
};
inline void to_json(nlohmann::json& j, const ChurnRecord& c) {
  j = {{"lifetime", c.lifetime},
       {"opened", c.opened},
       {"closed", c.closed},
       {"opened_per_s", c.opened_per_s},
       {"connect_latency_ns", c.connect_latency_ns},
       {"connect_failures", c.connect_failures},
       {"port_exhaustion", c.port_exhaustion},
       {"tcp_tw_reuse", c.tcp_tw_reuse},
       {"local_port_range", c.local_port_range}};
  if (c.connect_latency_histogram) j["connect_latency_histogram"] = *c.connect_latency_histogram;
}
inline void from_json(const nlohmann::json& j, ChurnRecord& c) {
  j.at("lifetime").get_to(c.lifetime);
  j.at("opened").get_to(c.opened);
  j.at("closed").get_to(c.closed);
  j.at("opened_per_s").get_to(c.opened_per_s);
  j.at("connect_latency_ns").get_to(c.connect_latency_ns);
  j.at("connect_failures").get_to(c.connect_failures);
  j.at("port_exhaustion").get_to(c.port_exhaustion);
  c.tcp_tw_reuse = j.value("tcp_tw_reuse", std::optional<int>());
  c.local_port_range = j.value("local_port_range", std::optional<std::array<unsigned, 2>>());
  c.connect_latency_histogram.reset();
  if (j.contains("connect_latency_histogram"))
    c.connect_latency_histogram = j.at("connect_latency_histogram").get<LatencyHistogram>();
}

// Reads `key` into an optional section: absent (or null) is nullopt.
template <class T>
void read_optional(const nlohmann::json& j, const char* key, std::optional<T>& into) {
  into.reset();
  if (j.contains(key) && !j.at(key).is_null()) into = j.at(key).get<T>();
}

// Reads `key` into a section: absent or null is the section's defaults; optional sections as
// above.
template <class T>
void read_section(const nlohmann::json& j, const char* key, T& into) {
  into = j.contains(key) && !j.at(key).is_null() ? j.at(key).get<T>() : T{};
}
template <class T>
void read_section(const nlohmann::json& j, const char* key, std::optional<T>& into) {
  read_optional(j, key, into);
}

// The measured sections of a loadgen report and of a merged one (same names, summed types):
// open_loop is absent, not null, when the report has none (closed loop, older reports).
template <class M>
void measurement_to_json(nlohmann::json& j, const M& m) {
  j = {{"window", m.window},         {"throughput", m.throughput},
       {"latency_ns", m.latency_ns}, {"send_lateness_ns", m.send_lateness_ns},
       {"errors", m.errors},         {"generator", m.generator}};
  if (m.open_loop) j["open_loop"] = *m.open_loop;
  if (m.churn) j["churn"] = *m.churn;
}
template <class M>
void measurement_from_json(const nlohmann::json& j, M& m) {
  read_section(j, "window", m.window);
  read_section(j, "throughput", m.throughput);
  read_section(j, "latency_ns", m.latency_ns);
  read_section(j, "send_lateness_ns", m.send_lateness_ns);
  read_section(j, "errors", m.errors);
  read_section(j, "generator", m.generator);
  read_section(j, "open_loop", m.open_loop);
  read_section(j, "churn", m.churn);
}

// The sections a report has once its connections opened; in the file they sit at the top level.
struct Measurement {
  WindowRecord window;
  Throughput throughput;
  LatencySummary latency_ns;
  std::optional<LatencySummary> send_lateness_ns;  // open loop only (null otherwise)
  ErrorCounts errors;
  GeneratorRecord generator;
  std::optional<OpenLoopRecord> open_loop;  // open loop only (absent otherwise)
  std::optional<ChurnRecord> churn;         // --lifetime only (absent otherwise)
};
inline void to_json(nlohmann::json& j, const Measurement& m) { measurement_to_json(j, m); }
inline void from_json(const nlohmann::json& j, Measurement& m) { measurement_from_json(j, m); }

struct LoadgenReport {
  static constexpr const char* kKind = "loadgen-report";
  static constexpr int kSchemaVersion = 1;

  LoadgenConfigRecord config;
  Environment environment;
  ConnectionsRecord connections;
  std::optional<Measurement> measured;        // absent: the connections never all opened
  std::optional<LatencyHistogram> histogram;  // with measured (not kept in a merged report)
  // "histogram"."hdr_v2": the histogram in HdrHistogram's V2 compressed encoding, base64
  // (hdr::encode_v2_base64), beside the buckets; absent in reports written before it.
  std::optional<std::string> hdr_v2;
  LoadgenStatus status = LoadgenStatus::ok;
  std::vector<std::string> problems;
  std::optional<StatusCriteria> criteria;  // absent in reports written before it
};

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
  if (r.histogram) {
    j["histogram"] = *r.histogram;
    if (r.hdr_v2) j["histogram"]["hdr_v2"] = *r.hdr_v2;
  }
  if (r.criteria) j["criteria"] = *r.criteria;
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
  r.hdr_v2.reset();
  if (j.contains("histogram")) {
    r.histogram = j.at("histogram").get<LatencyHistogram>();
    read_optional(j.at("histogram"), "hdr_v2", r.hdr_v2);
  }
  read_optional(j, "criteria", r.criteria);
}

inline void to_json(nlohmann::json& j, const LoadgenReport& r) {
  j = report_json(r, LoadgenReport::kKind);
}
inline void from_json(const nlohmann::json& j, LoadgenReport& r) {
  read_report_json(j, LoadgenReport::kKind, r);
}

}  // namespace muxbench
