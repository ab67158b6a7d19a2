//! The decoded values and the decoding error.

use core::fmt;

use crate::{
    CO2_RED_FROM_PPM, CO2_YELLOW_FROM_PPM, MIN_INTEGRATIONS_VERSION, PRESSURE_INVALID,
    TEMPERATURE_INVALID,
};

/// The colour of the Aranet4's status indicator, as the device reports it (it follows the CO₂
/// thresholds set on the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusColour {
    /// 0: no status (the device reports an error or has no valid CO₂ reading).
    Error,
    /// 1: CO₂ below the yellow threshold (1000 ppm by default).
    Green,
    /// 2: CO₂ at or above the yellow threshold and below the red one (1400 ppm by default).
    Yellow,
    /// 3: CO₂ at or above the red threshold.
    Red,
    /// Any other byte, kept so it can be shown and re-encoded. [`StatusColour::from_byte`] only
    /// produces it for values 4 to 255; `Unknown(0..=3)` encodes as, and decodes back to, the
    /// named colour.
    Unknown(u8),
}

impl StatusColour {
    /// The colour for a status byte.
    pub const fn from_byte(byte: u8) -> StatusColour {
        match byte {
            0 => StatusColour::Error,
            1 => StatusColour::Green,
            2 => StatusColour::Yellow,
            3 => StatusColour::Red,
            other => StatusColour::Unknown(other),
        }
    }

    /// The status byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            StatusColour::Error => 0,
            StatusColour::Green => 1,
            StatusColour::Yellow => 2,
            StatusColour::Red => 3,
            StatusColour::Unknown(byte) => byte,
        }
    }

    /// The colour an Aranet4 with default thresholds shows for `co2_ppm`:
    /// green below [`CO2_YELLOW_FROM_PPM`], yellow below [`CO2_RED_FROM_PPM`], red from there.
    pub const fn from_co2_ppm(co2_ppm: u16) -> StatusColour {
        if co2_ppm < CO2_YELLOW_FROM_PPM {
            StatusColour::Green
        } else if co2_ppm < CO2_RED_FROM_PPM {
            StatusColour::Yellow
        } else {
            StatusColour::Red
        }
    }

    /// `"error"`, `"green"`, `"yellow"`, `"red"`, or `"unknown"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatusColour::Error => "error",
            StatusColour::Green => "green",
            StatusColour::Yellow => "yellow",
            StatusColour::Red => "red",
            StatusColour::Unknown(_) => "unknown",
        }
    }
}

impl From<u8> for StatusColour {
    fn from(byte: u8) -> Self {
        StatusColour::from_byte(byte)
    }
}

impl fmt::Display for StatusColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of the CO₂ sensor's calibration (flags bits 2–3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CalibrationState {
    /// 0: not calibrating.
    #[default]
    NotActive,
    /// 1: calibration end requested.
    EndRequest,
    /// 2: calibrating; CO₂ readings are invalid meanwhile.
    InProgress,
    /// 3: calibration failed.
    Error,
}

impl CalibrationState {
    /// The state for the two-bit field value (only the low two bits of `bits` are used).
    pub const fn from_bits(bits: u8) -> CalibrationState {
        match bits & 0b11 {
            0 => CalibrationState::NotActive,
            1 => CalibrationState::EndRequest,
            2 => CalibrationState::InProgress,
            _ => CalibrationState::Error,
        }
    }

    /// The two-bit field value.
    pub const fn to_bits(self) -> u8 {
        match self {
            CalibrationState::NotActive => 0,
            CalibrationState::EndRequest => 1,
            CalibrationState::InProgress => 2,
            CalibrationState::Error => 3,
        }
    }
}

/// A firmware version. Ordered by major, then minor, then patch; shown as `v1.3.5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch version.
    pub patch: u8,
}

impl Version {
    /// `v{major}.{minor}.{patch}`.
    pub const fn new(major: u8, minor: u8, patch: u8) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The advertisement's flags byte.
///
/// Bits 1, 6 and 7 have no known meaning: they are ignored when decoding and written as zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Bit 0: no central is connected. (Set in normal advertising.)
    pub disconnected: bool,
    /// Bits 2–3: the CO₂ calibration state.
    pub calibration: CalibrationState,
    /// Bit 4: a firmware update (DFU) is running.
    pub dfu_active: bool,
    /// Bit 5: Smart Home integrations are on, so the advertisement carries readings.
    pub integrations: bool,
}

impl Flags {
    const DISCONNECTED: u8 = 1 << 0;
    const CALIBRATION_SHIFT: u8 = 2;
    const DFU_ACTIVE: u8 = 1 << 4;
    const INTEGRATIONS: u8 = 1 << 5;

    /// Decodes the flags byte.
    pub const fn from_byte(byte: u8) -> Flags {
        Flags {
            disconnected: byte & Self::DISCONNECTED != 0,
            calibration: CalibrationState::from_bits(byte >> Self::CALIBRATION_SHIFT),
            dfu_active: byte & Self::DFU_ACTIVE != 0,
            integrations: byte & Self::INTEGRATIONS != 0,
        }
    }

