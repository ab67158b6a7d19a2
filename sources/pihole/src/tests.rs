//! The source against a local fake Pi-hole speaking the recorded v6 formats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sense_http::HttpOptions;
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};

use super::*;

const PASSWORD: &str = "s3cret-app-pass";
const SUMMARY: &str = include_str!("../fixtures/summary.json");
const AUTH_WRONG: &str = include_str!("../fixtures/auth_wrong_password.json");
const UNAUTHORIZED: &str = include_str!("../fixtures/error_unauthorized.json");

/// A Pi-hole: sessions, logins, and answers that can be replaced to misbehave.
#[derive(Default)]
struct Fake {
    /// The password it accepts; empty: it has none.
    password: String,
    /// Session ids it accepts.
    valid: Vec<String>,
    /// Logins that succeeded.
    logins: usize,
    /// Replaces the answer to `POST /api/auth`.
    auth: Option<Reply>,
    /// Replaces the answer to `GET /api/stats/summary`.
    summary: Option<Reply>,
    /// Refuses every session (a proxy dropping the header).
    refuse_sessions: bool,
}

fn answer(fake: &Mutex<Fake>, r: &RecordedRequest) -> Reply {
    let mut f = fake.lock().unwrap();
    match (r.method.as_str(), r.path_only()) {
        ("POST", "/api/auth") => {
            if let Some(reply) = f.auth.clone() {
                return reply;
            }
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            if body["password"] == f.password.as_str() {
                f.logins += 1;
                let sid = format!("sid-{}=", f.logins);
                f.valid.push(sid.clone());
                Reply::ok(
                    serde_json::json!({"session": {"valid": true, "totp": false, "sid": sid,
                        "csrf": "csrf", "validity": 1800, "message": "app-password correct"},
                        "took": 0.04})
                    .to_string(),
                )
            } else {
                Reply::Json {
                    status: 401,
                    body: AUTH_WRONG.into(),
                }
            }
        }
        ("GET", "/api/stats/summary") => {
            if let Some(reply) = f.summary.clone() {
                return reply;
            }
            let sid_ok = r
                .header("sid")
                .is_some_and(|s| f.valid.iter().any(|v| v == s));
            if f.password.is_empty() || (sid_ok && !f.refuse_sessions) {
                Reply::ok(SUMMARY)
            } else {
                Reply::Json {
                    status: 401,
                    body: UNAUTHORIZED.into(),
                }
            }
        }
        _ => Reply::Status(404),
    }
}

struct Harness {
    server: ReplayServer,
    fake: Arc<Mutex<Fake>>,
    config: Config,
    clock: Arc<AtomicU64>,
    client: HttpClient,
}

impl Harness {
    async fn new(password: &str) -> Harness {
        let fake = Arc::new(Mutex::new(Fake {
            password: password.into(),
            ..Fake::default()
        }));
        let server = {
            let fake = Arc::clone(&fake);
            ReplayServer::start(move |r| answer(&fake, r)).await
        };
        let mut config = Config::default();
        config.pihole.host = server.url();
        config.pihole.password = password.into();
        Harness {
            server,
            fake,
            config,
            clock: Arc::new(AtomicU64::new(1_708_000_000)),
            client: HttpClient::new(HttpOptions {
                connect_timeout: Duration::from_millis(500),
                request_timeout: Duration::from_millis(1500),
                ..HttpOptions::default()
            }),
        }
    }

    /// A new source, as each ephemeral run builds one.
    fn source(&self) -> PiholeSource {
        let clock = Arc::clone(&self.clock);
        PiholeSource::new(self.client.clone())
            .with_clock(move || clock.load(Ordering::SeqCst) as f64)
    }

    fn advance(&self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    fn now(&self) -> f64 {
        self.clock.load(Ordering::SeqCst) as f64
    }

    /// One ephemeral run: a new source, the state through JSON as the runner keeps it in Redis.
    async fn run(&self, state: &mut PiholeState) -> Result<PollOutput, PollError> {
        let mut carried: PiholeState =
            serde_json::from_str(&serde_json::to_string(&*state).unwrap()).unwrap();
        let result = self
            .source()
            .poll(PollContext::config_only(&self.config), &mut carried)
            .await;
        *state = carried;
        if let Err(e) = &result {
            assert_no_secrets(&e.0);
        }
        result
    }

    fn logins(&self) -> usize {
        self.server.count("POST", "/api/auth")
    }

    fn summaries(&self) -> usize {
        self.server.count("GET", "/api/stats/summary")
    }
}

fn assert_no_secrets(text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    assert!(!text.contains("sid-"), "a session id leaked: {text}");
}

fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
    &out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor}"))
        .value
}

