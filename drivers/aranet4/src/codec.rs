//! Decoding and encoding of the three byte forms.

use crate::types::{AdvertisedReading, DecodeError, Flags, Measurement, StatusColour, Version};
use crate::{
    ADVERTISEMENT_LEN, ADVERTISEMENT_OFF_LEN, CO2_INVALID, CURRENT_LEN, DETAILED_LEN,
    PRESSURE_INVALID, TEMPERATURE_INVALID,
};

/// What [`DecodeError::WrongLength`] names for each form.
const ADVERTISEMENT_WHAT: &str =
    "Aranet4 advertisement (manufacturer data 0x0702; 7 bytes with Smart Home integrations off)";
const DETAILED_WHAT: &str = "Aranet4 current readings f0cd3001";
const CURRENT_WHAT: &str = "Aranet4 current readings f0cd1503";

/// Offset of the measurement inside the advertisement.
const ADVERTISEMENT_MEASUREMENT_AT: usize = 8;

fn u16_at(bytes: &[u8; CURRENT_LEN], at: usize) -> u16 {
    // `at` is 0, 2 or 4: in bounds of the fixed-size array.
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn flagged(raw: u16, flag: u16) -> Option<u16> {
    (raw & flag == 0).then_some(raw)
}

/// The 9-byte common part: CO₂, temperature, pressure, humidity, battery, status.
fn decode_common(bytes: &[u8; CURRENT_LEN]) -> Measurement {
    Measurement {
        co2_ppm: flagged(u16_at(bytes, 0), CO2_INVALID),
        temperature_raw: flagged(u16_at(bytes, 2), TEMPERATURE_INVALID),
        pressure_raw: flagged(u16_at(bytes, 4), PRESSURE_INVALID),
        humidity_percent: bytes[6],
        battery_percent: bytes[7],
        status: StatusColour::from_byte(bytes[8]),
        interval_s: None,
        age_s: None,
    }
}

fn encode_common(m: &Measurement) -> [u8; CURRENT_LEN] {
    let [c0, c1] = m.co2_word().to_le_bytes();
    let [t0, t1] = m.temperature_word().to_le_bytes();
    let [p0, p1] = m.pressure_word().to_le_bytes();
    [
        c0,
        c1,
        t0,
        t1,
        p0,
        p1,
        m.humidity_percent,
        m.battery_percent,
        m.status.to_byte(),
    ]
}

fn decode_detailed_array(bytes: &[u8; DETAILED_LEN]) -> Measurement {
    let [common @ .., i0, i1, a0, a1] = *bytes;
    Measurement {
        interval_s: Some(u16::from_le_bytes([i0, i1])),
        age_s: Some(u16::from_le_bytes([a0, a1])),
        ..decode_common(&common)
    }
}

/// Decodes the manufacturer data (company [`MANUFACTURER_ID`](crate::MANUFACTURER_ID)) of an
/// Aranet4 advertisement.
///
/// # Errors
///
/// - [`DecodeError::IntegrationsOff`] for the 7-byte form, and for a 22-byte payload whose flags
///   say integrations are off (then only the flags and version are meaningful).
/// - [`DecodeError::WrongLength`] for any length other than 22 or 7.
pub fn decode_advertisement(data: &[u8]) -> Result<AdvertisedReading, DecodeError> {
    if let Ok(off) = <&[u8; ADVERTISEMENT_OFF_LEN]>::try_from(data) {
        return Err(DecodeError::IntegrationsOff {
            version: Some(Version::new(off[3], off[2], off[1])),
        });
    }
    let Ok(bytes) = <&[u8; ADVERTISEMENT_LEN]>::try_from(data) else {
        return Err(DecodeError::WrongLength {
            what: ADVERTISEMENT_WHAT,
            expected: ADVERTISEMENT_LEN,
            found: data.len(),
        });
    };
    let [flags, patch, minor, major, _, _, _, _, rest @ ..] = *bytes;
    let version = Version::new(major, minor, patch);
    let flags = Flags::from_byte(flags);
    if !flags.integrations {
        return Err(DecodeError::IntegrationsOff {
            version: Some(version),
        });
    }
    let [measurement @ .., counter] = rest;
    Ok(AdvertisedReading {
        flags,
        version,
        measurement: decode_detailed_array(&measurement),
        counter,
    })
}

/// Decodes the 13-byte value of [`CURRENT_READINGS_DETAILED`](crate::uuid::CURRENT_READINGS_DETAILED)
/// (`f0cd3001`). `interval_s` and `age_s` are always `Some`.
///
/// # Errors
///
/// [`DecodeError::WrongLength`] unless `data` is exactly 13 bytes.
pub fn decode_detailed(data: &[u8]) -> Result<Measurement, DecodeError> {
    <&[u8; DETAILED_LEN]>::try_from(data)
        .map(decode_detailed_array)
        .map_err(|_| DecodeError::WrongLength {
            what: DETAILED_WHAT,
            expected: DETAILED_LEN,
            found: data.len(),
        })
}

/// Decodes the 9-byte value of [`CURRENT_READINGS`](crate::uuid::CURRENT_READINGS) (`f0cd1503`).
/// `interval_s` and `age_s` are always `None`: this form does not carry them.
///
/// # Errors
///
/// [`DecodeError::WrongLength`] unless `data` is exactly 9 bytes.
pub fn decode_current(data: &[u8]) -> Result<Measurement, DecodeError> {
    <&[u8; CURRENT_LEN]>::try_from(data)
        .map(decode_common)
        .map_err(|_| DecodeError::WrongLength {
            what: CURRENT_WHAT,
            expected: CURRENT_LEN,
            found: data.len(),
        })
}

/// Encodes an advertisement's manufacturer data (22 bytes).
///
/// The flags are written as given: with `flags.integrations` false the result is a payload that
/// [`decode_advertisement`] rejects with [`DecodeError::IntegrationsOff`]. Unknown bytes 4–7 are
/// zero; `interval_s` and `age_s` of `None` are written as 0.
pub fn encode_advertisement(r: &AdvertisedReading) -> [u8; ADVERTISEMENT_LEN] {
    let mut out = [0u8; ADVERTISEMENT_LEN];
    out[0] = r.flags.to_byte();
    out[1] = r.version.patch;
    out[2] = r.version.minor;
    out[3] = r.version.major;
    out[ADVERTISEMENT_MEASUREMENT_AT..ADVERTISEMENT_LEN - 1]
        .copy_from_slice(&encode_detailed(&r.measurement));
    out[ADVERTISEMENT_LEN - 1] = r.counter;
    out
}

/// Encodes the 7-byte advertisement of an Aranet4 with Smart Home integrations off: the flags
/// (with the integrations bit cleared whatever `flags` says), the version and three zero bytes.
pub fn encode_advertisement_off(flags: Flags, version: Version) -> [u8; ADVERTISEMENT_OFF_LEN] {
    let flags = Flags {
        integrations: false,
        ..flags
    };
    [
        flags.to_byte(),
        version.patch,
        version.minor,
        version.major,
        0,
        0,
        0,
    ]
}

/// Encodes the 13-byte [`CURRENT_READINGS_DETAILED`](crate::uuid::CURRENT_READINGS_DETAILED)
/// value. `interval_s` and `age_s` of `None` are written as 0.
pub fn encode_detailed(m: &Measurement) -> [u8; DETAILED_LEN] {
    let mut out = [0u8; DETAILED_LEN];
    out[..CURRENT_LEN].copy_from_slice(&encode_common(m));
    out[9..11].copy_from_slice(&m.interval_s.unwrap_or(0).to_le_bytes());
    out[11..13].copy_from_slice(&m.age_s.unwrap_or(0).to_le_bytes());
    out
}

/// Encodes the 9-byte [`CURRENT_READINGS`](crate::uuid::CURRENT_READINGS) value. `interval_s` and
/// `age_s` are not part of this form and are ignored.
pub fn encode_current(m: &Measurement) -> [u8; CURRENT_LEN] {
    encode_common(m)
}

/// Whether a BLE device name looks like an Aranet4's: `Aranet4` alone or followed by a space and
/// more (the factory name is `Aranet4 ` and five characters of the serial number, e.g.
/// `Aranet4 12345`). Case-sensitive, as the device spells it; other Aranet models (`Aranet2 …`,
/// `Aranet☢ …`) do not match.
pub fn is_aranet4_name(name: &str) -> bool {
    match name.strip_prefix("Aranet4") {
        Some(rest) => rest.is_empty() || rest.starts_with(' '),
        None => false,
    }
}
