// claims: demonstrations of what tutorials say about select, poll and epoll, measured here.
// Writes one JSON document (--json FILE, or - for stdout) and a readable account on stdout
// (stderr when the JSON goes to stdout). See README.md.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/select_cost.hpp"
#include "common/backend_table.hpp"
#include "common/command_line.hpp"
#include "common/environment.hpp"
#include "common/fd_limit.hpp"
#include "common/output_path.hpp"
#include "common/subprocess.hpp"
#include "common/tcp_client.hpp"
#include "common/usage_error.hpp"

namespace muxbench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

struct Server {
  Subprocess process;
  std::uint16_t port = 0;
};

Server start_server(const std::string& binary, std::string_view backend) {
  auto process = Subprocess::spawn({binary, "--backend", std::string(backend)});
  const auto line = process.read_line(10s);
  if (!line || line->rfind("listening ", 0) != 0)
    throw std::runtime_error("echo-server did not start");
  return {std::move(process),
          static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)))};
}

Json snapshot(Server& server) {  // without --stats-file the server prints it as a line
  server.process.send_signal(SIGUSR1);
  const auto line = server.process.read_line(10s);
  return line ? Json::parse(*line, nullptr, false) : Json();
}

std::vector<std::string> fd_targets(pid_t pid) {
  std::vector<std::string> targets;
  for (const auto& entry : fs::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    std::error_code error;
    targets.push_back(fs::read_symlink(entry.path(), error).string());
  }
  return targets;
}

// Claim 1: select watches at most FD_SETSIZE descriptors (it limits the descriptor value).
Json fd_setsize(const std::string& binary) {
  constexpr int kConnections = 1100;
  Json result = {{"connections", kConnections}, {"fd_setsize", FD_SETSIZE}};
  for (const std::string_view backend : {backend_name("select"), backend_name("poll")}) {
    Server server = start_server(binary, backend);
    std::vector<int> fds;
    for (int i = 0; i < kConnections; ++i) fds.push_back(connect_to(server.port));
    int served = 0, refused = 0;
    for (const int fd : fds) (round_trip(fd, "x", 5s).empty() ? served : refused)++;
    const Json stats = snapshot(server);
    for (const int fd : fds) ::close(fd);
    server.process.send_signal(SIGTERM);
    result[std::string(backend)] = {
        {"served", served},
        {"refused", refused},
        {"refused_counted_by_server", stats["counters"]["refused_fd_setsize"]},
        {"exit_code", server.process.wait(10s).value_or(-1)}};
  }
  return result;
}

// Claims 3 and 4: an unread ready descriptor is reported again by level-triggered waits, once by
// edge-triggered epoll.
Json repeated_reports() {
  constexpr int kCalls = 3;
  int pair[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair);
  const char byte = 'x';
  [[maybe_unused]] const auto written = ::write(pair[1], &byte, 1);
  Json result = {{"calls", kCalls}};
  int selected = 0, polled = 0;
  for (int i = 0; i < kCalls; ++i) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(pair[0], &readable);
    timeval zero{0, 0};
    selected += ::select(pair[0] + 1, &readable, nullptr, nullptr, &zero);
    pollfd entry{pair[0], POLLIN, 0};
    polled += ::poll(&entry, 1, 0);
  }
  result["select"] = selected;
  result["poll"] = polled;
  for (const auto& [name, flags] : {std::pair{backend_name("epoll-lt"), 0u},
                                    std::pair{backend_name("epoll-et"), unsigned{EPOLLET}}}) {
    const int epoll_fd = ::epoll_create1(0);
    epoll_event event{EPOLLIN | flags, {}};
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pair[0], &event);
    int reported = 0;
    for (int i = 0; i < kCalls; ++i) reported += ::epoll_wait(epoll_fd, &event, 1, 0);
    result[name] = reported;
    ::close(epoll_fd);
  }
  ::close(pair[0]);
  ::close(pair[1]);
  return result;
}

