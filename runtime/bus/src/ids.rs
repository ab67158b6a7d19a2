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

    /// Whether every Pi has its own (its hardware, its system, its link): a named node runs
    /// these. The others (`weather`, `pihole`) are one per installation, run by the hub.
    pub const fn per_node(self) -> bool {
        !matches!(self, SourceId::Weather | SourceId::Pihole)
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

/// The name of one Pi of a multi-node installation (`kitchen`): a satellite's `NODE_NAME` or
/// `--node`. Not to be confused with a microcontroller node on a serial link ([`NodeSourceId`]).
///
/// 1 to [`NodeName::MAX`] lowercase ASCII letters, digits and `-`, starting with a letter or a
/// digit and not ending with `-`: it is part of keys, channels, Redis user names and URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(String);

/// A node name that cannot be used, and why, in words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("node name `{given}` {reason}")]
pub struct InvalidNodeName {
    given: String,
    reason: &'static str,
}

impl NodeName {
    /// The longest name.
    pub const MAX: usize = 32;

    /// `name` if it is a valid node name.
    pub fn parse(name: &str) -> Result<NodeName, InvalidNodeName> {
        let refuse = |reason| {
            Err(InvalidNodeName {
                given: name.to_owned(),
                reason,
            })
        };
        if name.is_empty() {
            return refuse("is empty");
        }
        if name.len() > Self::MAX {
            return refuse("is longer than 32 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return refuse("may hold only lowercase letters a-z, digits and `-`");
        }
        if name.starts_with('-') || name.ends_with('-') {
            return refuse("may not start or end with `-`");
        }
        Ok(NodeName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room the dashboard shows for it: `living-room` → "Living room".
    pub fn room(&self) -> String {
        let words = self.0.replace('-', " ");
        let mut chars = words.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeName {
    type Err = InvalidNodeName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeName::parse(s)
    }
}

/// What separates a source id or a config section from the node it belongs to:
/// `sensors@kitchen`, `config:display@kitchen`.
pub const NODE_SEPARATOR: char = '@';

/// Splits a possibly node-scoped name (`sensors@kitchen`) into the name and the node's.
pub fn split_scoped(id: &str) -> (&str, Option<&str>) {
    match id.split_once(NODE_SEPARATOR) {
        Some((base, node)) => (base, Some(node)),
        None => (id, None),
    }
}

/// Whose keys a service writes: the hub's (no node name, exactly the single-Pi contract) or a
/// named node's, whose every source id, key and channel carries `@{node}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope(Option<NodeName>);

impl Scope {
    /// The hub, or a single Pi: ids as the contract has them.
    pub const HUB: Scope = Scope(None);

    /// A named node.
    pub fn node(name: NodeName) -> Scope {
        Scope(Some(name))
    }

    /// The node's name; `None` on the hub.
    pub fn name(&self) -> Option<&NodeName> {
        self.0.as_ref()
    }

    /// Whether this is the hub.
    pub fn is_hub(&self) -> bool {
        self.0.is_none()
    }

    /// `id` as this node's: `sensors` on the hub, `sensors@kitchen` on `kitchen`.
    pub fn id(&self, id: &str) -> String {
        match &self.0 {
            None => id.to_owned(),
            Some(node) => format!("{id}{NODE_SEPARATOR}{node}"),
        }
    }

    /// [`Scope::id`] of a [`SourceId`].
    pub fn source(&self, id: SourceId) -> String {
        self.id(id.as_str())
    }

    /// The name of this node's override of `section` (`display@kitchen`), for the sections a
    /// node may override ([`SectionName::per_node`]); `None` on the hub and for shared sections.
    pub fn section_override(&self, section: SectionName) -> Option<String> {
        let node = self.0.as_ref()?;
        section
            .per_node()
            .then(|| format!("{section}{NODE_SEPARATOR}{node}"))
    }

    /// Whether `id` (a source id, a section, a channel's last part) belongs to this scope.
    pub fn owns(&self, id: &str) -> bool {
        match (&self.0, split_scoped(id).1) {
            (None, None) => true,
            (Some(mine), Some(theirs)) => mine.as_str() == theirs,
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("the hub"),
            Some(node) => write!(f, "node {node}"),
        }
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

    /// Whether a node may override it (`config:display@kitchen`), because the hardware differs
    /// from Pi to Pi: the display's rotation and sleep, the Aranet4 list, the camera, the Sense
    /// HAT's sensors. The fields an override sets win; the others come from the shared section.
    pub const fn per_node(self) -> bool {
        matches!(
            self,
            SectionName::Display
                | SectionName::Sleep
                | SectionName::Aranet4
                | SectionName::Camera
                | SectionName::Sensors
        )
    }

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
    fn node_names_are_checked_and_scope_every_id() {
        for bad in [
            "",
            "Kitchen",
            "a_b",
            "-a",
            "a-",
            "a@b",
            "a:b",
            &"x".repeat(33),
        ] {
            assert!(NodeName::parse(bad).is_err(), "{bad}");
        }
        let err = NodeName::parse("Kitchen").unwrap_err().to_string();
        assert!(err.contains("lowercase"), "{err}");
        let kitchen = NodeName::parse("living-room").unwrap();
        assert_eq!(kitchen.room(), "Living room");
        let node = Scope::node(kitchen);
        assert_eq!(node.source(SourceId::Sensors), "sensors@living-room");
        assert_eq!(Scope::HUB.source(SourceId::Sensors), "sensors");
        assert_eq!(
            node.section_override(SectionName::Display).as_deref(),
            Some("display@living-room")
        );
        assert_eq!(node.section_override(SectionName::Pihole), None);
        assert_eq!(Scope::HUB.section_override(SectionName::Display), None);
        assert!(node.owns("co2@living-room") && !node.owns("co2") && !node.owns("co2@hall"));
        assert!(Scope::HUB.owns("co2") && !Scope::HUB.owns("co2@hall"));
        assert_eq!(split_scoped("co2@hall"), ("co2", Some("hall")));
    }

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
