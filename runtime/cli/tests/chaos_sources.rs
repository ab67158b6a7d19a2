//! The chaos suite's source faults: the orchestrator running real `sense-pulse source co2 --once
//! --sim` children on a real redis-server, one child killed (SIGKILL) in the middle of its poll
//! and one stopped (SIGSTOP) past its timeout. What must hold: the orchestrator carries on (no
//! restart), the failure is recorded in the source's status and its last run, nothing of the
//! child is left, the next scheduled run writes readings again, and nothing grows. Each case
//! prints one `suite: chaos: …` line (counted by `scripts/suite.sh`).
//!
//! A co2 poll listens `aranet4.timeout` seconds (the simulated garage monitor is never heard), so
//! a child is caught in its poll by a signal, not by timing: it is a child of this process, for
//! `source co2`, with a TCP connection to Redis (it has read its config and is polling).
#![allow(clippy::print_stdout)] // one line per case is what the suite reports

mod common;

use std::time::Duration;

use common::Resources;
use common::orchestrator::{Orchestrator, options, sense_pulse, set};
use common::procs::{alive, children, signal};
use rustix::process::Signal;
use sense_orchestrator::{CO2_MARGIN, HEALTH_KEY};
use sense_testkit::RedisServer;
use serde_json::{Value as Json, json};
use tokio::time::Instant;

/// Every co2 poll listens this long.
const POLL_S: u64 = 2;
/// The co2 schedule (the shortest the config allows).
const INTERVAL_S: u64 = 5;
/// When the next scheduled run must have written readings after a fault: the interval, its
/// poll, and a margin for starting a process.
const RESUME_BOUND: Duration = Duration::from_secs(INTERVAL_S + POLL_S + 3);

/// Whether `pid` has a TCP connection to `port` on loopback (read from `/proc/{pid}/fd` and the
/// namespace's `/proc/net/tcp`).
fn connected_to(pid: u32, port: u16) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let sockets: Vec<String> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let remote = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st … inode (the 10th field); 01 is ESTABLISHED.
        f.len() > 9 && f[2].ends_with(&remote) && f[3] == "01" && sockets.iter().any(|s| s == f[9])
    })
}

