#!/usr/bin/env bash
# Benchmark: the cost of one scheduled poll with the process launcher. `sense-pulse orchestrator
# --sim` runs against a local redis-server; `trigger {service: system, wait: true}` is sent N times
# 200 ms apart and each answer awaited. Reported per poll: wall time from command to answer (launch, the
# child's poll and write, reaping), CPU of the orchestrator itself and of its children.
#
#   bench/orchestrator-poll.sh [polls]      (default 50; needs redis-server and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
polls="${1:-50}"

cargo build --release -p sense-pulse --quiet
bin="$PWD/target/release/sense-pulse"

source bench/lib.sh
start_redis
port=$redis_port
dir=$bench_dir
# Everything but the benchmark's own triggers waits an hour.
redis-cli -p "$port" SET config:schedule \
  '{"tailscale":3600,"pihole":3600,"system":3600,"aranet4":3600,"weather":3600,"sensors":3600}' >/dev/null

BIN="$bin" PORT="$port" POLLS="$polls" python3 - <<'PY'
import json, os, socket, statistics, subprocess, time, uuid
bin, port, polls = os.environ["BIN"], int(os.environ["PORT"]), int(os.environ["POLLS"])
env = dict(os.environ, LOG_LEVEL="warn", REDIS_URL=f"redis://127.0.0.1:{port}")
env.pop("COMPOSE_PROJECT_NAME", None)
orch = subprocess.Popen([bin, "orchestrator", "--sim"], env=env)

def resp(*args):
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
    def send(self, *args):
        self.s.sendall(resp(*args))
    def read(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise ValueError(line)
    def call(self, *args):
        self.send(*args)
        return self.read()

def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    return own, children

cmd = Conn()
t0 = time.time()
while cmd.call("GET", "status:orchestrator") is None:
    assert time.time() - t0 < 20, "the orchestrator did not come up"
    time.sleep(0.1)
# Let the boot runs (co2's simulated scan waits for its timeout) finish.
while json.loads(cmd.call("GET", "status:orchestrator")).get("running"):
    assert time.time() - t0 < 120, "boot runs did not end"
    time.sleep(0.2)

sub = Conn()
sub.call("PSUBSCRIBE", "cmd:orchestrator:response:*")
own0, child0 = cpu(orch.pid)
walls = []
for _ in range(polls):
    # Spaced out, so the system source finds CPU ticks since its last run (as 30 s apart would);
    # back to back it would sample for 100 ms instead.
    time.sleep(0.2)
    rid = str(uuid.uuid4())
    payload = json.dumps({"action": "trigger", "request_id": rid,
                          "params": {"service": "system", "wait": True}, "timestamp": time.time()})
    start = time.perf_counter()
    cmd.call("PUBLISH", "cmd:orchestrator", payload)
    while True:
        msg = sub.read()
        if msg[0] == "pmessage" and msg[2].endswith(rid):
            answer = json.loads(msg[3])
            break
    walls.append((time.perf_counter() - start) * 1000)
    assert answer["status"] == "ok", answer
    assert answer["data"]["outcome"] == "ok", answer
own1, child1 = cpu(orch.pid)
orch.terminate()
orch.wait(timeout=30)
walls.sort()
print(f"{polls} scheduled polls of system with the process launcher (release build):")
print(f"  wall per poll (command → answer): median {statistics.median(walls):.2f} ms, "
      f"p95 {walls[int(0.95 * (len(walls) - 1))]:.2f} ms")
print(f"  CPU per poll: orchestrator {1000 * (own1 - own0) / polls:.2f} ms, "
      f"child {1000 * (child1 - child0) / polls:.2f} ms (clock tick {1000 / os.sysconf('SC_CLK_TCK'):.0f} ms, totals over all polls)")
PY
