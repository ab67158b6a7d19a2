#!/usr/bin/env bash
# The main job: the whole stack in one process with simulated hardware and the dashboard at
# http://127.0.0.1:8080. This is the run command of README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The dashboard's static files, built once (the gateway serves frontend/build).
if [ ! -f frontend/build/index.html ] && command -v npm >/dev/null; then
  (cd frontend && npm ci --no-audit --no-fund && npm run build)
fi
exec cargo run --release -p sense-pulse -- run --sim --sim-node "$@"
