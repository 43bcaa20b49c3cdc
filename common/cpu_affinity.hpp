#pragma once

#include <string>
#include <vector>

namespace muxbench {

// The CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// "0-1" style text for messages and reports.
std::string describe_cpus(const std::vector<int>& cpus);

// Pins the calling thread to these CPUs. Returns an empty string on success, else why it failed.
std::string pin_to_cpus(const std::vector<int>& cpus);
inline std::string pin_to_cpu(int cpu) { return pin_to_cpus({cpu}); }

}  // namespace muxbench
