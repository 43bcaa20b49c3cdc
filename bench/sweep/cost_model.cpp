#include "bench/sweep/cost_model.hpp"

#include <fmt/format.h>
#include <sys/select.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/backend_table.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ns per call by size, several values per size when repeated.
using Series = std::map<double, std::vector<double>>;

struct MicroRows {
  std::map<std::string, Series> wait;  // "<backend>/<kind>/ready:<K|all>"
  // conn_cycle/<b>, echo_syscalls/..., epoll_ctl_<op>/<kind>; conn_cycle's parts under
  // "conn_cycle/<b>:ns_add" and so on
  std::map<std::string, std::vector<double>> single;
};

// "N" at the start of text (stops at '/'); nullopt when there is no number.
std::optional<double> leading_number(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  return std::stod(text);
}

MicroRows read_rows(const Json& micro) {
  MicroRows rows;
  for (const auto& bench : micro.value("benchmarks", Json::array())) {
    if (bench.value("run_type", "") != "iteration" || bench.value("error_occurred", false) ||
        !bench.contains("ns_per_call") || !bench["ns_per_call"].is_number()) {
      continue;
    }
    std::string name = bench.value("run_name", bench.value("name", ""));
    const double ns = bench["ns_per_call"].get<double>();
    if (const auto suffix = name.find("/manual_time"); suffix != std::string::npos)
      name.erase(suffix);
    if (const auto suffix = name.find("/iterations:"); suffix != std::string::npos)
      name.erase(suffix);
    if (const auto fds = name.find("/fds:"); fds != std::string::npos) {
      const auto n = leading_number(name.substr(fds + 5));
      if (!n) continue;
      std::string family = name.substr(0, fds);
      if (family.find("/ready:") != std::string::npos) {
        family = canonical_backend_name(family.substr(0, family.find('/'))) +
                 family.substr(family.find('/'));
        rows.wait[family][*n].push_back(ns);
      } else {
        rows.single[family].push_back(ns);  // epoll_ctl_<op>/<kind>: median over sizes
      }
    } else if (name.rfind("conn_cycle/", 0) == 0) {
      const std::string row = "conn_cycle/" + canonical_backend_name(name.substr(11));
      rows.single[row].push_back(ns);
      for (const char* part : {"ns_accept", "ns_add", "ns_remove", "ns_close"}) {
        if (bench.contains(part) && bench[part].is_number())
          rows.single[row + ":" + part].push_back(bench[part].get<double>());
      }
    } else {
      rows.single[name].push_back(ns);
    }
  }
  return rows;
}

struct Fit {
  LinearFit line;
  std::string source;
  double first_n = 0;   // the smallest size fitted
  double first_ns = 0;  // its ns per call
};

std::optional<Fit> fit_family(const MicroRows& rows, const std::string& family, double max_fds) {
  const auto found = rows.wait.find(family);
  if (found == rows.wait.end()) return std::nullopt;
  std::vector<double> x, y;
  for (const auto& [n, values] : found->second) {
    if (n > max_fds) continue;
    x.push_back(n);
    y.push_back(median(values));
  }
  const LinearFit line = fit_line(x, y);
  if (!line.valid) return std::nullopt;
  std::string sizes;
  for (const double n : x) sizes += fmt::format("{}{}", sizes.empty() ? "" : ",", n);
  return Fit{line, fmt::format("{}/fds:{{{}}}", family, sizes), x.front(), y.front()};
}

std::optional<double> family_median(const MicroRows& rows, const std::string& family,
                                    double max_fds) {
  const auto found = rows.wait.find(family);
  if (found == rows.wait.end()) return std::nullopt;
  std::vector<double> values;
  for (const auto& [n, at_n] : found->second) {
    if (n <= max_fds) values.push_back(median(at_n));
  }
  if (values.empty()) return std::nullopt;
  return median(values);
}

std::optional<Coefficient> single(const MicroRows& rows, const std::string& name) {
  const auto found = rows.single.find(name);
  if (found == rows.single.end() || found->second.empty()) return std::nullopt;
  return Coefficient{median(found->second), name + (found->second.size() > 1 ? " (median)" : "")};
}

