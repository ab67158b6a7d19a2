use std::time::Duration;

use super::replay::{ReplayServer, Reply};
use super::*;

fn client(request_timeout_ms: u64, max_body: usize) -> HttpClient {
    HttpClient::new(HttpOptions {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(request_timeout_ms),
        max_body_bytes: max_body,
        user_agent: "test-agent".into(),
    })
}

#[tokio::test]
async fn get_and_post_reach_the_server_as_sent() {
    let server = ReplayServer::start(|r| match r.path_only() {
        "/api/auth" => Reply::Json {
            status: 200,
            body: format!("{{\"echo\": {}}}", String::from_utf8_lossy(&r.body)),
        },
        "/missing" => Reply::Status(404),
        _ => Reply::ok(r#"{"hello": "world"}"#),
    })
    .await;
    let c = client(2000, 1024);

    let r = c
        .send(Request::get(format!("{}/x?format=j1", server.url())).header("sid", "s3cret"))
        .await
        .unwrap();
    assert!(r.is_success());
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["hello"], "world");

    let r = c
        .send(Request::post_json(
            format!("{}/api/auth", server.url()),
            &serde_json::json!({"password": "pw"}),
        ))
        .await
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["echo"]["password"], "pw");

    let r = c
        .send(Request::get(format!("{}/missing", server.url())))
        .await
        .unwrap();
    assert_eq!(r.status, 404, "a status is an answer, not an error");

    let seen = server.requests();
    assert_eq!(seen[0].path, "/x?format=j1");
    assert_eq!(seen[0].header("sid"), Some("s3cret"));
    assert_eq!(seen[0].header("user-agent"), Some("test-agent"));
    assert_eq!(
        seen[0].header("host"),
        Some(server.url().trim_start_matches("http://"))
    );
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(server.count("POST", "/api/auth"), 1);
}

#[tokio::test]
async fn a_host_header_set_by_the_caller_replaces_the_urls() {
    let server = ReplayServer::start(|_| Reply::ok("{}")).await;
    client(2000, 1024)
        .send(Request::get(format!("{}/x", server.url())).header("Host", "rebind.example:80"))
        .await
        .unwrap();
    let seen = server.requests();
    let hosts: Vec<&str> = seen[0]
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(hosts, ["rebind.example:80"]);
}

#[tokio::test]
async fn a_slow_answer_times_out_naming_the_target_without_its_query() {
    let server =
        ReplayServer::start(|_| Reply::Delay(Duration::from_secs(5), Box::new(Reply::ok("{}"))))
            .await;
    let err = client(200, 1024)
        .send(Request::get(format!("{}/slow?key=secret", server.url())))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::Timeout {
                stage: "answer",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("/slow") && !text.contains("secret"), "{text}");
}

#[tokio::test]
async fn a_secret_path_is_in_no_message_about_its_request() {
    // A webhook's URL: its path is its key.
    let server =
        ReplayServer::start(|_| Reply::Delay(Duration::from_secs(5), Box::new(Reply::ok("{}"))))
            .await;
    let hook = format!("{}/services/T0/B0/xoxb-s3cret", server.url());
    let err = client(200, 1024)
        .send(Request::post_json(&hook, &serde_json::json!({})).secret_path())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("POST {}/…", server.url())) && !text.contains("s3cret"),
        "{text}"
    );
    // Nobody listening on the port: the connection's failure names the host only too.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = client(2000, 1024)
        .send(Request::post_json(format!("http://{closed}/hook/s3cret"), &1).secret_path())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("s3cret") && text.contains(&closed.to_string()),
        "{text}"
    );
    // Nor does a URL that cannot be requested at all.
    let err = client(2000, 1024)
        .send(Request::post_json("http://exa mple/s3cret", &1).secret_path())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = ReplayServer::start(|_| Reply::Huge(10_000)).await;
    let err = client(2000, 1000)
        .send(Request::get(server.url()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::BodyTooLarge { limit: 1000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_truncated_body_is_a_protocol_error() {
    let server = ReplayServer::start(|_| Reply::Truncated(r#"{"queries": {"to"#.into())).await;
    let err = client(2000, 1 << 20)
        .send(Request::get(server.url()))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn refused_connections_and_bad_urls_are_named() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client(2000, 1024)
        .send(Request::get(format!("http://127.0.0.1:{port}/api")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot connect to GET http://127.0.0.1:{port}/api"
        )),
        "{err}"
    );
    for bad in ["ftp://example.com/", "not a url", "http://"] {
        let err = client(2000, 1024)
            .send(Request::get(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::InvalidUrl(_)), "{bad}: {err:?}");
    }
}

#[tokio::test]
async fn tls_to_a_plain_server_fails_as_tls() {
    let server = ReplayServer::start(|_| Reply::ok("{}")).await;
    let url = server
        .url()
        .replace("http://", "https://")
        .replace("127.0.0.1", "localhost");
    let err = client(2000, 1024)
        .send(Request::get(url))
        .await
        .unwrap_err();
    // The plain server waits for a request head that never comes: the handshake cannot finish.
    assert!(
        matches!(
            err,
            HttpError::Tls { .. }
                | HttpError::Timeout {
                    stage: "connect",
                    ..
                }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unexpected_json_is_named() {
    let server = ReplayServer::start(|_| Reply::ok("not json")).await;
    let r = client(2000, 1024)
        .send(Request::get(server.url()))
        .await
        .unwrap();
    let err = r.json::<serde_json::Value>().unwrap_err();
    assert!(matches!(err, HttpError::Json { .. }), "{err:?}");
}

#[tokio::test]
async fn unix_sockets_carry_the_host_header() {
    let path = std::env::temp_dir().join(format!("sense-http-test-{}.sock", std::process::id()));
    let server =
        ReplayServer::start_unix(&path, |_| Reply::ok(r#"{"BackendState": "Running"}"#)).await;
    let r = client(2000, 1024)
        .send(Request::unix_get(
            &path,
            "local-tailscaled.sock",
            "/localapi/v0/status",
        ))
        .await
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["BackendState"], "Running");
    let seen = server.requests();
    assert_eq!(seen[0].header("host"), Some("local-tailscaled.sock"));
    assert_eq!(seen[0].path, "/localapi/v0/status");
    assert!(seen[0].header("origin").is_none() && seen[0].header("referer").is_none());
    drop(server);
    assert!(!path.exists(), "the socket file is removed");
}
