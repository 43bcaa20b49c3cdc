#!/usr/bin/python3
"""Writes a sweep's HTML report next to its data: report.py RESULTS_DIR

Reads RESULTS_DIR/sweep.json (required) and, when present, env.json, summary.md, the charts
plot.py drew (*.svg, else *.png) and the raw files, and writes RESULTS_DIR/index.html (atomically:
a temporary file renamed over it). The page is self-contained: no network, no fonts, no
stylesheets or scripts from elsewhere; charts are <img> elements linking the SVG files beside it,
so the page stays small and a chart can never run code in it. A few lines of plain JavaScript
make tables sortable by a click on their header; the page reads the same without them.

Exit codes: 0 written; 1 sweep.json unreadable or index.html not writable; 2 bad usage or no
such directory. Standard library plus Debian's python3-markdown (for summary.md; without it the
summary is shown as plain text). Run with /usr/bin/python3."""
import argparse
import datetime
import html
import json
import os
import re
import sys
import tempfile

PROG = "report.py"

# Charts plot.py draws, in reading order, with one sentence for someone new to the suite. A name
# ending in "-" is a family (latency-<series>); its optional fourth element words the rest of the
# name: a format string or a function (default: "series {}").
KNOWN_CHARTS = [
    ("throughput", "Throughput as idle connections are added",
     "Closed loop: echoed messages per second while more and more idle connections sit beside the "
     "active ones. A flat line means the backend does not pay for idle descriptors."),
    ("cpu_per_message", "Server CPU per message",
     "The server's own CPU time per echoed message; the clearest view of what each idle descriptor "
     "costs, since it does not depend on whether the load generator kept up."),
    ("events_per_wait", "Events per wait call",
     "How many events one wait call returned (ready descriptors; completions for the uring "
     "backend): above 1 the server is batching because it is busy."),
    ("latency-", "Latency at equal load",
     "Open loop at a fixed rate: p50 and p99 round-trip latency against the descriptors watched."),
    ("percentiles-", "Latency by percentile",
     "Open loop: every message's latency as HdrHistogram's percentile spectrum (log percentile "
     "axis), one line per backend at the smallest and the largest idle count."),
    ("map-idle-active-", "Map: idle × active connections",
     "Each cell: the backend's server CPU per message divided by epoll-lt's at that many idle and "
     "active connections; red costs more than epoll-lt, blue less, the solid line is break-even "
     "and the dashed lines ±10%.", "{} ÷ epoll-lt"),
    ("map-idle-lifetime-", "Map: idle connections × connection lifetime",
     "As the map above, with connections replaced after that many echo exchanges (persistent "
     "last): where the cost of opening and closing connections outweighs the idle scan.",
     "{} ÷ epoll-lt"),
    ("activity", "Server CPU per message as active connections are added",
     "With no idle connections: how the cost per message changes as more connections are busy "
     "(a wake-up serves more of them)."),
    ("churn", "Server CPU as connections are replaced",
     "Cost per message and per connection against how many exchanges a connection lives for; "
     "short lives make registering and removing descriptors count."),
    ("size", "Server CPU per message as messages grow",
     "Cost per message and interest changes per message (write interest armed and disarmed when "
     "a message does not fit the socket buffer) against message size."),
    ("load-", "Latency against offered load",
     "Open loop at rising rates: p50 (dashed) and p99 (solid) latency, and the rate achieved; "
     "hollow markers are overloaded points, where the offered rate was not kept.",
     lambda rest: re.sub(r"^(.*)-idle(\d+)$", r"series \1, \2 idle connections", rest)),
    ("wait_cost", "One wait call (micro-benchmark)",
     "wait-bench: the time of one select/poll/epoll_wait/io_uring call with one ready descriptor, "
     "against the number registered."),
]

# Raw files a run writes, with what they hold.
KNOWN_FILES = {
    "sweep.json": "everything: configuration, environment, every point and the aggregates",
    "sweep.csv": "one row per (series, backend, idle count): medians and min–max",
    "summary.md": "the written summary shown above",
    "summary.json": "the summary's numbers, for scripts",
    "env.json": "the machine and build the run used",
    "claims.json": "the claims demonstrations (FD_SETSIZE, select's cost by number and count, "
                   "edge-triggered stall, descriptors per backend, epoll's watch limit)",
    "micro.json": "wait-bench's Google Benchmark output",
    "micro.csv": "wait-bench's results, one row per benchmark",
    "micro_table.md": "the micro-benchmark table in the style of TLPI table 63-9",
    "points": "raw per-point reports (loadgen and server JSON)",
    "points.tar.xz": "raw per-point reports (loadgen and server JSON), compressed",
}

