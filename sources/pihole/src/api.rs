//! The Pi-hole v6 API answers this source reads, and their parsers.
//!
//! Only what is used is modelled, and every field is optional on the wire so that a missing field
//! becomes an error naming it (`queries.percent_blocked`) rather than a serde message about line
//! and column. Unknown fields are ignored: Pi-hole adds some in most releases.

use serde::Deserialize;

/// The answer to `POST /api/auth`, as far as it matters here.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct AuthWire {
    session: Option<SessionWire>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(default)]
struct SessionWire {
    valid: Option<bool>,
    sid: Option<String>,
    validity: Option<f64>,
    message: Option<String>,
}

impl std::fmt::Debug for SessionWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWire")
            .field("valid", &self.valid)
            .field("sid", &self.sid.as_ref().map(|_| "<redacted>"))
            .field("validity", &self.validity)
            .field("message", &self.message)
            .finish()
    }
}

/// What a login produced.
#[derive(Clone, PartialEq)]
pub(crate) enum Login {
    /// A session: its id and how many seconds it lives unless used.
    Session { sid: String, validity_s: f64 },
    /// Pi-hole has no password (or trusts this client): no session id is needed.
    NotNeeded,
    /// The password was refused; Pi-hole's message, if it gave one.
    Refused(Option<String>),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Session { validity_s, .. } => f
                .debug_struct("Session")
                .field("sid", &"<redacted>")
                .field("validity_s", validity_s)
                .finish(),
            Login::NotNeeded => f.write_str("NotNeeded"),
            Login::Refused(m) => f.debug_tuple("Refused").field(m).finish(),
        }
    }
}

/// Parses the body of a `POST /api/auth` answer (200 or 401).
pub(crate) fn parse_auth(body: &[u8]) -> Result<Login, String> {
    let wire: AuthWire = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let session = wire
        .session
        .ok_or_else(|| "the answer has no `session` object".to_owned())?;
    let valid = session
        .valid
        .ok_or_else(|| "the answer lacks session.valid".to_owned())?;
    if !valid {
        return Ok(Login::Refused(session.message.filter(|m| !m.is_empty())));
    }
    match session.sid.filter(|s| !s.is_empty()) {
        None => Ok(Login::NotNeeded),
        Some(sid) => {
            // Pi-hole's own default session timeout; used when the answer has no usable validity.
            let validity_s = session
                .validity
                .filter(|v| v.is_finite() && *v > 0.0)
                .unwrap_or(DEFAULT_VALIDITY_S);
            Ok(Login::Session { sid, validity_s })
        }
    }
}

/// Pi-hole's default `webserver.session.timeout`, in seconds.
pub(crate) const DEFAULT_VALIDITY_S: f64 = 1800.0;

/// `{"error": {"key": ..., "message": ..., "hint": ...}}`, Pi-hole's error answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorWire {
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    key: Option<String>,
    message: Option<String>,
    hint: Option<String>,
}

/// The message of a Pi-hole error answer (`API seats exceeded (increase ...)`), cleaned up for a
/// status line; `None` when the body is not one.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let wire: ErrorWire = serde_json::from_slice(body).ok()?;
    let error = wire.error?;
    let message = error.message.or(error.key)?;
    let text = match error.hint.filter(|h| !h.is_empty()) {
        Some(hint) => format!("{message} ({hint})"),
        None => message,
    };
    Some(clean(&text, 160))
}

