//! The allowed values of every number setting, written once: the sections' checks refuse what is
//! outside them, and the dashboard's inputs offer them through the generated `CONFIG_RANGES`
//! (`gateway/tests/typescript.rs` writes it into `constants.ts`).

use std::fmt::Display;

use super::layered::FieldError;

/// A number setting's allowed values, both ends included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range<T> {
    /// The least allowed value.
    pub min: T,
    /// The greatest allowed value.
    pub max: T,
    /// Said after the range in a refusal (`" s"`, `" min"`), or `""`.
    pub unit: &'static str,
}

impl<T: PartialOrd + Display + Copy> Range<T> {
    /// Refuses `value` at `field` (its name within the section) when it is outside the range.
    pub fn check(&self, field: &str, value: T) -> Result<(), FieldError> {
        let Range { min, max, unit } = *self;
        if value < min || value > max {
            return Err(FieldError::new(
                field,
                format!("must be between {min} and {max}{unit} (got {value})"),
            ));
        }
        Ok(())
    }
}

impl Range<f64> {
    /// [`Range::check`] for a float, which must first be a number at all.
    pub fn check_finite(&self, field: &str, value: f64) -> Result<(), FieldError> {
        if !value.is_finite() {
            return Err(FieldError::new(field, "must be a finite number"));
        }
        self.check(field, value)
    }
}

/// Declares each range as a constant, and [`BY_PATH`]: every range under the paths of the
/// settings it bounds, as the gateway names fields (`camera.cameras[].port` for each camera's).
macro_rules! ranges {
    ($($(#[doc = $doc:literal])* $name:ident: $t:ty = $min:expr, $max:expr, $unit:literal
        for $($path:literal),+;)*) => {
        $($(#[doc = $doc])* pub const $name: Range<$t> = Range { min: $min, max: $max, unit: $unit };)*

        /// Every range by the paths of the settings it bounds, as numbers for the dashboard.
        pub const BY_PATH: &[(&str, f64, f64)] = &[
            $($(($path, $name.min as f64, $name.max as f64),)+)*
        ];
    };
}

ranges! {
    /// How long a reading is kept in Redis at least.
    CACHE_TTL: u32 = 60, 86_400, " s" for "global.cache_ttl";
    /// Seconds per step of scrolling text.
    SCROLL_SPEED: f64 = 0.01, 1.0, " s" for "display.scroll_speed";
    /// How long an icon stays on the matrix.
    ICON_DURATION: f64 = 0.0, 30.0, " s" for "display.icon_duration";
    /// The pause between display cycles.
    CYCLE_INTERVAL: u32 = 0, 3600, " s" for "display.cycle_interval";
    /// An hour of the day.
    HOUR: u8 = 0, 23, "" for "sleep.start_hour", "sleep.end_hour";
    /// How long a weather answer is reused.
    WEATHER_CACHE: u32 = 0, 86_400, " s" for "weather.cache_duration";
    /// A source's poll interval.
    POLL_INTERVAL: u32 = 5, 86_400, " s" for "schedule.sensors", "schedule.aranet4",
        "schedule.system", "schedule.weather", "schedule.pihole", "schedule.tailscale";
    /// The CPU heat compensation factor when it is on (0 turns it off).
    COMPENSATION_FACTOR: f64 = 0.5, 20.0, " (or 0 for off)" for "sensors.compensation_factor";
    /// How long a co2 poll listens for the monitors.
    ARANET4_TIMEOUT: u32 = 1, 120, " s" for "aranet4.timeout";
    /// A TCP port.
    PORT: u16 = 1, 65_535, "" for "camera.cameras[].port", "camera.cameras[].onvif_port",
        "mqtt.port";
    /// A PTZ move's share of the camera's range.
    PTZ_STEP: f64 = 0.0, 1.0, "" for "camera.cameras[].ptz_step", "camera.cameras[].ptz_zoom_step";
    /// The wait before the stream reconnects.
    RECONNECT_DELAY: u32 = 1, 300, " s" for "camera.reconnect_delay";
    /// How often the stream reconnects before it gives up (−1: forever).
    RECONNECT_ATTEMPTS: i32 = -1, 10_000, "" for "camera.max_reconnect_attempts";
    /// The length of one HLS segment.
    HLS_SEGMENT: u32 = 1, 10, " s" for "camera.hls_segment_duration";
    /// The segments in the HLS playlist.
    HLS_PLAYLIST: u32 = 2, 20, "" for "camera.hls_playlist_size";
    /// How long a reading must stay past an alert rule's threshold.
    ALERT_HOLD: u32 = 0, 86_400, " s" for "alerts.rules[].for_s";
    /// How long a source is down before it is an alert.
    SOURCE_DOWN: u32 = 1, 1440, " min" for "alerts.source_down.minutes";
    /// How long the data bus is out of reach before it is an alert.
    BUS_DOWN: u32 = 10, 3600, " s" for "alerts.bus_down.seconds";
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{AlertRule, CameraEntry, Config, DisplayConfig, Section};

    /// The value at a `BY_PATH` path in `json` (`[]` is a list's first entry).
    fn at<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
        path.split('.')
            .try_fold(json, |json, part| match part.strip_suffix("[]") {
                Some(list) => json.get(list)?.get(0),
                None => json.get(part),
            })
    }

    #[test]
    fn every_path_names_a_number_setting() {
        let mut config = serde_json::to_value(Config::default()).unwrap();
        // Lists are empty by default: one entry each (their defaults filled in), to look in.
        let camera: CameraEntry =
            serde_json::from_value(json!({"name": "door", "host": "10.0.0.2"})).unwrap();
        config["camera"]["cameras"] = json!([camera]);
        let rule: AlertRule = serde_json::from_value(json!({
            "id": "co2-high", "name": "CO₂ high", "source": "co2", "sensor": "*:co2",
            "condition": "above", "threshold": 1400.0
        }))
        .unwrap();
        config["alerts"]["rules"] = json!([rule]);
        for (path, min, max) in BY_PATH {
            let value = at(&config, path).unwrap_or_else(|| panic!("{path}: no such setting"));
            assert!(value.is_number(), "{path}: {value} is not a number");
            assert!(min < max, "{path}: {min}..{max}");
        }
    }

    #[test]
    fn a_section_refuses_a_value_outside_its_range_and_takes_both_ends() {
        let mut display = DisplayConfig {
            cycle_interval: CYCLE_INTERVAL.max,
            ..DisplayConfig::default()
        };
        display.validate().unwrap();
        display.cycle_interval = CYCLE_INTERVAL.max + 1;
        let error = display.validate().unwrap_err();
        assert_eq!(error.field, "cycle_interval");
        assert_eq!(error.message, "must be between 0 and 3600 s (got 3601)");
        assert_eq!(
            RECONNECT_ATTEMPTS
                .check("max_reconnect_attempts", -2)
                .unwrap_err()
                .message,
            "must be between -1 and 10000 (got -2)"
        );
        assert!(SCROLL_SPEED.check_finite("scroll_speed", f64::NAN).is_err());
    }
}
