#include "loadgen/report.hpp"

#include <fmt/format.h>

#include <vector>

#include "common/csv.hpp"

namespace muxbench {
namespace {

struct Column {
  const char* name;
  nlohmann::json::json_pointer pointer;
};

const std::vector<Column>& columns() {
  using P = nlohmann::json::json_pointer;
  static const std::vector<Column> all = {
      {"timestamp_utc", P("/environment/timestamp_utc")},
      {"git_sha", P("/environment/build/git_sha")},
      {"status", P("/status")},
      {"target", P("/config/target")},
      {"idle", P("/config/idle")},
      {"active", P("/config/active")},
      {"size", P("/config/size")},
      {"mode", P("/config/mode")},
      {"depth", P("/config/depth")},
      {"requested_rate", P("/config/rate")},
      {"busy_poll", P("/config/busy_poll")},
      {"threads", P("/config/threads")},
      {"cpus", P("/config/cpus_text")},
      {"window_s", P("/window/seconds")},
      {"messages", P("/throughput/messages")},
      {"messages_per_s", P("/throughput/messages_per_s")},
      {"mb_per_s", P("/throughput/mb_per_s")},
      {"sent_per_s", P("/throughput/sent_per_s")},
      {"latency_min_ns", P("/latency_ns/min")},
      {"latency_mean_ns", P("/latency_ns/mean")},
      {"latency_stddev_ns", P("/latency_ns/stddev")},
      {"latency_p50_ns", P("/latency_ns/p50")},
      {"latency_p90_ns", P("/latency_ns/p90")},
      {"latency_p99_ns", P("/latency_ns/p99")},
      {"latency_p99_9_ns", P("/latency_ns/p99_9")},
      {"latency_p99_99_ns", P("/latency_ns/p99_99")},
      {"latency_max_ns", P("/latency_ns/max")},
      {"errors", P("/errors/total")},
      {"mismatches", P("/errors/mismatches")},
      {"lost_connections", P("/errors/lost_connections")},
      {"unanswered", P("/errors/unanswered")},
      {"idle_opened", P("/connections/idle/opened")},
      {"idle_alive", P("/connections/idle/alive_at_end")},
      {"idle_open_s", P("/connections/idle/open_seconds")},
      {"active_open_s", P("/connections/active/open_seconds")},
      {"generator_bound", P("/generator/bound")},
      {"generator_cpu_share", P("/generator/busiest_cpu_share")},
      {"generator_fell_behind", P("/generator/fell_behind")},
      {"generator_work_share", P("/generator/work_share")},
  };
  return all;
}

std::string microseconds(const nlohmann::json& ns) {
  return ns.is_number() ? fmt::format("{:.1f}us", ns.get<double>() / 1e3) : "-";
}

}  // namespace

nlohmann::json latency_summary(const LatencyHistogram& h) {
  return {{"count", h.count()},
          {"min", h.min()},
          {"mean", h.mean()},
          {"stddev", h.stddev()},
          {"p50", h.percentile(50)},
          {"p90", h.percentile(90)},
          {"p99", h.percentile(99)},
          {"p99_9", h.percentile(99.9)},
          {"p99_99", h.percentile(99.99)},
          {"max", h.max()}};
}

std::string loadgen_csv_header() {
  std::string header;
  for (const auto& column : columns()) {
    if (!header.empty()) header.push_back(',');
    header.append(column.name);
  }
  header.push_back('\n');
  return header;
}

std::string loadgen_csv_row(const nlohmann::json& report) {
  std::string row;
  bool first = true;
  for (const auto& column : columns()) {
    if (!first) row += ',';
    first = false;
    row += report.contains(column.pointer) ? csv_cell(report.at(column.pointer)) : "";
  }
  return row + "\n";
}

std::string loadgen_summary_text(const nlohmann::json& r) {
  const auto& c = r["config"];
  const std::string mode = c["mode"] == "open"
                               ? fmt::format("open loop {} msg/s", c["rate"].get<double>())
                               : fmt::format("closed loop depth {}", c["depth"].get<int>());
  std::string text = fmt::format("loadgen: {} | {} idle + {} active | {} B | {} | {}\n",
                                 c["target"].get<std::string>(), c["idle"].get<std::uint64_t>(),
                                 c["active"].get<std::uint64_t>(), c["size"].get<std::size_t>(),
                                 mode, r["status"].get<std::string>());
  if (r.contains("throughput")) {
    const auto& t = r["throughput"];
    const auto& l = r["latency_ns"];
    text += fmt::format("  throughput  {:.0f} msg/s ({:.2f} MB/s) over {:.2f} s\n",
                        t["messages_per_s"].get<double>(), t["mb_per_s"].get<double>(),
                        r["window"]["seconds"].get<double>());
    text += fmt::format("  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                        microseconds(l["p50"]), microseconds(l["p90"]), microseconds(l["p99"]),
                        microseconds(l["p99_9"]), microseconds(l["max"]));
    const auto& g = r["generator"];
    text +=
        fmt::format("  generator   cpu {:.0f}% (busiest CPU), work share {:.0f}%{}\n",
                    100 * g["busiest_cpu_share"].get<double>(), 100 * g["work_share"].get<double>(),
                    g["bound"].get<bool>() ? " -- SATURATED: the result is generator-bound" : "");
  }
  const auto& idle = r["connections"]["idle"];
  text += fmt::format("  connections idle {}/{} opened in {:.2f} s, {} alive at the end\n",
                      idle["opened"].get<std::uint64_t>(), idle["requested"].get<std::uint64_t>(),
                      idle["open_seconds"].get<double>(), idle["alive_at_end"].dump());
  for (const auto& problem : r["problems"])
    text += "  problem     " + problem.get<std::string>() + "\n";
  return text;
}

}  // namespace muxbench
