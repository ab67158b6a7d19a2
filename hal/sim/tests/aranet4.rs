//! The simulated Aranet4 on the simulated radio, decoded with `sense-aranet4`.

use futures_executor::block_on;
use sense_aranet4::{
    CalibrationState, DecodeError, MANUFACTURER_ID, StatusColour, Version, decode_advertisement,
    decode_current, decode_detailed, is_aranet4_name, uuid,
};
use sense_hal::ble::{Address, BleCentral, Uuid};
use sense_sim::aranet4::{MEASUREMENT_INTERVAL_S, SimAranet4};
use sense_sim::ble::{GarbageAdvertiser, ManualDelay, SimAdvertiser, SimRadio, SimRadioError};
use sense_sim::clock::{ManualClock, SimClock};
use sense_sim::environment::{Conditions, Environment};

/// Tuesday 2023-11-14 00:00:00 UTC.
const TUESDAY: u64 = 1_699_920_000_000;
const HOUR: u64 = 3_600_000;

fn addr(last: u8) -> Address {
    Address([0xD0, 0x1C, 0x5A, 0x00, 0x00, last])
}

#[test]
fn a_scan_decodes_aranets_and_survives_everything_else() {
    static CLOCK: ManualClock = ManualClock::new(TUESDAY + 10 * HOUR);
    let mut on = SimAranet4::new(addr(1), "Aranet4 12345", 1);
    let mut off = SimAranet4::new(addr(2), "Aranet4 22222", 2).integrations_off();
    let mut away = SimAranet4::new(addr(3), "Aranet4 33333", 3).out_of_range();
    let mut garbage = GarbageAdvertiser::new(addr(4), 4);
    let model = on.clone();

    let mut radio: SimRadio<'_, _> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut on).unwrap();
    radio.add(&mut off).unwrap();
    radio.add(&mut away).unwrap();
    radio.add(&mut garbage).unwrap();
    block_on(radio.start_scan()).unwrap();

    let (mut readings, mut off_seen, mut wrong_length, mut counters) = (0, 0, 0, Vec::new());
    let end = CLOCK.now_ms() + 120_000;
    while CLOCK.now_ms() < end {
        let ad = block_on(radio.next_advertisement()).unwrap();
        assert_ne!(ad.address, addr(3), "out of range, never heard");
        let Some(data) = ad.manufacturer(MANUFACTURER_ID) else {
            continue;
        };
        match decode_advertisement(&data.data) {
            Ok(r) => {
                assert_eq!(ad.address, addr(1));
                assert_eq!(ad.name.as_deref(), Some("Aranet4 12345"));
                assert!(is_aranet4_name(ad.name.as_deref().unwrap()));
                // The manual delay moved the clock to the broadcast instant.
                assert_eq!(r, model.reading_at(CLOCK.now_ms()));
                let rssi = ad.rssi.unwrap();
                assert!((-88..=-57).contains(&rssi), "{rssi}");
                counters.push(r.counter);
                readings += 1;
            }
            Err(DecodeError::IntegrationsOff { version }) => {
                assert_eq!(ad.address, addr(2));
                let v = version.unwrap();
                assert_eq!((v.major, v.minor), (1, 4));
                off_seen += 1;
            }
            Err(DecodeError::WrongLength { found, .. }) => {
                assert_eq!(ad.address, addr(4));
                assert!(found != 7 && found != 22);
                wrong_length += 1;
            }
        }
    }
    let interval = u64::from(model.interval_ms());
    assert!((1000..=4000).contains(&interval));
    assert!(readings as u64 >= 120_000 / interval - 1, "{readings}");
    assert!(off_seen >= 120_000 / 4000 - 1, "{off_seen}");
    assert!(wrong_length > 0);
    assert!(
        counters.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{counters:?}"
    );

    // GATT reads work with integrations off, and out of range is no device.
    let now = CLOCK.now_ms();
    let mut buf = [0u8; 32];
    let n = block_on(radio.read_characteristic(
        addr(2),
        Uuid(uuid::SERVICE),
        Uuid(uuid::CURRENT_READINGS_DETAILED),
        &mut buf,
    ))
    .unwrap();
    let off_model = SimAranet4::new(addr(2), "Aranet4 22222", 2);
    assert_eq!(
        decode_detailed(&buf[..n]),
        Ok(off_model.measurement_at(now))
    );
    assert_eq!(
        block_on(radio.read_characteristic(
            addr(3),
            Uuid(uuid::SERVICE),
            Uuid(uuid::CURRENT_READINGS),
            &mut buf
        )),
        Err(SimRadioError::NoSuchDevice(addr(3)))
    );
}

