//! Who may use the gateway.
//!
//! With `config:auth` enabled, every API call and every WebSocket upgrade needs HTTP Basic
//! credentials matching the username and bcrypt hash (as upstream made them), or a
//! `Tailscale-User-Login` header set by a trusted proxy. bcrypt is slow on purpose (a quarter of a
//! second at cost 12, more on a Pi), so a verified credential is remembered for a while by a keyed
//! fingerprint, and verification runs off the gateway's thread. Failed logins are rate limited per
//! client address.
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

/// How long a verified credential is remembered.
const REMEMBER: Duration = Duration::from_secs(600);
/// Failed logins allowed per address per window.
const MAX_FAILURES: u32 = 5;
/// The failed-login window.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
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

/// Counts per address within a window.
#[derive(Debug, Default)]
struct Window {
    counts: HashMap<IpAddr, (u32, Instant)>,
}

impl Window {
    /// Counts one event for `ip`; `Err(wait)` when over `max` within `window`.
    fn hit(&mut self, ip: IpAddr, max: u32, window: Duration) -> Result<(), Duration> {
        let now = Instant::now();
        // Keep the map small: forget windows that are over.
        if self.counts.len() > 1024 {
            self.counts
                .retain(|_, (_, start)| now.duration_since(*start) < window);
        }
        let (count, start) = self.counts.entry(ip).or_insert((0, now));
        if now.duration_since(*start) >= window {
            *count = 0;
            *start = now;
        }
        *count += 1;
        if *count > max {
            Err(window.saturating_sub(now.duration_since(*start)))
        } else {
            Ok(())
        }
    }

    fn blocked(&self, ip: IpAddr, max: u32, window: Duration) -> Option<Duration> {
        let (count, start) = self.counts.get(&ip)?;
        let elapsed = start.elapsed();
        (*count >= max && elapsed < window).then(|| window - elapsed)
    }
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
    failures: RefCell<Window>,
    commands: RefCell<Window>,
    sessions: RefCell<HashMap<String, SessionEntry>>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            keys: RandomState::new(),
            verified: RefCell::default(),
            failures: RefCell::default(),
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
        peer: IpAddr,
        presented: Presented<'_>,
    ) -> Result<Option<String>, Refusal> {
        if !config.enabled {
            return Ok(None);
        }
        if let Some(login) = presented.tailscale_login {
            let trusted = config
                .trusted_proxies
                .iter()
                .any(|p| p.parse::<IpAddr>().is_ok_and(|p| p == peer));
            let allowed = config.tailscale_users.is_empty()
                || config.tailscale_users.iter().any(|u| u == login);
            if trusted && allowed {
                return Ok(Some(login.to_owned()));
            }
        }
        if let Some(user) = presented.session.and_then(|t| self.session_user(config, t)) {
            return Ok(Some(user));
        }
        let Some((user, password)) = presented.authorization.and_then(basic_credentials) else {
            return Err(Refusal::Unauthorized("credentials required"));
        };
        self.verify(config, peer, &user, &password).await?;
        Ok(Some(user))
    }

    /// Checks a username and password against `config`, rate limiting failures per address.
    pub async fn verify(
        &self,
        config: &AuthConfig,
        peer: IpAddr,
        user: &str,
        password: &str,
    ) -> Result<(), Refusal> {
        if let Some(wait) = self
            .failures
            .borrow()
            .blocked(peer, MAX_FAILURES, FAILURE_WINDOW)
        {
            return Err(Refusal::TooMany(wait));
        }
        let key = self.fingerprint(user, password, &config.password_hash);
        let remembered = self
            .verified
            .borrow()
            .get(&key)
            .is_some_and(|at| at.elapsed() < REMEMBER);
        if remembered {
            return Ok(());
        }
        let user_ok = constant_time_eq(user.as_bytes(), config.username.as_bytes());
        let hash = config.password_hash.clone();
        let password = password.to_owned();
        // bcrypt takes hundreds of milliseconds: not on the gateway's thread.
        let password_ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if user_ok && password_ok {
            let mut verified = self.verified.borrow_mut();
            if verified.len() > 256 {
                verified.retain(|_, at| at.elapsed() < REMEMBER);
            }
            verified.insert(key, Instant::now());
            return Ok(());
        }
        if let Err(wait) = self
            .failures
            .borrow_mut()
            .hit(peer, MAX_FAILURES, FAILURE_WINDOW)
        {
            return Err(Refusal::TooMany(wait));
        }
        Err(Refusal::Unauthorized("wrong username or password"))
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

    /// Counts a command from `peer`; `Err(wait)` when it sends too many.
    pub fn command(&self, peer: IpAddr) -> Result<(), Refusal> {
        self.commands
            .borrow_mut()
            .hit(peer, MAX_COMMANDS, COMMAND_WINDOW)
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
                ip,
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
                ip,
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
        let none = auth.check(&config(&hash), ip, Presented::default()).await;
        assert_eq!(none, Err(Refusal::Unauthorized("credentials required")));
        let off = AuthConfig::default();
        assert_eq!(auth.check(&off, ip, Presented::default()).await, Ok(None));
    }

    #[tokio::test]
    async fn repeated_failures_are_rate_limited_even_with_the_right_password_after() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let auth = Auth::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let wrong = sense_testkit::basic_auth("admin", "guess");
        for _ in 0..MAX_FAILURES {
            let _ = auth
                .check(
                    &config(&hash),
                    ip,
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
                ip,
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
                other,
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
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "100.64.0.7".parse().unwrap();
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