fn unit(out: &PollOutput, sensor: &str) -> &'static str {
    out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap()
        .unit
        .unwrap()
        .as_str()
}

#[tokio::test]
async fn a_poll_gives_the_contract_readings_and_the_extras() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState::default();
    let out = h.run(&mut state).await.unwrap();

    assert_eq!(out.error, None);
    assert_eq!(value(&out, "queries_today"), &Value::Int(48213));
    assert_eq!(value(&out, "ads_blocked_today"), &Value::Int(6021));
    assert_eq!(value(&out, "ads_percentage_today"), &Value::Float(12.5));
    assert_eq!(unit(&out, "queries_today"), "queries");
    assert_eq!(unit(&out, "ads_blocked_today"), "ads");
    assert_eq!(unit(&out, "ads_percentage_today"), "%");
    assert_eq!(value(&out, "queries_forwarded"), &Value::Int(27744));
    assert_eq!(value(&out, "queries_cached"), &Value::Int(14190));
    assert_eq!(value(&out, "unique_domains"), &Value::Int(3127));
    assert_eq!(value(&out, "clients_active"), &Value::Int(14));
    assert_eq!(unit(&out, "clients_active"), "clients");
    assert_eq!(value(&out, "clients_total"), &Value::Int(23));
    assert_eq!(value(&out, "domains_blocked"), &Value::Int(178_342));
    assert_eq!(unit(&out, "domains_blocked"), "domains");
    assert_eq!(out.measurements.len(), 9);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/api/auth");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body, serde_json::json!({ "password": PASSWORD }));
    assert_eq!(requests[1].path, "/api/stats/summary");
    assert_eq!(requests[1].header("sid"), Some("sid-1="));
    assert!(requests[1].header("origin").is_none());

    let session = state.session.as_ref().unwrap();
    assert_eq!(session.sid.as_deref(), Some("sid-1="));
    assert!(session.confirmed);
    assert_eq!(session.expires_at, h.now() + 1800.0);
}

/// The fix of design §4: the session survives ephemeral runs; one login for many polls, and one
/// more only when Pi-hole forgets the session.
#[tokio::test]
async fn many_runs_share_one_login_and_relogin_once_when_pihole_forgets_it() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState::default();
    for _ in 0..8 {
        let out = h.run(&mut state).await.unwrap();
        assert_eq!(value(&out, "queries_today"), &Value::Int(48213));
        h.advance(30);
    }
    assert_eq!(h.logins(), 1, "one login for eight runs");
    assert_eq!(h.summaries(), 8);
    assert!(
        h.server
            .requests()
            .iter()
            .filter(|r| r.path_only() == "/api/stats/summary")
            .all(|r| r.header("sid") == Some("sid-1="))
    );

    // Pi-hole restarts and forgets every session: a 401, one login, the summary again.
    h.fake.lock().unwrap().valid.clear();
    for _ in 0..5 {
        h.run(&mut state).await.unwrap();
        h.advance(30);
    }
    assert_eq!(
        h.logins(),
        2,
        "exactly one login after the session was lost"
    );
    assert_eq!(h.summaries(), 8 + 1 + 1 + 4);
    assert_eq!(
        state.session.as_ref().unwrap().sid.as_deref(),
        Some("sid-2=")
    );
}

#[tokio::test]
async fn use_extends_the_session_and_only_real_expiry_needs_a_login() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState::default();
    h.run(&mut state).await.unwrap();
    // Polls every 20 minutes for two hours: each use pushes the 30-minute expiry on.
    for _ in 0..6 {
        h.advance(20 * 60);
        h.run(&mut state).await.unwrap();
    }
    assert_eq!(h.logins(), 1);

    // Nobody asked for 31 minutes: the session is gone, so log in before asking.
    h.advance(31 * 60);
    h.run(&mut state).await.unwrap();
    assert_eq!(h.logins(), 2);
    assert_eq!(h.summaries(), 8, "no 401 round trip for a known expiry");
}

