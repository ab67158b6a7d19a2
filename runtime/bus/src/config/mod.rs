//! Configuration: the contract's sections as typed structs, and how a value is chosen.
//!
//! Each section lives in Redis at `config:{section}` as a JSON object. A field's value comes from,
//! in order: that object (what the dashboard wrote), the environment (the contract's variable
//! names, e.g. `WEATHER_LOCATION`), the default. Resolution is per field and never fails: a field
//! that is malformed or out of range is left out and reported as a problem naming it, and the next
//! layer's value is used. Writes are strict about what they write instead: [`check_update`]
//! refuses the whole update when a field it sets is invalid, naming the field, and nothing is
//! stored; an invalid stored field it does not set is kept and reported as a warning.

mod endpoint;
mod layered;
mod net;
pub mod ranges;
mod sections;

pub use endpoint::Endpoint;

pub use layered::{
    CheckedUpdate, EnvField, EnvKind, Explained, FieldError, Origin, Resolved, check_section,
    check_update, check_update_by_name, env_layer, env_layer_by_name, explain, explain_by_name,
    resolve, resolve_by_name,
};
pub use net::{IpRange, canonical as canonical_ip};
pub use sections::*;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::ids::SectionName;

/// Runs `$body` with the type alias `$S` bound to the config section struct that `$name` (a
/// [`SectionName`](crate::SectionName)) names: the one place that maps names to types.
///
/// ```
/// use sense_bus::{SectionName, with_section, config::Section};
/// let name = SectionName::Display;
/// let default_json = with_section!(name, S => serde_json::to_value(S::default()).unwrap());
/// assert_eq!(default_json["rotation"], 0);
/// ```
#[macro_export]
macro_rules! with_section {
    ($name:expr, $S:ident => $body:expr) => {{
        use $crate::SectionName as __N;
        use $crate::config as __c;
        match $name {
            __N::Global => {
                type $S = __c::GlobalConfig;
                $body
            }
            __N::Display => {
                type $S = __c::DisplayConfig;
                $body
            }
            __N::Sleep => {
                type $S = __c::SleepConfig;
                $body
            }
            __N::Weather => {
                type $S = __c::WeatherConfig;
                $body
            }
            __N::Pihole => {
                type $S = __c::PiholeConfig;
                $body
            }
            __N::Aranet4 => {
                type $S = __c::Aranet4Config;
                $body
            }
            __N::Camera => {
                type $S = __c::CameraConfig;
                $body
            }
            __N::Schedule => {
                type $S = __c::ScheduleConfig;
                $body
            }
            __N::Auth => {
                type $S = __c::AuthConfig;
                $body
            }
            __N::Sensors => {
                type $S = __c::SensorsConfig;
                $body
            }
            __N::Alerts => {
                type $S = __c::AlertsConfig;
                $body
            }
            __N::Mqtt => {
                type $S = __c::MqttConfig;
                $body
            }
        }
    }};
}

/// The text that stands in for a secret when config is shown.
pub const REDACTED: &str = "********";

/// A config section.
pub trait Section:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug + Send + 'static
{
    /// Its name (`config:{NAME}`).
    const NAME: SectionName;
    /// The environment variables that set its fields.
    const ENV: &'static [EnvField] = &[];
    /// The fields that hold secrets, as paths: `password`, or `cameras[].password` for a field
    /// of every element of a list. A problem with a secret, or with a field that holds one
    /// (`cameras`, `cameras[2]`), never quotes the value.
    const SECRET_PATHS: &'static [&'static str] = &[];
    /// Whether the section is used only when valid as a whole (`auth`, whose sign-in settings
    /// fail closed): then a write must leave every stored field valid, also those it does not
    /// set, since a section left invalid would not be in force at all. Other sections are read
    /// field by field, and a write is judged on the fields it sets ([`check_update`]).
    const CHECKED_WHOLE: bool = false;

    /// Range and consistency checks beyond what the types enforce, naming the field at fault.
    fn validate(&self) -> Result<(), FieldError> {
        Ok(())
    }

    /// Replaces every non-empty secret with [`REDACTED`], for showing the config to people.
    fn redact(&mut self) {}

    /// Takes back what [`Section::redact`] hid, in a `patch` a client sends back: each secret
    /// sent as [`REDACTED`] becomes the value in force (`current`), but only while the endpoint
    /// it authenticates to (scheme, host, port, user) is unchanged. Moving an endpoint without
    /// giving its secret again is refused, naming the field, so a stored password is never
    /// sent to a new address.
    fn restore_redacted(_patch: &mut Map<String, Json>, _current: &Self) -> Result<(), FieldError> {
        Ok(())
    }
}

