#!/usr/bin/env bash
# Runs every cargo-fuzz target of the repository for a while (default 10 s each): each `*/fuzz` and
# `*/*/fuzz` directory that is a cargo-fuzz project (drivers/aranet4/fuzz, runtime/bus/fuzz,
# runtime/legacy/fuzz, gateway/fuzz, proto/node/fuzz), starting from the seeds committed in its
# `seeds/<target>/` (new inputs go to `corpus/<target>/`, not committed). Needs the nightly
# toolchain; installs cargo-fuzz if missing. Fails when a target finds a crash (or does not build),
# and prints the executions of each target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); skipping" >&2
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

# One target folder for every fuzz crate: their shared dependencies (sense-bus, tokio, serde...)
# are built once with the fuzzing flags, not once per crate.
target_dir="$PWD/target/fuzz"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
for dir in */fuzz */*/fuzz; do
  [ -d "$dir/fuzz_targets" ] && grep -q '^cargo-fuzz = true' "$dir/Cargo.toml" 2>/dev/null || continue
  for target in "$dir"/fuzz_targets/*.rs; do
    name=$(basename "$target" .rs)
    echo "fuzz: $dir $name for ${seconds}s"
    corpora=("corpus/$name")
    mkdir -p "$dir/corpus/$name"
    [ -d "$dir/seeds/$name" ] && corpora+=("seeds/$name")
    status=0
    (cd "$dir" && cargo +nightly fuzz run --target-dir "$target_dir" "$name" "${corpora[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1) >"$log" 2>&1 || status=$?
    grep -E 'stat::number_of_executed_units|ERROR|panicked|crash-' "$log" || true
    # A crash leaves an artifact and makes cargo fuzz exit non-zero.
    if ls "$dir/artifacts/$name"/crash-* >/dev/null 2>&1; then
      echo "fuzz: $name found a crash: $(ls "$dir/artifacts/$name"/crash-*)" >&2
      exit 1
    fi
    if [ "$status" -ne 0 ]; then
      tail -n 40 "$log" >&2
      echo "fuzz: $dir $name failed (exit status $status)" >&2
      exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    summary+=("$(printf '%-22s %-18s %12s executions' "$dir" "$name" "${runs:-?}")")
  done
done
echo "fuzz: done"
printf '  %s\n' "${summary[@]}"
