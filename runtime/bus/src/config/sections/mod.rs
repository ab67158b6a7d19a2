//! The config sections, their defaults, environment variables and validation. The sections that
//! hold secrets (or lists) have a file each: their redaction and the restoration of a redacted
//! value sent back live beside the type.

mod alerts;
mod aranet4;
mod auth;
mod camera;
mod mqtt;
mod pihole;

pub use alerts::*;
pub use aranet4::*;
pub use auth::*;
pub use camera::*;
pub use mqtt::*;
pub use pihole::*;

use serde::{Deserialize, Serialize};

use super::layered::{EnvField, EnvKind, FieldError};
use super::{REDACTED, Section, ranges};
use crate::ids::{SectionName, SourceId};

pub(super) fn http_url(field: &str, url: &str, allow_empty: bool) -> Result<(), FieldError> {
    if url.is_empty() && allow_empty {
        return Ok(());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host)
            if !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(FieldError::new(
            field,
            format!("must be an http:// or https:// URL (got {url:?})"),
        )),
    }
}

pub(super) fn no_control_chars(field: &str, text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters such as newlines",
        ));
    }
    Ok(())
}

/// Serde's default for `enabled` flags.
pub(super) fn yes() -> bool {
    true
}

/// How a secret appears in `Debug` output: empty, or [`REDACTED`].
pub(super) fn debug_secret(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { REDACTED }
}

pub(super) fn redact(secret: &mut String) {
    if !secret.is_empty() {
        REDACTED.clone_into(secret);
    }
}

/// `config:global`: settings every service shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// The shortest life of a reading in Redis, in seconds (60–86400). Readings live at least
    /// twice their source's poll interval in any case.
    pub cache_ttl: u32,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig { cache_ttl: 60 }
    }
}

impl Section for GlobalConfig {
    const NAME: SectionName = SectionName::Global;
    const ENV: &'static [EnvField] = &[EnvField::new("CACHE_TTL", "cache_ttl", EnvKind::Integer)];
    fn validate(&self) -> Result<(), FieldError> {
        ranges::CACHE_TTL.check("cache_ttl", self.cache_ttl)
    }
}

/// `config:display`: the Sense HAT's LED matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Rotation in degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Show an 8×8 icon before each item's text.
    pub show_icons: bool,
    /// Seconds per one-pixel scroll step (0.01–1; lower is faster).
    pub scroll_speed: f64,
    /// Seconds an icon stays up (0–30).
    pub icon_duration: f64,
    /// Seconds between display cycles (0–3600).
    pub cycle_interval: u32,
    /// Dim the LEDs (the low-light gamma table).
    pub low_light: bool,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            rotation: 0,
            show_icons: true,
            scroll_speed: 0.08,
            icon_duration: 1.5,
            cycle_interval: 60,
            low_light: false,
        }
    }
}

impl Section for DisplayConfig {
    const NAME: SectionName = SectionName::Display;
    const ENV: &'static [EnvField] = &[
        EnvField::new("DISPLAY_ROTATION", "rotation", EnvKind::Integer),
        EnvField::new("SCROLL_SPEED", "scroll_speed", EnvKind::Number),
        EnvField::new("ICON_DURATION", "icon_duration", EnvKind::Number),
        EnvField::new("SHOW_ICONS", "show_icons", EnvKind::Bool),
        EnvField::new("DISPLAY_CYCLE_INTERVAL", "cycle_interval", EnvKind::Integer),
        EnvField::new("DISPLAY_LOW_LIGHT", "low_light", EnvKind::Bool),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        if ![0, 90, 180, 270].contains(&self.rotation) {
            return Err(FieldError::new(
                "rotation",
                format!("must be one of 0, 90, 180, 270 (got {})", self.rotation),
            ));
        }
        ranges::SCROLL_SPEED.check_finite("scroll_speed", self.scroll_speed)?;
        ranges::ICON_DURATION.check_finite("icon_duration", self.icon_duration)?;
        ranges::CYCLE_INTERVAL.check("cycle_interval", self.cycle_interval)
    }
}

/// `config:sleep`: hours when the display is dark.
///
/// The display sleeps from `start_hour` (inclusive) to `end_hour` (exclusive), local time,
/// wrapping past midnight when `start_hour > end_hour` (23 → 7). `start_hour == end_hour` means
/// no sleep at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SleepConfig {
    /// Hour (0–23) the display goes dark.
    pub start_hour: u8,
    /// Hour (0–23) it comes back.
    pub end_hour: u8,
    /// Also switch off the Pi's own power and activity LEDs while asleep.
    pub disable_pi_leds: bool,
}

impl Default for SleepConfig {
    fn default() -> Self {
        SleepConfig {
            start_hour: 23,
            end_hour: 7,
            disable_pi_leds: false,
        }
    }
}

impl SleepConfig {
    /// Whether the display sleeps at `hour` (0–23).
    pub fn is_asleep(&self, hour: u8) -> bool {
        let (start, end) = (self.start_hour, self.end_hour);
        match start.cmp(&end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => (start..end).contains(&hour),
            std::cmp::Ordering::Greater => hour >= start || hour < end,
        }
    }
}

