#include "loadgen/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

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
  into.requested += static_cast<double>(from.requested);
  into.opened += static_cast<double>(from.opened);
  into.open_seconds = std::max(into.open_seconds, from.open_seconds);
}

void add(MergedConnections& into, const ConnectionsRecord& from) {
  add_connections(into.idle, from.idle);
  into.idle.alive_at_end.add(from.idle.alive_at_end);
  add_connections(into.active, from.active);
  into.active.lost.add(from.active.lost);
  into.retries += static_cast<double>(from.retries);
  for (const auto& [category, count] : from.failures) {
    into.failures[category] += static_cast<double>(count);
  }
}

void add(MergedMeasurement& into, const Measurement& from) {
  into.window.seconds = std::max(into.window.seconds, from.window.seconds);
  MergedThroughput& t = into.throughput;
  t.messages += static_cast<double>(from.throughput.messages);
  t.messages_per_s += from.throughput.messages_per_s;
  t.mb_per_s += from.throughput.mb_per_s;
  add(t.sent_per_s, from.throughput.sent_per_s);
  add(t.requested_rate, from.throughput.requested_rate);
  MergedErrors& e = into.errors;
  e.mismatches += static_cast<double>(from.errors.mismatches);
  e.unexpected_bytes += static_cast<double>(from.errors.unexpected_bytes);
  e.lost_connections += static_cast<double>(from.errors.lost_connections);
  e.unanswered += static_cast<double>(from.errors.unanswered);
  e.total += static_cast<double>(from.errors.total);
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
  return merged;
}

// The first status that is not ok wins.
void add_generator(MergedReport& merged, const LoadgenReport& r, std::size_t index) {
  merged.config.target += (index ? "," : "") + r.config.target;
  merged.config.idle += r.config.idle;
  merged.config.active += r.config.active;
  add(merged.connections, r.connections);
  for (const auto& problem : r.problems) {
    merged.problems.push_back(
        fmt::format("generator {} ({}): {}", index + 1, r.config.target, problem));
  }
  if (merged.status == LoadgenStatus::ok) merged.status = r.status;
  LoadgenReport& kept = merged.generators.emplace_back(r);
  kept.histogram.reset();  // merged below; keeps the merged report small
}

}  // namespace

MergedReport merge_reports(const std::vector<LoadgenReport>& reports) {
  if (reports.empty()) throw std::invalid_argument("no reports to merge");
  MergedReport merged = start_merge(reports.front());
  MergedMeasurement measured;
  bool any_measured = false;
  LatencyHistogram latency;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const LoadgenReport& r = reports[i];
    add_generator(merged, r, i);
    if (r.histogram) latency.merge(*r.histogram);
    if (r.measured) add(measured, *r.measured);
    any_measured = any_measured || r.measured;
  }
  if (any_measured) {
    measured.window.interrupted = merged.status == LoadgenStatus::interrupted;
    measured.latency_ns = latency_summary(latency);
    merged.measured = measured;
    merged.histogram = latency;
  }
  return merged;
}

}  // namespace muxbench
