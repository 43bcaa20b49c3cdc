#include "loadgen/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "loadgen/hdr_codec.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/report.hpp"

namespace muxbench {
namespace {

// An optional sum that appears once some report has a value.
void add(std::optional<double>& into, const std::optional<double>& value) {
  if (value) into = into.value_or(0) + *value;
}

template <class Merged, class Connections>
void add_connections(Merged& into, const Connections& from) {
  into.requested += from.requested;
  into.opened += from.opened;
  into.open_seconds = std::max(into.open_seconds, from.open_seconds);
}

void add(MergedConnections& into, const ConnectionsRecord& from) {
  add_connections(into.idle, from.idle);
  add_present(into.idle.alive_at_end, from.idle.alive_at_end);
  add_connections(into.active, from.active);
  add_present(into.active.lost, from.active.lost);
  into.retries += from.retries;
  for (const auto& [category, count] : from.failures) into.failures[category] += count;
}

// Churn (--lifetime): counts and rates summed, connect latency from the merged histograms, the
// kernel's port settings kept where the generators agree (null where they differ).
void add(std::optional<ChurnRecord>& into, const ChurnRecord& from) {
  if (!into) {
    into = from;
    return;
  }
  ChurnRecord& sum = *into;
  sum.opened += from.opened;
  sum.closed += from.closed;
  sum.opened_per_s += from.opened_per_s;
  sum.connect_failures += from.connect_failures;
  sum.port_exhaustion = sum.port_exhaustion || from.port_exhaustion;
  if (sum.tcp_tw_reuse != from.tcp_tw_reuse) sum.tcp_tw_reuse.reset();
  if (sum.local_port_range != from.local_port_range) sum.local_port_range.reset();
  if (from.connect_latency_histogram) {
    auto& merged = sum.connect_latency_histogram;
    (merged ? *merged : merged.emplace()).merge(*from.connect_latency_histogram);
    sum.connect_latency_ns = latency_summary(*merged);
  }
}

void add(MergedMeasurement& into, const Measurement& from) {
  into.window.seconds = std::max(into.window.seconds, from.window.seconds);
  MergedThroughput& t = into.throughput;
  t.messages += from.throughput.messages;
  t.messages_per_s += from.throughput.messages_per_s;
  t.mb_per_s += from.throughput.mb_per_s;
  add(t.sent_per_s, from.throughput.sent_per_s);
  add(t.requested_rate, from.throughput.requested_rate);
  MergedErrors& e = into.errors;
  e.mismatches += from.errors.mismatches;
  e.unexpected_bytes += from.errors.unexpected_bytes;
  e.lost_connections += from.errors.lost_connections;
  e.unanswered += from.errors.unanswered;
  e.total += from.errors.total;
  if (const auto& o = from.open_loop) {
    OpenLoopRecord& sum = into.open_loop ? *into.open_loop : into.open_loop.emplace();
    sum.requested_rate += o->requested_rate;
    sum.sent_per_s += o->sent_per_s;
    sum.achieved_rate += o->achieved_rate;
    sum.due += o->due;
    sum.sent += o->sent;
    sum.unsent += o->unsent;
    sum.late += o->late;
    sum.late_share = sum.due ? static_cast<double>(sum.late) / static_cast<double>(sum.due) : 0;
    sum.lateness_p99_ns = std::max(sum.lateness_p99_ns, o->lateness_p99_ns);
    sum.max_backlog_per_connection =
        std::max(sum.max_backlog_per_connection, o->max_backlog_per_connection);
    sum.overloaded = sum.overloaded || o->overloaded;
  }
  if (from.churn) add(into.churn, *from.churn);
  MergedGenerator& g = into.generator;
  g.bound = g.bound || from.generator.bound;
  g.fell_behind = g.fell_behind || from.generator.fell_behind;
  g.busiest_cpu_share = std::max(g.busiest_cpu_share, from.generator.busiest_cpu_share);
  g.work_share = std::max(g.work_share, from.generator.work_share);
  g.process_cpu_s += from.generator.process_cpu_s;
  g.threads += from.generator.threads;
}

MergedReport start_merge(const LoadgenReport& first) {
  MergedReport merged;
  merged.environment = first.environment;
  merged.config = first.config;
  merged.config.target.clear();
  merged.config.idle = 0;
  merged.config.active = 0;
  merged.criteria = first.criteria;
  return merged;
}

// The strongest status wins (status_precedence).
void add_generator(MergedReport& merged, const LoadgenReport& r, std::size_t index) {
  merged.config.target += (index ? "," : "") + r.config.target;
  merged.config.idle += r.config.idle;
  merged.config.active += r.config.active;
  add(merged.connections, r.connections);
  for (const auto& problem : r.problems) {
    merged.problems.push_back(
        fmt::format("generator {} ({}): {}", index + 1, r.config.target, problem));
  }
  if (status_precedence(r.status) < status_precedence(merged.status)) merged.status = r.status;
  LoadgenReport& kept = merged.generators.emplace_back(r);
  kept.histogram.reset();  // merged below; keeps the merged report small
  kept.hdr_v2.reset();
  if (kept.measured && kept.measured->churn)
    kept.measured->churn->connect_latency_histogram.reset();
}

}  // namespace

MergedReport merge_reports(const std::vector<LoadgenReport>& reports) {
  if (reports.empty()) throw std::invalid_argument("no reports to merge");
  MergedReport merged = start_merge(reports.front());
  MergedMeasurement measured;
  bool any_measured = false;
  std::optional<LatencyHistogram> latency;
  bool any_hdr_v2 = false;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const LoadgenReport& r = reports[i];
    add_generator(merged, r, i);
    if (r.histogram) (latency ? *latency : latency.emplace()).merge(*r.histogram);
    any_hdr_v2 = any_hdr_v2 || (r.histogram && r.hdr_v2);
    if (r.measured) add(measured, *r.measured);
    any_measured = any_measured || r.measured;
  }
  if (any_measured) {
    measured.window.interrupted = merged.status == LoadgenStatus::interrupted;
    if (latency) measured.latency_ns = latency_summary(*latency);  // else no numbers at all
    merged.measured = measured;
    merged.histogram = latency;
    if (latency && any_hdr_v2) merged.hdr_v2 = hdr::encode_v2_base64(*latency);
  }
  return merged;
}

