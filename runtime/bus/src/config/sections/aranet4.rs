//! `config:aranet4`.

use serde::{Deserialize, Serialize};

use super::super::Section;
use super::super::layered::{EnvField, EnvKind, FieldError};
use super::*;
use crate::ids::SectionName;

/// One Aranet4 monitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Aranet4Sensor {
    /// The name its readings go by (`{label}:co2`): 1–32 characters, no `:`, `*`, `?`, `[`, `]`.
    pub label: String,
    /// Its Bluetooth address, `AA:BB:CC:DD:EE:FF` (the legacy key `mac_address` is accepted).
    #[serde(alias = "mac_address")]
    pub mac: String,
    /// Whether to read it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// `config:aranet4`: CO2 monitors over Bluetooth LE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct Aranet4Config {
    /// The monitors to read.
    pub sensors: Vec<Aranet4Sensor>,
    /// Seconds to listen for them (1–120).
    pub timeout: u32,
}

impl Default for Aranet4Config {
    fn default() -> Self {
        Aranet4Config {
            sensors: Vec::new(),
            timeout: 10,
        }
    }
}

impl Section for Aranet4Config {
    const NAME: SectionName = SectionName::Aranet4;
    const ENV: &'static [EnvField] = &[
        EnvField::new("ARANET4_SENSORS", "sensors", EnvKind::Json),
        EnvField::new("ARANET4_TIMEOUT", "timeout", EnvKind::Integer),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        ranges::ARANET4_TIMEOUT.check("timeout", self.timeout)?;
        for (i, s) in self.sensors.iter().enumerate() {
            let at = |field: &str| format!("sensors[{i}].{field}");
            let label = s.label.as_str();
            if label.trim().is_empty() || label.chars().count() > 32 {
                return Err(FieldError::new(at("label"), "must be 1 to 32 characters"));
            }
            if let Some(c) = label
                .chars()
                .find(|c| ":*?[]\\".contains(*c) || c.is_control())
            {
                let message = if c.is_control() {
                    "must not contain control characters such as newlines".to_owned()
                } else {
                    format!("must not contain {c} (none of : * ? [ ] \\ may be in a label)")
                };
                return Err(FieldError::new(at("label"), message));
            }
            if sense_hal::ble::Address::parse(&s.mac).is_none() {
                return Err(FieldError::new(
                    at("mac"),
                    format!(
                        "must be a Bluetooth address like AA:BB:CC:DD:EE:FF (got {:?})",
                        s.mac
                    ),
                ));
            }
            if let Some(j) = self.sensors[..i].iter().position(|o| o.label == s.label) {
                return Err(FieldError::new(
                    at("label"),
                    format!("{label:?} is already used by sensors[{j}]"),
                ));
            }
            let address = sense_hal::ble::Address::parse(&s.mac);
            if let Some(j) = self.sensors[..i]
                .iter()
                .position(|o| sense_hal::ble::Address::parse(&o.mac) == address)
            {
                return Err(FieldError::new(
                    at("mac"),
                    format!("{} is already configured as sensors[{j}]", s.mac),
                ));
            }
        }
        Ok(())
    }
}
