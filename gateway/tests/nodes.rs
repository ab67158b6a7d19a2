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
