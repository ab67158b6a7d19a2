//! # The `pihole` source
//!
//! DNS statistics of the last 24 hours from Pi-hole v6's API (`GET /api/stats/summary`):
//!
//! | sensor | unit | from |
//! |---|---|---|
//! | `queries_today` | `queries` | `queries.total` |
//! | `ads_blocked_today` | `ads` | `queries.blocked` |
//! | `ads_percentage_today` | `%` | `queries.percent_blocked`, one decimal |
//! | `queries_forwarded`, `queries_cached` | `queries` | `queries.forwarded`, `queries.cached` |
//! | `unique_domains` | `domains` | `queries.unique_domains` |
//! | `clients_active`, `clients_total` | `clients` | `clients.active`, `clients.total` |
//! | `domains_blocked` | `domains` | `gravity.domains_being_blocked` |
//!
//! The first three are the contract's; the others are extras, written when Pi-hole reports them.
//! A failure is an error status with no readings, never zeros.
//!
//! ## Sessions
//!
//! Pi-hole v6 hands out a session id (`sid`) for a password, and has only a few sessions to give
//! (`webserver.api.max_sessions`, 16 by default): when they run out, nobody can log in, its own
//! web interface included. So this source logs in as rarely as it can:
//!
//! - The session id and its expiry live in [`PiholeState`], which the runner keeps in Redis: it is
//!   reused across polls and across ephemeral runs. Every successful use extends it by the
//!   validity Pi-hole announced, as Pi-hole itself does.
//! - It logs in again only when the stored session has (nearly) expired, or when Pi-hole answers
//!   401 to a session that worked before (Pi-hole restarted, the password changed); then the
//!   summary is asked for once more, with the new session. A session Pi-hole refuses straight
//!   after issuing it (a proxy dropping the `sid` header, say) is kept until it expires rather than
//!   replaced by another login on every poll.
//! - A wrong password is not tried again for [`WRONG_PASSWORD_PAUSE_S`] unless the configured
//!   password changes.
//! - A 429 (rate limited, or no free session) stops every request to Pi-hole until the time its
//!   `Retry-After` names, or [`DEFAULT_RATE_LIMIT_PAUSE_S`] without one.
//! - Without a configured password there is no login at all (a Pi-hole without a password, or one
//!   that trusts local clients, answers without a session).
//!
//! Neither the password nor the session id ever appears in an error, a log line or a `Debug`
//! printout.
//!
//! With an empty `host` the source is not configured: [`Source::enabled`] is false and a poll
//! makes no request and reports nothing.

mod api;
mod sim;

use std::sync::Arc;

use sense_bus::config::Config;
use sense_bus::model::{Measurement, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{SectionName, SourceId, unix_now};
use sense_hal::Unit;
use sense_http::{HttpClient, HttpError, Request, Response};
use serde::{Deserialize, Serialize};

use crate::api::{Login, Summary};
pub use crate::sim::{simulated_auth, simulated_summary};

/// How long before its expiry a stored session is no longer used, in seconds: a session that
/// expires while the request travels would cost a 401 and a second login.
pub const EXPIRY_MARGIN_S: f64 = 15.0;

/// How long to leave Pi-hole alone after a 429 without `Retry-After`, in seconds.
pub const DEFAULT_RATE_LIMIT_PAUSE_S: f64 = 60.0;

/// The longest pause a `Retry-After` can ask for, in seconds.
pub const MAX_RATE_LIMIT_PAUSE_S: f64 = 3600.0;

/// How long a refused password is not tried again (unless it changes), in seconds.
pub const WRONG_PASSWORD_PAUSE_S: f64 = 300.0;

/// How long a Pi-hole that needs no session is trusted to stay that way before asking again, in
/// seconds.
pub const NO_SESSION_RECHECK_S: f64 = 3600.0;

/// The shortest time between two logins prompted by 401s for a session that never worked, in
/// seconds.
pub const MIN_RELOGIN_INTERVAL_S: f64 = 300.0;

/// A Pi-hole session, as remembered between polls.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The Pi-hole it belongs to (the normalised base URL).
    pub host: String,
    /// The session id; `None` when Pi-hole said it needs none. Secret.
    pub sid: Option<String>,
    /// How long the session lives unless used, in seconds (Pi-hole's `validity`).
    pub validity_s: f64,
    /// When it expires unless used again, in Unix seconds.
    pub expires_at: f64,
    /// When it was obtained, in Unix seconds.
    pub obtained_at: f64,
    /// Whether a summary was read with it: a session that never worked is not replaced on a 401
    /// more than once per [`MIN_RELOGIN_INTERVAL_S`].
    pub confirmed: bool,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("host", &self.host)
            .field("sid", &self.sid.as_ref().map(|_| "<redacted>"))
            .field("validity_s", &self.validity_s)
            .field("expires_at", &self.expires_at)
            .field("obtained_at", &self.obtained_at)
            .field("confirmed", &self.confirmed)
            .finish()
    }
}

