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
/// `/ws/sources` messages (a snapshot of every source, then `{id: SourceView}` per update).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SourceView<'a> {
    /// Readings by sensor id.
    pub readings: &'a BTreeMap<String, Reading>,
    /// The status; `null` once it expired: the source is unavailable.
    pub status: Option<&'a Status>,
}

impl<'a> From<&'a SourceSnapshot> for SourceView<'a> {
    fn from(s: &'a SourceSnapshot) -> Self {
        SourceView {
            readings: &s.readings,
            status: s.status.as_ref(),
        }
    }
}

/// Every error reply: what went wrong, and for a refused config write the field at fault.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    /// What went wrong, naming the cause.
    pub error: String,
    /// The refused field as `section.field` (e.g. `display.rotation`, `camera.cameras[0].host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub field: Option<String>,
    /// The underlying error, when the bus failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cause: Option<String>,
}

/// `POST /api/config` accepted: every section written, all or none.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConfigUpdated {
    /// Always `ok`.
    pub status: &'static str,
    /// The sections written.
    pub sections_updated: Vec<&'static str>,
    /// Each written section's new revision, to send back with the next write of it.
    pub revisions: BTreeMap<&'static str, String>,
    /// Stored values of the written sections that the write did not set and that are invalid
    /// (left by another tool or an older version), as `section.field: what is wrong`, in the
    /// words a refused write of them would use (`display.rotation: must be one of 0, 90, 180,
    /// 270 (got 45)`). They do not block the write and are kept as stored; services use the
    /// environment's value or the default instead, and `GET /api/config` names them in
    /// `_problems`, until a write sets them. Empty when every written section is valid.
    pub warnings: Vec<String>,
}

/// `POST /api/command/{target}`: the service's answer (200 when it did it, 400 when it refused),
/// or why there was none (503 nobody listens, 504 timeout: then only `success` and `error`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandReply {
    /// Whether the command was carried out.
    pub success: bool,
    /// A human summary (the service's `message`, else its error, else `done`/`failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub message: Option<String>,
    /// What the service answered with, e.g. `{"devices": [...]}` for `scan_aranet4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub data: Option<Map<String, Json>>,
    /// Why it failed, naming the cause.
    pub error: Option<String>,
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
}
