//! The built-in alerts: a source down, a satellite Pi out of contact, the bus out of reach.
//!
//! A node (a satellite Pi) is lost when its `node:{node}` record says so
//! ([`NodeRecord::in_contact`]); it alerts once it has not been heard for `source_down.minutes`,
//! as one alert. Meanwhile its sources' source-down alerts wait: they are the node's silence,
//! not each source failing. When it is back, its sources get a whole `source_down.minutes` of
//! their own to report again.

use std::collections::BTreeSet;

use sense_bus::NodeName;
use sense_bus::ids::split_scoped;
use sense_bus::model::{AlertEvent, AlertKind, AlertTrigger, NodeRecord, PollOutcome, Status};

use super::{BUS_DOWN, Engine, NODE_LOST, SOURCE_DOWN};
use crate::text;

/// Where one source stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct SourceWatch {
    /// Since when it is down, and why.
    pub(super) down: Option<(f64, String)>,
    /// What it is called (its meta's name).
    pub(super) name: String,
    /// The fired event, while it alerts.
    pub(super) firing: Option<AlertEvent>,
}

/// Where one named node (a satellite Pi) stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct NodeWatch {
    /// Its room ("Kitchen").
    pub(super) room: String,
    /// When it was last heard, while it is lost.
    pub(super) lost: Option<f64>,
    /// The fired event, while it alerts.
    pub(super) firing: Option<AlertEvent>,
}

/// What is known of a source at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceObservation<'a> {
    /// The source id.
    pub source: &'a str,
    /// Its name for people (its meta's `name`).
    pub name: &'a str,
    /// Whether it is expected to run (its meta's `enabled`, and polled rather than on demand):
    /// a source that is not is never down.
    pub watched: bool,
    /// Its status; `None` when it expired.
    pub status: Option<&'a Status>,
}

/// The id of the alert of node `name` lost.
pub fn node_lost_id(name: &str) -> String {
    format!("{NODE_LOST}|{name}")
}

fn source_name(watch: &SourceWatch, source: &str) -> String {
    let name = if watch.name.is_empty() {
        source
    } else {
        &watch.name
    };
    text::source_in_room(name, source)
}