/// A password Pi-hole refused, remembered so it is not tried on every poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusedPassword {
    /// A fingerprint of the host and password (FNV-1a, not the password): a changed password
    /// is tried at once. Redis holds the password itself in `config:pihole` anyway.
    pub fingerprint: u64,
    /// When it may be tried again, in Unix seconds.
    pub retry_at: f64,
}

/// What the source remembers between polls; the runner keeps it in `state:pihole`.
///
/// Its `Debug` never shows the session id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PiholeState {
    /// The session in use.
    pub session: Option<StoredSession>,
    /// After a 429: no request to Pi-hole before this time, in Unix seconds.
    pub rate_limited_until: Option<f64>,
    /// The last refused password.
    pub refused_password: Option<RefusedPassword>,
}

type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The `pihole` source.
#[derive(Clone)]
pub struct PiholeSource {
    client: HttpClient,
    clock: Clock,
}

impl std::fmt::Debug for PiholeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiholeSource")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Default for PiholeSource {
    fn default() -> Self {
        PiholeSource::new(HttpClient::default())
    }
}

/// Why a poll failed.
struct Failure {
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
        }
    }
}

/// What the summary request came back with.
enum Fetched {
    Summary(Summary),
    Unauthorized,
}

impl PiholeSource {
    /// A source asking Pi-hole through `client` (its timeouts and body cap apply).
    pub fn new(client: HttpClient) -> Self {
        PiholeSource {
            client,
            clock: Arc::new(unix_now),
        }
    }

