#include "bench/sweep/map_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "bench/sweep/cost_model.hpp"

namespace muxbench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The model's assumptions about the wait calls of each study, recorded with its coefficients:
// waits beside idle connections and in churn sleep (the scan's upper bound); with every
// connection busy they find work at once.
constexpr double kSleepShareIdle = 1.0;
constexpr double kSleepShareBusy = 0.0;

bool scan_backend(const std::string& backend) { return backend == "poll" || backend == "select"; }

// The events per wait call the line measured where its workload is the model's (its first cell),
// at least one.
double events_per_wait(const MapLine& line) {
  for (const auto& cell : line.cells) {
    if (cell.events_per_wait && *cell.events_per_wait >= 1) return *cell.events_per_wait;
  }
  return 1;
}

// From the model's kind to where the line's ratio (backend over epoll-lt) lies.
std::string side_of(Boundary::Kind kind, bool always_means_above) {
  if (kind == Boundary::Kind::at) return "crosses";
  const bool above = (kind == Boundary::Kind::always) == always_means_above;
  return above ? "above" : "below";
}

// The measured boundary in the model's unit: along active, the ready share at the crossing
// (interpolated between the two cells like the crossing itself); elsewhere the crossing's x.
std::optional<double> measured_value(const MapLine& line) {
  if (!line.crossing.at) return std::nullopt;
  if (line.dimension != "active") return line.crossing.at;
  for (std::size_t i = 0; i + 1 < line.cells.size(); ++i) {
    const auto& a = line.cells[i];
    const auto& b = line.cells[i + 1];
    if ((a.ratio < 1) == (b.ratio < 1) || !a.ready_share || !b.ready_share) continue;
    const double t = (1 - a.ratio) / (b.ratio - a.ratio);
    return *a.ready_share + t * (*b.ready_share - *a.ready_share);
  }
  return std::nullopt;
}

constexpr std::string_view kLeftOut =
    "the model has no sleep/wake or event-loop cost and takes every wait to sleep "
    "(docs/cost-model.md)";

std::string note(const MapLine& line) {
  const auto measured = measured_value(line);
  if (line.predicted_side.empty()) return "";
  if (line.crossing.side != line.predicted_side) {
    return fmt::format("measured {} but the model predicts {}: {}", line.crossing.side,
                       line.predicted_side, kLeftOut);
  }
  if (!measured || !line.predicted || *line.predicted <= 0 || *measured <= 0) return "";
  const double factor = std::max(*measured / *line.predicted, *line.predicted / *measured);
  if (factor <= 2) return "";
  return fmt::format("model and measurement differ by {:.1f}×: {}", factor, kLeftOut);
}

void predict(MapLine& line, const CostCoefficients& c, const SweepConfig& config,
             double send_buffer) {
  if (!scan_backend(line.backend)) return;
  CostWorkload w;
  w.idle = static_cast<double>(line.idle);
  w.active = static_cast<double>(config.active);
  w.events_per_wait = std::min(events_per_wait(line), w.active);
  w.sleep_share = kSleepShareIdle;
  std::optional<Boundary> b;
  bool always_means_above = true;
  if (line.dimension == "idle") {
    w.idle = 0;
    b = idle_break_even(c, line.backend, w, 0.10);
  } else if (line.dimension == "active") {
    double most = 0;
    for (const auto& cell : line.cells) most = std::max(most, cell.x.value_or(0));
    w.active = most;
    w.events_per_wait = 1;
    w.sleep_share = kSleepShareBusy;
    b = active_share_tie(c, line.backend, w);
    always_means_above = false;  // always: the scan is as cheap or cheaper at every share
  } else if (line.dimension == "lifetime") {
    b = churn_break_even(c, line.backend, w);
    always_means_above = false;  // always: the scan is cheaper at every lifetime
  } else if (line.dimension == "size") {
    w.send_buffer = send_buffer;
    b = size_threshold(c, w, 0.10, "epoll-lt", line.backend);
    always_means_above = false;
  }
  if (!b || std::isnan(b->value)) return;
  line.predicted_side = side_of(b->kind, always_means_above);
  if (b->kind == Boundary::Kind::at) line.predicted = b->value;
  line.model_note = note(line);
}

}  // namespace

double largest_send_buffer() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  double low = 0, initial = 0, high = 0;
  if (in >> low >> initial >> high && high > 0) return high;
  return kInf;
}

void add_predictions(MapSummary& map, const SweepConfig& config, const std::string& micro_json,
                     double send_buffer) {
  ModelRecord record;
  const auto c = coefficients_from_micro(micro_json, record.why_not);
  if (!c) {
    map.model = record;
    return;
  }
  record.coefficients_ns = {
      {"poll_scan_per_fd", c->poll.scan_per_fd.ns},
      {"poll_register_per_fd", c->poll.register_per_fd.ns},
      {"poll_ready_per_fd", c->poll.ready_per_fd.ns},
      {"poll_base", c->poll.base.ns},
      {"epoll_lt_per_event", c->epoll_lt.per_event.ns},
      {"epoll_lt_base", c->epoll_lt.base.ns},
      {"lt_repoll_per_event", c->lt_repoll_per_event.ns},
      {"message_64", c->message_64.ns},
      {"message_per_byte", c->message_per_byte.ns},
  };
  if (c->select) record.coefficients_ns["select_scan_per_fd"] = c->select->scan_per_fd.ns;
  if (c->epoll_ctl_mod) record.coefficients_ns["epoll_ctl_mod"] = c->epoll_ctl_mod->ns;
  for (const auto& [backend, cost] : c->connection)
    record.coefficients_ns["connection_" + backend] = cost.ns;
  // Not costs but what the predictions assumed, kept with them.
  record.coefficients_ns["assumed_send_buffer_bytes"] = std::isinf(send_buffer) ? -1 : send_buffer;
  record.coefficients_ns["assumed_sleep_share_idle_churn"] = kSleepShareIdle;
  record.coefficients_ns["assumed_sleep_share_activity"] = kSleepShareBusy;
  map.model = record;
  for (auto* lines : {&map.crossover, &map.activity, &map.churn, &map.size}) {
    for (auto& line : *lines) predict(line, *c, config, send_buffer);
  }
}

}  // namespace muxbench