// What edge-triggered does to a handler that does not drain the socket: the rest waits, unseen,
// until the peer happens to send more.
Json edge_triggered_stall() {
  constexpr int kWritten = 1000, kHandlerReads = 100, kWaitMs = 100;
  int pair[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair);
  const std::string data(kWritten, 'd');
  [[maybe_unused]] auto n = ::write(pair[1], data.data(), data.size());
  const int edge = ::epoll_create1(0), level = ::epoll_create1(0);
  epoll_event event{EPOLLIN | EPOLLET, {}};
  ::epoll_ctl(edge, EPOLL_CTL_ADD, pair[0], &event);
  event.events = EPOLLIN;
  ::epoll_ctl(level, EPOLL_CTL_ADD, pair[0], &event);
  const int first = ::epoll_wait(edge, &event, 1, kWaitMs);
  char buffer[kHandlerReads];
  n = ::read(pair[0], buffer, sizeof buffer);  // the handler reads once and returns
  int unread = 0;
  ::ioctl(pair[0], FIONREAD, &unread);
  const int edge_again = ::epoll_wait(edge, &event, 1, kWaitMs);
  const int level_again = ::epoll_wait(level, &event, 1, kWaitMs);
  n = ::write(pair[1], "!", 1);  // new data: a new edge
  const int edge_after_new_data = ::epoll_wait(edge, &event, 1, kWaitMs);
  int unread_after = 0;
  ::ioctl(pair[0], FIONREAD, &unread_after);
  for (const int fd : {edge, level, pair[0], pair[1]}) ::close(fd);
  return {{"written", kWritten},
          {"first_edge_events", first},
          {"handler_read", kHandlerReads},
          {"unread", unread},
          {"wait_ms", kWaitMs},
          {"edge_events_while_unread", edge_again},
          {"level_events_while_unread", level_again},
          {"edge_events_after_new_data", edge_after_new_data},
          {"unread_after_new_data", unread_after}};
}

// Claim 5: "epoll uses mmap to avoid copying the ready list". A running epoll server has an
// eventpoll descriptor but no mapping of it; epoll_wait copies events into the caller's array.
// Claim 7: Asio waits with epoll on Linux.
Json mappings_and_descriptors(const std::string& binary) {
  Json result;
  for (const std::string_view backend :
       {backend_name("epoll-lt"), backend_name("asio"), backend_name("poll")}) {
    Server server = start_server(binary, backend);
    const int client = connect_to(server.port);
    round_trip(client, "ping", 5s);
    int eventpoll_fds = 0;
    for (const auto& target : fd_targets(server.process.pid()))
      eventpoll_fds += target == "anon_inode:[eventpoll]";
    std::ifstream maps(fmt::format("/proc/{}/maps", server.process.pid()));
    int lines = 0, eventpoll_maps = 0;
    for (std::string line; std::getline(maps, line); ++lines) {
      eventpoll_maps +=
          line.find("eventpoll") != std::string::npos || line.find("epoll") != std::string::npos;
    }
    ::close(client);
    server.process.send_signal(SIGTERM);
    server.process.wait(10s);
    result[std::string(backend)] = {{"eventpoll_fds", eventpoll_fds},
                                    {"maps_lines", lines},
                                    {"eventpoll_mappings", eventpoll_maps}};
  }
  return result;
}

// The kernel memory behind epoll's registrations: fs.epoll.max_user_watches (eventpoll_init
// sizes it from low memory) and the slab object sizes of an epitem and its wait-queue hook, as
// /proc/slabinfo shows them (readable by root only; a merged slab is not listed: null).
Json epoll_watch_memory() {
  Json result = {{"max_user_watches", nullptr},
                 {"eventpoll_epi_bytes", nullptr},
                 {"eventpoll_pwq_bytes", nullptr}};
  std::ifstream watches("/proc/sys/fs/epoll/max_user_watches");
  if (long long value = 0; watches >> value) result["max_user_watches"] = value;
  std::ifstream slabinfo("/proc/slabinfo");
  for (std::string line; std::getline(slabinfo, line);) {
    std::istringstream fields(line);
    std::string name;
    long long active = 0, total = 0, size = 0;
    if (!(fields >> name >> active >> total >> size)) continue;
    if (name == "eventpoll_epi" || name == "eventpoll_pwq") result[name + "_bytes"] = size;
  }
  return result;
}

}  // namespace
}  // namespace muxbench

