#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite (Rust, then the dashboard). This is the
# test command of README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace
# The chaos and attack suite (its tests are `#[ignore]`d above: they run here, and print counts).
scripts/suite.sh

# The dashboard: types, unit tests, the build and its size, then end to end in Chromium against
# `sense-pulse run --sim` (the debug binary `cargo test` just built).
cd frontend
npm ci --no-audit --no-fund
npm run check
npm test
npm run build
npm run size
SENSE_PULSE_BIN="${SENSE_PULSE_BIN:-target/debug/sense-pulse}" npm run e2e