/// `text` without control characters, at most `max` characters.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// `GET /api/stats/summary`, as far as it matters here.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SummaryWire {
    queries: Option<QueriesWire>,
    clients: Option<ClientsWire>,
    gravity: Option<GravityWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueriesWire {
    total: Option<f64>,
    blocked: Option<f64>,
    percent_blocked: Option<f64>,
    unique_domains: Option<f64>,
    forwarded: Option<f64>,
    cached: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClientsWire {
    active: Option<f64>,
    total: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GravityWire {
    domains_being_blocked: Option<f64>,
}

/// The statistics of the last 24 hours.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Summary {
    /// Queries answered (`queries.total`).
    pub queries: i64,
    /// Queries blocked (`queries.blocked`).
    pub blocked: i64,
    /// Share blocked, in percent (`queries.percent_blocked`).
    pub percent_blocked: f64,
    /// Distinct domains asked for (`queries.unique_domains`).
    pub unique_domains: Option<i64>,
    /// Queries sent upstream (`queries.forwarded`).
    pub forwarded: Option<i64>,
    /// Queries answered from the cache (`queries.cached`).
    pub cached: Option<i64>,
    /// Clients seen in the last 24 hours (`clients.active`).
    pub clients_active: Option<i64>,
    /// Clients ever seen (`clients.total`).
    pub clients_total: Option<i64>,
    /// Domains on the block lists (`gravity.domains_being_blocked`).
    pub domains_blocked: Option<i64>,
}

/// A count: a non-negative whole number (Pi-hole writes integers; a float that is whole is fine).
fn count(name: &str, x: f64) -> Result<i64, String> {
    // 2^53: beyond it an f64 no longer holds every integer.
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 {
        // Exact: checked whole and within i64 above.
        #[allow(clippy::cast_possible_truncation)]
        Ok(x as i64)
    } else {
        Err(format!("{name} is not a count: {x}"))
    }
}

fn required(name: &str, x: Option<f64>) -> Result<f64, String> {
    x.ok_or_else(|| format!("the summary lacks {name}"))
}

/// An optional count: absent stays absent, present must be valid.
fn optional(name: &str, x: Option<f64>) -> Result<Option<i64>, String> {
    x.map(|x| count(name, x)).transpose()
}

/// Parses the body of a `GET /api/stats/summary` answer.
pub(crate) fn parse_summary(body: &[u8]) -> Result<Summary, String> {
    let wire: SummaryWire = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let q = wire
        .queries
        .ok_or_else(|| "the summary has no `queries` object".to_owned())?;
    let queries = count("queries.total", required("queries.total", q.total)?)?;
    let blocked = count("queries.blocked", required("queries.blocked", q.blocked)?)?;
    let percent_blocked = required("queries.percent_blocked", q.percent_blocked)?;
    if !(0.0..=100.0).contains(&percent_blocked) {
        return Err(format!(
            "queries.percent_blocked is not a percentage: {percent_blocked}"
        ));
    }
    let clients = wire.clients.unwrap_or_default();
    let gravity = wire.gravity.unwrap_or_default();
    Ok(Summary {
        queries,
        blocked,
        percent_blocked,
        unique_domains: optional("queries.unique_domains", q.unique_domains)?,
        forwarded: optional("queries.forwarded", q.forwarded)?,
        cached: optional("queries.cached", q.cached)?,
        clients_active: optional("clients.active", clients.active)?,
        clients_total: optional("clients.total", clients.total)?,
        domains_blocked: optional(
            "gravity.domains_being_blocked",
            gravity.domains_being_blocked,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_summary_parses() {
        let s = parse_summary(include_bytes!("../fixtures/summary.json")).unwrap();
        assert_eq!(s.queries, 48213);
        assert_eq!(s.blocked, 6021);
        assert!((s.percent_blocked - 12.488_333).abs() < 1e-6);
        assert_eq!(s.unique_domains, Some(3127));
        assert_eq!(s.forwarded, Some(27744));
        assert_eq!(s.cached, Some(14190));
        assert_eq!(s.clients_active, Some(14));
        assert_eq!(s.clients_total, Some(23));
        assert_eq!(s.domains_blocked, Some(178_342));
    }

    #[test]
    fn an_older_v6_summary_parses() {
        let s = parse_summary(include_bytes!("../fixtures/summary_v6_0.json")).unwrap();
        assert_eq!((s.queries, s.blocked), (7497, 3465));
        assert_eq!(s.domains_blocked, Some(104_756));
    }

    #[test]
    fn optional_parts_may_be_missing() {
        let s =
            parse_summary(br#"{"queries": {"total": 10, "blocked": 1, "percent_blocked": 10}}"#)
                .unwrap();
        assert_eq!(s.unique_domains, None);
        assert_eq!(s.clients_active, None);
        assert_eq!(s.domains_blocked, None);
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let e =
            parse_summary(include_bytes!("../fixtures/summary_missing_percent.json")).unwrap_err();
        assert!(e.contains("queries.percent_blocked"), "{e}");
        let e = parse_summary(br#"{"clients": {"active": 1}}"#).unwrap_err();
        assert!(e.contains("queries"), "{e}");
    }

    #[test]
    fn nonsense_numbers_are_refused() {
        for (body, field) in [
            (
                r#"{"queries": {"total": -1, "blocked": 0, "percent_blocked": 0}}"#,
                "queries.total",
            ),
            (
                r#"{"queries": {"total": 1, "blocked": 0.5, "percent_blocked": 0}}"#,
                "queries.blocked",
            ),
            (
                r#"{"queries": {"total": 1, "blocked": 0, "percent_blocked": 140}}"#,
                "queries.percent_blocked",
            ),
            (
                r#"{"queries": {"total": "many", "blocked": 0, "percent_blocked": 0}}"#,
                "not JSON",
            ),
        ] {
            let e = parse_summary(body.as_bytes()).unwrap_err();
            assert!(e.contains(field), "{body}: {e}");
        }
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(parse_summary(b"").unwrap_err().contains("not JSON"));
        assert!(
            parse_summary(b"{\"queries\": {\"tot")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(parse_summary(b"<html>").unwrap_err().contains("not JSON"));
        assert!(parse_summary(b"[]").unwrap_err().contains("queries"));
        assert!(parse_summary(b"42").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn logins_parse() {
        assert_eq!(
            parse_auth(include_bytes!("../fixtures/auth_ok.json")).unwrap(),
            Login::Session {
                sid: "vK3mQ9tZr2Lw8xYp0aBcDw=".into(),
                validity_s: 1800.0
            }
        );
        assert_eq!(
            parse_auth(include_bytes!("../fixtures/auth_wrong_password.json")).unwrap(),
            Login::Refused(Some("password incorrect".into()))
        );
        assert_eq!(
            parse_auth(include_bytes!("../fixtures/auth_no_password_set.json")).unwrap(),
            Login::NotNeeded
        );
        assert!(parse_auth(b"{}").unwrap_err().contains("session"));
        assert!(
            parse_auth(br#"{"session": {}}"#)
                .unwrap_err()
                .contains("valid")
        );
        assert!(parse_auth(b"nope").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn a_login_without_validity_gets_the_default() {
        let l = parse_auth(br#"{"session": {"valid": true, "sid": "abc", "validity": -1}}"#);
        assert_eq!(
            l.unwrap(),
            Login::Session {
                sid: "abc".into(),
                validity_s: DEFAULT_VALIDITY_S
            }
        );
    }

    #[test]
    fn debug_never_shows_a_sid() {
        let l = parse_auth(include_bytes!("../fixtures/auth_ok.json")).unwrap();
        assert!(!format!("{l:?}").contains("vK3m"));
    }

    #[test]
    fn error_answers_give_their_message() {
        assert_eq!(
            error_message(include_bytes!("../fixtures/error_api_seats_exceeded.json")).as_deref(),
            Some("API seats exceeded (increase webserver.api.max_sessions)")
        );
        assert_eq!(
            error_message(include_bytes!("../fixtures/error_unauthorized.json")).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(error_message(b"<html>"), None);
        assert_eq!(error_message(b"{}"), None);
        assert_eq!(clean("a\nb", 10), "a b");
        assert_eq!(clean("abcdef", 3), "abc…");
    }
}
