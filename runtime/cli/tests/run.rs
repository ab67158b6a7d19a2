//! `sense-pulse run --sim --redis …` end to end: every source simulated, the orchestrator and the
//! gateway in one process, a real redis-server, a real HTTP client and WebSocket client.

mod common;

use common::{Run, json_of};

use std::path::Path;
use std::time::{Duration, Instant};

use sense_http::Request;
use sense_testkit::ws::WsClient;
use sense_testkit::{RedisServer, basic_auth};
use serde_json::{Value as Json, json};

fn readings<'a>(sources: &'a Json, id: &str) -> &'a serde_json::Map<String, Json> {
    sources[id]["readings"]
        .as_object()
        .unwrap_or_else(|| panic!("no {id} in {sources}"))
}

#[tokio::test]
async fn run_sim_serves_every_source_pushes_updates_takes_commands_and_guards_its_files() {
    let server = RedisServer::start();
    let run = Run::start(&server, "all").await;

    // Every source, simulated, within its first poll (co2 waits its timeout for the one monitor
    // out of range).
    let sources = run
        .wait_for("/api/sources", Duration::from_secs(40), |s| {
            ["sensors", "co2", "system", "weather", "pihole", "tailscale"]
                .iter()
                .all(|id| s[id]["readings"].as_object().is_some_and(|r| !r.is_empty()))
        })
        .await;
    assert!(readings(&sources, "system")["cpu_percent"]["value"].is_number());
    assert!(readings(&sources, "sensors")["temperature"]["value"].is_number());
    assert!(readings(&sources, "weather")["forecast_d2_date"]["value"].is_string());
    assert!(readings(&sources, "pihole")["queries_today"]["value"].is_number());
    assert!(readings(&sources, "co2")["office:co2"]["value"].is_number());
    assert_eq!(readings(&sources, "tailscale")["connected"]["value"], true);
    let co2 = &sources["co2"]["status"];
    assert!(
        co2["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("garage")),
        "the monitor out of range is named: {co2}"
    );
    // The same data is in Redis, as the contract says.
    let in_redis = server
        .command(&["GET", "source:system:cpu_percent"])
        .unwrap();
    assert!(in_redis.contains("\"unit\":\"%\""), "{in_redis}");

    // A WebSocket: the snapshot, then a poll pushed as it happens.
    let (has_snapshot, snapshot_taken) = tokio::sync::oneshot::channel();
    let ws = run
        .ws("/ws/sources", Vec::new(), |ws| {
            let mut ws = ws.expect("WebSocket opens");
            let snapshot: Json = serde_json::from_str(&ws.next_text().unwrap()).unwrap();
            // From here on, every poll is pushed to this client.
            let _ = has_snapshot.send(());
            let mut pushed = Vec::new();
            for _ in 0..20 {
                let Some(text) = ws.next_text() else { break };
                let frame: Json = serde_json::from_str(&text).unwrap();
                let done = frame["system"].is_object();
                pushed.push(frame);
                if done {
                    break;
                }
            }
            (snapshot, pushed)
        })
        .await;
    tokio::time::timeout(Duration::from_secs(15), snapshot_taken)
        .await
        .expect("the snapshot within 15 s")
        .expect("the WebSocket thread is alive");
    let trigger = run
        .command("orchestrator", "trigger", json!({"service": "system"}))
        .await;
    assert_eq!(trigger["success"], true, "{trigger}");
    let (snapshot, pushed) = tokio::time::timeout(Duration::from_secs(15), ws)
        .await
        .expect("a pushed update within 15 s")
        .unwrap();
    let before = snapshot["system"]["readings"]["cpu_percent"]["timestamp"]
        .as_f64()
        .unwrap();
    let update = pushed.last().expect("a pushed frame");
    let after = update["system"]["readings"]["cpu_percent"]["timestamp"]
        .as_f64()
        .unwrap_or_else(|| panic!("a system update: {pushed:?}"));
    assert!(after > before, "a new poll was pushed: {before} → {after}");

    // A refused config write changes nothing; a good one is applied and announced.
    let before = server.command(&["GET", "config:display"]);
    let refused = run
        .post(
            "/api/config",
            &json!({"display": {"rotation": 45}, "weather": {"location": "Oslo"}}),
        )
        .await;
    assert_eq!(refused.status, 400);
    let why = json_of(&refused);
    assert_eq!(why["field"], "display.rotation", "{why}");
    assert_eq!(server.command(&["GET", "config:display"]), before);
    assert_eq!(
        server.command(&["GET", "config:weather"]),
        Some("$-1".to_owned()),
        "all sections or none"
    );
    let accepted = run
        .post("/api/config", &json!({"display": {"rotation": 180}}))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let config = json_of(&run.get("/api/config").await);
    assert_eq!(config["display"]["rotation"], 180);

    // A command round trip to the Sense HAT service: the rotation took effect on the matrix.
    let matrix = run
        .wait_for_command("sensors", "get_matrix", |m| m["data"]["rotation"] == 180)
        .await;
    assert_eq!(matrix["data"]["pixels"].as_array().unwrap().len(), 64);
    let cleared = run.command("sensors", "clear", json!({})).await;
    assert_eq!(cleared["success"], true, "{cleared}");

    // The camera on demand: HLS through the gateway, then stopped.
    let started = run.command("orchestrator", "start_camera", json!({})).await;
    assert_eq!(started["success"], true, "{started}");
    run.wait_for(
        "/api/sources/network_camera",
        Duration::from_secs(30),
        |c| c["readings"]["stream_status"]["value"] == "streaming",
    )
    .await;
    let playlist = run.get("/api/stream/stream.m3u8").await;
    assert_eq!(playlist.status, 200);
    assert!(
        playlist.text().starts_with("#EXTM3U"),
        "{}",
        playlist.text()
    );
    let segment = playlist
        .text()
        .lines()
        .find(|l| l.ends_with(".ts"))
        .unwrap()
        .to_owned();
    let segment = run.get(&format!("/api/stream/{segment}")).await;
    assert_eq!(segment.status, 200);
    assert_eq!(segment.body[0], 0x47, "an MPEG-TS segment");
    let stopped = run.command("orchestrator", "stop_camera", json!({})).await;
    assert_eq!(stopped["success"], true, "{stopped}");
    run.wait_for(
        "/api/sources/network_camera",
        Duration::from_secs(15),
        |c| c["readings"]["stream_status"]["value"] == "stopped",
    )
    .await;
    assert_eq!(run.get("/api/stream/stream.m3u8").await.status, 503);

    // Nothing outside the dashboard's or the stream's folder, however the path is written.
    for attack in sense_testkit::PATH_ATTACKS {
        let r = run.get(attack).await;
        assert!(!r.text().contains("top secret"), "{attack} leaked the file");
        assert!(!r.text().contains("root:"), "{attack} leaked /etc/passwd");
        assert!(
            r.status >= 400 || r.text().contains("<title>Sense Pulse"),
            "{attack}: {} {}",
            r.status,
            r.text()
        );
    }

    // Warnings of every service reach the log viewer: co2's monitor out of range.
    let logs = run
        .ws("/ws/logs", Vec::new(), |ws| {
            let mut ws = ws.expect("WebSocket opens");
            let mut seen = Vec::new();
            for _ in 0..50 {
                let Some(text) = ws.next_text() else { break };
                let found = text.contains("garage");
                seen.push(text);
                if found {
                    break;
                }
            }
            seen
        })
        .await;
    let seen = tokio::time::timeout(Duration::from_secs(15), logs)
        .await
        .unwrap()
        .unwrap();
    assert!(
        seen.iter()
            .any(|t| t.contains("garage") && t.contains("\"warn\"")),
        "{seen:?}"
    );
}

impl Run {
    /// Sends a command until its answer satisfies `check` (effects may take a moment).
    async fn wait_for_command(
        &self,
        target: &str,
        action: &str,
        check: impl Fn(&Json) -> bool,
    ) -> Json {
        let start = Instant::now();
        loop {
            let answer = self.command(target, action, json!({})).await;
            if answer["success"] == true && check(&answer) {
                return answer;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{target} {action}: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn auth_covers_rest_websockets_and_commands_of_run() {
    let server = RedisServer::start();
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let auth = json!({"enabled": true, "username": "admin", "password_hash": hash});
    server
        .command(&["SET", "config:auth", &auth.to_string()])
        .unwrap();
    let run = Run::start(&server, "auth").await;
    run.wait_sign_in_in_force().await;
    let right = basic_auth("admin", "correct horse");
    let wrong = basic_auth("admin", "battery staple");
    let nobody = basic_auth("root", "correct horse");
    // The Sense HAT service takes commands once it has subscribed to them, a moment after start.
    let start = Instant::now();
    loop {
        let answer = run
            .send(
                Request::post_json(
                    run.url("/api/command/sensors"),
                    &json!({"action": "get_matrix"}),
                )
                .header("authorization", right.as_str()),
            )
            .await;
        if answer.status == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the Sense HAT service takes no commands: {}",
            answer.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every kind of request with no, wrong and right credentials (4 failures: under the limit).
    for (credentials, allowed) in [(Some(&right), true), (None, false), (Some(&wrong), false)] {
        let with = |r: Request| match credentials {
            Some(c) => r.header("authorization", c.as_str()),
            None => r,
        };
        let rest = run.send(with(Request::get(run.url("/api/sources")))).await;
        assert_eq!(
            rest.status,
            if allowed { 200 } else { 401 },
            "REST with {credentials:?}"
        );
        if !allowed {
            assert!(rest.header("www-authenticate").is_some());
        }
        let command = run
            .send(with(Request::post_json(
                run.url("/api/command/sensors"),
                &json!({"action": "get_matrix"}),
            )))
            .await;
        assert_eq!(
            command.status,
            if allowed { 200 } else { 401 },
            "command with {credentials:?}: {}",
            command.text()
        );
        if allowed {
            assert_eq!(json_of(&command)["success"], true);
        }
        let headers: Vec<(String, String)> = credentials
            .map(|c| ("Authorization".to_owned(), c.clone()))
            .into_iter()
            .collect();
        let ws = run
            .ws("/ws/sources", headers, |ws| ws.map(WsClient::close))
            .await
            .await
            .unwrap();
        if allowed {
            assert!(ws.is_ok(), "WS with the right credentials: {ws:?}");
        } else {
            assert_eq!(ws, Err(401), "WS with {credentials:?}");
        }
    }
    let unknown_user = run
        .send(Request::get(run.url("/api/sources")).header("authorization", nobody.as_str()))
        .await;
    assert_eq!(unknown_user.status, 401);
    // Health stays open for Docker and Traefik.
    assert_eq!(run.get("/health").await.status, 200);

    // Failed logins are rate limited: after 5 in a minute, even the right password waits.
    let mut limited = None;
    for _ in 0..3 {
        let r = run
            .send(Request::get(run.url("/api/sources")).header("authorization", wrong.as_str()))
            .await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 401);
    }
    let limited = limited.expect("429 after repeated failures");
    assert!(limited.header("retry-after").is_some());
    let locked = run
        .send(Request::get(run.url("/api/sources")).header("authorization", right.as_str()))
        .await;
    assert_eq!(locked.status, 429);
}

#[tokio::test]
async fn redis_going_away_is_said_the_last_values_stay_and_recovery_needs_no_restart() {
    let mut server = RedisServer::start();
    let run = Run::start(&server, "outage").await;
    run.wait_for("/api/sources", Duration::from_secs(20), |s| {
        s["system"]["readings"]
            .as_object()
            .is_some_and(|r| !r.is_empty())
    })
    .await;

    server.stop();
    let start = Instant::now();
    loop {
        let health = run.get("/health").await;
        if health.status == 503 {
            let body = json_of(&health);
            assert_eq!(body["status"], "unhealthy");
            assert!(
                body["cause"].as_str().is_some_and(|c| !c.is_empty()),
                "{body}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "/health still {}",
            health.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last values stay served, frozen, and say so.
    let api = run.get("/api/sources").await;
    assert_eq!(api.status, 200);
    assert!(
        api.header("x-sense-bus")
            .is_some_and(|h| h.starts_with("down")),
        "{:?}",
        api.header("x-sense-bus")
    );
    let frozen = json_of(&api);
    assert_eq!(frozen["system"]["bus"]["state"], "down");
    assert!(frozen["system"]["readings"]["cpu_percent"].is_object());

    server.restart();
    run.wait_for("/health", Duration::from_secs(20), |h| {
        h["status"] == "healthy"
    })
    .await;
    // The sources write again (the resident Sense HAT within seconds; Redis came back empty).
    let sources = run
        .wait_for("/api/sources", Duration::from_secs(30), |s| {
            s["sensors"]["readings"]
                .as_object()
                .is_some_and(|r| !r.is_empty())
        })
        .await;
    assert!(sources["sensors"]["status"].is_object());
    assert!(Path::new(&run.dir).exists());
}

#[tokio::test]
async fn a_redis_that_comes_back_empty_has_every_source_written_again_within_3s() {
    let mut server = RedisServer::start();
    // co2 listens 1 s (not 10) for the simulated monitor that is out of range.
    let run = Run::start_with(&server, "empty", &[("ARANET4_TIMEOUT", "1")]).await;
    const SOURCES: [&str; 6] = ["sensors", "co2", "system", "weather", "pihole", "tailscale"];
    // Every source polled once (co2 may hear none of its monitors in 1 s on a busy machine: its
    // status says so, which is all this test needs of it).
    let before = run
        .wait_for("/api/sources", Duration::from_secs(30), |s| {
            SOURCES.iter().all(|id| {
                s[id]["status"]["poll_count"].as_u64() >= Some(1)
                    && (*id == "co2"
                        || s[id]["readings"].as_object().is_some_and(|r| !r.is_empty()))
            }) && s["sensors"]["readings"]["temperature_compensated"]["value"].is_number()
        })
        .await;
    let bus = sense_bus::Bus::connect(
        &server.url(),
        sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap();

    server.restart(); // empty, as after a crash without persistence
    let back = Instant::now();
    let mut took = std::collections::BTreeMap::new();
    while took.len() < SOURCES.len() {
        for id in SOURCES {
            if took.contains_key(id) {
                continue;
            }
            let status = bus.get(&format!("status:{id}")).await.ok().flatten();
            // The compensated temperature needs system's CPU temperature: both must be back.
            let complete = id != "sensors"
                || bus
                    .get("source:sensors:temperature_compensated")
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|r| !r.contains("\"value\":null"));
            if status.is_some() && complete {
                took.insert(id, back.elapsed());
            }
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still missing after 10 s: {:?} (back: {took:?}); `run` said:\n{}",
            SOURCES
                .iter()
                .filter(|id| !took.contains_key(*id))
                .collect::<Vec<_>>(),
            run.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("written again after Redis came back empty: {took:?}");
    for (id, t) in &took {
        // Weather polls every 300 s: without the orchestrator's look for lost statuses it would
        // have waited up to that long. co2 listens for its monitors (1 s here) before it writes.
        let limit = Duration::from_secs(if *id == "co2" { 4 } else { 3 });
        assert!(*t < limit, "{id} took {t:?}");
    }
    // Meanwhile the gateway kept every source's last values (the data bus said it was down, or
    // they were lost before their time), and has the fresh ones now.
    let now = run.get("/api/sources").await;
    let now = json_of(&now);
    for id in SOURCES {
        assert!(now[id]["status"].is_object(), "{id}: {now}");
    }
    assert!(
        now["weather"]["readings"]["weather_temp"]["timestamp"].as_f64()
            > before["weather"]["readings"]["weather_temp"]["timestamp"].as_f64(),
        "weather polled again"
    );
}

/// The gateway's `sense_gateway_websocket_dropped_total` and `…_clients` from `/metrics`.
async fn websocket_metrics(run: &Run) -> (u64, u64) {
    let text = run.get("/metrics").await.text();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    };
    (
        value("sense_gateway_websocket_dropped_total"),
        value("sense_gateway_websocket_clients"),
    )
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_dropped_and_costs_no_memory() {
    use std::io::{Read, Write};
    let server = RedisServer::start();
    let run = Run::start(&server, "slow").await;
    run.wait_for("/api/sources", Duration::from_secs(20), |s| {
        s["weather"]["readings"]
            .as_object()
            .is_some_and(|r| r.len() > 20)
    })
    .await;

    // A client that opens /ws/sources and never reads again.
    let mut stalled = std::net::TcpStream::connect(&run.address).unwrap();
    write!(
        stalled,
        "GET /ws/sources HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        run.address
    )
    .unwrap();
    let mut head = [0u8; 12];
    stalled.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    // And one that keeps up: it says when it has its first message (it is subscribed then),
    // and ends with the last state it saw.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let reader = run
        .ws("/ws/sources", Vec::new(), move |ws| {
            let mut ws = ws.expect("WebSocket opens");
            let mut last = ws.next_text();
            let _ = ready_tx.send(());
            let mut frames = 1u64;
            // Until the test's last change arrives.
            while let Some(text) = ws.next_text() {
                frames += 1;
                let done = text.contains("\"the end\"");
                last = Some(text);
                if done {
                    break;
                }
            }
            (frames, last)
        })
        .await;
    ready_rx.await.expect("the reading client's first message");
    let before = rss_kib(run.child.id());

    // Changes as fast as Redis takes them, each a 256 KiB reading, so the stalled client's
    // socket buffers fill within seconds even though every client gets at most one message
    // per 250 ms (the latest state, never a backlog).
    let bus = sense_bus::Bus::connect(
        &server.url(),
        sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let padding = "x".repeat(256 * 1024);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..20 {
            n += 1;
            let reading = json!({"value": format!("{n} {padding}"), "unit": null, "timestamp": sense_bus::unix_now()});
            bus.set("source:weather:weather_note", &reading.to_string(), None)
                .await
                .unwrap();
            bus.publish("data:weather", r#"{"source_id":"weather","timestamp":0}"#)
                .await
                .unwrap();
        }
        // The stalled client is dropped once its socket took nothing for 5 s: one client is left,
        // the one that reads.
        let (dropped, clients) = websocket_metrics(&run).await;
        if clients == 1 {
            assert!(dropped >= 1);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the stalled client was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = rss_kib(run.child.id());
    assert!(
        after < before + 8 * 1024,
        "memory stayed bounded: {before} KiB → {after} KiB"
    );
    eprintln!(
        "stalled client dropped after {:?} and {n} updates; RSS {before} KiB → {after} KiB",
        start.elapsed()
    );
    // The client that kept up gets the latest state (coalesced: not every update).
    let end = json!({"value": "the end", "unit": null, "timestamp": sense_bus::unix_now()});
    bus.set("source:weather:weather_note", &end.to_string(), None)
        .await
        .unwrap();
    bus.publish("data:weather", r#"{"source_id":"weather","timestamp":0}"#)
        .await
        .unwrap();
    let (frames, last) = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("the reading client gets the last change")
        .unwrap();
    let last: Json = serde_json::from_str(&last.expect("messages")).unwrap();
    assert_eq!(
        last["weather"]["readings"]["weather_note"]["value"],
        "the end"
    );
    eprintln!("the reading client got {frames} messages for {n} changes");
}
