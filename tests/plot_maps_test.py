#!/usr/bin/python3
"""Tests plots/plot.py's chart families of the map studies (maps, load, activity, churn, size)
and their place in plots/report.py's page, on the synthetic run of plot_maps_fixture.py
(SYNTHETIC TEST DATA) and on the sweep.json of the reference run of 2026-12-02 (the format before
the studies, which must draw none of them and nothing else than before).

  plot_maps_test.py --plot plots/plot.py --report plots/report.py --echo-server PATH
                    --old-reference tests/fixtures/sweep/reference-2026-12-02.sweep.json.xz
                    --out DIR

Checks: every expected chart exists as SVG and PNG, non-empty, the SVG parses as XML; the maps
say what they show (ratios, the unsupported select cell, no column the studies did not cross); a
map with no ok cell is drawn as the "nothing to plot" placeholder (a backend every point of which
is unsupported); the idle-study charts are still drawn; plot.py exits 0 and prints no traceback
or warning; index.html shows each new chart with its reading guide."""
import argparse
import json
import lzma
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_maps_fixture  # noqa: E402

failures = []
NEW_CHARTS = ["map-idle-active-poll", "map-idle-active-select", "map-idle-active-uring-poll",
              "map-idle-lifetime-poll", "map-idle-lifetime-select", "map-idle-lifetime-uring-poll",
              "activity", "churn", "size", "load-open-split-idle0", "load-open-split-idle1000",
              "load-open-split-busy-idle0"]
OLD_CHARTS = ["throughput", "cpu_per_message", "events_per_wait", "latency-open-split",
              "percentiles-open-split"]
NEW_PREFIXES = ("map-", "load-", "activity.", "churn.", "size.")


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")
    return condition


def run_plot(args, run_dir):
    done = subprocess.run(["/usr/bin/python3", args.plot, run_dir, "--echo-server",
                           args.echo_server], capture_output=True, text=True, timeout=600)
    check(done.returncode == 0, f"plot.py {run_dir} exited {done.returncode}: {done.stderr}")
    for bad in ("Traceback", "Warning", "warning"):
        check(bad not in done.stderr, f"plot.py {run_dir} printed a {bad}: {done.stderr}")
    return done.stderr


def svg_text(path):
    """The SVG's text (matplotlib draws glyphs as paths and keeps each string as a comment)."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_chart(run_dir, stem):
    for ext in ("svg", "png"):
        path = os.path.join(run_dir, f"{stem}.{ext}")
        if not check(os.path.isfile(path) and os.path.getsize(path) > 0,
                     f"{path} missing or empty"):
            continue
        if ext == "svg":
            try:
                ET.parse(path)
            except ET.ParseError as e:
                check(False, f"{path} is not XML: {e}")


def synthetic(args):
    run_dir = os.path.join(args.out, "synthetic")
    plot_maps_fixture.write(run_dir)
    said = run_plot(args, run_dir)
    for stem in NEW_CHARTS + OLD_CHARTS:
        check_chart(run_dir, stem)
    select_map = svg_text(os.path.join(run_dir, "map-idle-active-select.svg"))
    check("<!-- unsupported -->" in select_map, "the select map shows no unsupported cell")
    check("<!-- 3000 -->" not in select_map,
          "the select map has a column for 3000 idle, where only the idle study measured")
    check("×" in select_map and "break-even (ratio 1)" in select_map,
          "the select map has no ratio annotations or no break-even legend")
    load = svg_text(os.path.join(run_dir, "load-open-split-idle1000.svg"))
    check("hollow: overloaded (rate not kept)" in load, "the load chart has no overloaded note")
    check("nothing to plot" not in svg_text(os.path.join(run_dir, "size.svg")),
          "size.svg is a placeholder although the synthetic run has ok size points")
    print(said, end="")
    return run_dir


def nothing_ok(args):
    """A machine without io_uring: every uring-poll point unsupported. Its maps are the 'nothing
    to plot' placeholder; the other charts are drawn without it."""
    run_dir = os.path.join(args.out, "no-uring")
    plot_maps_fixture.write(run_dir)
    path = os.path.join(run_dir, "sweep.json")
    with open(path) as f:
        sweep = json.load(f)
    for a in sweep["aggregates"]:
        if a["backend"] == "uring-poll":
            a.update(status="unsupported", ok_runs=0, metrics={})
            a.pop("overloaded_metrics", None)
    for p in sweep["points"]:
        if p["backend"] == "uring-poll":
            p.update(status="unsupported", reason="io_uring is not available (synthetic)")
    with open(path, "w") as f:
        json.dump(sweep, f)
    run_plot(args, run_dir)
    for stem in NEW_CHARTS:
        check_chart(run_dir, stem)
        placeholder = "nothing to plot" in svg_text(os.path.join(run_dir, f"{stem}.svg"))
        check(placeholder == ("uring-poll" in stem),
              f"{stem}.svg is {'' if placeholder else 'not '}the 'nothing to plot' placeholder")


def old_format(args):
    """The reference run of 2026-12-02 (before the studies): no new chart, the idle-study charts
    as ever, no error."""
    run_dir = os.path.join(args.out, "reference")
    os.makedirs(run_dir)
    with lzma.open(args.old_reference) as packed, open(os.path.join(run_dir, "sweep.json"), "wb") as f:
        shutil.copyfileobj(packed, f)
    run_plot(args, run_dir)
    names = os.listdir(run_dir)
    new = [n for n in names if n.startswith(NEW_PREFIXES)]
    check(not new, f"the old-format run drew new charts: {new}")
    with open(os.path.join(run_dir, "sweep.json")) as f:
        series = [s["name"] for s in json.load(f)["config"]["series"]]
    per_series = [f"{kind}-{s}" for s in series if s.startswith("open")
                  for kind in ("latency", "percentiles")]
    expected = ["throughput", "cpu_per_message", "events_per_wait"] + per_series
    for stem in expected:
        check_chart(run_dir, stem)


def report(args, run_dir):
    done = subprocess.run(["/usr/bin/python3", args.report, run_dir], capture_output=True,
                          text=True, timeout=120)
    check(done.returncode == 0, f"report.py exited {done.returncode}: {done.stderr}")
    with open(os.path.join(run_dir, "index.html"), encoding="utf-8") as f:
        page = f.read()
    for stem in NEW_CHARTS:
        check(f'<img src="{stem}.svg"' in page, f"index.html shows no {stem}.svg")
    for guide in ("break-even", "overloaded points", "interest changes per message"):
        check(guide in page, f"index.html has no reading guide mentioning {guide!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", required=True, help="plots/plot.py")
    parser.add_argument("--report", required=True, help="plots/report.py")
    parser.add_argument("--echo-server", required=True, help="echo-server (its backend table)")
    parser.add_argument("--old-reference", required=True,
                        help="tests/fixtures/sweep/reference-2026-12-02.sweep.json.xz")
    parser.add_argument("--out", required=True, help="a directory to write into (emptied)")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    run_dir = synthetic(args)
    report(args, run_dir)
    nothing_ok(args)
    old_format(args)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