#[test]
fn gatt_characteristics_answer_consistently() {
    let mut dev = SimAranet4::new(addr(1), "Aranet4 12345", 9);
    let t = TUESDAY + 14 * HOUR + 37_500;
    let mut buf = [0u8; 32];
    let mut read =
        |service: Uuid, c: Uuid, buf: &mut [u8]| dev.read_characteristic(service, c, t, buf);

    let n = read(
        Uuid(uuid::SERVICE),
        Uuid(uuid::CURRENT_READINGS_DETAILED),
        &mut buf,
    )
    .unwrap();
    let detailed = decode_detailed(&buf[..n]).unwrap();
    assert_eq!(detailed.age_s, Some(37));
    assert_eq!(detailed.interval_s, Some(MEASUREMENT_INTERVAL_S));
    let n = read(
        Uuid(uuid::SERVICE_OLD),
        Uuid(uuid::CURRENT_READINGS),
        &mut buf,
    )
    .unwrap();
    let current = decode_current(&buf[..n]).unwrap();
    assert_eq!(current.co2_ppm, detailed.co2_ppm);
    assert_eq!(current.temperature_raw, detailed.temperature_raw);

    let n = read(Uuid(uuid::SERVICE), Uuid(uuid::INTERVAL), &mut buf).unwrap();
    assert_eq!(&buf[..n], &60u16.to_le_bytes());
    let n = read(
        Uuid(uuid::SERVICE),
        Uuid(uuid::SECONDS_SINCE_UPDATE),
        &mut buf,
    )
    .unwrap();
    assert_eq!(&buf[..n], &37u16.to_le_bytes());
    let n = read(Uuid::from_u16(0x180F), Uuid::from_u16(0x2A19), &mut buf).unwrap();
    assert_eq!(&buf[..n], &[detailed.battery_percent]);
    assert!((35..=98).contains(&detailed.battery_percent));
    let n = read(Uuid::from_u16(0x1800), Uuid::from_u16(0x2A00), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"Aranet4 12345");
    assert_eq!(
        read(Uuid(uuid::SERVICE), Uuid(uuid::TOTAL_READINGS), &mut buf),
        None
    );
    assert_eq!(
        read(
            Uuid::from_u16(0x180A),
            Uuid(uuid::CURRENT_READINGS),
            &mut buf
        ),
        None
    );

    // A short buffer gets the start; the full length is reported to the radio.
    let mut short = [0u8; 4];
    assert_eq!(
        read(
            Uuid(uuid::SERVICE),
            Uuid(uuid::CURRENT_READINGS_DETAILED),
            &mut short
        ),
        Some(13)
    );
}

