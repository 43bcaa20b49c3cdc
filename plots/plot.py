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

# (colour, marker) by position in echo-server's backend table; backends the table does not know
# (a foreign server's, wait-bench's variants such as epoll-et-rearm) take the slots after it, in
# name order, so that no two lines of one chart share a colour.
PALETTE = [("#d62728", "s"), ("#ff7f0e", "D"), ("#1f77b4", "o"), ("#17becf", "^"),
           ("#2ca02c", "v"), ("#9467bd", "P"), ("#8c564b", "X"), ("#e377c2", "*"),
           ("#7f7f7f", "h"), ("#bcbd22", "<"), ("#393b79", ">"), ("#637939", "p")]
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


class Styles:
    """Colour and marker per backend: the table's backends by table position, then the others."""

    def __init__(self, table_names, seen_names):
        self.table = list(table_names)
        self.order = self.table + sorted(set(seen_names) - set(self.table))

    def colour(self, name):
        return PALETTE[self.order.index(name) % len(PALETTE)][0]

    def marker(self, name):
        return PALETTE[self.order.index(name) % len(PALETTE)][1]


def base_backend(table_names, micro_name):
    """The backend a wait-bench family measures: itself, or the longest table name it extends
    (epoll-et-rearm is epoll-et with the re-arm timed); a name of neither kind is its own."""
    if micro_name in table_names:
        return micro_name
    bases = [b for b in table_names if micro_name.startswith(b + "-")]
    return max(bases, key=len) if bases else micro_name


def caption(sweep):
    env = sweep["environment"]
    return (f"muxbench {sweep['run_id']} ({sweep['config']['mode']}) · {env['cpu_model']}, "
            f"{env['online_cpus']} CPUs · {env['kernel']} · fd limit {env['fd_limit']['soft']} · "
            f"{sweep['started_utc'][:10]}")


def repeats(sweep):
    """How many repeats a point's median is taken over: the most ok runs of any aggregate, else the
    configured count."""
    runs = [a.get("ok_runs", a.get("runs")) for a in sweep.get("aggregates", [])]
    runs = [r for r in runs if isinstance(r, int)]
    return max(runs) if runs else int(sweep["config"].get("repeats", 1))


def spread_label(n):
    """The legend's title: what a point and its bars are."""
    return f"median, bars min–max over {n} repeats" if n > 1 else "one repeat per point: no spread"


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


def left_out(sweep, series):
    """A caption line naming the points of a series that no chart shows (failed, overloaded)."""
    counts = {}
    for p in sweep["points"]:
        if p["series"] == series and p["status"] in ("failed", "overloaded"):
            counts[p["status"]] = counts.get(p["status"], 0) + 1
    if not counts:
        return None
    what = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"Not plotted: {what} point(s) of this series (see the caveats in summary.md)."


def joined(*notes):
    return "\n".join(n for n in notes if n) or None


def finish(fig, ax, sweep, out_dir, name, note=None):
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    fig.text(0.01, 0.01, caption(sweep) + (f"\n{note}" if note else ""), fontsize=7, color="#555555",
             va="bottom")
    fig.tight_layout(rect=(0, 0.04 + 0.02 * (note.count("\n") + 1) if note else 0.04, 1, 1))
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130)
    plt.close(fig)


def draw_lines(ax, rows, styles, scale=1.0, bars=True):
    """One line per backend: medians, with min–max bars when there is a spread to show (bars)."""
    any_bound = False
    for backend in styles.order:
        if backend not in rows:
            continue
        xs = [r[0] for r in rows[backend]]
        ys = [r[1] * scale for r in rows[backend]]
        style = dict(color=styles.colour(backend), marker=styles.marker(backend), markersize=5,
                     linewidth=1.6, label=backend)
        if bars:
            low = [max(0.0, (r[1] - r[2]) * scale) for r in rows[backend]]
            high = [max(0.0, (r[3] - r[1]) * scale) for r in rows[backend]]
            ax.errorbar(xs, ys, yerr=[low, high], capsize=2, **style)
        else:  # a plain line: the legend shows no bar glyph either
            ax.plot(xs, ys, **style)
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


def nothing_to_plot(sweep, series, out_dir, name):
    """Every point of the series failed or was overloaded: say so where the chart would be."""
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"No point of {series['name']} measured ok: nothing to plot.",
            ha="center", va="center", fontsize=12)
    finish(fig, ax, sweep, out_dir, name, left_out(sweep, series["name"]))


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
        ok = [p for p in sweep["points"] if p["series"] == series["name"] and p["status"] == "ok"
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
