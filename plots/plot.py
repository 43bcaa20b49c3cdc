#!/usr/bin/python3
"""Draws a sweep's charts next to its data: plot.py RESULTS_DIR [--echo-server PATH]

Reads sweep.json (and micro.json when present) and writes PNG and SVG files:
  throughput        closed loop: echoed messages per second vs descriptors watched
  cpu_per_message   closed loop: server CPU microseconds per message vs descriptors
  events_per_wait   closed loop: events returned per wait call vs descriptors (ready descriptors;
                    for the uring backend, completions)
  latency-<series>  open loop: p50 and p99 latency vs descriptors, one chart per open series
  percentiles-<series>  open loop: latency by percentile (HdrHistogram's spectrum, log
                    percentile axis), one line per backend at the smallest and the largest idle
                    count, from the points' histograms (repeats merged exactly)
  wait_cost         wait-bench: one wait call vs registered descriptors (log-log)
Runs with the map studies (sweep.json's points and aggregates carry active, size, lifetime, rate
and rate_fraction) also get, each only where the run has data for it (a skipped chart is said on
stderr):
  map-idle-active-<backend>, map-idle-lifetime-<backend>  closed loop: the backend's server CPU
                    per message over epoll-lt's per cell of idle x active / idle x lifetime
                    (poll, select, uring-poll; plots/maps.py)
  load-<series>-idle<N>  open loop: p50/p99 latency and achieved rate vs offered load, per idle
                    count with 3 or more rates (plots/load_curves.py)
  activity, churn, size  closed loop: server CPU per message vs active connections, connection
                    lifetime (plus CPU per connection), message size (plus interest changes per
                    message) (plots/workload_lines.py)
The charts above draw only the base workload (config's active, size and rate, persistent
connections), so a run's other studies leave them as they were; older files are all base.
The backends (their order, hence their colours) come from `echo-server --list-backends --json`;
a wait-bench variant of a backend (epoll-et-rearm) takes a colour of its own.
Points are medians over the repeats with bars from min to max, and the legend says so; a run of
one repeat draws no bars (and its p99 panels say that each p99 is one window's).
Needs Debian's python3-matplotlib; run with /usr/bin/python3."""
import argparse
import json
import os
import re
import shutil
import tarfile
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from chartkit import (Styles, base_aggregates, base_points, describe, draw_lines,  # noqa: E402
                      finish, joined, left_out, nothing_to_plot, repeats, spread_label)
from load_curves import draw_load_curves  # noqa: E402
from maps import draw_maps  # noqa: E402
from workload_lines import draw_workload_lines  # noqa: E402

FD_SETSIZE = 1024
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PlotError(Exception):
    pass


def canonical(name):
    """Backend names as echo-server spells them: older results wrote wait-bench's with '_'
    (epoll_lt, uring_poll); the same rule as canonical_backend_name in common/backend_table.hpp."""
    return name.replace("_", "-")


def is_executable(path):
    return path is not None and os.path.isfile(path) and os.access(path, os.X_OK)


def find_echo_server():
    """The echo-server next to the sweep that runs this script, else the repository's release
    build, else the one on PATH."""
    try:
        parent = os.readlink(f"/proc/{os.getppid()}/exe")
        if os.path.basename(parent) == "sweep":
            beside = os.path.join(os.path.dirname(parent), "echo-server")
            if is_executable(beside):
                return beside
    except OSError:
        pass
    built = os.path.join(REPO, "build", "release", "bin", "echo-server")
    if is_executable(built):
        return built
    on_path = shutil.which("echo-server")
    if on_path:
        return on_path
    raise PlotError("cannot find echo-server, which lists the backends: pass --echo-server PATH "
                    f"(not next to the sweep, not at {built}, not on PATH)")


