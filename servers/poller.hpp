#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace muxbench {

// What a descriptor is watched for. Errors and hang-ups are reported as kRead | kWrite so that
// the next recv or send observes them; the event loop needs no third kind of event.
enum Interest : std::uint32_t { kNoInterest = 0, kRead = 1, kWrite = 2 };

struct Ready {
  int fd;
  std::uint32_t events;  // Interest bits
};

// A readiness backend: the only thing that differs between the raw servers. add/modify/remove
// throw std::system_error on failure; wait returns an empty span when interrupted by a signal.
template <class P>
concept Poller = requires(P poller, const P& const_poller, int fd, std::uint32_t interest,
                          int timeout_ms) {
  { P::kName } -> std::convertible_to<std::string_view>;
  { P::kEdgeTriggered } -> std::convertible_to<bool>;
  { P::kMaxFd } -> std::convertible_to<int>;  // highest descriptor value it can watch
  poller.add(fd, interest);
  poller.modify(fd, interest);
  poller.remove(fd);
  { poller.wait(timeout_ms) } -> std::same_as<std::span<const Ready>>;
  // How many descriptors the next wait call hands to the kernel.
  { const_poller.fds_passed_per_wait() } -> std::convertible_to<std::size_t>;
};

}  // namespace muxbench
