#![doc = include_str!("../README.md")]
//!
//! ## The driver in detail
//!
//! `Lps25h::init` checks `WHO_AM_I` and configures a [`Mode`]; `Lps25h::read` returns a
//! [`Measurement`] in hPa and °C. The conversions are pure functions: [`raw_pressure`] assembles
//! the 24-bit two's-complement output, [`pressure_hpa`] divides by 4096 and [`temperature_c`] is
//! 42.5 + raw / 480. The chip needs no per-device calibration: it is trimmed at the factory.
//!
//! The chip answers at `0x5C` or `0x5D` by its SA0 pin: the constructor takes an [`Address`]
//! ([`Address::SENSE_HAT`] = [`Address::Sa0Low`] = `0x5C` on the Raspberry Pi Sense HAT).
//!
//! The driver is written once and generated twice: `blocking::Lps25h` on
//! `embedded_hal::i2c::I2c` and `embedded_hal::delay::DelayNs` (feature `blocking`), and
//! `asynch::Lps25h` on `embedded_hal_async::i2c::I2c` and `embedded_hal_async::delay::DelayNs`
//! (feature `async`). Both are default features and can be used side by side. No allocation, no
//! executor or timer crate of its own.
//!
//! ## Example, run against a mock bus
//!
//! The traffic of `init` and of one one-shot `read` at SA0 high, checked by `embedded-hal-mock`:
//!
//! ```
//! # #[cfg(feature = "blocking")] {
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write_read(0x5D, vec![0x0F], vec![0xBD]),
//! #     Transaction::write(0x5D, vec![0x10, 0x05]),
//! #     Transaction::write(0x5D, vec![0x21, 0x00]),
//! #     Transaction::write(0x5D, vec![0x20, 0x84]),
//! #     Transaction::write(0x5D, vec![0x21, 0x01]),
//! #     Transaction::write_read(0x5D, vec![0x21], vec![0x00]),
//! #     Transaction::write_read(0x5D, vec![0xA8], vec![0x00, 0x54, 0x3F, 0xD0, 0xD5]),
//! # ]);
//! # let delay = NoopDelay::new();
//! use sense_lps25h::{blocking::Lps25h, Address, Mode};
//!
//! let mut sensor = Lps25h::new(i2c.clone(), delay, Address::Sa0High);
//! sensor.init(Mode::OneShot)?;
//! let m = sensor.read()?;
//! assert_eq!((m.pressure_hpa, m.temperature_c), (1013.25, 20.0));
//! # i2c.done();
//! # }
//! # Ok::<(), sense_lps25h::Error<embedded_hal::i2c::ErrorKind>>(())
//! ```
//!
//! ## Waiting for data
//!
//! Waits are bounded: the driver polls every [`POLL_INTERVAL_MS`] and gives up with
//! [`Error::ConversionTimeout`] instead of hanging on a stuck chip.
//!
//! - [`Mode::OneShot`]: each read sets `CTRL_REG2.ONE_SHOT` and polls `CTRL_REG2` until the chip
//!   clears the bit, at most [`ONE_SHOT_MAX_POLLS`] times (about 0.5 s). The sources this driver
//!   follows state no one-shot conversion time; RTIMULib runs the chip continuously at 25 Hz with
//!   the same averaging, so one conversion fits in 40 ms and the bound leaves a wide margin.
//! - [`Mode::Continuous`]: each read polls `STATUS` until both `P_DA` and `T_DA` are set, for at
//!   most [`CONTINUOUS_MAX_PERIODS`] output periods (2 s at 1 Hz, see [`Mode::max_polls`]).
#![no_std]
#![warn(missing_docs)]

use core::fmt;

pub mod register;

use register::{
    CTRL_REG1_BDU, CTRL_REG1_ODR_SHIFT, CTRL_REG1_PD, ODR_1HZ, ODR_7HZ, ODR_12_5HZ, ODR_25HZ,
    ODR_ONE_SHOT, WHO_AM_I_VALUE,
};

/// The LPS25H's 7-bit I2C address with its SA0 pin low: `0x5C`.
pub const ADDRESS_SA0_LOW: u8 = 0x5C;
/// The LPS25H's 7-bit I2C address with its SA0 pin high: `0x5D`.
pub const ADDRESS_SA0_HIGH: u8 = 0x5D;
/// The address of the Raspberry Pi Sense HAT's LPS25H (SA0 low): `0x5C`, the same as
/// [`ADDRESS_SA0_LOW`] and [`Address::SENSE_HAT`].
pub const ADDRESS: u8 = ADDRESS_SA0_LOW;

