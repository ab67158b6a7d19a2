//! `/metrics` in Prometheus's text format.

use std::fmt::Write as _;

use sense_bus::model::PollOutcome;
use sense_bus::store::SourceSnapshot;

use crate::state::Counters;

/// Escapes a label value (`\`, `"`, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every numeric reading as a gauge, the sources' health, and the gateway's counters.
pub fn render<'a>(
    sources: impl Iterator<Item = (&'a str, &'a SourceSnapshot)>,
    counters: &Counters,
    bus_ok: bool,
) -> String {
    let sources: Vec<(&str, &SourceSnapshot)> = sources.collect();
    let mut out = String::with_capacity(4096);
    out.push_str("# HELP sense_reading The latest value of a reading (booleans as 0/1).\n");
    out.push_str("# TYPE sense_reading gauge\n");
    for (source, snapshot) in &sources {
        for (sensor, reading) in &snapshot.readings {
            let value = match &reading.value {
                sense_bus::model::Value::Bool(b) => Some(f64::from(u8::from(*b))),
                v => v.as_f64(),
            };
            let Some(value) = value else { continue };
            let _ = writeln!(
                out,
                "sense_reading{{source=\"{}\",sensor=\"{}\",unit=\"{}\"}} {value}",
                label(source),
                label(sensor),
                label(reading.unit.as_deref().unwrap_or(""))
            );
        }
    }
    let statuses: Vec<_> = sources
        .iter()
        .filter_map(|(id, s)| Some((id, s.status.as_ref()?)))
        .collect();
    for (name, help, kind) in [
        (
            "sense_source_up",
            "1 when the source's last poll wrote readings (all of them, or some: see \
             sense_source_partial), 0 when it failed.",
            "gauge",
        ),
        (
            "sense_source_partial",
            "1 when the source's last poll wrote only some of its readings (a monitor not heard).",
            "gauge",
        ),
        (
            "sense_source_polls_total",
            "Polls since the source was first run.",
            "counter",
        ),
        ("sense_source_errors_total", "Polls that failed.", "counter"),
        (
            "sense_source_last_success_timestamp_seconds",
            "When the source last wrote readings.",
            "gauge",
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (id, status) in &statuses {
            let value = match name {
                "sense_source_up" => f64::from(u8::from(status.outcome() != PollOutcome::Failed)),
                "sense_source_partial" => {
                    f64::from(u8::from(status.outcome() == PollOutcome::Partial))
                }
                "sense_source_polls_total" => status.poll_count as f64,
                "sense_source_errors_total" => status.error_count as f64,
                _ => match status.last_success {
                    Some(t) => t,
                    None => continue,
                },
            };
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {value}", label(id));
        }
    }
    for (name, help, kind, value) in [
        (
            "sense_gateway_requests_total",
            "HTTP requests handled.",
            "counter",
            counters.requests.get(),
        ),
        (
            "sense_gateway_auth_failures_total",
            "Requests refused for authentication.",
            "counter",
            counters.auth_failures.get(),
        ),
        (
            "sense_gateway_commands_total",
            "Commands sent to services.",
            "counter",
            counters.commands.get(),
        ),
        (
            "sense_gateway_websocket_clients",
            "WebSocket clients connected.",
            "gauge",
            counters.websocket_clients.get(),
        ),
        (
            "sense_gateway_websocket_dropped_total",
            "WebSocket clients dropped for being too slow.",
            "counter",
            counters.websocket_dropped.get(),
        ),
        (
            "sense_gateway_bus_up",
            "1 when the bus answers.",
            "gauge",
            u64::from(bus_ok),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use sense_bus::model::{Reading, Status, Value};

    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn readings_become_labelled_gauges() {
        let mut snapshot = SourceSnapshot::default();
        snapshot.readings.insert(
            "office:co2".into(),
            Reading {
                value: Value::Int(850),
                unit: Some("ppm".into()),
                timestamp: 1.0,
            },
        );
        snapshot.readings.insert(
            "weather_conditions".into(),
            Reading {
                value: Value::Text("Rain".into()),
                unit: None,
                timestamp: 1.0,
            },
        );
        snapshot.readings.insert(
            "connected".into(),
            Reading {
                value: Value::Bool(true),
                unit: None,
                timestamp: 1.0,
            },
        );
        let mut status = Status::new("co2");
        status.poll_count = 7;
        status.last_error = Some("garage \"x\" not heard".into());
        snapshot.status = Some(status);
        let mut all = BTreeMap::new();
        all.insert("co2".to_owned(), snapshot);
        let text = render(
            all.iter().map(|(k, v)| (k.as_str(), v)),
            &Counters::default(),
            true,
        );
        assert!(
            text.contains("sense_reading{source=\"co2\",sensor=\"office:co2\",unit=\"ppm\"} 850\n"),
            "{text}"
        );
        assert!(
            text.contains("sensor=\"connected\",unit=\"\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("weather_conditions"), "text is not a gauge");
        assert!(text.contains("sense_source_up{source=\"co2\"} 0\n"));
        assert!(text.contains("sense_source_partial{source=\"co2\"} 0\n"));
        // A partial poll (some monitors heard) is up, and says it is partial.
        let partial = all.get_mut("co2").unwrap().status.as_mut().unwrap();
        partial.outcome = Some(PollOutcome::Partial);
        let text = render(
            all.iter().map(|(k, v)| (k.as_str(), v)),
            &Counters::default(),
            true,
        );
        assert!(
            text.contains("sense_source_up{source=\"co2\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sense_source_partial{source=\"co2\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("sense_source_polls_total{source=\"co2\"} 7\n"));
        assert!(text.contains("sense_gateway_bus_up 1\n"));
    }
}
