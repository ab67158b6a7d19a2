#!/usr/bin/env bash
# Benchmark: worst-case Redis memory of the history (24 h raw lists and the 5-minute / hourly
# rollups) for the default sources' numeric readings (sensors 5, system 9, weather 20, co2 3 × 5,
# pihole 5, tailscale 3, camera 3), fed for a simulated 90 days at each source's default interval
# through the real write path (PollWrite) into a redis-server with docker/redis.conf's limit
# (maxmemory 50mb, noeviction). Reports INFO memory's used_memory and the key count; fails above
# 50 MB. Target: under 50 MB.
#
#   bench/history-memory.sh [days]      (default 90; needs redis-server; some minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p sense-bus --bench history_memory --quiet -- "${1:-90}"
