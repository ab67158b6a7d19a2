//! The alert rules as a state machine, without I/O: readings, statuses and the bus's reach go in
//! with the time they are observed at, fired and cleared [`AlertEvent`]s come out. Unit-tested with
//! explicit times.
//!
//! - A rule on a reading fires when the value has been past its threshold (`≥` for `above`, `≤`
//!   for `below`) for `for_s` seconds without a break, and clears only once the value is back past
//!   `threshold ∓ hysteresis`: a value hovering at the line fires once.
//! - A source is down while its status says `failed` or has expired; it alerts after
//!   `source_down.minutes` of that, and clears when a poll goes well again.
//! - The bus is down while the alerts service cannot reach Redis; it alerts after
//!   `bus_down.seconds` and clears when Redis answers again.

use std::collections::{BTreeMap, HashMap};

use sense_bus::config::{AlertCondition, AlertRule, AlertsConfig};
use sense_bus::glob_match;
use sense_bus::model::{AlertEvent, AlertKind, AlertTrigger, PollOutcome, Status};

use crate::text::{self, Clock, SensorName};

/// The rule id of a source-down alert.
pub const SOURCE_DOWN: &str = "source-down";
/// The rule id of the bus-down alert.
pub const BUS_DOWN: &str = "bus-down";

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

