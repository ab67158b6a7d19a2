#!/usr/bin/env bash
# Installs what building and testing Sense Pulse needs on a fresh Debian/Ubuntu machine, skipping
# whatever is already there. Safe to run again.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# System packages: a real redis-server for the bus tests, GNU time for the benchmarks, FFmpeg for
# the camera, libdbus for Bluetooth.
packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
command -v redis-cli >/dev/null || packages+=(redis-tools)
# The Home Assistant bridge's tests (runtime/mqtt) run a real Mosquitto broker.
command -v mosquitto >/dev/null || packages+=(mosquitto)
command -v mosquitto_sub >/dev/null || packages+=(mosquitto-clients)
[ -x /usr/bin/time ] || packages+=(time)
# The camera's tests stream with a real FFmpeg.
command -v ffmpeg >/dev/null || packages+=(ffmpeg)
command -v cc >/dev/null || packages+=(build-essential)
command -v pkg-config >/dev/null || packages+=(pkg-config)
# BlueZ's D-Bus API (the bluer crate) links libdbus.
pkg-config --exists dbus-1 2>/dev/null || packages+=(libdbus-1-dev)
# The dashboard's end-to-end tests drive Debian's Chromium (never a downloaded browser).
[ -x /usr/bin/chromium ] || packages+=(chromium)
# deploy/test.sh: systemd-analyze checks the units, PyYAML + jsonschema check Traefik's
# configuration against its schema (Debian's, for /usr/bin/python3), ShellCheck lints the scripts,
# curl the smoke run.
command -v systemd-analyze >/dev/null || packages+=(systemd)
/usr/bin/python3 -c 'import yaml, jsonschema' 2>/dev/null || packages+=(python3-yaml python3-jsonschema)
command -v shellcheck >/dev/null || packages+=(shellcheck)
command -v curl >/dev/null || packages+=(curl)
# The satellite tests (runtime/cli/tests/nodes.rs, frontend/e2e/satellites.test.mjs) make network
# namespaces and veth pairs.
command -v ip >/dev/null || packages+=(iproute2)
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
# Debian starts redis-server and mosquitto as services on install; the tests start their own on
# free ports.

# Node: the dashboard builds with Node ≥ 20.19 and npm (Debian 12's own nodejs is too old).
command -v npm >/dev/null || echo "setup: npm not found; the dashboard needs Node.js 20.19 or newer" >&2

# Rust: the toolchain is expected (rustup); add the pieces CI uses.
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
fi
