//! The source and its client on the simulated radio, in tokio's paused time: a 10 s scan takes
//! no real time, and the simulated monitors advertise on the same virtual clock.

use std::time::Duration;

use sense_bus::config::{Aranet4Sensor, Config};
use sense_bus::model::Value;
use sense_bus::source::{PollContext, Source};
use sense_hal::DelayNs;
use sense_hal::ble::{Address, Advertisement, BleCentral, Uuid};
use sense_sim::aranet4::SimAranet4;
use sense_sim::ble::{GarbageAdvertiser, SimRadio};
use sense_sim::clock::SimClock;

use super::*;

/// A simulation clock reading tokio's (paused) clock.
#[derive(Debug)]
struct TokioClock {
    start: tokio::time::Instant,
    base_ms: u64,
}

impl SimClock for TokioClock {
    fn now_ms(&self) -> u64 {
        self.base_ms + u64::try_from(self.start.elapsed().as_millis()).unwrap()
    }
}

/// A delay on tokio's clock.
struct TokioDelay;

impl DelayNs for TokioDelay {
    async fn delay_ns(&mut self, ns: u32) {
        tokio::time::sleep(Duration::from_nanos(u64::from(ns))).await;
    }
}

const OFFICE: Address = Address([0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x01]);
const BEDROOM: Address = Address([0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x02]);
const GARAGE: Address = Address([0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x03]);

/// A radio with office (integrations on), bedroom (off), garage (out of range) and two gadgets
/// sending garbage. Tuesday 2026-11-24, 10:00 UTC: office hours.
fn radio() -> SimRadio<'static, TokioDelay> {
    let clock: &'static TokioClock = Box::leak(Box::new(TokioClock {
        start: tokio::time::Instant::now(),
        base_ms: 1_795_601_600_000,
    }));
    let mut radio = SimRadio::new(clock, TokioDelay);
    let devices = [
        SimAranet4::new(OFFICE, "Aranet4 1A2B1", 1),
        SimAranet4::new(BEDROOM, "Aranet4 1A2B2", 2).integrations_off(),
        SimAranet4::new(GARAGE, "Aranet4 1A2B3", 3).out_of_range(),
    ];
    for d in devices {
        radio.add(Box::leak(Box::new(d))).unwrap();
    }
    for seed in [7u8, 8] {
        let g = GarbageAdvertiser::new(Address([0x5A, 0, 0, 0, 0, seed]), u32::from(seed))
            .with_interval_ms(300);
        radio.add(Box::leak(Box::new(g))).unwrap();
    }
    radio
}

fn sensor(label: &str, address: Address) -> Aranet4Sensor {
    Aranet4Sensor {
        label: label.into(),
        mac: address.to_string(),
        enabled: true,
    }
}

fn config(sensors: Vec<Aranet4Sensor>) -> Config {
    let mut config = Config::default();
    config.aranet4.sensors = sensors;
    config.aranet4.timeout = 10;
    config
}

fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
    &out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor}"))
        .value
}

