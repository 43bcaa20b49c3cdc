"""What every chart of plot.py and its chart modules shares: colours, captions, the error-bar
convention (median, bars min–max over the repeats) and which aggregates are the base workload.

sweep.json files written before the map studies (active, size, lifetime, rate, rate_fraction on
points and aggregates) hold only the idle study: an aggregate without those fields is the base
workload. The charts of the idle study (throughput, cpu_per_message, events_per_wait, latency-*,
percentiles-*) draw only base-workload aggregates and points, so further studies in a run leave
them as they were."""
import math
import os
import sys
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (colour, marker) by position in echo-server's backend table; backends the table does not know
# (a foreign server's, wait-bench's variants such as epoll-et-rearm) take the slots after it, in
# name order, so that no two lines of one chart share a colour.
PALETTE = [("#d62728", "s"), ("#ff7f0e", "D"), ("#1f77b4", "o"), ("#17becf", "^"),
           ("#2ca02c", "v"), ("#9467bd", "P"), ("#8c564b", "X"), ("#e377c2", "*"),
           ("#7f7f7f", "h"), ("#bcbd22", "<"), ("#393b79", ">"), ("#637939", "p")]

class Styles:
    """Colour and marker per backend: the table's backends by table position, then the others."""

    def __init__(self, table_names, seen_names):
        self.table = list(table_names)
        self.order = self.table + sorted(set(seen_names) - set(self.table))

    def colour(self, name):
        return PALETTE[self.order.index(name) % len(PALETTE)][0]

    def marker(self, name):
        return PALETTE[self.order.index(name) % len(PALETTE)][1]



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



def left_out(sweep, series):
    """A caption line naming the points of a series that no chart shows (failed, overloaded)."""
    counts = {}
    for p in base_points(sweep):
        if p["series"] == series and p["status"] in ("failed", "overloaded"):
            counts[p["status"]] = counts.get(p["status"], 0) + 1
    if not counts:
        return None
    what = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"Not plotted: {what} point(s) of this series (see the caveats in summary.md)."



def joined(*notes):
    return "\n".join(n for n in notes if n) or None



def finish(fig, ax, sweep, out_dir, name, note=None, grid=True):
    if grid:
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



def describe(series, config):
    if series["load"] == "open":
        load = f"open loop at {config['rate']:g} msg/s"
    else:
        load = f"closed loop, {config['depth']} in flight per connection"
    gen = "busy-polling generator" if series["busy_poll"] else "sleeping generator"
    return f"{config['active']} active connections, {load}, {series['placement']} placement, {gen}"



def nothing_to_plot(sweep, series, out_dir, name, what=None, note=None):
    """Every point of the series (or of what a chart shows: what) failed, was overloaded or
    unsupported: say so where the chart would be."""
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"No point of {what or series['name']} measured ok: nothing to plot.",
            ha="center", va="center", fontsize=12, wrap=True)
    finish(fig, ax, sweep, out_dir, name, joined(note, left_out(sweep, series["name"])))




def log(message):
    """A chart skipped or drawn as a placeholder: said on stderr (sweep shows it when plot.py
    fails), never an error."""
    print(f"plot.py: {message}", file=sys.stderr)


def all_series(config):
    """Every series of the run by name, {name: series}: config's and the studies'."""
    found = {}
    for s in list(config.get("series", [])) + [s for study in config.get("studies", [])
                                                for s in study.get("series", [])]:
        if isinstance(s, dict) and "name" in s:
            found.setdefault(s["name"], s)
    return found


def main_closed_series(config):
    """The closed-loop series the workload charts use: closed-split, else the first closed one."""
    closed = [s for s in all_series(config).values() if s.get("load") == "closed"]
    named = [s for s in closed if s["name"] == "closed-split"]
    return (named or closed or [None])[0]


def closed_slices(sweep, names):
    """(series, its aggregates, field, fixed workload) for each (field, chart name) of names
    that the closed-loop series the workload charts use varied; the others are said."""
    series = main_closed_series(sweep["config"])
    if series is None:
        log(f"no {', '.join(n for _, n in names)}: the run has no closed-loop series")
        return
    aggregates = [a for a in sweep["aggregates"] if a["series"] == series["name"]]
    for field, name in names:
        fixed = fixed_workload(aggregates, sweep["config"], field)
        if fixed.get("active", 0) is None:
            log(f"no {name}: the run varied no {field}")
            continue
        yield series, aggregates, field, fixed


def same_rate(a, b):
    return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9)


def is_base(record, config, load=None):
    """Whether a point or an aggregate is the base workload of the idle study: config's active
    and size, persistent connections, no rate fraction, and (open loop) config's rate. Records
    without these fields (older files) are. load: the series' closed/open, when known."""
    if record.get("active", config["active"]) != config["active"]:
        return False
    if record.get("size", config["size"]) != config["size"]:
        return False
    if record.get("lifetime") is not None or record.get("rate_fraction") is not None:
        return False
    rate = record.get("rate")
    return rate is None or (load != "closed" and same_rate(rate, config.get("rate")))