/// Whether a problem with the field at `path` (`cameras[0].password`) could quote a secret of
/// `S`: the path is a secret, or holds one.
pub fn is_secret_path<S: Section>(path: &str) -> bool {
    let mut general = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                general.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => general.push(c),
        }
    }
    S::SECRET_PATHS.iter().any(|secret| {
        *secret == general
            || secret
                .strip_prefix(general.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// A section's revision: changes whenever its stored text does. The dashboard sends back the
/// revision it loaded, so a form that is out of date is refused instead of overwriting.
pub fn revision(stored: Option<&str>) -> String {
    let Some(text) = stored else {
        return "none".to_owned();
    };
    // FNV-1a: stable across processes and versions (unlike std's hasher), and plenty to tell
    // two versions of a few hundred bytes apart.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// [`Section::restore_redacted`] for a section known by name, with the value in force resolved
/// from its stored text and the environment.
pub fn restore_redacted_by_name(
    name: SectionName,
    patch: &mut Map<String, Json>,
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), FieldError> {
    with_section!(name, S => {
        let current = resolve::<S>(stored, env).value;
        S::restore_redacted(patch, &current).map_err(|e| e.within(name.as_str()))
    })
}

/// A section known by name, resolved from its stored text and the environment, secrets hidden:
/// for showing people a section other than the shared ones (a node's, with its override laid on).
pub fn redacted_by_name(
    name: SectionName,
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Json {
    with_section!(name, S => {
        let mut value = resolve::<S>(stored, env).value;
        value.redact();
        serde_json::to_value(value).unwrap_or_default()
    })
}

/// Every section, resolved: what a service runs with.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Config {
    /// `config:global`
    pub global: GlobalConfig,
    /// `config:display`
    pub display: DisplayConfig,
    /// `config:sleep`
    pub sleep: SleepConfig,
    /// `config:weather`
    pub weather: WeatherConfig,
    /// `config:pihole`
    pub pihole: PiholeConfig,
    /// `config:aranet4`
    pub aranet4: Aranet4Config,
    /// `config:camera`
    pub camera: CameraConfig,
    /// `config:schedule`
    pub schedule: ScheduleConfig,
    /// `config:auth`
    pub auth: AuthConfig,
    /// `config:sensors`
    pub sensors: SensorsConfig,
    /// `config:alerts`
    pub alerts: AlertsConfig,
    /// `config:mqtt`
    pub mqtt: MqttConfig,
}

impl Config {
    /// Resolves `sections` (the others keep their defaults) from what Redis holds for them and
    /// the environment. Problems name the section and field.
    pub fn resolve(
        sections: &[SectionName],
        stored: impl Fn(SectionName) -> Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Config, Vec<String>) {
        let mut config = Config::default();
        let mut problems = Vec::new();
        for &name in sections {
            let text = stored(name);
            let text = text.as_deref();
            macro_rules! one {
                ($field:ident) => {{
                    let r = resolve(text, env);
                    config.$field = r.value;
                    problems.extend(r.problems);
                }};
            }
            match name {
                SectionName::Global => one!(global),
                SectionName::Display => one!(display),
                SectionName::Sleep => one!(sleep),
                SectionName::Weather => one!(weather),
                SectionName::Pihole => one!(pihole),
                SectionName::Aranet4 => one!(aranet4),
                SectionName::Camera => one!(camera),
                SectionName::Schedule => one!(schedule),
                SectionName::Auth => one!(auth),
                SectionName::Sensors => one!(sensors),
                SectionName::Alerts => one!(alerts),
                SectionName::Mqtt => one!(mqtt),
            }
        }
        (config, problems)
    }

    /// The whole config as JSON with secrets redacted, by section name.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut c = self.clone();
        c.pihole.redact();
        c.camera.redact();
        c.auth.redact();
        c.alerts.redact();
        c.mqtt.redact();
        serde_json::to_value(c).unwrap_or_default()
    }
}

/// A node's override of a section (`config:display@kitchen`) laid over the shared section: the
/// top-level fields the override sets win, the others are the shared section's. An override that
/// is not a JSON object is ignored (the gateway never writes one).
pub fn overlay(shared: Option<&str>, over: Option<&str>) -> Option<String> {
    let Some(Ok(serde_json::Value::Object(over))) = over.map(serde_json::from_str) else {
        return shared.map(str::to_owned);
    };
    let mut merged = match shared.map(serde_json::from_str) {
        Some(Ok(serde_json::Value::Object(shared))) => shared,
        _ => Map::new(),
    };
    merged.extend(over);
    Some(serde_json::Value::Object(merged).to_string())
}

/// The process environment, as the `env` argument of the functions here.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests;