std::optional<ScanCoefficients> scan_coefficients(const MicroRows& rows, const std::string& b,
                                                  const std::string& kind, double max_fds,
                                                  std::string& missing) {
  const std::string prefix = b + "/" + kind + "/ready:";
  const auto idle = fit_family(rows, prefix + "0", max_fds);
  const auto one = fit_family(rows, prefix + "1", max_fds);
  const auto all = fit_family(rows, prefix + "all", max_fds);
  if (!idle || !one || !all) {
    missing = fmt::format("{}{{0,1,all}}/fds:N at two sizes <= {} at least", prefix, max_fds);
    return std::nullopt;
  }
  ScanCoefficients s;
  // The line through the smallest size with the fitted slope rather than the intercept: least
  // squares follow the large sizes, and a slight upward bend there can push the intercept below
  // zero; the boundaries fall at small n.
  s.base = {one->first_ns - one->line.slope * one->first_n,
            fmt::format("{}1/fds:{} − {} × slope of {}", prefix, one->first_n, one->first_n,
                        one->source)};
  s.scan_per_fd = {idle->line.slope, "slope of " + idle->source};
  s.register_per_fd = {one->line.slope - idle->line.slope,
                       fmt::format("slope of {} − slope of ready:0", one->source)};
  s.ready_per_fd = {all->line.slope - idle->line.slope,
                    fmt::format("slope of {} − slope of ready:0", all->source)};
  return s;
}

std::optional<ReadyListCoefficients> ready_list_coefficients(const MicroRows& rows,
                                                             const std::string& b,
                                                             const std::string& kind,
                                                             double max_fds, std::string& missing) {
  const std::string prefix = b + "/" + kind + "/ready:";
  const auto all = fit_family(rows, prefix + "all", max_fds);
  const auto one = family_median(rows, prefix + "1", max_fds);
  if (!all || !one) {
    missing =
        fmt::format("{}{{1,all}}/fds:N (ready:all at two sizes <= {} at least)", prefix, max_fds);
    return std::nullopt;
  }
  ReadyListCoefficients r;
  r.per_event = {all->line.slope, "slope of " + all->source};
  r.base = {*one - all->line.slope,
            fmt::format("median of {}1/fds:N<={} − one event", prefix, max_fds)};
  return r;
}

// conn_cycle/<backend>. Accept and close are the same system calls for every readiness backend
// but the noisiest part (the FIN exchange on loopback, a few µs give or take one): their median
// over those backends' rows is taken as the common part, and each backend adds its own measured
// register + deregister (ns_add + ns_remove). io_uring moves part of the close into the next
// io_uring_enter and the deferred release of the file, wherever that lands: its total is used.
void read_connection_costs(const MicroRows& rows, CostCoefficients& c) {
  std::vector<double> common;
  std::vector<std::string> parted;
  for (const std::string backend : {"select", "poll", "epoll-lt", "epoll-et"}) {
    const auto accept = single(rows, "conn_cycle/" + backend + ":ns_accept");
    const auto close = single(rows, "conn_cycle/" + backend + ":ns_close");
    if (accept && close) {
      common.push_back(accept->ns + close->ns);
      parted.push_back(backend);
    }
  }
  for (const std::string backend : {"select", "poll", "epoll-lt", "epoll-et", "uring-poll"}) {
    const std::string row = "conn_cycle/" + backend;
    const auto total = single(rows, row);
    if (!total) continue;
    const auto add = single(rows, row + ":ns_add");
    const auto remove = single(rows, row + ":ns_remove");
    if (backend == "uring-poll" || common.empty() || !add || !remove) {
      c.connection[backend] = *total;
      continue;
    }
    std::string over;
    for (const auto& b : parted) over += (over.empty() ? "" : ",") + b;
    c.connection[backend] = {median(common) + add->ns + remove->ns,
                             fmt::format("median over conn_cycle/{{{}}} of ns_accept + ns_close, "
                                         "+ ns_add + ns_remove of {}",
                                         over, row)};
  }
}

// ----- the model -----

enum class Family { scan, ready_list };

