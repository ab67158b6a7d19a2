//! The control plane fails closed, tried as an attacker would: the real `sense-pulse run` on a
//! real redis-server, with invalid, lost and concurrent settings, masked secrets sent to new
//! places and secrets of the wrong type. Every configured host is a loopback address with nothing
//! listening: `--sim` still polls a configured Pi-hole (issue 14), and a test reaches nothing else.

mod common;

use std::time::{Duration, Instant};

use common::{Run, json_of};
use sense_http::{Request, Response};
use sense_testkit::{RedisServer, basic_auth};
use serde_json::{Value as Json, json};

const PASSWORD: &str = "correct horse";

fn valid_auth() -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    json!({"enabled": true, "username": "admin", "password_hash": hash}).to_string()
}

async fn get_as(run: &Run, path: &str, credentials: Option<&str>) -> Response {
    let request = Request::get(run.url(path));
    let request = match credentials {
        Some(c) => request.header("authorization", c),
        None => request,
    };
    run.send(request).await
}

async fn post_as(run: &Run, path: &str, body: &Json, credentials: Option<&str>) -> Response {
    let request = Request::post_json(run.url(path), body);
    let request = match credentials {
        Some(c) => request.header("authorization", c),
        None => request,
    };
    run.send(request).await
}

/// Writes `config:{section}` straight into Redis (not through the API, as an attacker with
/// access to Redis, or a broken tool, would) and announces it.
fn write_section(server: &RedisServer, section: &str, text: &str) {
    server
        .command(&["SET", &format!("config:{section}"), text])
        .unwrap();
    let notice = json!({"section": section, "timestamp": 0}).to_string();
    server
        .command(&["PUBLISH", "config:changed", &notice])
        .unwrap();
}