/// Where one source stands.
#[derive(Clone, Debug, Default, PartialEq)]
struct SourceWatch {
    /// Since when it is down, and why.
    down: Option<(f64, String)>,
    /// What it is called (its meta's name).
    name: String,
    /// The fired event, while it alerts.
    firing: Option<AlertEvent>,
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

/// The rules' state: feed it observations, collect events.
#[derive(Debug)]
pub struct Engine {
    config: AlertsConfig,
    clock: Clock,
    /// By `(rule id, source, sensor)`.
    rules: HashMap<(String, String, String), RuleState>,
    sources: BTreeMap<String, SourceWatch>,
    /// Since when the bus is out of reach.
    bus_down: Option<f64>,
    bus_firing: Option<AlertEvent>,
}

/// The id of the alert of `rule` on `sensor` of `source`.
pub fn alert_id(rule: &str, source: &str, sensor: &str) -> String {
    format!("{rule}|{source}|{sensor}")
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
        self.config
            .rules
            .iter()
            .filter(move |r| on && r.enabled && r.source == source && glob_match(&r.sensor, sensor))
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
        let at = match &names.device {
            Some(device) => format!("{device} at"),
            None => "at".to_owned(),
        };
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
                    let name = if watch.name.is_empty() {
                        fired.source.clone()
                    } else {
                        watch.name.clone()
                    };
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

    /// The time is `now`: fires what has waited long enough (a rule's value held, a source or
    /// the bus down).
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
        let down = &self.config.source_down;
        if down.enabled {
            let after = f64::from(down.minutes) * 60.0;
            for (source, watch) in &mut self.sources {
                let Some((since, why)) = &watch.down else {
                    continue;
                };
                if watch.firing.is_some() || now - since < after {
                    continue;
                }
                let name = if watch.name.is_empty() {
                    source.clone()
                } else {
                    watch.name.clone()
                };
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
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::utc_clock;
    use sense_bus::config::{AlertRule, SourceDownAlert};

    const T0: f64 = 1_708_000_000.0; // 12:26:40 UTC

    fn co2_rule() -> AlertRule {
        AlertsConfig::default().rules[0].clone()
    }

    fn engine_with(rules: Vec<AlertRule>) -> Engine {
        Engine::new(
            AlertsConfig {
                rules,
                ..AlertsConfig::default()
            },
            utc_clock,
        )
    }

    fn kinds(events: &[AlertEvent]) -> Vec<(AlertKind, &str)> {
        events.iter().map(|e| (e.kind, e.id.as_str())).collect()
    }

    #[test]
    fn a_value_held_past_the_threshold_for_its_duration_fires_once_and_says_so() {
        let mut e = engine_with(vec![co2_rule()]);
        let ppm = Some("ppm");
        assert!(e.reading(T0, "co2", "office:co2", 1300.0, ppm).is_empty());
        // Past the line, not for 300 s yet.
        assert!(
            e.reading(T0 + 60.0, "co2", "office:co2", 1450.0, ppm)
                .is_empty()
        );
        assert!(e.tick(T0 + 300.0).is_empty());
        assert!(
            e.reading(T0 + 120.0 + 200.0, "co2", "office:co2", 1480.0, ppm)
                .is_empty()
        );
        // 300 s after it crossed: fired, with the latest value.
        let fired = e.reading(T0 + 360.0, "co2", "office:co2", 1520.0, ppm);
        assert_eq!(
            kinds(&fired),
            [(AlertKind::Fired, "co2-high|co2|office:co2")]
        );
        let f = &fired[0];
        assert_eq!(f.since, T0 + 60.0);
        assert_eq!(f.at, T0 + 360.0);
        assert_eq!((f.value, f.threshold), (Some(1520.0), Some(1400.0)));
        assert_eq!(f.label, "CO₂ · office");
        assert_eq!(f.condition, AlertTrigger::Above);
        assert_eq!(
            f.message,
            "CO₂ high: office is at 1520 ppm (≥ 1400 ppm) since 12:27"
        );
        // Still high: no second event; active lists it.
        assert!(
            e.reading(T0 + 420.0, "co2", "office:co2", 1600.0, ppm)
                .is_empty()
        );
        assert_eq!(e.active().len(), 1);
        // Another monitor is its own alert.
        assert!(
            e.reading(T0 + 420.0, "co2", "bedroom:co2", 900.0, ppm)
                .is_empty()
        );
        // A sensor the pattern does not match is ignored.
        assert!(
            e.reading(T0 + 420.0, "co2", "office:temperature", 1e6, None)
                .is_empty()
        );
        assert!(
            e.reading(T0 + 420.0, "system", "office:co2", 1e6, None)
                .is_empty()
        );
    }

    #[test]
    fn hovering_at_the_line_does_not_flap_and_it_clears_past_the_hysteresis() {
        let mut e = engine_with(vec![co2_rule()]);
        let ppm = Some("ppm");
        e.reading(T0, "co2", "office:co2", 1500.0, ppm);
        assert_eq!(e.tick(T0 + 300.0).len(), 1, "fired by the timer alone");
        // Around the line, within the hysteresis (1300–1400): still active, no events.
        for (i, v) in [1390.0, 1410.0, 1350.0, 1401.0, 1301.0]
            .into_iter()
            .enumerate()
        {
            let t = T0 + 360.0 + 60.0 * i as f64;
            assert!(e.reading(t, "co2", "office:co2", v, ppm).is_empty(), "{v}");
        }
        assert_eq!(e.active().len(), 1);
        // Below 1400 − 100: cleared, with how long it lasted.
        let cleared = e.reading(T0 + 2100.0, "co2", "office:co2", 1250.0, ppm);
        assert_eq!(
            kinds(&cleared),
            [(AlertKind::Cleared, "co2-high|co2|office:co2")]
        );
        let c = &cleared[0];
        assert_eq!(c.since, T0);
        assert_eq!(c.value, Some(1250.0));
        assert_eq!(
            c.message,
            "CO₂ back to normal: office at 1250 ppm after 35 min"
        );
        assert!(e.active().is_empty());
        // Up again: a new wait of 300 s.
        assert!(
            e.reading(T0 + 2200.0, "co2", "office:co2", 1500.0, ppm)
                .is_empty()
        );
    }

    #[test]
    fn a_dip_below_the_threshold_restarts_the_wait() {
        let mut e = engine_with(vec![co2_rule()]);
        e.reading(T0, "co2", "office:co2", 1500.0, None);
        e.reading(T0 + 200.0, "co2", "office:co2", 1399.0, None);
        e.reading(T0 + 250.0, "co2", "office:co2", 1500.0, None);
        assert!(
            e.tick(T0 + 400.0).is_empty(),
            "held only 150 s since the dip"
        );
        assert_eq!(e.tick(T0 + 550.0).len(), 1);
        // A reading that goes away restarts a wait too.
        let mut e = engine_with(vec![co2_rule()]);
        e.reading(T0, "co2", "office:co2", 1500.0, None);
        e.reading_gone("co2", "office:co2");
        assert!(e.tick(T0 + 600.0).is_empty());
    }

    #[test]
    fn below_rules_fire_at_once_with_no_duration_and_clear_above_the_hysteresis() {
        let battery = AlertsConfig::default().rules[2].clone();
        let mut e = engine_with(vec![battery]);
        let fired = e.reading(T0, "co2", "office:battery", 8.0, Some("%"));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].condition, AlertTrigger::Below);
        assert!(
            fired[0].message.contains("office is at 8 % (≤ 10 %)"),
            "{}",
            fired[0].message
        );
        assert!(
            e.reading(T0 + 60.0, "co2", "office:battery", 14.0, Some("%"))
                .is_empty()
        );
        let cleared = e.reading(T0 + 120.0, "co2", "office:battery", 16.0, Some("%"));
        assert_eq!(cleared[0].kind, AlertKind::Cleared);
        assert_eq!(
            cleared[0].message,
            "Battery back to normal: office at 16 % after 2 min"
        );
    }

    #[test]
    fn rules_switched_off_clear_their_alerts_and_new_thresholds_apply() {
        let mut e = engine_with(vec![AlertRule {
            for_s: 0,
            ..co2_rule()
        }]);
        assert_eq!(e.reading(T0, "co2", "office:co2", 1500.0, None).len(), 1);
        let mut off = e.config().clone();
        off.rules[0].enabled = false;
        let cleared = e.set_config(off.clone(), T0 + 10.0);
        assert_eq!(
            kinds(&cleared),
            [(AlertKind::Cleared, "co2-high|co2|office:co2")]
        );
        assert!(cleared[0].message.contains("switched off"));
        assert!(
            e.reading(T0 + 20.0, "co2", "office:co2", 1500.0, None)
                .is_empty()
        );
        // On again with a higher threshold.
        off.rules[0].enabled = true;
        off.rules[0].threshold = 2000.0;
        assert!(e.set_config(off, T0 + 30.0).is_empty());
        assert!(
            e.reading(T0 + 40.0, "co2", "office:co2", 1500.0, None)
                .is_empty()
        );
        assert_eq!(
            e.reading(T0 + 50.0, "co2", "office:co2", 2100.0, None)
                .len(),
            1
        );
        // Alerts off altogether: everything clears, nothing fires.
        let all_off = AlertsConfig {
            enabled: false,
            ..e.config().clone()
        };
        assert_eq!(e.set_config(all_off, T0 + 60.0).len(), 1);
        assert!(
            e.reading(T0 + 70.0, "co2", "office:co2", 5000.0, None)
                .is_empty()
        );
    }

    fn status(outcome: PollOutcome, error: Option<&str>) -> Status {
        let mut s = Status::new("co2");
        s.outcome = Some(outcome);
        s.last_error = error.map(str::to_owned);
        s
    }

    #[test]
    fn a_source_failing_or_silent_for_its_minutes_is_down_until_a_poll_goes_well() {
        let mut e = engine_with(Vec::new());
        let failed = status(PollOutcome::Failed, Some("office not heard within 10 s"));
        let ok = status(PollOutcome::Ok, None);
        fn seen(status: Option<&Status>) -> SourceObservation<'_> {
            SourceObservation {
                source: "co2",
                name: "CO₂ monitors",
                watched: true,
                status,
            }
        }
        assert!(e.source(T0, &seen(Some(&ok))).is_empty());
        assert!(e.source(T0 + 60.0, &seen(Some(&failed))).is_empty());
        // Its status expires: still down since the failure.
        assert!(e.source(T0 + 300.0, &seen(None)).is_empty());
        let fired = e.tick(T0 + 660.0);
        assert_eq!(kinds(&fired), [(AlertKind::Fired, "source-down|co2")]);
        assert_eq!(fired[0].since, T0 + 60.0);
        assert_eq!(
            fired[0].message,
            "Source down: CO₂ monitors has not worked since 12:27 (its status expired: it has not \
             reported)"
        );
        assert!(e.tick(T0 + 900.0).is_empty(), "once");
        // A partial poll is not down.
        let partial = status(PollOutcome::Partial, Some("garage not heard"));
        let cleared = e.source(T0 + 960.0, &seen(Some(&partial)));
        assert_eq!(kinds(&cleared), [(AlertKind::Cleared, "source-down|co2")]);
        assert_eq!(cleared[0].message, "CO₂ monitors is back after 15 min");
        // Failing briefly is not down.
        e.source(T0 + 1000.0, &seen(Some(&failed)));
        e.source(T0 + 1100.0, &seen(Some(&ok)));
        assert!(e.tick(T0 + 5000.0).is_empty());
        // A source not expected to run is never down.
        let unwatched = SourceObservation {
            watched: false,
            ..seen(None)
        };
        e.source(T0 + 6000.0, &unwatched);
        assert!(e.tick(T0 + 9000.0).is_empty());
        // Nor with source-down switched off.
        let mut config = e.config().clone();
        config.source_down = SourceDownAlert {
            enabled: false,
            minutes: 1,
        };
        e.set_config(config, T0 + 9000.0);
        e.source(T0 + 9000.0, &seen(None));
        assert!(e.tick(T0 + 20_000.0).is_empty());
    }

