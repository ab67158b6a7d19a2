//! DNS rebinding, end to end: `sense-pulse run --sim --redis …` on a real redis-server answers
//! only to the host names it knows (its addresses, localhost, the machine's and tailnet's names,
//! `ALLOWED_HOSTS`), on every route and WebSocket, before anything is routed.

mod common;

use common::{Run, json_of};

use std::time::{Duration, Instant};

use sense_http::{Request, Response};
use sense_testkit::RedisServer;
use serde_json::json;

impl Run {
    fn port(&self) -> &str {
        self.address.rsplit_once(':').map(|(_, p)| p).unwrap()
    }

    async fn get_as(&self, host: &str, path: &str) -> Response {
        self.send(Request::get(self.url(path)).header("Host", host))
            .await
    }

    /// The status of a WebSocket upgrade on `/ws/sources` sent with `Host: host`.
    async fn ws_as(&self, host: &str) -> u16 {
        let headers = vec![("Host".to_owned(), host.to_owned())];
        self.ws("/ws/sources", headers, |ws| ws.map_or_else(|s| s, |_| 101))
            .await
            .await
            .unwrap()
    }
}

/// This machine's host name, as the gateway reads it.
fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_rebinding_host_is_refused_everywhere_and_known_names_are_served() {
    let server = RedisServer::start();
    let run = Run::start_with(
        &server,
        "hosts",
        &[("ALLOWED_HOSTS", "dash.example.com, *.home.arpa")],
    )
    .await;
    let port = run.port().to_owned();

    // The attack: with auth off (the default), a page on rebind.evil, whose name now resolves to
    // this machine, sets a password and locks the owner out. Its Origin matches its Host.
    let evil = format!("rebind.evil:{port}");
    let before = server.command(&["GET", "config:auth"]);
    let attack = run
        .send(
            Request::post_json(
                run.url("/api/config"),
                &json!({"auth": {"enabled": true, "username": "evil", "password": "locked-out!"}}),
            )
            .header("Host", evil.as_str())
            .header("Origin", format!("http://{evil}")),
        )
        .await;
    assert_eq!(attack.status, 421, "{}", attack.text());
    let message = attack.text();
    assert!(
        message.contains("`rebind.evil`") && message.contains("ALLOWED_HOSTS"),
        "the refusal names the host and how to allow it: {message}"
    );
    assert_eq!(server.command(&["GET", "config:auth"]), before);
    assert_eq!(
        json_of(&run.get("/api/config").await)["auth"]["enabled"],
        false
    );

    // Every route, and WebSockets.
    for path in ["/api/sources", "/api/config", "/health", "/metrics", "/"] {
        let r = run.get_as(&evil, path).await;
        assert_eq!(r.status, 421, "{path}: {}", r.text());
    }
    assert_eq!(run.ws_as(&evil).await, 421);
    assert_eq!(run.ws_as("rebind.evil").await, 421);

    // Addresses, localhost, the machine's names and the configured ones are served.
    let hostname = machine_hostname();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "[::1]".to_owned(),
        format!("[::1]:{port}"),
        format!("{hostname}:{port}"),
        format!("{hostname}.local:{port}"),
        format!("Dash.Example.com:{port}"),
        "pi.home.arpa".to_owned(),
    ] {
        let sources = run.get_as(&host, "/api/sources").await;
        assert_eq!(sources.status, 200, "{host}: {}", sources.text());
        let page = run.get_as(&host, "/").await;
        assert_eq!(page.status, 200, "{host}: {}", page.text());
        assert_eq!(run.ws_as(&host).await, 101, "{host}");
    }

    // The tailnet name, learned from the tailscale source's readings (simulated:
    // sensepi.tail4c2d9e.ts.net) once it has reported them.
    let tailnet = format!("sensepi.tail4c2d9e.ts.net:{port}");
    let start = Instant::now();
    loop {
        let r = run.get_as(&tailnet, "/health").await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 421, "{}", r.text());
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the tailnet name was not learned: {}",
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run.ws_as(&tailnet).await, 101);
    assert_eq!(run.get_as("sensepi", "/health").await.status, 200);
    assert_eq!(
        run.get_as("other.tail4c2d9e.ts.net", "/health")
            .await
            .status,
        421
    );
}
