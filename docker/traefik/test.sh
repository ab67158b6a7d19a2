#!/bin/sh
# Traefik's configuration (traefik.yml, dynamic.yml) against SchemaStore's Traefik v3 schemas,
# offline (schema/README.md). Traefik itself cannot run here: no image, no Debian package.
# Needs python3 with PyYAML and jsonschema: Debian's python3-yaml and python3-jsonschema (for
# /usr/bin/python3), or the same from PyPI for the python3 on PATH. Exits non-zero on a failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import yaml, jsonschema' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "FAIL traefik schema: no python3 with PyYAML and jsonschema (apt-get install python3-yaml python3-jsonschema)" >&2
  exit 1
fi

failed=0
"$python" "$here/schema/validate.py" || failed=1

# The command-line form, on a copy of traefik.yml with a misspelled key: refused, naming it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/exposedByDefault:/exposedByDefaults:/' "$here/traefik.yml" >"$tmp/traefik.yml"
if out=$("$python" "$here/schema/validate.py" static "$tmp/traefik.yml") ||
  ! printf '%s\n' "$out" | grep -q "exposedByDefaults"; then
  echo "FAIL validate.py static accepted a misspelled exposedByDefaults: $out"
  failed=1
else
  echo "ok   validate.py static refuses a traefik.yml with exposedByDefaults ($out)"
fi
exit $failed
