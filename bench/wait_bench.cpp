// wait-bench: the cost of one readiness wait call against the number of registered descriptors.
// Google Benchmark; every wait family is <backend>/<fd kind>/ready:<K>/fds:<N>, plus the
// per-connection (conn_cycle) and per-message (echo_syscalls) rows. Run with --help.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/fd_pairs.hpp"
#include "bench/waiters.hpp"
#include "common/clock.hpp"
#include "common/cpu_affinity.hpp"
#include "common/environment.hpp"
#include "common/exit_codes.hpp"
#include "common/fd_limit.hpp"
#include "common/output_path.hpp"
#include "common/uring.hpp"
#include "common/usage_error.hpp"
#include "common/version.hpp"
#include "servers/epoll_poller.hpp"
#include "servers/listener.hpp"
#include "servers/poll_poller.hpp"
#include "servers/select_poller.hpp"
#include "servers/uring_poller.hpp"

namespace muxbench {
namespace {

struct Options {
  bool quick = false;
  std::size_t max_pairs_socketpair = 0;
  std::size_t max_pairs_tcp = 0;
};

// One pool of pairs, built at first use and shared by every benchmark of its kind. Only one kind
// lives at a time (each pool may take most of the fd limit); benchmarks run in registration order,
// so the socketpair pool is replaced once by the TCP one (TCP pairs leave TIME_WAIT behind when
// closed, so they are made only once). Throws std::runtime_error when it cannot provide `needed`.
struct Pool {
  std::unique_ptr<FdPairs> current;
  std::optional<FdKind> current_kind;
};
Pool& the_pool() {
  static Pool pool;
  return pool;
}

// Closes the pool: the rows that make their own descriptors (conn_cycle, echo_syscalls) run after
// every wait family and want low descriptor numbers (select) and the whole fd limit.
void release_pool() {
  the_pool().current.reset();
  the_pool().current_kind.reset();
}

FdPairs& pool(FdKind kind, std::size_t needed, const Options& options) {
  auto& [current, current_kind] = the_pool();
  if (current_kind != kind) {
    current.reset();
    current_kind = kind;
    try {
      const std::size_t size =
          kind == FdKind::kSocketPair ? options.max_pairs_socketpair : options.max_pairs_tcp;
      current = std::make_unique<FdPairs>(kind, size);
    } catch (const std::exception& e) {
      current_kind.reset();
      throw std::runtime_error(
          fmt::format("cannot create {} pairs: {}", to_string(kind), e.what()));
    }
  }
  if (current->size() < needed) {
    throw std::runtime_error(
        fmt::format("{} pairs needed, the fd limit allows {}", needed, current->size()));
  }
  return *current;
}

void report(benchmark::State& state, double total_ns, std::size_t n, std::size_t ready) {
  state.SetComplexityN(static_cast<std::int64_t>(n));
  if (state.iterations() == 0) return;
  const double per_call = total_ns / static_cast<double>(state.iterations());
  state.counters["ns_per_call"] = per_call;
  state.counters["ns_per_fd"] = per_call / static_cast<double>(n);
  state.counters["fds"] = static_cast<double>(n);
  state.counters["ready"] = static_cast<double>(ready);
}

// Times one wait call per iteration (manual time). With TimePrepare the per-call preparation (the
// ET re-arm) is timed too: that is what an edge-triggered handler that re-arms pays.
template <bool TimePrepare, class Waiter>
void time_waits(benchmark::State& state, Waiter& waiter, ReadySet& ready_set, std::size_t n,
                std::size_t ready) {
  std::string error;
  double total_ns = 0;
  for (auto _ : state) {
    if constexpr (!TimePrepare) waiter.prepare(ready_set);
    const std::int64_t start = monotonic_ns();
    if constexpr (TimePrepare) waiter.prepare(ready_set);
    const int got = waiter.wait(ready == 0);
    const std::int64_t elapsed = monotonic_ns() - start;
    if (got != static_cast<int>(ready)) {
      error = fmt::format("the wait returned {} ready descriptors, expected {}", got, ready);
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(static_cast<double>(elapsed) / 1e9);
    total_ns += static_cast<double>(elapsed);
  }
  report(state, total_ns, n, ready);
}

// `ready` for the ready:all families: every registered descriptor is ready.
constexpr std::size_t kAllReady = static_cast<std::size_t>(-1);

template <class Waiter, bool TimePrepare>
void wait_call(benchmark::State& state, FdKind kind, std::size_t ready, const Options* options) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (ready == kAllReady) ready = n;
  try {
    FdPairs& pairs = pool(kind, n, *options);
    ReadySet ready_set(pairs, n, ready);
    Waiter waiter(pairs.watched(n));  // select refuses descriptors >= FD_SETSIZE here
    time_waits<TimePrepare>(state, waiter, ready_set, n, ready);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

enum class CtlOperation { kAdd, kModify, kDelete };

// The work epoll moves out of the wait: one epoll_ctl with N descriptors registered.
void epoll_ctl_call(benchmark::State& state, FdKind kind, CtlOperation operation,
                    const Options* options) {
  const auto n = static_cast<std::size_t>(state.range(0));
  try {
    FdPairs& pairs = pool(kind, n + 1, *options);
    EpollWaiter<false> epoll(pairs.watched(n));
    const int extra = pairs.watched(n + 1).back();
    const int registered = pairs.watched(n)[n / 2];
    double total_ns = 0;
    for (auto _ : state) {
      std::int64_t start = 0, elapsed = 0;
      switch (operation) {
        case CtlOperation::kAdd:
          start = monotonic_ns();
          epoll.control(EPOLL_CTL_ADD, extra);
          elapsed = monotonic_ns() - start;
          epoll.control(EPOLL_CTL_DEL, extra);
          break;
        case CtlOperation::kModify:
          start = monotonic_ns();
          epoll.control(EPOLL_CTL_MOD, registered);
          elapsed = monotonic_ns() - start;
          break;
        case CtlOperation::kDelete:
          start = monotonic_ns();
          epoll.control(EPOLL_CTL_DEL, registered);
          elapsed = monotonic_ns() - start;
          epoll.control(EPOLL_CTL_ADD, registered);
          break;
      }
      state.SetIterationTime(static_cast<double>(elapsed) / 1e9);
      total_ns += static_cast<double>(elapsed);
    }
    report(state, total_ns, n, 0);
  } catch (const std::exception& e) {  // no pairs, or epoll_create1 or epoll_ctl failed
    state.SkipWithError(e.what());
  }
}

// A row that is not a wait call: ns_per_call is the mean of the timed part of one iteration.
void report_per_call(benchmark::State& state, double total_ns) {
  if (state.iterations() == 0) return;
  state.counters["ns_per_call"] = total_ns / static_cast<double>(state.iterations());
}

// The connection lifecycle as echo-server's event loop runs it, with its own poller class: accept
// (accept_connection: accept4 + TCP_NODELAY), register for reading, and later deregister and
// close. The client's connect and close are untimed. The client closes first (the server's close
// follows the end of the stream, as in a closed-loop generator that hangs up), so TIME_WAIT stays
// on the client side, spread over many source addresses. On loopback the server's close also runs
// the client's side of the FIN exchange (softirq work done in the caller's context), as it does
// in the echo server.
template <class Poller>
void conn_cycle(benchmark::State& state) {
  release_pool();
  try {
    Listener listener("127.0.0.1", 0);
    Poller poller;
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(listener.port());
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::uint32_t source = 0;
    double parts_ns[4] = {0, 0, 0, 0};  // accept, add, remove, close
    for (auto _ : state) {
      const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (client < 0) throw std::system_error(errno, std::generic_category(), "socket");
      sockaddr_in local{};
      local.sin_family = AF_INET;  // 127.0.0.2 .. 127.0.0.65, the port chosen at connect
      local.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (source++ % 64));
      const int one = 1;
      ::setsockopt(client, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (::bind(client, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
          ::connect(client, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
        const int error = errno;
        ::close(client);
        throw std::system_error(error, std::generic_category(), "connect");
      }
      const std::int64_t t0 = monotonic_ns();
      const Accepted accepted = accept_connection(listener.fd());
      const std::int64_t t1 = monotonic_ns();
      if (accepted.outcome != AcceptOutcome::kAccepted) {
        ::close(client);
        throw std::system_error(accepted.error, std::generic_category(), "accept");
      }
      poller.add(accepted.fd, kRead);
      const std::int64_t t2 = monotonic_ns();
      ::close(client);
      const std::int64_t t3 = monotonic_ns();
      poller.remove(accepted.fd);
      const std::int64_t t4 = monotonic_ns();
      ::close(accepted.fd);
      // io_uring: the poll request holds the socket until its cancellation completes, which the
      // next io_uring_enter runs (the echo server's next wait). With one enter here (or one
      // enter and another system call) the socket's release, FIN exchange included, still ran
      // outside the timed part (close 0.15 µs instead of about 3 µs); with two it runs inside,
      // as it does in the server's next waits. Two enters, timed with the close.
      if constexpr (std::is_same_v<Poller, UringPoller>) {
        poller.wait(0);
        poller.wait(0);
      }
      const std::int64_t t5 = monotonic_ns();
      const std::int64_t parts[4] = {t1 - t0, t2 - t1, t4 - t3, t5 - t4};
      double elapsed = 0;
      for (int i = 0; i < 4; ++i) {
        parts_ns[i] += static_cast<double>(parts[i]);
        elapsed += static_cast<double>(parts[i]);
      }
      state.SetIterationTime(elapsed / 1e9);
    }
    report_per_call(state, parts_ns[0] + parts_ns[1] + parts_ns[2] + parts_ns[3]);
    if (state.iterations() > 0) {
      // The poller's share (ns_add + ns_remove) is what the backends differ in; accept and close
      // are the same system calls for all of them.
      const auto per = [&](int i) { return parts_ns[i] / static_cast<double>(state.iterations()); };
      state.counters["ns_accept"] = per(0);
      state.counters["ns_add"] = per(1);
      state.counters["ns_remove"] = per(2);
      state.counters["ns_close"] = per(3);
    }
  } catch (const std::exception& e) {  // listener, io_uring unavailable, connect, accept
    state.SkipWithError(e.what());
  }
}

// The system calls every backend makes per echoed message, on a connected TCP loopback pair with
// the data already there: recv (the servers' 16 KiB read size) until the message is in, then send
// it back (MSG_NOSIGNAL). The peer's write before and read after are untimed; on loopback the
// send also runs the receiving side's softirq work in the caller's context, as in the echo
// server. size 0: one recv on an empty socket that fails with EAGAIN, the extra call an
// edge-triggered server makes per event when it drains until EAGAIN.
void echo_syscalls(benchmark::State& state, std::size_t size) {
  release_pool();
  try {
    FdPairs pair(FdKind::kTcpLoopback, 1);
    const int server = pair.watched(1)[0];
    const int client = pair.peer(0);
    const int one = 1;
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> message(std::max<std::size_t>(size, 1), 'm');
    std::vector<char> buffer(16384 + size);
    const auto transfer = [](auto call, int fd, char* data, std::size_t bytes, const char* what) {
      for (std::size_t done = 0; done < bytes;) {
        const ssize_t got = call(fd, data + done, bytes - done);
        if (got <= 0) {
          if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          throw std::system_error(got < 0 ? errno : EPIPE, std::generic_category(), what);
        }
        done += static_cast<std::size_t>(got);
      }
    };
    const auto receive = [](int fd, char* data, std::size_t bytes) {
      return ::recv(fd, data, std::min<std::size_t>(bytes, 16384), 0);
    };
    const auto send = [](int fd, char* data, std::size_t bytes) {
      return ::send(fd, data, bytes, MSG_NOSIGNAL);
    };
    double total_ns = 0;
    for (auto _ : state) {
      std::int64_t elapsed = 0;
      if (size == 0) {
        const std::int64_t start = monotonic_ns();
        const ssize_t got = ::recv(server, buffer.data(), 16384, 0);
        elapsed = monotonic_ns() - start;
        if (got >= 0 || errno != EAGAIN) throw std::runtime_error("recv did not fail with EAGAIN");
      } else {
        transfer(send, client, message.data(), size, "send (client)");
        const std::int64_t start = monotonic_ns();
        transfer(receive, server, buffer.data(), size, "recv");
        transfer(send, server, buffer.data(), size, "send");
        elapsed = monotonic_ns() - start;
        transfer(receive, client, buffer.data(), size, "recv (client)");
      }
      state.SetIterationTime(static_cast<double>(elapsed) / 1e9);
      total_ns += static_cast<double>(elapsed);
    }
    report_per_call(state, total_ns);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// Powers of two from 16 up to what the limit allows, plus the fd counts of TLPI's Table 63-9.
std::vector<std::int64_t> fd_counts(std::size_t max_pairs, bool quick) {
  std::set<std::int64_t> counts;
  if (quick) {
    counts = {16, 64, 256, 1024};
  } else {
    for (std::size_t n = 16; n <= max_pairs; n *= 2) {
      counts.insert(static_cast<std::int64_t>(n));
      if (n > max_pairs / 2) break;  // the next doubling would pass the limit (or overflow)
    }
    counts.insert({10, 100, 1000, 10000});
  }
  std::erase_if(counts, [&](std::int64_t n) { return static_cast<std::size_t>(n) > max_pairs; });
  return {counts.begin(), counts.end()};
}

// ready:all: every descriptor ready, so each call does the per-ready-descriptor work N times (the
// cost model's per-event coefficients are the slopes of these rows). A few sizes spanning the
// range (1000: the largest select can watch), each call costing up to N reads and writes untimed.
std::vector<std::int64_t> all_ready_counts(std::size_t max_pairs, bool quick) {
  std::vector<std::int64_t> counts;
  const std::vector<std::int64_t> wanted =
      quick ? std::vector<std::int64_t>{16, 64, 256}
            : std::vector<std::int64_t>{16, 64, 256, 1000, 1024, 4096, 8192};
  for (const auto n : wanted) {
    if (static_cast<std::size_t>(n) <= max_pairs) counts.push_back(n);
  }
  return counts;
}

// Why `Waiter` cannot measure n descriptors on this machine, known before any run; nullopt when
// it can. select: descriptor values must stay below FD_SETSIZE, and the watched ones start above
// stdio and the few descriptors the process holds (kLowDescriptors). uring-poll: io_uring may be
// unavailable (kernel, seccomp, io_uring_disabled).
constexpr std::size_t kLowDescriptors = 16;

std::optional<std::string> uring_unavailable() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    io_uring ring;
    if (const int result = init_single_thread_ring(8, ring); result < 0) {
      return fmt::format("io_uring is not available here: {}", std::strerror(-result));
    }
    io_uring_queue_exit(&ring);
    return std::nullopt;
  }();
  return reason;
}

template <class Waiter>
std::optional<std::string> unsupported(std::size_t n) {
  if constexpr (std::is_same_v<Waiter, SelectWaiter>) {
    if (n + kLowDescriptors > FD_SETSIZE) {
      return fmt::format(
          "select cannot watch {} descriptors: their values must stay below FD_SETSIZE ({})", n,
          FD_SETSIZE);
    }
  }
  if constexpr (std::is_same_v<Waiter, UringPollWaiter>) return uring_unavailable();
  return std::nullopt;
}

// A size the backend cannot measure: a benchmark of its own, outside the complexity family, that
// reports the reason as its error. (Google Benchmark 1.7.1 dereferences an empty vector when every
// run of a Complexity() family fails, e.g. under a filter that selects only such sizes.)
void report_unsupported(benchmark::State& state, const std::string* reason) {
  state.SkipWithError(reason->c_str());
}

// Each family is fitted against the complexity the textbooks expect (select/poll O(N), epoll
// O(1)); Google Benchmark's RMS then says how well the expectation holds on this machine. A family
// is named after its backend (the echo-server's name); "-rearm" when the re-arm is timed too.
// Sizes the backend cannot measure here are registered apart, under the same names.
template <class Waiter, bool TimePrepare = false>
void register_wait_family(FdKind kind, std::size_t max_pairs, benchmark::BigO expected,
                          const Options& options) {
  static std::vector<std::unique_ptr<std::string>> reasons;  // outlive the benchmarks
  const std::string_view suffix = TimePrepare ? "-rearm" : "";
  for (const std::size_t ready : {std::size_t{0}, std::size_t{1}, std::size_t{64}, kAllReady}) {
    const bool all = ready == kAllReady;
    // -rearm with every descriptor ready would time N re-arms, which epoll_ctl_mod measures.
    if (all && TimePrepare) continue;
    const std::string name = fmt::format("{}{}/{}/ready:{}", Waiter::kName, suffix, to_string(kind),
                                         all ? "all" : std::to_string(ready));
    std::vector<std::int64_t> measured;
    std::vector<std::pair<std::int64_t, std::string>> refused;
    const auto counts =
        all ? all_ready_counts(max_pairs, options.quick) : fd_counts(max_pairs, options.quick);
    for (const auto n : counts) {
      if (!all && static_cast<std::size_t>(n) < ready) continue;
      if (auto reason = unsupported<Waiter>(static_cast<std::size_t>(n))) {
        refused.emplace_back(n, std::move(*reason));
      } else {
        measured.push_back(n);
      }
    }
    if (!measured.empty()) {
      auto* family = benchmark::RegisterBenchmark(name.c_str(), wait_call<Waiter, TimePrepare>,
                                                  kind, ready, &options);
      for (const auto n : measured) family->Arg(n);
      // With every descriptor ready, each backend does per-descriptor work: O(N) for all.
      family->ArgName("fds")->UseManualTime()->Complexity(all ? benchmark::oN : expected);
    }
    for (auto& [n, reason] : refused) {
      reasons.push_back(std::make_unique<std::string>(std::move(reason)));
      benchmark::RegisterBenchmark(name.c_str(), report_unsupported, reasons.back().get())
          ->Arg(n)
          ->ArgName("fds")
          ->UseManualTime();
    }
  }
}

// conn_cycle/<backend>: a fixed number of connections per run (each one leaves a TIME_WAIT
// socket behind, so the count must not follow the min time). echo_syscalls/tcp/size:<S>.
void register_lifecycle_rows(const Options& options) {
  const int connections = options.quick ? 500 : 4000;
  const auto add = [&](const char* backend, void (*run)(benchmark::State&)) {
    benchmark::RegisterBenchmark(fmt::format("conn_cycle/{}", backend).c_str(), run)
        ->Iterations(connections)
        ->UseManualTime();
  };
  add("select", conn_cycle<SelectPoller>);
  add("poll", conn_cycle<PollPoller>);
  add("epoll-lt", conn_cycle<EpollPoller<false>>);
  add("epoll-et", conn_cycle<EpollPoller<true>>);
  add("uring-poll", conn_cycle<UringPoller>);
  for (const std::size_t size : {64, 16384}) {
    benchmark::RegisterBenchmark(fmt::format("echo_syscalls/tcp/size:{}", size).c_str(),
                                 echo_syscalls, size)
        ->UseManualTime();
  }
  benchmark::RegisterBenchmark("echo_syscalls/tcp/recv_eagain", echo_syscalls, std::size_t{0})
      ->UseManualTime();
}

constexpr std::size_t kFewestPairs = 17;  // the smallest N is 16; epoll_ctl_add needs one more

// Returns false when the fd limit leaves too few descriptors to measure anything.
bool register_all(const Options& options) {
  std::vector<FdKind> kinds = {FdKind::kSocketPair};
  if (!options.quick) kinds.push_back(FdKind::kTcpLoopback);
  bool any = false;
  for (const FdKind kind : kinds) {
    const std::size_t pairs =
        kind == FdKind::kSocketPair ? options.max_pairs_socketpair : options.max_pairs_tcp;
    if (pairs < kFewestPairs) continue;
    any = true;
    register_wait_family<SelectWaiter>(kind, pairs, benchmark::oN, options);
    register_wait_family<PollWaiter>(kind, pairs, benchmark::oN, options);
    register_wait_family<EpollWaiter<false>>(kind, pairs, benchmark::o1, options);
    register_wait_family<EpollWaiter<true>>(kind, pairs, benchmark::o1, options);
    register_wait_family<EpollWaiter<true>, true>(kind, pairs, benchmark::o1, options);
    register_wait_family<UringPollWaiter>(kind, pairs, benchmark::o1, options);
    for (const auto& [operation, label] :
         {std::pair{CtlOperation::kAdd, "add"}, std::pair{CtlOperation::kModify, "mod"},
          std::pair{CtlOperation::kDelete, "del"}}) {
      auto* family = benchmark::RegisterBenchmark(
          fmt::format("epoll_ctl_{}/{}", label, to_string(kind)).c_str(), epoll_ctl_call, kind,
          operation, &options);
      for (const auto n : fd_counts(pairs - 1, options.quick)) family->Arg(n);
      family->ArgName("fds")->UseManualTime()->Complexity(benchmark::oLogN);  // a red-black tree
    }
  }
  register_lifecycle_rows(options);
  return any;
}

void add_context(const Options& options) {
  // Google Benchmark keeps flat string context: "/build/git_sha" -> "muxbench_build_git_sha".
  const auto environment = nlohmann::json(describe_environment()).flatten();
  for (const auto& [key, value] : environment.items()) {
    std::string name = "muxbench" + key;
    std::replace(name.begin(), name.end(), '/', '_');
    benchmark::AddCustomContext(name, value.is_string() ? value.get<std::string>() : value.dump());
  }
  benchmark::AddCustomContext("muxbench_max_pairs_socketpair",
                              std::to_string(options.max_pairs_socketpair));
  benchmark::AddCustomContext("muxbench_max_pairs_tcp", std::to_string(options.max_pairs_tcp));
  benchmark::AddCustomContext("muxbench_quick", options.quick ? "true" : "false");
}

// Google Benchmark writes a double that is not finite as a bare NaN or Infinity (the coefficient
// of variation of a constant counter is 0/0), which is not JSON: strict readers such as
// JavaScript's JSON.parse refuse the file. Outside strings, each becomes null; nothing else
// changes.
std::string strict_json(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const std::string_view token : {"-Infinity", "Infinity", "-NaN", "NaN"}) {
      if (text.compare(i, token.size(), token) == 0) {
        out += "null";
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

// Writes Google Benchmark's out file to `out`, made strict JSON when it is JSON. Returns what
// failed.
std::optional<std::string> finish_out_file(const std::string& written, const OutputPath& out,
                                           bool json) {
  std::ifstream in(written, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return fmt::format("{}: Google Benchmark wrote nothing there", out.path());
  }
  return out.write(json ? strict_json(text.str()) : text.str());
}

constexpr const char* kUsage =
    R"(wait-bench: the cost of one select/poll/epoll_wait call vs the number of registered fds.

Benchmarks are named <backend>/<fd kind>/ready:<K>/fds:<N>:
  backend   select, poll, epoll-lt, epoll-et (re-armed untimed), epoll-et-rearm (re-arm timed),
            uring-poll (io_uring multishot poll; a new wake-up made untimed before each call):
            echo-server's backend names (echo-server --list-backends)
  fd kind   socketpair, tcp (loopback connections)
  K         ready descriptors per call: 0 (with a zero timeout), 1, 64, or all (every
            registered descriptor ready: the per-ready-descriptor cost at large N)
  N         registered descriptors, powers of two from 16 to what the fd limit allows,
            plus 10, 100, 1000, 10000 where allowed; for ready:all 16, 64, 256, 1000, 1024,
            4096, 8192 where allowed (--quick: 16, 64, 256; no epoll-et-rearm: that would be
            N re-arms, which epoll_ctl_mod measures)
and epoll_ctl_{add,mod,del}/<fd kind>/fds:<N> (named after the system call). Only the call itself
is timed (manual time); a call that returns the wrong ready count fails its benchmark. Counters:
ns_per_call, ns_per_fd.

Per connection and per message (the cost model's other terms, docs/cost-model.md):
  conn_cycle/<backend>/iterations:<C>   one TCP loopback connection's life in echo-server's own
            poller: accept (accept4 + TCP_NODELAY), register, deregister, close; the client's
            connect and close untimed. A fixed C connections per run (500 with --quick, else
            4000). Counters ns_accept, ns_add, ns_remove, ns_close; their sum is ns_per_call.
  echo_syscalls/tcp/size:<S>   recv S bytes (16 KiB reads) + send them back on a connected TCP
            loopback pair with the data already there (S = 64, 16384)
  echo_syscalls/tcp/recv_eagain   one recv on an empty socket (EAGAIN): the extra call per event
            of a server that drains until EAGAIN (epoll-et, uring-poll)

Sizes a backend cannot measure here (select at FD_SETSIZE and beyond, uring-poll without
io_uring) are benchmarks of their own that fail with the reason, outside the complexity fit.

Options of its own:
  --quick     a short run for CI: socketpair only, N up to 1024 (ready:all up to 256),
              500 connections per conn_cycle row, min time 0.01 s
  --cpu N     pin to CPU N (a decimal CPU number this process may use)
  --version   print the version and exit
Google Benchmark's options apply too, e.g.
  --benchmark_filter=REGEX  --benchmark_out=FILE --benchmark_out_format=json
  --benchmark_min_time=SECONDS (default here 0.1)  --benchmark_repetitions=N (N >= 1)
--benchmark_out is checked before the run ('-': standard output, the console table then goes to
standard error); its JSON is strict (a NaN or infinite value is written as null).
Exit code: 0 done (a benchmark that failed says so in its output), 1 the out file could not be
written, 2 bad usage.
)";

// Refuses a bad command line with one line on stderr; nullopt when it is fine.
struct Arguments {
  std::vector<std::string> passed;  // to Google Benchmark
  bool quick = false;
  std::optional<int> cpu;
  std::optional<std::string> out;
  std::string out_format = "json";
};

[[noreturn]] void refuse(const std::string& message) {
  fmt::print(stderr, "wait-bench: {} (see --help)\n", message);
  std::exit(kExitUsage);
}

int parse_cpu(const std::string& text) {
  int cpu = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cpu);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || cpu < 0 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    refuse(fmt::format("--cpu: '{}' is not a CPU number", text.substr(0, 40)));
  }
  return cpu;
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments arguments;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value_of = [&](std::string_view flag) -> std::optional<std::string> {
      if (arg.rfind(std::string(flag) + "=", 0) != 0) return std::nullopt;
      return arg.substr(flag.size() + 1);
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      fmt::print("{}\n", version_text("wait-bench"));
      std::exit(0);
    } else if (arg == "--quick") {
      arguments.quick = true;
    } else if (arg == "--cpu") {
      if (i + 1 == argc) refuse("--cpu needs a CPU number");
      arguments.cpu = parse_cpu(argv[++i]);
    } else if (const auto cpu = value_of("--cpu")) {
      arguments.cpu = parse_cpu(*cpu);
    } else {
      if (const auto repetitions = value_of("--benchmark_repetitions")) {
        const auto& text = *repetitions;
        if (text.empty() || text.size() > 9 ||
            text.find_first_not_of("0123456789") != std::string::npos || std::stoi(text) < 1) {
          refuse(fmt::format("--benchmark_repetitions: '{}' is not a count of at least 1",
                             text.substr(0, 40)));
        }
      }
      if (const auto out = value_of("--benchmark_out")) arguments.out = *out;
      if (const auto format = value_of("--benchmark_out_format")) arguments.out_format = *format;
      arguments.passed.push_back(arg);
    }
  }
  return arguments;
}

}  // namespace
}  // namespace muxbench

int main(int argc, char** argv) {
  using namespace muxbench;
  Arguments arguments = parse_arguments(argc, argv);
  Options options;
  options.quick = arguments.quick;
  if (arguments.cpu) {
    if (const auto error = pin_to_cpu(*arguments.cpu)) refuse("--cpu: " + *error);
  }
  // The out file is checked now, and Google Benchmark writes a temporary file beside it (or in
  // /tmp for "-") that is made strict JSON and moved into place after the run.
  std::optional<OutputPath> out;
  std::string gb_out;
  if (arguments.out) {
    try {
      out = OutputPath::checked("--benchmark_out", *arguments.out);
    } catch (const UsageError& error) {
      refuse(error.what());
    }
    gb_out = out->is_stdout() ? fmt::format("/tmp/wait-bench.{}.out", ::getpid())
                              : fmt::format("{}.gb.{}", out->path(), ::getpid());
    for (auto& arg : arguments.passed) {
      if (arg.rfind("--benchmark_out=", 0) == 0) arg = "--benchmark_out=" + gb_out;
    }
  }
  std::vector<char*> args = {argv[0]};
  const bool min_time_given =
      std::any_of(arguments.passed.begin(), arguments.passed.end(),
                  [](const std::string& arg) { return arg.rfind("--benchmark_min_time", 0) == 0; });
  std::string min_time_flag =
      options.quick ? "--benchmark_min_time=0.01" : "--benchmark_min_time=0.1";
  if (!min_time_given) args.push_back(min_time_flag.data());
  for (auto& arg : arguments.passed) args.push_back(arg.data());
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return kExitUsage;

  const FdLimit limit = raise_fd_limit_to_hard();
  options.max_pairs_socketpair = max_pairs(FdKind::kSocketPair, limit.soft);
  options.max_pairs_tcp = max_pairs(FdKind::kTcpLoopback, limit.soft);
  if (options.quick) {
    options.max_pairs_socketpair = std::min<std::size_t>(options.max_pairs_socketpair, 1025);
  }
  add_context(options);
  if (!register_all(options)) {
    fmt::print(stderr,
               "wait-bench: the fd limit ({}) leaves too few descriptors for {} fd pairs; raise "
               "it (ulimit -n)\n",
               limit.soft, kFewestPairs);
    return kExitUsage;
  }
  std::size_t ran = 0;
  if (out && out->is_stdout()) {  // the table goes to stderr, the out file's content to stdout
    benchmark::ConsoleReporter console;
    console.SetOutputStream(&std::cerr);
    console.SetErrorStream(&std::cerr);
    ran = benchmark::RunSpecifiedBenchmarks(&console);
  } else {
    ran = benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  if (ran == 0) {
    if (!gb_out.empty()) std::filesystem::remove(gb_out);
    fmt::print(stderr,
               "wait-bench: no benchmark matches the filter (see --benchmark_list_tests)\n");
    return kExitUsage;
  }
  if (out) {
    std::optional<std::string> error;
    error = finish_out_file(gb_out, *out, arguments.out_format == "json");
    std::error_code ignored;
    std::filesystem::remove(gb_out, ignored);
    if (error) {
      fmt::print(stderr, "wait-bench: cannot write --benchmark_out: {}\n", *error);
      return 1;
    }
  }
  return 0;
}
