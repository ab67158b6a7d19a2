//! `config:alerts` **[ours]**: rules on readings and sources, and where alerts are sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::super::layered::FieldError;
use super::super::{Endpoint, REDACTED, Section};
use super::*;
use crate::ids::{NodeName, NodeSourceId, SectionName, SourceId, split_scoped};

/// Which side of the threshold is the alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum AlertCondition {
    /// The value is at or above the threshold.
    Above,
    /// The value is at or below the threshold.
    Below,
}

impl AlertCondition {
    /// `above` or `below`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertCondition::Above => "above",
            AlertCondition::Below => "below",
        }
    }
}

/// One rule: a numeric reading past a threshold for a while.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Its id, unique among the rules: 1–64 of `a-z`, `0-9`, `-`, `_` (`co2-high`).
    pub id: String,
    /// What the alert says it is (`CO₂ high`): 1–64 characters.
    pub name: String,
    /// The source whose readings it watches (`co2`, `system`, `node-kitchen`): on every Pi
    /// (`co2` watches `co2@kitchen` too, each on its own), or with `@{node}` one Pi's only
    /// (`co2@kitchen`).
    pub source: String,
    /// The sensor ids it watches: an id (`cpu_temp`) or a pattern where `*` stands for any
    /// characters (`*:co2`: every Aranet4's CO₂). Each matching sensor alerts on its own.
    pub sensor: String,
    /// `above` or `below` the threshold.
    pub condition: AlertCondition,
    /// The threshold, in the reading's unit.
    pub threshold: f64,
    /// Seconds the value must stay past the threshold before the alert fires (0–86400; 0: at
    /// once).
    #[serde(default)]
    pub for_s: u32,
    /// How far back past the threshold the value must come for the alert to clear (≥ 0): an
    /// `above` alert clears below `threshold − hysteresis`, so a value hovering at the line does
    /// not fire again and again.
    #[serde(default)]
    pub hysteresis: f64,
    /// Whether the rule is in use.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl AlertRule {
    fn validate(&self) -> Result<(), FieldError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(FieldError::new(
                "id",
                format!(
                    "must be 1 to 64 of the characters a-z, 0-9, - and _ (got {:?})",
                    self.id
                ),
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 64 {
            return Err(FieldError::new("name", "must be 1 to 64 characters"));
        }
        no_control_chars("name", &self.name)?;
        source_ok(&self.source).map_err(|m| FieldError::new("source", m))?;
        if self.sensor.is_empty() || self.sensor.chars().count() > 128 {
            return Err(FieldError::new(
                "sensor",
                "must be a sensor id or a pattern such as *:co2, 1 to 128 characters",
            ));
        }
        if self
            .sensor
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "?[]\\".contains(c))
        {
            return Err(FieldError::new(
                "sensor",
                "must be a sensor id, with * for any characters (no spaces, ?, [, ] or \\)",
            ));
        }
        if !self.threshold.is_finite() {
            return Err(FieldError::new("threshold", "must be a finite number"));
        }
        ranges::ALERT_HOLD.check("for_s", self.for_s)?;
        if !self.hysteresis.is_finite() || self.hysteresis < 0.0 {
            return Err(FieldError::new(
                "hysteresis",
                format!("must be 0 or more (got {})", self.hysteresis),
            ));
        }
        Ok(())
    }
}

/// Whether `source` names what a rule may watch: a source id (`co2`, `node-NAME`), for that
/// source on every Pi, or one Pi's (`co2@kitchen`). Why not, in words.
fn source_ok(source: &str) -> Result<(), String> {
    let (base, node) = split_scoped(source);
    let id = base.parse::<SourceId>().ok();
    if id.is_none() && NodeSourceId::parse(base).is_none() {
        let known = SourceId::ALL.map(SourceId::as_str).join(", ");
        return Err(format!(
            "must be a source: one of {known}, or node-NAME for a microcontroller node, \
             optionally with @ and a Pi's name for that Pi's only (got {source:?})"
        ));
    }
    let Some(node) = node else {
        return Ok(());
    };
    if let Err(e) = NodeName::parse(node) {
        return Err(format!("must name a Pi after @: {e}"));
    }
    // Weather and Pi-hole run on the hub only: a rule on a Pi's would never see a value.
    match id {
        Some(id) if !id.per_node() => Err(format!(
            "cannot be {source:?}: {id} runs on the hub only, so use {id} without @{node}"
        )),
        _ => Ok(()),
    }
}

