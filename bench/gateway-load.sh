#!/usr/bin/env bash
# Load test of the gateway's connection handling (`sense-pulse gateway`, release build, against a
# throw-away redis-server), printing:
#
#   - idle RSS;
#   - 2,000 slow connections (open, send half a request head) from 100 loopback addresses: RSS
#     with them open and once they are closed (target: at most 2× idle), with the default caps
#     and with the caps raised so that all 2,000 are held;
#   - under `ulimit -n 1024` (systemd's default), 1,200 slow connections: whether legitimate
#     requests succeed, and their latency;
#   - 1,000 WebSockets attempted: how many are accepted (bounded);
#   - the lines in Redis's `logs` list (the dashboard's log viewer) after each flood.
#
#   bench/gateway-load.sh        (needs redis-server, redis-cli, python3; 127.0.0.0/8 on lo)
#
# The client is bench/gateway_load.py; it raises its own file-descriptor limit to the hard one.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p sense-pulse --quiet
bin="${SENSE_PULSE_BIN:-$PWD/target/release/sense-pulse}"

source bench/lib.sh
start_redis

python3 bench/gateway_load.py --bin "$bin" --redis "$REDIS_URL" --redis-port "$redis_port" "$@"
