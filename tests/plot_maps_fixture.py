#!/usr/bin/python3
"""Writes a small synthetic sweep run in the sweep.json format of the map studies (points and
aggregates with active, size, lifetime, rate, rate_fraction; config.studies):

  plot_maps_fixture.py DIR

SYNTHETIC TEST DATA: every number comes from the made-up cost model below (plausible shapes,
not measurements). It exists to exercise plots/plot.py's chart families:
  idle study      closed-split and open-split, idle 0/100/1000/3000, the base workload (select
                  past FD_SETSIZE at 3000: unsupported)
  activity        closed-split, idle 0/100/1000 x active 1/10/100 (select at 1000 idle and
                  100 active is past FD_SETSIZE: unsupported)
  churn           closed-split, idle 0/100/1000 x lifetime 1/10/100 at 10 active
  size            closed-split, idle 0, size 64 B to 64 KiB
  load            open-split, idle 0 and 1000, rate fractions 0.25 to 1.2 of each backend's
                  closed-loop capacity (1.2 overloaded; one repeat of select at 1000 idle and
                  0.9 overloaded too: a mixed cell); open-split-busy, idle 0, fixed rates
                  5k to 200k msg/s (200k overloaded for every backend)
Three repeats per point, with a deterministic spread of a few percent."""
import json
import os
import random
import statistics
import sys

BACKENDS = ["select", "poll", "epoll-lt", "uring-poll"]
IDLE = [0, 100, 1000]
IDLE_STUDY = IDLE + [3000]  # the idle study goes further than the others, as the sweep's do
ACTIVE = [1, 10, 100]
LIFETIME = [1, 10, 100, None]
SIZE = [64, 1024, 16384, 65536]
FRACTIONS = [0.25, 0.5, 0.75, 0.9, 1.2]
RATES = [5000.0, 20000.0, 80000.0, 200000.0]
BASE = {"active": 10, "size": 64, "rate": 10000.0}
REPEATS = 3
FD_SETSIZE = 1024

SERIES = {
    "closed-split": {"name": "closed-split", "load": "closed", "placement": "split",
                     "busy_poll": False},
    "open-split": {"name": "open-split", "load": "open", "placement": "split", "busy_poll": False},
    "open-split-busy": {"name": "open-split-busy", "load": "open", "placement": "split",
                        "busy_poll": True},
}


# ---------------------------------------------------------------------------------------------
# The made-up cost model (µs of server CPU)

def events_per_wait(active):
    return max(1.0, active / 4)


def cpu_per_msg(backend, idle, active, size, lifetime):
    """Synthetic: a base cost per echo, a scan of every watched fd per wait call for select and
    poll (shared by the events of one call), a cost per connection spread over its lifetime and
    a cost per byte."""
    base = {"select": 5.9, "poll": 5.6, "epoll-lt": 6.0, "uring-poll": 6.5}[backend]
    per_fd = {"select": 0.24, "poll": 0.22}.get(backend, 0.0)
    scan = per_fd * (idle + active) / events_per_wait(active)
    per_conn = {"select": 16.0, "poll": 15.0, "epoll-lt": 24.0, "uring-poll": 30.0}[backend]
    churn = per_conn / lifetime if lifetime else 0.0
    bytes_cost = size * 0.0004 + (0.8 if size > 16384 and backend == "epoll-lt" else 0.0)
    return base + scan + churn + bytes_cost


def interest_changes(backend, size):
    if size <= 1024:
        return 0.0
    return (2.0 if size > 16384 else 0.3) * (1.0 if backend.startswith("epoll") else 0.5)


def latency_ns(capacity, offered, cpu):
    """p50 and p99 of an open loop offered `offered` msg/s against `capacity` (M/M/1-like)."""
    rho = min(offered / capacity, 0.97)
    p50 = (20_000 + 1_000 * cpu) / (1 - rho)
    return p50, p50 * (4 + 6 * rho)


# ---------------------------------------------------------------------------------------------
# Points

def unsupported(backend, idle, active):
    return backend == "select" and idle + active > FD_SETSIZE


def cell(series, backend, idle, active=BASE["active"], size=BASE["size"], lifetime=None,
         rate=None, rate_fraction=None):
    return {"series": series, "backend": backend, "idle": idle, "active": active, "size": size,
            "lifetime": lifetime, "rate": rate, "rate_fraction": rate_fraction}


