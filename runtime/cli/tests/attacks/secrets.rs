//! No secret in any answer, log line, `/ws/logs`, the `logs` list, any Redis key but `config:*`,
//! a process's command line or environment, or `run`'s own output.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sense_testkit::{RedisServer, basic_auth};
use serde_json::json;

use crate::common::Run;
use crate::common::procs::descendants;
use crate::wire::call;
use crate::{PASSWORD, Tally, redis_cli};

pub(crate) async fn class(run: &mut Run, server: &RedisServer) {
    const PIHOLE: &str = "S3cr3t-MARK-1";
    const CAMERA: &str = "S3cr3t-MARK-2";
    // A webhook's URL is its key (Slack's and Discord's carry their token in the path).
    const WEBHOOK: &str = "S3cr3t-MARK-3";
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let headers = [("Authorization", right.as_str())];
    // The log feed, opened before the write so it sees what the write logs.
    let logs = run
        .ws(
            "/ws/logs?level=debug",
            vec![("Authorization".into(), right.clone())],
            |ws| {
                let mut ws = ws.expect("/ws/logs opens");
                ws.set_timeout(Duration::from_millis(300));
                let mut seen = String::new();
                let end = Instant::now() + Duration::from_secs(3);
                while Instant::now() < end {
                    if let Some(text) = ws.next_text() {
                        seen.push_str(&text);
                        seen.push('\n');
                    }
                }
                seen
            },
        )
        .await;
    let write = json!({
        "pihole": {"host": "http://127.0.0.1:9", "password": PIHOLE},
        "camera": {"cameras": [{
            "name": "door", "host": "127.0.0.1", "port": 9, "username": "viewer",
            "password": CAMERA, "stream_path": "/live"
        }]},
        "alerts": {"webhook": {"enabled": true, "url": format!("http://127.0.0.1:9/hooks/{WEBHOOK}")}},
    });
    let a = call(
        address,
        None,
        "POST",
        "/api/config",
        &headers,
        &write.to_string(),
    )
    .await;
    assert_eq!(a.status, 200, "the secrets write: {}", a.text());
    let leaks =
        |text: &str| text.contains(PIHOLE) || text.contains(CAMERA) || text.contains(WEBHOOK);
    let mut t = Tally::new("secrets");
    // The child processes (a camera's FFmpeg, sources) while they come and go.
    let root = run.child.id();
    let mut cmdlines = 0;
    let end = Instant::now() + Duration::from_secs(3);
    let mut leaked_in: Vec<String> = Vec::new();
    while Instant::now() < end {
        for pid in descendants(root) {
            if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                cmdlines += 1;
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if leaks(&text) {
                    leaked_in.push(text);
                }
            }
            if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
                let text = String::from_utf8_lossy(&environ).replace('\0', " ");
                if leaks(&text) {
                    leaked_in.push(format!("environ of {pid}"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.case(leaked_in.is_empty() && cmdlines > 0, || {
        format!("process command lines ({cmdlines} read): {leaked_in:?}")
    });
    for path in [
        "/api/config",
        "/api/sources",
        "/api/sources/pihole",
        "/api/sources/network_camera",
        "/metrics",
        "/health",
        "/api/session",
    ] {
        let a = call(address, None, "GET", path, &headers, "").await;
        t.case(a.status != 0 && !leaks(&a.text()), || {
            format!("{path} → {} {}", a.status, a.text())
        });
    }
    let config = call(address, None, "GET", "/api/config", &headers, "").await;
    t.case(config.text().contains("pihole"), || {
        "the write did not land".into()
    });
    let seen = logs.await.unwrap();
    t.case(!leaks(&seen), || format!("/ws/logs: {seen}"));
    let list = redis_cli(server, &["LRANGE", "logs", "0", "-1"]);
    t.case(!leaks(&list), || format!("Redis logs: {list}"));
    // Every other key in Redis (config:* holds the secrets on purpose).
    for key in redis_cli(server, &["--scan"]).lines() {
        if key.starts_with("config:") || key.is_empty() {
            continue;
        }
        let value = match redis_cli(server, &["TYPE", key]).trim() {
            "string" => redis_cli(server, &["GET", key]),
            "list" => redis_cli(server, &["LRANGE", key, "0", "-1"]),
            "hash" => redis_cli(server, &["HGETALL", key]),
            "set" => redis_cli(server, &["SMEMBERS", key]),
            "zset" => redis_cli(server, &["ZRANGE", key, "0", "-1"]),
            "stream" => redis_cli(server, &["XRANGE", key, "-", "+"]),
            _ => String::new(),
        };
        t.case(!leaks(&value), || format!("Redis {key}: {value}"));
    }
    // What `run` printed (its log lines on standard output and error).
    let output = run.output();
    t.case(!output.is_empty() && !leaks(&output), || {
        format!(
            "`run`'s output ({} lines) quotes a secret",
            output.lines().count()
        )
    });
    println!(
        "attacks: secrets: {} places checked, {cmdlines} process command lines read",
        t.tried
    );
    t.finish(run);
}