struct BackendTerms {
  Family family;
  const ScanCoefficients* scan = nullptr;
  const ReadyListCoefficients* list = nullptr;
  bool repoll = false;  // level-triggered ready list: last round's items polled again
  bool drains = false;  // edge-triggered: one EAGAIN recv per message
  double change_ns = kNaN;
  double connection_ns = kNaN;
  bool select = false;
};

double connection_of(const CostCoefficients& c, std::string_view backend) {
  const auto found = c.connection.find(backend);
  return found == c.connection.end() ? kNaN : found->second.ns;
}

BackendTerms terms_of(const CostCoefficients& c, std::string_view backend) {
  BackendTerms t{};
  t.connection_ns = connection_of(c, backend);
  const double mod = c.epoll_ctl_mod ? c.epoll_ctl_mod->ns : kNaN;
  if (backend == "select" || backend == "poll") {
    t.family = Family::scan;
    t.select = backend == "select";
    t.scan = t.select ? (c.select ? &*c.select : nullptr) : &c.poll;
    t.change_ns = c.pollfd_edit.ns;
  } else if (backend == "epoll-lt") {
    t = {Family::ready_list, nullptr, &c.epoll_lt, true, false, mod, t.connection_ns, false};
  } else if (backend == "epoll-et") {
    t = {Family::ready_list, nullptr, c.epoll_et ? &*c.epoll_et : nullptr, false, true, mod,
         t.connection_ns,    false};
  } else if (backend == "uring-poll") {
    t = {Family::ready_list,
         nullptr,
         c.uring_poll ? &*c.uring_poll : nullptr,
         false,
         true,
         t.connection_ns - connection_of(c, "poll"),
         t.connection_ns,
         false};
  } else {
    throw std::invalid_argument(fmt::format("the cost model does not know backend '{}'", backend));
  }
  return t;
}

void check(const CostWorkload& w) {
  if (!(w.active >= 1) || !(w.idle >= 0) || !(w.events_per_wait > 0) ||
      w.events_per_wait > w.active + 1e-9 || !(w.lifetime >= 1) || !(w.size > 0) ||
      !(w.send_buffer > 0) || !(w.sleep_share >= 0 && w.sleep_share <= 1)) {
    throw std::invalid_argument(fmt::format(
        "workload outside the model: idle {} active {} events per wait {} lifetime {} "
        "size {} send buffer {} sleep share {}",
        w.idle, w.active, w.events_per_wait, w.lifetime, w.size, w.send_buffer, w.sleep_share));
  }
}

double wait_ns(const BackendTerms& t, const CostCoefficients& c, const CostWorkload& w) {
  const double n = w.idle + w.active;
  const double e = w.events_per_wait;
  if (t.family == Family::scan) {
    if (!t.scan || (t.select && n > select_max_registered())) return kNaN;
    const ScanCoefficients& s = *t.scan;
    const double sleeping = n * (2 * s.scan_per_fd.ns + s.register_per_fd.ns);
    const double awake = n * s.scan_per_fd.ns + (n - e) / (e + 1) * s.register_per_fd.ns;
    return s.base.ns + w.sleep_share * sleeping + (1 - w.sleep_share) * awake +
           e * s.ready_per_fd.ns;
  }
  if (!t.list) return kNaN;
  return t.list->base.ns + e * t.list->per_event.ns +
         (t.repoll ? e * c.lt_repoll_per_event.ns : 0.0);
}

double message_ns(const CostCoefficients& c, double size) {
  return c.message_64.ns + (size - 64) * c.message_per_byte.ns;
}

double changes_per_message(const CostWorkload& w) {
  return 2 * std::max(0.0, w.size / w.send_buffer - 1);
}

std::string number(double value) { return fmt::format("{:.4g}", value); }