def grid():
    """Every (series, backend, workload) of the run, each once (the studies overlap)."""
    cells = []
    for backend in BACKENDS:
        for idle in IDLE_STUDY:
            cells.append(cell("closed-split", backend, idle))
            cells.append(cell("open-split", backend, idle, rate=BASE["rate"]))
        for idle in IDLE:
            cells += [cell("closed-split", backend, idle, active=a) for a in ACTIVE]
            cells += [cell("closed-split", backend, idle, lifetime=n) for n in LIFETIME]
        cells += [cell("closed-split", backend, 0, size=s) for s in SIZE]
        for idle in (0, 1000):
            cells += [cell("open-split", backend, idle, rate_fraction=f) for f in FRACTIONS]
        cells += [cell("open-split-busy", backend, 0, rate=r) for r in RATES]
    unique = {}
    for c in cells:
        unique.setdefault(json.dumps(c, sort_keys=True), c)
    return list(unique.values())


def measure(c, rng):
    """One synthetic repeat of a cell: (status, throughput, cpu/msg, extra fields)."""
    cpu = cpu_per_msg(c["backend"], c["idle"], c["active"], c["size"], c["lifetime"])
    cpu *= rng.uniform(0.97, 1.03)
    capacity = 1e6 / cpu
    if SERIES[c["series"]]["load"] == "closed":
        return "ok", capacity * 0.95, cpu, {}
    offered = c["rate"] if c["rate"] is not None else c["rate_fraction"] * capacity
    overloaded = offered > capacity
    achieved = min(offered, capacity * 0.98)
    p50, p99 = latency_ns(capacity, offered, cpu)
    if overloaded:
        p50, p99 = p50 * 40, p99 * 60
    # Below capacity a wake-up serves fewer messages: CPU per message grows as the load falls.
    cpu *= 1 + 0.3 * (1 - achieved / capacity)
    return ("overloaded" if overloaded else "ok"), achieved, cpu, \
        {"offered": offered, "p50": p50, "p99": p99}


def make_point(c, repeat, rng):
    total = c["idle"] + c["active"]
    s = SERIES[c["series"]]
    lifetime = f"__life{c['lifetime']}" if c["lifetime"] else ""
    rate = (f"__rate{c['rate']:g}" if c["rate"] is not None else "") + (
        f"__frac{c['rate_fraction']:g}" if c["rate_fraction"] is not None else "")
    p = dict(c, id=f"{c['series']}__{c['backend']}__idle{c['idle']}__act{c['active']}"
                   f"__size{c['size']}{lifetime}{rate}__r{repeat}",
             load=s["load"], placement=s["placement"], busy_poll=s["busy_poll"], total_fds=total,
             repeat=repeat)
    if unsupported(c["backend"], c["idle"], c["active"]):
        return dict(p, status="unsupported",
                    reason=f"select cannot watch {total} fds (FD_SETSIZE {FD_SETSIZE})")
    status, throughput, cpu, extra = measure(c, rng)
    if (c["backend"], c["idle"], c["rate_fraction"], repeat) == ("select", 1000, 0.9, 3):
        status = "overloaded"  # one repeat of three: a mixed cell
    epw = events_per_wait(c["active"])
    p.update(status=status, throughput_msgs_per_s=throughput,
             throughput_mb_per_s=throughput * c["size"] / 1e6,
             generator={"bound": False, "fell_behind": status == "overloaded"},
             server={"cpu_us_per_msg": cpu, "events_per_wait": epw,
                     "fds_per_wait": total if c["backend"] in ("select", "poll") else epw,
                     "interest_changes_per_msg": interest_changes(c["backend"], c["size"])})
    p50, p99 = extra.get("p50", 30_000 * cpu / 6), extra.get("p99", 90_000 * cpu / 6)
    p["latency_ns"] = {"p50": p50, "p99": p99, "p99_9": p99 * 1.5}
    if c["lifetime"]:
        p["server"]["cpu_us_per_conn"] = cpu * c["lifetime"]
        p["connections"] = {"opened_per_s": throughput / c["lifetime"]}
    if "offered" in extra:  # a rate fraction's point carries the rate it came to
        p["rate"] = extra["offered"]
    return p


