use super::*;
use crate::text::utc_clock;
use sense_bus::config::{AlertRule, SourceDownAlert};
use sense_bus::model::{NodeRecord, PollOutcome, Status};

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

#[test]
fn a_rule_on_a_source_watches_every_pi_and_names_the_room() {
    let mut e = engine_with(vec![AlertRule {
        for_s: 0,
        ..co2_rule()
    }]);
    let ppm = Some("ppm");
    let fired = e.reading(T0, "co2@kitchen", "office:co2", 1450.0, ppm);
    assert_eq!(
        kinds(&fired),
        [(AlertKind::Fired, "co2-high|co2@kitchen|office:co2")]
    );
    assert_eq!(fired[0].source, "co2@kitchen");
    assert_eq!(fired[0].label, "CO₂ · office · Kitchen");
    assert_eq!(
        fired[0].message,
        "CO₂ high: office in Kitchen is at 1450 ppm (≥ 1400 ppm) since 12:26"
    );
    // The hub's monitor of the same name is its own alert, read as before.
    let hub = e.reading(T0 + 10.0, "co2", "office:co2", 1500.0, ppm);
    assert_eq!(kinds(&hub), [(AlertKind::Fired, "co2-high|co2|office:co2")]);
    assert_eq!(hub[0].label, "CO₂ · office");
    assert_eq!(e.active().len(), 2);
    let cleared = e.reading(T0 + 600.0, "co2@kitchen", "office:co2", 1250.0, ppm);
    assert_eq!(
        cleared[0].message,
        "CO₂ back to normal: office in Kitchen at 1250 ppm after 10 min"
    );
    // A sensor without a device names its room too.
    let mut cpu = engine_with(vec![AlertRule {
        for_s: 0,
        ..AlertsConfig::default().rules[1].clone()
    }]);
    let hot = cpu.reading(T0, "system@living-room", "cpu_temp", 85.0, Some("C"));
    assert_eq!(
        hot[0].message,
        "CPU hot: CPU temperature in Living room is at 85 °C (≥ 80 °C) since 12:26"
    );
    let cool = cpu.reading(
        T0 + 120.0,
        "system@living-room",
        "cpu_temp",
        70.0,
        Some("C"),
    );
    assert_eq!(
        cool[0].message,
        "CPU temperature back to normal: in Living room at 70 °C after 2 min"
    );
}

#[test]
fn a_rule_on_one_pis_source_watches_only_that_pi() {
    let mut e = engine_with(vec![AlertRule {
        for_s: 0,
        source: "co2@kitchen".into(),
        ..co2_rule()
    }]);
    assert!(
        e.reading(T0, "co2@hall", "office:co2", 5000.0, None)
            .is_empty()
    );
    assert!(e.reading(T0, "co2", "office:co2", 5000.0, None).is_empty());
    assert_eq!(
        kinds(&e.reading(T0, "co2@kitchen", "office:co2", 5000.0, None)),
        [(AlertKind::Fired, "co2-high|co2@kitchen|office:co2")]
    );
}

fn kitchen(last_contact: f64) -> NodeRecord {
    NodeRecord {
        name: "kitchen".into(),
        room: "Kitchen".into(),
        last_contact,
        interval_s: 5.0,
        sources: vec!["co2@kitchen".into(), "system@kitchen".into()],
        version: "test".into(),
    }
}

fn expired(source: &str) -> SourceObservation<'_> {
    SourceObservation {
        source,
        name: "Aranet4 CO2",
        watched: true,
        status: None,
    }
}

