//! The names the contract fixes: source ids and config sections.

use std::fmt;
use std::str::FromStr;

/// A data source, by its contract id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    /// The Sense HAT's sensors (`sensors`), always running.
    Sensors,
    /// Aranet4 CO2 monitors over Bluetooth LE (`co2`).
    Co2,
    /// Linux system figures (`system`).
    System,
    /// Weather from wttr.in (`weather`).
    Weather,
    /// Pi-hole statistics (`pihole`).
    Pihole,
    /// Tailscale connectivity (`tailscale`).
    Tailscale,
    /// The network camera's HLS stream (`network_camera`), started on demand.
    NetworkCamera,
}

impl SourceId {
    /// Every source, in the order the legacy display showed them.
    pub const ALL: [SourceId; 7] = [
        SourceId::Tailscale,
        SourceId::Pihole,
        SourceId::Sensors,
        SourceId::Weather,
        SourceId::Co2,
        SourceId::System,
        SourceId::NetworkCamera,
    ];

    /// The id on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceId::Sensors => "sensors",
            SourceId::Co2 => "co2",
            SourceId::System => "system",
            SourceId::Weather => "weather",
            SourceId::Pihole => "pihole",
            SourceId::Tailscale => "tailscale",
            SourceId::NetworkCamera => "network_camera",
        }
    }

    /// A human name, for `meta:{id}`.
    pub const fn display_name(self) -> &'static str {
        match self {
            SourceId::Sensors => "Sense HAT",
            SourceId::Co2 => "Aranet4 CO2",
            SourceId::System => "System",
            SourceId::Weather => "Weather",
            SourceId::Pihole => "Pi-hole",
            SourceId::Tailscale => "Tailscale",
            SourceId::NetworkCamera => "Network camera",
        }
    }

    /// A one-line description, for `meta:{id}`.
    pub const fn description(self) -> &'static str {
        match self {
            SourceId::Sensors => "Temperature, humidity and pressure from the Sense HAT",
            SourceId::Co2 => "CO2, temperature, humidity, pressure and battery of Aranet4 monitors",
            SourceId::System => "CPU, memory, load, temperature, disk and uptime of this machine",
            SourceId::Weather => "Current weather conditions and 3-day forecast from wttr.in",
            SourceId::Pihole => "DNS queries and blocked ads from Pi-hole",
            SourceId::Tailscale => "Tailscale connection and online peers",
            SourceId::NetworkCamera => "RTSP network camera restreamed as HLS",
        }
    }

    /// How the source runs when the orchestrator is in charge.
    pub const fn lifecycle(self) -> Lifecycle {
        match self {
            SourceId::Sensors => Lifecycle::Resident,
            SourceId::NetworkCamera => Lifecycle::OnDemand,
            _ => Lifecycle::Scheduled,
        }
    }
}

/// The source id of a microcontroller node on a serial link: `node-{name}`, from the node's own
/// id (its Hello). Not one of the fixed [`SourceId`]s: nodes come and go with their cables.
///
/// The name is kept to lowercase ASCII letters, digits, `-` and `_` (anything else becomes
/// `-`), at most [`NodeSourceId::MAX_NAME`] bytes: a source id is part of every key
/// (`source:{id}:{sensor}` splits at its first `:`) and of the dashboard's URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeSourceId(String);

impl NodeSourceId {
    /// What every node source id starts with.
    pub const PREFIX: &'static str = "node-";
    /// The longest name after the prefix (a node's Hello carries at most 32 bytes).
    pub const MAX_NAME: usize = 32;

    /// The source id of the node that calls itself `node_name`; `None` when nothing of the
    /// name is left to use (empty, or only characters that are replaced and trimmed).
    pub fn from_node_name(node_name: &str) -> Option<NodeSourceId> {
        let mut name = String::with_capacity(node_name.len());
        for c in node_name.chars() {
            let c = c.to_ascii_lowercase();
            let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
            let c = if keep { c } else { '-' };
            if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
                name.push(c);
            }
            if name.len() == Self::MAX_NAME {
                break;
            }
        }
        let name = name.trim_end_matches('-');
        (!name.is_empty()).then(|| NodeSourceId(format!("{}{name}", Self::PREFIX)))
    }

    /// `id` if it is a node source id as [`from_node_name`](Self::from_node_name) makes them.
    pub fn parse(id: &str) -> Option<NodeSourceId> {
        let name = id.strip_prefix(Self::PREFIX)?;
        NodeSourceId::from_node_name(name).filter(|made| made.0 == id)
    }

    /// The id on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The node's name: the id without its prefix.
    pub fn name(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }
}

