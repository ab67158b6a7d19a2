#!/usr/bin/env bash
# The chaos and attack suite (issue 14): `run --sim` on a real redis-server, attacked
# (runtime/cli/tests/attacks/) and put through Redis dying and hanging under load
# (runtime/cli/tests/chaos.rs); the orchestrator's source children killed mid-poll and stopped
# past their timeout (runtime/cli/tests/chaos_sources.rs); the camera's HLS folder full, on a
# tmpfs the test mounts in its own namespace (sources/camera/tests/full_disk.rs). Each class
# prints one `suite:` line, and `run`'s resources before and after the attacks one more; this
# script collects them and fails when a case did not hold. Loopback and the tests' own processes only.
#
#   scripts/suite.sh        (after scripts/setup.sh; part of scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Redis killed (back empty, back with its data), Redis hung, a source killed, a source stopped,
# the HLS folder full.
FAULT_SCENARIOS=6
status=0
{
    cargo test -p sense-pulse --test attacks --test chaos --test chaos_sources -- --ignored --nocapture --test-threads=1 &&
        cargo test -p sense-source-camera --test full_disk -- --ignored --nocapture
} >"$log" 2>&1 || status=$?
echo "--- the chaos and attack suite"
# libtest may print "test NAME ... " ahead of a test's first line: take each report from `suite: `.
reports=$(grep -oE "suite: .*$" "$log" | sed 's/^suite: //' || true)
[ -n "$reports" ] && sed 's/^/  /' <<<"$reports"
sum() { grep -oE "$1 [0-9]+" | awk '{ n += $2 } END { print n + 0 }'; }
tried=$(grep -E "^attacks: " <<<"$reports" | sum tried)
held=$(grep -E "^attacks: " <<<"$reports" | sum held)
faults=$(grep -cE "^chaos: .*: held" <<<"$reports" || true)
echo "  attacks: ${held:-0} of ${tried:-0} cases held; chaos: ${faults} of ${FAULT_SCENARIOS} fault scenarios held"
if [ "$status" -ne 0 ]; then
    grep -E "panicked|FAILED|failures:" -A8 "$log" | head -80
    echo "the suite failed (exit $status)" >&2
    exit "$status"
fi
# A report missing is a failure too (a test that printed nothing proved nothing).
if [ "$faults" -ne "$FAULT_SCENARIOS" ] || [ "${tried:-0}" -eq 0 ] || [ "$held" -ne "$tried" ]; then
    echo "the suite is missing reports (see above)" >&2
    exit 1
fi
