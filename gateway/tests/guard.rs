//! The guard in front of every route: sign-in, origins, hosts, security headers, with auth on
//! and off, over every route the router has.

mod common;

use std::time::Duration;

use common::{Gateway, json_of, no_env, start, start_on};
use sense_http::Request;
use sense_testkit::ws::WsClient;
use serde_json::json;

/// Every route the router has (`gateway/src/router.rs`), with a request for it: `(method, path,
/// public)`. A WebSocket route's method is `WS`.
const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/health", true),
    ("GET", "/api/session", true),
    ("POST", "/api/login", true),
    ("POST", "/api/logout", true),
    ("GET", "/api/sources", false),
    ("GET", "/api/sources/system", false),
    ("GET", "/api/nodes", false),
    ("GET", "/api/config", false),
    ("POST", "/api/config", false),
    ("POST", "/api/command/sensors", false),
    ("GET", "/api/history/system/cpu_percent", false),
    ("GET", "/api/stream/stream.m3u8", false),
    ("GET", "/metrics", false),
    ("GET", "/api/no-such-endpoint", false),
    // The same routes, spelled as the router also understands them.
    ("GET", "/%61pi/config", false),
    ("GET", "/api/%63onfig", false),
    ("GET", "/api/sources/%73ystem", false),
    ("WS", "/ws/sources", false),
    ("WS", "/ws/sources?mode=delta", false),
    ("WS", "/ws/grid", false),
    ("WS", "/ws/logs?level=info", false),
    ("WS", "/%77s/grid", false),
    // The dashboard's files, which the sign-in page is made of.
    ("GET", "/", true),
    ("GET", "/settings", true),
    ("GET", "/_app/immutable/app.js", true),
];

/// Turns sign-in on (user `admin`, password `correct horse`) and waits until it is in force.
async fn enable_auth(g: &Gateway) {
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
    for _ in 0..100 {
        if g.get("/api/sources").await.status == 401 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("auth did not take effect");
}

/// The status `route` answers with these `credentials`.
async fn status_of(
    g: &Gateway,
    (method, path, _): (&str, &str, bool),
    credentials: Option<&str>,
) -> u16 {
    if method == "WS" {
        let address = g.address.to_string();
        let path = path.to_owned();
        let header: Vec<(String, String)> = credentials
            .map(|c| ("Authorization".to_owned(), c.to_owned()))
            .into_iter()
            .collect();
        return tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = header
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            match WsClient::connect(&address, &path, &headers) {
                Ok(ws) => {
                    ws.close();
                    101
                }
                Err(refused) => refused.status,
            }
        })
        .await
        .unwrap();
    }
    let request = match method {
        "POST" => Request::post_json(g.url(path), &json!({})),
        _ => Request::get(g.url(path)),
    };
    let request = match credentials {
        Some(c) => request.header("authorization", c),
        None => request,
    };
    let answer = g.send(request).await;
    // Every answer, whatever it is, carries the security headers.
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{method} {path}"
    );
    assert_eq!(
        answer.header("x-frame-options"),
        Some("DENY"),
        "{method} {path}"
    );
    answer.status
}

#[tokio::test]
async fn sign_in_stored_before_the_start_is_in_force_from_the_first_request() {
    let bus = sense_bus::Bus::memory();
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    bus.set(
        "config:auth",
        &json!({"enabled": true, "username": "admin", "password_hash": hash}).to_string(),
        None,
    )
    .await
    .unwrap();
    let g = start_on("first-request", bus, no_env);
    // The very first answer, not a later one: the gateway read its sign-in settings before it
    // took a connection (it used to serve everyone until its hub read them).
    let first = g.get("/api/sources").await;
    assert_eq!(first.status, 401, "{}", first.text());
    assert_eq!(g.get("/api/config").await.status, 401);
}

#[tokio::test]
async fn every_route_passes_the_guard_with_auth_off_and_on() {
    let g = start("routes");
    // Off: nobody is asked to sign in, anywhere.
    for &route in ROUTES {
        let status = status_of(&g, route, None).await;
        assert!(
            status != 401 && status != 503,
            "{route:?} answered {status} with sign-in off"
        );
    }
    enable_auth(&g).await;
    let right = sense_testkit::basic_auth("admin", "correct horse");
    for &route in ROUTES {
        let (_, _, public) = route;
        let anonymous = status_of(&g, route, None).await;
        if public {
            assert_ne!(anonymous, 401, "{route:?} is public");
        } else {
            assert_eq!(anonymous, 401, "{route:?} without credentials");
        }
        let signed_in = status_of(&g, route, Some(&right)).await;
        assert!(
            signed_in != 401 && signed_in != 403,
            "{route:?} answered {signed_in} to the right credentials"
        );
    }
}

#[tokio::test]
async fn auth_covers_rest_websockets_and_commands_alike() {
    let g = start("auth");
    enable_auth(&g).await;

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
    enable_auth(&g).await;
    assert_eq!(json_of(&g.get("/api/session").await)["auth_enabled"], true);

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