    /// The same source reading the time from `clock` (Unix seconds) instead of the system clock:
    /// for tests of expiry and back-off.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    async fn send(&self, request: Request) -> Result<Response, Failure> {
        self.client
            .send(request)
            .await
            .map_err(|e: HttpError| Failure::new(e.to_string()))
    }

    /// Logs in with `password`; updates `state` and returns the session id to use (`None`: no
    /// session needed).
    async fn login(
        &self,
        base: &str,
        password: &str,
        now: f64,
        state: &mut PiholeState,
    ) -> Result<Option<String>, Failure> {
        let fingerprint = fingerprint(base, password);
        if let Some(refused) = &state.refused_password
            && refused.fingerprint == fingerprint
            && now < refused.retry_at
        {
            return Err(Failure::new(format!(
                "Pi-hole at {base}: wrong password (refused earlier); not trying it again before \
                 {} unless it changes",
                utc(refused.retry_at)
            )));
        }
        state.session = None;
        let response = self
            .send(Request::post_json(
                format!("{base}/api/auth"),
                &serde_json::json!({ "password": password }),
            ))
            .await?;
        match response.status {
            200 | 401 => {}
            429 => return Err(rate_limited(base, "/api/auth", &response, now, state)),
            400 => {
                let why = api::error_message(&response.body);
                let hint = if why.as_deref().is_some_and(|m| m.contains("2FA")) {
                    ": two-factor authentication is on; configure an app password instead"
                } else {
                    ""
                };
                return Err(Failure::new(format!(
                    "Pi-hole at {base}: login refused (400 from /api/auth: {}){hint}",
                    why.unwrap_or_else(|| "bad request".into())
                )));
            }
            status => return Err(http_status(base, "/api/auth", status, &response)),
        }
        let login = match api::parse_auth(&response.body) {
            Ok(login) => login,
            // A 401 whose body is not the usual session object still means the password is wrong.
            Err(_) if response.status == 401 => Login::Refused(api::error_message(&response.body)),
            Err(e) => {
                return Err(Failure::new(format!(
                    "Pi-hole at {base}: unexpected answer from /api/auth: {e}"
                )));
            }
        };
        match login {
            Login::Refused(message) => {
                let retry_at = now + WRONG_PASSWORD_PAUSE_S;
                state.refused_password = Some(RefusedPassword {
                    fingerprint,
                    retry_at,
                });
                let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
                Err(Failure::new(format!(
                    "Pi-hole at {base}: wrong password ({} from /api/auth{detail}); not trying it \
                     again before {} unless it changes",
                    response.status,
                    utc(retry_at)
                )))
            }
            Login::NotNeeded => {
                state.refused_password = None;
                state.session = Some(StoredSession {
                    host: base.to_owned(),
                    sid: None,
                    validity_s: NO_SESSION_RECHECK_S,
                    expires_at: now + NO_SESSION_RECHECK_S,
                    obtained_at: now,
                    confirmed: false,
                });
                Ok(None)
            }
            Login::Session { sid, validity_s } => {
                state.refused_password = None;
                state.session = Some(StoredSession {
                    host: base.to_owned(),
                    sid: Some(sid.clone()),
                    validity_s,
                    expires_at: now + validity_s,
                    obtained_at: now,
                    confirmed: false,
                });
                Ok(Some(sid))
            }
        }
    }

    /// Asks for the summary, with `sid` when there is one.
    async fn summary(
        &self,
        base: &str,
        sid: Option<&str>,
        now: f64,
        state: &mut PiholeState,
    ) -> Result<Fetched, Failure> {
        let mut request = Request::get(format!("{base}/api/stats/summary"));
        if let Some(sid) = sid {
            request = request.header("sid", sid);
        }
        let response = self.send(request).await?;
        match response.status {
            200 => api::parse_summary(&response.body)
                .map(Fetched::Summary)
                .map_err(|e| {
                    Failure::new(format!(
                        "Pi-hole at {base}: unexpected answer from /api/stats/summary: {e}"
                    ))
                }),
            401 => Ok(Fetched::Unauthorized),
            429 => Err(rate_limited(
                base,
                "/api/stats/summary",
                &response,
                now,
                state,
            )),
            status => Err(http_status(base, "/api/stats/summary", status, &response)),
        }
    }

    async fn fetch(
        &self,
        base: &str,
        password: &str,
        now: f64,
        state: &mut PiholeState,
    ) -> Result<Summary, Failure> {
        if password.is_empty() {
            state.session = None;
            state.refused_password = None;
            return match self.summary(base, None, now, state).await? {
                Fetched::Summary(s) => Ok(s),
                Fetched::Unauthorized => Err(Failure::new(format!(
                    "Pi-hole at {base} wants a password (401 from /api/stats/summary); none is \
                     configured: set pihole.password to an app password"
                ))),
            };
        }

        let stored = state
            .session
            .clone()
            .filter(|s| s.host == base && now + EXPIRY_MARGIN_S < s.expires_at);
        let (sid, fresh) = match &stored {
            Some(s) => (s.sid.clone(), false),
            None => (self.login(base, password, now, state).await?, true),
        };
        let mut outcome = self.summary(base, sid.as_deref(), now, state).await?;
        if matches!(outcome, Fetched::Unauthorized)
            && !fresh
            && stored
                .as_ref()
                .is_some_and(|s| s.confirmed || now - s.obtained_at >= MIN_RELOGIN_INTERVAL_S)
        {
            // The session expired on Pi-hole's side (a restart, a new password): one new login,
            // one more try.
            let sid = self.login(base, password, now, state).await?;
            outcome = self.summary(base, sid.as_deref(), now, state).await?;
        }
        match outcome {
            Fetched::Summary(summary) => {
                if let Some(session) = &mut state.session {
                    // Pi-hole extends a session on every authenticated request.
                    session.expires_at = now + session.validity_s;
                    session.confirmed = true;
                }
                Ok(summary)
            }
            Fetched::Unauthorized => Err(Failure::new(format!(
                "Pi-hole at {base} refuses the session it issued (401 from /api/stats/summary; does \
                 a proxy drop the `sid` header?); keeping it until it expires rather than logging \
                 in again"
            ))),
        }
    }
}

