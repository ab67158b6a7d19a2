//! The alert rules as a state machine, without I/O: readings, statuses and the bus's reach go in
//! with the time they are observed at, fired and cleared [`AlertEvent`]s come out. Unit-tested with
//! explicit times.
//!
//! - A rule on a reading fires when the value has been past its threshold (`≥` for `above`, `≤`
//!   for `below`) for `for_s` seconds without a break, and clears only once the value is back past
//!   `threshold ∓ hysteresis`: a value hovering at the line fires once. A rule on `co2` watches
//!   every Pi's (`co2@kitchen` too, each sensor on its own); one on `co2@kitchen` only that Pi's.
//! - A source is down while its status says `failed` or has expired; it alerts after
//!   `source_down.minutes` of that, and clears when a poll goes well again.
//! - A satellite Pi not heard from for `source_down.minutes` is one alert, instead of each of
//!   its sources down (the `down` module).
//! - The bus is down while the alerts service cannot reach Redis; it alerts after
//!   `bus_down.seconds` and clears when Redis answers again.

use std::collections::{BTreeMap, HashMap};

use sense_bus::config::{AlertCondition, AlertRule, AlertsConfig};
use sense_bus::glob_match;
use sense_bus::ids::split_scoped;
use sense_bus::model::{AlertEvent, AlertKind, AlertTrigger};

use crate::text::{self, Clock, SensorName};

mod down;

use down::{NodeWatch, SourceWatch};
pub use down::{SourceObservation, node_lost_id};

/// The rule id of a source-down alert.
pub const SOURCE_DOWN: &str = "source-down";
/// The rule id of the bus-down alert.
pub const BUS_DOWN: &str = "bus-down";
/// The rule id of a node-lost alert (a satellite Pi out of contact).
pub const NODE_LOST: &str = "node-lost";

/// Where one rule stands for one sensor.
#[derive(Clone, Debug, PartialEq)]
enum RuleState {
    /// Past the threshold since then, not for long enough yet; the last value seen past it.
    Pending {
        since: f64,
        value: f64,
        unit: Option<String>,
    },
    /// Fired (the event as it fired).
    Firing(Box<AlertEvent>),
}

/// The rules' state: feed it observations, collect events.
#[derive(Debug)]
pub struct Engine {
    config: AlertsConfig,
    clock: Clock,
    /// By `(rule id, source, sensor)`.
    rules: HashMap<(String, String, String), RuleState>,
    sources: BTreeMap<String, SourceWatch>,
    /// By node name (`kitchen`).
    nodes: BTreeMap<String, NodeWatch>,
    /// Since when the bus is out of reach.
    bus_down: Option<f64>,
    bus_firing: Option<AlertEvent>,
}

/// The id of the alert of `rule` on `sensor` of `source`.
pub fn alert_id(rule: &str, source: &str, sensor: &str) -> String {
    format!("{rule}|{source}|{sensor}")
}

/// Whether a rule on `rule_source` watches `source`: `co2` watches every Pi's (`co2`,
/// `co2@kitchen`), `co2@kitchen` only the kitchen's.
fn watches(rule_source: &str, source: &str) -> bool {
    rule_source == source || (!rule_source.contains('@') && split_scoped(source).0 == rule_source)
}

fn past(rule: &AlertRule, value: f64) -> bool {
    match rule.condition {
        AlertCondition::Above => value >= rule.threshold,
        AlertCondition::Below => value <= rule.threshold,
    }
}

fn back(rule: &AlertRule, value: f64) -> bool {
    match rule.condition {
        AlertCondition::Above => value < rule.threshold - rule.hysteresis,
        AlertCondition::Below => value > rule.threshold + rule.hysteresis,
    }
}

impl Engine {
    /// An engine with `config`, writing times of day with `clock`.
    pub fn new(config: AlertsConfig, clock: Clock) -> Engine {
        Engine {
            config,
            clock,
            rules: HashMap::new(),
            sources: BTreeMap::new(),
            nodes: BTreeMap::new(),
            bus_down: None,
            bus_firing: None,
        }
    }

