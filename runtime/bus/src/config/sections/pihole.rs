//! `config:pihole`.

use serde::{Deserialize, Serialize};

use super::super::layered::{EnvField, EnvKind, FieldError};
use super::super::{REDACTED, Section};
use super::*;
use crate::ids::SectionName;

/// `config:pihole`: the Pi-hole v6 API.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PiholeConfig {
    /// Pi-hole's web address, e.g. `http://pi.hole`; empty when there is no Pi-hole.
    pub host: String,
    /// The app password (Settings → API → App password); empty when Pi-hole has none. Secret.
    pub password: String,
}

impl std::fmt::Debug for PiholeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiholeConfig")
            .field("host", &self.host)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    REDACTED
                },
            )
            .finish()
    }
}

impl Section for PiholeConfig {
    const NAME: SectionName = SectionName::Pihole;
    const ENV: &'static [EnvField] = &[
        EnvField::new("PIHOLE_HOST", "host", EnvKind::Text),
        EnvField::secret("PIHOLE_PASSWORD", "password"),
    ];
    const SECRET_FIELDS: &'static [&'static str] = &["password"];
    fn validate(&self) -> Result<(), FieldError> {
        http_url("host", &self.host, true)?;
        no_control_chars("password", &self.password)
    }
    fn redact(&mut self) {
        redact(&mut self.password);
    }
}
