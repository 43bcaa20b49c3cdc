#pragma once

#include "servers/server_context.hpp"

namespace muxbench {

// The echo contract in io_uring's completion model: multishot accept, recv into a ring of
// provided buffers (an idle connection holds no buffer), send from the connection's queue, every
// batch of submissions and completions in one io_uring_enter. Throws UringUnavailable.
void run_uring_server(ServerContext& context);

}  // namespace muxbench
