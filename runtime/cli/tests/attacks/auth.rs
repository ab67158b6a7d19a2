//! Sign-in on every protected route and WebSocket: no, wrong, forged and right credentials,
//! and identity headers from a peer that is no trusted proxy.

use sense_testkit::{RedisServer, basic_auth};
use serde_json::json;

use crate::common::Run;
use crate::{PASSWORD, PROTECTED, Tally, status_of};

pub(crate) async fn class(run: &mut Run, server: &RedisServer) {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let auth = json!({"enabled": true, "username": "admin", "password_hash": hash}).to_string();
    server.command(&["SET", "config:auth", &auth]).unwrap();
    let notice = json!({"section": "auth", "timestamp": 0}).to_string();
    server
        .command(&["PUBLISH", "config:changed", &notice])
        .unwrap();
    run.wait_sign_in_in_force().await;

    let right = basic_auth("admin", PASSWORD);
    let wrong = basic_auth("admin", "wrong horse");
    let wrong_case = basic_auth("Admin", PASSWORD);
    let no_colon = "Basic YWRtaW4="; // "admin"
    let cookie = format!("sense_session={}", "0f".repeat(32));
    // Credentials no password is checked for: tried on every route from 127.0.0.1.
    let unchecked: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("none", vec![]),
        (
            "garbage Basic",
            vec![("Authorization", "Basic !!!not*base64###")],
        ),
        ("empty Basic", vec![("Authorization", "Basic ")]),
        ("Bearer", vec![("Authorization", "Bearer admin")]),
        ("unknown session", vec![("Cookie", cookie.as_str())]),
        ("Tailscale header", vec![("Tailscale-User-Login", "admin")]),
        (
            "forwarded for + Tailscale",
            vec![
                ("X-Forwarded-For", "100.64.0.1, 127.0.0.1"),
                ("Forwarded", "for=100.64.0.1"),
                ("Tailscale-User-Login", "admin@example.com"),
            ],
        ),
        (
            "right password in a spoofed header",
            vec![("X-Forwarded-For", "127.0.0.1"), ("X-Auth", right.as_str())],
        ),
    ];
    // Credentials that cost a failed login: each route from its own address, so that no
    // address reaches its failure limit (5) and all together stay below the slow-down (30).
    let checked: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("wrong password", vec![("Authorization", wrong.as_str())]),
        (
            "user in another case",
            vec![("Authorization", wrong_case.as_str())],
        ),
    ];
    let mut t = Tally::new("auth");
    for (i, route) in PROTECTED.iter().enumerate() {
        for (name, headers) in &unchecked {
            let s = status_of(run, None, *route, headers).await;
            t.case(s == 401, || format!("{route:?} {name} → {s}"));
        }
        let local = format!("127.0.0.{}", 10 + i);
        for (name, headers) in &checked {
            let s = status_of(run, Some(&local), *route, headers).await;
            t.case(s == 401, || format!("{route:?} {name} → {s}"));
        }
        if i < 2 {
            let headers = [("Authorization", no_colon)];
            let s = status_of(run, Some(&local), *route, &headers).await;
            t.case(s == 401, || format!("{route:?} Basic without colon → {s}"));
        }
        let s = status_of(run, None, *route, &[("Authorization", &right)]).await;
        let ok = if route.0 == "WS" {
            s == 101
        } else {
            s != 401 && s != 0
        };
        t.case(ok, || format!("{route:?} right credentials → {s}"));
    }
    t.finish(run);
}
