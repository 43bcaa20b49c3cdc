#!/usr/bin/python3
"""Derives from wait-bench's Google Benchmark JSON (kept as is) a flat CSV and a table in the style
of The Linux Programming Interface's Table 63-9: time for 100,000 monitoring operations with one
ready fd, at 10, 100, 1000 and 10000 registered fds, computed from this machine's measurements.

Usage: micro_report.py MICRO_JSON [--csv OUT.csv] [--table OUT.md]
Standard library only (run with the system Python)."""
import argparse
import csv
import json
import math
import re
import sys

# ready:all (every registered descriptor ready) is read as ready = fds. Rows of other shapes
# (conn_cycle/<backend>, echo_syscalls/tcp/size:<S>, BigO/RMS rows) are not wait calls: skipped.
NAME = re.compile(r"^(?P<backend>[a-z_-]+)/(?P<kind>socketpair|tcp)(?:/ready:(?P<ready>\d+|all))?/fds:(?P<fds>\d+)")
COLUMNS = ["name", "backend", "kind", "ready", "fds", "run_type", "aggregate", "ns_per_call",
           "ns_per_fd", "iterations", "repetition", "error"]
TABLE_FDS = [10, 100, 1000, 10000]
TABLE_BACKENDS = [("poll", "poll"), ("select", "select"), ("epoll-lt", "epoll (LT)")]


def backend_of(match):
    """A wait family (<backend>/<kind>/ready:K) is named after echo-server's backend: older results
    spelled it with '_' (epoll_lt, uring_poll), read here as today's name (the rule of
    canonical_backend_name in common/backend_table.hpp). epoll_ctl_* families are named after the
    system call and keep their name."""
    return match["backend"].replace("_", "-") if match["ready"] is not None else match["backend"]


def ready_count(match):
    """Ready descriptors per call: K of ready:K, N of ready:all, empty for epoll_ctl_* rows."""
    if match["ready"] is None:
        return ""
    return int(match["fds"]) if match["ready"] == "all" else int(match["ready"])


def number(value):
    """A numeric cell: the number, or empty when there is none. Google Benchmark's JSON has bare
    NaN (read as float nan) where the sweep's copy has null: both are empty here, never the text
    'nan', so that a column's type does not depend on which file was read."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return ""
    return value


def rows(report):
    for bench in report.get("benchmarks", []):
        match = NAME.match(bench.get("run_name", bench["name"]))
        if not match:
            continue  # BigO / RMS rows of a family have no fds in their name
        error = bench.get("error_message", "") if bench.get("error_occurred") else ""
        yield {
            "name": bench["name"],
            "backend": backend_of(match),
            "kind": match["kind"],
            "ready": ready_count(match),
            "fds": int(match["fds"]),
            "run_type": bench.get("run_type", ""),
            # Never empty: an all-empty column reads as float (pandas) in a run without
            # repetitions and as text in one with them. Iteration rows say "none".
            "aggregate": bench.get("aggregate_name") or "none",
            "ns_per_call": "" if error else number(bench.get("ns_per_call")),
            "ns_per_fd": "" if error else number(bench.get("ns_per_fd")),
            "iterations": number(bench.get("iterations")),
            "repetition": number(bench.get("repetition_index")),
            "error": error,
        }


def per_call(table_rows, backend, fds):
    """The median over repetitions (or the single run) of ns per call; None when not measured."""
    values = sorted(r["ns_per_call"] for r in table_rows
                    if r["backend"] == backend and r["fds"] == fds and r["run_type"] == "iteration"
                    and r["ns_per_call"] != "")
    errors = [r["error"] for r in table_rows
              if r["backend"] == backend and r["fds"] == fds and r["error"]]
    if not values:
        return None, (errors[0] if errors else None)
    return values[len(values) // 2], None


def table(report, all_rows):
    context = report.get("context", {})
    max_pairs = context.get("muxbench_max_pairs_socketpair", "?")
    limit = context.get("muxbench_fd_limit_soft", "?")
    chosen = [r for r in all_rows if r["kind"] == "socketpair" and r["ready"] == 1]
    lines = [
        "Time for 100,000 monitoring operations with one ready fd (seconds), in the style of TLPI",
        "Table 63-9; measured by wait-bench (socketpair fds, one wait call timed per operation).",
        "",
        "| fds monitored | " + " | ".join(label for _, label in TABLE_BACKENDS) + " |",
        "|---:|" + "---:|" * len(TABLE_BACKENDS),
    ]
    for fds in TABLE_FDS:
        cells = []
        for backend, _ in TABLE_BACKENDS:
            value, error = per_call(chosen, backend, fds)
            if value is not None:
                cells.append(f"{value * 1e5 / 1e9:.3f}")
            elif error and "FD_SETSIZE" in error:
                cells.append("impossible (FD_SETSIZE)")
            elif max_pairs != "?" and fds > int(max_pairs):
                cells.append(f"not allowed here (fd limit {limit}: at most {max_pairs} pairs)")
            else:
                cells.append("not measured" + (f": {error}" if error else ""))
        lines.append(f"| {fds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("micro_json")
    parser.add_argument("--csv")
    parser.add_argument("--table")
    args = parser.parse_args()
    try:
        with open(args.micro_json) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        print(f"micro_report: cannot read {args.micro_json}: {e}", file=sys.stderr)
        return 1
    all_rows = list(rows(report))
    if args.csv:
        with open(args.csv + ".tmp", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(all_rows)
        import os
        os.replace(args.csv + ".tmp", args.csv)
    text = table(report, all_rows)
    if args.table:
        with open(args.table, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
