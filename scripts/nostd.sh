#!/usr/bin/env bash
# Every no_std crate (the `nostd` alias in .cargo/config.toml names them) built for bare metal:
# a Cortex-M0+ without atomics (thumbv6m-none-eabi: the RP2040), a Cortex-M4F
# (thumbv7em-none-eabihf) and a RISC-V core (riscv32imc-unknown-none-elf: the ESP32-C3), each with
# the default features and with none; their docs built with warnings as errors; then checked with
# the Rust version they declare (`rust-version`), so a user on that compiler can build them.
# Prints one line per check.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/rust-targets.sh
source scripts/lib/rust-targets.sh

targets=(thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
# The crates: the `-p` list of the alias, so there is one list.
read -r -a packages <<<"$(sed -n 's/^nostd = "build --target [^ ]* \(.*\)"$/\1/p' .cargo/config.toml)"
[ ${#packages[@]} -gt 0 ] || { echo "nostd.sh: no crates in .cargo/config.toml's nostd alias" >&2; exit 1; }
read -r -a crates <<<"$(printf '%s\n' "${packages[@]}" | grep -v '^-p$' | tr '\n' ' ')"

need_targets "${targets[@]}"

# One crate at a time: built together, one crate's features would be turned on for another.
for target in "${targets[@]}"; do
  for features in default none; do
    flags=()
    [ "$features" = none ] && flags=(--no-default-features)
    for crate in "${crates[@]}"; do
      cargo build --quiet --target "$target" -p "$crate" "${flags[@]}"
    done
    echo "nostd: $target, $features features: ok (${crates[*]})"
  done
done

# Their docs, warnings as errors, with every feature and with none (what docs.rs and a user
# without the default features see).
for features in --all-features --no-default-features; do
  for crate in "${crates[@]}"; do
    RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p "$crate" "$features"
  done
  echo "nostd: docs ($features), no warning: ok (${crates[*]})"
done

# The declared minimum Rust version (the workspace's), with its own toolchain.
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal
CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --quiet "${packages[@]}"
echo "nostd: rust-version $msrv: ok (cargo +$msrv check)"
