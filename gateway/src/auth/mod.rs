//! Who may use the gateway.
//!
//! With `config:auth` enabled, every API call and every WebSocket upgrade needs HTTP Basic
//! credentials matching the username and bcrypt hash (as upstream made them), or a
//! `Tailscale-User-Login` header set by a trusted proxy. bcrypt is slow on purpose (a quarter of a
//! second at cost 12, more on a Pi), so a verified credential is remembered for a while by a keyed
//! fingerprint, and verification runs off the gateway's thread, a few at a time ([`limits`]).
//! Failed logins are limited per client address ([`client`]: the TCP peer, or whom a trusted proxy
//! forwarded for), counted before the check, and logged.
//!
//! The dashboard signs in once (`POST /api/login`) and gets a session cookie (`HttpOnly`,
//! `SameSite=Strict`): browsers cannot put an `Authorization` header on a WebSocket, but they do
//! send the cookie, and the page never holds the password. Sessions live in memory (a restarted
//! gateway asks again) and end when the username or password hash changes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sense_bus::config::AuthConfig;

pub mod client;
pub mod limits;

pub use client::Caller;
use limits::{Limits, Window};

/// How long a verified credential is remembered.
const REMEMBER: Duration = Duration::from_secs(600);
/// Commands allowed per address per window.
const MAX_COMMANDS: u32 = 30;
/// A dashboard session ends after this long unused.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sense_session";
/// Sessions kept at most; the least recently used go first.
const MAX_SESSIONS: usize = 256;
/// The command window.
const COMMAND_WINDOW: Duration = Duration::from_secs(10);

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No or wrong credentials (401, with a challenge).
    Unauthorized(&'static str),
    /// Too many failures or commands (429).
    TooMany(Duration),
    /// A cross-site request (403).
    BadOrigin(String),
}

/// A signed-in dashboard.
#[derive(Debug)]
struct SessionEntry {
    user: String,
    /// The username and password hash it signed in with: a change ends the session.
    credential: u64,
    last_used: Instant,
}

/// The gateway's authentication state.
#[derive(Debug)]
pub struct Auth {
    keys: RandomState,
    verified: RefCell<HashMap<u64, Instant>>,
    /// Failed logins and password checks.
    pub limits: Limits,
    commands: RefCell<Window>,
    sessions: RefCell<HashMap<String, SessionEntry>>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth::new(Limits::default())
    }
}

impl Auth {
    /// Authentication state with these login limits.
    pub fn new(limits: Limits) -> Self {
        Auth {
            keys: RandomState::new(),
            verified: RefCell::default(),
            limits,
            commands: RefCell::default(),
            sessions: RefCell::default(),
        }
    }
}

/// 32 random bytes from the kernel, as hex: a session token.
fn new_token() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The session cookie's value in a `Cookie` header.
pub fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
    })
}

/// Decodes standard base64 (as in `Authorization: Basic …`).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// `(username, password)` from an `Authorization: Basic …` header.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(base64_decode(encoded)?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Compares in time independent of where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a request brings for authentication.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Tailscale-User-Login` header.
    pub tailscale_login: Option<&'a str>,
    /// The session cookie's value.
    pub session: Option<&'a str>,
}

