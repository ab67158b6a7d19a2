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
}

impl SectionName {
    /// Every section.
    pub const ALL: [SectionName; 10] = [
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
}
