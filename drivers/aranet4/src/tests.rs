extern crate std;

use std::string::ToString;
use std::vec::Vec;

use proptest::prelude::*;

use crate::*;

/// The worked example from Anrijs/Aranet4-Python's advertisement tests.
const WORKED: [u8; ADVERTISEMENT_LEN] = [
    0x21, 0x05, 0x03, 0x01, 0x00, 0x05, 0x00, 0x01, 0x43, 0x04, 0x9f, 0x01, 0x8b, 0x27, 0x35, 0x0c,
    0x02, 0x3c, 0x00, 0x10, 0x00, 0x55,
];

fn worked_measurement() -> Measurement {
    Measurement {
        co2_ppm: Some(1091),
        temperature_raw: Some(415),
        pressure_raw: Some(10123),
        humidity_percent: 53,
        battery_percent: 12,
        status: StatusColour::Yellow,
        interval_s: Some(60),
        age_s: Some(16),
    }
}

#[test]
fn the_worked_advertisement_decodes() {
    let r = decode_advertisement(&WORKED).unwrap();
    assert_eq!(r.version, Version::new(1, 3, 5));
    assert_eq!(r.version.to_string(), "v1.3.5");
    assert_eq!(
        r.flags,
        Flags {
            disconnected: true,
            calibration: CalibrationState::NotActive,
            dfu_active: false,
            integrations: true,
        }
    );
    assert_eq!(r.measurement, worked_measurement());
    assert_eq!(r.counter, 0x55);
    assert_eq!(r.measurement.temperature_c(), Some(20.75));
    assert_eq!(r.measurement.pressure_hpa(), Some(1012.3));
    // Bytes 4–7 are unknown and not kept: they come back as zero, the rest byte for byte.
    let mut expected = WORKED;
    expected[4..8].fill(0);
    assert_eq!(encode_advertisement(&r), expected);
}

#[test]
fn the_detailed_and_current_forms_are_the_advertisement_middle() {
    let detailed = &WORKED[8..21];
    assert_eq!(decode_detailed(detailed), Ok(worked_measurement()));
    assert_eq!(encode_detailed(&worked_measurement()), detailed);
    let current = decode_current(&WORKED[8..17]).unwrap();
    assert_eq!(
        current,
        Measurement {
            interval_s: None,
            age_s: None,
            ..worked_measurement()
        }
    );
    assert_eq!(encode_current(&current), WORKED[8..17]);
}

#[test]
fn flagged_values_decode_as_none_and_encode_canonically() {
    // CO2 0x8123 (bit 15), temperature 0x4000|415 (bit 14), pressure 0x8000|10123 (bit 15).
    let bytes = [
        0x23, 0x81, 0x9f, 0x41, 0x8b, 0xa7, 53, 12, 0, 0x3c, 0x00, 0x10, 0x00,
    ];
    let m = decode_detailed(&bytes).unwrap();
    assert_eq!(m.co2_ppm, None);
    assert_eq!(m.temperature_raw, None);
    assert_eq!(m.pressure_raw, None);
    assert_eq!(m.temperature_c(), None);
    assert_eq!(m.pressure_hpa(), None);
    assert_eq!(m.status, StatusColour::Error);
    let encoded = encode_detailed(&m);
    assert_eq!(&encoded[..6], &[0x00, 0x80, 0x00, 0x40, 0x00, 0x80]);
    assert_eq!(&encoded[6..], &bytes[6..]);
    assert_eq!(decode_detailed(&encoded), Ok(m));
}

#[test]
fn temperature_bit_15_alone_is_not_the_invalid_flag() {
    let mut bytes = [0u8; CURRENT_LEN];
    bytes[2..4].copy_from_slice(&0x8001u16.to_le_bytes());
    assert_eq!(
        decode_current(&bytes).unwrap().temperature_raw,
        Some(0x8001)
    );
    bytes[2..4].copy_from_slice(&0x4001u16.to_le_bytes());
    assert_eq!(decode_current(&bytes).unwrap().temperature_raw, None);
}

