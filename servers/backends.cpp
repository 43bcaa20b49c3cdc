#include "servers/backends.hpp"

#include <algorithm>

#include "servers/asio_server.hpp"
#include "servers/epoll_poller.hpp"
#include "servers/event_loop.hpp"
#include "servers/poll_poller.hpp"
#include "servers/select_poller.hpp"
#include "servers/uring_poller.hpp"
#include "servers/uring_server.hpp"

namespace muxbench {
namespace {

template <Poller P>
void run_event_loop(ServerContext& context) {
  EventLoop<P> loop(context);
  loop.run();
  context.publish("exit");
}

constexpr Backend kBackends[] = {
    {"select", "select(2): fd_set bitmaps, linear scan; descriptors below FD_SETSIZE only",
     &run_event_loop<SelectPoller>},
    {"poll", "poll(2): pollfd array copied and scanned on every call", &run_event_loop<PollPoller>},
    {"epoll-lt", "epoll(7), level-triggered", &run_event_loop<EpollPoller<false>>},
    {"epoll-et", "epoll(7), edge-triggered: reads and accepts drained until EAGAIN",
     &run_event_loop<EpollPoller<true>>},
    {"asio", "Boost.Asio io_context, one thread, completion handlers (epoll underneath)",
     &run_asio_server},
    {"uring-poll", "io_uring multishot POLL_ADD as the readiness mechanism (edge-triggered)",
     &run_event_loop<UringPoller>},
    {"uring", "io_uring completion model: multishot accept, recv from provided buffers, send",
     &run_uring_server},
};

}  // namespace

std::span<const Backend> backends() { return kBackends; }

const Backend* find_backend(std::string_view name) {
  const auto it = std::find_if(std::begin(kBackends), std::end(kBackends),
                               [&](const Backend& backend) { return backend.name == name; });
  return it == std::end(kBackends) ? nullptr : &*it;
}

}  // namespace muxbench
