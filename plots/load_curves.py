"""Latency against offered load (plot.py draws them; see its docstring).

  load-<series>-idle<N>  per open-loop series and idle count with 3 or more offered rates: p50
                         (dashed) and p99 (solid) latency against the offered load, one colour
                         per backend; achieved throughput against offered in a second panel

The offered load is the rate fraction (as % of each backend's own closed-loop capacity measured in
the same run) when the run gave one, else the offered rate in msg/s. Overloaded points (the rate
was not kept) are in no aggregate's median: they are drawn hollow from the aggregate's
overloaded_metrics (the overloaded runs' medians), since a latency-vs-load curve is made of them
too."""
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from chartkit import (all_series, finish, joined, log, matching, not_ok_note,
                      nothing_to_plot, repeat_note, repeats, setting, size_label, spread_label,
                      stats, workload)

LATENCY = (("latency_p50_ns", "p50", "--"), ("latency_p99_ns", "p99", "-"))


def offered_axis(aggregates):
    """"fraction" or "rate": what the x axis is at one idle count (3 or more values), else None."""
    fractions = {a["rate_fraction"] for a in aggregates if a.get("rate_fraction") is not None}
    rates = {a["rate"] for a in aggregates if a.get("rate") is not None}
    if len(fractions) >= 3:
        return "fraction"
    return "rate" if len(rates) >= 3 else None


def cell_values(aggregate):
    """({metric: {median, min, max}}, overloaded) of one cell: the ok runs' medians (hollow when
    some repeat was overloaded), else the overloaded runs' (`overloaded_metrics`); None when
    neither has a latency."""
    metrics = aggregate.get("metrics") or {}
    overloaded = aggregate.get("overloaded_metrics") or {}
    if "latency_p50_ns" in metrics:
        return metrics, bool(overloaded)
    return (overloaded, True) if "latency_p50_ns" in overloaded else None


def capacity(aggregates):
    """{backend: closed-loop msg/s} from the offered rates of fraction points (offered = fraction
    x capacity)."""
    found = {}
    for a in aggregates:
        offered = (a.get("metrics") or {}).get("offered_rate_msgs_per_s")
        if offered and a.get("rate_fraction"):
            found.setdefault(a["backend"], []).append(offered["median"] / a["rate_fraction"])
    return {b: stats(v)["median"] for b, v in found.items()}


def offered_x(aggregate, kind):
    """Where a cell sits on the x axis: % of capacity, or msg/s; None when it has neither."""
    if kind == "fraction":
        fraction = aggregate.get("rate_fraction")
        return None if fraction is None else fraction * 100
    return aggregate.get("rate")


def curves(aggregates, kind):
    """{backend: [(x, {metric: stats}, overloaded)]} sorted by x."""
    rows = {}
    for a in aggregates:
        x = offered_x(a, kind)
        values = cell_values(a) if x is not None else None
        if values is None:
            continue
        rows.setdefault(a["backend"], []).append((x, values[0], values[1]))
    return {b: sorted(v, key=lambda r: r[0]) for b, v in rows.items()}


def plot_metric(ax, styles, backend, rows, metric, scale, linestyle, bars):
    colour = styles.colour(backend)
    points = [(r[0], r[1][metric], r[2]) for r in rows if r[1].get(metric)]
    xs = [p[0] for p in points]
    ys = [p[1]["median"] * scale for p in points]
    ax.plot(xs, ys, color=colour, linestyle=linestyle, linewidth=1.5)
    if bars:
        low = [max(0.0, (p[1]["median"] - p[1]["min"]) * scale) for p in points]
        high = [max(0.0, (p[1]["max"] - p[1]["median"]) * scale) for p in points]
        ax.errorbar(xs, ys, yerr=[low, high], fmt="none", ecolor=colour, capsize=2, linewidth=1)
    for x, y, p in zip(xs, ys, points):
        ax.plot([x], [y], marker=styles.marker(backend), markersize=6, color=colour,
                markerfacecolor="white" if p[2] else colour, linestyle="none")


def legend_handles(styles, backends):
    handles = [Line2D([], [], color=styles.colour(b), marker=styles.marker(b), label=b)
               for b in styles.order if b in backends]
    handles += [Line2D([], [], color="#444444", linestyle="--", label="p50"),
                Line2D([], [], color="#444444", linestyle="-", label="p99"),
                Line2D([], [], color="#444444", marker="o", markerfacecolor="white",
                       linestyle="none", label="hollow: overloaded (rate not kept)")]
    return handles


