#!/usr/bin/env bash
# Benchmark: one ephemeral `sense-pulse source system --once` run against a local redis-server,
# as the orchestrator launches it every 30 s. Reports wall time, CPU time (user + system) and
# peak RSS per run.
#
#   bench/source-system-once.sh [runs]      (default 50; needs redis-server and python3)
#
# Runs are spaced 200 ms apart so each sees CPU ticks since the previous one, like real runs
# 30 s apart (back-to-back runs within one clock tick fall back to a 100 ms sampling window).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"

cargo build --release -p sense-pulse --quiet
bin="$PWD/target/release/sense-pulse"

source bench/lib.sh
start_redis
port=$redis_port
dir=$bench_dir

BIN="$bin" REDIS_URL="redis://127.0.0.1:$port" RUNS="$runs" python3 - <<'PY'
import os, resource, statistics, subprocess, time
bin, runs = os.environ["BIN"], int(os.environ["RUNS"])
env = dict(os.environ, LOG_LEVEL="warn")
subprocess.run([bin, "source", "system", "--once"], env=env, check=True)  # warm-up, first sample
walls, cpus, rss = [], [], []
for _ in range(runs):
    time.sleep(0.2)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([bin, "source", "system", "--once"], env=env)
    walls.append((time.perf_counter() - t0) * 1000)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert p.returncode == 0, p.returncode
    cpus.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000)
# Peak RSS from GNU time: the children rusage above would count Python's own pages at fork.
for _ in range(10):
    time.sleep(0.2)
    out = subprocess.run(["/usr/bin/time", "-f", "%M", bin, "source", "system", "--once"],
                         env=env, stderr=subprocess.PIPE, text=True, check=True).stderr
    rss.append(int(out.strip().splitlines()[-1]))
walls.sort(); cpus.sort()
p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f"runs: {runs}")
print(f"wall ms:  median {statistics.median(walls):.2f}  p95 {p(walls, .95):.2f}  max {walls[-1]:.2f}")
print(f"CPU ms (user+sys):  median {statistics.median(cpus):.2f}  p95 {p(cpus, .95):.2f}  max {cpus[-1]:.2f}")
print(f"max RSS (10 runs under /usr/bin/time): {max(rss) / 1024:.1f} MiB")
PY
