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

std::string to_string(const in_addr& address);
std::string to_string(const sockaddr_in& address);

}  // namespace muxbench
