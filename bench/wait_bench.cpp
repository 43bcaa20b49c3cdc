// wait-bench: the cost of one readiness wait call against the number of registered descriptors.
// Google Benchmark; every family is <backend>/<fd kind>/ready:<K>/fds:<N>. Run with --help.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bench/fd_pairs.hpp"
#include "bench/waiters.hpp"
#include "common/clock.hpp"
#include "common/cpu_affinity.hpp"
#include "common/environment.hpp"
#include "common/exit_codes.hpp"
#include "common/fd_limit.hpp"

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
FdPairs& pool(FdKind kind, std::size_t needed, const Options& options) {
  static std::unique_ptr<FdPairs> current;
  static std::optional<FdKind> current_kind;
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

template <class Waiter, bool TimePrepare>
void wait_call(benchmark::State& state, FdKind kind, std::size_t ready, const Options* options) {
  const auto n = static_cast<std::size_t>(state.range(0));
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

// Each family is fitted against the complexity the textbooks expect (select/poll O(N), epoll
// O(1)); Google Benchmark's RMS then says how well the expectation holds on this machine. A family
// is named after its backend (the echo-server's name); "-rearm" when the re-arm is timed too.
template <class Waiter, bool TimePrepare = false>
void register_wait_family(FdKind kind, std::size_t max_pairs, benchmark::BigO expected,
                          const Options& options) {
  const std::string_view suffix = TimePrepare ? "-rearm" : "";
  for (const std::size_t ready : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
    auto* family = benchmark::RegisterBenchmark(
        fmt::format("{}{}/{}/ready:{}", Waiter::kName, suffix, to_string(kind), ready).c_str(),
        wait_call<Waiter, TimePrepare>, kind, ready, &options);
    for (const auto n : fd_counts(max_pairs, options.quick)) {
      if (static_cast<std::size_t>(n) >= ready) family->Arg(n);
    }
    family->ArgName("fds")->UseManualTime()->Complexity(expected);
  }
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

constexpr const char* kUsage =
    R"(wait-bench: the cost of one select/poll/epoll_wait call vs the number of registered fds.

Benchmarks are named <backend>/<fd kind>/ready:<K>/fds:<N>:
  backend   select, poll, epoll-lt, epoll-et (re-armed untimed), epoll-et-rearm (re-arm timed),
            uring-poll (io_uring multishot poll; a new wake-up made untimed before each call):
            echo-server's backend names (echo-server --list-backends)
  fd kind   socketpair, tcp (loopback connections)
  K         ready descriptors per call (0 uses a zero timeout)
  N         registered descriptors, powers of two from 16 to what the fd limit allows,
            plus 10, 100, 1000, 10000 where allowed
and epoll_ctl_{add,mod,del}/<fd kind>/fds:<N> (named after the system call). Only the call itself
is timed (manual time); a call that returns the wrong ready count fails its benchmark. Counters:
ns_per_call, ns_per_fd.

Options of its own:
  --quick     a short run for CI: socketpair only, N up to 1024, min time 0.01 s
  --cpu N     pin to CPU N
Google Benchmark's options apply too, e.g.
  --benchmark_filter=REGEX  --benchmark_out=FILE --benchmark_out_format=json
  --benchmark_min_time=SECONDS (default here 0.1)  --benchmark_repetitions=N
)";

}  // namespace
}  // namespace muxbench

int main(int argc, char** argv) {
  using namespace muxbench;
  Options options;
  std::vector<char*> args = {argv[0]};
  bool min_time_given = false;
  static std::string min_time_flag;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--cpu" && i + 1 < argc) {
      if (const auto error = pin_to_cpu(std::atoi(argv[++i]))) {
        fmt::print(stderr, "wait-bench: --cpu: {}\n", *error);
        return kExitUsage;
      }
    } else {
      min_time_given |= arg.rfind("--benchmark_min_time", 0) == 0;
      args.push_back(argv[i]);
    }
  }
  if (!min_time_given) {
    min_time_flag = options.quick ? "--benchmark_min_time=0.01" : "--benchmark_min_time=0.1";
    args.insert(args.begin() + 1, min_time_flag.data());
  }
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
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (ran == 0) {
    fmt::print(stderr,
               "wait-bench: no benchmark matches the filter (see --benchmark_list_tests)\n");
    return kExitUsage;
  }
  return 0;
}
