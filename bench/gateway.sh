#!/usr/bin/env bash
# Benchmark: the gateway (`sense-pulse gateway`, release build) against a local redis-server
# filled by one simulated poll of every source.
#
#   - redis-benchmark GET at 50 connections, for scale, in the same run;
#   - wrk: GET /api/sources at 50 connections for 10 s: requests/s and latency p50/p99;
#   - gateway memory idle and under load (RSS, and its private anonymous part);
#   - 200 WebSocket clients: PUBLISH → frame latency (cargo bench --bench ws_fanout).
#
#   bench/gateway.sh [seconds]      (default 10; needs redis-server, redis-benchmark, wrk, python3)
#
# Targets: /api/sources (served from the gateway's in-memory snapshot) at 50 connections at least
# half of redis-benchmark's GET requests/s in the same run, p99 at most 5 ms; gateway RSS after
# the load at most 12 MB; WebSocket p99 under 20 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; }

cargo build --release -p sense-pulse --quiet
bin="${SENSE_PULSE_BIN:-$PWD/target/release/sense-pulse}"

source bench/lib.sh
start_redis
port=$redis_port
http=$(free_port)
export LOG_LEVEL=warn

# One poll of every source, simulated, as the orchestrator would have run them.
for id in system sensors weather pihole tailscale; do "$bin" source "$id" --once --sim; done
ARANET4_TIMEOUT=2 "$bin" source co2 --once --sim || true   # one monitor is out of range
echo "keys in Redis: $(redis-cli -p "$port" dbsize)"

# wrk's 50 connections all come from 127.0.0.1: more than one client may hold by default (32).
GATEWAY_MAX_CONNECTIONS_PER_CLIENT=64 "$bin" gateway --listen "127.0.0.1:$http" &
gateway_pid=$!
extra_pids=$gateway_pid
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/health" >/dev/null && break; sleep 0.05; done
echo "/api/sources: $(curl -s "http://127.0.0.1:$http/api/sources" | wc -c) bytes"

mem() {
    awk '/^VmRSS|^VmHWM|^RssAnon|^RssFile/ {printf "%s %.2f MiB  ", $1, $2/1024}' "/proc/$gateway_pid/status"
    echo
}
sleep 2
echo "gateway idle:        $(mem)"

echo "--- redis-benchmark GET, 50 connections"
redis_out=$(redis-benchmark -p "$port" -t get -n 200000 -c 50 -q | tr "\r" "\n" | grep -E "^GET" | tail -n 1)
echo "$redis_out"
redis_rps=$(echo "$redis_out" | grep -oE "[0-9.]+ requests per second" | cut -d' ' -f1)

echo "--- wrk GET /api/sources, 50 connections, ${seconds} s"
wrk_out=$(wrk -t2 -c50 -d"${seconds}s" --latency "http://127.0.0.1:$http/api/sources")
echo "$wrk_out" | grep -E "Requests/sec|Latency  |50%|99%|Socket errors|Non-2xx" || true
wrk_rps=$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')
echo "gateway after load:  $(mem)"
python3 -c "print(f'/api/sources / redis GET = {float(\"$wrk_rps\") / float(\"$redis_rps\"):.2f} (target >= 0.5)')"
kill $gateway_pid; wait $gateway_pid 2>/dev/null || true
extra_pids=

echo "--- 200 WebSocket clients"
cargo bench -p sense-pulse --bench ws_fanout --quiet 2>/dev/null | grep ws_fanout