std::vector<std::string> merge_conflicts(const std::vector<MergeInput>& inputs) {
  std::vector<std::string> conflicts;
  namespace fs = std::filesystem;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    for (std::size_t k = i + 1; k < inputs.size(); ++k) {
      std::error_code error;
      if (fs::equivalent(inputs[i].path, inputs[k].path, error)) {
        conflicts.push_back(
            fmt::format("{} and {} are the same file: its generator would count "
                        "twice",
                        inputs[i].path, inputs[k].path));
      } else if (inputs[i].file == inputs[k].file) {
        conflicts.push_back(
            fmt::format("{} and {} hold the same report: its generator would "
                        "count twice",
                        inputs[i].path, inputs[k].path));
      }
    }
  }
  if (inputs.empty()) return conflicts;
  const MergeInput& first = inputs.front();
  // A field every generator of one measurement shares, as the file spells it.
  const auto field = [](const MergeInput& input, const char* name) -> nlohmann::json {
    const nlohmann::json& f = input.file;
    if (std::string_view(name) == "schema_version")
      return f.value("schema_version", nlohmann::json());
    return f.contains("config") ? f["config"].value(name, nlohmann::json()) : nlohmann::json();
  };
  for (const char* name :
       {"schema_version", "duration_s", "size", "mode", "depth", "rate", "lifetime"}) {
    for (std::size_t i = 1; i < inputs.size(); ++i) {
      const auto a = field(first, name), b = field(inputs[i], name);
      if (a != b) {
        conflicts.push_back(fmt::format("{} differs: {} in {}, {} in {}",
                                        std::string_view(name) == "schema_version"
                                            ? std::string(name)
                                            : "config." + std::string(name),
                                        a.dump(), first.path, b.dump(), inputs[i].path));
      }
    }
  }
  return conflicts;
}

}  // namespace muxbench
