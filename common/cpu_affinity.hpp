#pragma once

#include <optional>
#include <string>
#include <vector>

namespace muxbench {

// The CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// "0-1" style text for messages and reports.
std::string describe_cpus(const std::vector<int>& cpus);

// Pins the calling thread to these CPUs. Returns why it failed, nothing on success.
[[nodiscard]] std::optional<std::string> pin_to_cpus(const std::vector<int>& cpus);
[[nodiscard]] inline std::optional<std::string> pin_to_cpu(int cpu) { return pin_to_cpus({cpu}); }

}  // namespace muxbench