/// Where the LPS25H answers on the bus: its 7-bit address is `101110x`, `x` the level of its SA0
/// pin. The driver's constructor takes one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Address {
    /// SA0 low: `0x5C` ([`ADDRESS_SA0_LOW`]). The Sense HAT's, and the default.
    #[default]
    Sa0Low,
    /// SA0 high: `0x5D` ([`ADDRESS_SA0_HIGH`]).
    Sa0High,
}

impl Address {
    /// The Raspberry Pi Sense HAT's LPS25H: [`Address::Sa0Low`], `0x5C`.
    pub const SENSE_HAT: Address = Address::Sa0Low;

    /// The 7-bit I2C address.
    pub const fn bits(self) -> u8 {
        match self {
            Address::Sa0Low => ADDRESS_SA0_LOW,
            Address::Sa0High => ADDRESS_SA0_HIGH,
        }
    }
}

impl From<Address> for u8 {
    fn from(address: Address) -> u8 {
        address.bits()
    }
}

/// Time between two polls while waiting for a conversion, in milliseconds.
pub const POLL_INTERVAL_MS: u32 = 5;
/// One-shot mode: reads of `CTRL_REG2` before [`Error::ConversionTimeout`]. With a
/// [`POLL_INTERVAL_MS`] pause after each, that is about 0.5 s.
pub const ONE_SHOT_MAX_POLLS: u32 = 100;
/// Continuous mode: output periods to wait for `STATUS` data-ready before
/// [`Error::ConversionTimeout`]. A read that just missed a sample needs up to one period; two leave
/// room for a slow oscillator.
pub const CONTINUOUS_MAX_PERIODS: u32 = 2;

/// Assembles `PRESS_OUT_XL`, `PRESS_OUT_L` and `PRESS_OUT_H` into the signed 24-bit raw pressure
/// (bit 23 is the sign).
pub const fn raw_pressure(xl: u8, l: u8, h: u8) -> i32 {
    // Put the 24 bits at the top of an i32, then shift back: the arithmetic shift sign-extends.
    i32::from_le_bytes([0, xl, l, h]) >> 8
}

/// Raw pressure to hPa: raw / 4096 (4096 LSB/hPa).
pub fn pressure_hpa(raw: i32) -> f32 {
    // Precision: the raw value has 24 significant bits, exactly what an f32 holds.
    raw as f32 / 4096.0
}

/// Raw temperature to °C: 42.5 + raw / 480 (480 LSB/°C, offset 42.5 °C).
pub fn temperature_c(raw: i16) -> f32 {
    42.5 + f32::from(raw) / 480.0
}

/// Output data rate in continuous mode (`CTRL_REG1.ODR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataRate {
    /// 1 Hz.
    Hz1,
    /// 7 Hz.
    Hz7,
    /// 12.5 Hz.
    Hz12_5,
    /// 25 Hz.
    Hz25,
}

impl DataRate {
    /// The time between two samples, in milliseconds, rounded up.
    pub const fn period_ms(self) -> u32 {
        match self {
            DataRate::Hz1 => 1000,
            DataRate::Hz7 => 143,
            DataRate::Hz12_5 => 80,
            DataRate::Hz25 => 40,
        }
    }

    const fn odr_bits(self) -> u8 {
        match self {
            DataRate::Hz1 => ODR_1HZ,
            DataRate::Hz7 => ODR_7HZ,
            DataRate::Hz12_5 => ODR_12_5HZ,
            DataRate::Hz25 => ODR_25HZ,
        }
    }
}

/// How the chip converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// The chip sleeps between reads; each `Lps25h::read` triggers one conversion. The lowest
    /// power, and every reading is fresh.
    OneShot,
    /// The chip converts on its own at a [`DataRate`]; `Lps25h::read` waits for the next sample
    /// that has not been read yet.
    Continuous(DataRate),
}

impl Mode {
    /// The `CTRL_REG1` value for this mode: powered up, block data update, and the rate.
    pub const fn ctrl_reg1(self) -> u8 {
        let odr = match self {
            Mode::OneShot => ODR_ONE_SHOT,
            Mode::Continuous(rate) => rate.odr_bits(),
        };
        CTRL_REG1_PD | (odr << CTRL_REG1_ODR_SHIFT) | CTRL_REG1_BDU
    }