/// The base URL Pi-hole's API hangs off: `http://pi.hole/admin/` → `http://pi.hole`. `None`
/// when no host is configured.
fn base_url(host: &str) -> Option<String> {
    let mut base = host.trim().trim_end_matches('/');
    for suffix in ["/admin", "/api"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.trim_end_matches('/');
        }
    }
    (!base.is_empty()).then(|| base.to_owned())
}

/// FNV-1a of `host`, a separator and `password`: stable across builds, one-way enough for a value
/// that only needs to notice a change.
fn fingerprint(host: &str, password: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in host.bytes().chain([0]).chain(password.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Records a 429 in `state` and describes it.
fn rate_limited(
    base: &str,
    path: &str,
    response: &Response,
    now: f64,
    state: &mut PiholeState,
) -> Failure {
    let pause = response
        .retry_after()
        .map_or(DEFAULT_RATE_LIMIT_PAUSE_S, |d| d.as_secs_f64())
        .clamp(1.0, MAX_RATE_LIMIT_PAUSE_S);
    let until = now + pause;
    state.rate_limited_until = Some(until);
    let why = api::error_message(&response.body)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Failure::new(format!(
        "Pi-hole at {base} is rate limiting (429 from {path}{why}); not calling it until {}",
        utc(until)
    ))
}

/// Describes an unexpected status.
fn http_status(base: &str, path: &str, status: u16, response: &Response) -> Failure {
    let why = api::error_message(&response.body)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Failure::new(format!("Pi-hole at {base}: HTTP {status} from {path}{why}"))
}

/// `unix` as `2024-02-16 12:34:56 UTC`.
fn utc(unix: f64) -> String {
    // Whole seconds; times before 1970 do not occur here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = unix.max(0.0) as u64;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn reading(sensor: &str, value: Value, unit: Unit) -> Measurement {
    Measurement::new(sensor.to_owned(), value, Some(unit))
}

const CLIENTS: Unit = Unit::new("clients");
const DOMAINS: Unit = Unit::new("domains");

/// The readings of a summary: the contract's three, then the extras Pi-hole reported.
fn measurements(s: &Summary) -> Vec<Measurement> {
    let mut out = vec![
        reading("queries_today", Value::Int(s.queries), Unit::QUERIES),
        reading("ads_blocked_today", Value::Int(s.blocked), Unit::ADS),
        reading(
            "ads_percentage_today",
            Value::rounded(s.percent_blocked, 1),
            Unit::PERCENT,
        ),
    ];
    let extras = [
        ("queries_forwarded", s.forwarded, Unit::QUERIES),
        ("queries_cached", s.cached, Unit::QUERIES),
        ("unique_domains", s.unique_domains, DOMAINS),
        ("clients_active", s.clients_active, CLIENTS),
        ("clients_total", s.clients_total, CLIENTS),
        ("domains_blocked", s.domains_blocked, DOMAINS),
    ];
    out.extend(
        extras
            .into_iter()
            .filter_map(|(sensor, v, unit)| v.map(|v| reading(sensor, Value::Int(v), unit))),
    );
    out
}

impl Source for PiholeSource {
    const ID: SourceId = SourceId::Pihole;
    const SECTIONS: &'static [SectionName] = &[SectionName::Pihole];
    type State = PiholeState;

    fn enabled(&self, config: &Config) -> bool {
        base_url(&config.pihole.host).is_some()
    }

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut PiholeState,
    ) -> Result<PollOutput, PollError> {
        let config = &context.config.pihole;
        let Some(base) = base_url(&config.host) else {
            // Not configured: nothing to ask, nothing wrong.
            return Ok(PollOutput::default());
        };
        let now = (self.clock)();
        if let Some(until) = state.rate_limited_until {
            if now < until {
                return Err(PollError::new(format!(
                    "Pi-hole at {base} asked us to slow down (429); not calling it until {}",
                    utc(until)
                )));
            }
            state.rate_limited_until = None;
        }
        match self.fetch(&base, &config.password, now, state).await {
            Ok(summary) => Ok(PollOutput::complete(measurements(&summary))),
            Err(failure) => Err(PollError::new(failure.message)),
        }
    }
}

#[cfg(test)]
mod tests;
