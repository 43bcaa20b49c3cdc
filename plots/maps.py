"""Maps: where one backend costs more server CPU per message than epoll-lt, over two dimensions
of the workload at once (plot.py draws them; see its docstring).

  map-idle-active-<backend>    idle connections x active connections (persistent connections)
  map-idle-lifetime-<backend>  idle connections x connection lifetime (echo exchanges per
                               connection; persistent last), at the run's most common active count

Each cell is the ratio of the two backends' medians at that cell, coloured on a log scale centred
on 1 (red: the backend costs more than epoll-lt; blue: less), with the break-even contour (1) and
the ±10% band (0.9 and 1.1) interpolated between cell centres. Cells not measured ok are grey and
hatched, with their status. Drawn for the closed-loop series the workload charts use, at the base
message size, for each backend of MAP_BACKENDS that shares at least 2 x 2 cells with epoll-lt."""
import math
import warnings
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from chartkit import (closed_slices, finish, fixed_text, joined, lifetime_label,
                      lifetime_order, log, matching, not_ok_note, nothing_to_plot, repeat_note,
                      repeats, setting, workload)

REFERENCE = "epoll-lt"
MAP_BACKENDS = ["poll", "select", "uring-poll"]
METRIC = "server_cpu_us_per_msg"
COLOURS = "RdBu_r"  # diverging: blue below 1, white at 1, red above


class Axis:
    """The y dimension of a map: its field, label, value order and tick text."""

    def __init__(self, field, label, order, text):
        self.field, self.label, self.order, self.text = field, label, order, text


AXES = {
    "active": Axis("active", "active connections", lambda v: v, lambda v: f"{v:g}"),
    "lifetime": Axis("lifetime", "connection lifetime (echo exchanges per connection)",
                     lifetime_order, lifetime_label),
}


def cells_of(aggregates, config, series, fixed, field):
    """{backend: {(idle, y): aggregate}} of the cells with the fixed workload."""
    table = {}
    for a in matching(aggregates, config, series, **fixed):
        y = workload(a, config)[field]
        table.setdefault(a["backend"], {})[(a["idle"], y)] = a
    return table


def crossed(cells):
    """The cells of the columns and rows with 2 or more cells each: the grid a study crossed,
    without the idle study's single row (active 10 or persistent at every idle count), which
    cpu_per_message shows."""
    while True:
        columns = Counter(x for x, _ in cells)
        rows = Counter(y for _, y in cells)
        kept = {(x, y) for x, y in cells if columns[x] >= 2 and rows[y] >= 2}
        if kept == cells:
            return cells
        cells = kept


def ratio_grid(mine, ref, xs, ys):
    """(ratios, lows, highs, statuses) as ys x xs lists; nan and the status where not both ok."""
    shape = (len(ys), len(xs))
    ratio, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    status = [[None] * len(xs) for _ in ys]
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            a, r = mine.get((x, y)), ref.get((x, y))
            if a is None or r is None:
                status[j][i] = "not measured"
                continue
            ma, mr = a["metrics"].get(METRIC), r["metrics"].get(METRIC)
            if not ma or not mr or mr["median"] <= 0 or mr["min"] <= 0:
                status[j][i] = a["status"] if not ma else f"{REFERENCE} {r['status']}"
                continue
            ratio[j, i] = ma["median"] / mr["median"]
            low[j, i], high[j, i] = ma["min"] / mr["max"], ma["max"] / mr["min"]
            mixed = [s for s in (a["status"], r["status"]) if s != "ok"]
            status[j][i] = mixed[0] if mixed else "ok"
    return ratio, low, high, status


def colour_norm(ratio):
    """A log scale symmetric around 1 that holds every ratio and at least ±25%."""
    finite = ratio[np.isfinite(ratio)]
    spread = max(1.25, float(np.max(np.maximum(finite, 1 / finite))))
    return LogNorm(vmin=1 / spread, vmax=spread)


def ratio_text(value):
    """A ratio as the maps write it: two decimals below 10 (1.20), else 3 significant digits."""
    return f"{value:.2f}" if value < 10 else f"{value:.3g}"


def colour_bar(fig, ax, mesh, norm, label):
    bar = fig.colorbar(mesh, ax=ax, pad=0.02)
    # From 1 outwards, each tick at least 1/14 of the scale's (log) length from the others.
    gap = math.log(norm.vmax / norm.vmin) / 14
    ticks = []
    for t in sorted((0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 1, 1.1, 1.25, 2, 5, 10, 20, 50,
                     100), key=lambda t: abs(math.log(t))):
        if norm.vmin <= t <= norm.vmax and all(abs(math.log(t / u)) >= gap for u in ticks):
            ticks.append(t)
    ticks.sort()
    bar.set_ticks(ticks, labels=[f"{t:g}×" for t in ticks])
    bar.ax.minorticks_off()
    bar.set_label(label, fontsize=8)


