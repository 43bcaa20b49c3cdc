#include "bench/sweep/map_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "bench/sweep/cost_model.hpp"
#include "bench/sweep/map_summary.hpp"

namespace muxbench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The backends the model has terms for, besides epoll-lt.
bool modelled(const std::string& backend) {
  return backend == "poll" || backend == "select" || backend == "epoll-et" ||
         backend == "uring-poll";
}

// The model's workload for one cell of a line: the line's fixed counts, the cell's x, and the
// events per wait the server measured there (at least one, at most one per active connection).
CostWorkload cell_workload(const MapLine& line, const MapCell& cell, const SweepConfig& config,
                           double send_buffer, std::optional<double> events, double sleep_share) {
  CostWorkload w;
  w.idle = static_cast<double>(line.idle);
  w.active = static_cast<double>(config.active);
  w.size = static_cast<double>(config.size);
  if (line.dimension == "idle") w.idle = cell.x.value_or(0);
  if (line.dimension == "active") w.active = cell.x.value_or(w.active);
  if (line.dimension == "lifetime") w.lifetime = cell.x.value_or(kInf);
  if (line.dimension == "size") w.size = cell.x.value_or(w.size);
  w.send_buffer = send_buffer;
  w.events_per_wait = std::clamp(events.value_or(1), 1.0, w.active);
  w.sleep_share = sleep_share;
  return w;
}

// The model's ratio of the line's backend over epoll-lt at one cell; nullopt where it cannot
// say (select beyond FD_SETSIZE, a workload outside its domain).
std::optional<double> model_ratio(const CostCoefficients& c, const MapLine& line,
                                  const MapCell& cell, const SweepConfig& config,
                                  double send_buffer, double sleep_share) {
  try {
    const double mine = predicted_cpu_ns_per_message(
        c, line.backend,
        cell_workload(line, cell, config, send_buffer, cell.events_per_wait, sleep_share));
    const double theirs = predicted_cpu_ns_per_message(
        c, "epoll-lt",
        cell_workload(line, cell, config, send_buffer, cell.epoll_lt_events_per_wait, sleep_share));
    if (!std::isfinite(mine) || !std::isfinite(theirs) || theirs <= 0) return std::nullopt;
    return mine / theirs;
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

// The crossing of the model's ratios along the line (only its cells the model can say).
std::optional<Crossing> model_crossing(const MapLine& line, bool sleeping) {
  std::vector<std::optional<double>> xs;
  std::vector<double> ratios;
  for (const auto& cell : line.cells) {
    const auto& r = sleeping ? cell.model_ratio_sleeping : cell.model_ratio_busy;
    if (!r) continue;
    xs.push_back(cell.x);
    ratios.push_back(*r);
  }
  if (ratios.size() < 2) return std::nullopt;
  return find_crossing(xs, ratios, line.crossing.level);
}

constexpr std::string_view kLeftOut =
    "the model has no sleep/wake or user-space event-loop cost, and its per-descriptor "
    "coefficients come from wait-bench's socketpairs or a few TCP sizes (docs/cost-model.md)";

// How the measured crossing compares with the model's two: the same side, and a crossing within
// a factor of 2 of the band between them, agree.
std::string note(const MapLine& line) {
  const Crossing& m = line.crossing;
  const Crossing& s = *line.predicted_sleeping;
  const Crossing& b = *line.predicted_busy;
  if (m.side != s.side && m.side != b.side) {
    return fmt::format("measured {}, the model {} (sleeping) / {} (busy): {}", m.side, s.side,
                       b.side, kLeftOut);
  }
  if (!m.at) return "";
  std::vector<double> predicted;
  for (const auto* c : {&s, &b}) {
    if (c->at && *c->at > 0) predicted.push_back(*c->at);
  }
  if (predicted.empty() || *m.at <= 0) return "";
  const auto [low, high] = std::minmax_element(predicted.begin(), predicted.end());
  if (*m.at >= *low / 2 && *m.at <= *high * 2) return "";
  const std::string model =
      *low == *high ? fmt::format("{:.3g}", *low) : fmt::format("{:.3g}–{:.3g}", *low, *high);
  return fmt::format("measured {:.3g}, the model {}: more than 2× apart; {}", *m.at, model,
                     kLeftOut);
}

void predict(MapLine& line, const CostCoefficients& c, const SweepConfig& config,
             double send_buffer) {
  if (!modelled(line.backend)) return;
  for (auto& cell : line.cells) {
    cell.model_ratio_sleeping = model_ratio(c, line, cell, config, send_buffer, 1.0);
    cell.model_ratio_busy = model_ratio(c, line, cell, config, send_buffer, 0.0);
  }
  line.predicted_sleeping = model_crossing(line, true);
  line.predicted_busy = model_crossing(line, false);
  if (line.predicted_sleeping && line.predicted_busy) line.model_note = note(line);
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
  map.model = record;
  for (auto* lines : {&map.crossover, &map.activity, &map.churn, &map.size}) {
    for (auto& line : *lines) predict(line, *c, config, send_buffer);
  }
}

}  // namespace muxbench
