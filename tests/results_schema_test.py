#!/usr/bin/python3
"""The JSON Schemas of results/schema/ against real files (scripts/validate_results.py --strict).

  results_schema_test.py reference DIR          the committed reference run (points.tar.xz too)
  results_schema_test.py fixtures DIR...        loadgen report fixtures, stats snapshot fixtures
  results_schema_test.py sweep SWEEP_BINARY OUT a tiny sweep run into OUT, then every file in it
  results_schema_test.py broken FIXTURES_DIR    broken documents must be refused, naming the field

Exit 0 when every check holds, 1 otherwise, 77 (skipped) without python3-jsonschema."""
import copy
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

SOURCE = pathlib.Path(__file__).resolve().parent.parent
VALIDATE = SOURCE / "scripts" / "validate_results.py"


def validate(*paths):
    result = subprocess.run([sys.executable, str(VALIDATE), "--strict", *map(str, paths)],
                            capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def expect_valid(*paths):
    code, said = validate(*paths)
    print(said, end="")
    if code != 0:
        print(f"FAIL: validate_results exited {code} for {' '.join(map(str, paths))}")
        return False
    return True


def reference(directory):
    return expect_valid(directory)


def fixtures(*directories):
    return expect_valid(*directories)


def sweep(binary, out):
    out = pathlib.Path(out)
    shutil.rmtree(out, ignore_errors=True)
    command = [binary, "--backends", "epoll-lt", "--idle", "0",
               "--series", "closed-split,open-split-busy", "--late-tolerance", "100ms",
               "--duration", "200ms", "--warmup", "50ms", "--micro-filter", "none", "--no-plots",
               "--out", str(out)]
    print("$ " + " ".join(command))
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        print(f"FAIL: the sweep exited {run.returncode}")
        return False
    ok = True
    # Every kind a sweep writes is there to be validated (a file missing would pass silently).
    expected = ["env.json", "sweep.json", "summary.json", "claims.json"]
    for name in expected:
        if not (out / name).is_file():
            print(f"FAIL: the sweep wrote no {name}")
            ok = False
    for suffix in (".loadgen.json", ".server.json"):
        found = sorted((out / "points").glob("*" + suffix))
        if len(found) != 2:
            print(f"FAIL: expected 2 points/*{suffix}, found {[p.name for p in found]}")
            ok = False
    return expect_valid(out) and ok


def refused(name, document, mentions, workdir):
    """One broken document must make validate_results exit 1 and name what is wrong."""
    path = pathlib.Path(workdir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    code, said = validate(path)
    if code == 1 and mentions in said:
        print(f"ok: {name} refused: {said.splitlines()[0]}")
        return True
    print(f"FAIL: {name}: expected exit 1 mentioning {mentions!r}, got {code}:\n{said}")
    return False


def broken(fixtures_dir):
    fixtures_dir = pathlib.Path(fixtures_dir)
    report = json.loads((fixtures_dir / "loadgen" / "report_open.json").read_text())
    merged = json.loads((fixtures_dir / "loadgen" / "merged_open_and_connect_failed.json").read_text())
    snapshot = json.loads((fixtures_dir / "echo_server_stats_poll.jsonl").read_text().splitlines()[0])
    env = report["environment"]
    cases = []

    def case(name, mentions, mutate, base=report):
        document = copy.deepcopy(base)
        mutate(document)
        cases.append((name, document, mentions))

    case("wrong_status.json", "'OK' is not one of", lambda d: d.update(status="OK"))
    case("status_spelled_with_dash.json", "'connect-failed' is not one of",
         lambda d: d.update(status="connect-failed"))
    case("missing_problems.json", "'problems' is a required property", lambda d: d.pop("problems"))
    case("missing_latency_p99.json", "'p99' is a required property",
         lambda d: d["latency_ns"].pop("p99"))
    case("measured_without_errors.json", "'errors' is a dependency of 'throughput'",
         lambda d: d.pop("errors"))
    case("count_as_text.json", "'772' is not of type 'integer'",
         lambda d: d["throughput"].update(messages="772"))
    case("unknown_nested_field.json", "'mesages' was unexpected",
         lambda d: d["throughput"].update(mesages=1))
    case("undocumented_top_level.json", "top-level fields no schema describes: extra",
         lambda d: d.update(extra=1))
    case("unknown_kind.json", "unknown kind 'loadgen-reprot'", lambda d: d.update(kind="loadgen-reprot"))
    case("newer_schema_version.json", "1 was expected", lambda d: d.update(schema_version=2))
    churn = {"lifetime": 1, "opened": 3, "closed": 3, "opened_per_s": 3.0,
             "connect_latency_ns": report["latency_ns"], "connect_failures": 0,
             "port_exhaustion": False, "tcp_tw_reuse": 2, "local_port_range": [32768, 60999]}
    case("churn_missing_port_exhaustion.json", "'port_exhaustion' is a required property",
         lambda d: d.update(churn={k: v for k, v in churn.items() if k != "port_exhaustion"}))
    case("churn_lifetime_zero.json", "0 is less than the minimum of 1",
         lambda d: d.update(churn=dict(churn, lifetime=0)))
    case("churn_port_range_of_three.json", "/churn/local_port_range",
         lambda d: d.update(churn=dict(churn, local_port_range=[1, 2, 3])))
    case("merged_generator_with_histogram.json", "/generators[0]/histogram: False schema",
         lambda d: d["generators"][0].update(histogram=report["histogram"]), base=merged)
    case("merged_wrong_status.json", "'fine' is not one of", lambda d: d.update(status="fine"),
         base=merged)
    case("snapshot_wrong_reason.json", "'sigusr1' is not one of",
         lambda d: d.update(reason="sigusr1"), base=snapshot)
    case("snapshot_missing_counter.json", "'bytes_out' is a required property",
         lambda d: d["counters"].pop("bytes_out"), base=snapshot)
    with tempfile.TemporaryDirectory() as workdir:
        ok = all([refused(name, document, mentions, workdir) for name, document, mentions in cases])
        bad_env = dict(env, kind="environment", schema_version=1, hostname="x")
        ok &= refused("env.json", bad_env, "'hostname' was unexpected", workdir)
        bad_points = [dict(snapshot, kind="echo-server-stat")]
        ok &= refused("points/a.server.json", bad_points, "echo-server-stat", workdir)
        ok &= refused("nan.json", json.dumps(report).replace('"mean": 22732285.477333333',
                                                              '"mean": NaN'),
                      "not strict JSON: NaN", workdir)
        ok &= refused("micro.json", '{"benchmarks": [{"x": NaN}]}', "not strict JSON", workdir)
        # The target shapes of the pending C++ changes are accepted already.
        wrapped = pathlib.Path(workdir) / "ok" / "points" / "b.server.json"
        wrapped.parent.mkdir(parents=True)
        wrapped.write_text(json.dumps({"schema_version": 1, "kind": "echo-server-snapshots",
                                       "snapshots": [snapshot]}))
        (wrapped.parent.parent / "env.json").write_text(
            json.dumps(dict(env, kind="environment", schema_version=1)))
        ok &= expect_valid(wrapped.parent.parent)
    return ok


def main():
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        print("skipped: python3-jsonschema is not installed (./scripts/setup --tests)")
        return 77
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mode, args = sys.argv[1], sys.argv[2:]
    checks = {"reference": reference, "fixtures": fixtures, "sweep": sweep, "broken": broken}
    if mode not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if checks[mode](*args) else 1


if __name__ == "__main__":
    sys.exit(main())
