// cost-model: prints the cost model's coefficients read from a wait-bench JSON file and the four
// boundaries it predicts (docs/cost-model.md). Run with --help.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "bench/sweep/cost_model.hpp"
#include "common/command_line.hpp"
#include "common/exit_codes.hpp"

namespace {

using namespace muxbench;

void print(const char* name, const Coefficient& c) {
  // A fitted difference below zero is printed and used as measured; say what it means.
  fmt::print("  {:<28} {:>10.2f} ns   {}{}\n", name, c.ns, c.source,
             c.ns < 0 ? " (below zero: a difference of fits, zero within their noise)" : "");
}

void print_scan(const char* backend, const ScanCoefficients& s) {
  fmt::print("{}:\n", backend);
  print("base", s.base);
  print("scan per fd", s.scan_per_fd);
  print("register per fd", s.register_per_fd);
  print("ready per fd", s.ready_per_fd);
}

void print_list(const char* backend, const ReadyListCoefficients& r) {
  fmt::print("{}:\n", backend);
  print("base", r.base);
  print("per event", r.per_event);
}

void print_boundary(const std::string& what, const Boundary& b) {
  fmt::print("  {:<44} {:<6} {:>10.4g}   {}\n", what, to_string(b.kind), b.value, b.explanation);
}

// CLI11's Range and PositiveNumber let NaN through (every comparison with it is false), and the
// model then threw out of main (abort, exit 134): a number on this command line is finite.
const CLI::Validator kFinite(
    [](const std::string& text) -> std::string {
      double value = 0;
      if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value)) {
        return "'" + text + "' is not a finite number";
      }
      return {};
    },
    "FINITE");

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{
      "cost-model: the cost model's coefficients from wait-bench JSON and the boundaries "
      "it predicts (docs/cost-model.md)"};
  std::string path;
  MicroFit fit;
  CostWorkload w;
  w.active = 10;
  double advantage = 0.10;
  app.add_option("micro_json", path, "wait-bench --benchmark_out JSON")->required();
  app.add_option("--kind", fit.fd_kind, "fd kind of the wait rows: tcp or socketpair")
      ->check(CLI::IsMember({"tcp", "socketpair"}));
  app.add_option("--max-fds", fit.max_fds, "fit the wait rows with fds <= this")
      ->check(CLI::PositiveNumber);
  app.add_option("--active", w.active, "active connections")->check(CLI::Range(1.0, 1e9));
  app.add_option("--idle", w.idle, "idle connections (churn, size)")->check(CLI::Range(0.0, 1e9));
  app.add_option("--events-per-wait", w.events_per_wait, "ready descriptors per wait")
      ->check(CLI::PositiveNumber);
  app.add_option("--sleep-share", w.sleep_share, "share of wait calls that sleep")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--send-buffer", w.send_buffer, "socket send buffer in bytes (size boundary)")
      ->check(CLI::PositiveNumber);
  double sleep_wake = 0;
  app.add_option("--sleep-wake", sleep_wake,
                 "ns per sleeping wait for the scheduler's sleep and wake-up (not measured by "
                 "wait-bench; default 0)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--lifetime", w.lifetime, "exchanges per connection (default: persistent)")
      ->check(CLI::Range(1.0, 1e300));
  app.add_option("--size", w.size, "message bytes")->check(CLI::Range(1.0, 1073741824.0));
  app.add_option("--advantage", advantage, "the relative difference that counts")
      ->check(CLI::Range(0.0, 0.99));
  for (CLI::Option* option : app.get_options()) {
    if (option->get_type_name().rfind("FLOAT", 0) == 0) option->check(kFinite);
  }
  if (const auto exit_code = parse_command_line(app, argc, argv, "cost-model")) return *exit_code;
  if (w.events_per_wait > w.active) {
    fmt::print(stderr, "cost-model: --events-per-wait {} is more than --active {}\n",
               w.events_per_wait, w.active);
    return kExitUsage;
  }

  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    fmt::print(stderr, "cost-model: cannot read {}\n", path);
    return 1;
  }
  std::string why_not;
  auto c = coefficients_from_micro(text.str(), why_not, fit);
  if (!c) {
    fmt::print(stderr, "cost-model: {}: {}\n", path, why_not);
    return 1;
  }
  if (sleep_wake > 0) c->sleep_wake = {sleep_wake, "given with --sleep-wake"};
  fmt::print("Coefficients ({} rows, fits over fds <= {}):\n", c->fd_kind, c->fit_max_fds);
  print_scan("poll", c->poll);
  if (c->select) print_scan("select", *c->select);
  print_list("epoll-lt", c->epoll_lt);
  if (c->epoll_et) print_list("epoll-et", *c->epoll_et);
  if (c->uring_poll) print_list("uring-poll", *c->uring_poll);
  fmt::print("per event, connection and message:\n");
  print("epoll-lt repoll per event", c->lt_repoll_per_event);
  if (c->epoll_ctl_mod) print("epoll_ctl MOD", *c->epoll_ctl_mod);
  for (const auto& [backend, cost] : c->connection) {
    print(fmt::format("connection {}", backend).c_str(), cost);
  }
  print("message 64 B", c->message_64);
  print("message per byte", c->message_per_byte);
  if (c->recv_eagain) print("recv EAGAIN", *c->recv_eagain);
  print("pollfd edit", c->pollfd_edit);
  print("sleep + wake", c->sleep_wake);

  fmt::print(
      "\nPredicted server CPU ns per message (active {}, events per wait {}, sleep share {}, "
      "lifetime {}, size {} B):\n  {:>8}",
      w.active, w.events_per_wait, w.sleep_share, w.lifetime, w.size, "idle");
  const char* backends[] = {"select", "poll", "epoll-lt", "epoll-et", "uring-poll"};
  for (const char* backend : backends) fmt::print(" {:>10}", backend);
  fmt::print("\n");
  for (const double idle : {0.0, 100.0, 1000.0, 10000.0}) {
    CostWorkload at = w;
    at.idle = idle;
    fmt::print("  {:>8}", idle);
    for (const char* backend : backends) {
      fmt::print(" {:>10.0f}", predicted_cpu_ns_per_message(*c, backend, at));
    }
    fmt::print("\n");
  }

  fmt::print("\nBoundaries (events per wait {}, sleep share {}, advantage {}):\n",
             w.events_per_wait, w.sleep_share, advantage);
  for (const char* scan : {"poll", "select"}) {
    CostWorkload idle = w;
    idle.idle = 0;
    print_boundary(fmt::format("1 idle, {} active: epoll-lt vs {}", w.active, scan),
                   idle_break_even(*c, scan, idle, advantage));
  }
  // Activity: the share of ready descriptors at which the scan ties, for a few set sizes, with
  // sleeping calls and with calls that find something ready at once.
  for (const char* scan : {"poll", "select"}) {
    for (const double active : {10.0, 64.0, 1000.0}) {
      for (const double sleep_share : {1.0, 0.0}) {
        CostWorkload busy = w;
        busy.idle = 0;
        busy.active = active;
        busy.sleep_share = sleep_share;
        busy.events_per_wait = 1;
        print_boundary(fmt::format("2 share, {} active, sleep {}: {}", active, sleep_share, scan),
                       active_share_tie(*c, scan, busy));
      }
    }
  }
  for (const char* scan : {"poll", "select"}) {
    for (const double idle : {0.0, 100.0}) {
      CostWorkload churn = w;
      churn.idle = idle;
      print_boundary(fmt::format("3 churn, {} idle: {} vs epoll-lt", idle, scan),
                     churn_break_even(*c, scan, churn));
    }
  }
  if (c->uring_poll) {
    print_boundary("3 churn: epoll-lt vs uring-poll",
                   churn_break_even(*c, "epoll-lt", w, "uring-poll"));
  }
  std::vector<double> buffers = {16384, 262144, 4194304};
  if (!std::isinf(w.send_buffer)) buffers = {w.send_buffer};
  for (const double buffer : buffers) {
    CostWorkload sized = w;
    sized.send_buffer = buffer;
    print_boundary(fmt::format("4 size, send buffer {} B", buffer),
                   size_threshold(*c, sized, advantage));
  }
  return 0;
} catch (const std::exception& error) {
  // What the model refuses (a workload outside it) is said in one line, never an abort.
  fmt::print(stderr, "cost-model: {}\n", error.what());
  return 1;
}