    /// How many times `Lps25h::read` polls before [`Error::ConversionTimeout`]: 100 in one-shot
    /// mode; in continuous mode enough for [`CONTINUOUS_MAX_PERIODS`] output periods (401 at 1 Hz,
    /// 58 at 7 Hz, 33 at 12.5 Hz, 17 at 25 Hz).
    pub const fn max_polls(self) -> u32 {
        match self {
            Mode::OneShot => ONE_SHOT_MAX_POLLS,
            Mode::Continuous(rate) => {
                CONTINUOUS_MAX_PERIODS * rate.period_ms() / POLL_INTERVAL_MS + 1
            }
        }
    }
}

/// One reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Absolute pressure at the sensor, hPa (not reduced to sea level).
    pub pressure_hpa: f32,
    /// Temperature of the sensor die, °C.
    pub temperature_c: f32,
}

/// What can go wrong. `E` is the I2C bus's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus failed (no acknowledge, arbitration loss, the address is busy, ...).
    I2c(E),
    /// `WHO_AM_I` did not read `0xBD`: another chip answers at the address. Holds what it read.
    UnexpectedDevice(u8),
    /// The chip did not deliver data within the bounded wait (see the crate documentation).
    ConversionTimeout,
    /// `Lps25h::read` before a successful `Lps25h::init`.
    NotInitialized,
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "LPS25H: I2C error: {e}"),
            Error::UnexpectedDevice(id) => write!(
                f,
                "LPS25H: WHO_AM_I is 0x{id:02X}, expected 0x{WHO_AM_I_VALUE:02X}"
            ),
            Error::ConversionTimeout => f.write_str(
                "LPS25H: conversion did not complete (ONE_SHOT bit stuck or no data ready)",
            ),
            Error::NotInitialized => f.write_str("LPS25H: read before init"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Error<E> {}

///
/// `blocking` and `asynch` are generated from one source by `maybe-async-cfg`: the async code is
/// the original, the blocking one has every `async` and `.await` removed. Same types, same I2C
/// traffic.
#[cfg(any(feature = "blocking", feature = "async"))]
#[maybe_async_cfg::maybe(
    idents(driver(sync = "blocking", async = "asynch")),
    sync(
        feature = "blocking",
        "doc = \"The blocking driver, on `embedded_hal::i2c::I2c` and `embedded_hal::delay::DelayNs` (feature `blocking`).\""
    ),
    async(
        feature = "async",
        "doc = \"The async driver, on `embedded_hal_async::i2c::I2c` and `embedded_hal_async::delay::DelayNs` (feature `async`).\""
    )
)]
pub mod driver {
    #[maybe_async_cfg::only_if(sync)]
    use embedded_hal::{delay::DelayNs, i2c::I2c};
    #[maybe_async_cfg::only_if(async)]
    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use crate::register::{
        AUTO_INCREMENT, CTRL_REG1, CTRL_REG2, CTRL_REG2_ONE_SHOT, PRESS_OUT_XL, RES_CONF,
        RES_CONF_DRIVER, STATUS, STATUS_P_DA, STATUS_T_DA, WHO_AM_I, WHO_AM_I_VALUE,
    };
    use crate::{
        Address, Error, Measurement, Mode, POLL_INTERVAL_MS, pressure_hpa, raw_pressure,
        temperature_c,
    };

    /// An LPS25H on an I2C bus.
    #[derive(Debug)]
    pub struct Lps25h<I2C, D> {
        i2c: I2C,
        delay: D,
        address: u8,
        mode: Option<Mode>,
    }

    impl<I2C: I2c, D: DelayNs> Lps25h<I2C, D> {
        /// A driver for the LPS25H at `address` ([`Address::SENSE_HAT`] on the Sense HAT). Does not
        /// touch the bus; call [`init`](Self::init) next.
        pub fn new(i2c: I2C, delay: D, address: Address) -> Self {
            Lps25h {
                i2c,
                delay,
                address: address.bits(),
                mode: None,
            }
        }

        /// The 7-bit I2C address the driver talks to.
        pub fn address(&self) -> u8 {
            self.address
        }

