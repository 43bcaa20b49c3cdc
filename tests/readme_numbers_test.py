#!/usr/bin/python3
"""Tests scripts/readme_numbers.py's keys on a synthetic results directory (SYNTHETIC TEST DATA,
not measurements): an aggregate at the run's base workload and at a named one, a line of the
map, a point by id and over its repeats, a placeholder filled, a wrong number found, and a refresh that keeps the decimals.

  readme_numbers_test.py SCRIPT"""
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(SCRIPT)))
import readme_numbers  # noqa: E402

failures = []


def expect(condition, what):
    if not condition:
        failures.append(what)


def aggregate(active, lifetime, value):
    return {"series": "closed-split", "backend": "poll", "idle": 0, "active": active, "size": 64,
            "lifetime": lifetime, "rate": None, "rate_fraction": None,
            "metrics": {"server_cpu_us_per_msg": {"median": value}}}


with tempfile.TemporaryDirectory() as results:
    # The activity study's aggregate comes first, as it can in a run's list.
    sweep = {"config": {"active": 10, "size": 64},
             "aggregates": [aggregate(1000, None, 2.5), aggregate(10, 1, 14.0),
                            aggregate(10, None, 5.25)],
             "points": [{"id": f"closed-split__poll__idle100__r{r}", "idle_open_seconds": v}
                        for r, v in ((1, 0.5), (2, 0.25), (3, 9.0))] +
                       [{"id": "closed-split__poll__idle1000__r1", "idle_open_seconds": None}]}
    summary = {"map": {"churn": [{"backend": "select", "idle": 0, "crossing": {"at": 99.0}},
                                 {"backend": "poll", "idle": 1000, "crossing": {"at": 7.0}},
                                 {"backend": "poll", "idle": 0, "crossing": {"at": 3.25}}]}}
    for name, document in (("sweep.json", sweep), ("summary.json", summary)):
        with open(os.path.join(results, name), "w") as f:
            json.dump(document, f)
    resolve = readme_numbers.resolve
    expect(resolve("agg:closed-split/poll/0/server_cpu_us_per_msg", results) == 5.25,
           "agg: the base workload, not the first aggregate of that backend and idle count")
    expect(resolve("agg:closed-split/poll/0/server_cpu_us_per_msg/active=1000", results) == 2.5,
           "agg: a named active count")
    expect(resolve("agg:closed-split/poll/0/server_cpu_us_per_msg/lifetime=1", results) == 14.0,
           "agg: a named lifetime")
    expect(resolve("map:churn/poll/0/crossing/at", results) == 3.25, "map: backend and idle")
    expect(resolve("point:closed-split__poll__idle100__r3/idle_open_seconds", results) == 9.0,
           "point: one repeat by its id")
    expect(resolve("point:closed-split__poll__idle100/idle_open_seconds", results) == 0.5,
           "point: the median over the repeats (not idle1000's, not idle100's r1 alone)")
    for missing in ("point:closed-split__poll__idle10/idle_open_seconds",
                    "point:closed-split__poll__idle1000/idle_open_seconds"):
        try:
            resolve(missing, results)
            failures.append(f"{missing}: resolved (no such point, or no value)")
        except KeyError:
            pass
    try:
        resolve("map:churn/epoll-lt/0/crossing/at", results)
        failures.append("map: a line that does not exist resolved")
    except KeyError:
        pass

    readme = os.path.join(results, "README.md")
    with open(readme, "w") as f:
        f.write("poll costs \u27e6agg:closed-split/poll/0/server_cpu_us_per_msg|1\u27e7 µs; "
                "churn from \u27e6map:churn/poll/0/crossing/at|0\u27e7 exchanges\n")
    run = lambda *args: subprocess.run([sys.executable, SCRIPT, *args, readme, results],
                                       capture_output=True, text=True)
    expect(run("--fill").returncode == 0, "--fill")
    text = open(readme).read()
    expect("5.2<!--ref:agg:closed-split/poll/0/server_cpu_us_per_msg-->" in text or
           "5.3<!--ref:agg:closed-split/poll/0/server_cpu_us_per_msg-->" in text, "filled: " + text)
    expect(run().returncode == 0, "the filled text checks")
    with open(readme, "w") as f:
        f.write(text.replace("exchanges", "exchanges, 9.9<!--ref:map:churn/poll/0/crossing/at-->"))
    checked = run()
    expect(checked.returncode == 1 and "README says 9.9" in checked.stderr,
           "a wrong number is found: " + checked.stderr)
    expect(run("--refresh").returncode == 0, "--refresh")
    expect("3.2<!--ref:map:churn/poll/0/crossing/at-->" in open(readme).read(),
           "refreshed with its decimals")

for failure in failures:
    print("FAIL:", failure)
print(f"readme_numbers_test: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
