#!/usr/bin/python3
"""Validates muxbench result files against the JSON Schemas in results/schema/.

Usage: validate_results.py [--schemas DIR] [--strict] [--quiet] PATH...

Each PATH is a file or a directory (walked recursively). A file is matched to its schema by its
`kind` (every file kind but env.json has one; a JSON Lines file, like the echo-server's stats on
standard output, has one document per line), by name for env.json and points/*.server.json
(today a bare array), and Google Benchmark's micro.json (not ours) is only checked to be strict
JSON. A `points.tar.xz` (the reference run's packed points) is validated member by member without
unpacking it. Every file is strict JSON: NaN and Infinity are refused.

--strict also refuses top-level fields that a schema does not describe: the schemas accept
unknown top-level fields (fields are added within a schema_version, and older readers must take
newer files), but this suite's own outputs must not carry fields nobody documented.

Exit status: 0 when every file is valid, 1 when one is not (each problem is printed with the file
and the JSON path), 2 for a usage error (no schemas, a path that does not exist, no file found).
Needs python3-jsonschema (Debian; draft 2020-12 support: 4.x)."""
import argparse
import json
import os
import pathlib
import sys
import tarfile
import urllib.parse

try:
    import jsonschema
except ImportError:  # pragma: no cover - said plainly, exit 2
    print("validate_results: python3-jsonschema is not installed (./scripts/setup --tests)",
          file=sys.stderr)
    sys.exit(2)

DEFAULT_SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "results" / "schema"

# kind -> schema file (results/schema/KIND.schema.json unless said here).
KIND_SCHEMAS = {
    "echo-server-stats": "echo-server-stats.schema.json",
    "echo-server-snapshots": "echo-server-snapshots.schema.json",
    "loadgen-report": "loadgen-report.schema.json",
    "loadgen-merged-report": "loadgen-merged-report.schema.json",
    "sweep": "sweep.schema.json",
    "sweep-summary": "sweep-summary.schema.json",
    "claims": "claims.schema.json",
    "environment": "env.schema.json",
}
NOT_OURS = {"micro.json"}  # Google Benchmark's JSON: strict JSON only


