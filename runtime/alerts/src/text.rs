//! What alerts say, in words: the sensor's name, numbers with their units, durations and times of
//! day.

use sense_bus::ids::split_scoped;
use sense_bus::{NodeName, NodeSourceId};

/// What a sensor is called in messages: its kind (`CO₂`, `CPU temperature`), for a sensor of
/// one device among several which device (`office` for the co2 source's `office:co2`, the
/// node's name for a node's sensor), and for a satellite Pi's source its room (`Kitchen` for
/// `co2@kitchen`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorName {
    /// `CO₂`, `CPU temperature`, or the sensor id when it is not known.
    pub kind: String,
    /// The device, when the source has several (`office`).
    pub device: Option<String>,
    /// The room of the Pi the source runs on; `None` on the hub.
    pub room: Option<String>,
}

impl SensorName {
    /// The names of `sensor` of `source`.
    pub fn of(source: &str, sensor: &str) -> SensorName {
        let (base, _) = split_scoped(source);
        let room = room_of(source);
        if let Some((device, kind)) = sensor.split_once(':') {
            return SensorName {
                kind: kind_name(kind),
                device: Some(device.to_owned()),
                room,
            };
        }
        let device = NodeSourceId::parse(base).map(|n| n.name().to_owned());
        SensorName {
            kind: kind_name(sensor),
            device,
            room,
        }
    }

    /// For people, in one: `CO₂ · office`, `CPU temperature`, `CO₂ · office · Kitchen`.
    pub fn label(&self) -> String {
        let mut label = self.kind.clone();
        for part in [&self.device, &self.room].into_iter().flatten() {
            label.push_str(" · ");
            label.push_str(part);
        }
        label
    }

    /// Where the value is, as a message names it: the device, else the kind, and the room of
    /// a satellite's (`office`, `CPU temperature`, `office in Kitchen`).
    pub fn place(&self) -> String {
        let place = self.device.as_deref().unwrap_or(&self.kind);
        match &self.room {
            Some(room) => format!("{place} in {room}"),
            None => place.to_owned(),
        }
    }

    /// Where a value that came back is, before its number: `office at`, `in Kitchen at`, `at`.
    pub fn back_at(&self) -> String {
        let mut at = String::new();
        if let Some(device) = &self.device {
            at.push_str(device);
            at.push(' ');
        }
        if let Some(room) = &self.room {
            at.push_str("in ");
            at.push_str(room);
            at.push(' ');
        }
        at.push_str("at");
        at
    }
}

/// The room of the Pi `source` runs on (`Kitchen` for `co2@kitchen`); `None` for the hub's.
pub fn room_of(source: &str) -> Option<String> {
    let node = split_scoped(source).1?;
    NodeName::parse(node).ok().map(|n| n.room())
}

/// A source's name for people with its room, for a satellite's (`Aranet4 CO2 in Kitchen`).
pub fn source_in_room(name: &str, source: &str) -> String {
    match room_of(source) {
        Some(room) => format!("{name} in {room}"),
        None => name.to_owned(),
    }
}

/// The name of a sensor kind (the last part of its id).
fn kind_name(kind: &str) -> String {
    let name = match kind {
        "co2" => "CO₂",
        "battery" => "Battery",
        "temperature" => "Temperature",
        "temperature_compensated" => "Temperature",
        "humidity" | "humidity_compensated" => "Humidity",
        "pressure" => "Pressure",
        "cpu_temp" => "CPU temperature",
        "cpu_percent" => "CPU use",
        "memory_percent" => "Memory use",
        "swap_percent" => "Swap use",
        "disk_percent" => "Disk use",
        "load_1min" => "Load",
        "load_5min" => "Load (5 min)",
        "load_15min" => "Load (15 min)",
        "weather_temp" => "Outdoor temperature",
        "weather_feels_like" => "Feels-like temperature",
        "weather_humidity" => "Outdoor humidity",
        "weather_wind" => "Wind",
        "weather_uv_index" => "UV index",
        "ads_percentage_today" => "Ads blocked",
        "queries_today" => "DNS queries",
        "device_count" => "Tailscale devices",
        other => other,
    };
    name.to_owned()
}