#[tokio::test(start_paused = true)]
async fn heard_monitors_are_written_and_the_unheard_one_named() {
    let mut source = Aranet4Source::new(radio());
    let config = config(vec![
        sensor("office", OFFICE),
        sensor("bedroom", BEDROOM),
        sensor("garage", GARAGE),
    ]);
    let started = tokio::time::Instant::now();
    let out = source
        .poll(PollContext::config_only(&config), &mut Monitors::default())
        .await
        .unwrap();

    // garage is never heard, so the scan runs its full timeout.
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!(
        out.measurements.len(),
        12,
        "six readings each for office and bedroom"
    );
    let co2 = |label: &str| value(&out, &format!("{label}:co2")).as_i64().unwrap();
    assert!((400..=1600).contains(&co2("office")), "{}", co2("office"));
    assert!(
        (400..=1600).contains(&co2("bedroom")),
        "bedroom read over GATT"
    );
    let units: Vec<_> = out
        .measurements
        .iter()
        .filter(|m| m.sensor.starts_with("office:"))
        .map(|m| (m.sensor.as_str(), m.unit.map(|u| u.as_str())))
        .collect();
    assert_eq!(
        units,
        [
            ("office:co2", Some("ppm")),
            ("office:temperature", Some("C")),
            ("office:humidity", Some("%")),
            ("office:pressure", Some("mbar")),
            ("office:battery", Some("%")),
            ("office:status", None),
        ]
    );
    let error = out.error.unwrap();
    assert!(
        error.starts_with("garage (D4:7B:0C:4A:11:03) not heard within 10 s"),
        "{error}"
    );
    assert!(
        !error.contains("office") && !error.contains("bedroom"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_scan_stops_as_soon_as_every_monitor_is_heard() {
    let mut source = Aranet4Source::new(radio());
    let config = config(vec![sensor("office", OFFICE)]);
    let started = tokio::time::Instant::now();
    let out = source
        .poll(PollContext::config_only(&config), &mut Monitors::default())
        .await
        .unwrap();
    assert_eq!(out.error, None);
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "office advertises at least every 4 s"
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_heard_is_a_failed_poll_naming_every_label() {
    let mut source = Aranet4Source::new(radio());
    let config = config(vec![sensor("garage", GARAGE)]);
    let out = source
        .poll(PollContext::config_only(&config), &mut Monitors::default())
        .await
        .unwrap();
    assert!(out.measurements.is_empty(), "no readings: a failed poll");
    let err = out.error.unwrap();
    assert!(
        err.starts_with("garage (D4:7B:0C:4A:11:03) not heard"),
        "{err}"
    );
    assert_eq!(out.missing.len(), 1);
    assert_eq!(out.missing[0].name, "garage");
    assert_eq!(out.missing[0].error, err);
}

#[tokio::test(start_paused = true)]
async fn a_missing_monitor_is_named_with_since_when_across_polls() {
    let config = config(vec![sensor("office", OFFICE), sensor("garage", GARAGE)]);
    let mut state = Monitors::default();
    // Each poll a new source, as each one-shot run is: only `state` (state:co2) carries over.
    let first = Aranet4Source::new(radio())
        .poll(PollContext::config_only(&config), &mut state)
        .await
        .unwrap();
    let [garage] = first.missing.as_slice() else {
        panic!("{:?}", first.missing)
    };
    assert_eq!(garage.name, "garage");
    assert!(garage.error.contains("not heard within 10 s"), "{garage:?}");
    assert_eq!(garage.last_seen, None, "never heard");
    let since = garage.since;
    let office = state.0[&OFFICE.to_string()].clone();
    assert!(office.last_heard.is_some() && office.missing_since.is_none());

    let state_text = serde_json::to_string(&state).unwrap();
    let mut state: Monitors = serde_json::from_str(&state_text).unwrap();
    let second = Aranet4Source::new(radio())
        .poll(PollContext::config_only(&config), &mut state)
        .await
        .unwrap();
    assert_eq!(second.missing.len(), 1);
    assert_eq!(
        second.missing[0].since, since,
        "missing since the first poll"
    );

    // A monitor heard before that goes out of range: missing since now, last seen when heard.
    let garage_only = self::config(vec![sensor("garage", GARAGE)]);
    let mut state = Monitors::default();
    state.0.insert(
        GARAGE.to_string(),
        Monitor {
            last_heard: Some(1_795_000_000.0),
            missing_since: None,
        },
    );
    let third = Aranet4Source::new(radio())
        .poll(PollContext::config_only(&garage_only), &mut state)
        .await
        .unwrap();
    assert_eq!(third.missing[0].last_seen, Some(1_795_000_000.0));
    assert!(third.missing[0].since > 1_795_000_000.0);

    // A monitor taken out of the config is forgotten.
    let none = self::config(vec![sensor("office", OFFICE)]);
    Aranet4Source::new(radio())
        .poll(PollContext::config_only(&none), &mut state)
        .await
        .unwrap();
    assert_eq!(state.0.keys().collect::<Vec<_>>(), [&OFFICE.to_string()]);
}

#[tokio::test(start_paused = true)]
async fn disabled_or_no_monitors_mean_no_scan() {
    let mut source = Aranet4Source::new(radio());
    let mut off = sensor("office", OFFICE);
    off.enabled = false;
    let config = config(vec![off]);
    let out = source
        .poll(PollContext::config_only(&config), &mut Monitors::default())
        .await
        .unwrap();
    assert!(out.measurements.is_empty() && out.error.is_none());
    assert!(!source.enabled(&config));
}

#[tokio::test(start_paused = true)]
async fn the_scan_lists_nearby_aranets_strongest_first() {
    let mut radio = radio();
    let found = scan(&mut radio, Duration::from_secs(10)).await.unwrap();
    let office = found
        .iter()
        .find(|f| f.mac == OFFICE.to_string())
        .expect("office found");
    assert!(office.integrations);
    assert_eq!(office.name, "Aranet4 1A2B1");
    let bedroom = found
        .iter()
        .find(|f| f.mac == BEDROOM.to_string())
        .expect("bedroom found");
    assert!(!bedroom.integrations);
    assert!(
        found.iter().all(|f| f.mac != GARAGE.to_string()),
        "out of range is not heard"
    );
    let rssi: Vec<i16> = found.iter().map(|f| f.rssi.unwrap()).collect();
    assert!(rssi.windows(2).all(|w| w[0] >= w[1]), "{rssi:?}");
}

/// A radio that sends whatever a test scripts, then a good Aranet4 advertisement.
struct Scripted {
    ads: std::vec::IntoIter<Advertisement>,
}

impl BleCentral for Scripted {
    type Error = &'static str;
    async fn start_scan(&mut self) -> Result<(), &'static str> {
        Ok(())
    }
    async fn next_advertisement(&mut self) -> Result<Advertisement, &'static str> {
        match self.ads.next() {
            Some(ad) => Ok(ad),
            None => std::future::pending().await,
        }
    }
    async fn stop_scan(&mut self) -> Result<(), &'static str> {
        Ok(())
    }
    async fn read_characteristic(
        &mut self,
        _: Address,
        _: Uuid,
        _: Uuid,
        _: &mut [u8],
    ) -> Result<usize, &'static str> {
        Err("not connectable")
    }
}

