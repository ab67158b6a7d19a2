//! One line logged over and over does not fill the dashboard's log (the `logs` list in Redis):
//! the real binary, a real redis-server, a flood of failed sign-ins from many forwarded clients.

mod common;

use std::time::{Duration, Instant};

use common::Run;
use sense_http::Request;
use sense_testkit::RedisServer;
use serde_json::{Value as Json, json};

/// The `message`s in the `logs` list.
fn logged(server: &RedisServer) -> Vec<String> {
    let port = server.port().to_string();
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port, "LRANGE", "logs", "0", "-1"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_flood_of_one_line_leaves_the_rest_of_the_log_alone() {
    let server = RedisServer::start();
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let auth = json!({"enabled": true, "username": "admin", "password_hash": hash});
    server
        .command(&["SET", "config:auth", &auth.to_string()])
        .unwrap();
    let run = Run::start_with(&server, "log-flood", &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    // 25 failed sign-ins, each from a client of its own: the gateway logs each client's first
    // failure, the same line with another address. (Fewer than the 30 that slow checks down.)
    for i in 0..25 {
        let r = run
            .send(
                Request::post_json(
                    run.url("/api/login"),
                    &json!({"username": "admin", "password": "guess"}),
                )
                .header("x-forwarded-for", format!("10.55.0.{}", i + 1)),
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // Then another line, which reaches the list after every earlier one (one queue, in order).
    server.command(&["SET", "config:auth", "not json"]).unwrap();
    server
        .command(&["PUBLISH", "config:changed", r#"{"section":"auth"}"#])
        .unwrap();
    let start = Instant::now();
    while !logged(&server)
        .iter()
        .any(|m| m.contains("sign-in settings"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the later line never came: {:?}",
            logged(&server)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = logged(&server);
    let failures = messages
        .iter()
        .filter(|m| m.starts_with("failed sign-ins"))
        .count();
    assert_eq!(failures, 5, "five of the 25 equal lines: {messages:#?}");
}