/// The co2 child once it is polling (bounded by `within`).
async fn co2_child_polling(server: &RedisServer, within: Duration) -> u32 {
    let start = Instant::now();
    loop {
        if let Some(child) = children(std::process::id())
            .into_iter()
            .find(|p| p.cmdline.contains("source co2") && connected_to(p.pid, server.port()))
        {
            return child.pid;
        }
        assert!(
            start.elapsed() < within,
            "no co2 child polling within {within:?}: {:?}",
            children(std::process::id())
                .iter()
                .map(|p| &p.cmdline)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn started(server: &RedisServer, run_timeout: Duration) -> Orchestrator {
    set(server, "config:aranet4", json!({"timeout": POLL_S}));
    set(server, "config:schedule", json!({"aranet4": INTERVAL_S}));
    let mut o = options(server, sense_pulse());
    o.scheduled = vec![sense_bus::SourceId::Co2];
    o.run_timeout = run_timeout;
    Orchestrator::start(server, o).await
}

/// The newest reading time under `source:co2:*`, if any.
fn newest_co2_reading(server: &RedisServer) -> Option<f64> {
    let keys = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &server.port().to_string(),
            "--scan",
            "--pattern",
            "source:co2:*",
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&keys.stdout)
        .lines()
        .filter_map(|key| server.command(&["GET", key]))
        .filter_map(|v| serde_json::from_str::<Json>(&v).ok()?["timestamp"].as_f64())
        .reduce(f64::max)
}

/// Waits until a reading newer than `after` (Unix seconds) is written.
async fn readings_resume(server: &RedisServer, after: f64) -> Duration {
    let start = Instant::now();
    loop {
        if newest_co2_reading(server).is_some_and(|t| t > after) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < RESUME_BOUND,
            "no co2 reading within {RESUME_BOUND:?} of the fault"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The orchestrator still runs: nothing needs a restart.
fn still_running(orchestrator: &Orchestrator) {
    assert!(!orchestrator.task.is_finished(), "the orchestrator ended");
}

/// How the last run of co2 ended, once it is one that started after `after`.
async fn last_run_after(orchestrator: &Orchestrator, after: f64, within: Duration) -> Json {
    let health = orchestrator
        .wait_json(HEALTH_KEY, within, |h| {
            h["sources"]["co2"]["last_run"]["ended_at"].as_f64() > Some(after)
        })
        .await;
    health["sources"]["co2"]["last_run"].clone()
}

#[tokio::test]
#[ignore = "the chaos suite, run by scripts/suite.sh"]
async fn a_source_killed_mid_poll_is_recorded_and_runs_again() {
    let server = RedisServer::start();
    let orchestrator = started(&server, Duration::from_secs(60)).await;
    let pid = co2_child_polling(&server, Duration::from_secs(10)).await;
    let before = Resources::of(std::process::id());

    let killed_at = sense_bus::unix_now();
    signal(pid, Signal::KILL);
    let run = last_run_after(&orchestrator, killed_at - 1.0, Duration::from_secs(10)).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    assert_eq!(run["exit_code"], 137, "{run}");
    let status = orchestrator.json("status:co2").await.unwrap();
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("137"),
        "the status says how the run ended: {status}"
    );
    assert!(!alive(pid), "the killed child is reaped");
    still_running(&orchestrator);

    let resumed = readings_resume(&server, killed_at).await;
    let status = orchestrator
        .wait_json("status:co2", Duration::from_secs(5), |s| {
            s["last_success"].as_f64() > Some(killed_at)
        })
        .await;
    still_running(&orchestrator);
    let after = Resources::of(std::process::id());
    before.check_growth(after);
    println!(
        "suite: chaos: a source killed mid-poll: held; recorded as \"{}\"; readings again {resumed:?} \
         after the kill (the next scheduled run); polls {}, errors {}; the test process {before} → {after}",
        run["error"].as_str().unwrap_or_default(),
        status["poll_count"],
        status["error_count"]
    );
    orchestrator.stop().await;
}

#[tokio::test]
#[ignore = "the chaos suite, run by scripts/suite.sh"]
async fn a_source_stopped_past_its_timeout_is_killed_and_runs_again() {
    let server = RedisServer::start();
    // A co2 run may take its listening time and a margin (the orchestrator's rule), whatever
    // the shorter run timeout of the other sources.
    let timeout = Duration::from_secs(POLL_S) + CO2_MARGIN;
    let orchestrator = started(&server, Duration::from_secs(2)).await;
    let pid = co2_child_polling(&server, Duration::from_secs(10)).await;
    let before = Resources::of(std::process::id());

    let stopped_at = sense_bus::unix_now();
    signal(pid, Signal::STOP);
    let run = last_run_after(&orchestrator, stopped_at, timeout + Duration::from_secs(5)).await;
    assert_eq!(run["outcome"], "timeout", "{run}");
    let status = orchestrator.json("status:co2").await.unwrap();
    assert_eq!(
        status["last_error"],
        format!("run killed after {} s (timeout)", timeout.as_secs()),
        "{status}"
    );
    assert!(!alive(pid), "the stopped child is killed and reaped");
    still_running(&orchestrator);

    let resumed = readings_resume(&server, stopped_at).await;
    still_running(&orchestrator);
    let after = Resources::of(std::process::id());
    before.check_growth(after);
    println!(
        "suite: chaos: a source stopped past its {timeout:?} timeout: held; killed after {} s; \
         readings again {resumed:?} after it was killed; the test process {before} → {after}",
        run["duration_s"]
    );
    orchestrator.stop().await;
}
