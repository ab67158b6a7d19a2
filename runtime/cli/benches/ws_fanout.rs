//! Benchmark: 200 WebSocket clients on `/ws/sources` of `sense-pulse gateway` (release build
//! recommended: `cargo bench` builds it), a real redis-server; the latency from `PUBLISH
//! data:system` to each client's frame. Target: p99 under 20 ms.
//!
//!   cargo bench -p sense-pulse --bench ws_fanout            (CLIENTS=200 ROUNDS=30 by default)
//!
//! The clients are blocking threads ([`WsClient`]); every frame's arrival is timed against the
//! moment the bench published, so the figure covers the gateway's read of the source from Redis,
//! its serialisation and the fan-out to every socket. Rounds are 300 ms apart, beyond the
//! gateway's 250 ms coalescing window.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sense_testkit::ws::WsClient;
use sense_testkit::{RedisServer, free_port};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[allow(clippy::print_stdout)]
fn main() {
    let clients = env_number("CLIENTS", 200);
    let rounds = env_number("ROUNDS", 30);
    let server = RedisServer::start();
    let reading = |cpu: f64| {
        format!(
            r#"{{"value":{cpu},"unit":"%","timestamp":{}}}"#,
            sense_bus::unix_now()
        )
    };
    server
        .command(&["SET", "source:system:cpu_percent", &reading(1.0)])
        .unwrap();
    server
        .command(&[
            "SET",
            "status:system",
            r#"{"source_id":"system","poll_count":1,"error_count":0}"#,
        ])
        .unwrap();

    let address = format!("127.0.0.1:{}", free_port());
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(["gateway", "--listen", &address])
        .env("REDIS_URL", server.url())
        .env("LOG_LEVEL", "warn")
        // Every client comes from 127.0.0.1: more than the default caps allow one address.
        .env("GATEWAY_MAX_CONNECTIONS", (clients + 64).to_string())
        .env(
            "GATEWAY_MAX_CONNECTIONS_PER_CLIENT",
            (clients + 64).to_string(),
        )
        .env("GATEWAY_MAX_WEBSOCKETS", clients.to_string())
        .env("GATEWAY_MAX_WEBSOCKETS_PER_CLIENT", clients.to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the gateway");
    let start = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "gateway not up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Every client reports (round, arrival) for each frame after its snapshot.
    let (arrivals, frames) = mpsc::channel::<(usize, Instant)>();
    let (ready_tx, ready) = mpsc::channel::<()>();
    let mut threads = Vec::new();
    for _ in 0..clients {
        let arrivals = arrivals.clone();
        let ready_tx = ready_tx.clone();
        let address = address.clone();
        threads.push(std::thread::spawn(move || {
            let mut ws = WsClient::connect(&address, "/ws/sources", &[]).expect("connect");
            ws.next_text().expect("snapshot");
            let _ = ready_tx.send(());
            for round in 0..rounds {
                match ws.next_text() {
                    Some(_) => {
                        let _ = arrivals.send((round, Instant::now()));
                    }
                    None => return,
                }
            }
        }));
    }
    drop(arrivals);
    for _ in 0..clients {
        ready
            .recv_timeout(Duration::from_secs(30))
            .expect("every client connected");
    }
    // A client that has its first message is subscribed (the gateway subscribes it first). The
    // first round waits out the coalescing window that message opened, as every round does.
    std::thread::sleep(Duration::from_millis(300));

    let mut latencies = Vec::with_capacity(clients * rounds);
    for round in 0..rounds {
        server
            .command(&["SET", "source:system:cpu_percent", &reading(round as f64)])
            .unwrap();
        let published = Instant::now();
        server
            .command(&[
                "PUBLISH",
                "data:system",
                r#"{"source_id":"system","timestamp":0}"#,
            ])
            .unwrap();
        for _ in 0..clients {
            let (r, at) = frames
                .recv_timeout(Duration::from_secs(10))
                .expect("a frame for every client");
            assert_eq!(r, round, "frames arrive in order");
            latencies.push(at.duration_since(published));
        }
        // Beyond the gateway's coalescing window (one message per client per 250 ms), so each
        // round times the push itself, not the wait for the window.
        std::thread::sleep(Duration::from_millis(300));
    }
    let rss = std::fs::read_to_string(format!("/proc/{}/status", gateway.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        .unwrap_or_default();
    let _ = gateway.kill();
    let _ = gateway.wait();
    for t in threads {
        let _ = t.join();
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ws_fanout: {clients} clients x {rounds} publishes = {} frames; PUBLISH to frame: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; gateway peak RSS {} KiB",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
        rss
    );
}
