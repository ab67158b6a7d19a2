#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a while (default 10 s each). Needs the nightly
# toolchain; installs cargo-fuzz if missing. Fails when a target finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); skipping" >&2
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

for dir in drivers/*/fuzz; do
  [ -d "$dir/fuzz_targets" ] || continue
  for target in "$dir"/fuzz_targets/*.rs; do
    name=$(basename "$target" .rs)
    echo "fuzz: $dir $name for ${seconds}s"
    (cd "$dir" && cargo +nightly fuzz run "$name" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 \
      | grep -E 'stat::number_of_executed_units|ERROR|panicked|crash-' || true)
    # A crash leaves an artifact and makes cargo fuzz exit non-zero; the run above swallows the
    # status for the grep, so check for artifacts instead.
    if ls "$dir/artifacts/$name"/crash-* >/dev/null 2>&1; then
      echo "fuzz: $name found a crash: $(ls "$dir/artifacts/$name"/crash-*)" >&2
      exit 1
    fi
  done
done
