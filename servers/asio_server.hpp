#pragma once

#include "servers/server_context.hpp"

namespace muxbench {

// The same echo contract written the way Asio's own examples are: one io_context on one thread,
// async_read_some -> async_write, plus the shared backpressure rule and counters.
void run_asio_server(ServerContext& context);

}  // namespace muxbench
