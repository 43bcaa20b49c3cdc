#include "common/process_usage.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace muxbench {
namespace {

namespace fs = std::filesystem;

std::optional<std::uint64_t> schedstat_ns(const fs::path& task) {
  std::ifstream in(task / "schedstat");
  std::uint64_t on_cpu_ns = 0;
  if (!(in >> on_cpu_ns)) return std::nullopt;
  return on_cpu_ns;
}

struct StatTicks {
  std::uint64_t own = 0;              // utime + stime
  std::uint64_t reaped_children = 0;  // cutime + cstime
};

// /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces and parentheses, so fields are
// counted after the last ')'. utime, stime, cutime and cstime are fields 14 to 17.
std::optional<StatTicks> stat_ticks(const fs::path& process) {
  std::ifstream in(process / "stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto end_of_comm = text.rfind(')');
  if (end_of_comm == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(end_of_comm + 2));
  std::string field;
  for (int i = 3; i <= 13; ++i) fields >> field;  // state (3) ... cmajflt (13)
  std::uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  if (!(fields >> utime >> stime >> cutime >> cstime)) return std::nullopt;
  return StatTicks{utime + stime, cutime + cstime};
}

std::uint64_t ticks_to_ns(std::uint64_t ticks) {
  return ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK)));
}

std::uint64_t resident_bytes(const fs::path& process) {
  std::ifstream in(process / "statm");
  std::uint64_t size_pages = 0, resident_pages = 0;
  in >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t count_entries(const fs::path& directory) {
  std::error_code error;
  std::uint64_t count = 0;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    ++count;
  }
  return count;
}

// One process: its own usage, and the CPU of the children it reaped (cutime + cstime, ns).
struct OneProcess {
  ProcessUsage usage;
  std::uint64_t reaped_ns = 0;
};

std::optional<OneProcess> sample_one(pid_t pid) {
  const fs::path process = fs::path("/proc") / std::to_string(pid);
  const auto ticks = stat_ticks(process);
  if (!ticks) return std::nullopt;
  OneProcess one;
  ProcessUsage& usage = one.usage;
  usage.cpu_ticks_ns = ticks_to_ns(ticks->own);
  std::error_code error;
  for (fs::directory_iterator it(process / "task", error), end; !error && it != end;
       it.increment(error)) {
    if (const auto ns = schedstat_ns(it->path())) {  // a thread may exit between list and read
      usage.cpu_ns += *ns;
      ++usage.threads;
    }
  }
  usage.rss_bytes = resident_bytes(process);
  usage.open_fds = count_entries(process / "fd");
  one.reaped_ns = ticks_to_ns(ticks->reaped_children);
  return one;
}

// Breadth first through each thread's children list (a child belongs to the thread that forked
// it); bounded, so a fork bomb under the server cannot stall the sampler.
std::vector<pid_t> process_tree(pid_t root) {
  std::vector<pid_t> tree = {root};
  constexpr std::size_t kMostProcesses = 65536;
  for (std::size_t i = 0; i < tree.size() && tree.size() < kMostProcesses; ++i) {
    const fs::path tasks = fs::path("/proc") / std::to_string(tree[i]) / "task";
    std::error_code error;
    for (fs::directory_iterator it(tasks, error), end; !error && it != end; it.increment(error)) {
      std::ifstream in(it->path() / "children");
      for (pid_t child = 0; in >> child;) tree.push_back(child);
    }
  }
  return tree;
}

}  // namespace

std::optional<ProcessUsage> sample_process(pid_t pid) {
  auto one = sample_one(pid);
  if (!one) return std::nullopt;
  return one->usage;
}

std::optional<ProcessUsage> sample_process_tree(pid_t root) {
  ProcessUsage total;
  total.processes = 0;
  for (const pid_t pid : process_tree(root)) {
    const auto one = sample_one(pid);
    if (!one) {
      if (pid == root) return std::nullopt;
      continue;  // exited since it was listed: its parent's cutime has it once reaped
    }
    total.cpu_ns += one->usage.cpu_ns + one->reaped_ns;
    total.cpu_ticks_ns += one->usage.cpu_ticks_ns + one->reaped_ns;
    total.rss_bytes += one->usage.rss_bytes;
    total.open_fds += one->usage.open_fds;
    total.threads += one->usage.threads;
    ++total.processes;
  }
  return total;
}

}  // namespace muxbench