#[test]
fn each_flag_is_independent() {
    for (at, flag) in [
        (0, CO2_INVALID),
        (2, TEMPERATURE_INVALID),
        (4, PRESSURE_INVALID),
    ] {
        let mut bytes = [0u8; CURRENT_LEN];
        bytes[at..at + 2].copy_from_slice(&(flag | 7).to_le_bytes());
        let m = decode_current(&bytes).unwrap();
        let nones = [
            m.co2_ppm.is_none(),
            m.temperature_raw.is_none(),
            m.pressure_raw.is_none(),
        ];
        assert_eq!(nones.iter().filter(|n| **n).count(), 1, "{at}: {m:?}");
        assert!(nones[at / 2]);
    }
}

#[test]
fn wrong_lengths_are_rejected() {
    let bytes = [0x20u8; 40];
    for n in [0, 1, 6, 8, 21, 23, 40] {
        assert!(
            matches!(
                decode_advertisement(&bytes[..n]),
                Err(DecodeError::WrongLength { expected: ADVERTISEMENT_LEN, found, .. }) if found == n
            ),
            "advertisement of {n}"
        );
    }
    for n in [0, 6, 8, 9, 12, 14, 21, 22, 23] {
        assert_eq!(
            decode_detailed(&bytes[..n]),
            Err(DecodeError::WrongLength {
                what: "Aranet4 current readings f0cd3001",
                expected: DETAILED_LEN,
                found: n
            })
        );
    }
    for n in [0, 6, 8, 10, 13, 21, 22, 23] {
        assert!(matches!(
            decode_current(&bytes[..n]),
            Err(DecodeError::WrongLength { expected: CURRENT_LEN, found, .. }) if found == n
        ));
    }
}

#[test]
fn integrations_off_is_reported_with_the_version() {
    let off = [0x01, 0x05, 0x03, 0x01, 0x00, 0x00, 0x00];
    let err = decode_advertisement(&off).unwrap_err();
    assert_eq!(
        err,
        DecodeError::IntegrationsOff {
            version: Some(Version::new(1, 3, 5))
        }
    );
    let message = err.to_string();
    assert!(message.contains("v1.3.5"), "{message}");
    assert!(message.contains("Aranet Home app"), "{message}");
    assert!(message.contains("Smart Home integrations"), "{message}");
    assert!(message.contains("v1.2.0 or later"), "{message}");

    // The long form with bit 5 clear.
    let mut long = WORKED;
    long[0] &= !0x20;
    assert_eq!(
        decode_advertisement(&long),
        Err(DecodeError::IntegrationsOff {
            version: Some(Version::new(1, 3, 5))
        })
    );

    // Old firmware is told to update first.
    let old = encode_advertisement_off(Flags::default(), Version::new(1, 1, 9));
    let message = decode_advertisement(&old).unwrap_err().to_string();
    assert!(
        message.contains("update its firmware to v1.2.0"),
        "{message}"
    );

    // Even with the integrations flag set, the short form carries no reading.
    let mut short = off;
    short[0] |= 0x20;
    assert!(matches!(
        decode_advertisement(&short),
        Err(DecodeError::IntegrationsOff { .. })
    ));
}

#[test]
fn encode_off_clears_the_integrations_bit() {
    let flags = Flags {
        disconnected: true,
        calibration: CalibrationState::InProgress,
        dfu_active: true,
        integrations: true,
    };
    let bytes = encode_advertisement_off(flags, Version::new(1, 4, 19));
    assert_eq!(bytes, [0b0001_1001, 19, 4, 1, 0, 0, 0]);
}

#[test]
fn flags_bits_decode() {
    let f = Flags::from_byte(0b1110_1110);
    assert!(!f.disconnected);
    assert_eq!(f.calibration, CalibrationState::Error);
    assert!(!f.dfu_active);
    assert!(f.integrations);
    assert_eq!(f.to_byte(), 0b0010_1100);
    for state in 0..4 {
        let f = Flags::from_byte(state << 2);
        assert_eq!(f.calibration.to_bits(), state);
        assert_eq!(Flags::from_byte(f.to_byte()), f);
    }
}