    /// Encodes the flags byte (unknown bits zero).
    pub const fn to_byte(self) -> u8 {
        let mut byte = self.calibration.to_bits() << Self::CALIBRATION_SHIFT;
        if self.disconnected {
            byte |= Self::DISCONNECTED;
        }
        if self.dfu_active {
            byte |= Self::DFU_ACTIVE;
        }
        if self.integrations {
            byte |= Self::INTEGRATIONS;
        }
        byte
    }
}

/// One measurement, with the raw units kept so that encoding and decoding round-trip exactly.
///
/// `None` for CO₂, temperature or pressure means the device flagged the value invalid (it does so
/// while calibrating). See the [crate documentation](crate#invalid-values) for the encoding of
/// `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Measurement {
    /// CO₂ in ppm; `None` when the invalid flag (bit 15) is set.
    pub co2_ppm: Option<u16>,
    /// Temperature in 1/20 °C; `None` when the invalid flag (bit 14) is set. See
    /// [`temperature_c`](Self::temperature_c).
    pub temperature_raw: Option<u16>,
    /// Pressure in 1/10 hPa; `None` when the invalid flag (bit 15) is set. See
    /// [`pressure_hpa`](Self::pressure_hpa).
    pub pressure_raw: Option<u16>,
    /// Relative humidity, %.
    pub humidity_percent: u8,
    /// Battery charge, %.
    pub battery_percent: u8,
    /// The status indicator's colour.
    pub status: StatusColour,
    /// Seconds between measurements; `None` in the 9-byte `f0cd1503` form, which lacks it.
    pub interval_s: Option<u16>,
    /// Seconds since this measurement was taken; `None` in the 9-byte `f0cd1503` form.
    pub age_s: Option<u16>,
}

impl Measurement {
    /// Temperature in °C (raw ÷ 20).
    pub fn temperature_c(&self) -> Option<f32> {
        self.temperature_raw.map(|raw| f32::from(raw) / 20.0)
    }

    /// Pressure in hPa (raw ÷ 10).
    pub fn pressure_hpa(&self) -> Option<f32> {
        self.pressure_raw.map(|raw| f32::from(raw) / 10.0)
    }

    /// The raw CO₂ word: the value, or [`CO2_INVALID`](crate::CO2_INVALID) for `None`.
    pub(crate) fn co2_word(&self) -> u16 {
        self.co2_ppm.unwrap_or(crate::CO2_INVALID)
    }

    /// The raw temperature word: the value, or [`TEMPERATURE_INVALID`] for `None`.
    pub(crate) fn temperature_word(&self) -> u16 {
        self.temperature_raw.unwrap_or(TEMPERATURE_INVALID)
    }

    /// The raw pressure word: the value, or [`PRESSURE_INVALID`] for `None`.
    pub(crate) fn pressure_word(&self) -> u16 {
        self.pressure_raw.unwrap_or(PRESSURE_INVALID)
    }
}

/// A reading decoded from an advertisement with Smart Home integrations on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdvertisedReading {
    /// The flags byte.
    pub flags: Flags,
    /// The firmware version.
    pub version: Version,
    /// The latest measurement. `interval_s` and `age_s` are always `Some` when decoded.
    pub measurement: Measurement,
    /// A counter that moves on with each new advertisement payload; wraps at 255.
    pub counter: u8,
}

/// Why bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The value has the wrong length for its form.
    WrongLength {
        /// What was being decoded.
        what: &'static str,
        /// The length expected (for the advertisement: 22; 7 is the integrations-off form).
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The advertisement carries no readings because Smart Home integrations are off: the 7-byte
    /// form, or a 22-byte one with flags bit 5 clear. Both carry the firmware version, so the
    /// decoders in this crate always give `Some`.
    IntegrationsOff {
        /// The device's firmware version, if known.
        version: Option<Version>,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::WrongLength {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what} has {found} bytes, expected {expected}: not an Aranet4 value in a known format"
            ),
            DecodeError::IntegrationsOff { version } => {
                f.write_str("Smart Home integrations are off on this Aranet4")?;
                match version {
                    Some(v) => write!(f, " (firmware {v})")?,
                    None => f.write_str(" (firmware version unknown)")?,
                }
                f.write_str(", so its advertisements carry no readings: ")?;
                if version.is_some_and(|v| v < MIN_INTEGRATIONS_VERSION) {
                    write!(
                        f,
                        "update its firmware to {MIN_INTEGRATIONS_VERSION} or later, then turn them \
                         on in the Aranet Home app (device settings → Smart Home integrations)"
                    )
                } else {
                    write!(
                        f,
                        "turn them on in the Aranet Home app (device settings → Smart Home \
                         integrations; firmware {MIN_INTEGRATIONS_VERSION} or later needed)"
                    )
                }
            }
        }
    }
}

impl core::error::Error for DecodeError {}
