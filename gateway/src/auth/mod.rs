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
mod tests;
