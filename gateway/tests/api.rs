//! The gateway over the in-memory bus: REST, config, commands, files, WebSockets. Who may reach
//! them (the guard) is tested in `guard.rs`.

mod common;

use std::time::Duration;

use common::{json_of, listen, start, until};
use sense_bus::Topic;
use sense_bus::command::CommandServer;
use sense_bus::model::CommandResponse;
use sense_http::Request;
use serde_json::{Value as Json, json};

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
async fn a_room_s_own_value_is_set_shown_and_reset_to_the_shared_one() {
    let g = start("overrides");
    g.bus
        .set("config:display", r#"{"rotation":90}"#, None)
        .await
        .unwrap();
    let config = json_of(&g.get("/api/config").await);
    assert_eq!(config.get("_overrides"), None, "{config}");

    // Set for the kitchen only.
    let saved = g
        .post(
            "/api/config",
            &json!({"display@kitchen": {"rotation": 180}, "_revisions": {"display@kitchen": "none"}}),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let config = json_of(&g.get("/api/config").await);
    let own = &config["_overrides"]["display@kitchen"];
    assert_eq!(own["fields"], json!({"rotation": 180}));
    assert_eq!(
        own["revision"],
        json_of(&saved)["revisions"]["display@kitchen"]
    );
    assert_eq!(
        config["display"]["rotation"], 90,
        "the shared one is as it was"
    );

    // `null`: the kitchen follows the shared value again, and its override is gone.
    let reset = g
        .post(
            "/api/config",
            &json!({"display@kitchen": {"rotation": null}, "_revisions": {"display@kitchen": own["revision"]}}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    assert_eq!(json_of(&reset)["revisions"]["display@kitchen"], "none");
    assert_eq!(g.bus.get("config:display@kitchen").await.unwrap(), None);
    assert_eq!(
        g.bus.get("config:display").await.unwrap().as_deref(),
        Some(r#"{"rotation":90}"#)
    );
    let config = json_of(&g.get("/api/config").await);
    assert_eq!(config.get("_overrides"), None, "{config}");

    // The form loaded before the reset is refused.
    let stale = g
        .post(
            "/api/config",
            &json!({"display@kitchen": {"rotation": 270}, "_revisions": {"display@kitchen": own["revision"]}}),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text());
    // A value set for a room is checked as the room reads it, naming the field.
    let refused = g
        .post("/api/config", &json!({"sleep@kitchen": {"start_hour": 24}}))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(json_of(&refused)["field"], "sleep.start_hour");
    // A shared section has nothing to follow: `null` there is refused.
    let refused = g
        .post("/api/config", &json!({"display": {"rotation": null}}))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
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
    // Installable: the manifest with its own type, the service worker revalidated every time.
    let manifest = g.get("/manifest.webmanifest").await;
    assert_eq!(
        manifest.header("content-type"),
        Some("application/manifest+json")
    );
    let worker = g.get("/service-worker.js").await;
    assert_eq!(
        worker.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(worker.header("cache-control"), Some("no-cache"));
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
async fn a_burst_of_matrix_states_reaches_a_reader_as_the_latest_one() {
    let g = start("grid-burst");
    let mut grid = listen(&g, "/ws/grid");
    // The gateway's own subscription starts with it: say the first state until the reader has
    // it (a state, not an event: saying it again changes nothing).
    let first = async {
        loop {
            g.bus
                .publish("matrix:state", &json!({"mode": "idle", "n": 0}).to_string())
                .await
                .unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), grid.recv()).await
            {
                return m;
            }
        }
    };
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .unwrap();
    assert_eq!(first["n"], 0);
    // Far more than any backlog would hold, as fast as the bus takes them.
    for n in 1..=500 {
        g.bus
            .publish(
                "matrix:state",
                &json!({"mode": "scrolling", "n": n}).to_string(),
            )
            .await
            .unwrap();
    }
    // The reader stays connected and ends on the latest state (coalesced, in order).
    let last = std::cell::Cell::new(0);
    let latest = until(&mut grid, |m| {
        let n = m["n"].as_i64().unwrap();
        assert!(
            n > last.get(),
            "states arrive in order: {n} after {}",
            last.get()
        );
        last.set(n);
        n == 500
    })
    .await;
    assert_eq!(latest["mode"], "scrolling");
}

#[tokio::test]
async fn alerts_are_served_from_the_bus() {
    let gw = start("alerts");
    let empty = gw.get("/api/alerts").await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.json::<Json>().unwrap(),
        json!({"active": [], "history": [], "channels": {}})
    );
    let fired = json!({"id": "co2-high|co2|office:co2", "rule": "co2-high", "name": "CO₂ high",
        "kind": "fired", "source": "co2", "sensor": "office:co2", "label": "CO₂ · office",
        "value": 1520.0, "unit": "ppm", "threshold": 1400.0, "condition": "above",
        "since": 1_708_000_000.0, "at": 1_708_000_300.0,
        "message": "CO₂ high: office is at 1520 ppm (≥ 1400 ppm) since 12:26"});
    let mut cleared = fired.clone();
    cleared["kind"] = json!("cleared");
    let mut batch = sense_bus::Batch::new();
    batch.set(
        sense_bus::keys::ALERTS_ACTIVE,
        json!([fired]).to_string(),
        None,
    );
    for event in [&fired, &cleared] {
        batch.push_front_capped(
            sense_bus::keys::ALERTS_HISTORY,
            event.to_string(),
            200,
            None,
        );
    }
    batch.set(
        sense_bus::keys::ALERTS_CHANNELS,
        json!({"ntfy": {"state": "failing", "last_error": "ntfy answered HTTP 500",
                        "last_success": null, "last_failure": 1_708_000_301.0,
                        "pending": 1, "dropped": 0}})
        .to_string(),
        None,
    );
    gw.bus.apply(&batch).await.unwrap();
    let body: Json = gw.get("/api/alerts").await.json().unwrap();
    assert_eq!(body["active"], json!([fired]));
    assert_eq!(body["history"], json!([cleared, fired]), "newest first");
    assert_eq!(body["channels"]["ntfy"]["state"], "failing");
    assert_eq!(body["channels"]["ntfy"]["pending"], 1);
}
