//! The JSON payloads of the contract, as types.
//!
//! Field names, optionality and shapes follow `docs/CONTRACT.md` exactly; where we add a field it
//! is optional, so payloads from the upstream Python services still parse, and theirs parse ours.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::unix_now;

/// A reading's value: int, float, string, bool or null.
pub type Value = sense_hal::Value<String>;

/// A measurement as sources produce it, with owned text.
pub type Measurement = sense_hal::Measurement<String>;

/// `source:{source}:{sensor}`: one sensor's latest value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reading {
    /// The value.
    #[cfg_attr(feature = "ts", ts(type = "number | string | boolean | null"))]
    pub value: Value,
    /// The unit (`"C"`, `"%"`, ...), `null` for unitless values.
    #[serde(default)]
    pub unit: Option<String>,
    /// When it was measured, in Unix seconds.
    pub timestamp: f64,
}

impl Reading {
    /// The reading of `measurement` taken at `timestamp`.
    pub fn new(measurement: &Measurement, timestamp: f64) -> Self {
        Reading {
            value: measurement.value.clone(),
            unit: measurement.unit.map(|u| u.as_str().to_owned()),
            timestamp,
        }
    }
}

/// `meta:{source}`: what a source is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Meta {
    /// The source id.
    pub source_id: String,
    /// A human name.
    pub name: String,
    /// One line on what it measures.
    pub description: String,
    /// Poll interval in seconds (0 for a source that runs on demand).
    pub refresh_interval: u32,
    /// Whether it is configured to run.
    pub enabled: bool,
}

/// `status:{source}`: how a source's polls are going.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Status {
    /// The source id.
    pub source_id: String,
    /// When the last poll ended, in Unix seconds.
    #[serde(default)]
    pub last_poll: Option<f64>,
    /// When the last poll that wrote readings ended.
    #[serde(default)]
    pub last_success: Option<f64>,
    /// What went wrong in the last poll, naming the cause; `null` when it went well.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Polls since the source was first run (kept across ephemeral runs).
    #[serde(default)]
    pub poll_count: u64,
    /// Polls that ended with an error.
    #[serde(default)]
    pub error_count: u64,
    /// Problems that did not stop the poll, e.g. an invalid config value replaced by its default.
    /// Ours; absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The readings are old data shown because fresh data failed (see `last_error`). Ours;
    /// absent when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stale: bool,
    /// How the last poll went: `ok`, `partial` (some readings written, `last_error` names what
    /// failed) or `failed` (no fresh readings). Ours; absent from statuses written without it
    /// (read them with [`Status::outcome`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub outcome: Option<PollOutcome>,
    /// The parts of the source the last poll got nothing from (an Aranet4 monitor not heard),
    /// each with since when. Ours; absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingPart>,
    /// The serial link of a source that is a microcontroller node (`node-{name}`). Ours; absent
    /// for every other source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub link: Option<LinkHealth>,
}

/// How a microcontroller node's serial link is doing, in its source's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkHealth {
    /// The serial port (`/dev/ttyACM0`).
    pub port: String,
    /// Whether the port is open and the node has said hello on it.
    pub connected: bool,
    /// Since when `connected` has been what it is (Unix seconds).
    pub since: f64,
    /// When the last good frame arrived, `null` if none yet.
    #[serde(default)]
    pub last_frame: Option<f64>,
    /// Good frames received since the source started.
    pub frames: u64,
    /// Frames skipped since the source started: damaged (CRC, COBS), cut short, or of another
    /// protocol version.
    pub bad_frames: u64,
    /// Times the node said hello again: it was reset or replugged.
    pub restarts: u64,
    /// The node's firmware version, from its hello.
    #[serde(default)]
    pub firmware: Option<String>,
    /// The protocol version the node speaks (`1.0`).
    #[serde(default)]
    pub protocol: Option<String>,
    /// The sensor ids the node says it measures (`temperature`, `humidity`, `pressure`), from
    /// its hello.
    #[serde(default)]
    pub measures: Vec<String>,
    /// Whether the node drives an LED matrix: it takes `show_text`, `set_rotation` and `clear`
    /// on `cmd:{id}`.
    #[serde(default)]
    pub led_matrix: bool,
}