def backend_table(echo_server):
    """echo-server's backend table: [{"name", "description", "family"}] in its order."""
    command = [echo_server, "--list-backends", "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PlotError(f"cannot run {' '.join(command)}: {e}") from e
    if done.returncode != 0:
        raise PlotError(f"{' '.join(command)} failed (exit {done.returncode}): {done.stderr.strip()}")
    try:
        table = json.loads(done.stdout)
        return [entry["name"] for entry in table]
    except (ValueError, TypeError, KeyError) as e:
        raise PlotError(f"{' '.join(command)} printed no backend table: {e}") from e


def base_backend(table_names, micro_name):
    """The backend a wait-bench family measures: itself, or the longest table name it extends
    (epoll-et-rearm is epoll-et with the re-arm timed); a name of neither kind is its own."""
    if micro_name in table_names:
        return micro_name
    bases = [b for b in table_names if micro_name.startswith(b + "-")]
    return max(bases, key=len) if bases else micro_name


def series_rows(sweep, series, metric):
    """{backend: [(total_fds, median, low, high, generator_bound)]} for one series and metric."""
    rows = {}
    for a in base_aggregates(sweep):
        if a["series"] != series or metric not in a["metrics"]:
            continue
        m = a["metrics"][metric]
        rows.setdefault(a["backend"], []).append(
            (a["total_fds"], m["median"], m["min"], m["max"], a["generator_bound"]))
    return {b: sorted(v) for b, v in rows.items()}


def mark_fd_setsize(ax):
    ax.axvline(FD_SETSIZE, color="#999999", linestyle=":", linewidth=1)
    ax.text(FD_SETSIZE * 1.05, 0.97, "FD_SETSIZE\n(select's limit)", transform=ax.get_xaxis_transform(),
            fontsize=7, color="#666666", va="top")


def closed_series(sweep):
    for s in sweep["config"]["series"]:
        if s["load"] == "closed":
            return s
    return None


def chart_closed(sweep, styles, out_dir, name, metric, ylabel, title, log_y, scale=1.0, note=None):
    series = closed_series(sweep)
    if not series:
        return
    rows = series_rows(sweep, series["name"], metric)
    if not rows:
        return
    n = repeats(sweep)
    fig, ax = plt.subplots(figsize=(8, 5))
    draw_lines(ax, rows, styles, scale, bars=n > 1)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("descriptors watched by the server (idle + active connections, log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{describe(series, sweep['config'])}", fontsize=10)
    mark_fd_setsize(ax)
    ax.legend(fontsize=8, title=spread_label(n), title_fontsize=8)
    finish(fig, ax, sweep, out_dir, name, joined(note, left_out(sweep, series["name"])))


def chart_latency(sweep, styles, out_dir):
    for series in sweep["config"]["series"]:
        if series["load"] != "open":
            continue
        p50 = series_rows(sweep, series["name"], "latency_p50_ns")
        p99 = series_rows(sweep, series["name"], "latency_p99_ns")
        if not p50:
            nothing_to_plot(sweep, series, out_dir, f"latency-{series['name']}")
            continue
        n = repeats(sweep)
        fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
        for ax, rows, label in ((axes[0], p50, "p50"), (axes[1], p99, "p99")):
            draw_lines(ax, rows, styles, scale=1e-3, bars=n > 1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("descriptors watched (log scale)")
            ax.set_title(f"{label} latency", fontsize=10)
            mark_fd_setsize(ax)
            ax.grid(True, which="major", alpha=0.35)
        axes[0].set_ylabel("round-trip latency (µs, log scale)")
        axes[0].legend(fontsize=8, title=spread_label(n), title_fontsize=8)
        if n == 1:
            # A p99 from one window rests on its slowest 1%: a few hundred messages.
            axes[1].set_title("p99 latency — one run: p99 from a single window", fontsize=10,
                              color="#b22222", fontweight="bold")
        fig.suptitle(f"Latency at equal load: {describe(series, sweep['config'])}", fontsize=10)
        note = "Latency counts from each message's intended send time (coordinated omission corrected)."
        if n == 1:
            note += (" One run: each p99 is the slowest 1% of one window's messages and moves from "
                     "run to run; a full run repeats every point.")
        finish(fig, axes[1], sweep, out_dir, f"latency-{series['name']}",
               joined(note, left_out(sweep, series["name"])))


def point_reports(out_dir):
    """{point id: loadgen report} from points/ (or the points.tar.xz a committed run keeps)."""
    reports = {}
    points = os.path.join(out_dir, "points")
    if os.path.isdir(points):
        for name in os.listdir(points):
            if name.endswith(".loadgen.json"):
                try:
                    with open(os.path.join(points, name)) as f:
                        reports[name[:-len(".loadgen.json")]] = json.load(f)
                except (OSError, ValueError):
                    pass
        return reports
    packed = os.path.join(out_dir, "points.tar.xz")
    if os.path.exists(packed):
        with tarfile.open(packed) as tar:
            for member in tar.getmembers():
                name = os.path.basename(member.name)
                if member.isfile() and name.endswith(".loadgen.json"):
                    try:
                        reports[name[:-len(".loadgen.json")]] = json.load(tar.extractfile(member))
                    except ValueError:
                        pass
    return reports


def spectrum(buckets):
    """(x, latency ns) steps of a histogram's percentile spectrum, x = 1 / (1 - percentile)."""
    total = sum(count for _, count in buckets)
    xs, ys, seen = [], [], 0
    for value, count in sorted(buckets):
        xs.append(1.0 / (1.0 - seen / total))
        ys.append(value)
        seen += count
        if seen < total:
            xs.append(1.0 / (1.0 - seen / total))
            ys.append(value)
    return xs, ys


def chart_percentiles(sweep, styles, out_dir):
    """Latency by percentile per open series: one line per backend at the smallest and the
    largest idle count measured ok, each from the exactly merged histograms of its repeats."""
    reports = point_reports(out_dir)
    for series in sweep["config"]["series"]:
        if series["load"] != "open":
            continue
        ok = [p for p in base_points(sweep) if p["series"] == series["name"] and p["status"] == "ok"
              and p["id"] in reports and reports[p["id"]].get("histogram")]
        if not ok:
            nothing_to_plot(sweep, series, out_dir, f"percentiles-{series['name']}")
            continue
        idles = sorted({p["idle"] for p in ok})
        chosen = sorted({idles[0], idles[-1]})
        fig, axes = plt.subplots(1, len(chosen), figsize=(6 * len(chosen), 5), sharey=True,
                                 squeeze=False)
        for ax, idle in zip(axes[0], chosen):
            merged = {}
            for p in ok:
                if p["idle"] != idle:
                    continue
                counts = merged.setdefault(p["backend"], {})
                for value, count in reports[p["id"]]["histogram"]["buckets"]:
                    counts[value] = counts.get(value, 0) + count
            for backend in styles.order:
                if backend not in merged:
                    continue
                xs, ys = spectrum(list(merged[backend].items()))
                ax.plot(xs, [y / 1e3 for y in ys], color=styles.colour(backend), linewidth=1.4,
                        label=backend)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ticks = [1, 2, 10, 100, 1000, 10000, 100000]
            ax.set_xticks(ticks)
            ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"],
                               fontsize=8)
            ax.set_xlabel("percentile")
            ax.set_title(f"{idle} idle connections", fontsize=10)
            ax.grid(True, which="major", alpha=0.35)
        axes[0][0].set_ylabel("round-trip latency (µs, log scale)")
        axes[0][0].legend(fontsize=8)
        fig.suptitle(f"Latency by percentile: {describe(series, sweep['config'])}", fontsize=10)
        finish(fig, axes[0][-1], sweep, out_dir, f"percentiles-{series['name']}",
               joined("Each line: every message of the backend's runs at that idle count, "
                      "from intended send time (coordinated omission corrected).",
                      left_out(sweep, series["name"])))


def read_micro(out_dir):
    """{(backend, fd kind): {fds: [ns per call]}} for one ready descriptor; None without micro.json."""
    path = os.path.join(out_dir, "micro.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            micro = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: skipping wait_cost: cannot read {path}: {e}", file=sys.stderr)
        return None
    pattern = re.compile(r"^(?P<b>[a-z_-]+)/(?P<kind>socketpair|tcp)/ready:1/fds:(?P<n>\d+)")
    lines = {}
    for bench in micro.get("benchmarks", []):
        match = pattern.match(bench.get("run_name", bench["name"]))
        if not match or bench.get("run_type") != "iteration" or bench.get("error_occurred"):
            continue
        lines.setdefault((canonical(match["b"]), match["kind"]), {}).setdefault(
            int(match["n"]), []).append(bench["ns_per_call"])
    return lines


def chart_micro(sweep, styles, lines, out_dir):
    if not lines:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for (backend, kind), values in sorted(lines.items()):
        base = base_backend(styles.table, backend)
        xs = sorted(values)
        ys = [sorted(values[x])[len(values[x]) // 2] for x in xs]
        # A variant (epoll-et-rearm) has a colour of its own and its base's marker, hollow.
        variant = base != backend
        name = f"{base} + {backend[len(base) + 1:].replace('rearm', 're-arm')}" if variant else backend
        ax.plot(xs, ys, color=styles.colour(backend), marker=styles.marker(base),
                markerfacecolor="white" if variant else styles.colour(backend),
                markersize=4, linewidth=1.5, linestyle="-" if kind == "socketpair" else "--",
                label=f"{name} ({kind})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered descriptors (log scale)")
    ax.set_ylabel("time per wait call (ns, log scale)")
    reps = int(sweep["config"].get("micro_repetitions", 1) or 1)
    ax.set_title("One wait call with one ready descriptor (wait-bench"
                 + (f"; median of {reps} repetitions)" if reps > 1 else "; one repetition)"),
                 fontsize=10)
    mark_fd_setsize(ax)
    ax.legend(fontsize=7, ncol=2)
    finish(fig, ax, sweep, out_dir, "wait_cost")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--echo-server",
                        help="the echo-server whose --list-backends orders and colours the backends "
                             "(default: the one next to the sweep, else build/release/bin, else PATH)")
    args = parser.parse_args()
    out_dir = args.results_dir
    try:
        with open(os.path.join(out_dir, "sweep.json")) as f:
            sweep = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: cannot read {out_dir}/sweep.json: {e}", file=sys.stderr)
        return 1
    try:
        table = backend_table(args.echo_server or find_echo_server())
    except PlotError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    micro = read_micro(out_dir)
    styles = Styles(table, [a["backend"] for a in sweep["aggregates"]] + [b for b, _ in (micro or {})])
    chart_closed(sweep, styles, out_dir, "throughput", "throughput_msgs_per_s",
                 "echoed messages per second", "Throughput as idle connections are added",
                 log_y=False, note="Hollow circles: the generator was saturated at that point.")
    chart_closed(sweep, styles, out_dir, "cpu_per_message", "server_cpu_us_per_msg",
                 "server CPU per message (µs, log scale)",
                 "Server CPU per echoed message as idle connections are added", log_y=True)
    chart_closed(sweep, styles, out_dir, "events_per_wait", "events_per_wait",
                 "events per wait call\n(ready descriptors; completions for uring)",
                 "Events per wake-up (Asio hides its wait calls)", log_y=False)
    chart_latency(sweep, styles, out_dir)
    chart_percentiles(sweep, styles, out_dir)
    chart_micro(sweep, styles, micro, out_dir)
    draw_maps(sweep, styles, out_dir)
    draw_load_curves(sweep, styles, out_dir)
    draw_workload_lines(sweep, styles, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
