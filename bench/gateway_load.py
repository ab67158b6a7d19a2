#!/usr/bin/env python3
"""The gateway under connection floods (run by bench/gateway-load.sh).

Starts `sense-pulse gateway` processes against a Redis and measures, printing one line each:
  - idle RSS;
  - 2,000 slow connections (connect, send half a request head), from 100 loopback addresses:
    RSS with them open, and once they are closed (target: at most twice idle), with the default
    caps and with the caps raised so that all 2,000 are held;
  - under `ulimit -n 1024`, 1,200 slow connections: a legitimate request's latency and status;
  - 1,000 WebSockets attempted: how many are accepted;
  - lines in Redis's `logs` list after each flood.
"""

import argparse
import os
import resource
import socket
import statistics
import subprocess
import time

HALF_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
WS_REQUEST = (
    b"GET /ws/sources HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def mib(v):
    return f"{v:6.1f} MiB"


class Gateway:
    def __init__(self, args, env=None, nofile=None):
        self.port = free_port()
        self.redis = args.redis
        environment = dict(os.environ)
        environment.update(
            {"REDIS_URL": args.redis, "LOG_LEVEL": "warn", "HLS_OUTPUT_DIR": "/tmp"}
        )
        environment.update(env or {})

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [args.bin, "gateway", "--listen", f"127.0.0.1:{self.port}"],
            env=environment,
            preexec_fn=limit,
            stdout=subprocess.DEVNULL,
            stderr=open(os.devnull, "w") if not args.verbose else None,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                code, _ = self.request(b"/health", timeout=1)
                if code == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit("the gateway did not come up")
        time.sleep(1)
        self.idle = status(self.proc.pid)
        self.idle_fds = fds(self.proc.pid)

    def request(self, path, source="127.0.0.1", timeout=30):
        """GET path, Connection: close; (status, seconds)."""
        start = time.perf_counter()
        s = socket.socket()
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.port))
        s.sendall(
            b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        elapsed = time.perf_counter() - start
        line = data.split(b"\r\n", 1)[0].split()
        return (int(line[1]) if len(line) > 1 else 0), elapsed

    def rss(self):
        return status(self.proc.pid)

    def settle(self, patience=40):
        """Waits until the gateway holds no more file descriptors than when idle."""
        deadline = time.time() + patience
        while time.time() < deadline and fds(self.proc.pid) > self.idle_fds:
            time.sleep(0.2)
        time.sleep(1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def slow_connections(port, count, addresses=100, first=2):
    """count connections from 127.0.0.{first..}, each sending half a request head."""
    held = []
    failed = 0
    for i in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((f"127.0.0.{first + i % addresses}", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(HALF_HEAD)
            held.append(s)
        except OSError:
            failed += 1
            s.close()
    return held, failed


def slow_bodies(port, count, addresses=100, first=2):
    """count connections from 127.0.0.{first..}, each sending a whole head announcing a 30 kB
    body, then 100 bytes of it."""
    held = []
    head = (
        b"POST /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 30000\r\n\r\n" + b" " * 100
    )
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{first + i % addresses}", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(head)
            held.append(s)
        except OSError:
            s.close()
    return held


def still_open(sockets):
    """How many of sockets the gateway still holds: nothing to read, no end of stream."""
    n = 0
    for s in sockets:
        s.setblocking(False)
        try:
            s.recv(4096)  # an answer (refused) or the end (closed)
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def close_all(sockets):
    for s in sockets:
        s.close()


def logs(redis_cli):
    out = subprocess.run(
        redis_cli + ["LRANGE", "logs", "0", "-1"], capture_output=True, text=True
    ).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    return lines


def log_summary(redis_cli):
    lines = logs(redis_cli)
    kinds = {}
    for l in lines:
        try:
            import json

            message = json.loads(l)["message"]
        except Exception:
            message = l
        key = message.split(" error=")[0].split(" client=")[0][:60]
        kinds[key] = kinds.get(key, 0) + 1
    detail = ", ".join(f"{n}× {k!r}" for k, n in sorted(kinds.items(), key=lambda x: -x[1]))
    return f"{len(lines)} entries" + (f" ({detail})" if detail else "")


def flood(args, title, env, count, nofile=None):
    print(f"--- {title}")
    g = Gateway(args, env, nofile)
    print(f"idle:                      RSS {mib(g.idle['VmRSS'])}, {g.idle_fds} fds")
    for burst in ("", " (again)"):
        held, failed = slow_connections(g.port, count)
        time.sleep(2)
        peak = g.rss()
        print(
            f"{count} slow connections{burst}: RSS {mib(peak['VmRSS'])},"
            f" {fds(g.proc.pid)} fds; {still_open(held)} held by the gateway,"
            f" {failed} failed to connect"
        )
        close_all(held)
        g.settle()
        after = g.rss()
        ratio = after["VmRSS"] / g.idle["VmRSS"]
        print(
            f"after they closed:         RSS {mib(after['VmRSS'])} = {ratio:.2f}× idle"
            f" ({'ok' if ratio <= 2 else 'OVER'}: at most 2×)"
        )
    g.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--redis-port", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    redis_cli = ["redis-cli", "-p", args.redis_port]

    subprocess.run(redis_cli + ["DEL", "logs"], capture_output=True)
    flood(args, "default caps, 2,000 slow connections", {}, 2000)
    print(f"logs list: {log_summary(redis_cli)}")

    subprocess.run(redis_cli + ["DEL", "logs"], capture_output=True)
    flood(
        args,
        "caps raised (GATEWAY_MAX_CONNECTIONS=5000, per client 100): all 2,000 held",
        {"GATEWAY_MAX_CONNECTIONS": "5000", "GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "100"},
        2000,
    )

    print("--- 500 slow request bodies (a head announcing 30 kB, then 100 bytes of it)")
    g = Gateway(args)
    held = slow_bodies(g.port, 500)
    time.sleep(2)
    peak = g.rss()
    print(
        f"500 slow bodies:           RSS {mib(peak['VmRSS'])}, {still_open(held)} held"
        f" (idle {mib(g.idle['VmRSS'])})"
    )
    close_all(held)
    g.settle()
    after = g.rss()
    print(
        f"after they closed:         RSS {mib(after['VmRSS'])}"
        f" = {after['VmRSS'] / g.idle['VmRSS']:.2f}× idle"
    )
    g.stop()

    print("--- ulimit -n 1024, 1,200 slow connections, then legitimate requests")
    subprocess.run(redis_cli + ["DEL", "logs"], capture_output=True)
    g = Gateway(args, {}, nofile=1024)
    held, failed = slow_connections(g.port, 1200)
    time.sleep(1)
    times = []
    codes = []
    for i in range(10):
        try:
            code, elapsed = g.request(b"/health", source=f"127.0.0.{200 + i}", timeout=15)
        except OSError:
            code, elapsed = 0, 15
        codes.append(code)
        times.append(elapsed)
    open_now = still_open(held)
    print(
        f"1,200 slow connections: {open_now} held by the gateway, {failed} failed to connect;"
        f" gateway {fds(g.proc.pid)} fds, RSS {mib(g.rss()['VmRSS'])}"
    )
    print(
        f"legitimate GET /health ×10: statuses {sorted(set(codes))},"
        f" latency median {statistics.median(times) * 1000:.1f} ms,"
        f" max {max(times) * 1000:.1f} ms"
    )
    close_all(held)
    print(f"logs list: {log_summary(redis_cli)}")
    g.stop()

    print("--- ulimit -n 24 (the reserve leaves too few descriptors): accept fails with EMFILE")
    subprocess.run(redis_cli + ["DEL", "logs"], capture_output=True)
    g = Gateway(args, {}, nofile=24)
    cpu_before = cpu_seconds(g.proc.pid)
    held, failed = slow_connections(g.port, 300)
    times, codes = [], []
    for i in range(10):
        try:
            code, elapsed = g.request(b"/health", source=f"127.0.0.{200 + i}", timeout=15)
        except OSError:
            code, elapsed = 0, 15
        codes.append(code)
        times.append(elapsed)
    time.sleep(3)
    print(
        f"300 slow connections: {still_open(held)} held; legitimate GET /health ×10: statuses"
        f" {sorted(set(codes))}, latency median {statistics.median(times) * 1000:.1f} ms,"
        f" max {max(times) * 1000:.1f} ms; gateway CPU {cpu_seconds(g.proc.pid) - cpu_before:.2f} s"
    )
    close_all(held)
    print(f"logs list: {log_summary(redis_cli)}")
    g.stop()

    print("--- 1,000 WebSockets attempted (100 addresses, 10 each), then 100 from one address")
    subprocess.run(redis_cli + ["DEL", "logs"], capture_output=True)
    g = Gateway(args)
    accepted, refused, held = 0, {}, []
    for i in range(1000):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 100}", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", g.port))
            s.sendall(WS_REQUEST)
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            line = head.split(b"\r\n", 1)[0].split()
            code = int(line[1]) if len(line) > 1 else 0
        except OSError:
            code = 0
        if code == 101:
            accepted += 1
            held.append(s)
        else:
            refused[code] = refused.get(code, 0) + 1
            s.close()
    print(
        f"accepted {accepted} of 1,000; refused {refused};"
        f" RSS {mib(g.rss()['VmRSS'])} with them open"
    )
    one, one_refused = 0, {}
    for i in range(100):
        s = socket.socket()
        s.bind(("127.0.0.250", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", g.port))
            s.sendall(WS_REQUEST)
            line = s.recv(4096).split(b"\r\n", 1)[0].split()
            code = int(line[1]) if len(line) > 1 else 0
        except OSError:
            code = 0
        if code == 101:
            one += 1
            held.append(s)
        else:
            one_refused[code] = one_refused.get(code, 0) + 1
            s.close()
    print(f"from one address: accepted {one} of 100; refused {one_refused}")
    close_all(held)
    g.settle()
    print(f"after they closed: RSS {mib(g.rss()['VmRSS'])} (idle {mib(g.idle['VmRSS'])})")
    print(f"logs list: {log_summary(redis_cli)}")
    g.stop()


if __name__ == "__main__":
    main()
