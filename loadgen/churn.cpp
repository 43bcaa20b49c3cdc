#include "loadgen/churn.hpp"

#include <algorithm>

namespace muxbench {

void ChurnCounts::add(const ChurnCounts& other) {
  connect_latency.merge(other.connect_latency);
  opened += other.opened;
  closed += other.closed;
  connect_failures += other.connect_failures;
  port_exhaustion = port_exhaustion || other.port_exhaustion;
  for (const auto& [category, count] : other.failures) failures[category] += count;
}

ConnectStart Churn::connect() {
  const in_addr* source = sources_.empty() ? nullptr : &sources_[cursor_++ % sources_.size()];
  return start_connect(target_, source);
}

void Churn::established(std::int64_t started_ns, std::int64_t now_ns, bool in_window) {
  if (!in_window) return;
  ++counts_.opened;
  counts_.connect_latency.record(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns - started_ns)));
}

std::int64_t Churn::failed(int error, unsigned failures_in_row) {
  ++counts_.connect_failures;
  ++counts_.failures[connect_failure_category(error)];
  counts_.port_exhaustion = counts_.port_exhaustion || is_port_exhaustion(error);
  constexpr std::int64_t kMillisecond = 1'000'000;
  return std::min<std::int64_t>(kMillisecond << std::min(failures_in_row, 7u), 100 * kMillisecond);
}

}  // namespace muxbench
