//! `config:mqtt` **[ours]**: the Home Assistant bridge (`sense-mqtt`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::super::layered::FieldError;
use super::super::{Endpoint, REDACTED, Section};
use super::*;
use crate::ids::SectionName;

/// `config:mqtt`: publish every reading to an MQTT broker, with Home Assistant's MQTT discovery.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Whether to publish to the broker at all.
    pub enabled: bool,
    /// The broker's host name or IP address (no scheme, no port); required when enabled.
    pub host: String,
    /// The broker's port (1883 plain, usually 8883 with TLS).
    pub port: u16,
    /// Connect with TLS.
    pub tls: bool,
    /// A PEM file of the CA certificates to trust with TLS; empty trusts the public web's roots.
    pub ca_file: String,
    /// The user name to log in with; empty for none.
    pub username: String,
    /// The password to log in with. Secret.
    pub password: String,
    /// The MQTT client id: 1–64 letters, digits, `_`, `-` or `.`.
    pub client_id: String,
    /// Home Assistant's discovery prefix (its MQTT integration's setting).
    pub discovery_prefix: String,
    /// The topic every state, availability and command topic starts with.
    pub base_topic: String,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            enabled: false,
            host: String::new(),
            port: 1883,
            tls: false,
            ca_file: String::new(),
            username: String::new(),
            password: String::new(),
            client_id: "sense-pulse".to_owned(),
            discovery_prefix: "homeassistant".to_owned(),
            base_topic: "sense_pulse".to_owned(),
        }
    }
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .field("password", &debug_secret(&self.password))
            .field("client_id", &self.client_id)
            .field("discovery_prefix", &self.discovery_prefix)
            .field("base_topic", &self.base_topic)
            .finish()
    }
}

impl MqttConfig {
    /// Where the password goes: the broker's scheme (TLS or not), host, port and user.
    pub fn endpoint(&self) -> Endpoint {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        Endpoint::new(scheme, &self.host, Some(self.port), &self.username)
    }
}

/// A topic prefix: one or more `/`-separated levels, none empty, without the wildcards `+` and
/// `#`, at most 100 characters.
fn topic_prefix(field: &str, topic: &str) -> Result<(), FieldError> {
    no_control_chars(field, topic)?;
    if topic.is_empty() || topic.chars().count() > 100 {
        return Err(FieldError::new(field, "must be 1 to 100 characters"));
    }
    if topic.contains(['+', '#']) {
        return Err(FieldError::new(
            field,
            format!("must not contain the MQTT wildcards + and # (got {topic:?})"),
        ));
    }
    if topic.split('/').any(str::is_empty) {
        return Err(FieldError::new(
            field,
            format!("must not start or end with / nor contain // (got {topic:?})"),
        ));
    }
    Ok(())
}

