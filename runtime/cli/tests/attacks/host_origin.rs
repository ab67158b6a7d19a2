//! Foreign `Host` (DNS rebinding) and `Origin` (cross-site) on every state-changing request
//! and WebSocket upgrade.

use std::net::SocketAddr;

use sense_testkit::basic_auth;
use serde_json::Value as Json;

use crate::common::Run;
use crate::wire::call;
use crate::{PASSWORD, Tally, status_of};

pub(crate) async fn class(run: &mut Run) {
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let evil_port = format!("evil.example:{}", address.port());
    let hosts = ["evil.example", evil_port.as_str(), "127.0.0.1.evil.example"];
    let origins = [
        "http://evil.example",
        "null",
        "https://evil.example",
        "http://127.0.0.1.evil.example",
    ];
    let writes = [
        ("POST", "/api/config", r#"{"display":{"rotation":90}}"#),
        ("POST", "/api/command/sensors", r#"{"action":"clear"}"#),
        (
            "POST",
            "/api/login",
            r#"{"username":"admin","password":"x"}"#,
        ),
        ("WS", "/ws/sources", ""),
        ("WS", "/ws/logs", ""),
    ];
    let mut t = Tally::new("host-origin");
    for route in writes {
        for host in hosts {
            let headers = [("Host", host), ("Authorization", right.as_str())];
            let s = status_of(run, None, route, &headers).await;
            t.case(s == 421, || format!("{route:?} Host {host} → {s}"));
        }
        for origin in origins {
            let headers = [("Origin", origin), ("Authorization", right.as_str())];
            let s = status_of(run, None, route, &headers).await;
            t.case(s == 403, || format!("{route:?} Origin {origin} → {s}"));
        }
    }
    // A GET for another host is refused too (DNS rebinding reads).
    let headers = [("Host", "evil.example"), ("Authorization", right.as_str())];
    let s = status_of(run, None, ("GET", "/api/config", ""), &headers).await;
    t.case(s == 421, || format!("GET /api/config Host evil → {s}"));
    // Nothing of those writes landed.
    let config = call(
        address,
        None,
        "GET",
        "/api/config",
        &[("Authorization", &right)],
        "",
    )
    .await;
    let rotation =
        serde_json::from_slice::<Json>(&config.body).map(|v| v["display"]["rotation"].clone());
    t.case(
        config.status == 200 && rotation.as_ref().is_ok_and(|r| *r != 90),
        || format!("rotation after refused writes: {rotation:?}"),
    );
    t.finish(run);
}