impl fmt::Display for NodeSourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a source is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Polled on its schedule interval, one short run at a time (`source <id> --once`).
    Scheduled,
    /// Always running (it drives hardware between polls).
    Resident,
    /// Started when a user asks for it (the camera stream).
    OnDemand,
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown source id or section name; the message lists the valid ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}` (expected one of: {expected})")]
pub struct UnknownName {
    kind: &'static str,
    given: String,
    expected: String,
}

impl FromStr for SourceId {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceId::ALL
            .into_iter()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "source",
                given: s.to_owned(),
                expected: SourceId::ALL.map(SourceId::as_str).join(", "),
            })
    }
}

/// A config section, stored at `config:{section}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionName {
    /// `global`: settings every service shares.
    Global,
    /// `display`: the LED matrix.
    Display,
    /// `sleep`: when the display sleeps.
    Sleep,
    /// `weather`: wttr.in location and caching.
    Weather,
    /// `pihole`: Pi-hole address and password.
    Pihole,
    /// `aranet4`: the CO2 monitors to read.
    Aranet4,
    /// `camera`: network cameras and the HLS stream.
    Camera,
    /// `schedule`: poll intervals.
    Schedule,
    /// `auth`: the dashboard's login.
    Auth,
    /// `sensors`: the Sense HAT's sensors (ours).
    Sensors,
    /// `alerts`: alert rules and where alerts are sent (ours).
    Alerts,
    /// `mqtt`: the Home Assistant bridge over MQTT (ours).
    Mqtt,
}

impl SectionName {
    /// Every section.
    pub const ALL: [SectionName; 12] = [
        SectionName::Global,
        SectionName::Display,
        SectionName::Sleep,
        SectionName::Weather,
        SectionName::Pihole,
        SectionName::Aranet4,
        SectionName::Camera,
        SectionName::Schedule,
        SectionName::Auth,
        SectionName::Sensors,
        SectionName::Alerts,
        SectionName::Mqtt,
    ];

    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            SectionName::Global => "global",
            SectionName::Display => "display",
            SectionName::Sleep => "sleep",
            SectionName::Weather => "weather",
            SectionName::Pihole => "pihole",
            SectionName::Aranet4 => "aranet4",
            SectionName::Camera => "camera",
            SectionName::Schedule => "schedule",
            SectionName::Auth => "auth",
            SectionName::Sensors => "sensors",
            SectionName::Alerts => "alerts",
            SectionName::Mqtt => "mqtt",
        }
    }
}

impl fmt::Display for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SectionName {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SectionName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "config section",
                given: s.to_owned(),
                expected: SectionName::ALL.map(SectionName::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_ones_list_the_valid() {
        for id in SourceId::ALL {
            assert_eq!(id.as_str().parse::<SourceId>(), Ok(id));
        }
        let err = "aranet4".parse::<SourceId>().unwrap_err().to_string();
        assert!(
            err.contains("unknown source `aranet4`") && err.contains("co2"),
            "{err}"
        );
        for s in SectionName::ALL {
            assert_eq!(s.as_str().parse::<SectionName>(), Ok(s));
        }
        assert!("display2".parse::<SectionName>().is_err());
    }

    #[test]
    fn node_names_become_ids_safe_in_keys_and_urls() {
        let id = |name: &str| NodeSourceId::from_node_name(name).map(|id| id.to_string());
        assert_eq!(id("pico-e661").as_deref(), Some("node-pico-e661"));
        assert_eq!(
            id("Kitchen Pico #2").as_deref(),
            Some("node-kitchen-pico-2")
        );
        assert_eq!(id("a:b/c").as_deref(), Some("node-a-b-c"));
        assert_eq!(id("  ::  "), None);
        assert_eq!(id(""), None);
        let long = id(&"x".repeat(40)).unwrap();
        assert_eq!(
            long.len(),
            NodeSourceId::PREFIX.len() + NodeSourceId::MAX_NAME
        );
        assert_eq!(
            NodeSourceId::parse("node-pico-e661").map(|id| id.name().to_owned()),
            Some("pico-e661".to_owned())
        );
        for not_a_node in [
            "sensors", "node-", "node-A", "node-a:b", "node-a-", "node--a",
        ] {
            assert_eq!(NodeSourceId::parse(not_a_node), None, "{not_a_node}");
        }
    }
}