def achieved_panel(ax, styles, rows, kind, caps, bars):
    """Achieved throughput against offered: msg/s, or % of the backend's capacity."""
    for backend, backend_rows in rows.items():
        cap = caps.get(backend) if kind == "fraction" else 1.0
        if not cap:
            continue
        scale = 100 / cap if kind == "fraction" else 1.0
        plot_metric(ax, styles, backend, backend_rows, "throughput_msgs_per_s", scale, "-", bars)
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], color="#999999", linestyle=":", linewidth=1,
            label="achieved = offered")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=min(ax.get_ylim()[0], lo))
    ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel("achieved (% of the backend's capacity)" if kind == "fraction"
                  else "achieved (messages per second)")
    ax.set_title("Achieved throughput against offered", fontsize=10)


def x_label(kind):
    if kind == "fraction":
        return "offered load (% of the backend's own closed-loop capacity in this run)"
    return "offered load (messages per second)"


def draw_load(sweep, styles, out_dir, series, idle, aggregates, kind):
    config = sweep["config"]
    name = f"load-{series['name']}-idle{idle}"
    rows = curves(aggregates, kind)
    drawn = {(b, r[0]) for b, v in rows.items() for r in v}
    bad = not_ok_note([a for a in aggregates if (a["backend"], offered_x(a, kind)) not in drawn],
                      lambda a: f"{a['backend']} at "
                      + (f"{a['rate_fraction'] * 100:g}%" if kind == "fraction"
                         else f"{a['rate']:g} msg/s"))
    if not rows:
        nothing_to_plot(sweep, series, out_dir, name, note=bad,
                        what=f"{series['name']} at {idle} idle connections and varied load")
        return
    n = repeats(sweep)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    xs = [r[0] for v in rows.values() for r in v]
    log_x = kind == "rate" and max(xs) >= 10 * min(xs) > 0
    for ax in axes:
        ax.set_xlabel(x_label(kind))
        ax.set_xscale("log" if log_x else "linear")
        ax.grid(True, which="major", alpha=0.35)
    axes[1].set_yscale("log" if log_x else "linear")
    for metric, _, linestyle in LATENCY:
        for backend in styles.order:
            if backend in rows:
                plot_metric(axes[0], styles, backend, rows[backend], metric, 1e-3, linestyle,
                            bars=n > 1)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("round-trip latency (µs, log scale)")
    axes[0].set_title("p50 (dashed) and p99 (solid) latency", fontsize=10)
    axes[0].legend(handles=legend_handles(styles, rows), fontsize=7, title=spread_label(n),
                   title_fontsize=7)
    achieved_panel(axes[1], styles, rows, kind, capacity(aggregates), bars=n > 1)
    w = workload(aggregates[0], config)
    fig.suptitle(f"Latency against offered load, {idle} idle connections\n"
                 f"{setting(series, config)}; {w['active']} active connections, "
                 f"{size_label(w['size'])} messages, persistent connections", fontsize=10)
    note = ("Latency counts from each message's intended send time (coordinated omission "
            "corrected).\nHollow markers: a repeat was overloaded, the offered rate was not kept; "
            "a cell with no ok repeat shows its overloaded runs' medians (no median elsewhere "
            "counts them).")
    if kind == "fraction":
        note += "\n100% is each backend's own capacity, so it differs between backends."
    finish(fig, axes[1], sweep, out_dir, name, joined(note, repeat_note(n), bad))


def draw_load_curves(sweep, styles, out_dir):
    config = sweep["config"]
    drawn = 0
    for series in all_series(config).values():
        if series.get("load") != "open":
            continue
        varied = matching(sweep["aggregates"], config, series["name"], active=config["active"],
                          size=config["size"], lifetime=None)
        for idle in sorted({a["idle"] for a in varied}):
            at_idle = [a for a in varied if a["idle"] == idle]
            kind = offered_axis(at_idle)
            if kind is None:
                continue
            chosen = [a for a in at_idle if offered_x(a, kind) is not None]
            draw_load(sweep, styles, out_dir, series, idle, chosen, kind)
            drawn += 1
    if not drawn:
        log("no load-* charts: no open-loop series has 3 or more offered rates at one idle count")
