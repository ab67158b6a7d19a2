//! Every Redis key and pub/sub channel name, built in one place.
//!
//! | key / channel | holds | TTL |
//! |---|---|---|
//! | `source:{source}:{sensor}` | a [`Reading`](crate::model::Reading) | ≥ 2× the poll interval, ≥ 60 s |
//! | `meta:{source}` | [`Meta`](crate::model::Meta) | none |
//! | `status:{source}` | [`Status`](crate::model::Status) | ≥ 3× the poll interval, ≥ 120 s |
//! | `config:{section}` | a config section (JSON object) | none |
//! | `state:{source}` | the runner's counters and a source's memory between runs (ours) | none |
//! | `history:{source}:{sensor}` | list of `"{timestamp} {value}"`, 24 h of a numeric reading (ours) | 25 h |
//! | `rollup:{source}:{sensor}:{resolution}:{chunk}` | hash: bucket index → `"{count} {sum} {min} {max}"` over `resolution` s; 96 buckets from Unix second `chunk` (ours) | until the chunk's end + 7 d (300 s) / 90 d (3600 s) |
//! | `scan:{source}` | the last scan's result (`{"devices": […]}` / `{"cameras": […]}`) | 10 min |
//! | channel `data:{source}` | [`DataUpdate`](crate::model::DataUpdate) | |
//! | channel `cmd:{target}` | [`Command`](crate::model::Command) | |
//! | channel `cmd:{target}:response:{request_id}` | [`CommandResponse`](crate::model::CommandResponse) | |
//! | channel `config:changed` | [`ConfigChanged`](crate::model::ConfigChanged) | |
//! | channel `stream:ended` | [`StreamEnded`](crate::model::StreamEnded) | |
//! | channel `matrix:state` | [`MatrixState`](crate::model::MatrixState) | |
//! | `alerts:active` | JSON array of the active [`AlertEvent`](crate::model::AlertEvent)s (ours) | none |
//! | `alerts:history` | list of [`AlertEvent`](crate::model::AlertEvent) JSON, newest first, ≤ 200 (ours) | none |
//! | `alerts:channels` | [`AlertChannels`](crate::model::AlertChannels): delivery health (ours) | none |
//! | channel `alerts` | [`AlertEvent`](crate::model::AlertEvent), each fired or cleared (ours) | |
//! | `config:{section}@{node}` | a node's override of a per-node section (ours) | none |
//! | `node:{node}` | [`NodeRecord`](crate::model::NodeRecord): a named node's last contact (ours) | none |
//!
//! A named node (`NODE_NAME=kitchen`) writes the same keys and channels with its source ids
//! scoped, `sensors@kitchen` ([`Scope`](crate::ids::Scope)): `source:sensors@kitchen:temperature`,
//! `status:orchestrator@kitchen`, `cmd:sensors@kitchen`, `matrix:state@kitchen`.

use crate::ids::{NODE_SEPARATOR, NodeName, SectionName};

/// `source:{source}:{sensor}`: one reading.
pub fn reading(source: &str, sensor: &str) -> String {
    format!("source:{source}:{sensor}")
}

/// The pattern matching every reading of `source`.
pub fn readings_of(source: &str) -> String {
    format!("source:{source}:*")
}

/// The pattern matching every reading of every source.
pub const ALL_READINGS: &str = "source:*";

/// Splits a reading key into `(source, sensor)`. Source ids contain no `:`; sensor ids may
/// (`office:co2`), so the split is at the first `:` after the prefix.
pub fn parse_reading(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("source:")?;
    let (source, sensor) = rest.split_once(':')?;
    (!source.is_empty() && !sensor.is_empty()).then_some((source, sensor))
}

/// `history:{source}:{sensor}`: the last 24 hours of a numeric reading, as a list of
/// `"{timestamp} {value}"` entries, oldest first (ours).
pub fn history(source: &str, sensor: &str) -> String {
    format!("history:{source}:{sensor}")
}

/// The pattern matching every history list of `source` (`history:{source}:*`).
pub fn histories_of(source: &str) -> String {
    format!("history:{source}:*")
}