/// A unit as people write it after a number (`°C` for the contract's `C`).
pub fn unit_text(unit: Option<&str>) -> String {
    match unit {
        None | Some("") => String::new(),
        Some("C") => "°C".to_owned(),
        Some(u) => u.to_owned(),
    }
}

/// `value` with at most two decimals, trailing zeros dropped, and its unit: `1520 ppm`,
/// `80.5 °C`.
pub fn quantity(value: f64, unit: Option<&str>) -> String {
    let mut number = format!("{value:.2}");
    if number.contains('.') {
        number = number
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned();
    }
    if number == "-0" {
        number = "0".to_owned();
    }
    let unit = unit_text(unit);
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

/// A duration in the largest units that say it: `40 s`, `35 min`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => match (s / 3600, s % 3600 / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        _ => match (s / 86_400, s % 86_400 / 3600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

/// How a time of day is written: `HH:MM` in the local zone.
pub type Clock = fn(f64) -> String;

/// The local time of day of Unix time `unix` (`TZ`, `/etc/localtime`), as `14:02`.
pub fn local_clock(unix: f64) -> String {
    let (h, m) = sense_linux::local_hour_minute(unix.floor() as i64);
    format!("{h:02}:{m:02}")
}

/// The time of day of Unix time `unix` in UTC: for tests.
pub fn utc_clock(unix: f64) -> String {
    let s = (unix.floor() as i64).rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors_are_named_with_their_device() {
        let co2 = SensorName::of("co2", "office:co2");
        assert_eq!(co2.label(), "CO₂ · office");
        assert_eq!(co2.place(), "office");
        let cpu = SensorName::of("system", "cpu_temp");
        assert_eq!(cpu.label(), "CPU temperature");
        assert_eq!(cpu.place(), "CPU temperature");
        assert_eq!(
            SensorName::of("node-kitchen", "temperature").label(),
            "Temperature · kitchen"
        );
        assert_eq!(SensorName::of("system", "mystery").label(), "mystery");
    }

    #[test]
    fn a_satellite_sensor_is_named_with_its_room() {
        let co2 = SensorName::of("co2@kitchen", "office:co2");
        assert_eq!(co2.label(), "CO₂ · office · Kitchen");
        assert_eq!(co2.place(), "office in Kitchen");
        assert_eq!(co2.back_at(), "office in Kitchen at");
        let cpu = SensorName::of("system@living-room", "cpu_temp");
        assert_eq!(cpu.label(), "CPU temperature · Living room");
        assert_eq!(cpu.place(), "CPU temperature in Living room");
        assert_eq!(cpu.back_at(), "in Living room at");
        assert_eq!(
            SensorName::of("node-pico@kitchen", "temperature").label(),
            "Temperature · pico · Kitchen"
        );
        assert_eq!(SensorName::of("system", "cpu_temp").back_at(), "at");
        assert_eq!(
            source_in_room("System", "system@kitchen"),
            "System in Kitchen"
        );
        assert_eq!(source_in_room("System", "system"), "System");
    }

    #[test]
    fn numbers_durations_and_times_read_naturally() {
        assert_eq!(quantity(1520.0, Some("ppm")), "1520 ppm");
        assert_eq!(quantity(80.456, Some("C")), "80.46 °C");
        assert_eq!(quantity(7.5, Some("%")), "7.5 %");
        assert_eq!(quantity(-0.001, None), "0");
        assert_eq!(duration(40.0), "40 s");
        assert_eq!(duration(35.0 * 60.0 + 20.0), "35 min");
        assert_eq!(duration(2.0 * 3600.0 + 300.0), "2 h 5 min");
        assert_eq!(duration(3600.0), "1 h");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 4 h");
        assert_eq!(utc_clock(1_708_000_000.0 + 0.9), "12:26");
        assert_eq!(local_clock(0.0).len(), 5);
    }
}
