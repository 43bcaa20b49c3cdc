#pragma once

#include <string_view>

#include "servers/server_context.hpp"

namespace muxbench {

// Serves until SIGINT/SIGTERM, then publishes the final snapshot.
using RunBackend = void (*)(ServerContext&);

// The run function of a backend of kBackendTable (common/backend_table.hpp, where its name and
// description live); nullptr for a name the table does not know.
RunBackend find_run_function(std::string_view name);

}  // namespace muxbench
