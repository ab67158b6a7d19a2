//! Brute force on sign-in, against the real binary and a real redis-server: parallel guesses,
//! floods of bad logins, one client's failures and everyone else, and who the client is behind a
//! reverse proxy.

mod common;

use common::{Run, json_of};

use sense_http::{Request, Response};
use sense_testkit::{RedisServer, basic_auth};
use serde_json::json;

const PASSWORD: &str = "correct horse";

/// Stores a login (cost 4: fast) before the gateway starts.
fn set_auth(server: &RedisServer) {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let auth = json!({"enabled": true, "username": "admin", "password_hash": hash});
    server
        .command(&["SET", "config:auth", &auth.to_string()])
        .unwrap();
}

/// `POST /api/login`, as if forwarded for `client` when given.
fn login(run: &Run, password: &str, client: Option<&str>) -> Request {
    let request = Request::post_json(
        run.url("/api/login"),
        &json!({"username": "admin", "password": password}),
    );
    match client {
        Some(c) => request.header("x-forwarded-for", c),
        None => request,
    }
}

/// Sends every request at once; their answers in order.
async fn all_at_once(run: &Run, requests: Vec<Request>) -> Vec<Response> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let url = run.url("");
            tokio::spawn(async move {
                sense_http::HttpClient::default()
                    .send(r)
                    .await
                    .unwrap_or_else(|e| panic!("no answer from {url}: {e}"))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// The process's thread count.
fn threads(run: &Run) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", run.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

fn statuses(answers: &[Response]) -> std::collections::BTreeMap<u16, usize> {
    let mut count = std::collections::BTreeMap::new();
    for a in answers {
        *count.entry(a.status).or_default() += 1;
    }
    count
}

#[tokio::test]
async fn parallel_guesses_from_one_client_get_no_session_for_the_right_password() {
    let server = RedisServer::start();
    set_auth(&server);
    let run = Run::start(&server, "guesses").await;
    run.wait_sign_in_in_force().await;
    // 60 wrong guesses and the right password, all at once, the right one last: the guesses use up
    // the client's failures before it is checked (they are counted before bcrypt runs, and a
    // client gets one check at a time).
    let mut requests: Vec<Request> = (0..60)
        .map(|i| login(&run, &format!("guess {i}"), None))
        .collect();
    requests.push(login(&run, PASSWORD, None));
    let answers = all_at_once(&run, requests).await;
    let right = answers.last().unwrap();
    assert_eq!(right.status, 429, "the right password after 60 guesses");
    assert!(right.header("set-cookie").is_none());
    assert!(right.header("retry-after").is_some());
    let count = statuses(&answers);
    assert!(
        count.get(&401).copied().unwrap_or(0) <= 5,
        "at most 5 guesses checked: {count:?}"
    );
    assert_eq!(count.get(&200), None, "{count:?}");
    // Basic auth on the API is the same sign-in: still refused.
    let api = run
        .send(
            Request::get(run.url("/api/sources"))
                .header("authorization", basic_auth("admin", PASSWORD)),
        )
        .await;
    assert_eq!(api.status, 429);
}

#[tokio::test]
async fn a_flood_of_bad_logins_is_refused_without_threads_and_the_owner_still_signs_in() {
    let server = RedisServer::start();
    set_auth(&server);
    let run = Run::start_with(&server, "flood", &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    run.wait_sign_in_in_force().await;
    // The owner signs in first, from their own address.
    let owner = "192.168.1.20";
    let signed_in = run.send(login(&run, PASSWORD, Some(owner))).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let cookie = signed_in
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let before = threads(&run);

    // 400 bad logins at once, each from an address of its own (as forwarded by the proxy), and
    // the owner's dashboard asking for its data meanwhile.
    let flood: Vec<Request> = (0..400)
        .map(|i| {
            let client = format!("10.66.{}.{}", i / 250, i % 250 + 1);
            login(&run, "guess", Some(&client))
        })
        .collect();
    let sources = Request::get(run.url("/api/sources")).header("cookie", cookie.as_str());
    let mut requests = flood;
    requests.push(sources);
    let answers = all_at_once(&run, requests).await;
    let after = threads(&run);
    let (flood, sources) = answers.split_at(400);
    let count = statuses(flood);
    eprintln!("threads before {before}, after 400 parallel bad logins {after}; answers {count:?}");
    assert_eq!(
        count.get(&401).copied().unwrap_or(0) + count.get(&429).copied().unwrap_or(0),
        400,
        "every bad login answered 401 or 429: {count:?}"
    );
    assert!(count.get(&429).copied().unwrap_or(0) >= 300, "{count:?}");
    assert!(
        after <= before + 8,
        "threads grew from {before} to {after} with 400 parallel bad logins"
    );
    assert_eq!(sources[0].status, 200, "the dashboard still answers");
    assert!(json_of(&sources[0]).is_object());

    // One attacker's address runs out of failures...
    let attacker = "203.0.113.66";
    let mut locked = false;
    for _ in 0..6 {
        let r = run.send(login(&run, "guess", Some(attacker))).await;
        if r.status == 429 {
            locked = true;
            break;
        }
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert!(locked, "the attacker is limited");
    let right_from_attacker = run.send(login(&run, PASSWORD, Some(attacker))).await;
    assert_eq!(right_from_attacker.status, 429);
    // ...and the owner, from another address, still signs in.
    let owner_again = run.send(login(&run, PASSWORD, Some(owner))).await;
    assert_eq!(owner_again.status, 200, "{}", owner_again.text());
    assert!(owner_again.header("set-cookie").is_some());

    // The proxy's own entries are skipped: the client is the right-most untrusted one.
    let via_chain = run
        .send(login(
            &run,
            PASSWORD,
            Some(&format!("{attacker}, 127.0.0.1")),
        ))
        .await;
    assert_eq!(via_chain.status, 429, "still the attacker");
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_trusted_proxies() {
    let server = RedisServer::start();
    set_auth(&server);
    let run = Run::start(&server, "spoof").await;
    run.wait_sign_in_in_force().await;
    // Failures "from" many addresses are all from the TCP peer.
    let mut locked = false;
    for i in 0..6 {
        let r = run
            .send(login(&run, "guess", Some(&format!("10.77.0.{}", i + 1))))
            .await;
        if r.status == 429 {
            locked = true;
            break;
        }
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert!(locked, "a spoofed X-Forwarded-For does not dodge the limit");
    let other = run.send(login(&run, PASSWORD, Some("192.168.1.20"))).await;
    assert_eq!(other.status, 429, "the header names nobody");
}