def annotate(ax, ratio, low, high, status, norm, bars):
    for j in range(ratio.shape[0]):
        for i in range(ratio.shape[1]):
            r = ratio[j, i]
            if not math.isfinite(r):
                ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor="#dddddd",
                                       edgecolor="#999999", hatch="///", linewidth=0.5))
                ax.text(i, j, status[j][i], ha="center", va="center", fontsize=7,
                        color="#444444", bbox=dict(facecolor="#dddddd", edgecolor="none", pad=1))
                continue
            strong = abs(math.log(r)) > 0.6 * math.log(norm.vmax)
            text = ratio_text(r) + "×"
            if bars:
                text += f"\n{ratio_text(low[j, i])}–{ratio_text(high[j, i])}"
            if status[j][i] != "ok":
                text += f"\n({status[j][i]})"
            ax.text(i, j, text, ha="center", va="center", fontsize=8 if not bars else 7,
                    color="white" if strong else "#1d2330")


def contours(ax, ratio):
    """Break-even and ±10% lines, interpolated between the cell centres that have a ratio."""
    if np.isfinite(ratio).sum() < 4:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no level inside the data: nothing to draw
        ax.contour(np.arange(ratio.shape[1]), np.arange(ratio.shape[0]),
                   np.ma.masked_invalid(ratio), levels=[0.9, 1.0, 1.1],
                   colors=["#333333", "black", "#333333"], linestyles=["--", "-", "--"],
                   linewidths=[1.0, 2.0, 1.0])


def legend(ax, any_grey):
    handles = [Line2D([], [], color="black", linewidth=2.0, label="break-even (ratio 1)"),
               Line2D([], [], color="#333333", linestyle="--", linewidth=1.0,
                      label="±10% (ratio 0.9 and 1.1)"),
               Patch(facecolor="#dddddd", edgecolor="#999999", hatch="///",
                     label="not measured ok (status)")][:3 if any_grey else 2]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3,
              fontsize=7, frameon=False)


def draw_map(sweep, out_dir, name, series, backend, table, axis, fixed):
    config = sweep["config"]
    mine, ref = table[backend], table[REFERENCE]
    shared = crossed(set(mine) & set(ref))
    xs = sorted({x for x, _ in shared})
    ys = sorted({y for _, y in shared}, key=axis.order)
    if len(xs) < 2 or len(ys) < 2:
        log(f"no {name}: {backend} and {REFERENCE} were not both measured on a grid of 2 or "
            f"more idle counts x 2 or more {axis.field} values")
        return
    ratio, low, high, status = ratio_grid(mine, ref, xs, ys)
    n = repeats(sweep)
    what = f"{backend} (with {REFERENCE}) at these idle × {axis.field} cells"
    cells = [mine[k] for k in shared] + [ref[k] for k in shared]
    bad = not_ok_note(cells, lambda a: f"{a['backend']} idle {a['idle']} "
                                       f"{axis.field} {axis.text(a.get(axis.field))}")
    if not np.isfinite(ratio).any():
        nothing_to_plot(sweep, series, out_dir, name, what=what, note=bad)
        return
    norm = colour_norm(ratio)
    fig, ax = plt.subplots(figsize=(8.5, 6))
    mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5,
                         np.ma.masked_invalid(ratio), cmap=COLOURS, norm=norm)
    annotate(ax, ratio, low, high, status, norm, bars=n > 1)
    contours(ax, ratio)
    colour_bar(fig, ax, mesh, norm, f"{backend} ÷ {REFERENCE}, server CPU per message (log scale)")
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [axis.text(y) for y in ys])
    ax.set_xlabel("idle connections (one column per measured count)")
    ax.set_ylabel(axis.label)
    ax.set_title(f"Server CPU per message, {backend} ÷ {REFERENCE} (red: {backend} costs more; "
                 f"blue: less)\n{setting(series, config)}\n{fixed_text(fixed)}", fontsize=9)
    legend(ax, not np.isfinite(ratio).all())
    spread = (f"Each cell: ratio of the two medians over {n} repeats; small print: lowest–"
              "highest ratio of their min–max." if n > 1 else None)
    note = ("Lines interpolated between cell centres: solid = break-even (same CPU as "
            f"{REFERENCE}), dashed = ±10% band.")
    finish(fig, ax, sweep, out_dir, name, joined(spread, repeat_note(n), note, bad), grid=False)


def draw_maps(sweep, styles, out_dir):
    """Every map the run has data for (styles unused: a map's colours are ratios)."""
    config = sweep["config"]
    names = [(field, f"map-idle-{field}-*") for field in AXES]
    for series, aggregates, field, fixed in closed_slices(sweep, names):
        axis = AXES[field]
        table = cells_of(aggregates, config, series["name"], fixed, field)
        if REFERENCE not in table:
            log(f"no map-idle-{field}-*: {REFERENCE} has no such cells")
            continue
        for backend in MAP_BACKENDS:
            name = f"map-idle-{field}-{backend}"
            if backend not in table:
                log(f"no {name}: the run has no {backend} cells")
                continue
            draw_map(sweep, out_dir, name, series, backend, table, axis, fixed)