POINT_STATUS_ORDER = ["ok", "unsupported", "failed", "interrupted", "overloaded"]
POINT_STATUS_MEANING = {
    "ok": "measured",
    "unsupported": "not possible with this backend here (e.g. select beyond FD_SETSIZE)",
    "failed": "something went wrong; see the reasons below",
    "interrupted": "the run was stopped before this point finished",
    "overloaded": "the server could not keep up with the offered load",
}
RUN_STATUS_MEANING = {
    "completed": "every point ran",
    "completed_with_failures": "the run finished but some points failed",
    "interrupted": "the run was stopped; finish it with sweep --resume",
    "running": "the run had not finished when this page was written",
}

STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0; color: #1d2330; background: #f4f5f7; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 28px 40px; background: #fff; }
header { border-bottom: 3px solid #2b5797; margin-bottom: 10px; }
h1 { font-size: 1.65em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.3em; margin: 1.5em 0 0.4em; padding-bottom: 0.15em; border-bottom: 1px solid #d8dce3; }
h3 { font-size: 1.1em; margin: 1.2em 0 0.3em; }
h4 { font-size: 1em; margin: 1em 0 0.3em; }
.lede { color: #4a5263; margin: 0 0 0.8em; }
nav { font-size: 0.92em; margin: 0.4em 0 0.8em; }
nav a { margin-right: 1.1em; }
a { color: #1f5bb5; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
code { background: #f0f2f5; padding: 0 3px; border-radius: 3px; }
pre { background: #f0f2f5; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap;
      word-break: break-all; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d8dce3; padding: 3px 8px; vertical-align: top; }
th { background: #eef1f6; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; }
table.sortable th[data-dir="asc"]::after { content: " \\25B2"; font-size: 0.75em; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; font-size: 0.75em; }
table.kv th { width: 12em; background: #f6f7f9; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 0.6em 0; }
.card { border: 1px solid #d8dce3; border-radius: 6px; padding: 6px 14px; min-width: 7em; }
.card .n { font-size: 1.55em; font-weight: 700; }
.card .l { font-size: 0.85em; color: #4a5263; }
.status { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600;
          font-size: 0.9em; color: #fff; }
.good { background: #2e7d32; } .info { background: #5c6b80; } .warn { background: #b26a00; } .bad { background: #c62828; }
.card.good, .card.warn, .card.bad, .card.info { color: #fff; border-color: transparent; }
.card.good .l, .card.warn .l, .card.bad .l, .card.info .l { color: #fff; }
.chart { margin: 0.5em 0 1.6em; }
.chart img { max-width: 100%; height: auto; border: 1px solid #e3e6eb; }
.chart p { margin: 0.2em 0; }
.muted { color: #5f6778; font-size: 0.9em; }
.summary h2 { font-size: 1.15em; border-bottom: none; }
details { margin: 0.4em 0; }
summary { cursor: pointer; }
footer { margin-top: 2em; color: #5f6778; font-size: 0.85em; }
"""

# Sorts a table by the clicked column: numbers numerically, the rest as text; click again to flip.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead ? table.tHead.rows[0].cells : [];
  Array.prototype.forEach.call(heads, function (th, column) {
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", dir);
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var text = row.cells[column] ? row.cells[column].textContent.trim() : "";
        var n = parseFloat(text.replace(/[,\\s]/g, ""));
        return isNaN(n) || !/^[-+]?[\\d.,\\s]+/.test(text) ? text.toLowerCase() : n;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return dir === "asc" ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


class UsageError(Exception):
    pass


class InputError(Exception):
    pass


def esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def read_json(path):
    """A JSON file's content, or None when the file is absent or unreadable (with a warning)."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"{PROG}: warning: ignoring {path}: {e}", file=sys.stderr)
        return None


def read_text(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        print(f"{PROG}: warning: ignoring {path}: {e}", file=sys.stderr)
        return None


def get(obj, *keys, default=None):
    """obj[k1][k2]... or default when any level is missing or not a dict."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def human_size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def duration(start, end):
    try:
        a = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    seconds = int((b - a).total_seconds())
    if seconds < 0:
        return None
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def status_class(status):
    return {"completed": "good", "ok": "good", "completed_with_failures": "warn",
            "interrupted": "warn", "running": "warn", "skipped": "warn",
            "unsupported": "info", "overloaded": "warn"}.get(status, "bad")


# ---------------------------------------------------------------------------------------------
# summary.md


def render_markdown(text):
    """summary.md as HTML: Python-Markdown with tables, raw HTML in the source escaped (a failure
    reason or command containing '<' stays text); without python3-markdown, preformatted text."""
    try:
        import markdown
        from markdown.extensions import Extension
    except ImportError:
        return f"<pre>{esc(text)}</pre>"

    class EscapeRawHtml(Extension):
        def extendMarkdown(self, md):  # noqa: N802 (Python-Markdown's name)
            md.preprocessors.deregister("html_block")
            md.inlinePatterns.deregister("html")

    # The page's own title replaces the summary's.
    text = re.sub(r"\A\s*# [^\n]*\n", "", text)
    # Python-Markdown wants a blank line before a list; summary.md starts lists right under a line.
    lines = text.splitlines()
    spaced = []
    for i, line in enumerate(lines):
        if (re.match(r"\s*([-*+]|\d+\.) ", line) and i > 0 and lines[i - 1].strip()
                and not re.match(r"\s*([-*+]|\d+\.) |\s{2,}", lines[i - 1])):
            spaced.append("")
        spaced.append(line)
    text = "\n".join(spaced)
    body = markdown.markdown(text, extensions=["tables", "sane_lists", EscapeRawHtml()],
                             output_format="html")
    # The page has its own h1: the summary's headings move one level down.
    body = re.sub(r"<(/?)h([1-5])>", lambda m: f"<{m[1]}h{int(m[2]) + 1}>", body)
    body = body.replace("<table>", '<table class="sortable">')
    body = re.sub(r'<(td|th) align="right">', r'<\1 class="num">', body)
    body = re.sub(r'<(td|th) style="text-align: right;">', r'<\1 class="num">', body)
    # Long tables fold away so that the findings read in one screen; a click shows them.
    def fold(match):
        rows = match[0].count("<tr>") - 1
        if rows <= 12:
            return match[0]
        return f"<details><summary>the table ({rows} rows)</summary>{match[0]}</details>"
    return re.sub(r"<table.*?</table>", fold, body, flags=re.S)


# ---------------------------------------------------------------------------------------------
# Sections


def section_status(sweep, results_dir):
    status = sweep.get("status") or "unknown"
    points = sweep.get("points") if isinstance(sweep.get("points"), list) else []
    counts = {}
    for p in points:
        counts[str(get(p, "status", default="unknown"))] = counts.get(
            str(get(p, "status", default="unknown")), 0) + 1
    order = [s for s in POINT_STATUS_ORDER if s in counts or s in ("ok", "unsupported", "failed")]
    order += sorted(s for s in counts if s not in order)
    aggregates = sweep.get("aggregates") if isinstance(sweep.get("aggregates"), list) else []
    bound = sum(1 for a in aggregates if get(a, "generator_bound"))

    out = ['<section id="status"><h2>Status</h2>']
    meaning = RUN_STATUS_MEANING.get(status, "")
    out.append(f'<p>Run status: <span class="status {status_class(status)}">'
               f'{esc(status.replace("_", " "))}</span> '
               f'{"— " + esc(meaning) + "." if meaning else ""}</p>')
    out.append('<div class="cards">')
    out.append(f'<div class="card"><div class="n">{len(points)}</div>'
               f'<div class="l">points in the plan</div></div>')
    for s in order:
        n = counts.get(s, 0)
        cls = "" if n == 0 or s == "ok" else f" {status_class(s)}"
        out.append(f'<div class="card{cls}" title="{esc(POINT_STATUS_MEANING.get(s, ""))}">'
                   f'<div class="n">{n}</div><div class="l">{esc(s)}</div></div>')
    if aggregates:
        out.append(f'<div class="card" title="(series, backend, idle count) medians over the '
                   f'repeats"><div class="n">{len(aggregates)}</div>'
                   f'<div class="l">aggregated points</div></div>')
        out.append(f'<div class="card"><div class="n">{bound}</div>'
                   f'<div class="l">generator-bound</div></div>')
    out.append("</div>")
    out.append('<p class="muted">A point is one backend at one idle-connection count in one series, '
               'one repeat. ' + "; ".join(f"<b>{esc(s)}</b>: {esc(POINT_STATUS_MEANING[s])}"
                                         for s in order if s in POINT_STATUS_MEANING) + ".</p>")

    steps = []
    for name, label in (("micro", "wait-bench micro-benchmarks"), ("claims", "claims demonstrations")):
        step = sweep.get(name)
        if isinstance(step, dict):
            s = step.get("status", "unknown")
            detail = step.get("reason") or (f"wrote {step['file']}" if step.get("file") else "")
            if step.get("file") and not os.path.exists(os.path.join(results_dir, str(step["file"]))):
                detail += " (not in this directory)"
            steps.append(f'<li>{esc(label)}: <span class="status {status_class(s)}">{esc(s)}</span>'
                         f'{" — " + esc(detail) if detail else ""}</li>')
        else:
            steps.append(f"<li>{esc(label)}: not run</li>")
    out.append("<p>Steps beside the points:</p><ul>" + "".join(steps) + "</ul>")

    problems = [p for p in points if get(p, "status") not in ("ok", "unsupported")]
    if problems:
        # Overloaded points finished: their offered rate was not kept (latency-vs-load curves
        # are made of them).
        out.append(f"<h3>Points not measured ok ({len(problems)})</h3>")
        out.append('<table class="sortable"><thead><tr><th>point</th><th>status</th>'
                   '<th>reason</th></tr></thead><tbody>')
        for p in problems:
            out.append(f"<tr><td><code>{esc(p.get('id', '?'))}</code></td>"
                       f'<td><span class="status {status_class(p.get("status"))}">'
                       f"{esc(p.get('status', '?'))}</span></td><td>{esc(p.get('reason', ''))}</td></tr>")
        out.append("</tbody></table>")
    unsupported = [p for p in points if get(p, "status") == "unsupported"]
    if unsupported:
        reasons = {}
        for p in unsupported:
            key = (p.get("backend", "?"), re.sub(r"\d+ idle \+ \d+ active connections need more", "",
                                                 str(p.get("reason", ""))).rstrip(": "))
            reasons[key] = reasons.get(key, 0) + 1
        out.append("<details><summary>Unsupported points: why</summary><ul>")
        for (backend, reason), n in sorted(reasons.items()):
            out.append(f"<li>{esc(backend)}, {n} point(s): {esc(reason)}</li>")
        out.append("</ul></details>")
    out.append("</section>")
    return "\n".join(out)


def section_run(sweep, env):
    config = sweep.get("config") if isinstance(sweep.get("config"), dict) else {}
    out = ['<section id="run"><h2>What ran</h2>']
    command = sweep.get("command")
    out.append("<h3>Command</h3>")
    out.append(f"<pre><code>{esc(command)}</code></pre>" if command
               else '<p class="muted">sweep.json records no command.</p>')
    rows = []
    if config.get("backends"):
        rows.append(("backends", ", ".join(map(str, config["backends"]))))
    if config.get("idle") is not None:
        rows.append(("idle connections", ", ".join(map(str, config["idle"]))))
    if config.get("active") is not None:
        rows.append(("active connections", config["active"]))
    if config.get("repeats") is not None:
        rows.append(("repeats per point", config["repeats"]))
    if config.get("duration_s") is not None:
        rows.append(("measured window", f"{config['duration_s']:g} s"))
    if config.get("mode"):
        rows.append(("mode", config["mode"]))
    for key in ("started_utc", "finished_utc"):
        if sweep.get(key):
            rows.append((key.replace("_utc", " (UTC)"), sweep[key]))
    took = duration(sweep.get("started_utc"), sweep.get("finished_utc"))
    if took:
        resumed = sweep.get("resumed_utc")
        rows.append(("wall time", took + (" (resumed; includes the pause)" if resumed else "")))
    for step, label in (("micro", "wait-bench"), ("claims", "claims")):
        outcome = sweep.get(step)
        redone = outcome.get("redone_utc") if isinstance(outcome, dict) else None
        if redone:
            rows.append((f"{label} measured again (UTC)", f"{redone} (sweep --resume --redo)"))
    out.append("<h3>Configuration</h3>" + kv_table(rows))
    series = config.get("series") if isinstance(config.get("series"), list) else []
    if series:
        out.append('<table><thead><tr><th>series</th><th>load</th><th>placement</th>'
                   '<th>generator</th></tr></thead><tbody>')
        for s in series:
            load = s.get("load", "?")
            if load == "open" and config.get("rate") is not None:
                load = f"open loop at {config['rate']:g} msg/s"
            elif load == "closed" and config.get("depth") is not None:
                load = f"closed loop, {config['depth']} in flight per connection"
            placement = s.get("placement", "?")
            placement += {"split": " (server and generator on different CPUs)",
                          "shared": " (server and generator on one CPU)"}.get(placement, "")
            gen = "busy-polling" if s.get("busy_poll") else "sleeping in epoll_wait"
            out.append(f"<tr><td><code>{esc(s.get('name', '?'))}</code></td><td>{esc(load)}</td>"
                       f"<td>{esc(placement)}</td><td>{esc(gen)}</td></tr>")
        out.append("</tbody></table>")

    out.append("<h3>Environment</h3>")
    if env is None:
        out.append('<p class="muted">No environment recorded.</p>')
    else:
        build = env.get("build") if isinstance(env.get("build"), dict) else {}
        fd = env.get("fd_limit")
        fd_text = (f"{fd.get('soft')} (soft), {fd.get('hard')} (hard)" if isinstance(fd, dict) else fd)
        sha = build.get("git_sha")
        rows = [("kernel", " ".join(str(x) for x in (env.get("kernel"), env.get("kernel_version"))
                                     if x)),
                ("CPU", env.get("cpu_model")),
                ("cores", f"{env.get('online_cpus')} online"
                          + (f", allowed: {env['allowed_cpus']}" if env.get("allowed_cpus") else "")),
                ("machine", " · ".join(str(x) for x in (env.get("machine"), env.get("host")) if x)),
                ("fd limit", fd_text),
                ("build", " · ".join(str(x) for x in (build.get("type"), build.get("compiler"),
                                                       f"flags: {build.get('flags')}"
                                                       if build.get("flags") else None) if x)),
                ("git sha", (f"{sha}" + (" (with uncommitted changes)" if build.get("git_dirty")
                                         else "")) if sha else None),
                ("somaxconn", env.get("somaxconn")),
                ("ephemeral ports", str(env.get("ephemeral_port_range") or "").replace("\t", "–")
                 or None),
                ("recorded", env.get("timestamp_utc"))]
        out.append(kv_table([(k, v) for k, v in rows if v not in (None, "", "None online")]))
    out.append("</section>")
    return "\n".join(out)


def kv_table(rows):
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def chart_files(results_dir, names):
    """[(stem, file to show, [all files of that chart])] in reading order."""
    stems = {}
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext in (".svg", ".png") and os.path.isfile(os.path.join(results_dir, name)):
            stems.setdefault(stem, []).append(name)

    def rank(stem):
        for i, (prefix, *_) in enumerate(KNOWN_CHARTS):
            if stem == prefix or (prefix.endswith("-") and stem.startswith(prefix)):
                return (i, stem)
        return (len(KNOWN_CHARTS), stem)

    charts = []
    for stem in sorted(stems, key=rank):
        files = sorted(stems[stem], key=lambda n: n.endswith(".png"))  # SVG first
        charts.append((stem, files[0], files))
    return charts


def chart_text(stem):
    for prefix, title, text, *rest in KNOWN_CHARTS:
        if stem == prefix:
            return title, text
        if prefix.endswith("-") and stem.startswith(prefix):
            words = rest[0] if rest else "series {}"
            suffix = words(stem[len(prefix):]) if callable(words) else words.format(stem[len(prefix):])
            return f"{title}: {suffix}", text
    return stem, ""


def section_charts(charts):
    out = ['<section id="charts"><h2>Charts</h2>']
    if not charts:
        out.append('<p class="muted">No charts in this directory (plot.py did not run, or failed).</p>')
    else:
        out.append('<p class="muted">Points are medians over the repeats; where a run has several '
                   'repeats the bars span min–max. Hollow circles mark points where the load '
                   'generator, not the server, was the bottleneck. Click a chart for the full-size '
                   'file.</p>')
    for stem, shown, files in charts:
        title, text = chart_text(stem)
        links = " · ".join(f'<a href="{esc(f)}">{esc(os.path.splitext(f)[1][1:].upper())}</a>'
                           for f in files)
        out.append(f'<figure class="chart" id="chart-{esc(stem)}"><h3>{esc(title)}</h3>'
                   f"<p>{esc(text)} <span class=\"muted\">({links})</span></p>"
                   f'<a href="{esc(shown)}"><img src="{esc(shown)}" alt="{esc(title)}" '
                   f'loading="eager"></a></figure>')
    out.append("</section>")
    return "\n".join(out)


def section_files(results_dir, names):
    out = ['<section id="files"><h2>Raw files</h2>',
           '<table class="sortable"><thead><tr><th>file</th><th class="num">size</th>'
           "<th>what it holds</th></tr></thead><tbody>"]
    order = list(KNOWN_FILES)
    listed = [n for n in names if n != "index.html" and not n.startswith(".")]
    listed.sort(key=lambda n: (order.index(n) if n in order else len(order),
                               os.path.splitext(n)[1] in (".png", ".svg"), n))
    for name in listed:
        path = os.path.join(results_dir, name)
        if os.path.isdir(path):
            try:
                count = len(os.listdir(path))
            except OSError:
                count = 0
            if count == 0:  # a resumed run whose reports are packed keeps an empty points/
                continue
            size = f"{count} files"
            href = name + "/"
        else:
            try:
                size = human_size(os.path.getsize(path))
            except OSError:
                size = "?"
            href = name
        what = KNOWN_FILES.get(name, "chart" if name.endswith((".png", ".svg")) else "")
        out.append(f'<tr><td><a href="{esc(href)}">{esc(href)}</a></td><td class="num">{esc(size)}'
                   f"</td><td>{esc(what)}</td></tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def build_page(results_dir, sweep):
    names = sorted(os.listdir(results_dir))
    env = read_json(os.path.join(results_dir, "env.json"))
    if not isinstance(env, dict):
        env = sweep.get("environment") if isinstance(sweep.get("environment"), dict) else None
    summary = read_text(os.path.join(results_dir, "summary.md"))
    charts = chart_files(results_dir, names)

    run_id = sweep.get("run_id") or os.path.basename(os.path.abspath(results_dir))
    mode = get(sweep, "config", "mode")
    title = f"muxbench sweep {run_id}"
    lede = ("muxbench measures what select, poll, epoll, Asio and io_uring echo servers pay as idle "
            "connections are added beside a fixed number of busy ones. This page is one sweep: "
            "its findings, its charts, what ran where, and the raw data.")
    when = sweep.get("started_utc", "")
    where = ", ".join(str(x) for x in (get(env, "host"), get(env, "cpu_model"),
                                       f"{get(env, 'online_cpus')} CPUs" if get(env, "online_cpus")
                                       else None, get(env, "kernel")) if x)
    status = sweep.get("status") or "unknown"
    nav = [("status", "Status"), ("findings", "Findings"), ("charts", "Charts"),
           ("run", "What ran"), ("files", "Raw files")]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<header><h1>{esc(title)}"
        f' <span class="status {status_class(status)}">{esc(status.replace("_", " "))}</span></h1>',
        f'<p class="lede">{esc(" · ".join(x for x in (f"{mode} mode" if mode else "", when, where) if x))}</p>',
        "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav) + "</nav></header>",
        f"<p>{esc(lede)}</p>",
        section_status(sweep, results_dir),
        '<section id="findings"><h2>Findings</h2>',
    ]
    if summary is not None:
        parts.append('<div class="summary">' + render_markdown(summary) + "</div>")
    else:
        parts.append('<p class="muted">No summary.md in this directory.</p>')
    parts += ["</section>", section_charts(charts), section_run(sweep, env),
              section_files(results_dir, names),
              f'<footer>Written by plots/report.py at '
              f'{esc(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))} '
              "from the files in this directory.</footer>",
              f"</main><script>{SORT_SCRIPT}</script></body></html>", ""]
    return "\n".join(parts)


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".index.html.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dir", help="a sweep's results directory (holds sweep.json)")
    args = parser.parse_args(argv)  # exits 2 on bad usage
    results_dir = args.results_dir
    if not os.path.isdir(results_dir):
        print(f"{PROG}: {results_dir}: no such directory", file=sys.stderr)
        return 2
    sweep_path = os.path.join(results_dir, "sweep.json")
    try:
        with open(sweep_path, encoding="utf-8") as f:
            sweep = json.load(f)
        if not isinstance(sweep, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        print(f"{PROG}: cannot read {sweep_path}: {e}", file=sys.stderr)
        return 1
    output = os.path.join(results_dir, "index.html")
    try:
        page = build_page(results_dir, sweep)
        write_atomically(output, page)
    except OSError as e:
        print(f"{PROG}: cannot write {output}: {e}", file=sys.stderr)
        return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
