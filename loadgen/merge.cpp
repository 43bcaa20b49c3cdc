#include "loadgen/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "loadgen/histogram.hpp"
#include "loadgen/report.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;

double number(const Json& value) { return value.is_number() ? value.get<double>() : 0.0; }

void add(Json& into, const Json& from, const char* key) {
  if (!from.contains(key) || from[key].is_null()) return;
  into[key] = number(into.value(key, Json(0))) + number(from[key]);
}

}  // namespace

Json merge_reports(const std::vector<Json>& reports) {
  if (reports.empty()) throw std::invalid_argument("no reports to merge");
  for (const auto& r : reports) {
    if (!r.is_object() || r.value("kind", "") != "loadgen-report") {
      throw std::invalid_argument("not a loadgen report (kind loadgen-report)");
    }
  }
  Json merged = {{"schema_version", 1},
                 {"kind", "loadgen-merged-report"},
                 {"environment", reports.front()["environment"]}};
  Json config = reports.front()["config"];
  config["target"] = "";
  config["idle"] = 0;
  config["active"] = 0;
  LatencyHistogram latency;
  Json connections = {
      {"idle", {{"requested", 0}, {"opened", 0}, {"alive_at_end", 0}, {"open_seconds", 0.0}}},
      {"active", {{"requested", 0}, {"opened", 0}, {"lost", 0}, {"open_seconds", 0.0}}},
      {"retries", 0},
      {"failures", Json::object()}};
  Json throughput = Json::object(), errors = Json::object();
  Json generator = {{"bound", false},    {"fell_behind", false}, {"busiest_cpu_share", 0.0},
                    {"work_share", 0.0}, {"process_cpu_s", 0.0}, {"threads", 0}};
  Json problems = Json::array(), generators = Json::array();
  std::string status = "ok";
  double window = 0;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const Json& r = reports[i];
    const std::string target = r["config"]["target"];
    config["target"] = config["target"].get<std::string>() + (i ? "," : "") + target;
    config["idle"] = config["idle"].get<std::uint64_t>() + r["config"]["idle"].get<std::uint64_t>();
    config["active"] =
        config["active"].get<std::uint64_t>() + r["config"]["active"].get<std::uint64_t>();
    for (const char* kind : {"idle", "active"}) {
      const Json& from = r["connections"][kind];
      Json& into = connections[kind];
      for (const char* key : {"requested", "opened", "alive_at_end", "lost"}) {
        if (into.contains(key)) add(into, from, key);
      }
      into["open_seconds"] = std::max(number(into["open_seconds"]), number(from["open_seconds"]));
    }
    add(connections, r["connections"], "retries");
    const Json failures = r["connections"].value("failures", Json::object());  // kept alive
    for (const auto& [category, count] : failures.items()) {
      connections["failures"][category] =
          number(connections["failures"].value(category, Json(0))) + number(count);
    }
    if (r.contains("histogram")) latency.merge(LatencyHistogram::decode(r["histogram"]));
    if (r.contains("throughput")) {
      for (const char* key :
           {"messages", "messages_per_s", "mb_per_s", "sent_per_s", "requested_rate"}) {
        add(throughput, r["throughput"], key);
      }
      window = std::max(window, number(r["window"]["seconds"]));
    }
    if (r.contains("errors")) {
      for (const auto& [key, value] : r["errors"].items()) add(errors, r["errors"], key.c_str());
    }
    if (r.contains("generator")) {
      const Json& g = r["generator"];
      generator["bound"] = generator["bound"].get<bool>() || g.value("bound", false);
      generator["fell_behind"] =
          generator["fell_behind"].get<bool>() || g.value("fell_behind", false);
      for (const char* key : {"busiest_cpu_share", "work_share"}) {
        generator[key] = std::max(number(generator[key]), number(g.value(key, Json(0))));
      }
      add(generator, g, "process_cpu_s");
      add(generator, g, "threads");
    }
    for (const auto& problem : r.value("problems", Json::array())) {
      problems.push_back(
          fmt::format("generator {} ({}): {}", i + 1, target, problem.get<std::string>()));
    }
    const std::string own = r.value("status", "ok");
    for (const char* worse : {"connect_failed", "interrupted", "errors"}) {
      if (own == worse && status == "ok") status = own;
    }
    Json kept = r;
    kept.erase("histogram");  // merged above; keeps the merged report small
    generators.push_back(kept);
  }
  merged["config"] = config;
  merged["connections"] = connections;
  merged["status"] = status;
  merged["problems"] = problems;
  if (!throughput.empty()) {
    merged["window"] = {{"seconds", window}, {"interrupted", status == "interrupted"}};
    merged["throughput"] = throughput;
    merged["latency_ns"] = latency_summary(latency);
    merged["send_lateness_ns"] = nullptr;  // per generator, in "generators"
    merged["errors"] = errors;
    merged["generator"] = generator;
    merged["histogram"] = latency.encode();
  }
  merged["generators"] = generators;
  return merged;
}

}  // namespace muxbench
