//! Hostile JSON: deep nesting, wrong types, unknown actions, oversized params, concurrent
//! writers and masked secrets.

use std::net::SocketAddr;

use sense_testkit::basic_auth;
use serde_json::{Value as Json, json};

use crate::common::Run;
use crate::wire::{Answer, call};
use crate::{PASSWORD, Tally};

pub(crate) async fn class(run: &mut Run) {
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let headers = [("Authorization", right.as_str())];
    let get_config = || async {
        let a = call(address, None, "GET", "/api/config", &headers, "").await;
        (a.status, serde_json::from_slice::<Json>(&a.body).ok())
    };
    let (status, before) = get_config().await;
    assert_eq!(status, 200);
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let deep_object = "{\"display\":".repeat(3000) + "1" + &"}".repeat(3000);
    let long = "x".repeat(20_000);
    let config_bodies: Vec<(&str, String)> = vec![
        ("10k [", deep),
        ("deep objects", deep_object),
        ("not JSON", "{\"display\":".into()),
        ("array", "[]".into()),
        ("string", "\"display\"".into()),
        ("null", "null".into()),
        (
            "rotation string",
            json!({"display": {"rotation": "90"}}).to_string(),
        ),
        (
            "rotation negative",
            json!({"display": {"rotation": -90}}).to_string(),
        ),
        (
            "rotation 45",
            json!({"display": {"rotation": 45}}).to_string(),
        ),
        ("rotation huge", r#"{"display":{"rotation":1e400}}"#.into()),
        (
            "rotation 2^64",
            r#"{"display":{"rotation":18446744073709551616}}"#.into(),
        ),
        ("display array", json!({"display": [1, 2]}).to_string()),
        ("display string", json!({"display": "x"}).to_string()),
        (
            "unknown section",
            json!({"nuclear": {"launch": true}}).to_string(),
        ),
        (
            "unknown field",
            json!({"display": {"launch": true}}).to_string(),
        ),
        (
            "pihole host number",
            json!({"pihole": {"host": 5}}).to_string(),
        ),
        (
            "pihole host scheme",
            json!({"pihole": {"host": "file:///etc/passwd"}}).to_string(),
        ),
        (
            "camera not a list",
            json!({"camera": {"cameras": {"a": 1}}}).to_string(),
        ),
        (
            "camera host shell",
            json!({"camera": {"cameras": [{"name": "c", "host": "x;rm -rf /"}]}}).to_string(),
        ),
        (
            "camera port huge",
            json!({"camera": {"cameras": [{"name": "c", "host": "h", "port": 70000}]}}).to_string(),
        ),
        (
            "auth enabled string",
            json!({"auth": {"enabled": "yes"}}).to_string(),
        ),
        (
            "long string",
            json!({"camera": {"cameras": [{"name": long, "host": "h"}]}}).to_string(),
        ),
        (
            "control chars",
            json!({"pihole": {"password": "a\u{0}b\nc"}}).to_string(),
        ),
        (
            "duplicate keys",
            r#"{"display":{"rotation":90,"rotation":"x"}}"#.into(),
        ),
        (
            "one valid one invalid",
            json!({"display": {"rotation": 90}, "sleep": {"start_hour": "late"}}).to_string(),
        ),
    ];
    let params_30k = json!({"blob": "p".repeat(30_000)});
    let command_bodies: Vec<(&str, String)> = vec![
        (
            "unknown action",
            json!({"action": "self_destruct"}).to_string(),
        ),
        ("missing action", json!({"params": {}}).to_string()),
        ("action number", json!({"action": 5}).to_string()),
        (
            "params string",
            json!({"action": "clear", "params": "x"}).to_string(),
        ),
        (
            "params array",
            json!({"action": "clear", "params": [1]}).to_string(),
        ),
        (
            "30 KB params",
            json!({"action": "set_pixels", "params": params_30k}).to_string(),
        ),
        ("not JSON", "{".into()),
        ("deep", "[".repeat(10_000)),
    ];
    let mut t = Tally::new("hostile-json");
    let refused = |a: &Answer| (400..500).contains(&a.status) && a.status != 401 && a.says_why();
    for (name, body) in &config_bodies {
        let a = call(address, None, "POST", "/api/config", &headers, body).await;
        t.case(refused(&a), || {
            format!("config {name} → {} {}", a.status, a.text())
        });
    }
    for target in ["sensors", "no_such_source", "../config", "system%2f..%2f"] {
        for (name, body) in &command_bodies {
            let path = format!("/api/command/{target}");
            let a = call(address, None, "POST", &path, &headers, body).await;
            // A source that refuses answers 200 `success: false` with its reason (CONTRACT).
            let said_no = a.status == 200
                && serde_json::from_slice::<Json>(&a.body)
                    .is_ok_and(|v| v["success"] == false && v["error"].is_string());
            t.case(refused(&a) || said_no, || {
                format!("command {target} {name} → {} {}", a.status, a.text())
            });
        }
    }
    let (status, after) = get_config().await;
    t.case(status == 200 && after == before, || {
        format!("config changed: {before:?} → {after:?}")
    });
    t.finish(run);
}
