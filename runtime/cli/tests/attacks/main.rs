//! Attacks on one real `sense-pulse run --sim` on a real redis-server, tried class by class from
//! tables: sign-in, hosts and origins, request framing, path traversal, hostile JSON, secrets and
//! exhaustion (slowloris, 1,000 WebSockets), a module each. Each class prints one line
//! (`suite: attacks: {class}: tried N, held N`) and holds all its cases; `run`'s memory,
//! descriptors and threads before and after the whole of it print as `suite: resources: …`.
//! Requests go over raw TCP (`wire`) so that nothing (no client library) tidies them up first.
#![allow(clippy::print_stdout)] // one line per class is what the suite reports

mod auth;
#[path = "../common/mod.rs"]
mod common;
mod exhaustion;
mod framing;
mod host_origin;
mod hostile_json;
mod secrets;
mod traversal;
mod wire;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Resources, Run};
use sense_testkit::RedisServer;
use wire::{call, upgrade};

const PASSWORD: &str = "correct horse";
/// A hang guard only: every exchange ends long before.
const PATIENCE: Duration = Duration::from_secs(8);
const SECRET_FILE: &str = "top secret";

/// Counts a class's cases and says which failed.
struct Tally {
    class: &'static str,
    tried: usize,
    held: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(class: &'static str) -> Tally {
        Tally {
            class,
            tried: 0,
            held: 0,
            failures: Vec::new(),
        }
    }

    fn case(&mut self, held: bool, what: impl FnOnce() -> String) {
        self.tried += 1;
        if held {
            self.held += 1;
        } else {
            self.failures.push(what());
        }
    }

    /// Prints the line and checks every case held and `run` lives.
    fn finish(self, run: &mut Run) {
        let alive = run.child.try_wait().unwrap().is_none();
        println!(
            "suite: attacks: {}: tried {}, held {}",
            self.class, self.tried, self.held
        );
        for f in &self.failures {
            eprintln!("attacks: {}: did not hold: {f}", self.class);
        }
        assert!(alive, "{}: `run` died", self.class);
        assert_eq!(
            self.held, self.tried,
            "{}: {:#?}",
            self.class, self.failures
        );
    }
}

fn redis_cli(server: &RedisServer, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &server.port().to_string(), "--no-auth-warning"])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The routes sign-in protects: (method, path, body); `WS` for an upgrade.
const PROTECTED: &[(&str, &str, &str)] = &[
    ("GET", "/api/sources", ""),
    ("GET", "/api/sources/system", ""),
    ("GET", "/api/config", ""),
    ("GET", "/metrics", ""),
    ("GET", "/api/history/system/cpu_percent", ""),
    ("GET", "/api/stream/stream.m3u8", ""),
    ("POST", "/api/config", "{}"),
    ("POST", "/api/command/sensors", r#"{"action":"noop"}"#),
    ("WS", "/ws/sources", ""),
    ("WS", "/ws/grid", ""),
    ("WS", "/ws/logs", ""),
];

async fn status_of(
    run: &Run,
    local: Option<&str>,
    (method, path, body): (&str, &str, &str),
    headers: &[(&str, &str)],
) -> u16 {
    let address: SocketAddr = run.address.parse().unwrap();
    if method == "WS" {
        upgrade(address, local, path, headers).await
    } else {
        call(address, local, method, path, headers, body)
            .await
            .status
    }
}

#[tokio::test]
#[ignore = "the attack suite, run by scripts/suite.sh"]
async fn attacks_on_one_running_dashboard_are_all_refused() {
    let started = Instant::now();
    let server = RedisServer::start();
    // 1,000 connections held at once, on both ends.
    let descriptors = sense_testkit::raise_descriptor_limit();
    assert!(
        descriptors >= 4096,
        "the exhaustion class needs 4096 descriptors; the hard limit is {descriptors}"
    );
    let mut run = Run::start_with(&server, "attacks", &[]).await;
    let before = run.resources();
    auth::class(&mut run, &server).await;
    host_origin::class(&mut run).await;
    framing::class(&mut run).await;
    traversal::class(&mut run).await;
    hostile_json::class(&mut run).await;
    secrets::class(&mut run, &server).await;
    exhaustion::class(&mut run).await;
    assert!(run.child.try_wait().unwrap().is_none(), "`run` died");
    let after = Resources::settled(run.child.id(), before).await;
    println!("suite: resources: `run` before the attacks {before}; after {after}");
    before.check_growth(after);
    println!("attacks: took {:?}", started.elapsed());
}