#[tokio::test]
async fn a_session_of_another_host_is_not_used() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState {
        session: Some(StoredSession {
            host: "http://other.lan".into(),
            sid: Some("sid-elsewhere".into()),
            validity_s: 1800.0,
            expires_at: h.now() + 1000.0,
            obtained_at: h.now(),
            confirmed: true,
        }),
        ..PiholeState::default()
    };
    h.run(&mut state).await.unwrap();
    assert_eq!(h.logins(), 1);
    assert_eq!(h.server.requests()[1].header("sid"), Some("sid-1="));
}

#[tokio::test]
async fn without_a_password_there_is_no_login() {
    let h = Harness::new("").await;
    let mut state = PiholeState::default();
    for _ in 0..3 {
        let out = h.run(&mut state).await.unwrap();
        assert_eq!(value(&out, "ads_blocked_today"), &Value::Int(6021));
    }
    assert_eq!(h.logins(), 0);
    assert!(
        h.server
            .requests()
            .iter()
            .all(|r| r.header("sid").is_none())
    );
    assert_eq!(state, PiholeState::default());
}

#[tokio::test]
async fn a_pihole_wanting_a_password_says_so() {
    let mut h = Harness::new(PASSWORD).await;
    h.config.pihole.password.clear();
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("wants a password"), "{e}");
    assert!(e.0.contains("401"), "{e}");
    assert_eq!(h.logins(), 0);
}

#[tokio::test]
async fn a_password_on_a_pihole_without_one_needs_no_session() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().auth = Some(Reply::ok(include_str!(
        "../fixtures/auth_no_password_set.json"
    )));
    h.fake.lock().unwrap().summary = Some(Reply::ok(SUMMARY));
    let mut state = PiholeState::default();
    for _ in 0..4 {
        h.run(&mut state).await.unwrap();
        h.advance(30);
    }
    assert_eq!(h.logins(), 1, "asked once, then trusted for an hour");
    assert!(
        h.server
            .requests()
            .iter()
            .all(|r| r.header("sid").is_none())
    );
}

#[tokio::test]
async fn a_wrong_password_is_named_and_not_retried_until_it_changes() {
    let mut h = Harness::new("the-right-one").await;
    h.config.pihole.password = PASSWORD.into();
    let mut state = PiholeState::default();
    let e = h.run(&mut state).await.unwrap_err();
    assert!(e.0.contains("wrong password"), "{e}");
    assert!(e.0.contains("password incorrect"), "Pi-hole's message: {e}");
    assert_eq!(h.logins(), 1, "no retry loop");
    assert_eq!(h.summaries(), 0);

    // The next runs do not knock again with the same password...
    h.advance(30);
    let e = h.run(&mut state).await.unwrap_err();
    assert!(e.0.contains("wrong password"), "{e}");
    assert_eq!(h.logins(), 1);
    assert_eq!(h.server.requests().len(), 1, "no request at all");

    // ...until it changes,
    h.config.pihole.password = "another-wrong-one".into();
    h.run(&mut state).await.unwrap_err();
    assert_eq!(h.logins(), 2);

    // or the pause is over.
    h.advance(WRONG_PASSWORD_PAUSE_S as u64 + 1);
    h.run(&mut state).await.unwrap_err();
    assert_eq!(h.logins(), 3);

    // The right password works at once and forgets the refusal.
    h.config.pihole.password = "the-right-one".into();
    h.run(&mut state).await.unwrap();
    assert_eq!(state.refused_password, None);
}

#[tokio::test]
async fn a_401_without_a_session_object_is_still_a_wrong_password() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().auth = Some(Reply::Json {
        status: 401,
        body: UNAUTHORIZED.into(),
    });
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("wrong password"), "{e}");
}

#[tokio::test]
async fn two_factor_authentication_asks_for_an_app_password() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().auth = Some(Reply::Json {
        status: 400,
        body: include_str!("../fixtures/error_totp_missing.json").into(),
    });
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("app password"), "{e}");
    assert!(e.0.contains("2FA"), "{e}");
}