    /// The config in force.
    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    /// The alerts firing now, by id, each as it fired.
    pub fn active(&self) -> Vec<AlertEvent> {
        let mut all: Vec<AlertEvent> = self
            .rules
            .values()
            .filter_map(|s| match s {
                RuleState::Firing(e) => Some((**e).clone()),
                RuleState::Pending { .. } => None,
            })
            .chain(self.sources.values().filter_map(|s| s.firing.clone()))
            .chain(self.nodes.values().filter_map(|n| n.firing.clone()))
            .chain(self.bus_firing.clone())
            .collect();
        all.sort_by(|a, b| a.since.total_cmp(&b.since).then(a.id.cmp(&b.id)));
        all
    }

    /// Takes back the alerts that were active (`alerts:active` of an earlier run), so a restart
    /// neither fires them again nor forgets to clear them.
    pub fn restore(&mut self, active: Vec<AlertEvent>) {
        for event in active {
            match event.rule.as_str() {
                BUS_DOWN => {
                    self.bus_down.get_or_insert(event.since);
                    self.bus_firing = Some(event);
                }
                NODE_LOST => {
                    let Some((_, name)) = event.id.split_once('|') else {
                        continue;
                    };
                    let watch = self.nodes.entry(name.to_owned()).or_default();
                    watch.room = event.label.clone();
                    watch.lost = Some(event.since);
                    watch.firing = Some(event);
                }
                SOURCE_DOWN => {
                    let watch = self.sources.entry(event.source.clone()).or_default();
                    watch.down = Some((event.since, String::new()));
                    watch.firing = Some(event);
                }
                _ => {
                    let Some(sensor) = event.sensor.clone() else {
                        continue;
                    };
                    let key = (event.rule.clone(), event.source.clone(), sensor);
                    self.rules.insert(key, RuleState::Firing(Box::new(event)));
                }
            }
        }
    }

    /// Puts `config` in force. Alerts of rules that are gone or switched off (or of everything,
    /// when alerts are off) clear, saying so; a rule's new threshold applies from its next
    /// reading.
    pub fn set_config(&mut self, config: AlertsConfig, now: f64) -> Vec<AlertEvent> {
        self.config = config;
        let mut events = Vec::new();
        let on = self.config.enabled;
        let rules = &self.config.rules;
        let in_use = |id: &str| on && rules.iter().any(|r| r.id == id && r.enabled);
        let mut gone = Vec::new();
        for (key, state) in &self.rules {
            if !in_use(&key.0) {
                gone.push(key.clone());
                if let RuleState::Firing(fired) = state {
                    events.push(self.switched_off(fired, now));
                }
            }
        }
        for key in gone {
            self.rules.remove(&key);
        }
        if !on || !self.config.source_down.enabled {
            let firing: Vec<AlertEvent> = self
                .sources
                .values_mut()
                .filter_map(|w| w.firing.take())
                .chain(self.nodes.values_mut().filter_map(|w| w.firing.take()))
                .collect();
            events.extend(firing.iter().map(|f| self.switched_off(f, now)));
        }
        if (!on || !self.config.bus_down.enabled)
            && let Some(fired) = self.bus_firing.take()
        {
            events.push(self.switched_off(&fired, now));
        }
        events.extend(self.tick(now));
        events
    }

    fn switched_off(&self, fired: &AlertEvent, now: f64) -> AlertEvent {
        AlertEvent {
            kind: AlertKind::Cleared,
            at: now,
            message: format!(
                "{}: no longer watched (alert switched off in the settings)",
                fired.name
            ),
            ..fired.clone()
        }
    }