#[test]
fn a_lost_node_is_one_alert_not_each_of_its_sources_and_clears_when_back() {
    let mut e = engine_with(Vec::new());
    assert!(e.nodes(T0, &[kitchen(T0)]).is_empty());
    // Silent from T0: its sources' statuses expire, as does one of the hub's.
    for source in ["co2@kitchen", "system@kitchen", "co2"] {
        assert!(e.source(T0 + 60.0, &expired(source)).is_empty());
    }
    assert!(e.nodes(T0 + 60.0, &[kitchen(T0)]).is_empty());
    // Ten minutes without contact: the node, once; the hub's source as ever; not the node's.
    let fired = e.nodes(T0 + 660.0, &[kitchen(T0)]);
    assert_eq!(
        kinds(&fired),
        [
            (AlertKind::Fired, "node-lost|kitchen"),
            (AlertKind::Fired, "source-down|co2")
        ]
    );
    let lost = &fired[0];
    assert_eq!(lost.message, "Kitchen: no contact since 12:26");
    assert_eq!(
        (lost.label.as_str(), lost.since, lost.condition),
        ("Kitchen", T0, AlertTrigger::NodeLost)
    );
    assert_eq!(
        fired[1].message.split(" has").next(),
        Some("Source down: Aranet4 CO2")
    );
    assert!(e.tick(T0 + 3000.0).is_empty());
    assert!(e.nodes(T0 + 3000.0, &[kitchen(T0)]).is_empty());
    assert_eq!(e.active().len(), 2);
    // Back: cleared, and its sources have their minutes again to report before they are down.
    let back = e.nodes(T0 + 3600.0, &[kitchen(T0 + 3599.0)]);
    assert_eq!(kinds(&back), [(AlertKind::Cleared, "node-lost|kitchen")]);
    assert_eq!(back[0].message, "Kitchen: in contact again after 1 h");
    assert!(e.tick(T0 + 3660.0).is_empty());
    assert!(e.source(T0 + 3660.0, &expired("co2@kitchen")).is_empty());
    // ...and then things go on as usual: one that does not report is down.
    let down = e.nodes(T0 + 4200.0, &[kitchen(T0 + 4199.0)]);
    assert_eq!(
        kinds(&down),
        [
            (AlertKind::Fired, "source-down|co2@kitchen"),
            (AlertKind::Fired, "source-down|system@kitchen")
        ]
    );
    assert_eq!(
        down[0].message,
        "Source down: Aranet4 CO2 in Kitchen has not worked since 13:26 (its status expired: it \
         has not reported)"
    );
    assert_eq!(down[0].label, "Aranet4 CO2 in Kitchen");
}

#[test]
fn a_source_down_before_its_node_was_lost_stays_one_alert_and_a_removed_node_clears() {
    let mut e = engine_with(Vec::new());
    e.nodes(T0, &[kitchen(T0)]);
    e.source(T0, &expired("co2@kitchen"));
    let early = e.nodes(T0 + 600.0, &[kitchen(T0 + 600.0)]);
    assert_eq!(
        kinds(&early),
        [(AlertKind::Fired, "source-down|co2@kitchen")]
    );
    // Then the node goes silent: its alert joins, the source's is neither cleared nor repeated.
    let lost = e.nodes(T0 + 1300.0, &[kitchen(T0 + 600.0)]);
    assert_eq!(kinds(&lost), [(AlertKind::Fired, "node-lost|kitchen")]);
    let ids: Vec<String> = e.active().into_iter().map(|a| a.id).collect();
    assert_eq!(ids, ["source-down|co2@kitchen", "node-lost|kitchen"]);
    // An engine restarted with these takes both back, and the node removed clears its alert.
    let mut again = engine_with(Vec::new());
    again.restore(e.active());
    assert!(again.tick(T0 + 1400.0).is_empty());
    let removed = again.nodes(T0 + 1400.0, &[]);
    assert_eq!(kinds(&removed), [(AlertKind::Cleared, "node-lost|kitchen")]);
    assert_eq!(
        removed[0].message,
        "Kitchen: no longer part of the installation"
    );
    // Switched off with source-down: no node alerts either.
    let mut config = e.config().clone();
    config.source_down.enabled = false;
    let off = e.set_config(config, T0 + 1500.0);
    assert_eq!(off.len(), 2);
    assert!(e.nodes(T0 + 9000.0, &[kitchen(T0)]).is_empty());
}