impl Auth {
    fn fingerprint(&self, user: &str, password: &str, hash: &str) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write(user.as_bytes());
        h.write_u8(0);
        h.write(password.as_bytes());
        h.write_u8(0);
        h.write(hash.as_bytes());
        h.finish()
    }

    /// Lets the request in (`Ok`, with who it is) or says why not.
    pub async fn check(
        &self,
        config: &AuthConfig,
        caller: Caller,
        presented: Presented<'_>,
    ) -> Result<Option<String>, Refusal> {
        if !config.enabled {
            return Ok(None);
        }
        if let Some(login) = presented.tailscale_login {
            // The header is the proxy's word: it counts only from the proxy itself.
            let allowed = config.tailscale_users.is_empty()
                || config.tailscale_users.iter().any(|u| u == login);
            if caller.via_trusted_proxy && allowed {
                return Ok(Some(login.to_owned()));
            }
        }
        if let Some(user) = presented.session.and_then(|t| self.session_user(config, t)) {
            return Ok(Some(user));
        }
        let Some((user, password)) = presented.authorization.and_then(basic_credentials) else {
            return Err(Refusal::Unauthorized("credentials required"));
        };
        self.verify(config, caller.address, &user, &password)
            .await?;
        Ok(Some(user))
    }

    /// Checks a username and password against `config` for `client`, within its limits.
    pub async fn verify(
        &self,
        config: &AuthConfig,
        client: IpAddr,
        user: &str,
        password: &str,
    ) -> Result<(), Refusal> {
        self.limits.locked(client)?;
        let key = self.fingerprint(user, password, &config.password_hash);
        let remembered = self
            .verified
            .borrow()
            .get(&key)
            .is_some_and(|at| at.elapsed() < REMEMBER);
        if remembered {
            return Ok(());
        }
        // The failure is counted before bcrypt runs, and given back if the password is right.
        let ticket = self.limits.admit(client)?;
        let user_ok = constant_time_eq(user.as_bytes(), config.username.as_bytes());
        let hash = config.password_hash.clone();
        let password = password.to_owned();
        let password_ok = ticket
            .run(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await;
        if user_ok && password_ok {
            ticket.succeeded();
            let mut verified = self.verified.borrow_mut();
            if verified.len() > 256 {
                verified.retain(|_, at| at.elapsed() < REMEMBER);
            }
            verified.insert(key, Instant::now());
            return Ok(());
        }
        Err(ticket.failed().await)
    }

    /// The user a session token belongs to, if it is current for `config`.
    pub fn session_user(&self, config: &AuthConfig, token: &str) -> Option<String> {
        let credential = self.fingerprint(&config.username, "", &config.password_hash);
        let mut sessions = self.sessions.borrow_mut();
        let entry = sessions.get_mut(token)?;
        if entry.credential != credential || entry.last_used.elapsed() >= SESSION_IDLE {
            sessions.remove(token);
            return None;
        }
        entry.last_used = Instant::now();
        Some(entry.user.clone())
    }

    /// Starts a session for `user` (already verified): its token, for the cookie.
    pub fn open_session(&self, config: &AuthConfig, user: &str) -> std::io::Result<String> {
        let token = new_token()?;
        let mut sessions = self.sessions.borrow_mut();
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                sessions.remove(&t);
            }
        }
        sessions.insert(
            token.clone(),
            SessionEntry {
                user: user.to_owned(),
                credential: self.fingerprint(&config.username, "", &config.password_hash),
                last_used: Instant::now(),
            },
        );
        Ok(token)
    }

    /// Ends a session.
    pub fn close_session(&self, token: &str) {
        self.sessions.borrow_mut().remove(token);
    }

    /// Counts a command from `client`; `Err(wait)` when it sends too many.
    pub fn command(&self, client: IpAddr) -> Result<(), Refusal> {
        self.commands
            .borrow_mut()
            .hit(client, MAX_COMMANDS, COMMAND_WINDOW)
            .map_err(Refusal::TooMany)
    }
}