/// Waits until `check` holds, failing with `what` after `within`.
async fn until<F: Future<Output = bool>>(what: &str, within: Duration, check: impl Fn() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Anonymous requests are refused on every way in (401: the last valid settings ask for a
/// login); the owner's password still works, unless the bus itself is away.
async fn assert_closed(run: &Run, when: &str) {
    let right = basic_auth("admin", PASSWORD);
    for path in ["/api/config", "/api/sources"] {
        let r = get_as(run, path, None).await;
        assert_eq!(r.status, 401, "{when}: anonymous GET {path}: {}", r.text());
    }
    let write = json!({"auth": {"enabled": false}});
    let r = post_as(run, "/api/config", &write, None).await;
    assert_eq!(r.status, 401, "{when}: anonymous POST: {}", r.text());
    let session = json_of(&get_as(run, "/api/session", None).await);
    assert_eq!(session["auth_enabled"], true, "{when}: {session}");
    let owner = get_as(run, "/api/sources", Some(&right)).await;
    assert!(
        owner.status == 200 || (owner.status == 503 && owner.text().contains("data bus")),
        "{when}: the owner → {} {}",
        owner.status,
        owner.text()
    );
}

#[tokio::test]
async fn invalid_or_lost_sign_in_settings_never_turn_sign_in_off() {
    let server = RedisServer::start();
    let auth = valid_auth();
    server.command(&["SET", "config:auth", &auth]).unwrap();
    let pihole = json!({"host": "http://127.0.0.1:9", "password": "pihole-secret"}).to_string();
    server.command(&["SET", "config:pihole", &pihole]).unwrap();
    let state = std::env::temp_dir().join(format!("sense-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let state_env = state.to_str().unwrap().to_owned();
    let run = Run::start_with(&server, "fail-closed", &[("STATE_DIR", &state_env)]).await;
    run.wait_sign_in_in_force().await;
    let right = basic_auth("admin", PASSWORD);
    assert_closed(&run, "at start").await;
    assert_eq!(get_as(&run, "/api/config", Some(&right)).await.status, 200);

    // Invalid sections written straight into Redis: the last valid settings stay in force,
    // and the owner is told.
    let short_hash = json!({"enabled": true, "username": "admin", "password_hash": "$2b$04$short"});
    let yes = json!({"enabled": "yes", "username": "admin"});
    for invalid in [
        "not json".to_owned(),
        short_hash.to_string(),
        yes.to_string(),
        "[]".to_owned(),
    ] {
        write_section(&server, "auth", &invalid);
        until(
            "the problem is reported",
            Duration::from_secs(10),
            || async { json_of(&get_as(&run, "/api/session", None).await)["problem"].is_string() },
        )
        .await;
        assert_closed(&run, &invalid).await;
        assert_eq!(get_as(&run, "/api/sources", Some(&right)).await.status, 200);
        let health = json_of(&get_as(&run, "/health", None).await);
        assert!(
            health["warnings"][0]
                .as_str()
                .is_some_and(|w| w.contains("config:auth")),
            "{health}"
        );
    }
    // And the log says so, once per problem, as an error (entries reach the bus through a queue).
    let logs = || redis_cli(&server, None)(&["LRANGE", "logs", "0", "-1"]);
    let said = |logs: &str| {
        logs.lines()
            .filter(|l| l.contains("sign-in settings: config:auth"))
            .count()
    };
    until("the errors are logged", Duration::from_secs(10), || async {
        said(&logs()) >= 4
    })
    .await;
    assert_eq!(
        said(&logs()),
        4,
        "one error per invalid section: {}",
        logs()
    );
    // A valid write clears the problem.
    write_section(&server, "auth", &auth);
    until("the problem clears", Duration::from_secs(10), || async {
        json_of(&get_as(&run, "/api/session", None).await)["problem"].is_null()
    })
    .await;

    // Redis restarted empty: closed all along, and every setting comes back.
    let mut server = server;
    server.restart();
    assert_closed(&run, "right after Redis came back empty").await;
    until(
        "the settings are restored",
        Duration::from_secs(15),
        || async { server.command(&["GET", "config:auth"]).as_deref() == Some(auth.as_str()) },
    )
    .await;
    assert_eq!(
        server.command(&["GET", "config:pihole"]).as_deref(),
        Some(pihole.as_str())
    );
    assert_closed(&run, "after the restore").await;

    // The gateway restarts too, and Redis is empty again (a power cut before Redis saved):
    // the backup in the state folder brings the settings back, even over the environment's seed.
    drop(run);
    server.restart();
    let run = Run::start_with(
        &server,
        "fail-closed-again",
        &[
            ("STATE_DIR", &state_env),
            ("PIHOLE_HOST", "http://127.0.0.3:9"),
        ],
    )
    .await;
    run.wait_sign_in_in_force().await;
    assert_closed(&run, "after both restarted").await;
    until(
        "the settings are restored from the backup",
        Duration::from_secs(15),
        || async { server.command(&["GET", "config:pihole"]).as_deref() == Some(pihole.as_str()) },
    )
    .await;
    assert_eq!(
        server.command(&["GET", "config:auth"]).as_deref(),
        Some(auth.as_str())
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state.join("config-backup.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(
        mode & 0o077,
        0,
        "the backup holds secrets: readable by its owner only"
    );
    drop(run);
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test]
async fn sign_in_settings_invalid_from_the_start_let_nobody_in() {
    let server = RedisServer::start();
    let intended = json!({"enabled": "yes", "username": "admin"}).to_string();
    server.command(&["SET", "config:auth", &intended]).unwrap();
    let run = Run::start(&server, "locked").await;
    run.wait_sign_in_in_force().await;
    for path in ["/api/config", "/api/sources"] {
        let r = get_as(&run, path, None).await;
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        assert!(r.text().contains("config:auth"), "{}", r.text());
    }
    let session = json_of(&get_as(&run, "/api/session", None).await);
    assert_eq!(session["auth_enabled"], true);
    assert!(
        session["problem"]
            .as_str()
            .is_some_and(|p| p.contains("enabled")),
        "{session}"
    );
    // Fixed with a valid section: sign-in works.
    write_section(&server, "auth", &valid_auth());
    let right = basic_auth("admin", PASSWORD);
    until(
        "the fixed settings apply",
        Duration::from_secs(10),
        || async { get_as(&run, "/api/sources", Some(&right)).await.status == 200 },
    )
    .await;
    assert_eq!(get_as(&run, "/api/sources", None).await.status, 401);
}

#[tokio::test]
async fn masked_secrets_never_follow_a_new_address() {
    let server = RedisServer::start();
    let pihole = json!({"host": "http://127.0.0.2:9", "password": "pihole-secret"}).to_string();
    server.command(&["SET", "config:pihole", &pihole]).unwrap();
    let cameras = json!({"cameras": [
        {"name": "Door", "host": "127.0.0.5", "username": "admin", "password": "door-secret"},
        {"name": "Garden", "host": "127.0.0.6", "username": "admin", "password": "garden-secret"},
    ]});
    server
        .command(&["SET", "config:camera", &cameras.to_string()])
        .unwrap();
    let run = Run::start(&server, "masked").await;
    let shown = json_of(&run.get("/api/config").await);
    assert_eq!(shown["pihole"]["password"], "********");

    // The attack: a new host with the masked password.
    let attack = json!({"pihole": {"host": "http://127.0.0.4:9", "password": "********"}});
    let r = run.post("/api/config", &attack).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(json_of(&r)["field"], "pihole.password");
    assert_eq!(
        server.command(&["GET", "config:pihole"]).as_deref(),
        Some(pihole.as_str())
    );

    // A camera moved to another host with its masked password: refused, naming it.
    let mut list = shown["camera"]["cameras"].clone();
    list[1]["host"] = json!("127.0.0.8");
    let r = run
        .post("/api/config", &json!({"camera": {"cameras": list}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(json_of(&r)["field"], "camera.cameras[1].password");

    // Renamed and reordered, with a third one added: each keeps its own password.
    let mut list = shown["camera"]["cameras"].clone();
    list[0]["name"] = json!("Front door");
    let list =
        json!([list[1], list[0], {"name": "Garage", "host": "127.0.0.7", "password": "new"}]);
    let r = run
        .post("/api/config", &json!({"camera": {"cameras": list}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stored: Json =
        serde_json::from_str(&server.command(&["GET", "config:camera"]).unwrap()).unwrap();
    let passwords: Vec<&str> = stored["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["password"].as_str().unwrap())
        .collect();
    assert_eq!(passwords, ["garden-secret", "door-secret", "new"]);
    assert_eq!(stored["cameras"][1]["name"], "Front door");
}

#[tokio::test]
async fn concurrent_partial_writes_lose_nothing_and_stale_forms_are_refused() {
    let server = RedisServer::start();
    // 120 writes at once from one address: more connections than one client may hold by default.
    let run = Run::start_with(
        &server,
        "concurrent",
        &[("GATEWAY_MAX_CONNECTIONS_PER_CLIENT", "128")],
    )
    .await;
    let fields = [
        "tailscale",
        "pihole",
        "system",
        "aranet4",
        "weather",
        "sensors",
    ];
    let writes = (0..120).map(|i| {
        let field = fields[i % fields.len()];
        let body = json!({"schedule": {field: 100 + i}});
        let request = Request::post_json(run.url("/api/config"), &body);
        async move {
            (
                field,
                100 + i,
                sense_http::HttpClient::default().send(request).await,
            )
        }
    });
    let mut written: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    let handles: Vec<_> = writes.map(tokio::spawn).collect();
    for h in handles {
        let (field, value, reply) = h.await.unwrap();
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        written.entry(field).or_default().push(value);
    }
    let stored: Json =
        serde_json::from_str(&server.command(&["GET", "config:schedule"]).unwrap()).unwrap();
    for (field, values) in written {
        let now = stored[field].as_u64().unwrap_or_default() as usize;
        assert!(values.contains(&now), "schedule.{field} lost: {stored}");
    }

    // A form loaded before someone else's change is refused, and nothing changes.
    let loaded = json_of(&run.get("/api/config").await);
    let revision = loaded["_revisions"]["sleep"].as_str().unwrap().to_owned();
    let r = run
        .post("/api/config", &json!({"sleep": {"end_hour": 6}}))
        .await;
    assert_eq!(r.status, 200);
    let stale = json!({"sleep": {"start_hour": 21}, "_revisions": {"sleep": revision}});
    let r = run.post("/api/config", &stale).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(json_of(&r)["error"].as_str().unwrap().contains("reload"));
    assert_eq!(
        server.command(&["GET", "config:sleep"]).as_deref(),
        Some(r#"{"end_hour":6}"#)
    );
    // With the current revision it goes through.
    let current = json_of(&run.get("/api/config").await)["_revisions"]["sleep"].clone();
    let fresh = json!({"sleep": {"start_hour": 21}, "_revisions": {"sleep": current}});
    assert_eq!(run.post("/api/config", &fresh).await.status, 200);
}

#[tokio::test]
async fn no_message_ever_holds_a_secret() {
    const SECRET: &str = "31415926535";
    let mut server = RedisServer::start();
    server
        .command(&["CONFIG", "SET", "requirepass", "hunter2redis"])
        .unwrap();
    let url = format!("redis://:hunter2redis@127.0.0.1:{}", server.port());
    let run = Run::start_on(&url, "secrets", &[]).await;
    let redis = redis_cli(&server, Some("hunter2redis"));

    // Refused writes do not quote it.
    for body in [
        json!({"pihole": {"password": 31_415_926_535_u64}}),
        json!({"camera": {"cameras": [{"name": "a", "host": "h", "password": 31_415_926_535_u64}]}}),
        json!({"pihole": {"host": format!("ftp://me:{SECRET}@127.0.0.9")}}),
    ] {
        let r = run.post("/api/config", &body).await;
        assert_eq!(r.status, 400);
        assert!(!r.text().contains(SECRET), "{}", r.text());
    }
    // Nor does a stored one, wherever the problem is shown: the config's problems, the source's
    // status, the logs list and the log stream.
    let logs = run
        .ws("/ws/logs", Vec::new(), |ws| {
            let mut ws = ws.expect("the log stream opens");
            ws.set_timeout(Duration::from_secs(1));
            let mut seen = String::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if let Some(text) = ws.next_text() {
                    seen.push_str(&text);
                    if text.contains("pihole.password") {
                        break;
                    }
                }
            }
            seen
        })
        .await;
    redis(&[
        "SET",
        "config:pihole",
        &format!(r#"{{"password":{SECRET}}}"#),
    ]);
    redis(&[
        "PUBLISH",
        "config:changed",
        r#"{"section":"pihole","timestamp":0}"#,
    ]);
    let shown = run.get("/api/config").await.text();
    assert!(
        shown.contains("pihole.password") && !shown.contains(SECRET),
        "{shown}"
    );
    let trigger = async || {
        run.command(
            "orchestrator",
            "trigger",
            json!({"service": "pihole", "wait": true}),
        )
        .await
    };
    // A poll that began before the source took the new config in (a scheduled one already
    // running, or one triggered before the `config:changed` notice reached it on a busy
    // machine) read the one before it: the poll to look at is a later one.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let triggered = trigger().await;
        assert_eq!(triggered["success"], true, "{triggered}");
        let status = redis(&["GET", "status:pihole"]);
        if status.contains("pihole.password") || Instant::now() > deadline {
            break status;
        }
    };
    assert!(
        status.contains("pihole.password") && !status.contains(SECRET),
        "{status}"
    );
    let listed = redis(&["LRANGE", "logs", "0", "-1"]);
    assert!(
        listed.contains("pihole.password") && !listed.contains(SECRET),
        "{listed}"
    );
    let streamed = logs.await.unwrap();
    assert!(
        streamed.contains("pihole.password") && !streamed.contains(SECRET),
        "{streamed}"
    );

    // The bus goes away: /health names the cause without the Redis password.
    server.stop();
    until("the gateway notices", Duration::from_secs(20), || async {
        run.try_get("/health")
            .await
            .is_some_and(|r| r.status == 503)
    })
    .await;
    let health = run.get("/health").await.text();
    assert!(!health.contains("hunter2redis"), "{health}");
    let api = run.get("/api/sources").await.text();
    assert!(!api.contains("hunter2redis"), "{api}");
}

/// `redis-cli` on `server` (with its password, if it has one), the whole reply as text.
fn redis_cli(server: &RedisServer, password: Option<&str>) -> impl Fn(&[&str]) -> String + use<> {
    let port = server.port().to_string();
    let password = password.map(str::to_owned);
    move |args: &[&str]| {
        let mut command = std::process::Command::new("redis-cli");
        command.args(["-p", &port, "--no-auth-warning"]);
        if let Some(password) = &password {
            command.args(["-a", password]);
        }
        let out = command.args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