        /// Gives the bus and the delay back.
        pub fn release(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// Checks `WHO_AM_I` and configures `mode`.
        ///
        /// Writes `RES_CONF` = `0x05` (32 pressure and 16 temperature averages), `CTRL_REG2` = `0x00`
        /// (FIFO off, as another program such as RTIMULib may have left it on) and `CTRL_REG1` =
        /// [`Mode::ctrl_reg1`]. Can be called again to change mode. After an error the driver is not
        /// initialised.
        pub async fn init(&mut self, mode: Mode) -> Result<(), Error<I2C::Error>> {
            self.mode = None;
            let id = self.read_register(WHO_AM_I).await?;
            if id != WHO_AM_I_VALUE {
                return Err(Error::UnexpectedDevice(id));
            }
            self.write_register(RES_CONF, RES_CONF_DRIVER).await?;
            self.write_register(CTRL_REG2, 0x00).await?;
            self.write_register(CTRL_REG1, mode.ctrl_reg1()).await?;
            self.mode = Some(mode);
            Ok(())
        }

        /// One measurement.
        ///
        /// One-shot mode: sets `ONE_SHOT`, polls `CTRL_REG2` until the bit clears, then reads.
        /// Continuous mode: polls `STATUS` until both data-ready bits are set, then reads. Both waits
        /// are bounded ([`Mode::max_polls`]). Pressure and temperature are read in one 5-byte transfer.
        pub async fn read(&mut self) -> Result<Measurement, Error<I2C::Error>> {
            let Some(mode) = self.mode else {
                return Err(Error::NotInitialized);
            };
            match mode {
                Mode::OneShot => {
                    self.write_register(CTRL_REG2, CTRL_REG2_ONE_SHOT).await?;
                    self.wait(mode, CTRL_REG2, |v| v & CTRL_REG2_ONE_SHOT == 0)
                        .await?;
                }
                Mode::Continuous(_) => {
                    let both = STATUS_P_DA | STATUS_T_DA;
                    self.wait(mode, STATUS, |v| v & both == both).await?;
                }
            }
            let mut out = [0u8; 5];
            self.i2c
                .write_read(self.address, &[PRESS_OUT_XL | AUTO_INCREMENT], &mut out)
                .await
                .map_err(Error::I2c)?;
            Ok(Measurement {
                pressure_hpa: pressure_hpa(raw_pressure(out[0], out[1], out[2])),
                temperature_c: temperature_c(i16::from_le_bytes([out[3], out[4]])),
            })
        }

        /// The mode set by the last successful [`init`](Self::init).
        pub fn mode(&self) -> Option<Mode> {
            self.mode
        }

        /// Reads `register` until `done` holds, at most [`Mode::max_polls`] times, pausing
        /// [`POLL_INTERVAL_MS`] after each miss.
        async fn wait(
            &mut self,
            mode: Mode,
            register: u8,
            done: impl Fn(u8) -> bool,
        ) -> Result<(), Error<I2C::Error>> {
            for _ in 0..mode.max_polls() {
                if done(self.read_register(register).await?) {
                    return Ok(());
                }
                self.delay.delay_ms(POLL_INTERVAL_MS).await;
            }
            Err(Error::ConversionTimeout)
        }

        async fn read_register(&mut self, register: u8) -> Result<u8, Error<I2C::Error>> {
            let mut value = [0u8; 1];
            self.i2c
                .write_read(self.address, &[register], &mut value)
                .await
                .map_err(Error::I2c)?;
            Ok(value[0])
        }

        async fn write_register(
            &mut self,
            register: u8,
            value: u8,
        ) -> Result<(), Error<I2C::Error>> {
            self.i2c
                .write(self.address, &[register, value])
                .await
                .map_err(Error::I2c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_pressure_sign_extends_24_bits() {
        // XL = 0x00, L = 0xF0, H = 0x3F → 0x3F_F0_00 = 4 190 208 (bit 23 clear: positive).
        assert_eq!(raw_pressure(0x00, 0xF0, 0x3F), 4_190_208);
        // 0x3F_54_00 = 63 · 65 536 + 84 · 256 = 4 128 768 + 21 504 = 4 150 272.
        assert_eq!(raw_pressure(0x00, 0x54, 0x3F), 4_150_272);
        // 0x7F_FF_FF is the largest: 2^23 − 1.
        assert_eq!(raw_pressure(0xFF, 0xFF, 0x7F), 8_388_607);
        // Bit 23 set: 0x80_00_00 = −2^23, 0xFF_FF_FF = −1, 0xFF_00_00 = −65 536.
        assert_eq!(raw_pressure(0x00, 0x00, 0x80), -8_388_608);
        assert_eq!(raw_pressure(0xFF, 0xFF, 0xFF), -1);
        assert_eq!(raw_pressure(0x00, 0x00, 0xFF), -65_536);
    }

    #[test]
    fn pressure_by_hand() {
        // 4 190 208 / 4096 = 1023 exactly (0x3FF000 = 0x3FF · 0x1000).
        assert_eq!(pressure_hpa(0x3F_F000), 1023.0);
        // 4 150 272 / 4096 = 1013.25 (0x3F5400 = 0x3F54 · 0x100; 0x3F54 / 16 = 16 212 / 16).
        assert_eq!(pressure_hpa(0x3F_5400), 1013.25);
        // One count is 1/4096 hPa = 0.000 244 hPa.
        assert_eq!(pressure_hpa(4097) - pressure_hpa(4096), 1.0 / 4096.0);
        // 260 hPa (the bottom of the chip's range) = 1 064 960 = 0x10_40_00.
        assert_eq!(pressure_hpa(raw_pressure(0x00, 0x40, 0x10)), 260.0);
        // A negative raw (never seen in practice, possible in differential mode): −65 536 → −16.
        assert_eq!(pressure_hpa(-65_536), -16.0);
    }

    #[test]
    fn temperature_by_hand() {
        // raw 0 → 42.5 °C (the offset).
        assert_eq!(temperature_c(0), 42.5);
        // raw 480 → 42.5 + 1 = 43.5 °C.
        assert_eq!(temperature_c(480), 43.5);
        // bytes L = 0xD0, H = 0xD5 → 0xD5D0 = 54 736 − 65 536 = −10 800;
        // 42.5 − 10 800 / 480 = 42.5 − 22.5 = 20.0 °C.
        assert_eq!(i16::from_le_bytes([0xD0, 0xD5]), -10_800);
        assert_eq!(temperature_c(-10_800), 20.0);
        // Below zero: bytes 0xF0, 0xA6 → 0xA6F0 = 42 736 − 65 536 = −22 800;
        // 42.5 − 22 800 / 480 = 42.5 − 47.5 = −5.0 °C.
        assert_eq!(i16::from_le_bytes([0xF0, 0xA6]), -22_800);
        assert_eq!(temperature_c(-22_800), -5.0);
        // The extremes: 42.5 − 32 768 / 480 = −25.766 67; 42.5 + 32 767 / 480 = 110.764 58.
        assert!((temperature_c(i16::MIN) + 25.766_67).abs() < 1e-4);
        assert!((temperature_c(i16::MAX) - 110.764_58).abs() < 1e-4);
    }

    #[test]
    fn ctrl_reg1_per_mode() {
        assert_eq!(Mode::OneShot.ctrl_reg1(), 0x84);
        assert_eq!(Mode::Continuous(DataRate::Hz1).ctrl_reg1(), 0x94);
        assert_eq!(Mode::Continuous(DataRate::Hz7).ctrl_reg1(), 0xA4);
        assert_eq!(Mode::Continuous(DataRate::Hz12_5).ctrl_reg1(), 0xB4);
        // RTIMULib's 0xC4: PD, 25 Hz, BDU.
        assert_eq!(Mode::Continuous(DataRate::Hz25).ctrl_reg1(), 0xC4);
    }

    #[test]
    fn the_sa0_pin_picks_the_address() {
        assert_eq!(Address::Sa0Low.bits(), 0x5C);
        assert_eq!(u8::from(Address::Sa0High), 0x5D);
        assert_eq!(Address::SENSE_HAT.bits(), ADDRESS);
        assert_eq!(Address::default(), Address::SENSE_HAT);
    }

    #[test]
    fn poll_bounds() {
        assert_eq!(Mode::OneShot.max_polls(), 100);
        assert_eq!(Mode::Continuous(DataRate::Hz1).max_polls(), 401);
        assert_eq!(Mode::Continuous(DataRate::Hz7).max_polls(), 58);
        assert_eq!(Mode::Continuous(DataRate::Hz12_5).max_polls(), 33);
        assert_eq!(Mode::Continuous(DataRate::Hz25).max_polls(), 17);
    }
}
