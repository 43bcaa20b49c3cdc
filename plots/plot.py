#!/usr/bin/python3
"""Draws a sweep's charts next to its data: plot.py RESULTS_DIR

Reads sweep.json (and micro.json when present) and writes PNG and SVG files:
  throughput        closed loop: echoed messages per second vs descriptors watched
  cpu_per_message   closed loop: server CPU microseconds per message vs descriptors
  events_per_wait   closed loop: ready descriptors returned per wait call vs descriptors
  latency-<series>  open loop: p50 and p99 latency vs descriptors, one chart per open series
  wait_cost         wait-bench: one wait call vs registered descriptors (log-log)
Needs Debian's python3-matplotlib; run with /usr/bin/python3."""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BACKENDS = ["select", "poll", "epoll-lt", "epoll-et", "asio", "uring-poll", "uring"]
COLOURS = {"select": "#d62728", "poll": "#ff7f0e", "epoll-lt": "#1f77b4", "epoll-et": "#17becf",
           "asio": "#2ca02c", "uring-poll": "#9467bd", "uring": "#8c564b"}
MARKERS = {"select": "s", "poll": "D", "epoll-lt": "o", "epoll-et": "^", "asio": "v",
           "uring-poll": "P", "uring": "X"}
MICRO_NAMES = {"select": "select", "poll": "poll", "epoll_lt": "epoll-lt", "epoll_et": "epoll-et",
               "epoll_et_rearm": "epoll-et + re-arm", "uring_poll": "io_uring poll"}
FD_SETSIZE = 1024


def caption(sweep):
    env = sweep["environment"]
    return (f"muxbench {sweep['run_id']} ({sweep['config']['mode']}) · {env['cpu_model']}, "
            f"{env['online_cpus']} CPUs · {env['kernel']} · fd limit {env['fd_limit']['soft']} · "
            f"{sweep['started_utc'][:10]}")


def series_rows(sweep, series, metric):
    """{backend: [(total_fds, median, low, high, generator_bound)]} for one series and metric."""
    rows = {}
    for a in sweep["aggregates"]:
        if a["series"] != series or metric not in a["metrics"]:
            continue
        m = a["metrics"][metric]
        rows.setdefault(a["backend"], []).append(
            (a["total_fds"], m["median"], m["min"], m["max"], a["generator_bound"]))
    return {b: sorted(v) for b, v in rows.items()}


def finish(fig, ax, sweep, out_dir, name, note=None):
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    fig.text(0.01, 0.01, caption(sweep) + (f"\n{note}" if note else ""), fontsize=7, color="#555555",
             va="bottom")
    fig.tight_layout(rect=(0, 0.06 if note else 0.04, 1, 1))
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130)
    plt.close(fig)


def draw_lines(ax, rows, scale=1.0):
    any_bound = False
    for backend in BACKENDS:
        if backend not in rows:
            continue
        xs = [r[0] for r in rows[backend]]
        ys = [r[1] * scale for r in rows[backend]]
        low = [max(0.0, (r[1] - r[2]) * scale) for r in rows[backend]]
        high = [max(0.0, (r[3] - r[1]) * scale) for r in rows[backend]]
        ax.errorbar(xs, ys, yerr=[low, high], color=COLOURS[backend], marker=MARKERS[backend],
                    markersize=5, linewidth=1.6, capsize=2, label=backend)
        bound = [(r[0], r[1] * scale) for r in rows[backend] if r[4]]
        if bound:
            any_bound = True
            ax.scatter([b[0] for b in bound], [b[1] for b in bound], s=90, facecolors="none",
                       edgecolors="#444444", linewidths=1.0, zorder=5)
    if any_bound:
        ax.scatter([], [], s=90, facecolors="none", edgecolors="#444444", label="generator-bound")


def mark_fd_setsize(ax):
    ax.axvline(FD_SETSIZE, color="#999999", linestyle=":", linewidth=1)
    ax.text(FD_SETSIZE * 1.05, 0.97, "FD_SETSIZE\n(select's limit)", transform=ax.get_xaxis_transform(),
            fontsize=7, color="#666666", va="top")


def closed_series(sweep):
    for s in sweep["config"]["series"]:
        if s["load"] == "closed":
            return s
    return None


def describe(series, config):
    if series["load"] == "open":
        load = f"open loop at {config['rate']:g} msg/s"
    else:
        load = f"closed loop, {config['depth']} in flight per connection"
    gen = "busy-polling generator" if series["busy_poll"] else "sleeping generator"
    return f"{config['active']} active connections, {load}, {series['placement']} placement, {gen}"


