//! Plausible Pi-hole answers for `--sim`: served by a replay server, they let the real source run
//! its real code path (login, session reuse, parsing) without a Pi-hole.

use std::f64::consts::TAU;

use serde_json::json;

const DAY: f64 = 86_400.0;
const WEEK: u64 = 7 * 86_400;

/// Active clients by UTC hour: a household asleep at night, busy in the evening.
const CLIENTS_BY_HOUR: [u8; 24] = [
    5, 5, 4, 4, 4, 5, 7, 9, 11, 12, 12, 12, 13, 12, 12, 12, 13, 14, 15, 15, 14, 12, 9, 7,
];

/// The answer to `POST /api/auth` with a good password: a session valid for 30 minutes.
pub fn simulated_auth() -> String {
    json!({
        "session": {
            "valid": true,
            "totp": false,
            "sid": "c2ltdWxhdGVkLXNlc3Npb24=",
            "csrf": "c2ltdWxhdGVkLWNzcmY=",
            "validity": 1800,
            "message": "app-password correct"
        },
        "took": 0.0381
    })
    .to_string()
}

/// Queries since midnight (UTC) at `t` seconds into the day: a base rate plus a daytime swell,
/// integrated so the count only grows.
fn queries_at(t: f64) -> f64 {
    1500.0 + 0.25 * t + 0.2 * (t - DAY / TAU * (TAU * t / DAY).sin())
}

/// The answer to `GET /api/stats/summary` at `unix_secs`: counts that grow through the (UTC) day
/// and start again at midnight, a blocked share that drifts between about 10 and 16 %, and active
/// clients following the hour. The same time always gives the same answer.
pub fn simulated_summary(unix_secs: u64) -> String {
    // Whole seconds of the day: exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let t = (unix_secs % 86_400) as f64;
    let total = queries_at(t);
    // Blocking follows browsing: a share of the queries plus an evening surge of ad-heavy pages.
    let blocked = 180.0 + 0.11 * (total - 1500.0) + 0.03 * (t - DAY / TAU * (TAU * t / DAY).sin());
    let forwarded = 0.62 * (total - blocked);
    let cached = total - blocked - forwarded;
    let unique = 400.0 + 12.0 * total.sqrt();
    let hour = usize::try_from((unix_secs % 86_400) / 3600).unwrap_or(0);
    let gravity_update = (unix_secs / WEEK) * WEEK + 3 * 3600;
    let gravity_update = if gravity_update > unix_secs {
        gravity_update.saturating_sub(WEEK)
    } else {
        gravity_update
    };
    // Rounded to whole queries; the values are far below 2^53.
    #[allow(clippy::cast_possible_truncation)]
    let whole = |x: f64| x.round() as i64;
    let (total, blocked, forwarded, cached) = (
        whole(total),
        whole(blocked),
        whole(forwarded),
        whole(cached),
    );
    // Pi-hole computes the share from the rounded counts, at full precision.
    #[allow(clippy::cast_precision_loss)]
    let percent = blocked as f64 * 100.0 / total as f64;
    let a = whole(0.55 * (total as f64));
    let aaaa = whole(0.25 * (total as f64));
    let https = whole(0.14 * (total as f64));
    json!({
        "queries": {
            "total": total,
            "blocked": blocked,
            "percent_blocked": percent,
            "unique_domains": whole(unique),
            "forwarded": forwarded,
            "cached": cached,
            "frequency": 0.5,
            "types": {
                "A": a, "AAAA": aaaa, "HTTPS": https, "PTR": total - a - aaaa - https,
                "ANY": 0, "SRV": 0, "SOA": 0, "TXT": 0, "NAPTR": 0, "MX": 0, "DS": 0,
                "RRSIG": 0, "DNSKEY": 0, "NS": 0, "SVCB": 0, "OTHER": 0
            },
            "status": {
                "GRAVITY": blocked, "FORWARDED": forwarded, "CACHE": cached, "UNKNOWN": 0
            },
            "replies": {
                "IP": forwarded + cached, "NODATA": blocked, "NXDOMAIN": 0, "CNAME": 0
            }
        },
        "clients": { "active": CLIENTS_BY_HOUR[hour % 24], "total": 23 },
        "gravity": { "domains_being_blocked": 178_342, "last_update": gravity_update },
        "took": 0.0004
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Login, parse_auth, parse_summary};

    #[test]
    fn the_simulated_answers_parse() {
        assert!(matches!(
            parse_auth(simulated_auth().as_bytes()).unwrap(),
            Login::Session { .. }
        ));
        let s = parse_summary(simulated_summary(1_708_000_000).as_bytes()).unwrap();
        assert!(s.queries > s.blocked && s.blocked > 0);
        assert!((5.0..=20.0).contains(&s.percent_blocked), "{s:?}");
    }

    #[test]
    fn counts_grow_through_the_day_and_restart_at_midnight() {
        let midnight = 1_708_041_600; // 2024-02-16 00:00:00 UTC
        let mut last = (0, 0);
        for minute in (0..24 * 60).step_by(7) {
            let s = parse_summary(simulated_summary(midnight + minute * 60).as_bytes()).unwrap();
            assert!(
                s.queries >= last.0 && s.blocked >= last.1,
                "minute {minute}"
            );
            assert!((5.0..=20.0).contains(&s.percent_blocked), "{minute}: {s:?}");
            last = (s.queries, s.blocked);
        }
        assert!(last.0 > 30_000, "{last:?}");
        let next_day = parse_summary(simulated_summary(midnight + 86_400).as_bytes()).unwrap();
        assert!(next_day.queries < 2000);
        assert_eq!(
            simulated_summary(midnight + 5000),
            simulated_summary(midnight + 5000)
        );
    }
}
