#pragma once

// The cost model (docs/cost-model.md): server CPU per echoed message predicted from wait-bench's
// micro-benchmarks alone, and the four boundaries the sweep measures (idle connections, activity,
// connection churn, message size) solved from it. Pure functions; the only reader is
// coefficients_from_micro, which parses the text of wait-bench's Google Benchmark JSON.
//
// Per wait call, with n registered descriptors of which E are ready (all costs in ns):
//
//   select, poll   W = base + s·n·(2·scan + register) + (1 − s)·(n·scan + (n − E)/(E + 1)·register)
//                      + E·ready
//     fs/select.c (do_select, do_poll): the first pass calls every descriptor's f_op->poll with a
//     poll table that adds a wait-queue entry (__pollwait), until one is found ready; from then on
//     _qproc is NULL and nothing more is registered. If nothing was ready the task sleeps, and
//     after the wake-up a second pass polls every descriptor again without registering (_qproc is
//     set to NULL after the first pass). poll_freewait then removes all the entries once, after
//     the loop. A sleeping call (share s) therefore costs two scans and one register + remove per
//     descriptor; a call that finds one of E randomly placed ready descriptors at once costs one
//     scan, and registers only the (n − E)/(E + 1) descriptors expected before the first ready one.
//       scan      slope over n of <b>/<kind>/ready:0 (zero timeout: _qproc NULL from the start,
//                 one pass: fdget + f_op->poll + the revents store; for poll also the pollfd copy
//                 in and revents copy out, which the sleeping call pays once, not twice: the sum
//                 counts it twice, a small overestimate)
//       register  slope of ready:1 minus slope of ready:0 (ready:1 has the one ready descriptor
//                 last: n − 1 entries added and removed by poll_freewait)
//       ready     slope of ready:all minus slope of ready:0: what a ready descriptor adds to its
//                 scan (ready:all: the first descriptor is ready, so nothing is registered)
//       base      the ready:1 line's value at n = 0 drawn through the smallest size fitted with
//                 the fitted slope (system call, set-up, copy of the result)
//     select walks descriptor values, not a list: n is the highest value + 1 in the kernel; the
//     model takes the registered count (the server's descriptors are dense) and refuses (NaN)
//     beyond FD_SETSIZE minus the server's own descriptors.
//
//   epoll-lt       W = base + E·event + E·repoll
//     fs/eventpoll.c (ep_send_events): every item on the ready list is taken off, polled again
//     (ep_item_poll), copied out (__put_user of events and data) and, level-triggered, put back on
//     the ready list (list_add_tail). The next call therefore polls the last call's E items again;
//     the echo server has drained them, so they report nothing and drop off (the `continue`).
//       event     slope over n of epoll-lt/<kind>/ready:all (every item reported and re-queued)
//       repoll    not measured by a row of its own: the poll ready:0 slope (one f_op->poll and a
//                 store per descriptor) stands in for it
//       base      median over n of epoll-lt/<kind>/ready:1 minus one event
//   epoll-et       W = base + E·event (ready:all of epoll-et: the re-arm is untimed) and, per
//                  message, one recv that fails with EAGAIN (the server drains until EAGAIN)
//   uring-poll     W = base + E·completion (uring-poll ready:all/ready:1) and one EAGAIN recv per
//                  message (multishot poll is edge-triggered; the server drains)
//
// Per message, closed loop, one message per event:
//   cpu/msg = W/E + sleep_wake·s/E + m(S) + eagain + connection/lifetime + changes(S)·change
//     m(S)        echo_syscalls/tcp/size:64, and per byte the line through size:64 and size:16384
//                 (recv + send of the message; beyond 16 KiB extrapolated)
//     eagain      echo_syscalls/tcp/recv_eagain (epoll-et, uring-poll only)
//     connection  conn_cycle/<backend>: accept + register + deregister + close in echo-server's
//                 own poller. Accept and close are the same calls for every readiness backend and
//                 the noisiest part, so their median over the rows (select, poll, epoll-lt,
//                 epoll-et) is the common part, plus the backend's own ns_add + ns_remove;
//                 uring-poll's total as measured (its close work lands in later enters).
//                 Without those rows epoll_ctl_add + epoll_ctl_del for epoll and 0 for
//                 select/poll (then accept and close, the same for all, are left out)
//     changes(S)  2·max(0, S/B − 1) write-interest changes per message for a send buffer of B
//                 bytes: the first B bytes go out at once, every further B needs write interest
//                 armed and disarmed again
//     change      epoll_ctl_mod for epoll; a pollfd/fd_set edit for poll/select, assumed free (0,
//                 not measured); for uring-poll a cancel + re-arm, approximated by
//                 conn_cycle/uring-poll − conn_cycle/poll
//     sleep_wake  the scheduler cost of sleeping and being woken: not measured by wait-bench (no
//                 row sleeps) and the same for every backend, so 0 unless set by hand
//
// Left out: the listener's events and EOF events of churn, the extra wake-ups of partial sends
// (the same for every backend), cache and TLB effects that make the per-descriptor cost grow
// faster than linearly at large n (the fits use n <= MicroFit::max_fds), and the loopback
// receiver's softirq work that a send runs on the sender's CPU (inside m(S) as measured).

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace muxbench {

// One coefficient: a value in ns and the wait-bench rows (and the fit) it was read from.
struct Coefficient {
  double ns = 0;
  std::string source;
};

// select and poll: the whole set in every call.
struct ScanCoefficients {
  Coefficient base;             // ready:1 at the smallest size − that size × ready:1's slope
  Coefficient scan_per_fd;      // slope of ready:0
  Coefficient register_per_fd;  // slope of ready:1 − slope of ready:0
  Coefficient ready_per_fd;     // slope of ready:all − slope of ready:0
};

// epoll-lt, epoll-et, uring-poll: a ready list.
struct ReadyListCoefficients {
  Coefficient base;       // median of ready:1 − per_event
  Coefficient per_event;  // slope of ready:all
};

struct CostCoefficients {
  std::string fd_kind;     // the wait rows read: "tcp" or "socketpair"
  double fit_max_fds = 0;  // the fits used the rows with fds <= this
  std::optional<ScanCoefficients> select;
  ScanCoefficients poll;
  ReadyListCoefficients epoll_lt;
  std::optional<ReadyListCoefficients> epoll_et, uring_poll;
  Coefficient lt_repoll_per_event;           // stand-in: poll's scan per fd
  std::optional<Coefficient> epoll_ctl_mod;  // median over fds of epoll_ctl_mod/<kind>
  std::map<std::string, Coefficient, std::less<>> connection;  // by backend name
  Coefficient message_64;                                      // echo_syscalls/tcp/size:64
  Coefficient message_per_byte;                                // (size:16384 − size:64) / 16320
  std::optional<Coefficient> recv_eagain;                      // echo_syscalls/tcp/recv_eagain
  Coefficient pollfd_edit{0, "assumed free: a store into the user-space array (not measured)"};
  Coefficient sleep_wake{0, "not measured (no wait-bench row sleeps); the same for every backend"};
};

struct MicroFit {
  std::string fd_kind;  // empty: tcp when its poll ready:0 rows are there, else socketpair
  // Fit the rows up to here. Above, the per-descriptor cost grows faster than linearly (on the
  // reference VM from about 1000 descriptors: cache and TLB misses), and least squares would let
  // those few large sizes set the slope for all.
  double max_fds = 512;
};

// The coefficients from the text of wait-bench's JSON (iterations only; the median per size when
// repeated). nullopt, with why_not saying which rows are missing, when poll's ready:0/1/all,
// epoll-lt's ready:1/all (at two sizes each), echo_syscalls/tcp/size:64 and size:16384, or the
// per-connection rows (conn_cycle/poll and conn_cycle/epoll-lt, or epoll_ctl_add and _del) are
// not there; select, epoll-et and uring-poll are read when their rows are.
std::optional<CostCoefficients> coefficients_from_micro(const std::string& micro_json_text,
                                                        std::string& why_not,
                                                        const MicroFit& fit = {});

struct CostWorkload {
  double idle = 0;             // registered connections that never send
  double active = 1;           // connections in the closed loop, one message in flight each
  double events_per_wait = 1;  // E: ready descriptors per wait call (messages per wait)
  double lifetime = std::numeric_limits<double>::infinity();     // exchanges per connection
  double size = 64;                                              // message bytes
  double send_buffer = std::numeric_limits<double>::infinity();  // B, bytes
  double sleep_share = 1;  // share of wait calls that sleep (find nothing ready at once)
};

// The largest registered count the model lets select have (FD_SETSIZE minus the server's own
// descriptors, as the sweep's select_supports).
double select_max_registered();

// Server CPU ns per message; NaN when the backend cannot serve the workload (select beyond
// FD_SETSIZE) or its coefficients were not measured. Throws std::invalid_argument for a backend
// the model does not know (select, poll, epoll-lt, epoll-et, uring-poll) or a workload outside
// its domain (events_per_wait <= 0 or > active, lifetime < 1, size or send_buffer <= 0).
double predicted_cpu_ns_per_message(const CostCoefficients& c, std::string_view backend,
                                    const CostWorkload& w);

struct Boundary {
  enum class Kind { at, never, always };
  Kind kind = Kind::never;
  double value = 0;  // the boundary, for Kind::at
  std::string explanation;
};
std::string_view to_string(Boundary::Kind kind);

// 1. Idle connections: the smallest idle count (beside w.active, with w.events_per_wait) from
// which `ready_list` (epoll-lt) costs at most (1 − advantage) of `scan` (poll or select) per
// message. always: already at 0 idle; never: no idle count (for select: not below FD_SETSIZE).
Boundary idle_break_even(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                         double advantage = 0.10, std::string_view ready_list = "epoll-lt");

// 2. Activity: with w.idle idle and w.active active connections, the share of the registered
// descriptors ready per wait (E = share × (idle + active), between one event and all active)
// at which `scan` and `ready_list` cost the same per message. at: the scan backend is cheaper
// above it; always: the scan backend is as cheap or cheaper at every share; never: at none.
Boundary active_share_tie(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                          std::string_view ready_list = "epoll-lt");

// 3. Churn: the lifetime (exchanges per connection) below which `scan` is cheaper than
// `ready_list` for the workload w (its lifetime ignored). always: cheaper at every lifetime;
// never: at no lifetime down to one exchange.
Boundary churn_break_even(const CostCoefficients& c, std::string_view scan, const CostWorkload& w,
                          std::string_view ready_list = "epoll-lt");

// 4. Message size: the size above which `backend`'s write-interest changes, minus what `versus`
// pays for the same changes, reach `advantage` of `backend`'s CPU per message, for the send
// buffer w.send_buffer (w.size ignored). never: they stay below it at every size.
Boundary size_threshold(const CostCoefficients& c, const CostWorkload& w, double advantage = 0.10,
                        std::string_view backend = "epoll-lt", std::string_view versus = "poll");

}  // namespace muxbench