#[tokio::test]
async fn a_session_refused_right_after_login_is_not_replaced_every_poll() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().refuse_sessions = true;
    let mut state = PiholeState::default();
    for _ in 0..6 {
        let e = h.run(&mut state).await.unwrap_err();
        assert!(e.0.contains("refuses the session"), "{e}");
        h.advance(30);
    }
    assert_eq!(h.logins(), 1, "seats are not burnt one per poll");
    assert_eq!(h.summaries(), 6);
    // After a while one more attempt is allowed, not more.
    h.advance(MIN_RELOGIN_INTERVAL_S as u64);
    h.run(&mut state).await.unwrap_err();
    h.run(&mut state).await.unwrap_err();
    assert_eq!(h.logins(), 2);
}

#[tokio::test]
async fn a_429_stops_all_requests_until_retry_after() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState::default();
    h.run(&mut state).await.unwrap();
    h.fake.lock().unwrap().summary = Some(Reply::WithHeaders {
        status: 429,
        headers: vec![("retry-after".into(), "120".into())],
        body: String::new(),
    });
    let e = h.run(&mut state).await.unwrap_err();
    assert!(e.0.contains("rate limiting"), "{e}");
    assert!(e.0.contains("2024-02-15 12:28:40 UTC"), "{e}");
    assert_eq!(state.rate_limited_until, Some(h.now() + 120.0));
    let before = h.server.requests().len();

    h.fake.lock().unwrap().summary = None;
    h.advance(60);
    let e = h.run(&mut state).await.unwrap_err();
    assert!(
        e.0.contains("not calling it until 2024-02-15 12:28:40 UTC"),
        "{e}"
    );
    assert_eq!(h.server.requests().len(), before, "Pi-hole is left alone");

    h.advance(61);
    h.run(&mut state).await.unwrap();
    assert_eq!(state.rate_limited_until, None);
    assert_eq!(h.logins(), 1, "the session survived the pause");
}

#[tokio::test]
async fn no_free_session_backs_off_for_the_default_pause() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().auth = Some(Reply::Json {
        status: 429,
        body: include_str!("../fixtures/error_api_seats_exceeded.json").into(),
    });
    let mut state = PiholeState::default();
    let e = h.run(&mut state).await.unwrap_err();
    assert!(e.0.contains("API seats exceeded"), "{e}");
    assert_eq!(
        state.rate_limited_until,
        Some(h.now() + DEFAULT_RATE_LIMIT_PAUSE_S)
    );
    h.run(&mut state).await.unwrap_err();
    assert_eq!(h.logins(), 1);
}

async fn failing_summary(reply: Reply) -> String {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().summary = Some(reply);
    let mut state = PiholeState::default();
    let e = h.run(&mut state).await.unwrap_err();
    assert_eq!(h.logins(), 1, "no retry on {e}");
    // The session stays for the next poll: a broken answer is no reason to log in again.
    assert!(state.session.is_some());
    e.0
}

#[tokio::test]
async fn a_server_error_is_named_with_pihole_s_message() {
    let e = failing_summary(Reply::Json {
        status: 500,
        body: include_str!("../fixtures/error_internal.json").into(),
    })
    .await;
    assert!(e.contains("HTTP 500 from /api/stats/summary"), "{e}");
    assert!(e.contains("Could not read from the FTL database"), "{e}");
    let e = failing_summary(Reply::Status(502)).await;
    assert!(e.contains("HTTP 502"), "{e}");
}

#[tokio::test]
async fn broken_answers_are_errors_naming_the_cause() {
    let e = failing_summary(Reply::ok("{\"queries\": {\"total\": 12")).await;
    assert!(
        e.contains("/api/stats/summary") && e.contains("not JSON"),
        "{e}"
    );
    let e = failing_summary(Reply::ok("<html>Pi-hole</html>")).await;
    assert!(e.contains("not JSON"), "{e}");
    let e = failing_summary(Reply::ok(include_str!(
        "../fixtures/summary_missing_percent.json"
    )))
    .await;
    assert!(e.contains("queries.percent_blocked"), "{e}");
    let e = failing_summary(Reply::Truncated(SUMMARY[..200].to_owned())).await;
    assert!(e.contains("/api/stats/summary"), "{e}");
    let e = failing_summary(Reply::Huge(2 << 20)).await;
    assert!(e.contains("more than"), "{e}");
}

