#!/usr/bin/python3
"""Checks that every number the README quotes from the reference run is the number in it.

A quoted number carries an invisible marker right after it:  975.3<!--ref:KEY-->
The number is compared with the value KEY names, rounded to the decimals written (thousands
separators and a leading + are allowed). KEY is one of:
  summary:/json/pointer          results/reference/summary.json
  claims:/json/pointer           results/reference/claims.json
  env:/json/pointer              results/reference/env.json
  sweep:/json/pointer            results/reference/sweep.json
  agg:SERIES/BACKEND/IDLE/METRIC the median of an aggregate in sweep.json, at the run's base
                                 workload (the configured active count and size, persistent
                                 connections) unless /FIELD=VALUE parts follow, e.g.
                                 agg:closed-split/poll/0/server_cpu_us_per_msg/active=1000
  map:SECTION/BACKEND/IDLE/pointer  a line of summary.json's map (SECTION: crossover, activity,
                                 churn, size; IDLE: the line's fixed idle count, 0 along idle),
                                 e.g. map:churn/poll/0/crossing/at
  micro:BENCHMARK/FIELD          wait-bench (median over repetitions), e.g. micro:poll/socketpair/ready:1/fds:1000/ns_per_call
  point:ID/pointer               a point of sweep.json by id; an id without its __rN repeat
                                 suffix is the median over the repeats, e.g.
                                 point:closed-split__poll__idle19000/idle_open_seconds
Usage: readme_numbers.py [--fill | --refresh] [README.md] [RESULTS_DIR]
  (default)  check; exit 1 with a list when anything differs
  --refresh  rewrite every marked number from RESULTS_DIR, keeping its decimals (after a new
             reference run)
  --fill     replace placeholders ⟦KEY|DECIMALS⟧ with the value and its marker (DECIMALS "s":
             plain text such as the CPU model, without a marker)"""
import functools
import json
import os
import re
import sys

MARKER = re.compile(r"([+-]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:[a-zA-Zµ%/ ]{0,12})?<!--ref:([^>]+?)-->")


def canonical(benchmark):
    """wait-bench's names in today's spelling: runs before the backend names were unified wrote
    epoll_lt/..., uring_poll/..., epoll_et_rearm/... (common/backend_table.hpp)."""
    family, slash, rest = benchmark.partition("/")
    return (family if family.startswith("epoll_ctl") else family.replace("_", "-")) + slash + rest


def pointer(document, path):
    value = document
    for part in path.strip("/").split("/"):
        if part == "":
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@functools.lru_cache(maxsize=None)
def load(results, name):  # each file is read once, however many markers name it
    with open(os.path.join(results, name)) as f:
        return json.load(f)


def resolve(key, results):
    kind, _, rest = key.partition(":")
    files = {"summary": "summary.json", "claims": "claims.json", "env": "env.json", "sweep": "sweep.json"}
    if kind in files:
        return pointer(load(results, files[kind]), rest)
    if kind == "agg":
        series, backend, idle, metric, *conditions = rest.split("/")
        sweep = load(results, "sweep.json")
        # The run's base workload unless the key names another: .../active=1000/lifetime=1
        wanted = {"active": sweep["config"].get("active"), "size": sweep["config"].get("size"),
                  "lifetime": None, "rate_fraction": None}
        for condition in conditions:
            field, _, value = condition.partition("=")
            wanted[field] = None if value == "null" else float(value)
        for a in sweep["aggregates"]:
            if (a["series"] == series and a["backend"] == backend and str(a["idle"]) == idle
                    and all(a.get(f, w) == w for f, w in wanted.items())):
                return a["metrics"][metric]["median"]
        raise KeyError(rest)
    if kind == "map":
        section, backend, idle, path = (rest.split("/", 3) + [""])[:4]
        for line in load(results, "summary.json")["map"][section]:
            if line["backend"] == backend and str(line["idle"]) == idle:
                return pointer(line, path)
        raise KeyError(rest)
    if kind == "micro":
        name, _, field = rest.rpartition("/")
        values = sorted(b[field] for b in load(results, "micro.json")["benchmarks"]
                        if canonical(b.get("run_name", b["name"])).startswith(canonical(name) + "/")
                        and b.get("run_type") == "iteration" and field in b)
        if not values:
            raise KeyError(rest)
        return values[len(values) // 2]
    if kind == "point":
        wanted, _, path = rest.partition("/")
        values = sorted(pointer(p, path) for p in load(results, "sweep.json")["points"]
                        if p["id"] == wanted or re.fullmatch(re.escape(wanted) + r"__r\d+", p["id"]))
        if not values or any(v is None for v in values):
            raise KeyError(rest)
        return values[len(values) // 2]
    raise KeyError(f"unknown kind {kind!r}")


PLACEHOLDER = re.compile(r"\u27e6([^|\u27e7]+)\|([0-9s])\u27e7")


def formatted(value, decimals, key=""):
    sign = "+" if key.endswith("percent") else ""  # a change is written with its sign
    text = f"{value:{sign},.{decimals}f}"
    return text if abs(value) >= 10000 else text.replace(",", "")


def rewrite(text, results, fill):
    def from_placeholder(match):
        key, decimals = match.group(1), match.group(2)
        value = resolve(key, results)
        if decimals == "s":
            return str(value)
        return f"{formatted(float(value), int(decimals), key)}<!--ref:{key}-->"

    def from_marker(match):
        written, key = match.group(1), match.group(2).strip()
        decimals = len(written.split(".")[1]) if "." in written else 0
        new = formatted(float(resolve(key, results)), decimals, key)
        return match.group(0).replace(written, new, 1)

    return PLACEHOLDER.sub(from_placeholder, text) if fill else MARKER.sub(from_marker, text)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    mode = next((a for a in sys.argv[1:] if a.startswith("--")), "")
    readme = args[0] if args else "README.md"
    results = args[1] if len(args) > 1 else "results/reference"
    with open(readme) as f:
        text = f.read()
    if mode in ("--fill", "--refresh"):
        try:
            new_text = rewrite(text, results, mode == "--fill")  # everything resolved first
        except (KeyError, IndexError, ValueError, TypeError, OSError) as e:
            print(f"readme_numbers: {e!r}; {readme} left unchanged", file=sys.stderr)
            return 1
        with open(readme + ".tmp", "w") as f:
            f.write(new_text)
        os.replace(readme + ".tmp", readme)
        return 0
    if PLACEHOLDER.search(text):
        print("readme_numbers: unfilled placeholders remain (run with --fill)", file=sys.stderr)
        return 1
    problems, checked = [], 0
    for match in MARKER.finditer(text):
        written, key = match.group(1), match.group(2).strip()
        checked += 1
        try:
            value = float(resolve(key, results))
        except (KeyError, IndexError, ValueError, TypeError, OSError) as e:
            problems.append(f"{key}: cannot resolve ({e!r})")
            continue
        decimals = len(written.split(".")[1]) if "." in written else 0
        quoted = float(written.replace(",", ""))
        if abs(value - quoted) > 0.5 * 10 ** -decimals + 1e-9:  # the written number is not its rounding
            problems.append(f"{key}: README says {written}, the reference run says {value:.{decimals}f}")
    unmarked_refs = text.count("<!--ref:") - checked
    if unmarked_refs:
        problems.append(f"{unmarked_refs} ref marker(s) not directly after a number")
    for problem in problems:
        print(f"readme_numbers: {problem}", file=sys.stderr)
    print(f"readme_numbers: {checked} quoted numbers checked against {results}, {len(problems)} problem(s)")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