// The first x in [lo, hi] where f changes sign from f(lo), by a scan of `steps` points (log-spaced
// when lo > 0) and bisection; nullopt when f keeps its sign.
template <class F>
std::optional<double> first_crossing(F&& f, double lo, double hi, int steps = 400) {
  const double f_lo = f(lo);
  const bool log_spaced = lo > 0 && hi / lo > 100;
  double previous = lo;
  for (int i = 1; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const double x = log_spaced ? lo * std::pow(hi / lo, t) : lo + (hi - lo) * t;
    if ((f(x) > 0) != (f_lo > 0)) {
      double a = previous, b = x;
      for (int k = 0; k < 200 && b - a > 1e-12 * std::max(1.0, b); ++k) {
        const double mid = (a + b) / 2;
        ((f(mid) > 0) == (f_lo > 0) ? a : b) = mid;
      }
      return b;
    }
    previous = x;
  }
  return std::nullopt;
}

Boundary make(Boundary::Kind kind, double value, std::string explanation) {
  return {kind, value, std::move(explanation)};
}

}  // namespace

double select_max_registered() {
  return static_cast<double>(FD_SETSIZE) - static_cast<double>(kServerOwnDescriptors);
}

std::string_view to_string(Boundary::Kind kind) {
  switch (kind) {
    case Boundary::Kind::at:
      return "at";
    case Boundary::Kind::never:
      return "never";
    case Boundary::Kind::always:
      return "always";
  }
  return "?";
}

std::optional<CostCoefficients> coefficients_from_micro(const std::string& micro_json_text,
                                                        std::string& why_not, const MicroFit& fit) {
  const Json micro = Json::parse(without_non_numbers(micro_json_text), nullptr, false);
  if (!micro.is_object()) {
    why_not = "not Google Benchmark JSON";
    return std::nullopt;
  }
  const MicroRows rows = read_rows(micro);
  CostCoefficients c;
  c.fit_max_fds = fit.max_fds;
  c.fd_kind = fit.fd_kind;
  if (c.fd_kind.empty()) c.fd_kind = rows.wait.count("poll/tcp/ready:0") ? "tcp" : "socketpair";
  std::vector<std::string> missing;
  std::string why;
  if (auto poll = scan_coefficients(rows, "poll", c.fd_kind, fit.max_fds, why)) {
    c.poll = *poll;
  } else {
    missing.push_back(why);
  }
  if (auto lt = ready_list_coefficients(rows, "epoll-lt", c.fd_kind, fit.max_fds, why)) {
    c.epoll_lt = *lt;
  } else {
    missing.push_back(why);
  }
  c.select = scan_coefficients(rows, "select", c.fd_kind, fit.max_fds, why);
  c.epoll_et = ready_list_coefficients(rows, "epoll-et", c.fd_kind, fit.max_fds, why);
  c.uring_poll = ready_list_coefficients(rows, "uring-poll", c.fd_kind, fit.max_fds, why);
  c.lt_repoll_per_event = {c.poll.scan_per_fd.ns,
                           "stand-in: poll's scan per fd (" + c.poll.scan_per_fd.source + ")"};

  const auto m64 = single(rows, "echo_syscalls/tcp/size:64");
  const auto m16k = single(rows, "echo_syscalls/tcp/size:16384");
  if (m64 && m16k) {
    c.message_64 = *m64;
    c.message_per_byte = {(m16k->ns - m64->ns) / (16384 - 64),
                          fmt::format("({} − {}) / 16320", m16k->source, m64->source)};
  } else {
    missing.push_back("echo_syscalls/tcp/size:64 and echo_syscalls/tcp/size:16384");
  }
  c.recv_eagain = single(rows, "echo_syscalls/tcp/recv_eagain");
  c.epoll_ctl_mod = single(rows, "epoll_ctl_mod/" + c.fd_kind);

  read_connection_costs(rows, c);
  if (!c.connection.count("poll") || !c.connection.count("epoll-lt")) {
    const auto add = single(rows, "epoll_ctl_add/" + c.fd_kind);
    const auto del = single(rows, "epoll_ctl_del/" + c.fd_kind);
    if (add && del) {
      // Without conn_cycle: only what the backends differ in (accept and close left out).
      c.connection.clear();
      c.connection["select"] = c.connection["poll"] = c.pollfd_edit;
      c.connection["epoll-lt"] = c.connection["epoll-et"] = {
          add->ns + del->ns, add->source + " + " + del->source + " (no conn_cycle rows)"};
    } else {
      missing.push_back("conn_cycle/poll and conn_cycle/epoll-lt (or epoll_ctl_add and _del/" +
                        c.fd_kind + ")");
    }
  }
  if (!missing.empty()) {
    why_not = "missing rows: ";
    for (std::size_t i = 0; i < missing.size(); ++i) why_not += (i ? "; " : "") + missing[i];
    return std::nullopt;
  }
  return c;
}