int main(int argc, char** argv) {
  using namespace muxbench;
  CLI::App app{"Measures the semantic claims of select/poll/epoll tutorials on this machine.",
               "claims"};
  std::string json_path;
  std::string server =
      (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "echo-server").string();
  auto* json_option = app.add_option(
      "--json", json_path,
      "write the results here (atomically; checked before any work); '-': standard output, the "
      "readable account then goes to standard error");
  app.add_option("--echo-server", server, "the echo-server binary")->capture_default_str();
  add_version_flag(app, "claims");
  if (const auto exit_code = parse_command_line(app, argc, argv, "claims")) return *exit_code;
  std::optional<OutputPath> json_out;
  try {
    if (json_option->count() > 0) json_out = OutputPath::checked("--json", json_path);
  } catch (const UsageError& error) {
    fmt::print(stderr, "claims: {}\n", error.what());
    return kExitUsage;
  }
  // With the JSON on standard output, the account goes to standard error.
  std::FILE* account = json_out && json_out->is_stdout() ? stderr : stdout;
  raise_fd_limit_to_hard();
  ::signal(SIGPIPE, SIG_IGN);
  try {
    Json result = {{"schema_version", 1},
                   {"kind", "claims"},
                   {"environment", describe_environment()},
                   {"fd_setsize", fd_setsize(server)},
                   {"select_cost", select_cost_by_number()},
                   {"repeated_reports", repeated_reports()},
                   {"edge_triggered_stall", edge_triggered_stall()},
                   {"descriptors", mappings_and_descriptors(server)},
                   {"epoll_watch_memory", epoll_watch_memory()}};
    const auto& f = result["fd_setsize"];
    const auto& s = result["select_cost"];
    const auto& r = result["repeated_reports"];
    const auto& e = result["edge_triggered_stall"];
    const auto& d = result["descriptors"];
    fmt::print(
        account,
        "FD_SETSIZE: of {} connections select served {} and refused {} (server counted {}); poll "
        "served {}.\n",
        f["connections"].dump(), f["select"]["served"].dump(), f["select"]["refused"].dump(),
        f["select"]["refused_counted_by_server"].dump(), f["poll"]["served"].dump());
    fmt::print(account,
               "select, zero timeout, nothing ready: one fd numbered {} {:.0f} ns, numbered {} "
               "{:.0f} ns, {} fds {:.0f} ns per call ({:.3f} ns per unused number, {:.1f} ns per "
               "watched fd); a bitmap past FD_SETSIZE: {}.\n",
               s["one_fd_low"]["fd"].dump(), s["one_fd_low"]["ns_per_call"].get<double>(),
               s["one_fd_high"]["fd"].dump(), s["one_fd_high"]["ns_per_call"].get<double>(),
               s["many_fds"]["watched"].dump(), s["many_fds"]["ns_per_call"].get<double>(),
               s["ns_per_unused_number"].get<double>(), s["ns_per_watched_fd"].get<double>(),
               s["past_fd_setsize"].dump());
    fmt::print(
        account,
        "An unread readable fd over {} zero-timeout calls: select reported it {}x, poll {}x, "
        "epoll LT {}x, epoll ET {}x.\n",
        r["calls"].dump(), r["select"].dump(), r["poll"].dump(), r["epoll-lt"].dump(),
        r["epoll-et"].dump());
    fmt::print(account,
               "ET stall: {} bytes written, handler read {}, {} left; the next {} ms wait reported "
               "{} event(s) (LT: {}); after 1 more byte ET reported {} with {} bytes waiting.\n",
               e["written"].dump(), e["handler_read"].dump(), e["unread"].dump(),
               e["wait_ms"].dump(), e["edge_events_while_unread"].dump(),
               e["level_events_while_unread"].dump(), e["edge_events_after_new_data"].dump(),
               e["unread_after_new_data"].dump());
    for (const auto& [backend, info] : d.items()) {
      fmt::print(account,
                 "{}: {} eventpoll descriptor(s), {} of {} memory mappings mention epoll.\n",
                 backend, info["eventpoll_fds"].dump(), info["eventpoll_mappings"].dump(),
                 info["maps_lines"].dump());
    }
    const auto& w = result["epoll_watch_memory"];
    fmt::print(account,
               "epoll watches: at most {} per user (fs.epoll.max_user_watches); slab object bytes: "
               "eventpoll_epi {}, eventpoll_pwq {} (null: not listed or not readable).\n",
               w["max_user_watches"].dump(), w["eventpoll_epi_bytes"].dump(),
               w["eventpoll_pwq_bytes"].dump());
    if (json_out) {
      if (const auto error = json_out->write(result.dump(2) + "\n")) {
        fmt::print(stderr, "claims: cannot write --json: {}\n", *error);
        return 1;
      }
    }
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "claims: {}\n", error.what());
    return 1;
  }
}