/// Checks `Origin` on state-changing requests and WebSocket upgrades: it must name this host (the
/// `Host` header) or one of `allowed`. No `Origin` (curl, scripts) is fine: browsers always send
/// it on the requests a hostile page could make.
pub fn check_origin(
    origin: Option<&str>,
    host: Option<&str>,
    allowed: &[String],
) -> Result<(), Refusal> {
    let Some(origin) = origin else { return Ok(()) };
    if allowed.iter().any(|a| a == origin) {
        return Ok(());
    }
    let authority = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    match host {
        Some(host) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(Refusal::BadOrigin(origin.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bcrypt::hash("secret", 4)` made once; cost 4 keeps tests fast.
    fn config(hash: &str) -> AuthConfig {
        AuthConfig {
            enabled: true,
            username: "admin".into(),
            password_hash: hash.into(),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(
            basic_credentials(&sense_testkit::basic_auth("admin", "p:ss")),
            Some(("admin".into(), "p:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[tokio::test]
    async fn right_wrong_and_missing_credentials() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = Auth::default();
        let ip: IpAddr = "192.168.1.20".parse().unwrap();
        let right = sense_testkit::basic_auth("admin", "secret");
        let wrong = sense_testkit::basic_auth("admin", "guess");
        let ok = auth
            .check(
                &config(&hash),
                Caller::direct(ip),
                Presented {
                    authorization: Some(&right),
                    ..Presented::default()
                },
            )
            .await;
        assert_eq!(ok, Ok(Some("admin".into())));
        let bad = auth
            .check(
                &config(&hash),
                Caller::direct(ip),
                Presented {
                    authorization: Some(&wrong),
                    ..Presented::default()
                },
            )
            .await;
        assert_eq!(
            bad,
            Err(Refusal::Unauthorized("wrong username or password"))
        );
        let none = auth
            .check(&config(&hash), Caller::direct(ip), Presented::default())
            .await;
        assert_eq!(none, Err(Refusal::Unauthorized("credentials required")));
        let off = AuthConfig::default();
        assert_eq!(
            auth.check(&off, Caller::direct(ip), Presented::default())
                .await,
            Ok(None)
        );
    }

    #[tokio::test]
    async fn repeated_failures_are_rate_limited_even_with_the_right_password_after() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = Auth::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let wrong = sense_testkit::basic_auth("admin", "guess");
        for _ in 0..limits::Policy::default().max_failures {
            let _ = auth
                .check(
                    &config(&hash),
                    Caller::direct(ip),
                    Presented {
                        authorization: Some(&wrong),
                        ..Presented::default()
                    },
                )
                .await;
        }
        let right = sense_testkit::basic_auth("admin", "secret");
        let r = auth
            .check(
                &config(&hash),
                Caller::direct(ip),
                Presented {
                    authorization: Some(&right),
                    ..Presented::default()
                },
            )
            .await;
        assert!(matches!(r, Err(Refusal::TooMany(_))), "{r:?}");
        // Another address is not affected.
        let other: IpAddr = "10.0.0.10".parse().unwrap();
        let r = auth
            .check(
                &config(&hash),
                Caller::direct(other),
                Presented {
                    authorization: Some(&right),
                    ..Presented::default()
                },
            )
            .await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn tailscale_logins_only_from_a_trusted_proxy() {
        let mut c = config("");
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.tailscale_users = vec!["alice@example.com".into()];
        let auth = Auth::default();
        let login = Presented {
            tailscale_login: Some("alice@example.com"),
            ..Presented::default()
        };
        let trusted = vec!["127.0.0.1".parse().unwrap()];
        let proxy = Caller::new("127.0.0.1".parse().unwrap(), &trusted, None, None);
        let stranger = Caller::new("100.64.0.7".parse().unwrap(), &trusted, None, None);
        assert_eq!(
            auth.check(&c, proxy, login).await,
            Ok(Some("alice@example.com".into()))
        );
        assert!(
            auth.check(&c, stranger, login).await.is_err(),
            "the header from anyone else means nothing"
        );
        let mallory = Presented {
            tailscale_login: Some("mallory@example.com"),
            ..Presented::default()
        };
        assert!(auth.check(&c, proxy, mallory).await.is_err());
    }

    fn basic(password: &str) -> String {
        sense_testkit::basic_auth("admin", password)
    }

    /// Sends `logins` (client, password) all at once, as parallel requests would come; their
    /// answers in order.
    async fn parallel(
        auth: &std::rc::Rc<Auth>,
        config: &AuthConfig,
        logins: Vec<(IpAddr, String)>,
    ) -> Vec<Result<Option<String>, Refusal>> {
        let tasks: Vec<_> = logins
            .into_iter()
            .map(|(ip, password)| {
                let (auth, config) = (std::rc::Rc::clone(auth), config.clone());
                tokio::task::spawn_local(async move {
                    let header = basic(&password);
                    let presented = Presented {
                        authorization: Some(&header),
                        ..Presented::default()
                    };
                    auth.check(&config, Caller::direct(ip), presented).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    }

    #[tokio::test]
    async fn parallel_guesses_run_no_more_checks_than_failures_allowed() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = std::rc::Rc::new(Auth::default());
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let max = limits::Policy::default().max_failures;
        tokio::task::LocalSet::new()
            .run_until(async {
                // Three waves of 20 wrong guesses, then the right password, from one client.
                for _ in 0..3 {
                    let mut wave: Vec<(IpAddr, String)> =
                        (0..20).map(|i| (ip, format!("guess{i}"))).collect();
                    wave.push((ip, "secret".into()));
                    let answers = parallel(&auth, &config(&hash), wave).await;
                    let right = answers.last().unwrap();
                    assert!(matches!(right, Err(Refusal::TooMany(_))), "{right:?}");
                }
                assert!(
                    auth.limits.checks() <= u64::from(max),
                    "{} bcrypt checks for {max} failures allowed",
                    auth.limits.checks()
                );
                let late = parallel(&auth, &config(&hash), vec![(ip, "secret".into())]).await;
                assert!(matches!(late[0], Err(Refusal::TooMany(_))), "{late:?}");
            })
            .await;
    }

    #[tokio::test]
    async fn a_second_check_in_flight_from_one_client_is_refused_at_once_others_go_on() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = std::rc::Rc::new(Auth::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let login = |ip: IpAddr| {
            let (auth, config) = (std::rc::Rc::clone(&auth), config(&hash));
            tokio::task::spawn_local(async move {
                let header = basic("secret");
                let presented = Presented {
                    authorization: Some(&header),
                    ..Presented::default()
                };
                auth.check(&config, Caller::direct(ip), presented).await
            })
        };
        tokio::task::LocalSet::new()
            .run_until(async {
                // No check can finish while the permits are held: the first stays in flight.
                let held = auth.limits.hold_permits().await;
                let first = login(a);
                let second = login(a);
                let other = login(b);
                let refused = tokio::time::timeout(Duration::from_secs(10), second)
                    .await
                    .expect("the second check is answered at once, not queued")
                    .unwrap();
                assert_eq!(refused, Err(Refusal::TooMany(Duration::from_secs(1))));
                drop(held);
                assert_eq!(first.await.unwrap(), Ok(Some("admin".into())));
                assert_eq!(
                    other.await.unwrap(),
                    Ok(Some("admin".into())),
                    "another client"
                );
                assert_eq!(auth.limits.checks(), 2);
            })
            .await;
    }

    #[tokio::test]
    async fn checks_beyond_the_permits_and_the_queue_are_refused_without_running() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = std::rc::Rc::new(Auth::new(Limits::new(limits::Policy {
            permits: 1,
            queue: 2,
            ..limits::Policy::default()
        })));
        tokio::task::LocalSet::new()
            .run_until(async {
                // The permit is busy (held here, so no check can finish early and make room):
                // two checks may wait for it; the other eight are refused at once.
                let held = auth.limits.hold_permits().await;
                let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
                for i in 0..10 {
                    let (auth, config, answers) =
                        (std::rc::Rc::clone(&auth), config(&hash), answers.clone());
                    tokio::task::spawn_local(async move {
                        let header = basic("guess");
                        let presented = Presented {
                            authorization: Some(&header),
                            ..Presented::default()
                        };
                        let client = Caller::direct(IpAddr::from([10, 0, 1, i]));
                        let _ = answers.send(auth.check(&config, client, presented).await);
                    });
                }
                for _ in 0..8 {
                    let answer = answered.recv().await.unwrap();
                    assert!(matches!(answer, Err(Refusal::TooMany(_))), "{answer:?}");
                }
                assert_eq!(
                    auth.limits.checks(),
                    0,
                    "nothing ran while the permit was busy"
                );
                drop(held);
                // The two that waited are checked (and fail: a wrong password).
                for _ in 0..2 {
                    let answer = answered.recv().await.unwrap();
                    assert_eq!(
                        answer,
                        Err(Refusal::Unauthorized("wrong username or password"))
                    );
                }
                assert_eq!(auth.limits.checks(), 2);
                // Refused for being busy is not held against those clients.
                let again = parallel(
                    &auth,
                    &config(&hash),
                    vec![(IpAddr::from([10, 0, 1, 9]), "secret".into())],
                )
                .await;
                assert_eq!(again[0], Ok(Some("admin".into())));
            })
            .await;
    }

    #[tokio::test]
    async fn many_failures_from_all_clients_slow_checks_but_lock_nobody_else_out() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let policy = limits::Policy {
            slow_after: 6,
            slow_delay: Duration::from_millis(1),
            ..limits::Policy::default()
        };
        let permits = policy.permits;
        let auth = std::rc::Rc::new(Auth::new(Limits::new(policy)));
        tokio::task::LocalSet::new()
            .run_until(async {
                assert_eq!(auth.limits.permits_needed(), 1);
                // Two attackers, three guesses each (under their own limit).
                for round in 0..3 {
                    let guesses = (1..=2)
                        .map(|i| (IpAddr::from([198, 51, 100, i]), format!("guess{round}")))
                        .collect();
                    parallel(&auth, &config(&hash), guesses).await;
                }
                assert!(auth.limits.slowed());
                // A check now takes every permit: they run one at a time.
                assert_eq!(auth.limits.permits_needed(), permits);
                // The owner, from their own address, still signs in.
                let owner = IpAddr::from([192, 168, 1, 20]);
                let answers = parallel(&auth, &config(&hash), vec![(owner, "secret".into())]).await;
                assert_eq!(answers[0], Ok(Some("admin".into())));
            })
            .await;
    }

    #[test]
    fn origins_must_be_this_host_or_allowed() {
        assert_eq!(check_origin(None, Some("pi:8080"), &[]), Ok(()));
        assert_eq!(
            check_origin(Some("http://pi:8080"), Some("pi:8080"), &[]),
            Ok(())
        );
        assert!(check_origin(Some("https://evil.example"), Some("pi:8080"), &[]).is_err());
        assert_eq!(
            check_origin(
                Some("http://localhost:5173"),
                Some("pi:8080"),
                &["http://localhost:5173".into()]
            ),
            Ok(())
        );
    }

    #[test]
    fn commands_are_rate_limited_per_address() {
        let auth = Auth::default();
        let ip: IpAddr = "10.1.1.1".parse().unwrap();
        for _ in 0..MAX_COMMANDS {
            assert!(auth.command(ip).is_ok());
        }
        assert!(matches!(auth.command(ip), Err(Refusal::TooMany(_))));
    }
}
