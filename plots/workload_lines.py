"""Line charts along one workload dimension, for the closed-loop series the workload charts use
(plot.py draws them; see its docstring):

  activity  server CPU per message against active connections
  churn     server CPU per message and per connection against connection lifetime (echo
            exchanges per connection; persistent last)
  size      server CPU per message and interest changes per message against message size

One line per backend, medians with min–max bars as in plot.py's charts. Each is drawn at one idle
count (0 when the run varied the dimension there, else the smallest idle count where it did) and
the base values of the other dimensions (the churn chart at the churn points' most common active
count, the size chart at the size points')."""
import matplotlib.pyplot as plt

from chartkit import (closed_slices, draw_lines, finish, fixed_text, joined,
                      lifetime_label, lifetime_order, log, matching, not_ok_note, nothing_to_plot,
                      pick_idle, repeat_note, repeats, setting, size_label, spread_label, workload)

CPU = ("server_cpu_us_per_msg", "server CPU per message (µs)")


class Line:
    """One chart: its dimension, panels (metric, y label), x axis and title."""

    def __init__(self, name, field, panels, xlabel, title, categorical=False, note=None):
        self.name, self.field, self.panels = name, field, panels
        self.xlabel, self.title, self.categorical = xlabel, title, categorical
        self.note = note


LINES = [
    Line("activity", "active", [CPU], "active connections",
         "Server CPU per message as active connections are added"),
    Line("churn", "lifetime",
         [CPU, ("server_cpu_us_per_conn", "server CPU per connection (µs)")],
         "connection lifetime (echo exchanges per connection; persistent last)",
         "Server CPU as connections are replaced more often", categorical=True,
         note="CPU per connection: the server's CPU in the window over the connections opened "
              "in it (persistent connections have none)."),
    Line("size", "size",
         [CPU, ("interest_changes_per_msg",
                "interest changes per message\n(epoll_ctl MOD; pollfd/fd_set edits)")],
         "message size", "Server CPU per message as messages grow"),
]


def rows_for(cells, line, metric, positions):
    """{backend: [(x, median, min, max, generator_bound)]} of the cells that have the metric."""
    rows = {}
    for a in cells:
        m = a["metrics"].get(metric)
        if not m:
            continue
        x = a[line.field]
        rows.setdefault(a["backend"], []).append(
            (positions[x] if line.categorical else x, m["median"], m["min"], m["max"],
             a.get("generator_bound", False)))
    return {b: sorted(v) for b, v in rows.items()}


def shape_x(ax, line, values, positions):
    if line.categorical:
        ax.set_xticks([positions[v] for v in values], [lifetime_label(v) for v in values])
    elif max(values) >= 10 * min(values) > 0:
        ax.set_xscale("log")
        ax.set_xticks(values, [size_label(v) if line.field == "size" else f"{v:g}"
                               for v in values])
        ax.minorticks_off()
    ax.set_xlabel(line.xlabel + (" (log scale)" if ax.get_xscale() == "log" else ""))


def draw_line_chart(sweep, styles, out_dir, series, line, cells, fixed, idle):
    config = sweep["config"]
    order = lifetime_order if line.field == "lifetime" else (lambda v: v)
    values = sorted({a[line.field] for a in cells}, key=order)
    positions = {v: i for i, v in enumerate(values)}
    panels = [(metric, label, rows_for(cells, line, metric, positions))
              for metric, label in line.panels]
    panels = [p for p in panels if p[2]]
    bad = not_ok_note(cells, lambda a: f"{a['backend']} at {line.field} "
                                       f"{lifetime_label(a[line.field])}")
    if not panels:
        nothing_to_plot(sweep, series, out_dir, line.name, note=bad,
                        what=f"{series['name']} along {line.field} at {idle} idle connections")
        return
    n = repeats(sweep)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(8.5, 6.5 * len(panels)), 5.4),
                             squeeze=False)
    for ax, (metric, label, rows) in zip(axes[0], panels):
        draw_lines(ax, rows, styles, bars=n > 1)
        ys = [r[1] for v in rows.values() for r in v if r[1] > 0]
        if ys and max(ys) > 20 * min(ys):
            ax.set_yscale("log")
            label += ", log scale"
        ax.set_ylabel(label)
        shape_x(ax, line, values, positions)
        ax.grid(True, which="major", alpha=0.35)
    axes[0][0].legend(fontsize=8, title=spread_label(n), title_fontsize=8)
    fig.suptitle(f"{line.title}\n{setting(series, config)}\n{fixed_text(fixed, idle)}",
                 fontsize=10)
    note = line.note if len(panels) > 1 else None
    finish(fig, axes[0][-1], sweep, out_dir, line.name, joined(note, repeat_note(n), bad))


def draw_workload_lines(sweep, styles, out_dir):
    config = sweep["config"]
    lines = {line.field: line for line in LINES}
    names = [(line.field, f"{line.name} chart") for line in LINES]
    for series, aggregates, field, fixed in closed_slices(sweep, names):
        line = lines[field]
        # Older files' aggregates lack the workload fields: fill them in once.
        candidates = [dict(a, **workload(a, config))
                      for a in matching(aggregates, config, series["name"], **fixed)]
        idle = pick_idle(candidates, line.field)
        if idle is None:
            log(f"no {line.name} chart: no idle count with 2 or more {line.field} values")
            continue
        cells = [a for a in candidates if a["idle"] == idle]
        draw_line_chart(sweep, styles, out_dir, series, line, cells, fixed, idle)
