//! `config:auth`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::super::layered::{EnvField, EnvKind, FieldError};
use super::super::{REDACTED, Section};
use super::*;
use crate::ids::SectionName;

/// `config:auth`: the dashboard's HTTP Basic login.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether a login is required. Off until a username and password hash are set: turning it
    /// on without them is refused rather than locking everyone out.
    pub enabled: bool,
    /// The user name.
    pub username: String,
    /// A bcrypt hash of the password (`$2b$12$…`, 60 characters). Secret.
    pub password_hash: String,
    /// Reverse proxies, as IP addresses or CIDR ranges (`127.0.0.1` for `tailscale serve` on the
    /// same host, `172.30.0.0/24` for a compose network with Traefik). A request from one of them
    /// may say who the client is (`X-Forwarded-For`, `Forwarded`: used for the login and command
    /// rate limits) and may log a user in with `Tailscale-User-Login`. Empty: those headers are
    /// ignored and the client is the TCP peer.
    pub trusted_proxies: Vec<String>,
    /// Tailnet logins (`alice@example.com`) let in by that header; empty lets in any.
    pub tailscale_users: Vec<String>,
    /// Host names the gateway answers to besides its IP addresses, `localhost`, the machine's and
    /// its tailnet's names and `ALLOWED_HOSTS` (a guard against DNS rebinding): `pi.example.com`,
    /// `*.example.com` for every name under `example.com`, `*` for any name.
    pub allowed_hosts: Vec<String>,
}

/// Whether `entry` is an allowed-hosts entry: `*`, or a host name (letters, digits, `-`, `_`,
/// `.`), optionally under `*.`, optionally with `:port`.
pub fn is_host_pattern(entry: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let name = entry.strip_prefix("*.").unwrap_or(entry);
    let (name, port) = name.split_once(':').unwrap_or((name, "0"));
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("enabled", &self.enabled)
            .field("username", &self.username)
            .field("password_hash", &debug_secret(&self.password_hash))
            .finish()
    }
}

/// Whether `hash` has the shape of a bcrypt hash: `$2a$`/`$2b$`/`$2x$`/`$2y$`, a two-digit cost
/// (4–31), `$`, then 53 characters of bcrypt's base64.
pub fn is_bcrypt_hash(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && hash.starts_with("$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        // Bytes, not `hash[4..6]`: a multibyte character there is no cost (and no panic).
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && (4..=31).contains(&((b[4] - b'0') * 10 + (b[5] - b'0')))
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/'))
}

impl Section for AuthConfig {
    const NAME: SectionName = SectionName::Auth;
    const ENV: &'static [EnvField] = &[
        EnvField::new("AUTH_ENABLED", "enabled", EnvKind::Bool),
        EnvField::new("AUTH_USERNAME", "username", EnvKind::Text),
        EnvField::secret("AUTH_PASSWORD_HASH", "password_hash"),
        EnvField::new("TRUSTED_PROXIES", "trusted_proxies", EnvKind::List),
    ];
    const SECRET_PATHS: &'static [&'static str] = &["password_hash", "password"];
    const CHECKED_WHOLE: bool = true;
    fn validate(&self) -> Result<(), FieldError> {
        no_control_chars("username", &self.username)?;
        if self.username.contains(':') {
            return Err(FieldError::new(
                "username",
                "must not contain ':' (HTTP Basic forbids it)",
            ));
        }
        if !self.password_hash.is_empty() && !is_bcrypt_hash(&self.password_hash) {
            return Err(FieldError::new(
                "password_hash",
                "must be a bcrypt hash ($2b$12$ followed by 53 characters), not a password",
            ));
        }
        for (i, proxy) in self.trusted_proxies.iter().enumerate() {
            if let Err(why) = proxy.parse::<super::super::IpRange>() {
                return Err(FieldError::new(format!("trusted_proxies[{i}]"), why));
            }
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            if !is_host_pattern(host) {
                return Err(FieldError::new(
                    format!("allowed_hosts[{i}]"),
                    format!(
                        "must be a host name such as pi.example.com, *.example.com or * (got {host:?})"
                    ),
                ));
            }
        }
        let tailscale_login = !self.trusted_proxies.is_empty();
        if self.enabled
            && (self.username.is_empty() || self.password_hash.is_empty())
            && !tailscale_login
        {
            return Err(FieldError::new(
                "enabled",
                "cannot be true without a username and password_hash (or a trusted proxy for Tailscale logins)",
            ));
        }
        Ok(())
    }
    fn redact(&mut self) {
        redact(&mut self.password_hash);
    }
    fn restore_redacted(patch: &mut Map<String, Json>, _current: &Self) -> Result<(), FieldError> {
        // The hash authenticates to nothing elsewhere: sent back redacted, it stays as it is.
        if patch.get("password_hash").and_then(Json::as_str) == Some(REDACTED) {
            patch.remove("password_hash");
        }
        Ok(())
    }
}