#[test]
fn status_colours() {
    let names: Vec<_> = (0..=4u8)
        .map(|b| StatusColour::from_byte(b).as_str())
        .collect();
    assert_eq!(names, ["error", "green", "yellow", "red", "unknown"]);
    assert_eq!(StatusColour::from(200), StatusColour::Unknown(200));
    assert_eq!(StatusColour::Unknown(200).to_byte(), 200);
    assert_eq!(StatusColour::Red.to_string(), "red");
    assert_eq!(StatusColour::from_co2_ppm(999), StatusColour::Green);
    assert_eq!(StatusColour::from_co2_ppm(1000), StatusColour::Yellow);
    assert_eq!(StatusColour::from_co2_ppm(1399), StatusColour::Yellow);
    assert_eq!(StatusColour::from_co2_ppm(1400), StatusColour::Red);
}

#[test]
fn versions_order_and_print() {
    assert!(Version::new(1, 2, 0) > Version::new(1, 1, 99));
    assert!(Version::new(1, 10, 0) > Version::new(1, 9, 9));
    assert_eq!(Version::new(1, 4, 19).to_string(), "v1.4.19");
    assert_eq!(MIN_INTEGRATIONS_VERSION.to_string(), "v1.2.0");
}

#[test]
fn aranet4_names() {
    for yes in ["Aranet4 12345", "Aranet4 1A2B3", "Aranet4"] {
        assert!(is_aranet4_name(yes), "{yes}");
    }
    for no in [
        "",
        "Aranet",
        "Aranet2 12345",
        "Aranet\u{2622} 12345",
        "aranet4 12345",
        "Aranet45",
        " Aranet4 12345",
        "iPhone",
    ] {
        assert!(!is_aranet4_name(no), "{no}");
    }
}

/// A UUID in its hyphenated form.
fn hyphenated(v: u128) -> std::string::String {
    std::format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xFFFF,
        (v >> 64) & 0xFFFF,
        (v >> 48) & 0xFFFF,
        v & 0xFFFF_FFFF_FFFF
    )
}

#[test]
fn uuids_print_as_documented() {
    assert_eq!(
        hyphenated(uuid::SERVICE),
        "0000fce0-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        hyphenated(uuid::SERVICE_OLD),
        "f0cd1400-95da-4f4b-9ac8-aa55d312af0c"
    );
    assert_eq!(
        hyphenated(uuid::CURRENT_READINGS_DETAILED),
        "f0cd3001-95da-4f4b-9ac8-aa55d312af0c"
    );
    assert_eq!(
        hyphenated(uuid::CURRENT_READINGS),
        "f0cd1503-95da-4f4b-9ac8-aa55d312af0c"
    );
}

#[test]
fn wrong_length_messages_name_the_form() {
    let message = decode_detailed(&[0; 9]).unwrap_err().to_string();
    assert_eq!(
        message,
        "Aranet4 current readings f0cd3001 has 9 bytes, expected 13: not an Aranet4 value in a known format"
    );
    let message = decode_advertisement(&[0; 21]).unwrap_err().to_string();
    assert!(message.contains("0x0702"), "{message}");
    assert!(message.contains("21 bytes, expected 22"), "{message}");
}

// Strategies: values that are representable, i.e. `Some` raw values without their flag bit.

fn co2_or_pressure() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![1 => Just(None), 8 => (0..0x8000u16).prop_map(Some)]
}

fn temperature() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![1 => Just(None), 8 => any::<u16>().prop_filter_map("bit 14 is the invalid flag", |t| (t & 0x4000 == 0).then_some(Some(t)))]
}

fn status() -> impl Strategy<Value = StatusColour> {
    any::<u8>().prop_map(StatusColour::from_byte)
}

