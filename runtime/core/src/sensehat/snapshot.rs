//! What the LED display shows, read from the bus.

use std::collections::BTreeMap;

use sense_bus::model::Value;
use sense_bus::store::SourceSnapshot;
use sense_display::{Co2, Pihole, SenseHat, Snapshot, System, Tailscale, Weather};

fn number(source: &SourceSnapshot, sensor: &str) -> Option<f64> {
    match source.readings.get(sensor).map(|r| &r.value) {
        Some(Value::Null) | None => None,
        Some(v) => v.as_f64(),
    }
}

fn integer(source: &SourceSnapshot, sensor: &str) -> Option<i64> {
    match source.readings.get(sensor).map(|r| &r.value) {
        Some(Value::Int(i)) => Some(*i),
        // Upstream writers sometimes send whole numbers as floats.
        #[allow(clippy::cast_possible_truncation)]
        Some(Value::Float(f)) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn text<const N: usize>(s: &str) -> heapless::String<N> {
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = heapless::String::new();
    let _ = out.push_str(&s[..end]);
    out
}

/// Builds the display's snapshot from every source's readings. A source with no readings is left
/// out, and so is a value that is missing or null: the display never shows a made-up zero.
pub fn from_bus(all: &BTreeMap<String, SourceSnapshot>) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let present = |id: &str| all.get(id).filter(|s| !s.readings.is_empty());

    if let Some(s) = present("tailscale") {
        let connected = s.readings.get("connected").and_then(|r| r.value.as_bool());
        if let Some(connected) = connected {
            snapshot.tailscale = Some(Tailscale {
                connected,
                online_peers: integer(s, "device_count"),
            });
        }
    }
    if let Some(s) = present("pihole") {
        snapshot.pihole = Some(Pihole {
            queries: integer(s, "queries_today"),
            blocked: integer(s, "ads_blocked_today"),
            blocked_percent: number(s, "ads_percentage_today"),
        });
    }
    if let Some(s) = present("sensors") {
        // The compensated temperature is the room's; the raw one reads the Pi's heat.
        let temperature = number(s, "temperature_compensated").or_else(|| number(s, "temperature"));
        let humidity = number(s, "humidity_compensated").or_else(|| number(s, "humidity"));
        snapshot.sensehat = Some(SenseHat {
            temperature_c: temperature,
            humidity_percent: humidity,
            pressure_hpa: number(s, "pressure"),
        });
    }
    if let Some(s) = present("weather") {
        let conditions = s
            .readings
            .get("weather_conditions")
            .and_then(|r| r.value.as_text().map(text));
        snapshot.weather = Some(Weather {
            temperature_c: number(s, "weather_temp"),
            conditions,
        });
    }
    if let Some(s) = present("co2") {
        // Labels in the order of their keys, each from `{label}:{metric}` readings.
        let mut labels: Vec<&str> = s
            .readings
            .keys()
            .filter_map(|k| k.rsplit_once(':').map(|(l, _)| l))
            .collect();
        labels.dedup();
        for label in labels {
            let at = |metric: &str| format!("{label}:{metric}");
            let co2 = Co2 {
                label: text(label),
                ppm: integer(s, &at("co2")),
                temperature_c: number(s, &at("temperature")),
                humidity_percent: number(s, &at("humidity")),
            };
            if snapshot.co2.push(co2).is_err() {
                break;
            }
        }
    }
    if let Some(s) = present("system") {
        snapshot.system = Some(System {
            cpu_percent: number(s, "cpu_percent"),
            memory_percent: number(s, "memory_percent"),
            cpu_temp_c: number(s, "cpu_temp"),
        });
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use sense_bus::model::Reading;

    use super::*;

    fn source(readings: &[(&str, Value)]) -> SourceSnapshot {
        SourceSnapshot {
            readings: readings
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        Reading {
                            value: v.clone(),
                            unit: None,
                            timestamp: 0.0,
                        },
                    )
                })
                .collect(),
            status: None,
        }
    }

    #[test]
    fn readings_become_the_display_snapshot() {
        let mut all = BTreeMap::new();
        all.insert(
            "tailscale".into(),
            source(&[
                ("connected", Value::Bool(true)),
                ("device_count", Value::Int(5)),
            ]),
        );
        all.insert(
            "sensors".into(),
            source(&[
                ("temperature", Value::Float(28.0)),
                ("temperature_compensated", Value::Float(21.5)),
                ("humidity", Value::Null),
                ("pressure", Value::Float(1013.2)),
            ]),
        );
        all.insert(
            "co2".into(),
            source(&[
                ("office:co2", Value::Int(850)),
                ("office:temperature", Value::Float(22.0)),
                ("bedroom:co2", Value::Int(1600)),
            ]),
        );
        all.insert(
            "system".into(),
            source(&[
                ("cpu_percent", Value::Float(12.0)),
                ("cpu_temp", Value::Null),
            ]),
        );
        all.insert("weather".into(), source(&[]));

        let s = from_bus(&all);
        assert_eq!(s.tailscale.unwrap().online_peers, Some(5));
        let hat = s.sensehat.unwrap();
        assert_eq!(
            hat.temperature_c,
            Some(21.5),
            "the compensated temperature wins"
        );
        assert_eq!(hat.humidity_percent, None, "null stays missing, never 0");
        let labels: Vec<&str> = s.co2.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["bedroom", "office"]);
        assert_eq!(s.co2[1].temperature_c, Some(22.0));
        assert_eq!(s.system.unwrap().cpu_temp_c, None);
        assert!(s.weather.is_none(), "a source without readings is skipped");
        assert!(s.pihole.is_none());
    }
}