impl Section for SleepConfig {
    const NAME: SectionName = SectionName::Sleep;
    const ENV: &'static [EnvField] = &[
        EnvField::new("SLEEP_START", "start_hour", EnvKind::Integer),
        EnvField::new("SLEEP_END", "end_hour", EnvKind::Integer),
        EnvField::new("DISABLE_PI_LEDS", "disable_pi_leds", EnvKind::Bool),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        ranges::HOUR.check("start_hour", self.start_hour)?;
        ranges::HOUR.check("end_hour", self.end_hour)
    }
}

/// `config:weather`: wttr.in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct WeatherConfig {
    /// A place wttr.in understands ("London", "~Eiffel Tower", "SFO"); empty lets wttr.in guess
    /// from this machine's IP address.
    pub location: String,
    /// Seconds a good answer is reused before asking again (0–86400).
    pub cache_duration: u32,
    /// The wttr.in server.
    pub base_url: String,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            location: String::new(),
            cache_duration: 300,
            base_url: "https://wttr.in".to_owned(),
        }
    }
}

impl Section for WeatherConfig {
    const NAME: SectionName = SectionName::Weather;
    const ENV: &'static [EnvField] = &[
        EnvField::new("WEATHER_LOCATION", "location", EnvKind::Text),
        EnvField::new("WEATHER_CACHE_DURATION", "cache_duration", EnvKind::Integer),
        EnvField::new("WEATHER_BASE_URL", "base_url", EnvKind::Text),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        no_control_chars("location", &self.location)?;
        if self.location.len() > 100 {
            return Err(FieldError::new(
                "location",
                "must be at most 100 characters",
            ));
        }
        ranges::WEATHER_CACHE.check("cache_duration", self.cache_duration)?;
        http_url("base_url", &self.base_url, false)
    }
}

/// `config:schedule`: poll intervals in seconds (5–86400).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `tailscale`.
    pub tailscale: u32,
    /// `pihole`.
    pub pihole: u32,
    /// `system`.
    pub system: u32,
    /// `co2` (the contract names this key after the device).
    pub aranet4: u32,
    /// `weather`.
    pub weather: u32,
    /// `sensors` (the Sense HAT; it runs continuously and reads this often).
    pub sensors: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            tailscale: 30,
            pihole: 30,
            system: 30,
            aranet4: 60,
            weather: 300,
            sensors: 30,
        }
    }
}

impl ScheduleConfig {
    /// The poll interval of `source` in seconds; `None` for the camera, which runs on demand.
    pub fn interval(&self, source: SourceId) -> Option<u32> {
        match source {
            SourceId::Tailscale => Some(self.tailscale),
            SourceId::Pihole => Some(self.pihole),
            SourceId::System => Some(self.system),
            SourceId::Co2 => Some(self.aranet4),
            SourceId::Weather => Some(self.weather),
            SourceId::Sensors => Some(self.sensors),
            SourceId::NetworkCamera => None,
        }
    }
}

impl Section for ScheduleConfig {
    const NAME: SectionName = SectionName::Schedule;
    const ENV: &'static [EnvField] = &[
        EnvField::new("SCHEDULE_TAILSCALE", "tailscale", EnvKind::Integer),
        EnvField::new("SCHEDULE_PIHOLE", "pihole", EnvKind::Integer),
        EnvField::new("SCHEDULE_SYSTEM", "system", EnvKind::Integer),
        EnvField::new("SCHEDULE_ARANET4", "aranet4", EnvKind::Integer),
        EnvField::new("SCHEDULE_WEATHER", "weather", EnvKind::Integer),
        EnvField::new("SCHEDULE_SENSORS", "sensors", EnvKind::Integer),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("tailscale", self.tailscale),
            ("pihole", self.pihole),
            ("system", self.system),
            ("aranet4", self.aranet4),
            ("weather", self.weather),
            ("sensors", self.sensors),
        ] {
            ranges::POLL_INTERVAL.check(field, value)?;
        }
        Ok(())
    }
}

/// `config:sensors`: the Sense HAT's sensors (ours).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SensorsConfig {
    /// How strongly the CPU's heat is taken out of the Sense HAT's temperature: the compensated
    /// temperature is `t − (t_cpu − t) / factor`. The HAT sits on the Pi, so its sensor reads a few
    /// degrees high; 2 suits a bare Pi 3B with the HAT on its header. 0 turns compensation off;
    /// otherwise 0.5–20 (larger means a smaller correction).
    pub compensation_factor: f64,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        SensorsConfig {
            compensation_factor: 2.0,
        }
    }
}

impl Section for SensorsConfig {
    const NAME: SectionName = SectionName::Sensors;
    const ENV: &'static [EnvField] = &[EnvField::new(
        "SENSEHAT_COMPENSATION_FACTOR",
        "compensation_factor",
        EnvKind::Number,
    )];
    fn validate(&self) -> Result<(), FieldError> {
        if self.compensation_factor == 0.0 {
            return Ok(());
        }
        ranges::COMPENSATION_FACTOR.check_finite("compensation_factor", self.compensation_factor)
    }
}
