#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muxbench {

// "127.0.0.1:9000" or "localhost:9000" (IPv4). nullopt when malformed or unresolvable.
std::optional<sockaddr_in> parse_target(std::string_view text);

// "127.0.0.1-127.0.0.8" (an inclusive range), "10.0.0.1,10.0.0.2", or a mix; at most 65536
// addresses. nullopt when malformed.
std::optional<std::vector<in_addr>> parse_source_ips(std::string_view text);

// The first of `addresses` this host cannot connect from (bind(2) refuses it: not assigned to
// an interface here), with bind's reason; nullopt when every one is local. Binds without a port
// (IP_BIND_ADDRESS_NO_PORT), so no port is taken and nothing is sent.
std::optional<std::string> first_foreign_source(const std::vector<in_addr>& addresses);

std::string to_string(const in_addr& address);
std::string to_string(const sockaddr_in& address);

}  // namespace muxbench