    #[test]
    fn the_bus_out_of_reach_for_its_seconds_alerts_and_clears_when_back() {
        let mut e = engine_with(Vec::new());
        assert!(e.bus(T0, true).is_empty());
        assert!(e.bus(T0 + 5.0, false).is_empty());
        assert!(e.bus(T0 + 30.0, false).is_empty());
        let fired = e.tick(T0 + 65.0);
        assert_eq!(kinds(&fired), [(AlertKind::Fired, "bus-down")]);
        assert_eq!(fired[0].since, T0 + 5.0);
        assert!(
            fired[0]
                .message
                .starts_with("Data bus down: Redis has been out of reach since 12:26")
        );
        assert!(e.bus(T0 + 70.0, false).is_empty());
        let cleared = e.bus(T0 + 245.0, true);
        assert_eq!(kinds(&cleared), [(AlertKind::Cleared, "bus-down")]);
        assert_eq!(
            cleared[0].message,
            "The data bus (Redis) is back after 4 min"
        );
        // A short outage says nothing.
        e.bus(T0 + 300.0, false);
        assert!(e.bus(T0 + 330.0, true).is_empty());
    }

    #[test]
    fn restored_alerts_are_not_fired_again_and_clear_as_usual() {
        let mut first = engine_with(vec![AlertRule {
            for_s: 0,
            ..co2_rule()
        }]);
        first.reading(T0, "co2", "office:co2", 1500.0, Some("ppm"));
        let active = first.active();
        let mut again = engine_with(vec![AlertRule {
            for_s: 0,
            ..co2_rule()
        }]);
        again.restore(active);
        assert!(
            again
                .reading(T0 + 60.0, "co2", "office:co2", 1500.0, Some("ppm"))
                .is_empty()
        );
        let cleared = again.reading(T0 + 120.0, "co2", "office:co2", 1000.0, Some("ppm"));
        assert_eq!(cleared.len(), 1);
        assert_eq!(
            cleared[0].message,
            "CO₂ back to normal: office at 1000 ppm after 2 min"
        );
    }
}