impl Section for MqttConfig {
    const NAME: SectionName = SectionName::Mqtt;
    const SECRET_PATHS: &'static [&'static str] = &["password"];
    fn validate(&self) -> Result<(), FieldError> {
        let host_ok = self
            .host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
        if !host_ok || self.host.len() > 253 {
            return Err(FieldError::new(
                "host",
                format!(
                    "must be a host name or IP address, without scheme or port (got {:?})",
                    self.host
                ),
            ));
        }
        if self.enabled && self.host.is_empty() {
            return Err(FieldError::new(
                "host",
                "must be set when MQTT is enabled (the broker's host name or IP address)",
            ));
        }
        ranges::PORT.check("port", self.port)?;
        no_control_chars("ca_file", &self.ca_file)?;
        no_control_chars("username", &self.username)?;
        no_control_chars("password", &self.password)?;
        if !self.password.is_empty() && self.username.is_empty() {
            return Err(FieldError::new(
                "username",
                "must be set when a password is (MQTT sends no password without a user name)",
            ));
        }
        let id = &self.client_id;
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(FieldError::new(
                "client_id",
                format!("must be 1 to 64 letters, digits, _, - or . (got {id:?})"),
            ));
        }
        topic_prefix("discovery_prefix", &self.discovery_prefix)?;
        topic_prefix("base_topic", &self.base_topic)
    }
    fn redact(&mut self) {
        redact(&mut self.password);
    }
    fn restore_redacted(patch: &mut Map<String, Json>, current: &Self) -> Result<(), FieldError> {
        let mut moved = current.clone();
        if let Some(Json::String(host)) = patch.get("host") {
            moved.host.clone_from(host);
        }
        if let Some(port) = patch
            .get("port")
            .and_then(Json::as_u64)
            .and_then(|p| u16::try_from(p).ok())
        {
            moved.port = port;
        }
        if let Some(Json::Bool(tls)) = patch.get("tls") {
            moved.tls = *tls;
        }
        if let Some(Json::String(user)) = patch.get("username") {
            moved.username.clone_from(user);
        }
        let sent = patch.get("password");
        let redacted = sent.and_then(Json::as_str) == Some(REDACTED);
        // A new broker (or user) with the password left out or sent back redacted: the saved
        // password would go to it at the next connection.
        if moved.endpoint() != current.endpoint()
            && !current.password.is_empty()
            && (sent.is_none() || redacted)
        {
            return Err(FieldError::new(
                "password",
                "the MQTT broker or user changed, so the saved password will not be sent to it: \
                 enter the password for the new broker (or an empty one)",
            ));
        }
        if redacted {
            patch.remove("password");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid(value: Json) -> Result<(), FieldError> {
        serde_json::from_value::<MqttConfig>(value)
            .expect("parses")
            .validate()
    }

    #[test]
    fn the_default_is_valid_and_off() {
        let d = MqttConfig::default();
        assert!(!d.enabled);
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"enabled": false, "host": "", "port": 1883, "tls": false, "ca_file": "",
                   "username": "", "password": "", "client_id": "sense-pulse",
                   "discovery_prefix": "homeassistant", "base_topic": "sense_pulse"})
        );
    }

    #[test]
    fn fields_are_checked_and_named() {
        let field = |v: Json| valid(v).map_err(|e| e.field);
        assert_eq!(field(json!({"enabled": true})), Err("host".into()));
        assert_eq!(
            field(json!({"enabled": true, "host": "broker.lan"})),
            Ok(())
        );
        assert_eq!(
            field(json!({"host": "mqtt://broker"})),
            Err("host".into()),
            "no scheme"
        );
        assert_eq!(field(json!({"port": 0})), Err("port".into()));
        assert_eq!(field(json!({"client_id": ""})), Err("client_id".into()));
        assert_eq!(field(json!({"client_id": "a b"})), Err("client_id".into()));
        assert_eq!(
            field(json!({"base_topic": "a/#"})),
            Err("base_topic".into())
        );
        assert_eq!(
            field(json!({"discovery_prefix": "/ha"})),
            Err("discovery_prefix".into())
        );
        assert_eq!(field(json!({"base_topic": "home/pulse"})), Ok(()));
        assert_eq!(field(json!({"password": "x"})), Err("username".into()));
        assert_eq!(
            field(json!({"username": "u", "password": "a\nb"})),
            Err("password".into())
        );
    }

    #[test]
    fn a_redacted_password_stays_with_its_broker() {
        let current = MqttConfig {
            host: "broker.lan".into(),
            username: "pulse".into(),
            password: "hunter2".into(),
            ..MqttConfig::default()
        };
        let restore = |patch: Json| {
            let mut patch = patch.as_object().unwrap().clone();
            MqttConfig::restore_redacted(&mut patch, &current).map(|()| patch)
        };
        // Same broker: the redacted password is dropped from the patch (the stored one stays).
        let kept = restore(json!({"password": REDACTED, "enabled": true})).unwrap();
        assert!(!kept.contains_key("password"));
        // A new host, port, TLS or user with the password masked or left out: refused.
        for patch in [
            json!({"host": "attacker", "password": REDACTED}),
            json!({"port": 8883}),
            json!({"tls": true}),
            json!({"username": "other"}),
        ] {
            assert_eq!(restore(patch).unwrap_err().field, "password");
        }
        // ...unless a password is given for it.
        assert!(restore(json!({"host": "other", "password": "new"})).is_ok());
    }
}
