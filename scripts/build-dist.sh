#!/usr/bin/env bash
# Builds the static `sense-pulse` binary (musl, no shared library needed: it runs FROM scratch)
# for each platform given, by cross-compiling on this machine (no QEMU), into
# docker/dist/linux-<arch>/sense-pulse, and prints each binary's size.
#
#   scripts/build-dist.sh amd64 arm64 armv7     # 64-bit PC, 64-bit and 32-bit Raspberry Pi OS
#
# Rust's musl targets bring their own C library and start-up files, and rust-lld links them, so
# no cross linker is needed. The one C dependency, libdbus (built in by the dbus crate's `vendored`
# feature, for the Aranet4's BlueZ), is compiled by `zig cc`, which carries the C headers of
# every target: it comes from PyPI (`ziglang`), installed here when missing.
# DIST_DIR overrides docker/dist; CARGO_BUILD_JOBS limits parallel rustc processes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/rust-targets.sh
source scripts/lib/rust-targets.sh

dist_dir=${DIST_DIR:-docker/dist}
[ $# -gt 0 ] || set -- amd64

triple_of() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-musl ;;
    arm64) echo aarch64-unknown-linux-musl ;;
    armv7) echo armv7-unknown-linux-musleabihf ;;
    *) echo "build-dist.sh: unknown platform '$1' (amd64, arm64 or armv7)" >&2; return 2 ;;
  esac
}

zig_target_of() {
  case "$1" in
    amd64) echo x86_64-linux-musl ;;
    arm64) echo aarch64-linux-musl ;;
    armv7) echo arm-linux-musleabihf ;;
  esac
}

if ! python3 -m ziglang version >/dev/null 2>&1; then
  echo "installing zig (PyPI: ziglang) to compile libdbus for each target"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore ziglang
fi

# The C compiler the cc crate calls, one per target: zig cc for that target. The cc crate adds
# its own `--target=<rust triple>`, which zig does not know: it is dropped.
# A fixed place: cargo rebuilds what a changed CC path compiled.
wrappers=$PWD/target/zig-cc
mkdir -p "$wrappers"
printf '#!/bin/sh\nexec python3 -m ziglang ar "$@"\n' >"$wrappers/zig-ar"
chmod +x "$wrappers/zig-ar"

# One cargo run for every target: what they share (build scripts, proc macros) is built once,
# and the targets' crates are compiled side by side.
targets=()
build_env=()
for platform in "$@"; do
  triple=$(triple_of "$platform")
  need_targets "$triple"
  cc="$wrappers/zig-cc-$triple"
  # shellcheck disable=SC2016 # the wrapper's own variables
  {
    echo '#!/bin/sh'
    echo 'for arg in "$@"; do'
    echo '  shift'
    echo '  case "$arg" in --target=*) ;; *) set -- "$@" "$arg" ;; esac'
    echo 'done'
    echo "exec python3 -m ziglang cc -target $(zig_target_of "$platform") \"\$@\""
  } >"$cc"
  chmod +x "$cc"
  env_triple=${triple//-/_}
  env_upper=$(echo "$env_triple" | tr '[:lower:]' '[:upper:]')
  build_env+=("CC_${env_triple}=$cc" "AR_${env_triple}=$wrappers/zig-ar"
    "CARGO_TARGET_${env_upper}_LINKER=rust-lld")
  targets+=(--target "$triple")
done

echo "== sense-pulse for linux/$* (static, musl)"
env "${build_env[@]}" cargo build --locked --profile dist "${targets[@]}" -p sense-pulse --bin sense-pulse

for platform in "$@"; do
  triple=$(triple_of "$platform")
  out="$dist_dir/linux-$platform"
  mkdir -p "$out"
  install -m 0755 "target/$triple/dist/sense-pulse" "$out/sense-pulse"
  size=$(stat -c %s "$out/sense-pulse")
  echo "linux/$platform binary: $((size / 1024)) KiB ($out/sense-pulse)"
done
