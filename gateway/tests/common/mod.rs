//! The harness shared by the gateway's integration tests: a gateway on a free port over the
//! in-memory bus, with a tiny built dashboard, an HLS folder and a secret next to them.
#![allow(dead_code)] // each test file uses its own part of it

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sense_bus::model::{Measurement, Meta, Status, Value};
use sense_bus::store::PollWrite;
use sense_bus::{Bus, SourceId};
use sense_gateway::{BusSpec, GatewayOptions};
use sense_hal::Unit;
use sense_http::{HttpClient, Request, Response};
use sense_testkit::ws::WsClient;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

pub struct Gateway {
    pub address: SocketAddr,
    pub bus: Bus,
    pub dir: PathBuf,
    pub shutdown: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// No environment: every setting at its default.
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// A gateway on a free port with a tiny built frontend, an HLS folder and a secret next to them.
pub fn start(name: &str) -> Gateway {
    start_with(name, no_env)
}

/// [`start`] with the settings `env` gives (caps, …).
pub fn start_with(name: &str, env: fn(&str) -> Option<String>) -> Gateway {
    start_on(name, Bus::memory(), env)
}

/// [`start_with`] on `bus`, which may hold data (config) before the gateway starts.
pub fn start_on(name: &str, bus: Bus, env: fn(&str) -> Option<String>) -> Gateway {
    start_on_spec(name, BusSpec::Shared(bus.clone()), bus, env)
}

/// A gateway connecting to Redis at `url` itself (as deployed); the returned `bus` is the
/// test's own connection to the same Redis.
pub async fn start_on_redis(name: &str, url: &str) -> Gateway {
    let bus = Bus::connect(
        url,
        sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .expect("connect to the test redis-server");
    start_on_spec(
        name,
        BusSpec::Redis(url.to_owned(), Default::default()),
        bus,
        no_env,
    )
}

fn start_on_spec(name: &str, spec: BusSpec, bus: Bus, env: fn(&str) -> Option<String>) -> Gateway {
    let dir = std::env::temp_dir().join(format!("sense-gateway-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("build/_app/immutable")).unwrap();
    std::fs::create_dir_all(dir.join("hls")).unwrap();
    std::fs::write(
        dir.join("build/index.html"),
        "<!doctype html><title>Sense Pulse</title>",
    )
    .unwrap();
    std::fs::write(dir.join("build/_app/immutable/app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("build/service-worker.js"), "self.skipWaiting()").unwrap();
    std::fs::write(
        dir.join("build/manifest.webmanifest"),
        "{\"name\":\"Sense Pulse\"}",
    )
    .unwrap();
    std::fs::write(dir.join("secret.txt"), "top secret").unwrap();
    std::fs::write(dir.join("hls/stream.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::write(dir.join("hls/segment_00001.ts"), [0x47u8; 188]).unwrap();
    let shutdown = CancellationToken::new();
    let options = GatewayOptions {
        frontend_dir: Some(dir.join("build")),
        hls_dir: dir.join("hls"),
        allowed_origins: vec!["http://localhost:5173".into()],
        allowed_hosts: vec!["dash.example.com".into()],
        env,
        state_dir: None,
        simulated: None,
    };
    let (address, _thread) = sense_gateway::spawn(
        "127.0.0.1:0".parse().unwrap(),
        spec,
        options,
        shutdown.clone(),
    )
    .unwrap();
    Gateway {
        address,
        bus,
        dir,
        shutdown,
    }
}

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Request::get(self.url(path))).await
    }

    pub async fn send(&self, request: Request) -> Response {
        for _ in 0..50 {
            match HttpClient::default().send(request.clone()).await {
                Ok(r) => return r,
                // The gateway's thread may still be starting.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("the gateway does not answer");
    }

    pub async fn post(&self, path: &str, body: &Json) -> Response {
        self.send(Request::post_json(self.url(path), body)).await
    }

    pub async fn write_weather_poll(&self) {
        let measurements = vec![Measurement::new(
            "weather_temp".into(),
            Value::Float(18.0),
            Some(Unit::CELSIUS),
        )];
        let status = Status::new("weather");
        let meta = Meta {
            source_id: "weather".into(),
            name: "Weather".into(),
            description: String::new(),
            refresh_interval: 300,
            enabled: true,
        };
        let write = PollWrite {
            source: SourceId::Weather.as_str(),
            measurements: &measurements,
            timestamp: sense_bus::unix_now(),
            status: &status,
            meta: &meta,
            state: None,
            interval_s: 300,
            cache_ttl_s: 60,
        };
        self.bus.apply(&write.batch()).await.unwrap();
    }

    pub async fn write_system_poll(&self, cpu: f64) {
        let measurements = vec![
            Measurement::new("cpu_percent".into(), Value::Float(cpu), Some(Unit::PERCENT)),
            Measurement::new("cpu_temp".into(), Value::Null, Some(Unit::CELSIUS)),
        ];
        let mut status = Status::new("system");
        status.poll_count = 1;
        let meta = Meta {
            source_id: "system".into(),
            name: "System".into(),
            description: String::new(),
            refresh_interval: 30,
            enabled: true,
        };
        let write = PollWrite {
            source: SourceId::System.as_str(),
            measurements: &measurements,
            timestamp: sense_bus::unix_now(),
            status: &status,
            meta: &meta,
            state: None,
            interval_s: 30,
            cache_ttl_s: 60,
        };
        self.bus.apply(&write.batch()).await.unwrap();
    }
}

/// Every text message of a WebSocket on `path`, parsed, from a thread of its own.
pub fn listen(g: &Gateway, path: &str) -> tokio::sync::mpsc::UnboundedReceiver<Json> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let address = g.address.to_string();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut ws = WsClient::connect(&address, &path, &[]).unwrap();
        while let Some(text) = ws.next_text() {
            if tx.send(serde_json::from_str(&text).unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first message that satisfies `wanted` (within 10 s).
pub async fn until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Json>,
    wanted: impl Fn(&Json) -> bool,
) -> Json {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = rx.recv().await.expect("the WebSocket closed");
            if wanted(&m) {
                return m;
            }
        }
    })
    .await
    .expect("no such message within 10 s")
}

pub fn json_of(r: &Response) -> Json {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}