def chart_closed(sweep, out_dir, name, metric, ylabel, title, log_y, scale=1.0, note=None):
    series = closed_series(sweep)
    if not series:
        return
    rows = series_rows(sweep, series["name"], metric)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    draw_lines(ax, rows, scale)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("descriptors watched by the server (idle + active connections, log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{describe(series, sweep['config'])}", fontsize=10)
    mark_fd_setsize(ax)
    ax.legend(fontsize=8)
    finish(fig, ax, sweep, out_dir, name, note)


def chart_latency(sweep, out_dir):
    for series in sweep["config"]["series"]:
        if series["load"] != "open":
            continue
        p50 = series_rows(sweep, series["name"], "latency_p50_ns")
        p99 = series_rows(sweep, series["name"], "latency_p99_ns")
        if not p50:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
        for ax, rows, label in ((axes[0], p50, "p50"), (axes[1], p99, "p99")):
            draw_lines(ax, rows, scale=1e-3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("descriptors watched (log scale)")
            ax.set_title(f"{label} latency", fontsize=10)
            mark_fd_setsize(ax)
            ax.grid(True, which="major", alpha=0.35)
        axes[0].set_ylabel("round-trip latency (µs, log scale)")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"Latency at equal load: {describe(series, sweep['config'])}", fontsize=10)
        finish(fig, axes[1], sweep, out_dir, f"latency-{series['name']}",
               "Latency counts from each message's intended send time (coordinated omission corrected).")


def chart_micro(sweep, out_dir):
    path = os.path.join(out_dir, "micro.json")
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            micro = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: skipping wait_cost: cannot read {path}: {e}", file=sys.stderr)
        return
    pattern = re.compile(r"^(?P<b>[a-z_]+)/(?P<kind>socketpair|tcp)/ready:1/fds:(?P<n>\d+)")
    lines = {}
    for bench in micro.get("benchmarks", []):
        match = pattern.match(bench.get("run_name", bench["name"]))
        if not match or bench.get("run_type") != "iteration" or bench.get("error_occurred"):
            continue
        lines.setdefault((match["b"], match["kind"]), {}).setdefault(int(match["n"]), []).append(
            bench["ns_per_call"])
    if not lines:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for (backend, kind), values in sorted(lines.items()):
        label = MICRO_NAMES.get(backend, backend)
        colour_key = {"epoll_lt": "epoll-lt", "epoll_et": "epoll-et", "epoll_et_rearm": "epoll-et",
                      "uring_poll": "uring-poll"}.get(backend, backend)
        xs = sorted(values)
        ys = [sorted(values[x])[len(values[x]) // 2] for x in xs]
        ax.plot(xs, ys, color=COLOURS.get(colour_key, "#333333"), marker=MARKERS.get(colour_key, "o"),
                markersize=4, linewidth=1.5, linestyle="-" if kind == "socketpair" else "--",
                alpha=0.6 if backend == "epoll_et_rearm" else 1.0, label=f"{label} ({kind})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered descriptors (log scale)")
    ax.set_ylabel("time per wait call (ns, log scale)")
    ax.set_title("One wait call with one ready descriptor (wait-bench)", fontsize=10)
    mark_fd_setsize(ax)
    ax.legend(fontsize=7, ncol=2)
    finish(fig, ax, sweep, out_dir, "wait_cost")


def main():
    if len(sys.argv) != 2:
        print("usage: plot.py RESULTS_DIR", file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    try:
        with open(os.path.join(out_dir, "sweep.json")) as f:
            sweep = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: cannot read {out_dir}/sweep.json: {e}", file=sys.stderr)
        return 1
    chart_closed(sweep, out_dir, "throughput", "throughput_msgs_per_s", "echoed messages per second",
                 "Throughput as idle connections are added", log_y=False,
                 note="Hollow circles: the generator was saturated at that point.")
    chart_closed(sweep, out_dir, "cpu_per_message", "server_cpu_us_per_msg",
                 "server CPU per message (µs, log scale)",
                 "Server CPU per echoed message as idle connections are added", log_y=True)
    chart_closed(sweep, out_dir, "events_per_wait", "events_per_wait",
                 "ready descriptors returned per wait call",
                 "Events per wake-up (Asio hides its wait calls)", log_y=False)
    chart_latency(sweep, out_dir)
    chart_micro(sweep, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
