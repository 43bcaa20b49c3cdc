#include "common/process_usage.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace muxbench {
namespace {

namespace fs = std::filesystem;

std::optional<std::uint64_t> schedstat_ns(const fs::path& task) {
  std::ifstream in(task / "schedstat");
  std::uint64_t on_cpu_ns = 0;
  if (!(in >> on_cpu_ns)) return std::nullopt;
  return on_cpu_ns;
}

// /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces and parentheses, so fields are
// counted after the last ')'. utime and stime are fields 14 and 15.
std::optional<std::uint64_t> stat_ticks(const fs::path& process) {
  std::ifstream in(process / "stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto end_of_comm = text.rfind(')');
  if (end_of_comm == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(end_of_comm + 2));
  std::string field;
  for (int i = 3; i <= 13; ++i) fields >> field;  // state (3) ... cmajflt (13)
  std::uint64_t utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return utime + stime;
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

}  // namespace

std::optional<ProcessUsage> sample_process(pid_t pid) {
  const fs::path process = fs::path("/proc") / std::to_string(pid);
  const auto ticks = stat_ticks(process);
  if (!ticks) return std::nullopt;
  ProcessUsage usage;
  usage.cpu_ticks_ns =
      *ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK)));
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
  return usage;
}

}  // namespace muxbench
