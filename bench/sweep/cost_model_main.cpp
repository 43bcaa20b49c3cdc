// cost-model: prints the cost model's coefficients read from a wait-bench JSON file and the four
// boundaries it predicts (docs/cost-model.md). Run with --help.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "bench/sweep/cost_model.hpp"
#include "common/exit_codes.hpp"

namespace {

using namespace muxbench;

void print(const char* name, const Coefficient& c) {
  fmt::print("  {:<28} {:>10.2f} ns   {}\n", name, c.ns, c.source);
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
  fmt::print("  {:<34} {:<6} {:>10.4g}   {}\n", what, to_string(b.kind), b.value, b.explanation);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cost-model: the cost model's coefficients from wait-bench JSON and the boundaries "
      "it predicts (docs/cost-model.md)"};
  std::string path;
  MicroFit fit;
  Workload w;
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
  app.add_option("--advantage", advantage, "the relative difference that counts")
      ->check(CLI::Range(0.0, 0.99));
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    fmt::print(stderr, "cost-model: cannot read {}\n", path);
    return 1;
  }
  std::string why_not;
  const auto c = coefficients_from_micro(text.str(), why_not, fit);
  if (!c) {
    fmt::print(stderr, "cost-model: {}: {}\n", path, why_not);
    return 1;
  }
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

  fmt::print("\nPredicted server CPU ns per message (active {}, events per wait {}):\n  {:>8}",
             w.active, w.events_per_wait, "idle");
  const char* backends[] = {"select", "poll", "epoll-lt", "epoll-et", "uring-poll"};
  for (const char* backend : backends) fmt::print(" {:>10}", backend);
  fmt::print("\n");
  for (const double idle : {0.0, 100.0, 1000.0, 10000.0}) {
    Workload at = w;
    at.idle = idle;
    fmt::print("  {:>8}", idle);
    for (const char* backend : backends) {
      fmt::print(" {:>10.0f}", predicted_cpu_ns_per_message(*c, backend, at));
    }
    fmt::print("\n");
  }

  fmt::print("\nBoundaries (active {}, events per wait {}, sleep share {}, advantage {}):\n",
             w.active, w.events_per_wait, w.sleep_share, advantage);
  for (const char* scan : {"poll", "select"}) {
    Workload idle = w;
    idle.idle = 0;
    print_boundary(fmt::format("1 idle: epoll-lt vs {}", scan),
                   idle_break_even(*c, scan, idle, advantage));
    print_boundary(fmt::format("2 active share: {}", scan), active_share_tie(*c, scan, idle));
    print_boundary(fmt::format("3 churn at {} idle: {}", w.idle, scan),
                   churn_break_even(*c, scan, w));
  }
  if (c->uring_poll) {
    print_boundary("3 churn: epoll-lt vs uring-poll",
                   churn_break_even(*c, "epoll-lt", w, "uring-poll"));
  }
  print_boundary(fmt::format("4 size, send buffer {} B", w.send_buffer),
                 size_threshold(*c, w, advantage));
  return 0;
}
