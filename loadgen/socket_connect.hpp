#pragma once

// One non-blocking TCP connect, as both the bulk opener (connector) and the workers' connection
// replacement (--lifetime) start it, and the kernel settings that decide how many local ports
// such connects may use.
#include <netinet/in.h>

#include <array>
#include <cerrno>
#include <optional>
#include <string>

namespace muxbench {

struct ConnectStart {
  int fd = -1;    // the socket (also when the connect is in progress); -1 when none is left open
  int error = 0;  // 0: connected at once; EINPROGRESS: watch fd for writable; else the errno
};

// A non-blocking, close-on-exec socket with TCP_NODELAY, bound to `source` (when given) with
// IP_BIND_ADDRESS_NO_PORT so that the port is chosen per destination at connect time, then
// connect(). On failure the socket is closed (fd -1) and error says why.
ConnectStart start_connect(const sockaddr_in& target, const in_addr* source);

// The outcome of a connect that was in progress once its socket is writable: 0 or the errno
// (SO_ERROR).
int finished_connect_error(int fd);

// "refused", "no free local port (EADDRNOTAVAIL)", ...: how connect failures are counted.
std::string connect_failure_category(int error);

// No local port was free for the connect: EADDRNOTAVAIL from connect(), or EADDRINUSE from a
// bind to a source address.
inline bool is_port_exhaustion(int error) { return error == EADDRNOTAVAIL || error == EADDRINUSE; }

// The kernel's settings for local ports, from /proc/sys/net/ipv4 (nullopt: unreadable).
struct LocalPortSettings {
  std::optional<std::array<unsigned, 2>> local_port_range;  // ip_local_port_range, inclusive
  std::optional<int> tcp_tw_reuse;  // 0 off, 1 on, 2 loopback only (Linux >= 4.19's default)
};
LocalPortSettings local_port_settings();

// Ports per source address in the ephemeral range (the kernel's default range when unreadable).
unsigned ephemeral_port_count(const LocalPortSettings& settings);

}  // namespace muxbench
