#include "loadgen/addresses.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace muxbench {
namespace {

std::optional<in_addr> parse_ipv4(std::string_view text) {
  const std::string copy(text);
  in_addr address{};
  if (::inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  return address;
}

}  // namespace

std::optional<sockaddr_in> parse_target(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<std::uint16_t>(port));
  const std::string host(text.substr(0, colon));
  if (const auto numeric = parse_ipv4(host)) {
    target.sin_addr = *numeric;
    return target;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  target.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return target;
}

std::optional<std::vector<in_addr>> parse_source_ips(std::string_view text) {
  std::vector<in_addr> addresses;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto dash = item.find('-');
    const auto first = parse_ipv4(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_ipv4(item.substr(dash + 1));
    if (!first || !last) return std::nullopt;
    const std::uint32_t from = ntohl(first->s_addr), to = ntohl(last->s_addr);
    if (to < from || to - from >= 65536 || addresses.size() + (to - from) >= 65536) {
      return std::nullopt;
    }
    for (std::uint64_t host = from; host <= to; ++host) {
      addresses.push_back(in_addr{htonl(static_cast<std::uint32_t>(host))});
    }
  }
  if (addresses.empty()) return std::nullopt;
  return addresses;
}

std::optional<std::string> first_foreign_source(const std::vector<in_addr>& addresses) {
  for (const auto& address : addresses) {
    const int tester = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tester < 0) return std::nullopt;  // nothing to ask with: connect() will say what is wrong
    const int on = 1;
    ::setsockopt(tester, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = address;
    const bool bound = ::bind(tester, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0;
    const int error = errno;
    ::close(tester);
    if (!bound && error == EADDRNOTAVAIL) {
      return fmt::format("{} is not an address of this host (bind: {})", to_string(address),
                         std::strerror(error));
    }
  }
  return std::nullopt;
}

std::string to_string(const in_addr& address) {
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

std::string to_string(const sockaddr_in& address) {
  return fmt::format("{}:{}", to_string(address.sin_addr), ntohs(address.sin_port));
}

}  // namespace muxbench
