#include "servers/backends.hpp"

#include <algorithm>
#include <iterator>

#include "common/backend_table.hpp"
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

struct BackendRun {
  std::string_view name;
  RunBackend run;
};

template <Poller P>
constexpr BackendRun event_loop_backend() {
  return {P::kName, &run_event_loop<P>};
}

// Only the name -> run function mapping: names and descriptions are kBackendTable's.
constexpr BackendRun kRuns[] = {
    event_loop_backend<SelectPoller>(),
    event_loop_backend<PollPoller>(),
    event_loop_backend<EpollPoller<false>>(),
    event_loop_backend<EpollPoller<true>>(),
    {"asio", &run_asio_server},
    event_loop_backend<UringPoller>(),
    {"uring", &run_uring_server},
};

constexpr bool one_run_function_per_table_entry() {
  return std::size(kRuns) == kBackendTable.size() &&
         std::equal(
             std::begin(kRuns), std::end(kRuns), kBackendTable.begin(),
             [](const BackendRun& run, const BackendInfo& info) { return run.name == info.name; });
}
static_assert(one_run_function_per_table_entry(),
              "kRuns must name every backend of kBackendTable, in the table's order, and no other");

}  // namespace

RunBackend find_run_function(std::string_view name) {
  const auto it = std::find_if(std::begin(kRuns), std::end(kRuns),
                               [&](const BackendRun& backend) { return backend.name == name; });
  return it == std::end(kRuns) ? nullptr : it->run;
}

}  // namespace muxbench
