#!/usr/bin/python3
"""Checks that files are strict JSON (RFC 8259): strict_json.py FILE...

Python's json module, like Google Benchmark's writer, accepts bare NaN and Infinity, which
JavaScript's JSON.parse and other strict readers reject. Each file is parsed with those refused;
a file with one JSON document per line (.jsonl) is checked line by line.
Exit code: 0 all strict, 1 a file is not, 2 bad usage."""
import json
import sys


def refuse(constant):
    raise ValueError(f"{constant} is not JSON")


def check(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    documents = text.splitlines() if path.endswith(".jsonl") else [text]
    for number, document in enumerate(documents, 1):
        if not document.strip() and path.endswith(".jsonl"):
            continue
        try:
            json.loads(document, parse_constant=refuse)
        except ValueError as error:
            where = f"{path}:{number}" if path.endswith(".jsonl") else path
            return f"{where}: {error}"
    return None


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr if len(argv) < 2 else sys.stdout)
        return 2 if len(argv) < 2 else 0
    problems = [p for p in (check(path) for path in argv[1:]) if p]
    for problem in problems:
        print(f"strict_json: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