prop_compose! {
    fn measurement(with_timing: bool)(
        co2_ppm in co2_or_pressure(),
        temperature_raw in temperature(),
        pressure_raw in co2_or_pressure(),
        humidity_percent in any::<u8>(),
        battery_percent in any::<u8>(),
        status in status(),
        interval in any::<u16>(),
        age in any::<u16>(),
    ) -> Measurement {
        Measurement {
            co2_ppm,
            temperature_raw,
            pressure_raw,
            humidity_percent,
            battery_percent,
            status,
            interval_s: with_timing.then_some(interval),
            age_s: with_timing.then_some(age),
        }
    }
}

prop_compose! {
    fn flags()(byte in any::<u8>()) -> Flags {
        Flags { integrations: true, ..Flags::from_byte(byte) }
    }
}

prop_compose! {
    fn advertised()(
        flags in flags(),
        major in any::<u8>(),
        minor in any::<u8>(),
        patch in any::<u8>(),
        measurement in measurement(true),
        counter in any::<u8>(),
    ) -> AdvertisedReading {
        AdvertisedReading { flags, version: Version::new(major, minor, patch), measurement, counter }
    }
}

proptest! {
    #[test]
    fn advertisement_round_trips(r in advertised()) {
        prop_assert_eq!(decode_advertisement(&encode_advertisement(&r)), Ok(r));
    }

    #[test]
    fn detailed_round_trips(m in measurement(true)) {
        prop_assert_eq!(decode_detailed(&encode_detailed(&m)), Ok(m));
    }

    #[test]
    fn current_round_trips(m in measurement(false)) {
        prop_assert_eq!(decode_current(&encode_current(&m)), Ok(m));
    }

    #[test]
    fn off_round_trips(flags in flags(), major in any::<u8>(), minor in any::<u8>(), patch in any::<u8>()) {
        let version = Version::new(major, minor, patch);
        prop_assert_eq!(
            decode_advertisement(&encode_advertisement_off(flags, version)),
            Err(DecodeError::IntegrationsOff { version: Some(version) })
        );
    }

    /// Any bytes of an accepted length decode (or report integrations off), and what decodes
    /// re-encodes to something that decodes the same.
    #[test]
    fn arbitrary_advertisements_decode_stably(bytes in prop::array::uniform22(any::<u8>())) {
        match decode_advertisement(&bytes) {
            Ok(r) => {
                prop_assert_eq!(decode_advertisement(&encode_advertisement(&r)), Ok(r));
                // Lost: the unknown bytes 4–7, flag bits 1, 6 and 7, and the exact bits of
                // flagged (invalid) values, which become canonical. Everything else is kept.
                let again = encode_advertisement(&r);
                prop_assert_eq!(&again[14..], &bytes[14..]);
                prop_assert_eq!(&again[1..4], &bytes[1..4]);
                let word = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
                for (at, flag) in [(8, CO2_INVALID), (10, TEMPERATURE_INVALID), (12, PRESSURE_INVALID)] {
                    let (was, is) = (word(&bytes, at), word(&again, at));
                    prop_assert!(was == is || (was & flag != 0 && is == flag), "{} {:#06x} {:#06x}", at, was, is);
                }
            }
            Err(e) => {
                let off = matches!(e, DecodeError::IntegrationsOff { version: Some(_) });
                prop_assert!(off && bytes[0] & 0x20 == 0, "{:?}", e);
            }
        }
    }

    #[test]
    fn arbitrary_gatt_values_decode_stably(bytes in prop::array::uniform13(any::<u8>())) {
        let m = decode_detailed(&bytes).unwrap();
        prop_assert_eq!(decode_detailed(&encode_detailed(&m)), Ok(m));
        let c = decode_current(&bytes[..CURRENT_LEN]).unwrap();
        prop_assert_eq!(decode_current(&encode_current(&c)), Ok(c));
        // Both forms agree on the common part.
        prop_assert_eq!(Measurement { interval_s: None, age_s: None, ..m }, c);
    }

    #[test]
    fn any_length_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_advertisement(&bytes);
        let _ = decode_detailed(&bytes);
        let _ = decode_current(&bytes);
    }
}
