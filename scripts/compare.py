#!/usr/bin/python3
"""Compares two sweep results side by side: compare.py DIR_A DIR_B [--metric M] [--series S]

For every (series, backend, idle count) measured in both runs it prints the medians of one metric
and their ratio B/A. Metrics: server_cpu_us_per_msg (default), throughput_msgs_per_s,
latency_p50_ns, latency_p99_ns, server_cpu_ns_per_wait, events_per_wait, ... (see sweep.json
aggregates). Standard library only; run with the system Python."""
import argparse
import json
import os
import sys


def load(directory):
    with open(os.path.join(directory, "sweep.json")) as f:
        sweep = json.load(f)
    table = {}
    for a in sweep["aggregates"]:
        table[(a["series"], a["backend"], a["idle"])] = a
    return sweep, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--metric", default="server_cpu_us_per_msg")
    parser.add_argument("--series", help="only this series (e.g. closed-split)")
    args = parser.parse_args()
    try:
        (sweep_a, a), (sweep_b, b) = load(args.a), load(args.b)
    except (OSError, ValueError, KeyError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    for label, sweep in (("A", sweep_a), ("B", sweep_b)):
        env = sweep["environment"]
        print(f"{label}: {sweep['run_id']} ({sweep['config']['mode']}), {env['cpu_model']}, "
              f"{env['kernel']}, git {env['build']['git_sha'][:10]}")
    print(f"\n{'series':<16} {'backend':<9} {'idle':>6} {'A':>12} {'B':>12} {'B/A':>7}")
    rows = 0
    for key in sorted(set(a) & set(b)):
        if args.series and key[0] != args.series:
            continue
        ma, mb = a[key]["metrics"].get(args.metric), b[key]["metrics"].get(args.metric)
        if not ma or not mb:
            continue
        ratio = mb["median"] / ma["median"] if ma["median"] else float("nan")
        print(f"{key[0]:<16} {key[1]:<9} {key[2]:>6} {ma['median']:>12.4g} {mb['median']:>12.4g} {ratio:>7.2f}")
        rows += 1
    if rows == 0:
        print(f"compare.py: no point measured in both runs has {args.metric}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