/// The alert on a source that is down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SourceDownAlert {
    /// Whether a source down alerts.
    pub enabled: bool,
    /// Minutes a source must be down (its polls failing, or its status gone) before it alerts
    /// (1–1440).
    pub minutes: u32,
}

impl Default for SourceDownAlert {
    fn default() -> Self {
        SourceDownAlert {
            enabled: true,
            minutes: 10,
        }
    }
}

/// The alert on the data bus (Redis) out of reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct BusDownAlert {
    /// Whether the bus down alerts (sent to ntfy and the webhook, which need no Redis).
    pub enabled: bool,
    /// Seconds the bus must be out of reach before it alerts (10–3600).
    pub seconds: u32,
}

impl Default for BusDownAlert {
    fn default() -> Self {
        BusDownAlert {
            enabled: true,
            seconds: 60,
        }
    }
}

/// Alerts to phones through ntfy (<https://ntfy.sh> or a server of one's own).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct NtfyChannel {
    /// Whether alerts go to ntfy.
    pub enabled: bool,
    /// The ntfy server.
    pub url: String,
    /// The topic the phone subscribes to: 1–64 of letters, digits, `-` and `_`.
    pub topic: String,
    /// An access token, for a protected topic; empty when the topic is open. Secret.
    pub token: String,
}

impl Default for NtfyChannel {
    fn default() -> Self {
        NtfyChannel {
            enabled: false,
            url: "https://ntfy.sh".to_owned(),
            topic: String::new(),
            token: String::new(),
        }
    }
}

impl std::fmt::Debug for NtfyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtfyChannel")
            .field("enabled", &self.enabled)
            .field("url", &self.url)
            .field("topic", &self.topic)
            .field("token", &debug_secret(&self.token))
            .finish()
    }
}

/// Alerts as JSON, posted to a URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct WebhookChannel {
    /// Whether alerts are posted.
    pub enabled: bool,
    /// Where: each fired or cleared alert is POSTed there as JSON. Secret: a webhook's URL is
    /// its key (Slack's, Discord's and Home Assistant's carry their token in the path).
    pub url: String,
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("enabled", &self.enabled)
            .field("url", &debug_secret(&self.url))
            .finish()
    }
}

/// `config:alerts` **[ours]**: when to alert, and where to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Whether alerts are on at all.
    pub enabled: bool,
    /// The rules on readings.
    pub rules: Vec<AlertRule>,
    /// A source down.
    pub source_down: SourceDownAlert,
    /// The data bus out of reach.
    pub bus_down: BusDownAlert,
    /// ntfy.
    pub ntfy: NtfyChannel,
    /// A webhook.
    pub webhook: WebhookChannel,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let rule = |id: &str,
                    name: &str,
                    source: &str,
                    sensor: &str,
                    condition,
                    threshold,
                    for_s,
                    hysteresis| AlertRule {
            id: id.to_owned(),
            name: name.to_owned(),
            source: source.to_owned(),
            sensor: sensor.to_owned(),
            condition,
            threshold,
            for_s,
            hysteresis,
            enabled: true,
        };
        AlertsConfig {
            enabled: true,
            rules: vec![
                // The Aranet4's own red level, held for 5 minutes.
                rule(
                    "co2-high",
                    "CO₂ high",
                    "co2",
                    "*:co2",
                    AlertCondition::Above,
                    1400.0,
                    300,
                    100.0,
                ),
                rule(
                    "cpu-hot",
                    "CPU hot",
                    "system",
                    "cpu_temp",
                    AlertCondition::Above,
                    80.0,
                    60,
                    5.0,
                ),
                rule(
                    "aranet-battery",
                    "Aranet4 battery low",
                    "co2",
                    "*:battery",
                    AlertCondition::Below,
                    10.0,
                    0,
                    5.0,
                ),
            ],
            source_down: SourceDownAlert::default(),
            bus_down: BusDownAlert::default(),
            ntfy: NtfyChannel::default(),
            webhook: WebhookChannel::default(),
        }
    }
}