def base_aggregates(sweep):
    """The aggregates of the base workload, in file order."""
    series = all_series(sweep["config"])
    return [a for a in sweep["aggregates"]
            if is_base(a, sweep["config"], series.get(a["series"], {}).get("load"))]


def base_points(sweep):
    series = all_series(sweep["config"])
    return [p for p in sweep["points"]
            if is_base(p, sweep["config"], series.get(p["series"], {}).get("load"))]


def most_common(values):
    """The value seen most often (ties: the smallest), None for none."""
    counts = Counter(values)
    if not counts:
        return None
    top = max(counts.values())
    return min((v for v, n in counts.items() if n == top), key=lambda v: (v is None, v))


def lifetime_label(lifetime):
    return "persistent" if lifetime is None else f"{lifetime:g}"


def lifetime_order(lifetime):
    """Sort key: numbers ascending, persistent (None) last."""
    return (lifetime is None, lifetime or 0)


def not_ok_note(aggregates, describe_cell):
    """A caption line naming the cells drawn without a value and why (unsupported, failed, ...):
    each cell when there are a few, else a count per backend and status."""
    bad = [a for a in aggregates if a.get("status") != "ok" and not a.get("metrics")]
    if not bad:
        return None
    if len(bad) <= 4:
        shown = [f"{describe_cell(a)} {a['status']}" for a in bad]
    else:
        counts = Counter((a["backend"], a["status"]) for a in bad)
        shown = [f"{backend}: {n} cells {status}" for (backend, status), n in sorted(counts.items())]
    return "Not plotted (no ok repeat): " + ", ".join(shown) + "."


def repeat_note(n):
    """The one-repeat caveat for a caption, or None."""
    if n > 1:
        return None
    return ("One repeat per point: each value is one window's and moves from run to run; a full "
            "run repeats every point.")


def setting(series, config):
    """A series in words without its workload: name, loop, placement, generator."""
    if series["load"] == "open":
        load = "open loop"
    else:
        load = f"closed loop, {config['depth']} in flight per connection"
    gen = "busy-polling generator" if series["busy_poll"] else "sleeping generator"
    return f"{series['name']}: {load}, {series['placement']} placement, {gen}"


WORKLOAD = ("active", "size", "lifetime", "rate", "rate_fraction")


def workload(record, config):
    """A point's or an aggregate's workload with older files' defaults filled in. A rate given as
    a fraction of capacity is known by its fraction: its point's rate (what that fraction came
    to) is not part of it, and its aggregate's rate is null."""
    fraction = record.get("rate_fraction")
    return {"active": record.get("active", config["active"]),
            "size": record.get("size", config["size"]), "lifetime": record.get("lifetime"),
            "rate": record.get("rate") if fraction is None else None, "rate_fraction": fraction}


def matching(records, config, series, **fixed):
    """The records of one series whose workload has the fixed values (None: must be null)."""
    found = []
    for r in records:
        if r["series"] != series:
            continue
        w = workload(r, config)
        if all(w[k] == v if not isinstance(v, float) else same_rate(w[k], v)
               for k, v in fixed.items()):
            found.append(r)
    return found


def stats(values):
    """{median, min, max} of a list of numbers, None for none."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return {"median": median, "min": values[0], "max": values[-1]}


def pick_idle(aggregates, dimension):
    """The idle count a line chart along `dimension` is drawn at: 0 when the run measured two or
    more values of the dimension there, else the smallest idle count where it did."""
    seen = {}
    for a in aggregates:
        seen.setdefault(a["idle"], set()).add(a.get(dimension))
    candidates = sorted(idle for idle, values in seen.items() if len(values) >= 2)
    return candidates[0] if candidates else None


def size_label(size):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def fixed_workload(aggregates, config, field):
    """The other dimensions: base size, persistent connections, and for churn and size the most
    common active count of the points that vary the dimension (None: the run varied none)."""
    fixed = {"size": config["size"], "lifetime": None, "rate_fraction": None}
    base = fixed.pop(field, None)
    if field != "active":
        varied = [workload(a, config) for a in aggregates]
        fixed["active"] = most_common(w["active"] for w in varied if w[field] != base)
    return fixed


def fixed_text(fixed, idle=None):
    """The fixed dimensions of a chart in words."""
    parts = [f"{idle} idle connections"] if idle is not None else []
    if "active" in fixed:
        parts.append(f"{fixed['active']} active connections")
    if "size" in fixed:
        parts.append(f"{size_label(fixed['size'])} messages")
    if "lifetime" in fixed:
        parts.append("persistent connections")
    return ", ".join(parts)