/// How a poll went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PollOutcome {
    /// Everything was measured.
    #[default]
    Ok,
    /// Some readings were written; `last_error` names what failed (a monitor not heard).
    Partial,
    /// Nothing fresh was written (an error status, or stale data kept).
    Failed,
}

impl PollOutcome {
    /// `ok`, `partial`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::Partial => "partial",
            PollOutcome::Failed => "failed",
        }
    }
}

/// A part of a source (an Aranet4 monitor, by its label) the last poll got nothing from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MissingPart {
    /// Its name (the monitor's label).
    pub name: String,
    /// What failed, naming the part and the cause, as `last_error` does (`garage
    /// (D4:7B:0C:4A:11:03) not heard within 10 s (out of range, or its battery is flat?)`).
    pub error: String,
    /// Since when (Unix seconds): the first poll of the current run of misses; for a part never
    /// heard, the first poll that missed it.
    pub since: f64,
    /// When it last gave readings, `null` if never (as far as the source remembers).
    #[serde(default)]
    pub last_seen: Option<f64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Status {
    /// A status for a source that has never polled.
    pub fn new(source_id: &str) -> Self {
        Status {
            source_id: source_id.to_owned(),
            last_poll: None,
            last_success: None,
            last_error: None,
            poll_count: 0,
            error_count: 0,
            warnings: Vec::new(),
            stale: false,
            outcome: None,
            missing: Vec::new(),
            link: None,
        }
    }

    /// How the last poll went: `outcome` when the writer said, else `ok` without `last_error`
    /// and `failed` with one (statuses written by upstream's services or before `outcome`).
    pub fn outcome(&self) -> PollOutcome {
        match (self.outcome, &self.last_error) {
            (Some(outcome), _) => outcome,
            (None, None) => PollOutcome::Ok,
            (None, Some(_)) => PollOutcome::Failed,
        }
    }
}

/// On `data:{source}`: new readings were written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DataUpdate {
    /// The source id.
    pub source_id: String,
    /// When, in Unix seconds.
    pub timestamp: f64,
}

/// On `cmd:{target}`: a request to a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Command {
    /// What to do, e.g. `clear`.
    pub action: String,
    /// Echoed in the response channel name and payload.
    pub request_id: String,
    /// Arguments, e.g. `{"rotation": 90}`.
    #[serde(default)]
    pub params: Map<String, Json>,
    /// When it was sent, in Unix seconds.
    #[serde(default = "unix_now")]
    pub timestamp: f64,
}

/// Whether a command worked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ResponseStatus {
    /// It did.
    Ok,
    /// It did not; `error` says why.
    Error,
}

/// On `cmd:{target}:response:{request_id}`: the answer to a [`Command`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandResponse {
    /// The command's request id.
    pub request_id: String,
    /// Whether it worked.
    pub status: ResponseStatus,
    /// Results, e.g. `{"pixels": [...]}`.
    #[serde(default)]
    pub data: Map<String, Json>,
    /// Why it did not work, naming the cause (e.g. the bad parameter).
    #[serde(default)]
    pub error: Option<String>,
}

impl CommandResponse {
    /// A success carrying `data`.
    pub fn ok(request_id: &str, data: Map<String, Json>) -> Self {
        CommandResponse {
            request_id: request_id.to_owned(),
            status: ResponseStatus::Ok,
            data,
            error: None,
        }
    }

    /// A failure explained by `error`.
    pub fn error(request_id: &str, error: impl Into<String>) -> Self {
        CommandResponse {
            request_id: request_id.to_owned(),
            status: ResponseStatus::Error,
            data: Map::new(),
            error: Some(error.into()),
        }
    }

    /// Whether the command worked.
    pub fn is_ok(&self) -> bool {
        self.status == ResponseStatus::Ok
    }
}

/// On `config:changed`: a config section was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConfigChanged {
    /// The section's name.
    pub section: String,
    /// When, in Unix seconds.
    #[serde(default = "unix_now")]
    pub timestamp: f64,
}

impl ConfigChanged {
    /// Whether the change is to one of `sections` as `scope` reads them: the shared section, or
    /// this node's own override of it (`display@kitchen`), never another node's.
    pub fn concerns(
        &self,
        scope: &crate::ids::Scope,
        sections: &[crate::ids::SectionName],
    ) -> bool {
        crate::keys::parse_section(&self.section).is_some_and(|(section, node)| {
            sections.contains(&section) && node.is_none_or(|node| scope.name() == Some(&node))
        })
    }
}

/// On `stream:ended`: the camera stream stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StreamEnded {
    /// Always `network_camera` today.
    pub source_id: String,
    /// Why: `user_stopped`, `max_reconnects`, ...
    pub reason: String,
    /// When, in Unix seconds.
    pub timestamp: f64,
}

/// On `logs` (and in the `logs` list): a warning or an error a service logged (ours).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogEntry {
    /// `warn` or `error`.
    pub level: String,
    /// The service, e.g. `sensors`, `orchestrator`, `gateway`.
    pub service: String,
    /// The message, with the event's fields (`source=co2 error=…`).
    pub message: String,
    /// When, in Unix seconds.
    pub timestamp: f64,
}

/// At `node:{node}` **[ours]**: a named node (a satellite Pi) as its orchestrator last said it,
/// at each health write. The hub judges contact from `last_contact` and `interval_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NodeRecord {
    /// The node's name (`kitchen`).
    pub name: String,
    /// The room the dashboard shows for it ("Kitchen").
    pub room: String,
    /// When its orchestrator last wrote, in Unix seconds.
    pub last_contact: f64,
    /// How often it writes, in seconds: no contact for [`NodeRecord::SILENT_AFTER`] intervals
    /// means it is lost.
    pub interval_s: f64,
    /// The source ids it runs (`sensors@kitchen`, ...).
    pub sources: Vec<String>,
    /// The `sense-pulse` version it runs.
    pub version: String,
}

impl NodeRecord {
    /// How many missed writes make a node lost (the third one missed: more than a hiccup).
    pub const SILENT_AFTER: f64 = 2.5;

    /// Whether it has been heard from recently enough at `now`.
    pub fn in_contact(&self, now: f64) -> bool {
        now - self.last_contact <= self.interval_s * Self::SILENT_AFTER
    }
}

/// On `matrix:state`: what the LED matrix shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatrixState {
    /// 64 `[r, g, b]` pixels, row-major, row 0 at the top: the picture as drawn, upright. The
    /// LEDs show it turned by `rotation`, so it looks upright on a device turned that way.
    pub pixels: Vec<[u8; 3]>,
    /// What the display is doing, e.g. `scrolling`, `icon`, `idle`, `sleeping`.
    pub mode: String,
    /// The display rotation in degrees (0, 90, 180, 270): how the physical matrix is turned.
    pub rotation: u16,
    /// Whether an LED matrix is present.
    pub available: bool,
    /// **[ours]** Whether the LEDs are dimmed (the low-light gamma table): the display setting,
    /// or a `set_low_light` command since. Absent (older publishers): not dimmed.
    #[serde(default)]
    pub low_light: bool,
}

/// Whether an alert began or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// It began.
    Fired,
    /// It ended.
    Cleared,
}

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AlertTrigger {
    /// A reading at or above a rule's threshold.
    Above,
    /// A reading at or below a rule's threshold.
    Below,
    /// A source whose polls fail, or whose status expired.
    SourceDown,
    /// The data bus (Redis) out of reach of the alerts service.
    BusDown,
    /// A named node (a satellite Pi) not heard from: its `node:{node}` record says it is lost.
    NodeLost,
}

/// On `alerts`, in `alerts:history` and (as it fired) in `alerts:active` (ours): an alert that
/// fired or cleared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertEvent {
    /// Which alert: `{rule}|{source}|{sensor}` (`co2-high|co2|office:co2`), `source-down|{source}`,
    /// `node-lost|{node}` or `bus-down`. A cleared event has the id of the one it clears.
    pub id: String,
    /// The rule's id (`co2-high`), or `source-down`, `node-lost`, `bus-down`.
    pub rule: String,
    /// The rule's name (`CO₂ high`).
    pub name: String,
    /// `fired` or `cleared`.
    pub kind: AlertKind,
    /// The source (`co2`, `co2@kitchen`); for `node-lost` the node's orchestrator
    /// (`orchestrator@kitchen`); empty for `bus-down`.
    pub source: String,
    /// The sensor (`office:co2`); `null` for a source or the bus down, or a node lost.
    pub sensor: Option<String>,
    /// What it is about, for people (`CO₂ · office`).
    pub label: String,
    /// The value that fired it, or that it cleared at; `null` for a source or the bus down.
    pub value: Option<f64>,
    /// The value's unit (`ppm`).
    pub unit: Option<String>,
    /// The rule's threshold; `null` for a source or the bus down.
    pub threshold: Option<f64>,
    /// What was crossed.
    pub condition: AlertTrigger,
    /// Since when the condition held (Unix seconds): the first reading past the threshold, or
    /// when the source or bus went down.
    pub since: f64,
    /// When it fired or cleared (Unix seconds).
    pub at: f64,
    /// The whole story in one line: what, where, the value and since when (`CO₂ high: office is at
    /// 1520 ppm (≥ 1400 ppm) since 14:02`), or how it ended (`CO₂ back to normal: office at 1250
    /// ppm after 35 min`).
    pub message: String,
}

/// How delivery to one alert channel is going.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ChannelState {
    /// Switched off in `config:alerts`.
    #[default]
    Off,
    /// The last delivery went through (or none was needed yet).
    Ok,
    /// The last attempt failed; it is retried with backoff.
    Failing,
}

/// One alert channel's delivery health, in `alerts:channels` (ours).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelHealth {
    /// `off`, `ok` or `failing`.
    pub state: ChannelState,
    /// Why the last attempt failed (the server's answer or the connection error); `null` once
    /// one succeeds.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When a delivery last went through (Unix seconds).
    #[serde(default)]
    pub last_success: Option<f64>,
    /// When an attempt last failed (Unix seconds).
    #[serde(default)]
    pub last_failure: Option<f64>,
    /// Alerts waiting to be delivered.
    #[serde(default)]
    pub pending: u32,
    /// Alerts dropped, oldest first, because too many were waiting.
    #[serde(default)]
    pub dropped: u64,
}

/// `alerts:channels` (ours): delivery health by channel (`ntfy`, `webhook`).
pub type AlertChannels = std::collections::BTreeMap<String, ChannelHealth>;

#[cfg(test)]
mod tests {
    use super::*;
    use sense_hal::Unit;

    #[test]
    fn a_reading_serializes_as_the_contract_shows() {
        let m = Measurement::new(
            "cpu_percent".into(),
            Value::Float(23.5),
            Some(Unit::PERCENT),
        );
        let json = serde_json::to_string(&Reading::new(&m, 1_708_000_000.0)).unwrap();
        assert_eq!(
            json,
            r#"{"value":23.5,"unit":"%","timestamp":1708000000.0}"#
        );
        let back: Reading = serde_json::from_str(&json).unwrap();
        assert_eq!(back.value, Value::Float(23.5));
    }

    #[test]
    fn upstream_payloads_parse() {
        let status: Status = serde_json::from_str(
            r#"{"source_id":"weather","last_poll":1708000000.0,"last_success":1708000000.0,
                "last_error":null,"poll_count":42,"error_count":0}"#,
        )
        .unwrap();
        assert_eq!(status.poll_count, 42);
        assert!(status.warnings.is_empty());
        // ...and ours carries no `warnings` key when there are none.
        assert!(!serde_json::to_string(&status).unwrap().contains("warnings"));

        let cmd: Command = serde_json::from_str(r#"{"action":"clear","request_id":"u1"}"#).unwrap();
        assert!(cmd.params.is_empty() && cmd.timestamp > 0.0);

        let resp: CommandResponse =
            serde_json::from_str(r#"{"request_id":"u1","status":"ok","data":{},"error":null}"#)
                .unwrap();
        assert!(resp.is_ok());

        let grid: MatrixState = serde_json::from_str(
            r#"{"pixels":[[255,0,0],[0,255,0]],"mode":"scrolling","rotation":0,"available":true}"#,
        )
        .unwrap();
        assert_eq!(grid.pixels[1], [0, 255, 0]);
        assert!(
            !grid.low_light,
            "the contract's payload has no low_light: not dimmed"
        );
    }

    #[test]
    fn error_responses_say_error() {
        let r = CommandResponse::error("r", "rotation must be one of 0, 90, 180, 270");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "error");
        assert_eq!(json["data"], serde_json::json!({}));
    }
}