METRICS = {
    "throughput_msgs_per_s": lambda p: p["throughput_msgs_per_s"],
    "throughput_mb_per_s": lambda p: p["throughput_mb_per_s"],
    "latency_p50_ns": lambda p: p["latency_ns"]["p50"],
    "latency_p99_ns": lambda p: p["latency_ns"]["p99"],
    "latency_p99_9_ns": lambda p: p["latency_ns"]["p99_9"],
    "server_cpu_us_per_msg": lambda p: p["server"]["cpu_us_per_msg"],
    "events_per_wait": lambda p: p["server"]["events_per_wait"],
    "fds_per_wait": lambda p: p["server"]["fds_per_wait"],
    "interest_changes_per_msg": lambda p: p["server"]["interest_changes_per_msg"],
    "server_cpu_us_per_conn": lambda p: p["server"].get("cpu_us_per_conn"),
    "connections_per_s": lambda p: p.get("connections", {}).get("opened_per_s"),
    "offered_rate_msgs_per_s": lambda p: p.get("rate"),
}


def metric_table(runs):
    """{metric: {median, min, max}} over some runs."""
    table = {}
    for name, get in METRICS.items():
        values = [v for v in (get(p) for p in runs) if v is not None]
        if values:
            table[name] = {"median": statistics.median(values), "min": min(values),
                           "max": max(values)}
    return table


def aggregate(runs):
    """As the sweep aggregates: `metrics` over the ok runs, `overloaded_metrics` (when there are
    some) over the overloaded ones; a rate fraction's aggregate has a null rate."""
    first = runs[0]
    statuses = {p["status"] for p in runs}
    ok = [p for p in runs if p["status"] == "ok"]
    overloaded = [p for p in runs if p["status"] == "overloaded"]
    keys = ("series", "backend", "idle", "active", "size", "lifetime", "rate", "rate_fraction",
            "total_fds")
    a = dict({k: first[k] for k in keys}, runs=len(runs), ok_runs=len(ok),
             status=statuses.pop() if len(statuses) == 1 else "mixed",
             generator_bound=False, fell_behind=bool(overloaded), metrics=metric_table(ok))
    if first["rate_fraction"] is not None:
        a["rate"] = None
    if overloaded:
        a["overloaded_metrics"] = metric_table(overloaded)
    return a


def study(name, series, idle, active=(BASE["active"],), size=(BASE["size"],), lifetime=(None,),
          rates=()):
    return {"name": name, "series": [SERIES[s] for s in series], "idle": list(idle),
            "active": list(active), "size": list(size), "lifetime": list(lifetime),
            "rates": list(rates)}


def sweep_document():
    rng = random.Random(20260102)
    points, aggregates = [], []
    for c in grid():
        runs = [make_point(c, r, rng) for r in range(1, REPEATS + 1)]
        points += runs
        aggregates.append(aggregate(runs))
    config = {"mode": "custom", "backends": BACKENDS, "idle": IDLE_STUDY, "active": BASE["active"],
              "size": BASE["size"], "depth": 1, "rate": BASE["rate"], "duration_s": 1.0,
              "warmup_s": 0.5, "repeats": REPEATS, "server_cpu": 0, "generator_cpu": 1,
              "series": [SERIES["closed-split"], SERIES["open-split"]],
              "studies": [study("idle", ["closed-split", "open-split"], IDLE_STUDY,
                                rates=[BASE["rate"]]),
                          study("activity", ["closed-split"], IDLE, active=ACTIVE),
                          study("churn", ["closed-split"], IDLE, lifetime=LIFETIME),
                          study("size", ["closed-split"], [0], size=SIZE),
                          study("load", ["open-split"], [0, 1000]),
                          study("load", ["open-split-busy"], [0], rates=RATES)]}
    return {"schema_version": 1, "kind": "sweep", "run_id": "synthetic-map-fixture",
            "command": "tests/plot_maps_fixture.py (SYNTHETIC TEST DATA, not a measurement)",
            "status": "completed", "started_utc": "2026-01-02T03:04:05Z",
            "finished_utc": "2026-01-02T04:05:06Z", "resumed_utc": [], "config": config,
            "environment": {"kernel": "Linux synthetic", "cpu_model": "SYNTHETIC TEST DATA",
                            "online_cpus": 2, "fd_limit": {"soft": 20000, "hard": 20000}},
            "micro": {"status": "skipped"}, "points": points, "aggregates": aggregates}


def write(run_dir):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "sweep.json"), "w") as f:
        json.dump(sweep_document(), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    write(sys.argv[1])
