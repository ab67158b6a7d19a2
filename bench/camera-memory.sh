#!/usr/bin/env bash
# Benchmark: memory and CPU of the camera supervisor (`sense-pulse source network_camera --sim`)
# while it streams FFmpeg's test pattern as HLS, beside FFmpeg itself. Target: supervisor RSS
# under 5 MB.
#
#   bench/camera-memory.sh [seconds]      (default 30; needs redis-server, ffmpeg, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"

cargo build --release -p sense-pulse --quiet
bin="$PWD/target/release/sense-pulse"

source bench/lib.sh
start_redis
port=$redis_port
dir=$bench_dir

BIN="$bin" PORT="$port" HLS="$dir/hls" SECONDS_="$seconds" python3 - <<'PY'
import os, subprocess, time
bin, port, hls, seconds = os.environ["BIN"], os.environ["PORT"], os.environ["HLS"], int(os.environ["SECONDS_"])
env = dict(os.environ, LOG_LEVEL="warn", REDIS_URL=f"redis://127.0.0.1:{port}", HLS_OUTPUT_DIR=hls)
cli = ["redis-cli", "-p", port]
proc = subprocess.Popen([bin, "source", "network_camera", "--sim"], env=env)

def status():
    out = subprocess.run(cli + ["GET", "source:network_camera:stream_status"], capture_output=True, text=True).stdout
    return out.strip()

def kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

t0 = time.time()
while '"streaming"' not in status():
    assert time.time() - t0 < 30, "not streaming within 30 s"
    assert proc.poll() is None, "the camera exited"
    time.sleep(0.1)
print(f"streaming after {time.time() - t0:.2f} s")
children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
ffmpeg = int(children[0])
c0, f0, w0 = cpu_s(proc.pid), cpu_s(ffmpeg), time.time()
rss = []
for _ in range(seconds):
    time.sleep(1)
    rss.append(kib(proc.pid, "VmRSS"))
wall = time.time() - w0
print(f"supervisor: RSS {max(rss)/1024:.2f} MiB max, {min(rss)/1024:.2f} MiB min over {seconds} s; "
      f"peak (VmHWM) {kib(proc.pid, 'VmHWM')/1024:.2f} MiB; CPU {100*(cpu_s(proc.pid)-c0)/wall:.2f}% of one core")
# RSS counts the binary's code pages, which every sense-pulse process on the machine shares
# (orchestrator, gateway, sources): the private, anonymous part is what this process adds.
print(f"  of which private anonymous {kib(proc.pid, 'RssAnon')/1024:.2f} MiB, "
      f"file-backed (code of the shared binary) {kib(proc.pid, 'RssFile')/1024:.2f} MiB")
print(f"FFmpeg (libx264 ultrafast, 640x360@15): RSS {kib(ffmpeg, 'VmRSS')/1024:.1f} MiB; "
      f"CPU {100*(cpu_s(ffmpeg)-f0)/wall:.1f}% of one core")
subprocess.run(cli + ["PUBLISH", "cmd:network_camera",
    '{"action":"stop","request_id":"bench-stop"}'], capture_output=True)
t1 = time.time()
proc.wait(timeout=15)
print(f"stop → exit in {time.time() - t1:.2f} s, exit code {proc.returncode}; HLS folder left with {len(os.listdir(hls))} files")
PY