#[tokio::test(start_paused = true)]
async fn no_advertisement_however_malformed_stops_the_scan() {
    // Every malformed length of 0x0702 data from 0 to 64 (7 and 22 bytes are well-formed: random
    // bytes there are a plausible reading), pseudo-random, from the configured address itself,
    // before a good one.
    let mut ads = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for len in (0..=64usize).filter(|l| ![7, 22].contains(l)) {
        let payload: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let mut ad = Advertisement {
            address: OFFICE,
            ..Advertisement::default()
        };
        ad.push_manufacturer(sense_aranet4::MANUFACTURER_ID, &payload);
        ad.push_manufacturer(0x004C, &payload);
        ads.push(ad);
    }
    let good = sense_aranet4::encode_advertisement(
        &SimAranet4::new(OFFICE, "", 1).reading_at(1_795_601_600_000),
    );
    let mut ad = Advertisement {
        address: OFFICE,
        ..Advertisement::default()
    };
    ad.push_manufacturer(sense_aranet4::MANUFACTURER_ID, &good);
    ads.push(ad);

    let mut source = Aranet4Source::new(Scripted {
        ads: ads.into_iter(),
    });
    let config = config(vec![sensor("office", OFFICE)]);
    let out = source
        .poll(PollContext::config_only(&config), &mut Monitors::default())
        .await
        .unwrap();
    assert_eq!(
        out.error, None,
        "the good advertisement at the end was reached"
    );
    assert!(value(&out, "office:co2").as_i64().is_some());
}
