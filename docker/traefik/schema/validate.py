"""Validates docker/traefik/traefik.yml and dynamic.yml against SchemaStore's Traefik v3 schemas.

Offline: the schemas are the copies beside this file (README.md says where they come from). Needs
PyYAML and jsonschema (Debian: python3-yaml python3-jsonschema). Run by docker/traefik/test.sh.

    python3 validate.py                  # the two files, then that a misspelled key fails
    python3 validate.py static FILE      # one file, as the static configuration
    python3 validate.py dynamic FILE     # one file, as the file provider's configuration

Traefik has no image or package on CI's machines, so this stands in for `traefik` reading them.
Tightened where the schemas allow any key but Traefik's configuration types have a fixed set
(`schema()` below): the static configuration's top level, and the file provider's `http` and
`tcp` sections, which also get the `serversTransports` the schema leaves out. A misspelled key
there would otherwise pass, and be ignored.
"""

import copy
import json
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
TRAEFIK = HERE.parent

SCHEMAS = {
    "static": "traefik-v3.json",
    "dynamic": "traefik-v3-file-provider.json",
}
FILES = {
    "static": TRAEFIK / "traefik.yml",
    "dynamic": TRAEFIK / "dynamic.yml",
}


def schema(kind):
    loaded = json.loads((HERE / SCHEMAS[kind]).read_text())
    if kind == "static":
        loaded.setdefault("additionalProperties", False)
    else:
        for section in ("http", "tcp"):
            part = loaded["properties"][section]
            part["properties"].setdefault("serversTransports", {"type": "object"})
            part.setdefault("additionalProperties", False)
    return loaded


def errors(kind, document):
    """Every error of `document` (parsed YAML) against the `kind` schema, as readable lines."""
    validator = jsonschema.Draft7Validator(schema(kind))
    found = []
    for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        # A middleware is one of many kinds (oneOf): say what is wrong with the one that came
        # closest (the deepest error), not that it is none of them.
        while e.context:
            e = max(e.context, key=lambda c: (len(c.absolute_path), -len(c.context or [])))
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        found.append(f"{where}: {e.message}")
    return found


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rename(document, path, new_name):
    """A copy of `document` with the key at `path` (a list of keys) renamed to `new_name`."""
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[new_name] = parent.pop(path[-1])
    return changed


# Misspellings each file must be refused with, as (kind, path to a key, misspelled name): at the
# top level, and deep inside, where a typo would otherwise silently switch a setting off.
MISSPELLED = [
    ("static", ["entryPoints"], "entrypoints"),
    ("static", ["entryPoints", "web", "forwardedHeaders", "trustedIPs"], "trustedIP"),
    ("static", ["providers", "docker", "exposedByDefault"], "exposedbydefault"),
    ("dynamic", ["http", "middlewares"], "middleware"),
    ("dynamic", ["http", "middlewares", "sense-headers", "headers", "frameDeny"], "frameDenied"),
    ("dynamic", ["http", "middlewares", "sense-compress", "compress", "excludedContentTypes"],
     "excludeContentTypes"),
]


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    return ok


def main(argv):
    if len(argv) == 3:
        kind, path = argv[1], argv[2]
        if kind not in SCHEMAS:
            print(f"validate.py: the kind is static or dynamic, not {kind}", file=sys.stderr)
            return 2
        found = errors(kind, load(path))
        for line in found:
            print(f"{path}: {line}")
        return 1 if found else 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2

    results = []
    documents = {}
    for kind, path in FILES.items():
        documents[kind] = load(path)
        found = errors(kind, documents[kind])
        results.append(check(f"{path.relative_to(TRAEFIK.parent.parent)} follows {SCHEMAS[kind]}",
                             not found, "; ".join(found)))
    for kind, path, wrong in MISSPELLED:
        found = errors(kind, rename(documents[kind], path, wrong))
        mentioned = any(wrong in line for line in found)
        results.append(check(f"{FILES[kind].name} with {'.'.join(path)} misspelled {wrong} is refused",
                             mentioned, "accepted" if not found else "; ".join(found)))
    passed = sum(results)
    print(f"traefik schema: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
