#!/usr/bin/python3
"""Runs the README's cheap commands exactly as written, from the source tree after the two setup
commands: every `command`<!--cmd--> and every fenced block right after a <!--cmd--> line. Each
must exit 0 within its time limit. Skipped (77) when the release build they name is absent.

  readme_commands_test.py README SOURCE_DIR"""
import os
import re
import signal
import subprocess
import sys

README, SOURCE = sys.argv[1], sys.argv[2]
INLINE = re.compile(r"`([^`]+)`<!--cmd-->")
BLOCK = re.compile(r"<!--cmd-->\s*\n\s*```sh\n(.*?)\n\s*```", re.S)


def commands(text):
    found = [m.group(1) for m in INLINE.finditer(text)]
    for m in BLOCK.finditer(text):
        lines = [line.strip() for line in m.group(1).splitlines()]
        found.append("\n".join(line for line in lines if line))
    return found


def main():
    with open(README) as f:
        text = f.read()
    if not os.path.exists(os.path.join(SOURCE, "build/release/bin/sweep")):
        print("readme_commands_test: skipped: build/release is not built "
              "(cmake --preset release && cmake --build --preset release)")
        return 77
    found = commands(text)
    if not found:
        print("readme_commands_test: no <!--cmd--> commands in the README")
        return 1
    failures = 0
    for command in found:
        # A ctest command runs inside this ctest run: it is listed (-N), not run twice (its tests
        # run in this same run), and must name at least one test.
        listed = command.startswith("ctest ")
        if listed:
            command += " -N"
        # -e: a block fails at its first failing line; its own session, so that whatever it
        # left running (a server started with &) is killed with it.
        child = subprocess.Popen(["bash", "-e", "-c", command], cwd=SOURCE, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True)
        try:
            out, err = child.communicate(timeout=900)
            ok = child.returncode == 0
            if listed:
                total = re.search(r"Total Tests: (\d+)", out)
                ok = ok and total is not None and int(total.group(1)) > 0
                err = err or out
            detail = f"exit {child.returncode}: {err.strip()[-400:]}"
        except subprocess.TimeoutExpired:
            ok, detail = False, "timed out after 900 s"
        finally:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        print(f"{'ok  ' if ok else 'FAIL'} {command!r}" + ("" if ok else f"\n     {detail}"))
        failures += not ok
    print(f"readme_commands_test: {len(found)} command(s), {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
