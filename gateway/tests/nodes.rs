//! `GET /api/nodes`: the named nodes' records (`node:{name}`) as the hub keeps them, each judged
//! in or out of contact, on a real Redis that goes away.

mod common;

use std::time::Duration;

use common::{Gateway, json_of, start_on_redis};
use sense_bus::model::NodeRecord;
use sense_testkit::RedisServer;
use serde_json::Value as Json;

fn record(name: &str, last_contact: f64) -> String {
    serde_json::to_string(&NodeRecord {
        name: name.to_owned(),
        room: format!("{}{}", name[..1].to_uppercase(), &name[1..]),
        last_contact,
        interval_s: 15.0,
        sources: vec![format!("sensors@{name}"), format!("orchestrator@{name}")],
        version: "0.1.0".to_owned(),
    })
    .unwrap()
}

/// `GET /api/nodes` until `done` says it is what is waited for (the hub re-reads the records
/// every 5 s and on a node orchestrator's notice), or 15 s went by.
async fn nodes_until(g: &Gateway, what: &str, done: impl Fn(&Json) -> bool) -> (Json, String) {
    let mut last = Json::Null;
    for _ in 0..300 {
        let r = g.get("/api/nodes").await;
        assert_eq!(r.status, 200, "{}", r.text());
        last = json_of(&r);
        if done(&last) {
            return (last, r.header("x-sense-bus").unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: the last answer was {last}");
}

fn names(body: &Json) -> Vec<&str> {
    body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn nodes_are_sorted_judged_by_the_gateways_clock_and_kept_while_the_bus_is_away() {
    let mut server = RedisServer::start();
    let g = start_on_redis("nodes", &server.url()).await;
    let (body, _) = nodes_until(&g, "the gateway answers", |_| true).await;
    assert_eq!(body["nodes"], serde_json::json!([]), "{body}");

    let now = sense_bus::unix_now();
    for (key, value) in [
        ("node:kitchen".to_owned(), record("kitchen", now)),
        // 2.5 intervals of 15 s without contact: lost.
        ("node:attic".to_owned(), record("attic", now - 60.0)),
        // Not a node name, not a record: left out.
        ("node:Bad".to_owned(), record("bad", now)),
        ("node:hall".to_owned(), "{not json".to_owned()),
    ] {
        g.bus.set(&key, &value, None).await.unwrap();
    }
    g.bus
        .publish(
            "data:orchestrator@kitchen",
            r#"{"source_id":"orchestrator@kitchen"}"#,
        )
        .await
        .unwrap();
    let (body, header) = nodes_until(&g, "both nodes", |b| names(b).len() == 2).await;
    assert_eq!(names(&body), ["attic", "kitchen"], "{body}");
    assert_eq!(header, "up");
    assert_eq!(body["bus"]["state"], "up");
    let attic = &body["nodes"][0];
    assert_eq!(attic["contact"], "lost", "{body}");
    assert!(attic["since_s"].as_f64().unwrap() >= 60.0, "{body}");
    let kitchen = &body["nodes"][1];
    assert_eq!(kitchen["contact"], "ok", "{body}");
    assert_eq!(kitchen["room"], "Kitchen");
    assert_eq!(kitchen["interval_s"], 15.0);
    assert_eq!(kitchen["version"], "0.1.0");
    assert_eq!(kitchen["sources"][0], "sensors@kitchen");

    // The attic speaks again: in contact at the next read.
    g.bus
        .set("node:attic", &record("attic", sense_bus::unix_now()), None)
        .await
        .unwrap();
    nodes_until(&g, "the attic back in contact", |b| {
        b["nodes"][0]["contact"] == "ok"
    })
    .await;

    // The bus goes: the last records stay, said to be frozen, like `GET /api/sources`.
    server.stop();
    let (body, header) = nodes_until(&g, "the bus down", |b| b["bus"]["state"] == "down").await;
    assert!(header.starts_with("down; since="), "{header}");
    assert_eq!(names(&body), ["attic", "kitchen"], "{body}");
}

/// A satellite's LED matrix (`matrix:state@kitchen`, which only its own Redis user may publish)
/// reaches `/ws/grid?node=kitchen`, and not the hub's `/ws/grid`; a name that is not a node's,
/// or a node the hub has no record of, is refused before the upgrade.
#[tokio::test]
async fn a_satellites_led_matrix_has_a_grid_feed_of_its_own() {
    let server = RedisServer::start();
    let g = start_on_redis("node-grid", &server.url()).await;
    g.bus
        .set(
            "node:kitchen",
            &record("kitchen", sense_bus::unix_now()),
            None,
        )
        .await
        .unwrap();
    nodes_until(&g, "the kitchen", |b| names(b) == ["kitchen"]).await;
    let address = g.address.to_string();
    let refused = |path: &str| {
        sense_testkit::ws::WsClient::connect(&address, path, &[])
            .err()
            .map(|r| r.status)
    };
    assert_eq!(refused("/ws/grid?node=Kitchen!"), Some(400));
    assert_eq!(refused("/ws/grid?node=attic"), Some(404));
    // A Pi whose sources the hub has before its record (records are re-read every 5 s): known.
    let mut status = sense_bus::model::Status::new("system@hall");
    status.poll_count = 1;
    g.bus
        .set(
            "status:system@hall",
            &serde_json::to_string(&status).unwrap(),
            None,
        )
        .await
        .unwrap();
    g.bus.publish("data:system@hall", "{}").await.unwrap();
    for _ in 0..200 {
        if json_of(&g.get("/api/sources").await)["system@hall"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        refused("/ws/grid?node=hall"),
        None,
        "the hall's sources are known"
    );

    let mut kitchen = common::listen(&g, "/ws/grid?node=kitchen");
    let mut hub = common::listen(&g, "/ws/grid");
    // The gateway's subscription may begin after the sockets open: say the state until the
    // kitchen's reader has it (a state, not an event).
    let state = serde_json::json!({"mode": "scrolling", "rotation": 180, "n": 1}).to_string();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            g.bus.publish("matrix:state@kitchen", &state).await.unwrap();
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(200), kitchen.recv()).await
            {
                return m;
            }
        }
    })
    .await
    .expect("the kitchen's matrix state");
    assert_eq!(got["rotation"], 180);
    // The hub's own feed saw none of it: its first message is the hub's own state.
    g.bus
        .publish("matrix:state", r#"{"mode":"idle","rotation":0,"n":2}"#)
        .await
        .unwrap();
    let first = common::until(&mut hub, |_| true).await;
    assert_eq!(first["n"], 2, "{first}");
}
