//! The gateway over the in-memory bus: REST, config, commands, files, WebSockets, auth.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sense_bus::command::CommandServer;
use sense_bus::model::{CommandResponse, Measurement, Meta, Status, Value};
use sense_bus::store::PollWrite;
use sense_bus::{Bus, SourceId, Topic};
use sense_gateway::{BusSpec, GatewayOptions};
use sense_hal::Unit;
use sense_http::{HttpClient, Request, Response};
use sense_testkit::ws::WsClient;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

struct Gateway {
    address: SocketAddr,
    bus: Bus,
    dir: PathBuf,
    shutdown: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A gateway on a free port with a tiny built frontend, an HLS folder and a secret next to them.
fn start(name: &str) -> Gateway {
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
    std::fs::write(dir.join("secret.txt"), "top secret").unwrap();
    std::fs::write(dir.join("hls/stream.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::write(dir.join("hls/segment_00001.ts"), [0x47u8; 188]).unwrap();
    let bus = Bus::memory();
    let shutdown = CancellationToken::new();
    let options = GatewayOptions {
        frontend_dir: Some(dir.join("build")),
        hls_dir: dir.join("hls"),
        allowed_origins: vec!["http://localhost:5173".into()],
        allowed_hosts: vec!["dash.example.com".into()],
        env: no_env,
        state_dir: None,
    };
    let (address, _thread) = sense_gateway::spawn(
        "127.0.0.1:0".parse().unwrap(),
        BusSpec::Shared(bus.clone()),
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
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Request::get(self.url(path))).await
    }

    async fn send(&self, request: Request) -> Response {
        for _ in 0..50 {
            match HttpClient::default().send(request.clone()).await {
                Ok(r) => return r,
                // The gateway's thread may still be starting.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("the gateway does not answer");
    }

    async fn post(&self, path: &str, body: &Json) -> Response {
        self.send(Request::post_json(self.url(path), body)).await
    }

    async fn write_weather_poll(&self) {
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
            source: SourceId::Weather,
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

    async fn write_system_poll(&self, cpu: f64) {
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
            source: SourceId::System,
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
fn listen(g: &Gateway, path: &str) -> tokio::sync::mpsc::UnboundedReceiver<Json> {
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
async fn until(
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

fn json_of(r: &Response) -> Json {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

#[tokio::test]
async fn sources_health_history_and_metrics() {
    let g = start("sources");
    assert_eq!(
        json_of(&g.get("/health").await),
        json!({"status": "healthy", "warnings": []})
    );
    assert_eq!(json_of(&g.get("/api/sources").await), json!({}));
    // The REST answers come from the gateway's snapshot, which a push shows is up to date.
    let mut pushes = listen(&g, "/ws/sources");
    assert_eq!(until(&mut pushes, |_| true).await, json!({}));
    g.write_system_poll(12.5).await;
    g.write_system_poll(14.5).await;
    until(&mut pushes, |m| {
        m["system"]["readings"]["cpu_percent"]["value"] == 14.5
    })
    .await;

    let all = json_of(&g.get("/api/sources").await);
    assert_eq!(all["system"]["readings"]["cpu_percent"]["value"], 14.5);
    assert_eq!(all["system"]["readings"]["cpu_temp"]["value"], Json::Null);
    assert_eq!(all["system"]["status"]["poll_count"], 1);
    assert_eq!(all["system"]["bus"]["state"], "up");
    let one = json_of(&g.get("/api/sources/system").await);
    assert_eq!(one["readings"]["cpu_percent"]["unit"], "%");
    let missing = g.get("/api/sources/weather").await;
    assert_eq!(missing.status, 404);
    assert!(
        json_of(&missing)["error"]
            .as_str()
            .unwrap()
            .contains("no data from `weather`")
    );
    assert_eq!(g.get("/api/sources/nonsense").await.status, 404);
    // An id is never a Redis pattern: `*` is no source (it used to merge every source).
    let star = g.get("/api/sources/*").await;
    assert_eq!(star.status, 404);
    assert!(!star.text().contains("cpu_percent"), "{}", star.text());
    assert_eq!(g.get("/api/sources/sys%2A").await.status, 404);

    let history = json_of(
        &g.get("/api/history/system/cpu_percent?hours=1&points=10")
            .await,
    );
    assert_eq!(history["unit"], "%");
    let points = history["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        1,
        "two polls in the same bucket average: {points:?}"
    );
    assert_eq!(points[0][1], 13.5);
    assert_eq!(g.get("/api/history/system/nothing").await.status, 404);

    let metrics = g.get("/metrics").await.text();
    assert!(
        metrics.contains("sense_reading{source=\"system\",sensor=\"cpu_percent\",unit=\"%\"} 14.5"),
        "{metrics}"
    );
    assert_eq!(g.get("/api/nothing").await.status, 404);
}

#[tokio::test]
async fn config_writes_are_validated_atomic_and_announced() {
    let g = start("config");
    g.bus
        .set(
            "config:pihole",
            r#"{"host":"http://pi.hole","password":"hunter2"}"#,
            None,
        )
        .await
        .unwrap();
    let mut changed = g
        .bus
        .subscribe(&[Topic::channel("config:changed")])
        .await
        .unwrap();

    let config = json_of(&g.get("/api/config").await);
    assert_eq!(
        config["pihole"]["password"], "********",
        "secrets never leave"
    );
    assert!(!g.get("/api/config").await.text().contains("hunter2"));
    assert_eq!(config["display"]["rotation"], 0);

    let refused = g
        .post(
            "/api/config",
            &json!({"weather": {"location": "Paris"}, "display": {"rotation": 45}}),
        )
        .await;
    assert_eq!(refused.status, 400);
    let body = json_of(&refused);
    assert_eq!(body["field"], "display.rotation");
    assert!(body["error"].as_str().unwrap().contains("0, 90, 180, 270"));
    assert_eq!(
        g.bus.get("config:weather").await.unwrap(),
        None,
        "nothing written"
    );

    let unknown = g
        .post("/api/config", &json!({"displya": {"rotation": 90}}))
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        json_of(&unknown)["error"]
            .as_str()
            .unwrap()
            .contains("unknown config section `displya`")
    );

    // The redacted password sent back for a new address is refused, naming the field: the
    // saved password is never sent to a host it was not given for.
    let moved = g.post("/api/config", &json!({"display": {"rotation": 90}, "pihole": {"host": "http://10.0.0.2", "password": "********"}})).await;
    assert_eq!(moved.status, 400, "{}", moved.text());
    assert_eq!(json_of(&moved)["field"], "pihole.password");
    // Sent back unchanged for the same address (another path), it keeps the stored one.
    let ok = g.post("/api/config", &json!({"display": {"rotation": 90}, "pihole": {"host": "http://PI.hole:80/admin", "password": "********"}})).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = json_of(&ok);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sections_updated"], json!(["display", "pihole"]));
    assert!(body["revisions"]["display"].is_string(), "{body}");
    let pihole: Json =
        serde_json::from_str(&g.bus.get("config:pihole").await.unwrap().unwrap()).unwrap();
    assert_eq!(pihole["password"], "hunter2");
    assert_eq!(pihole["host"], "http://PI.hole:80/admin");
    let notice = tokio::time::timeout(Duration::from_secs(2), changed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(notice.payload.contains("\"display\""));
}

#[tokio::test]
async fn a_bad_stored_field_is_reported_and_does_not_block_writes_of_others() {
    let g = start("config-warnings");
    // Upstream's gateway stores `rotation: 45` without checking it.
    g.bus
        .set(
            "config:display",
            r#"{"rotation":45,"scroll_speed":0.05}"#,
            None,
        )
        .await
        .unwrap();
    let problem = "config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0";
    let config = json_of(&g.get("/api/config").await);
    assert_eq!(config["_problems"], json!([problem]), "{config}");
    assert_eq!(config["display"]["rotation"], 0);

    // Another field is written, with the bad one named; it stays stored for the user to fix.
    let saved = g
        .post("/api/config", &json!({"display": {"low_light": true}}))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let body = json_of(&saved);
    assert_eq!(body["sections_updated"], json!(["display"]));
    assert_eq!(
        body["warnings"],
        json!(["display.rotation: must be one of 0, 90, 180, 270 (got 45)"])
    );
    let stored: Json =
        serde_json::from_str(&g.bus.get("config:display").await.unwrap().unwrap()).unwrap();
    assert_eq!(
        stored,
        json!({"rotation": 45, "scroll_speed": 0.05, "low_light": true})
    );
    let config = json_of(&g.get("/api/config").await);
    assert_eq!(config["_problems"], json!([problem]));
    assert_eq!(config["display"]["low_light"], true);

    // Written invalid, it is still refused, naming it.
    let refused = g
        .post("/api/config", &json!({"display": {"rotation": 45}}))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(json_of(&refused)["field"], "display.rotation");

    // Fixed: no warning, no problem.
    let fixed = g
        .post("/api/config", &json!({"display": {"rotation": 90}}))
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text());
    assert_eq!(json_of(&fixed)["warnings"], json!([]));
    let config = json_of(&g.get("/api/config").await);
    assert_eq!(config.get("_problems"), None, "{config}");
    assert_eq!(config["display"]["rotation"], 90);

    // In a list, the entry is named; a write of another field goes in and names it too.
    g.bus
        .set(
            "config:aranet4",
            r#"{"sensors":[{"label":"office","mac":"AA:BB:CC:DD:EE:FF"},{"label":"bed","mac":"nope"}]}"#,
            None,
        )
        .await
        .unwrap();
    let config = json_of(&g.get("/api/config").await);
    let problems = config["_problems"].as_array().unwrap();
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("config:aranet4.sensors[1].mac: must be a Bluetooth address"),
        "{problems:?}"
    );
    let saved = g
        .post("/api/config", &json!({"aranet4": {"timeout": 20}}))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let warning = json_of(&saved)["warnings"][0].as_str().unwrap().to_owned();
    assert!(
        warning.starts_with("aranet4.sensors[1].mac: must be a Bluetooth address"),
        "{warning}"
    );
}

#[tokio::test]
async fn commands_round_trip_time_out_or_find_nobody() {
    let g = start("commands");
    let mut sensors = CommandServer::listen(&g.bus, "sensors").await.unwrap();
    tokio::spawn(async move {
        while let Some(cmd) = sensors.next().await {
            let response = match cmd.action.as_str() {
                "clear" => CommandResponse::ok(
                    &cmd.request_id,
                    json!({"message": "Display cleared"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
                "sleep" => continue, // never answers
                other => {
                    CommandResponse::error(&cmd.request_id, format!("unknown action `{other}`"))
                }
            };
            sensors.respond(&response).await.unwrap();
        }
    });
    let ok = g
        .post("/api/command/sensors", &json!({"action": "clear"}))
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(json_of(&ok)["success"], true);
    assert_eq!(json_of(&ok)["message"], "Display cleared");

    // The service answered "no": an answer (200), said in the contract's shape.
    let refused = g
        .post("/api/command/sensors", &json!({"action": "dance"}))
        .await;
    assert_eq!(refused.status, 200);
    assert_eq!(json_of(&refused)["success"], false);
    assert_eq!(json_of(&refused)["message"], "unknown action `dance`");
    assert_eq!(json_of(&refused)["error"], "unknown action `dance`");

    let slow = g
        .post("/api/command/sensors", &json!({"action": "sleep"}))
        .await;
    assert_eq!(slow.status, 504);
    assert_eq!(json_of(&slow)["success"], false);
    assert!(
        json_of(&slow)["message"]
            .as_str()
            .unwrap()
            .contains("did not answer `sleep`")
    );
    assert!(
        json_of(&slow)["error"]
            .as_str()
            .unwrap()
            .contains("did not answer `sleep`")
    );

    // Every answer, whatever its status, has the contract's `success` and `message`.
    for (path, body, status) in [
        (
            "/api/command/network_camera",
            json!({"action": "start"}),
            503,
        ),
        ("/api/command/toaster", json!({"action": "x"}), 404),
        ("/api/command/sensors", json!({"params": {}}), 400),
        ("/api/command/sensors", json!({"action": ""}), 400),
    ] {
        let answer = g.post(path, &body).await;
        assert_eq!(answer.status, status, "{path} {body}");
        let answer = json_of(&answer);
        assert_eq!(answer["success"], false, "{answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn files_are_served_and_no_path_escapes() {
    let g = start("files");
    let index = g.get("/").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<title>Sense Pulse"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let app = g.get("/_app/immutable/app.js").await;
    assert_eq!(
        app.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(app.header("cache-control").unwrap().contains("immutable"));
    let etag = app.header("etag").unwrap().to_owned();
    let again = g
        .send(Request::get(g.url("/_app/immutable/app.js")).header("if-none-match", etag))
        .await;
    assert_eq!(again.status, 304);
    // A client-side route gets the app's shell.
    assert!(
        g.get("/settings/display")
            .await
            .text()
            .contains("<title>Sense Pulse")
    );

    let playlist = g.get("/api/stream/stream.m3u8").await;
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(g.get("/api/stream/segment_00001.ts").await.body.len(), 188);
    assert_eq!(g.get("/api/stream/segment_99999.ts").await.status, 404);

    for attack in sense_testkit::PATH_ATTACKS {
        let r = g.get(attack).await;
        assert!(!r.text().contains("top secret"), "{attack} leaked the file");
        assert!(
            r.status >= 400 || r.text().contains("<title>Sense Pulse"),
            "{attack}: {} {}",
            r.status,
            r.text()
        );
    }
}

#[tokio::test]
async fn websockets_get_the_snapshot_then_pushed_updates() {
    let g = start("ws");
    let mut contract = listen(&g, "/ws/sources");
    let mut delta = listen(&g, "/ws/sources?mode=delta");
    assert_eq!(until(&mut contract, |_| true).await, json!({}));
    let first = until(&mut delta, |_| true).await;
    assert_eq!(first["full"], true);
    assert_eq!(first["bus"]["state"], "up");
    // Both are subscribed once their first message came.
    g.write_system_poll(10.0).await;
    g.write_weather_poll().await;
    // The contract's shape: every push is the whole of `GET /api/sources`.
    let both = until(&mut contract, |m| {
        m.get("weather").is_some() && m.get("system").is_some()
    })
    .await;
    assert_eq!(both["system"]["readings"]["cpu_percent"]["value"], 10.0);
    assert_eq!(both["system"]["bus"]["state"], "up");
    until(&mut delta, |m| m["sources"].get("weather").is_some()).await;
    g.write_system_poll(42.0).await;
    let next = until(&mut contract, |m| {
        m["system"]["readings"]["cpu_percent"]["value"] == 42.0
    })
    .await;
    assert!(
        next.get("weather").is_some(),
        "a push still holds every source: {next}"
    );
    // Ours: only what changed.
    let changed = until(&mut delta, |m| {
        m["sources"]["system"]["readings"]["cpu_percent"]["value"] == 42.0
    })
    .await;
    assert_eq!(changed["full"], false);
    assert!(changed["sources"].get("weather").is_none(), "{changed}");
    assert!(
        changed["sources"]["system"].get("bus").is_none(),
        "said once: {changed}"
    );
}

#[tokio::test]
async fn auth_covers_rest_websockets_and_commands_alike() {
    let g = start("auth");
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    g.bus
        .set(
            "config:auth",
            &json!({"enabled": true, "username": "admin", "password_hash": hash}).to_string(),
            None,
        )
        .await
        .unwrap();
    g.bus
        .publish("config:changed", r#"{"section":"auth"}"#)
        .await
        .unwrap();
    // The gateway reloads auth on the notice.
    let mut refused = false;
    for _ in 0..50 {
        if g.get("/api/sources").await.status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "auth did not take effect");

    let right = sense_testkit::basic_auth("admin", "correct horse");
    let wrong = sense_testkit::basic_auth("admin", "battery staple");
    for (credentials, expected) in [
        (None, 401),
        (Some(wrong.as_str()), 401),
        (Some(right.as_str()), 200),
    ] {
        let with = |r: Request| match credentials {
            Some(c) => r.header("authorization", c),
            None => r,
        };
        let rest = g.send(with(Request::get(g.url("/api/sources")))).await;
        assert_eq!(rest.status, expected, "REST with {credentials:?}");
        if expected == 401 {
            assert!(rest.header("www-authenticate").is_some());
        }
        let command = g
            .send(with(Request::post_json(
                g.url("/api/command/sensors"),
                &json!({"action": "clear"}),
            )))
            .await;
        // Authorised, nobody listens: 503; unauthorised: 401.
        assert_eq!(
            command.status,
            if expected == 200 { 503 } else { 401 },
            "command with {credentials:?}"
        );
        let address = g.address.to_string();
        let header: Vec<(String, String)> = credentials
            .map(|c| ("Authorization".to_owned(), c.to_owned()))
            .into_iter()
            .collect();
        let ws = tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = header
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            WsClient::connect(&address, "/ws/grid", &headers)
                .map(|c| c.close())
                .map_err(|r| r.status)
        })
        .await
        .unwrap();
        match expected {
            200 => assert!(ws.is_ok(), "WS with the right credentials: {ws:?}"),
            _ => assert_eq!(ws, Err(401), "WS with {credentials:?}"),
        }
    }
    // /health stays open for Docker and Traefik.
    assert_eq!(g.get("/health").await.status, 200);
}

#[tokio::test]
async fn cross_site_writes_and_websockets_are_refused() {
    let g = start("origin");
    let evil = g
        .send(
            Request::post_json(g.url("/api/config"), &json!({"display": {"rotation": 90}}))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(evil.status, 403);
    assert_eq!(g.bus.get("config:display").await.unwrap(), None);
    let dev = g
        .send(
            Request::post_json(g.url("/api/config"), &json!({"display": {"rotation": 90}}))
                .header("origin", "http://localhost:5173"),
        )
        .await;
    assert_eq!(dev.status, 200, "{}", dev.text());
    assert_eq!(
        dev.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let address = g.address.to_string();
    let ws = tokio::task::spawn_blocking(move || {
        WsClient::connect(
            &address,
            "/ws/sources",
            &[("Origin", "https://evil.example")],
        )
        .map(drop)
        .map_err(|r| r.status)
    })
    .await
    .unwrap();
    assert_eq!(ws, Err(403));
}

/// DNS rebinding: a page on `rebind.evil` whose name resolves to the gateway's address sends
/// `Host: rebind.evil:PORT` with a matching `Origin`; every route refuses it before routing.
#[tokio::test]
async fn requests_for_another_host_are_refused_on_every_route() {
    let g = start("hosts");
    let evil_host = format!("rebind.evil:{}", g.address.port());
    let evil_origin = format!("http://{evil_host}");
    let write = g
        .send(
            Request::post_json(g.url("/api/config"), &json!({"display": {"rotation": 90}}))
                .header("Host", evil_host.as_str())
                .header("Origin", evil_origin.as_str()),
        )
        .await;
    assert_eq!(write.status, 421, "{}", write.text());
    assert!(
        write.text().contains("`rebind.evil`") && write.text().contains("ALLOWED_HOSTS"),
        "{}",
        write.text()
    );
    assert_eq!(g.bus.get("config:display").await.unwrap(), None);
    for path in [
        "/api/sources",
        "/api/config",
        "/health",
        "/metrics",
        "/",
        "/index.html",
        "/api/stream/stream.m3u8",
        "/api/session",
    ] {
        let r = g
            .send(Request::get(g.url(path)).header("Host", evil_host.as_str()))
            .await;
        assert_eq!(r.status, 421, "{path}: {}", r.text());
    }
    let address = g.address.to_string();
    let host = evil_host.clone();
    let ws = tokio::task::spawn_blocking(move || {
        WsClient::connect(&address, "/ws/sources", &[("Host", host.as_str())])
            .map(drop)
            .map_err(|r| r.status)
    })
    .await
    .unwrap();
    assert_eq!(ws, Err(421));

    // Addresses, localhost and the configured name are served.
    let port = g.address.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("DASH.example.com:{port}"),
    ] {
        let r = g
            .send(Request::get(g.url("/health")).header("Host", host.as_str()))
            .await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
    }
    let address = g.address.to_string();
    let ws = tokio::task::spawn_blocking(move || {
        WsClient::connect(&address, "/ws/sources", &[("Host", "dash.example.com")])
            .map(drop)
            .map_err(|r| r.status)
    })
    .await
    .unwrap();
    assert_eq!(ws, Ok(()));

    // A name added in the dashboard's settings (`config:auth`) is served once the gateway has
    // read the change it announces.
    let added = g
        .post(
            "/api/config",
            &json!({"auth": {"allowed_hosts": ["cfg.example.org"]}}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let start = std::time::Instant::now();
    loop {
        let r = g
            .send(Request::get(g.url("/health")).header("Host", "cfg.example.org"))
            .await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 421, "{}", r.text());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the configured name is not served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_dashboard_signs_in_once_and_its_cookie_opens_rest_and_websockets() {
    let g = start("session");
    let session = g.get("/api/session").await;
    assert_eq!(
        json_of(&session),
        json!({"auth_enabled": false, "user": null})
    );
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    g.bus
        .set(
            "config:auth",
            &json!({"enabled": true, "username": "admin", "password_hash": hash}).to_string(),
            None,
        )
        .await
        .unwrap();
    g.bus
        .publish("config:changed", r#"{"section":"auth"}"#)
        .await
        .unwrap();
    let mut enabled = false;
    for _ in 0..50 {
        if json_of(&g.get("/api/session").await)["auth_enabled"] == true {
            enabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(enabled, "auth did not take effect");

    // The page's own requests get no Basic challenge (no browser dialog over the form).
    let page = g
        .send(Request::get(g.url("/api/sources")).header("x-requested-with", "sense-pulse"))
        .await;
    assert_eq!(page.status, 401);
    assert!(page.header("www-authenticate").is_none());

    let wrong = g
        .post(
            "/api/login",
            &json!({"username": "admin", "password": "battery staple"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    let cross_site = g
        .send(
            Request::post_json(
                g.url("/api/login"),
                &json!({"username": "admin", "password": "correct horse"}),
            )
            .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(cross_site.status, 403);

    let right = g
        .post(
            "/api/login",
            &json!({"username": "admin", "password": "correct horse"}),
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.text());
    assert_eq!(json_of(&right)["user"], "admin");
    let set_cookie = right.header("set-cookie").unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let rest = g
        .send(Request::get(g.url("/api/sources")).header("cookie", &cookie))
        .await;
    assert_eq!(rest.status, 200);
    assert_eq!(
        json_of(
            &g.send(Request::get(g.url("/api/session")).header("cookie", &cookie))
                .await
        )["user"],
        "admin"
    );
    let address = g.address.to_string();
    let ws_cookie = cookie.clone();
    let ws = tokio::task::spawn_blocking(move || {
        WsClient::connect(&address, "/ws/grid", &[("Cookie", ws_cookie.as_str())])
            .map(|c| c.close())
            .map_err(|r| r.status)
    })
    .await
    .unwrap();
    assert!(ws.is_ok(), "WS with the session cookie: {ws:?}");

    let out = g
        .send(Request::post_json(g.url("/api/logout"), &json!({})).header("cookie", &cookie))
        .await;
    assert_eq!(out.status, 200);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = g
        .send(Request::get(g.url("/api/sources")).header("cookie", &cookie))
        .await;
    assert_eq!(after.status, 401, "a closed session opens nothing");
}