/// `rollup:{source}:{sensor}:{resolution}:{chunk}` **[ours]**: the statistics of a numeric
/// reading over `resolution`-second buckets, for the buckets of one chunk of time starting at Unix
/// second `chunk` (a multiple of the chunk's span). A hash: field = the bucket's index in the
/// chunk (`0`, `1`, …), value = `"{count} {sum} {min} {max}"`. See
/// [`store::ROLLUPS`](crate::store::ROLLUPS).
pub fn rollup(source: &str, sensor: &str, resolution_s: u32, chunk: u64) -> String {
    format!("rollup:{source}:{sensor}:{resolution_s}:{chunk}")
}

/// The pattern matching every rollup of `source` (`rollup:{source}:*`).
pub fn rollups_of(source: &str) -> String {
    format!("rollup:{source}:*")
}

/// Splits a rollup key into `(source, sensor, resolution, chunk)`: the source ends at the first
/// `:`, the resolution and chunk are the last two parts; the sensor is what lies between.
pub fn parse_rollup(key: &str) -> Option<(&str, &str, u32, u64)> {
    let rest = key.strip_prefix("rollup:")?;
    let (source, rest) = rest.split_once(':')?;
    let (rest, chunk) = rest.rsplit_once(':')?;
    let (sensor, resolution) = rest.rsplit_once(':')?;
    (!source.is_empty() && !sensor.is_empty()).then_some((
        source,
        sensor,
        resolution.parse().ok()?,
        chunk.parse().ok()?,
    ))
}

/// `meta:{source}`.
pub fn meta(source: &str) -> String {
    format!("meta:{source}")
}

/// `status:{source}`.
pub fn status(source: &str) -> String {
    format!("status:{source}")
}

/// The pattern matching every status.
pub const ALL_STATUSES: &str = "status:*";

/// The source id in a `status:{source}` key.
pub fn parse_status(key: &str) -> Option<&str> {
    key.strip_prefix("status:").filter(|s| !s.is_empty())
}

/// `config:{section}`.
pub fn config(section: SectionName) -> String {
    format!("config:{section}")
}

/// `config:{section}@{node}` **[ours]**: `node`'s override of a per-node section
/// ([`SectionName::per_node`]).
pub fn config_override(section: SectionName, node: &NodeName) -> String {
    format!("config:{section}{NODE_SEPARATOR}{node}")
}

/// The pattern matching every config section and override.
pub const ALL_CONFIG: &str = "config:*";

/// The section named in a `config:…` key or a `config:changed` notice: the section and, for an
/// override, the node (`display@kitchen`). `None` for an unknown section or node name.
pub fn parse_section(name: &str) -> Option<(SectionName, Option<NodeName>)> {
    let (section, node) = crate::ids::split_scoped(name);
    let section = section.parse().ok()?;
    match node {
        None => Some((section, None)),
        Some(node) => {
            let node = NodeName::parse(node).ok()?;
            SectionName::per_node(section).then_some((section, Some(node)))
        }
    }
}

/// `node:{node}` **[ours]**: a named node's [`NodeRecord`](crate::model::NodeRecord), written by
/// its orchestrator at each health write. No TTL: a node that went silent is still known, with
/// when it was last heard.
pub fn node(name: &NodeName) -> String {
    format!("node:{name}")
}

/// The pattern matching every node record.
pub const ALL_NODES: &str = "node:*";

/// The node's name in a `node:{node}` key.
pub fn parse_node(key: &str) -> Option<NodeName> {
    NodeName::parse(key.strip_prefix("node:")?).ok()
}

/// `state:{source}`: what a source and its runner remember between runs (no TTL).
pub fn state(source: &str) -> String {
    format!("state:{source}")
}

/// `scan:{source}`: the last scan's result (`scan:co2` nearby Aranet4s, `scan:network_camera`
/// cameras found), for the orchestrator to hand back. Short-lived.
pub fn scan(source: &str) -> String {
    format!("scan:{source}")
}

/// `logs` **[ours]**: the latest warnings and errors of every service (a capped list of
/// [`LogEntry`](crate::model::LogEntry) JSON), for a gateway that starts later.
pub const LOGS: &str = "logs";

/// How many entries the `logs` list keeps.
pub const LOGS_KEPT: usize = 200;

/// `alerts:active` **[ours]**: the alerts firing now, as one JSON array of
/// [`AlertEvent`](crate::model::AlertEvent)s (each as it fired). Not a `status:` key: the gateway
/// takes every `status:*` for a source.
pub const ALERTS_ACTIVE: &str = "alerts:active";

/// `alerts:history` **[ours]**: fired and cleared [`AlertEvent`](crate::model::AlertEvent)s, a
/// capped list, newest first.
pub const ALERTS_HISTORY: &str = "alerts:history";