impl Engine {
    /// What is known of a source at `now`.
    pub fn source(&mut self, now: f64, seen: &SourceObservation<'_>) -> Vec<AlertEvent> {
        let watch = self.sources.entry(seen.source.to_owned()).or_default();
        watch.name = seen.name.to_owned();
        let down = match seen.status {
            _ if !seen.watched => None,
            None => Some("its status expired: it has not reported".to_owned()),
            Some(status) if status.outcome() == PollOutcome::Failed => Some(
                status
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "its polls fail".to_owned()),
            ),
            Some(_) => None,
        };
        let mut events = Vec::new();
        match down {
            Some(why) => {
                let since = watch.down.as_ref().map_or(now, |(since, _)| *since);
                watch.down = Some((since, why));
            }
            None => {
                watch.down = None;
                if let Some(fired) = watch.firing.take() {
                    let name = source_name(watch, &fired.source);
                    let message = if seen.watched {
                        format!("{name} is back after {}", text::duration(now - fired.since))
                    } else {
                        format!("{name} is no longer expected to run")
                    };
                    events.push(AlertEvent {
                        kind: AlertKind::Cleared,
                        at: now,
                        message,
                        ..fired
                    });
                }
            }
        }
        events.extend(self.tick(now));
        events
    }

    /// The records of every named node, read at `now` (all of them: a node whose record is gone
    /// was removed from the installation).
    pub fn nodes(&mut self, now: f64, records: &[NodeRecord]) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        let mut seen = BTreeSet::new();
        for record in records {
            let Ok(name) = NodeName::parse(&record.name) else {
                continue;
            };
            seen.insert(record.name.clone());
            let watch = self.nodes.entry(record.name.clone()).or_default();
            watch.room = name.room();
            if !record.in_contact(now) {
                watch.lost = Some(record.last_contact);
                continue;
            }
            if watch.lost.take().is_none() {
                continue;
            }
            if let Some(fired) = watch.firing.take() {
                events.push(AlertEvent {
                    kind: AlertKind::Cleared,
                    at: now,
                    message: format!(
                        "{}: in contact again after {}",
                        watch.room,
                        text::duration(now - fired.since)
                    ),
                    ..fired
                });
            }
            // Back: its sources have a whole `source_down.minutes` to report again, so their
            // statuses that expired meanwhile do not fire at once.
            for (source, watch) in &mut self.sources {
                if split_scoped(source).1 == Some(record.name.as_str())
                    && let Some((since, _)) = &mut watch.down
                {
                    *since = now;
                }
            }
        }
        let gone: Vec<String> = self
            .nodes
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(fired) = self.nodes.remove(&name).and_then(|w| w.firing) {
                events.push(AlertEvent {
                    kind: AlertKind::Cleared,
                    at: now,
                    message: format!("{}: no longer part of the installation", fired.label),
                    ..fired
                });
            }
        }
        events.extend(self.tick(now));
        events
    }

    /// Whether the node `source` runs on (`kitchen` for `co2@kitchen`) is lost.
    fn on_lost_node(&self, source: &str) -> bool {
        split_scoped(source)
            .1
            .and_then(|node| self.nodes.get(node))
            .is_some_and(|w| w.lost.is_some())
    }

    /// Whether the bus answered at `now`.
    pub fn bus(&mut self, now: f64, up: bool) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        if up {
            self.bus_down = None;
            if let Some(fired) = self.bus_firing.take() {
                events.push(AlertEvent {
                    kind: AlertKind::Cleared,
                    at: now,
                    message: format!(
                        "The data bus (Redis) is back after {}",
                        text::duration(now - fired.since)
                    ),
                    ..fired
                });
            }
        } else {
            self.bus_down.get_or_insert(now);
        }
        events.extend(self.tick(now));
        events
    }

    /// Fires the sources down, the nodes lost and the bus down that have lasted long enough.
    pub(super) fn tick_down(&mut self, now: f64, events: &mut Vec<AlertEvent>) {
        let down = &self.config.source_down;
        if down.enabled {
            let after = f64::from(down.minutes) * 60.0;
            for (name, watch) in &mut self.nodes {
                let Some(since) = watch.lost else {
                    continue;
                };
                if watch.firing.is_some() || now - since < after {
                    continue;
                }
                let fired = AlertEvent {
                    id: node_lost_id(name),
                    rule: NODE_LOST.to_owned(),
                    name: "Pi out of contact".to_owned(),
                    kind: AlertKind::Fired,
                    source: format!("orchestrator@{name}"),
                    sensor: None,
                    label: watch.room.clone(),
                    value: None,
                    unit: None,
                    threshold: None,
                    condition: AlertTrigger::NodeLost,
                    since,
                    at: now,
                    message: format!("{}: no contact since {}", watch.room, (self.clock)(since)),
                };
                events.push(fired.clone());
                watch.firing = Some(fired);
            }
            let lost: Vec<String> = self
                .sources
                .keys()
                .filter(|s| self.on_lost_node(s))
                .cloned()
                .collect();
            for (source, watch) in &mut self.sources {
                let Some((since, why)) = &watch.down else {
                    continue;
                };
                // A lost node's sources are its one alert; one already firing stays as it is.
                if watch.firing.is_some() || now - since < after || lost.contains(source) {
                    continue;
                }
                let name = source_name(watch, source);
                let fired = AlertEvent {
                    id: format!("{SOURCE_DOWN}|{source}"),
                    rule: SOURCE_DOWN.to_owned(),
                    name: "Source down".to_owned(),
                    kind: AlertKind::Fired,
                    source: source.clone(),
                    sensor: None,
                    label: name.clone(),
                    value: None,
                    unit: None,
                    threshold: None,
                    condition: AlertTrigger::SourceDown,
                    since: *since,
                    at: now,
                    message: format!(
                        "Source down: {name} has not worked since {} ({why})",
                        (self.clock)(*since)
                    ),
                };
                events.push(fired.clone());
                watch.firing = Some(fired);
            }
        }
        let bus = &self.config.bus_down;
        if bus.enabled
            && self.bus_firing.is_none()
            && let Some(since) = self.bus_down
            && now - since >= f64::from(bus.seconds)
        {
            let fired = AlertEvent {
                id: BUS_DOWN.to_owned(),
                rule: BUS_DOWN.to_owned(),
                name: "Data bus down".to_owned(),
                kind: AlertKind::Fired,
                source: String::new(),
                sensor: None,
                label: "Data bus (Redis)".to_owned(),
                value: None,
                unit: None,
                threshold: None,
                condition: AlertTrigger::BusDown,
                since,
                at: now,
                message: format!(
                    "Data bus down: Redis has been out of reach since {}; readings are not \
                     updated",
                    (self.clock)(since)
                ),
            };
            events.push(fired.clone());
            self.bus_firing = Some(fired);
        }
    }
}
