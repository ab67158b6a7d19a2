#!/usr/bin/env bash
# Checks that every publishable driver crate is ready for crates.io (issue 17): `cargo package`
# with its verification build, for each crate. The bare-metal builds and the docs with warnings as
# errors are scripts/nostd.sh's, the doc tests (the README's examples among them) `cargo test
# --workspace`'s.
#
# Prints one line per crate per check, the output of each failed check, and a closing
# "drivers: N passed, N failed"; exits non-zero if any check failed.
#
# Usage: scripts/drivers.sh [CRATE...]   (default: every crate in CRATES below)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never

# The publishable driver crates, each in drivers/<name without "sense-">.
CRATES=(sense-hts221 sense-lps25h sense-ledmatrix sense-procfs sense-aranet4)

if [ $# -gt 0 ]; then
  CRATES=("$@")
fi

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# check NAME COMMAND...: runs COMMAND quietly, prints "ok" or "FAIL" and the name, and on failure
# the end of its output.
check() {
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then
    printf 'ok    %s\n' "$name"
    passed=$((passed + 1))
  else
    printf 'FAIL  %s\n' "$name"
    tail -n 40 "$log" | sed 's/^/      /'
    failed=$((failed + 1))
  fi
}

for crate in "${CRATES[@]}"; do
  dir="drivers/${crate#sense-}"
  # CI runs on a clean clone; a developer's uncommitted edits in the crate need --allow-dirty.
  dirty=()
  if [ -n "$(git status --porcelain -- "$dir" 2>/dev/null)" ]; then
    dirty=(--allow-dirty)
  fi
  check "$crate: package (verified)${dirty:+ ${dirty[*]}}" cargo package -q -p "$crate" "${dirty[@]}"
done

printf 'drivers: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
