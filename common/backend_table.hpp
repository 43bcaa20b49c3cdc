#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace muxbench {

// How a backend learns that a descriptor is ready, the axis the suite measures.
enum class BackendFamily {
  scan,            // hands every watched descriptor to the kernel on each call (select, poll)
  readiness_list,  // the interest set lives in the kernel; a callback queues ready ones (epoll)
  completion,      // the kernel performs the I/O and reports completions (io_uring)
  library,         // an event library on top of one of the above (Boost.Asio)
};

constexpr std::string_view to_string(BackendFamily family) {
  switch (family) {
    case BackendFamily::scan:
      return "scan";
    case BackendFamily::readiness_list:
      return "readiness list";
    case BackendFamily::completion:
      return "completion";
    case BackendFamily::library:
      return "library";
  }
  return "?";
}

struct BackendInfo {
  std::string_view name;  // the one spelling used everywhere: options, files, charts, benchmarks
  std::string_view description;
  BackendFamily family;
};

// Every echo-server backend, in the order reports and charts list them. The one place a backend's
// name is written: the server, the sweep, the tests and plots/plot.py (through
// `echo-server --list-backends --json`) all ask this table.
inline constexpr std::array<BackendInfo, 7> kBackendTable = {{
    {"select", "select(2): fd_set bitmaps, linear scan; descriptors below FD_SETSIZE only",
     BackendFamily::scan},
    {"poll", "poll(2): pollfd array copied and scanned on every call", BackendFamily::scan},
    {"epoll-lt", "epoll(7), level-triggered", BackendFamily::readiness_list},
    {"epoll-et", "epoll(7), edge-triggered: reads and accepts drained until EAGAIN",
     BackendFamily::readiness_list},
    {"asio", "Boost.Asio io_context, one thread, completion handlers (epoll underneath)",
     BackendFamily::library},
    {"uring-poll", "io_uring multishot POLL_ADD as the readiness mechanism (edge-triggered)",
     BackendFamily::readiness_list},
    {"uring", "io_uring completion model: multishot accept, recv from provided buffers, send",
     BackendFamily::completion},
}};

constexpr const BackendInfo* find_backend_info(std::string_view name) {
  const auto* it = std::find_if(kBackendTable.begin(), kBackendTable.end(),
                                [&](const BackendInfo& b) { return b.name == name; });
  return it == kBackendTable.end() ? nullptr : it;
}

// A backend's name for other programs to use (wait-bench's benchmark names): one that is not in
// the table does not compile.
// (Names are compared, not pointers: GCC 12 cannot compare pointers into the table in a constant
// expression under -fsanitize=undefined.)
consteval std::string_view backend_name(std::string_view name) {
  const bool known = std::any_of(kBackendTable.begin(), kBackendTable.end(),
                                 [&](const BackendInfo& b) { return b.name == name; });
  if (!known) throw "not a backend of kBackendTable";
  return name;
}

// Results written before the names were unified spelled wait-bench's backends with '_'
// ("epoll_lt", "uring_poll", "epoll_et_rearm"); this reads them as today's names.
inline std::string canonical_backend_name(std::string_view name) {
  std::string canonical(name);
  std::replace(canonical.begin(), canonical.end(), '_', '-');
  return canonical;
}

}  // namespace muxbench