#[tokio::test]
async fn a_slow_pihole_times_out() {
    let e = failing_summary(Reply::Delay(
        Duration::from_secs(5),
        Box::new(Reply::ok(SUMMARY)),
    ))
    .await;
    assert!(e.contains("did not answer within"), "{e}");
}

#[tokio::test]
async fn a_broken_login_answer_is_an_error() {
    let h = Harness::new(PASSWORD).await;
    h.fake.lock().unwrap().auth = Some(Reply::ok("{\"session\": "));
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("/api/auth") && e.0.contains("not JSON"), "{e}");
    h.fake.lock().unwrap().auth = Some(Reply::Status(503));
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("HTTP 503 from /api/auth"), "{e}");
}

#[tokio::test]
async fn an_unreachable_pihole_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut h = Harness::new(PASSWORD).await;
    h.config.pihole.host = url.clone();
    let e = h.run(&mut PiholeState::default()).await.unwrap_err();
    assert!(e.0.contains("cannot connect") && e.0.contains(&url), "{e}");
}

#[tokio::test]
async fn an_empty_host_is_not_configured() {
    let mut h = Harness::new(PASSWORD).await;
    h.config.pihole.host = "  ".into();
    let source = h.source();
    assert!(!source.enabled(&h.config));
    let out = h.run(&mut PiholeState::default()).await.unwrap();
    assert_eq!(out, PollOutput::default());
    assert!(h.server.requests().is_empty());
    h.config.pihole.host = h.server.url();
    assert!(source.enabled(&h.config));
}

#[tokio::test]
async fn the_admin_path_of_v5_habits_is_tolerated() {
    let mut h = Harness::new(PASSWORD).await;
    h.config.pihole.host = format!("{}/admin/", h.server.url());
    h.run(&mut PiholeState::default()).await.unwrap();
    assert_eq!(h.server.requests()[0].path, "/api/auth");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let h = Harness::new(PASSWORD).await;
    let mut state = PiholeState::default();
    h.run(&mut state).await.unwrap();
    let shown = format!("{state:?} {:?}", h.source());
    assert!(shown.contains("<redacted>"), "{shown}");
    assert_no_secrets(&shown);
    // The stored form keeps the session id: that is what makes it reusable.
    assert!(serde_json::to_string(&state).unwrap().contains("sid-1="));
}

#[test]
fn base_urls_are_normalised() {
    assert_eq!(
        base_url("http://pi.hole").as_deref(),
        Some("http://pi.hole")
    );
    assert_eq!(
        base_url(" http://pi.hole/ ").as_deref(),
        Some("http://pi.hole")
    );
    assert_eq!(
        base_url("https://10.0.0.2:8443/admin").as_deref(),
        Some("https://10.0.0.2:8443")
    );
    assert_eq!(
        base_url("http://pi.hole/api/").as_deref(),
        Some("http://pi.hole")
    );
    assert_eq!(base_url(""), None);
    assert_eq!(base_url("/"), None);
}

#[test]
fn times_are_written_in_utc() {
    assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc(1_708_000_000.0), "2024-02-15 12:26:40 UTC");
    assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    assert_eq!(utc(4_102_444_799.0), "2099-12-31 23:59:59 UTC");
}

#[test]
fn fingerprints_notice_a_change() {
    assert_eq!(fingerprint("h", "a"), fingerprint("h", "a"));
    assert_ne!(fingerprint("h", "a"), fingerprint("h", "b"));
    assert_ne!(fingerprint("h", "a"), fingerprint("g", "a"));
    assert_ne!(fingerprint("ha", ""), fingerprint("h", "a"));
}

#[test]
fn an_old_or_foreign_state_starts_afresh_field_by_field() {
    let s: PiholeState = serde_json::from_str("{}").unwrap();
    assert_eq!(s, PiholeState::default());
    let s: PiholeState = serde_json::from_str(r#"{"rate_limited_until": 5.0}"#).unwrap();
    assert_eq!(s.rate_limited_until, Some(5.0));
}

#[test]
fn the_poll_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut source = PiholeSource::default();
    let config = Config::default();
    let mut state = PiholeState::default();
    let future = source.poll(PollContext::config_only(&config), &mut state);
    assert_send(&future);
}
