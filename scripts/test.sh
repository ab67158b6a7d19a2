#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite. This is the test command of README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace
