//! The JSON the gateway answers with, beyond the contract's payloads (`sense_bus::model`), as
//! types: the handlers serialize these, and with the `ts` feature the dashboard's TypeScript is
//! generated from them (`cargo test -p sense-gateway --features ts --test typescript`), so the
//! shapes are written once.

use std::collections::BTreeMap;

use sense_bus::model::{Reading, Status};
use sense_bus::store::SourceSnapshot;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// One source in `GET /api/sources` (keyed by source id), `GET /api/sources/{id}` and the
/// `/ws/sources` messages.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SourceView<'a> {
    /// Readings by sensor id.
    pub readings: &'a BTreeMap<String, Reading>,
    /// The status; `null` once it expired: the source is unavailable.
    pub status: Option<&'a Status>,
    /// **[ours]** Whether the gateway reaches the data bus: while it is `down`, these are the
    /// last values seen, frozen. In the contract's shape (`GET /api/sources`, the default
    /// `/ws/sources`) only; a delta message says it once for all sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub bus: Option<&'a BusState>,
}

impl<'a> SourceView<'a> {
    /// `snapshot`, with the bus state when the shape asks for it.
    pub fn new(snapshot: &'a SourceSnapshot, bus: Option<&'a BusState>) -> Self {
        SourceView {
            readings: &snapshot.readings,
            status: snapshot.status.as_ref(),
            bus,
        }
    }
}

/// Whether the data bus answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum BusHealth {
    /// The gateway reaches Redis: the values are live.
    Up,
    /// It does not: the values are the last ones seen.
    Down,
}

/// The data bus as the gateway sees it, and since when (also in the `X-Sense-Bus` header of
/// `GET /api/sources`: `up` or `down; since=<unix seconds>`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BusState {
    /// `up` or `down`.
    pub state: BusHealth,
    /// Unix seconds since it is in this state.
    pub since: f64,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub error: Option<String>,
}

/// **[ours]** A `/ws/sources?mode=delta` message. The first of each connection is `full`: it
/// replaces whatever the client had. Later ones carry only the sources that changed (each
/// replaced whole) and the ids of those that are gone; one is sent at least every
/// [`DELTA_KEEPALIVE_S`] seconds even when nothing changed, so a client can tell a dead
/// connection from a quiet one.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SourcesDelta<'a> {
    /// Always `sources`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether `sources` is every source (replace) or the changed ones (merge).
    pub full: bool,
    /// The data bus now.
    pub bus: &'a BusState,
    /// Sources by id, each whole.
    pub sources: BTreeMap<&'a str, SourceView<'a>>,
    /// Sources that are gone since the last message.
    pub removed: Vec<&'a str>,
}

/// The longest a delta client waits for a message while the connection is alive. Short, so a
/// dashboard notices a dead connection (Wi-Fi gone, the Pi unplugged: no `close` ever comes)
/// within 5 s; an empty message is some 80 bytes.
pub const DELTA_KEEPALIVE_S: u64 = 2;

/// Every error reply: what went wrong, and for a refused config write the field at fault.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    /// What went wrong, naming the cause.
    pub error: String,
    /// The same words: clients written against the contract read a command's answer from
    /// `message`, and may get an error instead (a refused sign-in, a rate limit).
    pub message: String,
    /// The refused field as `section.field` (e.g. `display.rotation`, `camera.cameras[0].host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub field: Option<String>,
    /// The underlying error, when the bus failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cause: Option<String>,
}

impl ApiError {
    /// An error saying `error`.
    pub fn new(error: impl Into<String>) -> Self {
        let error = error.into();
        ApiError {
            message: error.clone(),
            error,
            ..ApiError::default()
        }
    }

    /// Naming the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// With the underlying error.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

/// `POST /api/config` accepted: every section written, all or none.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConfigUpdated {
    /// Always `ok`.
    pub status: &'static str,
    /// The sections written.
    pub sections_updated: Vec<String>,
    /// Each written section's new revision, to send back with the next write of it.
    pub revisions: BTreeMap<String, String>,
    /// Stored values of the written sections that the write did not set and that are invalid
    /// (left by another tool or an older version), as `section.field: what is wrong`, in the
    /// words a refused write of them would use (`display.rotation: must be one of 0, 90, 180,
    /// 270 (got 45)`). They do not block the write and are kept as stored; services use the
    /// environment's value or the default instead, and `GET /api/config` names them in
    /// `_problems`, until a write sets them. Empty when every written section is valid.
    pub warnings: Vec<String>,
}

/// Every answer of `POST /api/command/{target}`, in the contract's shape: `success` and a
/// `message` in words, whatever the status code (200: the service answered, done or refused;
/// 400: a malformed request; 404: an unknown target; 503: nobody listens; 504: no answer in
/// time).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandReply {
    /// Whether the command was carried out.
    pub success: bool,
    /// What happened, in words (the service's `message`, else its error, else `done`).
    pub message: String,
    /// What the service answered with, e.g. `{"devices": [...]}` for `scan_aranet4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub data: Option<Map<String, Json>>,
    /// Why it failed, naming the cause (`null` when it succeeded).
    pub error: Option<String>,
}

impl CommandReply {
    /// A command that was not carried out, and why.
    pub fn failed(why: impl Into<String>) -> Self {
        let why = why.into();
        CommandReply {
            success: false,
            message: why.clone(),
            data: None,
            error: Some(why),
        }
    }
}

/// `POST /api/command/{target}`'s body.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandRequest {
    /// The action, e.g. `clear`, `set_rotation`, `start_camera`.
    pub action: String,
    /// Its parameters.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub params: Option<Map<String, Json>>,
}

/// `GET /api/history/{source}/{sensor}`: averages over equal time buckets, oldest first.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct History<'a> {
    /// The source id.
    pub source: &'a str,
    /// The sensor id.
    pub sensor: &'a str,
    /// The reading's unit, if it still has a reading.
    pub unit: Option<String>,
    /// `[unix seconds, value]` pairs.
    pub points: Vec<[f64; 2]>,
}

/// `GET /api/alerts` **[ours]**: what the alerts service keeps on the bus.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alerts {
    /// The alerts firing now (`alerts:active`), each as it fired, oldest first.
    pub active: Vec<sense_bus::model::AlertEvent>,
    /// Fired and cleared alerts (`alerts:history`), newest first, at most 200.
    pub history: Vec<sense_bus::model::AlertEvent>,
    /// Delivery health by channel (`ntfy`, `webhook`; `alerts:channels`): empty until the alerts
    /// service has run.
    pub channels: BTreeMap<String, sense_bus::model::ChannelHealth>,
}

/// **[ours]** The span of `GET /api/history?range=…`, and the resolution it is answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum HistoryRange {
    /// The last hour, raw.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours, raw.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days, in 5-minute buckets.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days, in hourly buckets.
    #[serde(rename = "30d")]
    Month,
    /// The last 90 days, in hourly buckets.
    #[serde(rename = "90d")]
    Quarter,
}

impl HistoryRange {
    /// Every range, shortest first.
    pub const ALL: [HistoryRange; 5] = [
        HistoryRange::Hour,
        HistoryRange::Day,
        HistoryRange::Week,
        HistoryRange::Month,
        HistoryRange::Quarter,
    ];

    /// As the query writes it (`24h`).
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Hour => "1h",
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
            HistoryRange::Month => "30d",
            HistoryRange::Quarter => "90d",
        }
    }

    /// The range named `name`.
    pub fn parse(name: &str) -> Option<HistoryRange> {
        HistoryRange::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its length in seconds.
    pub fn seconds(self) -> u32 {
        match self {
            HistoryRange::Hour => 3600,
            HistoryRange::Day => 24 * 3600,
            HistoryRange::Week => 7 * 24 * 3600,
            HistoryRange::Month => 30 * 24 * 3600,
            HistoryRange::Quarter => 90 * 24 * 3600,
        }
    }

    /// The bucket length its points have, in seconds: 0 for raw points.
    pub fn resolution(self) -> u32 {
        match self {
            HistoryRange::Hour | HistoryRange::Day => 0,
            HistoryRange::Week => 300,
            HistoryRange::Month | HistoryRange::Quarter => 3600,
        }
    }
}

/// **[ours]** `GET /api/history?series=…&range=…`: several series over one range.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryBatch {
    /// The range asked for (`24h` by default).
    pub range: HistoryRange,
    /// Seconds per bucket: 0 for raw points (`1h`, `24h`), 300 (`7d`), 3600 (`30d`, `90d`).
    pub resolution: u32,
    /// The range's start (Unix seconds).
    pub from: f64,
    /// Its end: now (Unix seconds).
    pub to: f64,
    /// Each series asked for, by its id `{source}:{sensor}`.
    pub series: BTreeMap<String, HistorySeries>,
}

/// **[ours]** One series of a [`HistoryBatch`]. With no data in the range: no points, and `null`
/// statistics.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistorySeries {
    /// The source id.
    pub source: String,
    /// The sensor id.
    pub sensor: String,
    /// The unit of the current reading; `null` when it has none (or no current reading).
    pub unit: Option<String>,
    /// Oldest first: `[timestamp, value]` at resolution 0, else `[bucket_start, min, mean, max]`.
    pub points: Vec<HistoryPoint>,
    /// The smallest value in the range.
    pub min: Option<f64>,
    /// The mean of every value in the range (each weighted alike, whatever its bucket).
    pub mean: Option<f64>,
    /// The largest value in the range.
    pub max: Option<f64>,
}

/// **[ours]** One point of a [`HistorySeries`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum HistoryPoint {
    /// `[timestamp, value]`: a reading as polled.
    Raw([f64; 2]),
    /// `[bucket_start, min, mean, max]`: a bucket of `resolution` seconds.
    Bucket([f64; 4]),
}

/// `GET /health`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Health {
    /// `healthy` or `unhealthy` (503).
    pub status: &'static str,
    /// Why not, when unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub error: Option<&'static str>,
    /// The bus's error, when unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cause: Option<String>,
    /// What needs the owner's attention though the gateway serves, e.g. sign-in settings that
    /// are invalid in Redis while the last valid ones stay in force.
    pub warnings: Vec<String>,
}

/// `POST /api/login`: the dashboard's sign-in form.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `GET /api/session`, and the answer to `POST /api/login` / `POST /api/logout`: whether a login
/// is needed and who is signed in.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Session {
    /// Whether the gateway asks for a login (`config:auth.enabled`).
    pub auth_enabled: bool,
    /// Who this request is signed in as (`null`: nobody, or auth is off).
    pub user: Option<String>,
    /// Why the sign-in settings in force are not the ones stored (they are invalid or were
    /// lost), or why nobody can sign in until they are fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub problem: Option<String>,
    /// **[ours]** Present when the sources run on simulated hardware and services
    /// (`sense-pulse run --sim`): the dashboard says so, and what the settings do meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub simulated: Option<Simulation>,
}

/// **[ours]** What a simulated stack (`--sim`) runs instead of the configured devices and
/// services. Weather, Pi-hole, Tailscale and the camera answer from simulators inside Sense
/// Pulse whatever address is configured (nothing configured is contacted), the Sense HAT is a
/// simulated one, and the Aranet4 monitors are those of a simulated radio.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Simulation {
    /// The monitors the simulated radio has. With none configured, these are the ones read;
    /// a configured monitor that is not among them is never heard.
    pub aranet4: Vec<sense_bus::config::Aranet4Sensor>,
}
