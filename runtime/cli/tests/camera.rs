//! `sense-pulse source network_camera` as the orchestrator runs it: real FFmpeg streaming the test
//! pattern, a real redis-server, commands over the bus.
//!
//! FFmpeg must be installed (`apt-get install ffmpeg`; `.ci/run` does it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sense_bus::command::CommandClient;
use sense_bus::{Bus, ConnectOptions, Subscription, Topic, Ttl};
use sense_testkit::RedisServer;
use serde_json::{Map, Value as Json, json};

fn sense_pulse(server: &RedisServer, hls: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sense-pulse"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("LOG_LEVEL", "info")
        .env("REDIS_URL", server.url())
        .env("HLS_OUTPUT_DIR", hls)
        .stdin(Stdio::null());
    cmd
}

/// A running `sense-pulse`, killed if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sense-cli-camera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn connect(server: &RedisServer) -> Bus {
    Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap()
}

async fn json_at(bus: &Bus, key: &str) -> Option<Json> {
    let text = bus.get(key).await.unwrap()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} = {text:?}: {e}")))
}

async fn reading(bus: &Bus, sensor: &str) -> Option<Json> {
    json_at(bus, &format!("source:network_camera:{sensor}"))
        .await
        .map(|r| r["value"].clone())
}

/// Waits until `stream_status` reads `want`, failing after `within`.
async fn status_becomes(bus: &Bus, child: &mut Child, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if reading(bus, "stream_status").await == Some(json!(want)) {
            return start.elapsed();
        }
        if let Some(exit) = child.try_wait().unwrap() {
            panic!("the camera exited ({exit}) before its stream was {want}");
        }
        assert!(
            start.elapsed() < within,
            "stream_status is {:?}, not {want}, after {within:?}; status {:?}",
            reading(bus, "stream_status").await,
            json_at(bus, "status:network_camera").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("the camera did not exit within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn next_end(ended: &mut Subscription) -> Json {
    let message = tokio::time::timeout(Duration::from_secs(15), ended.recv())
        .await
        .expect("stream:ended within 15 s")
        .expect("the subscription is open");
    serde_json::from_str(&message.payload).unwrap()
}

/// The process ids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

fn params(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

#[tokio::test]
async fn the_simulated_camera_streams_answers_commands_recovers_and_stops_clean() {
    let server = RedisServer::start();
    let hls = scratch("stream");
    let bus = connect(&server).await;
    // Short segments and a quick reconnect keep the test short.
    let config = json!({"reconnect_delay": 1, "hls_segment_duration": 1, "hls_playlist_size": 3});
    bus.set("config:camera", &config.to_string(), None)
        .await
        .unwrap();
    let mut ended = bus
        .subscribe(&[Topic::channel("stream:ended")])
        .await
        .unwrap();

    let mut child = sense_pulse(&server, &hls, &["source", "network_camera", "--sim"])
        .spawn()
        .map(Running)
        .unwrap();
    let took = status_becomes(&bus, &mut child, "streaming", Duration::from_secs(30)).await;
    eprintln!("streaming {took:?} after start");

    // A real HLS stream: a playlist naming segments that exist.
    let playlist = std::fs::read_to_string(hls.join("stream.m3u8")).unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    let segment = playlist
        .lines()
        .find(|l| l.ends_with(".ts"))
        .expect("a segment in the playlist");
    assert!(
        hls.join(segment).is_file(),
        "{segment} in {:?}",
        files(&hls)
    );
    assert!(playlist.contains("#EXT-X-PROGRAM-DATE-TIME"), "{playlist}");

    // The contract's readings and status, FFmpeg's report included.
    let start = Instant::now();
    while reading(&bus, "stream_fps").await.is_none() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reading(&bus, "stream_connected").await, Some(json!(true)));
    assert_eq!(reading(&bus, "stream_error").await, Some(Json::Null));
    assert_eq!(
        reading(&bus, "stream_resolution").await,
        Some(json!("640x360"))
    );
    assert_eq!(reading(&bus, "stream_fps").await, Some(json!(15)));
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    assert_eq!(status["last_error"], Json::Null, "{status}");
    let meta = json_at(&bus, "meta:network_camera").await.unwrap();
    assert_eq!(meta["refresh_interval"], 0, "on demand: {meta}");

    // Commands.
    let client = CommandClient::new(bus.clone()).await.unwrap();
    let send = async |action: &str, p: Json| {
        client
            .send("network_camera", action, params(p), Duration::from_secs(15))
            .await
            .unwrap()
    };
    let thumb = send("thumbnail", json!({})).await;
    assert!(thumb.is_ok(), "{thumb:?}");
    assert_eq!(thumb.data["url"], "/api/stream/thumbnail.jpg");
    let jpeg = std::fs::read(hls.join("thumbnail.jpg")).unwrap();
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    let again = send("thumbnail", json!({})).await;
    assert_eq!(
        again.data["taken_at"], thumb.data["taken_at"],
        "reused within 30 s"
    );

    let ptz = send("ptz_move", json!({"direction": "left"})).await;
    assert_eq!(
        ptz.error.as_deref(),
        Some("the simulated camera (FFmpeg's test pattern) cannot pan, tilt or zoom")
    );
    let bad = send("ptz_move", json!({"direction": "sideways"})).await;
    assert!(
        bad.error
            .as_deref()
            .unwrap()
            .contains("`direction` \"sideways\""),
        "{bad:?}"
    );
    let bad = send("ptz_move", json!({"direction": "up", "step": 3})).await;
    assert!(bad.error.as_deref().unwrap().contains("`step`"), "{bad:?}");
    let unknown = send("dance", json!({})).await;
    assert!(
        unknown
            .error
            .as_deref()
            .unwrap()
            .contains("unknown action `dance`"),
        "{unknown:?}"
    );

    // FFmpeg killed mid-stream: reconnecting, then streaming again.
    let ffmpeg = children(child.id());
    assert_eq!(ffmpeg.len(), 1, "one FFmpeg: {ffmpeg:?}");
    let killed = Command::new("kill")
        .args(["-KILL", &ffmpeg[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    status_becomes(&bus, &mut child, "reconnecting", Duration::from_secs(5)).await;
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("FFmpeg exited")),
        "{status}"
    );
    let back = status_becomes(&bus, &mut child, "streaming", Duration::from_secs(30)).await;
    eprintln!("streaming again {back:?} after reconnecting was reported");
    let respawned = children(child.id());
    assert_eq!(respawned.len(), 1);
    assert_ne!(respawned, ffmpeg, "a new FFmpeg");

    // Stop: an answer, stream:ended, a clean exit, nothing left behind.
    let stop = send("stop", json!({})).await;
    assert!(stop.is_ok(), "{stop:?}");
    let end = next_end(&mut ended).await;
    assert_eq!(end["source_id"], "network_camera");
    assert_eq!(end["reason"], "user_stopped");
    let exit = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit}");
    assert_eq!(files(&hls), Vec::<String>::new(), "the HLS folder is empty");
    assert_eq!(reading(&bus, "stream_status").await, Some(json!("stopped")));
    assert!(
        !Path::new(&format!("/proc/{}", respawned[0])).exists(),
        "FFmpeg is gone"
    );
    let _ = std::fs::remove_dir_all(&hls);
}

#[tokio::test]
async fn a_camera_that_cannot_stream_says_why_and_announces_the_end() {
    let server = RedisServer::start();
    let hls = scratch("cannot");
    let bus = connect(&server).await;
    let mut ended = bus
        .subscribe(&[Topic::channel("stream:ended")])
        .await
        .unwrap();

    // No FFmpeg where it is said to be.
    let mut child = sense_pulse(&server, &hls, &["source", "network_camera", "--sim"])
        .env("FFMPEG", "/nonexistent/ffmpeg")
        .spawn()
        .map(Running)
        .unwrap();
    let exit = wait_exit(&mut child, Duration::from_secs(15)).await;
    assert_eq!(exit.code(), Some(1));
    let end = next_end(&mut ended).await;
    assert_eq!(end["reason"], "error");
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    let error = status["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("FFmpeg is not installed: FFMPEG=/nonexistent/ffmpeg"),
        "{error}"
    );
    assert_eq!(reading(&bus, "stream_status").await, Some(json!("error")));

    // No camera configured, and no simulation to stand in.
    let mut child = sense_pulse(&server, &hls, &["source", "network_camera"])
        .spawn()
        .map(Running)
        .unwrap();
    let exit = wait_exit(&mut child, Duration::from_secs(15)).await;
    assert_eq!(exit.code(), Some(1));
    assert_eq!(next_end(&mut ended).await["reason"], "error");
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    assert_eq!(status["last_error"], "no enabled camera is configured");
    assert_eq!(status["error_count"], 2, "counted across runs: {status}");

    // A stream has no single poll.
    let out = sense_pulse(&server, &hls, &["source", "network_camera", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --once"));
    let _ = std::fs::remove_dir_all(&hls);
}

#[tokio::test]
async fn discovery_finds_the_simulated_camera_and_writes_the_scan() {
    let server = RedisServer::start();
    let hls = scratch("discover");
    let out = sense_pulse(
        &server,
        &hls,
        &["source", "network_camera", "--mode", "discover", "--sim"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bus = connect(&server).await;
    let scan = json_at(&bus, "scan:network_camera").await.unwrap();
    let cameras = scan["cameras"].as_array().unwrap();
    assert!(!cameras.is_empty(), "{scan}");
    assert!(
        cameras.iter().all(|c| c["host"] == "127.0.0.1"),
        "only loopback is scanned in the simulation: {scan}"
    );
    assert_eq!(cameras[0]["name"], "Camera 1");
    assert!(scan["timestamp"].as_f64().is_some());
    match bus.ttl("scan:network_camera").await.unwrap() {
        Ttl::Expires(left) => assert!(left > Duration::from_secs(590), "{left:?}"),
        other => panic!("the scan should expire after 10 min: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&hls);
}
