#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace muxbench {

// Connects to 127.0.0.1:port (blocking connect) and returns a non-blocking socket with
// TCP_NODELAY. A positive receive_buffer shrinks SO_RCVBUF before connecting (no autotuning).
// Throws std::system_error.
int connect_to(std::uint16_t port, int receive_buffer = 0);

// Closes with SO_LINGER 0, so the peer gets a RST instead of a FIN.
void reset_and_close(int fd);

// One round trip on a non-blocking socket: sends `payload`, expects it echoed back. Returns ""
// on success, else what happened instead: "eof", "reset", "timeout", "mismatch" or "error".
std::string round_trip(int fd, const std::string& payload, std::chrono::milliseconds timeout);

}  // namespace muxbench