fn ntfy_topic_ok(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 64
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Section for AlertsConfig {
    const NAME: SectionName = SectionName::Alerts;
    const SECRET_PATHS: &'static [&'static str] = &["ntfy.token", "webhook.url"];
    fn validate(&self) -> Result<(), FieldError> {
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate()
                .map_err(|e| e.within(&format!("rules[{i}]")))?;
            if let Some(j) = self.rules[..i].iter().position(|r| r.id == rule.id) {
                return Err(FieldError::new(
                    format!("rules[{i}].id"),
                    format!("{:?} is already used by rules[{j}]", rule.id),
                ));
            }
        }
        ranges::SOURCE_DOWN.check("source_down.minutes", self.source_down.minutes)?;
        ranges::BUS_DOWN.check("bus_down.seconds", self.bus_down.seconds)?;
        let ntfy = &self.ntfy;
        http_url("ntfy.url", &ntfy.url, !ntfy.enabled)?;
        if (!ntfy.topic.is_empty() || ntfy.enabled) && !ntfy_topic_ok(&ntfy.topic) {
            let message = if ntfy.topic.is_empty() {
                "must be set to send alerts to ntfy: the topic your phone subscribes to".to_owned()
            } else {
                format!(
                    "must be 1 to 64 letters, digits, - and _ (got {:?})",
                    ntfy.topic
                )
            };
            return Err(FieldError::new("ntfy.topic", message));
        }
        // The token goes into a header: no line breaks, no spaces.
        if ntfy.token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(FieldError::new(
                "ntfy.token",
                "must not contain spaces or control characters",
            ));
        }
        http_url("webhook.url", &self.webhook.url, !self.webhook.enabled)
    }
    fn redact(&mut self) {
        redact(&mut self.ntfy.token);
        redact(&mut self.webhook.url);
    }
    /// The webhook's URL sent back as `********` keeps the one in force. The ntfy token sent
    /// back so keeps the one in force while the ntfy server (scheme, host, port) is the same; a
    /// new server must be given its token again.
    fn restore_redacted(patch: &mut Map<String, Json>, current: &Self) -> Result<(), FieldError> {
        if let Some(Json::Object(webhook)) = patch.get_mut("webhook")
            && webhook.get("url").and_then(Json::as_str) == Some(REDACTED)
        {
            webhook.insert("url".into(), Json::String(current.webhook.url.clone()));
        }
        let Some(Json::Object(ntfy)) = patch.get_mut("ntfy") else {
            return Ok(());
        };
        if ntfy.get("token").and_then(Json::as_str) != Some(REDACTED) {
            return Ok(());
        }
        // A field left out of the object sent takes its default, as the object replaces the
        // stored one whole.
        let default_url = NtfyChannel::default().url;
        let url = ntfy
            .get("url")
            .and_then(Json::as_str)
            .unwrap_or(&default_url);
        if Endpoint::of_url(url) != Endpoint::of_url(&current.ntfy.url) {
            return Err(FieldError::new(
                "ntfy.token",
                "the ntfy server changed, so the saved token will not be sent to it: enter the \
                 token for the new server (or an empty one)",
            ));
        }
        ntfy.insert("token".into(), Json::String(current.ntfy.token.clone()));
        Ok(())
    }
}
