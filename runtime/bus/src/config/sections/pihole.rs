//! `config:pihole`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::super::layered::{EnvField, EnvKind, FieldError};
use super::super::{Endpoint, REDACTED, Section};
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
            .field("password", &debug_secret(&self.password))
            .finish()
    }
}

impl Section for PiholeConfig {
    const NAME: SectionName = SectionName::Pihole;
    const ENV: &'static [EnvField] = &[
        EnvField::new("PIHOLE_HOST", "host", EnvKind::Text),
        EnvField::secret("PIHOLE_PASSWORD", "password"),
    ];
    const SECRET_PATHS: &'static [&'static str] = &["password"];
    fn validate(&self) -> Result<(), FieldError> {
        http_url("host", &self.host, true)?;
        no_control_chars("password", &self.password)
    }
    fn redact(&mut self) {
        redact(&mut self.password);
    }
    fn restore_redacted(patch: &mut Map<String, Json>, current: &Self) -> Result<(), FieldError> {
        let host = patch
            .get("host")
            .and_then(Json::as_str)
            .unwrap_or(&current.host);
        let moved = Endpoint::of_url(host) != Endpoint::of_url(&current.host);
        let sent = patch.get("password");
        let redacted = sent.and_then(Json::as_str) == Some(REDACTED);
        // A new address with the password left out or sent back redacted: the saved one would
        // go to the new address with the next poll.
        if moved && !current.password.is_empty() && (sent.is_none() || redacted) {
            return Err(FieldError::new(
                "password",
                "the Pi-hole address changed, so the saved password will not be sent to it: \
                 enter the password for the new address (or an empty one)",
            ));
        }
        if redacted {
            // Unchanged: what is stored (or set by the environment) stays in force.
            patch.remove("password");
        }
        Ok(())
    }
}