double predicted_cpu_ns_per_message(const CostCoefficients& c, std::string_view backend,
                                    const CostWorkload& w) {
  check(w);
  const BackendTerms t = terms_of(c, backend);
  const double e = w.events_per_wait;
  double eagain = 0;
  if (t.drains) {
    if (!c.recv_eagain) return kNaN;
    eagain = c.recv_eagain->ns;
  }
  const double changes = changes_per_message(w);
  return wait_ns(t, c, w) / e + c.sleep_wake.ns * w.sleep_share / e + message_ns(c, w.size) +
         eagain + (std::isinf(w.lifetime) ? 0.0 : t.connection_ns / w.lifetime) +
         (changes > 0 ? changes * t.change_ns : 0.0);
}

Boundary idle_break_even(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                         double advantage, std::string_view ready_list) {
  CostWorkload at = w;
  at.idle = 0;
  const double scan0 = predicted_cpu_ns_per_message(c, scan, at);
  const double list = predicted_cpu_ns_per_message(c, ready_list, at);
  at.idle = 1;
  const double slope = predicted_cpu_ns_per_message(c, scan, at) - scan0;  // linear in idle
  const std::string what =
      fmt::format("{} ≥ {:.0f}% cheaper than {}", ready_list, advantage * 100, scan);
  if (std::isnan(scan0) || std::isnan(list) || std::isnan(slope)) {
    return make(Boundary::Kind::never, kNaN,
                fmt::format("{}: not predictable (coefficients missing, or {} cannot register "
                            "{} connections)",
                            what, scan, w.active));
  }
  const double target = list / (1 - advantage);  // scan must cost at least this
  if (scan0 >= target) {
    return make(Boundary::Kind::always, 0,
                fmt::format("{} already at 0 idle ({} ns vs {} ns per message)", what, number(list),
                            number(scan0)));
  }
  if (slope <= 0) {
    return make(Boundary::Kind::never, kInf,
                fmt::format("{}: never ({} does not grow with idle connections here)", what, scan));
  }
  const double idle = (target - scan0) / slope;
  if (scan == "select" && idle + w.active > select_max_registered()) {
    return make(Boundary::Kind::never, kInf,
                fmt::format("{}: would need {} idle, beyond select's FD_SETSIZE limit", what,
                            number(idle)));
  }
  return make(Boundary::Kind::at, idle,
              fmt::format("{} from {} idle connections ({} grows {} ns per message per idle "
                          "connection; {} stays at {} ns)",
                          what, number(idle), scan, number(slope), ready_list, number(list)));
}

Boundary active_share_tie(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                          std::string_view ready_list) {
  const double n = w.idle + w.active;
  const auto difference = [&](double share) {  // scan − ready list per message
    CostWorkload at = w;
    at.events_per_wait = std::clamp(share * n, 1.0, w.active);
    return predicted_cpu_ns_per_message(c, scan, at) -
           predicted_cpu_ns_per_message(c, ready_list, at);
  };
  const double lo = 1 / n, hi = w.active / n;
  const double d_lo = difference(lo), d_hi = difference(hi);
  const std::string what = fmt::format("{} vs {} at {} registered", scan, ready_list, number(n));
  if (std::isnan(d_lo) || std::isnan(d_hi)) {
    return make(Boundary::Kind::never, kNaN, what + ": not predictable (coefficients missing)");
  }
  if (d_lo <= 0) {
    return make(
        Boundary::Kind::always, lo,
        fmt::format("{}: {} is as cheap or cheaper already at one event per wait", what, scan));
  }
  const auto share = first_crossing(difference, lo, hi);
  if (!share) {
    return make(Boundary::Kind::never, kInf,
                fmt::format("{}: {} stays cheaper up to {} events per wait ({} ns per message "
                            "apart)",
                            what, ready_list, number(w.active), number(d_hi)));
  }
  return make(Boundary::Kind::at, *share,
              fmt::format("{}: they tie at a ready share of {} ({} events per wait); {} is "
                          "cheaper above it",
                          what, number(*share), number(*share * n), scan));
}