#[test]
fn co2_follows_a_working_day_and_devices_differ() {
    let devices: Vec<SimAranet4> = (0..6)
        .map(|seed| SimAranet4::new(addr(seed as u8), "", seed))
        .collect();
    for dev in &devices {
        let (mut min, mut max, mut yellow) = (u16::MAX, 0, false);
        let mut previous = None;
        // Tuesday, every minute.
        for minute in 0..24 * 60 {
            let t = TUESDAY + minute * 60_000;
            let m = dev.measurement_at(t);
            let co2 = m.co2_ppm.unwrap();
            assert!((400..=1600).contains(&co2));
            assert_eq!(m.status, StatusColour::from_co2_ppm(co2));
            yellow |= m.status == StatusColour::Yellow;
            min = min.min(co2);
            max = max.max(co2);
            if let Some(p) = previous {
                let step = i32::from(co2) - i32::from(p);
                assert!(step.abs() < 80, "{step} ppm in a minute");
            }
            previous = Some(co2);
        }
        assert!(min < 470, "{}: night {min}", dev.name());
        assert!(yellow && max >= 1000, "{}: peak {max}", dev.name());
        // Night time is quiet.
        let night = dev.measurement_at(TUESDAY + 3 * HOUR).co2_ppm.unwrap();
        assert!(night < 470, "{night}");
    }
    assert!(devices.iter().any(|d| {
        (0..24 * 60).any(|m| d.measurement_at(TUESDAY + m * 60_000).status == StatusColour::Red)
    }));
    // Same instant, different devices, different air.
    let noon: Vec<u16> = devices
        .iter()
        .map(|d| d.measurement_at(TUESDAY + 12 * HOUR).co2_ppm.unwrap())
        .collect();
    let distinct = noon.iter().collect::<std::collections::BTreeSet<_>>().len();
    assert!(distinct >= 5, "{noon:?}");
    // Sunday (2023-11-12) is quieter than Tuesday.
    let sunday = TUESDAY - 2 * 24 * HOUR;
    let peak = |d: &SimAranet4, day: u64| {
        (0..24 * 60)
            .map(|m| d.measurement_at(day + m * 60_000).co2_ppm.unwrap())
            .max()
            .unwrap()
    };
    assert!(peak(&devices[0], sunday) + 300 < peak(&devices[0], TUESDAY));
}

#[test]
fn the_climate_comes_from_the_environment_and_values_hold_for_a_minute() {
    let env = Environment::with_mean(Conditions {
        temperature_c: 24.0,
        humidity_percent: 60.0,
        pressure_hpa: 990.0,
    });
    let dev = SimAranet4::new(addr(1), "Aranet4 12345", 5).with_environment(env);
    let t = TUESDAY + 15 * HOUR + 42_000;
    let m = dev.measurement_at(t);
    let room = env.at(TUESDAY + 15 * HOUR);
    assert!((m.temperature_c().unwrap() - room.temperature_c).abs() <= 0.025 + 1e-4);
    assert!((m.pressure_hpa().unwrap() - room.pressure_hpa).abs() <= 0.05 + 1e-3);
    assert!((f32::from(m.humidity_percent) - room.humidity_percent).abs() <= 0.5);
    assert_eq!(m.age_s, Some(42));
    let start = dev.measurement_at(TUESDAY + 15 * HOUR);
    assert_eq!(start.age_s, Some(0));
    assert_eq!(
        sense_aranet4::Measurement { age_s: None, ..m },
        sense_aranet4::Measurement {
            age_s: None,
            ..start
        }
    );
}

#[test]
fn calibration_invalidates_co2() {
    let mut dev = SimAranet4::new(addr(1), "Aranet4 12345", 5).calibrating();
    let ad = dev.advertise(TUESDAY + 12 * HOUR);
    let r = decode_advertisement(&ad.manufacturer(MANUFACTURER_ID).unwrap().data).unwrap();
    assert_eq!(r.measurement.co2_ppm, None);
    assert!(r.measurement.temperature_raw.is_some());
    assert_eq!(r.measurement.status, StatusColour::Error);
    assert_eq!(r.flags.calibration, CalibrationState::InProgress);
}

#[test]
fn per_seed_identity() {
    let a = SimAranet4::new(addr(1), "", 12_345);
    assert!(is_aranet4_name(a.name()), "{}", a.name());
    assert_eq!(a.name().len(), "Aranet4 12345".len());
    assert_eq!(a.version().major, 1);
    assert_eq!(a.version().minor, 4);
    assert!(a.version() >= Version::new(1, 4, 4));
    let b = SimAranet4::new(addr(2), "", 12_346);
    assert_ne!(a.name(), b.name());
    assert_eq!(SimAranet4::new(addr(1), "", 12_345).name(), a.name());
    let intervals: std::collections::BTreeSet<u32> = (0..20)
        .map(|s| SimAranet4::new(addr(1), "", s).interval_ms())
        .collect();
    assert!(intervals.len() > 10);
    assert!(intervals.iter().all(|i| (1000..=4000).contains(i)));
    assert!(!SimAranet4::new(addr(1), "", 1).out_of_range().in_range());
    assert_eq!(
        SimAranet4::new(addr(1), "", 1)
            .with_interval_ms(500)
            .interval_ms(),
        500
    );
}
