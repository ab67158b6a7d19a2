#![doc = include_str!("../README.md")]
//!
//! ## The formats in detail
//!
//! | where the bytes come from | length | decoder | encoder |
//! |---|---|---|---|
//! | advertisement, manufacturer data of company [`MANUFACTURER_ID`] (`0x0702`) | 22 ([`ADVERTISEMENT_LEN`]), or 7 ([`ADVERTISEMENT_OFF_LEN`]) with Smart Home integrations off | [`decode_advertisement`] | [`encode_advertisement`], [`encode_advertisement_off`] |
//! | GATT characteristic [`uuid::CURRENT_READINGS_DETAILED`] (`f0cd3001`) | 13 ([`DETAILED_LEN`]) | [`decode_detailed`] | [`encode_detailed`] |
//! | GATT characteristic [`uuid::CURRENT_READINGS`] (`f0cd1503`) | 9 ([`CURRENT_LEN`]) | [`decode_current`] | [`encode_current`] |
//!
//! Reading from advertisements needs no pairing but needs *Smart Home integrations* switched on
//! in the Aranet Home app (firmware v1.2.0 or later). Otherwise the advertisement is the 7-byte
//! form and [`decode_advertisement`] returns [`DecodeError::IntegrationsOff`], whose message says
//! how to switch them on. GATT reads work either way but need the device paired.
//!
//! ## Layout
//!
//! All multi-byte values are little-endian. A measurement is `CO2 u16, temperature u16, pressure
//! u16, humidity u8, battery u8, status u8`, followed in the detailed form by `interval u16, age
//! u16` (Python `struct` format `<HHHBBBHH`). The advertisement prefixes the firmware's flags
//! byte, its version and four unknown bytes, and appends a counter:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | [`Flags`] |
//! | 1, 2, 3 | firmware patch, minor, major ([`Version`]) |
//! | 4–7 | unknown (decoded as nothing, encoded as zero) |
//! | 8–20 | the 13-byte detailed measurement |
//! | 21 | counter |
//!
//! ## Invalid values
//!
//! While the CO₂ sensor calibrates, the device reports values with a flag bit set: bit 15 for
//! CO₂ and pressure, bit 14 for temperature. These decode to `None`. Encoding `None` writes the
//! canonical flagged values [`CO2_INVALID`] (`0x8000`), [`TEMPERATURE_INVALID`] (`0x4000`) and
//! [`PRESSURE_INVALID`] (`0x8000`), so `decode(encode(m)) == m` holds. A `Some` raw value is
//! written unchanged: one that has its own flag bit set (CO₂ or pressure ≥ `0x8000`, temperature
//! with bit 14 set) cannot be represented as valid and reads back as `None`.
//!
//! ## Length rules
//!
//! The GATT values have a fixed size: anything shorter *or longer* is rejected with
//! [`DecodeError::WrongLength`], since a longer value means a different characteristic or
//! firmware than the one this layout describes. The advertisement must be exactly 22 or 7 bytes.
//! No decoder panics, whatever the input.
//!
//! The protocol facts come from Anrijs/Aranet4-Python (`aranet4/client.py`, `docs/UUIDs.md` and
//! its advertisement tests).
#![no_std]
#![warn(missing_docs)]

mod codec;
mod types;

#[cfg(test)]
mod tests;

pub use codec::{
    decode_advertisement, decode_current, decode_detailed, encode_advertisement,
    encode_advertisement_off, encode_current, encode_detailed, is_aranet4_name,
};
pub use types::{
    AdvertisedReading, CalibrationState, DecodeError, Flags, Measurement, StatusColour, Version,
};

/// Bluetooth SIG company identifier of SAF Tehnika, the maker of Aranet4: the key of its
/// manufacturer data in advertisements.
pub const MANUFACTURER_ID: u16 = 0x0702;

/// Length of the advertisement's manufacturer data with Smart Home integrations on.
pub const ADVERTISEMENT_LEN: usize = 22;
/// Length of the advertisement's manufacturer data with Smart Home integrations off (flags and
/// version only).
pub const ADVERTISEMENT_OFF_LEN: usize = 7;
/// Length of the [`uuid::CURRENT_READINGS_DETAILED`] value.
pub const DETAILED_LEN: usize = 13;
/// Length of the [`uuid::CURRENT_READINGS`] value.
pub const CURRENT_LEN: usize = 9;

/// The flag bit that marks a CO₂ value invalid, and the canonical invalid value the encoders
/// write for `co2_ppm: None`.
pub const CO2_INVALID: u16 = 0x8000;
/// The flag bit that marks a temperature value invalid, and the canonical invalid value the
/// encoders write for `temperature_raw: None`.
pub const TEMPERATURE_INVALID: u16 = 0x4000;
/// The flag bit that marks a pressure value invalid, and the canonical invalid value the encoders
/// write for `pressure_raw: None`.
pub const PRESSURE_INVALID: u16 = 0x8000;

/// CO₂ at and above which an Aranet4 with default settings shows yellow, ppm.
pub const CO2_YELLOW_FROM_PPM: u16 = 1000;
/// CO₂ at and above which an Aranet4 with default settings shows red, ppm.
pub const CO2_RED_FROM_PPM: u16 = 1400;

/// The first firmware with Smart Home integrations (readings in advertisements) and the
/// [`uuid::SERVICE`] service UUID.
pub const MIN_INTEGRATIONS_VERSION: Version = Version::new(1, 2, 0);

/// Service and characteristic UUIDs, as 128-bit numbers: `Uuid::from_u128(uuid::SERVICE)` with the
/// `uuid` crate (btleplug, bluer), `Uuid(uuid::SERVICE)` in Sense Pulse's `sense-hal`.
pub mod uuid {
    /// The Aranet4 service on firmware v1.2.0 and later: the 16-bit UUID `0xFCE0` on the Bluetooth
    /// base UUID, `0000fce0-0000-1000-8000-00805f9b34fb`.
    pub const SERVICE: u128 = from_u16(0xFCE0);
    /// The Aranet4 service before firmware v1.2.0.
    pub const SERVICE_OLD: u128 = 0xf0cd1400_95da_4f4b_9ac8_aa55d312af0c;
    /// Current readings with interval and age, 13 bytes: decode with
    /// [`decode_detailed`](crate::decode_detailed).
    pub const CURRENT_READINGS_DETAILED: u128 = 0xf0cd3001_95da_4f4b_9ac8_aa55d312af0c;
    /// Current readings, 9 bytes: decode with [`decode_current`](crate::decode_current).
    pub const CURRENT_READINGS: u128 = 0xf0cd1503_95da_4f4b_9ac8_aa55d312af0c;
    /// Number of readings stored in the history, `u16` little-endian.
    pub const TOTAL_READINGS: u128 = 0xf0cd2001_95da_4f4b_9ac8_aa55d312af0c;
    /// Measurement interval in seconds, `u16` little-endian.
    pub const INTERVAL: u128 = 0xf0cd2002_95da_4f4b_9ac8_aa55d312af0c;
    /// Seconds since the last measurement, `u16` little-endian.
    pub const SECONDS_SINCE_UPDATE: u128 = 0xf0cd2004_95da_4f4b_9ac8_aa55d312af0c;

    /// The Bluetooth base UUID with a 16-bit short UUID filled in.
    pub const fn from_u16(short: u16) -> u128 {
        0x0000_0000_0000_1000_8000_0080_5f9b_34fb | ((short as u128) << 96)
    }
}