/// How many events `alerts:history` keeps.
pub const ALERTS_HISTORY_KEPT: usize = 200;

/// `alerts:channels` **[ours]**: how delivery to each channel (`ntfy`, `webhook`) is going, as
/// [`AlertChannels`](crate::model::AlertChannels).
pub const ALERTS_CHANNELS: &str = "alerts:channels";

/// Pub/sub channel names.
pub mod channels {
    /// `data:{source}`: a source wrote new readings.
    pub fn data(source: &str) -> String {
        format!("data:{source}")
    }

    /// The pattern matching every `data:{source}` channel.
    pub const ALL_DATA: &str = "data:*";

    /// The source id in a `data:{source}` channel name.
    pub fn parse_data(channel: &str) -> Option<&str> {
        channel.strip_prefix("data:").filter(|s| !s.is_empty())
    }

    /// `cmd:{target}`: commands to a service.
    pub fn command(target: &str) -> String {
        format!("cmd:{target}")
    }

    /// `cmd:{target}:response:{request_id}`: the answer to one command.
    pub fn command_response(target: &str, request_id: &str) -> String {
        format!("cmd:{target}:response:{request_id}")
    }

    /// The pattern matching every command response.
    pub const ALL_COMMAND_RESPONSES: &str = "cmd:*:response:*";

    /// `config:changed`: a config section was written.
    pub const CONFIG_CHANGED: &str = "config:changed";

    /// `stream:ended`: the camera stream stopped.
    pub const STREAM_ENDED: &str = "stream:ended";

    /// `matrix:state`: the LED matrix changed.
    pub const MATRIX_STATE: &str = "matrix:state";

    /// `matrix:state` of `scope`'s Sense HAT: `matrix:state@kitchen` on a named node.
    pub fn matrix_state(scope: &crate::ids::Scope) -> String {
        scope.id(MATRIX_STATE)
    }

    /// Every named node's `matrix:state@{node}` (a pattern).
    pub const ALL_NODE_MATRIX_STATES: &str = "matrix:state@*";

    /// The node whose `matrix:state@{node}` `channel` is; `None` for any other channel.
    pub fn parse_node_matrix_state(channel: &str) -> Option<crate::ids::NodeName> {
        let node = channel
            .strip_prefix(MATRIX_STATE)?
            .strip_prefix(crate::ids::NODE_SEPARATOR)?;
        crate::ids::NodeName::parse(node).ok()
    }

    /// `logs` **[ours]**: a service logged a warning or an error.
    pub const LOGS: &str = "logs";

    /// `alerts` **[ours]**: an alert fired or cleared
    /// ([`AlertEvent`](crate::model::AlertEvent)).
    pub const ALERTS: &str = "alerts";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_contract() {
        assert_eq!(reading("co2", "office:co2"), "source:co2:office:co2");
        assert_eq!(readings_of("weather"), "source:weather:*");
        assert_eq!(meta("system"), "meta:system");
        assert_eq!(status("system"), "status:system");
        assert_eq!(config(SectionName::Schedule), "config:schedule");
        assert_eq!(channels::data("system"), "data:system");
        assert_eq!(channels::command("sensors"), "cmd:sensors");
        assert_eq!(
            channels::command_response("sensors", "r1"),
            "cmd:sensors:response:r1"
        );
    }

    #[test]
    fn reading_keys_split_at_the_first_colon() {
        assert_eq!(
            parse_reading("source:co2:office:co2"),
            Some(("co2", "office:co2"))
        );
        assert_eq!(
            parse_reading("source:system:cpu_percent"),
            Some(("system", "cpu_percent"))
        );
        assert_eq!(parse_reading("source:system"), None);
        assert_eq!(parse_reading("status:system"), None);
        assert_eq!(parse_status("status:weather"), Some("weather"));
        let key = rollup("co2", "office:co2", 300, 1_708_012_800);
        assert_eq!(key, "rollup:co2:office:co2:300:1708012800");
        assert_eq!(
            parse_rollup(&key),
            Some(("co2", "office:co2", 300, 1_708_012_800))
        );
        assert_eq!(parse_rollup("rollup:co2:300:1"), None);
        assert_eq!(parse_rollup("history:co2:x"), None);
        assert_eq!(channels::parse_data("data:pihole"), Some("pihole"));
    }
}