def strict_loads(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


class Validators:
    """The schemas of one directory, each identified by its file URI so that relative $refs
    (common.schema.json#/$defs/...) resolve between them; jsonschema 4.18+ (the referencing
    library) and Debian's 4.10 (RefResolver) both work."""

    def __init__(self, directory):
        self.directory = pathlib.Path(directory).resolve()
        self.store = {}
        for path in sorted(self.directory.glob("*.schema.json")):
            schema = json.loads(path.read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            self.store[path.as_uri()] = {"$id": path.as_uri(), **schema}
        if not self.store:
            raise FileNotFoundError(f"no *.schema.json in {self.directory}")
        try:
            import referencing
            import referencing.jsonschema
            self.registry = referencing.Registry().with_resources(
                (uri, referencing.jsonschema.DRAFT202012.create_resource(schema))
                for uri, schema in self.store.items())
        except ImportError:
            self.registry = None
        self.cache = {}

    def uri(self, name):
        uri = (self.directory / name).as_uri()
        if uri not in self.store:
            raise FileNotFoundError(f"no schema {name} in {self.directory}")
        return uri

    def get(self, name):
        if name not in self.cache:
            schema = self.store[self.uri(name)]
            if self.registry is not None:
                validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
            else:
                resolver = jsonschema.RefResolver.from_schema(schema, store=self.store)
                validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
            self.cache[name] = validator
        return self.cache[name]

    def resolve(self, ref, base):
        """(the schema a $ref names, its base URI)."""
        uri, _, fragment = urllib.parse.urljoin(base, ref).partition("#")
        node = self.store[uri]
        for part in filter(None, fragment.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, uri

    def documented_top_level(self, name):
        """The top-level field names the schema describes (properties, through allOf/oneOf and
        $ref), for --strict."""
        names = set()

        def collect(node, base, depth=0):
            if not isinstance(node, dict) or depth > 4:
                return
            if "$ref" in node:
                collect(*self.resolve(node["$ref"], base), depth + 1)
            names.update(node.get("properties", {}))
            for key in ("allOf", "anyOf", "oneOf"):
                for sub in node.get(key, []):
                    collect(sub, base, depth + 1)
        uri = self.uri(name)
        collect(self.store[uri], uri)
        return names


def schema_for(name, document):
    """The schema file for a document, or None (not ours), or raises ValueError (unknown)."""
    base = os.path.basename(name)
    if base in NOT_OURS:
        return None
    if base == "env.json":
        return KIND_SCHEMAS["environment"]
    if base.endswith(".server.json") and isinstance(document, list):
        return KIND_SCHEMAS["echo-server-snapshots"]
    if not isinstance(document, dict) or "kind" not in document:
        raise ValueError("no 'kind': cannot tell which schema applies")
    kind = document["kind"]
    if kind not in KIND_SCHEMAS:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(sorted(KIND_SCHEMAS))})")
    return KIND_SCHEMAS[kind]


def where(error):
    path = "".join(f"[{p}]" if isinstance(p, int) else f"/{p}" for p in error.absolute_path)
    return path or "/"


def shorten(message, limit=160):
    """A message that quotes a whole section (oneOf, not) cut to a readable length."""
    return message if len(message) <= limit else message[:limit] + "..."


def check_document(validators, name, document, strict):
    """Problems of one parsed document, as text lines."""
    try:
        schema_name = schema_for(name, document)
    except ValueError as e:
        return [f"{name}: {e}"]
    if schema_name is None:
        return []
    validator = validators.get(schema_name)
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        # oneOf failures say little on their own: name the deepest reason among the branches'.
        detail = shorten(error.message)
        if error.context:
            deepest = max(error.context, key=lambda e: len(e.absolute_path))
            detail += f" (deepest: {where(deepest)}: {shorten(deepest.message)})"
        problems.append(f"{name}: {where(error)}: {detail} [{schema_name}]")
    if strict and isinstance(document, dict):
        extra = sorted(set(document) - validators.documented_top_level(schema_name))
        if extra:
            problems.append(f"{name}: top-level fields no schema describes: {', '.join(extra)} "
                            f"[{schema_name}; --strict]")
    return problems


def check_text(validators, name, text, strict):
    """(documents checked, problems) of one file's text: JSON, or JSON Lines for *.jsonl."""
    if name.endswith(".jsonl"):
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                documents.append((f"{name}:{number}", strict_loads(line)))
            except ValueError as e:
                return 0, [f"{name}:{number}: not strict JSON: {e}"]
    else:
        try:
            documents = [(name, strict_loads(text))]
        except ValueError as e:
            return 0, [f"{name}: not strict JSON: {e}"]
    problems = []
    for label, document in documents:
        problems += check_document(validators, label, document, strict)
    return len(documents), problems


def files_under(path):
    if path.is_file():
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for file in sorted(files):
            if file.endswith((".json", ".jsonl")) or file == "points.tar.xz":
                yield pathlib.Path(root) / file


def check_path(validators, path, strict):
    """(documents checked, problems) of one file, a points.tar.xz included."""
    if path.name.endswith(".tar.xz"):
        count, problems = 0, []
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".json"):
                    text = archive.extractfile(member).read().decode()
                    n, p = check_text(validators, f"{path}!{member.name}", text, strict)
                    count, problems = count + n, problems + p
        return count, problems
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        return 0, [f"{path}: cannot read: {e}"]
    return check_text(validators, str(path), text, strict)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--schemas", default=str(DEFAULT_SCHEMAS),
                        help="directory of *.schema.json (default: %(default)s)")
    parser.add_argument("--strict", action="store_true",
                        help="also refuse top-level fields no schema describes")
    parser.add_argument("--quiet", action="store_true", help="print problems only")
    args = parser.parse_args(argv)
    try:
        validators = Validators(args.schemas)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        print(f"validate_results: cannot load the schemas: {e}", file=sys.stderr)
        return 2
    files, documents, problems = 0, 0, []
    for given in args.paths:
        path = pathlib.Path(given)
        if not path.exists():
            print(f"validate_results: no such file or directory: {given}", file=sys.stderr)
            return 2
        for file in files_under(path):
            n, p = check_path(validators, file, args.strict)
            files, documents, problems = files + 1, documents + n, problems + p
    if files == 0:
        print(f"validate_results: no result files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if not args.quiet or problems:
        print(f"validate_results: {files} files, {documents} documents, "
              f"{len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
