//! Local time, for the display's sleep hours and the times of day in alert messages.

use std::sync::OnceLock;

use tz::TimeZone;

/// The hour (0–23) in the local time zone (`TZ`, `/etc/localtime`; a container sees UTC unless
/// one of them is provided). The zone is read once per process, as glibc's `localtime` does.
pub fn local_hour() -> u8 {
    let now = std::time::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    hour_in(local_zone(), now)
}

/// The time of day `(hour, minute)` at Unix time `unix` in the local time zone (as
/// [`local_hour`]).
pub fn local_hour_minute(unix: i64) -> (u8, u8) {
    let seconds = seconds_of_day(local_zone(), unix);
    // 0..=23 and 0..=59 by construction.
    (
        u8::try_from(seconds / 3600).unwrap_or(0),
        u8::try_from(seconds % 3600 / 60).unwrap_or(0),
    )
}

fn local_zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| zone(std::env::var("TZ").ok().as_deref()))
}

/// The zone `TZ` names (a zone name, `:name`, a path or a POSIX rule), or `/etc/localtime` when it
/// is unset; UTC when neither can be read, or `TZ` is empty, as in glibc.
fn zone(tz: Option<&str>) -> TimeZone {
    let zone = match tz {
        None => TimeZone::local(),
        Some(tz) if tz.trim().is_empty() => return TimeZone::utc(),
        Some(tz) => TimeZone::from_posix_tz(tz),
    };
    zone.unwrap_or_else(|e| {
        tracing::warn!(tz, error = %e, "cannot read the local time zone; using UTC");
        TimeZone::utc()
    })
}

/// The seconds since local midnight at Unix time `unix` in `zone`.
fn seconds_of_day(zone: &TimeZone, unix: i64) -> i64 {
    let offset = zone
        .find_local_time_type(unix)
        .map_or(0, |t| i64::from(t.ut_offset()));
    unix.saturating_add(offset).rem_euclid(86_400)
}

/// The hour at Unix time `unix` in `zone`.
fn hour_in(zone: &TimeZone, unix: i64) -> u8 {
    // 0..=23 by construction.
    u8::try_from(seconds_of_day(zone, unix) / 3600).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hour_is_an_hour() {
        assert!(local_hour() < 24);
    }

    #[test]
    fn a_posix_rule_gives_the_hour_with_summer_time() {
        let berlin = zone(Some("CET-1CEST,M3.5.0,M10.5.0/3"));
        // 2026-01-15 23:30 UTC is 00:30 the next day in winter (UTC+1).
        assert_eq!(hour_in(&berlin, 1_768_519_800), 0);
        // 2026-07-15 12:00 UTC is 14:00 in summer (UTC+2).
        assert_eq!(hour_in(&berlin, 1_784_116_800), 14);
    }

    #[test]
    fn minutes_follow_the_zone_too() {
        let india = zone(Some("IST-5:30"));
        // 2026-07-15 12:00 UTC is 17:30 in India.
        assert_eq!(seconds_of_day(&india, 1_784_116_800), 17 * 3600 + 30 * 60);
        let (h, m) = local_hour_minute(1_784_116_800);
        assert!(h < 24 && m < 60);
    }

    #[test]
    fn an_empty_or_unreadable_tz_is_utc() {
        assert_eq!(hour_in(&zone(Some("")), 1_784_116_800), 12);
        assert_eq!(hour_in(&zone(Some("Nowhere/Atlantis!")), 1_784_116_800), 12);
        assert_eq!(hour_in(&zone(Some("UTC0")), 1_784_116_800), 12);
    }

    #[test]
    fn before_the_epoch_the_hour_still_counts_forward() {
        // 1969-12-31 23:00 UTC.
        assert_eq!(hour_in(&TimeZone::utc(), -3600), 23);
    }
}