Boundary churn_break_even(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                          std::string_view ready_list) {
  CostWorkload persistent = w, one = w;
  persistent.lifetime = kInf;
  one.lifetime = 1;
  const double p_scan = predicted_cpu_ns_per_message(c, scan, persistent);
  const double p_list = predicted_cpu_ns_per_message(c, ready_list, persistent);
  const double conn_scan = predicted_cpu_ns_per_message(c, scan, one) - p_scan;
  const double conn_list = predicted_cpu_ns_per_message(c, ready_list, one) - p_list;
  const std::string what = fmt::format("{} cheaper than {}", scan, ready_list);
  if (std::isnan(p_scan) || std::isnan(p_list) || std::isnan(conn_scan) || std::isnan(conn_list)) {
    return make(Boundary::Kind::never, kNaN, what + ": not predictable (coefficients missing)");
  }
  // scan − ready list per message = dp − dc / lifetime
  const double dp = p_scan - p_list, dc = conn_list - conn_scan;
  const std::string terms =
      fmt::format("(per message {} ns vs {} ns; per connection {} ns vs {} ns)", number(p_scan),
                  number(p_list), number(conn_scan), number(conn_list));
  if (dp - dc >= 0) {  // not cheaper at one exchange, and (dc > 0) less so at longer lifetimes
    return make(Boundary::Kind::never, kInf,
                fmt::format("{}: at no lifetime down to one exchange {}", what, terms));
  }
  if (dp <= 0) {
    return make(Boundary::Kind::always, kInf, fmt::format("{}: at every lifetime {}", what, terms));
  }
  const double lifetime = dc / dp;
  return make(Boundary::Kind::at, lifetime,
              fmt::format("{} for connections of fewer than {} exchanges {}", what,
                          number(lifetime), terms));
}

Boundary size_threshold(const CostCoefficients& c, const CostWorkload& w, double advantage,
                        std::string_view backend, std::string_view versus) {
  const BackendTerms mine = terms_of(c, backend), theirs = terms_of(c, versus);
  const double alpha = 2 * (mine.change_ns - theirs.change_ns);  // extra ns per B beyond the first
  const double b = w.send_buffer;
  const std::string what =
      fmt::format("{}'s write-interest changes (beyond {}'s) ≥ {:.0f}% of its CPU per message",
                  backend, versus, advantage * 100);
  CostWorkload at = w;
  at.size = b;  // the last size without a change
  const double p_b = predicted_cpu_ns_per_message(c, backend, at);
  if (std::isnan(alpha) || std::isnan(p_b) || std::isinf(b)) {
    return make(Boundary::Kind::never, kInf,
                what + (std::isinf(b) ? ": never (no send-buffer limit given)"
                                      : ": not predictable (coefficients missing)"));
  }
  // Above B, with x = S/B − 1 changes-pairs: cost = p_b + (beta·B + gamma)·x, extra = alpha·x.
  const double beta = c.message_per_byte.ns;
  const double gamma = 2 * mine.change_ns;
  const double limit = alpha - advantage * (beta * b + gamma);  // the ratio's limit, scaled
  if (alpha <= 0 || limit <= 0) {
    return make(Boundary::Kind::never, kInf,
                fmt::format("{}: never (at most {:.1f}% at any size for a {} B send buffer)", what,
                            alpha > 0 ? 100 * alpha / (beta * b + gamma) : 0.0, number(b)));
  }
  const double x = advantage * p_b / limit;
  const double size = b * (1 + x);
  return make(Boundary::Kind::at, size,
              fmt::format("{} above {} B ({:.2f} send buffers of {} B; {} ns per change vs {} ns)",
                          what, number(size), size / b, number(b), number(mine.change_ns),
                          number(theirs.change_ns)));
}

}  // namespace muxbench