    fn rules_for<'a>(
        &'a self,
        source: &'a str,
        sensor: &'a str,
    ) -> impl Iterator<Item = &'a AlertRule> {
        let on = self.config.enabled;
        self.config.rules.iter().filter(move |r| {
            on && r.enabled && watches(&r.source, source) && glob_match(&r.sensor, sensor)
        })
    }

    /// A numeric reading of `sensor` of `source`, observed at `now`.
    pub fn reading(
        &mut self,
        now: f64,
        source: &str,
        sensor: &str,
        value: f64,
        unit: Option<&str>,
    ) -> Vec<AlertEvent> {
        let rules: Vec<AlertRule> = self.rules_for(source, sensor).cloned().collect();
        let mut events = Vec::new();
        for rule in rules {
            let key = (rule.id.clone(), source.to_owned(), sensor.to_owned());
            let state = self.rules.remove(&key);
            let next = match state {
                None | Some(RuleState::Pending { .. }) if !past(&rule, value) => None,
                None => Some(RuleState::Pending {
                    since: now,
                    value,
                    unit: unit.map(str::to_owned),
                }),
                Some(RuleState::Pending { since, .. }) => Some(RuleState::Pending {
                    since,
                    value,
                    unit: unit.map(str::to_owned),
                }),
                Some(RuleState::Firing(fired)) if back(&rule, value) => {
                    events.push(self.cleared(&fired, value, now));
                    None
                }
                Some(firing @ RuleState::Firing(_)) => Some(firing),
            };
            // Held long enough (at once for `for_s` 0)?
            let next = match next {
                Some(RuleState::Pending { since, value, .. })
                    if now - since >= f64::from(rule.for_s) =>
                {
                    let fired = self.fired(&rule, source, sensor, value, unit, since, now);
                    events.push(fired.clone());
                    Some(RuleState::Firing(Box::new(fired)))
                }
                other => other,
            };
            if let Some(next) = next {
                self.rules.insert(key, next);
            }
        }
        events
    }

    /// `sensor` of `source` has no numeric value any more (its reading expired, or is `null`): a
    /// rule waiting on it starts over. One that fired stays until a value clears it (the source
    /// being down says the rest).
    pub fn reading_gone(&mut self, source: &str, sensor: &str) {
        self.rules.retain(|(_, so, se), state| {
            !(so == source && se == sensor && matches!(state, RuleState::Pending { .. }))
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn fired(
        &self,
        rule: &AlertRule,
        source: &str,
        sensor: &str,
        value: f64,
        unit: Option<&str>,
        since: f64,
        now: f64,
    ) -> AlertEvent {
        let names = SensorName::of(source, sensor);
        let sign = match rule.condition {
            AlertCondition::Above => "≥",
            AlertCondition::Below => "≤",
        };
        let message = format!(
            "{}: {} is at {} ({sign} {}) since {}",
            rule.name,
            names.place(),
            text::quantity(value, unit),
            text::quantity(rule.threshold, unit),
            (self.clock)(since),
        );
        AlertEvent {
            id: alert_id(&rule.id, source, sensor),
            rule: rule.id.clone(),
            name: rule.name.clone(),
            kind: AlertKind::Fired,
            source: source.to_owned(),
            sensor: Some(sensor.to_owned()),
            label: names.label(),
            value: Some(value),
            unit: unit.map(str::to_owned),
            threshold: Some(rule.threshold),
            condition: match rule.condition {
                AlertCondition::Above => AlertTrigger::Above,
                AlertCondition::Below => AlertTrigger::Below,
            },
            since,
            at: now,
            message,
        }
    }

    fn cleared(&self, fired: &AlertEvent, value: f64, now: f64) -> AlertEvent {
        let sensor = fired.sensor.as_deref().unwrap_or_default();
        let names = SensorName::of(&fired.source, sensor);
        let at = names.back_at();
        AlertEvent {
            kind: AlertKind::Cleared,
            value: Some(value),
            at: now,
            message: format!(
                "{} back to normal: {at} {} after {}",
                names.kind,
                text::quantity(value, fired.unit.as_deref()),
                text::duration(now - fired.since),
            ),
            ..fired.clone()
        }
    }

    /// The time is `now`: fires what has waited long enough (a rule's value held, a source down,
    /// a node lost, the bus down).
    pub fn tick(&mut self, now: f64) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        if !self.config.enabled {
            return events;
        }
        // Rules whose value has held past the threshold long enough, with no new reading since.
        type Due = ((String, String, String), f64, f64, Option<String>);
        let due: Vec<Due> = self
            .rules
            .iter()
            .filter_map(|(key, state)| match state {
                RuleState::Pending { since, value, unit } => {
                    Some((key.clone(), *since, *value, unit.clone()))
                }
                RuleState::Firing(_) => None,
            })
            .collect();
        for (key, since, value, unit) in due {
            let Some(rule) = self.config.rules.iter().find(|r| r.id == key.0).cloned() else {
                continue;
            };
            if now - since >= f64::from(rule.for_s) {
                let (source, sensor) = (&key.1, &key.2);
                let fired = self.fired(&rule, source, sensor, value, unit.as_deref(), since, now);
                events.push(fired.clone());
                self.rules.insert(key, RuleState::Firing(Box::new(fired)));
            }
        }
        self.tick_down(now, &mut events);
        events
    }
}

#[cfg(test)]
mod tests;
