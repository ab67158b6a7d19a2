//! `--sim` contacts no configured host: the web sources use their simulated endpoints whatever the
//! config names. A loopback listener owned by the test stands in for "a real host" and records
//! every connection made to it.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Run;
use sense_bus::command::CommandClient;
use sense_bus::{Bus, ConnectOptions};
use sense_testkit::RedisServer;
use serde_json::{Value as Json, json};

/// A listener on 127.0.0.1 that nothing should ever connect to.
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// The peers of every connection made so far. The kernel completes the handshake and queues
    /// a connection for `accept` even when the client gave up or closed it since.
    fn connections(&self) -> Vec<String> {
        let mut peers = Vec::new();
        while let Ok((_, peer)) = self.0.accept() {
            peers.push(peer.to_string());
        }
        peers
    }
}

/// A child process killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sense_pulse(server: &RedisServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sense-pulse"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("LOG_LEVEL", "info")
        .env("REDIS_URL", server.url())
        .stdin(Stdio::null());
    cmd
}

fn reading(server: &RedisServer, key: &str) -> Option<Json> {
    let text = server.command(&["GET", key])?;
    serde_json::from_str(&text).ok()
}

#[test]
fn source_once_sim_polls_the_simulation_not_the_configured_host() {
    let server = RedisServer::start();
    let host = Tripwire::new();
    let pihole = json!({"host": host.url(), "password": "app-password"});
    let weather = json!({"base_url": host.url(), "location": "Oslo"});
    for (key, value) in [("config:pihole", pihole), ("config:weather", weather)] {
        assert_eq!(
            server.command(&["SET", key, &value.to_string()]).as_deref(),
            Some("+OK")
        );
    }

    let runs: Vec<_> = ["pihole", "weather"]
        .iter()
        .map(|id| {
            let out = sense_pulse(&server, &["source", id, "--once", "--sim"])
                .output()
                .unwrap();
            (id, out)
        })
        .collect();
    assert_eq!(
        host.connections(),
        Vec::<String>::new(),
        "the configured host was contacted"
    );
    for (id, out) in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{id}: {stderr}");
        assert!(
            stderr.contains("no configured host is contacted"),
            "{id} says so: {stderr}"
        );
    }
    for key in ["source:pihole:queries_today", "source:weather:weather_temp"] {
        let value = reading(&server, key).unwrap_or_else(|| panic!("{key} written"));
        assert!(!value["value"].is_null(), "{key} = {value}");
    }
}

#[tokio::test]
async fn run_sim_polls_the_simulation_not_the_configured_hosts() {
    let server = RedisServer::start();
    let host = Tripwire::new();
    let url = host.url();
    let run = Run::start_with(
        &server,
        "sim-hosts",
        &[("PIHOLE_HOST", &url), ("WEATHER_BASE_URL", &url)],
    )
    .await;
    // Both polled once, well or not (a poll of a host that never answers gives up after 15 s).
    let sources = run
        .wait_for("/api/sources", Duration::from_secs(30), |s| {
            ["weather", "pihole"]
                .iter()
                .all(|id| s[id]["status"]["poll_count"].as_u64() >= Some(1))
        })
        .await;
    assert_eq!(
        host.connections(),
        Vec::<String>::new(),
        "a configured host was contacted"
    );
    for id in ["weather", "pihole"] {
        assert!(
            sources[id]["status"]["last_error"].is_null(),
            "{id}: {}",
            sources[id]["status"]
        );
    }
    assert!(sources["pihole"]["readings"]["queries_today"]["value"].is_number());
    assert!(sources["weather"]["readings"]["weather_temp"]["value"].is_number());
}

/// The camera of `config:camera` (RTSP and ONVIF on the tripwire) is never contacted: the
/// simulated camera is FFmpeg's test pattern, and it cannot pan.
#[tokio::test]
async fn the_simulated_camera_never_contacts_the_configured_camera() {
    let server = RedisServer::start();
    let rtsp = Tripwire::new();
    let onvif = Tripwire::new();
    let hls = std::env::temp_dir().join(format!("sense-sim-camera-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&hls);
    std::fs::create_dir_all(&hls).unwrap();
    let config = json!({
        "cameras": [{
            "name": "Porch", "host": "127.0.0.1", "port": rtsp.port(), "stream_path": "/live",
            "username": "admin", "password": "secret", "enabled": true,
            "ptz_enabled": true, "onvif_port": onvif.port(),
        }],
        "hls_segment_duration": 1, "hls_playlist_size": 3,
    });
    server
        .command(&["SET", "config:camera", &config.to_string()])
        .unwrap();
    let mut child = sense_pulse(&server, &["source", "network_camera", "--sim"])
        .env("HLS_OUTPUT_DIR", &hls)
        .stderr(Stdio::null())
        .spawn()
        .map(Killed)
        .unwrap();

    let bus = Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reading(&server, "source:network_camera:stream_status").map(|r| r["value"].clone())
        != Some(json!("streaming"))
    {
        assert!(child.0.try_wait().unwrap().is_none(), "the camera exited");
        assert!(
            Instant::now() < deadline,
            "not streaming: {:?}",
            reading(&server, "status:network_camera")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = CommandClient::new(bus.clone()).await.unwrap();
    let mut params = serde_json::Map::new();
    params.insert("direction".into(), json!("left"));
    let answer = client
        .send(
            "network_camera",
            "ptz_move",
            params,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.error.as_deref(),
        Some("the simulated camera (FFmpeg's test pattern) cannot pan, tilt or zoom")
    );
    let thumbnail = client
        .send(
            "network_camera",
            "thumbnail",
            serde_json::Map::new(),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert!(thumbnail.is_ok(), "{thumbnail:?}");

    drop(child);
    let _ = std::fs::remove_dir_all(&hls);
    assert_eq!(
        rtsp.connections(),
        Vec::<String>::new(),
        "RTSP was contacted"
    );
    assert_eq!(
        onvif.connections(),
        Vec::<String>::new(),
        "ONVIF was contacted"
    );
}
