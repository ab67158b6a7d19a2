#![doc = include_str!("../README.md")]
//!
//! ## The driver in detail
//!
//! `Hts221::init` checks `WHO_AM_I`, reads the factory [`Calibration`] once and configures a
//! [`Mode`]; `Hts221::read` returns a [`Measurement`] in °C and %RH. The calibration maths is a
//! pure function ([`Calibration::from_registers`], [`Calibration::temperature_c`],
//! [`Calibration::humidity_percent`]) usable on its own, with no feature enabled. The chip answers
//! at the fixed I2C address [`ADDRESS`] `0x5F`.
//!
//! The driver is written once and generated twice: `blocking::Hts221` on
//! `embedded_hal::i2c::I2c` and `embedded_hal::delay::DelayNs` (feature `blocking`), and
//! `asynch::Hts221` on `embedded_hal_async::i2c::I2c` and `embedded_hal_async::delay::DelayNs`
//! (feature `async`). Both are default features and can be used side by side. No allocation, no
//! executor or timer crate of its own.
//!
//! ## Example, run against a mock bus
//!
//! The traffic of `init` and of one one-shot `read`, checked by `embedded-hal-mock` (the same
//! calibration and outputs as the crate's tests, worked by hand there):
//!
//! ```
//! # #[cfg(feature = "blocking")] {
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! # let calibration = vec![0x34, 0x87, 0xA8, 0x24, 0x00, 0xC4, 0x70, 0xED, 0x00, 0x00, 0xF4, 0x15, 0xFB, 0xFF, 0xC3, 0x03];
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write_read(0x5F, vec![0x0F], vec![0xBC]),
//! #     Transaction::write_read(0x5F, vec![0xB0], calibration),
//! #     Transaction::write(0x5F, vec![0x10, 0x1B]),
//! #     Transaction::write(0x5F, vec![0x20, 0x84]),
//! #     Transaction::write(0x5F, vec![0x21, 0x01]),
//! #     Transaction::write_read(0x5F, vec![0x21], vec![0x00]),
//! #     Transaction::write_read(0x5F, vec![0xA8], vec![0xB2, 0x01, 0xDF, 0x01]),
//! # ]);
//! # let delay = NoopDelay::new();
//! use sense_hts221::{blocking::Hts221, Mode};
//!
//! let mut sensor = Hts221::new(i2c.clone(), delay);
//! sensor.init(Mode::OneShot)?;
//! let m = sensor.read()?;
//! assert!((m.temperature_c - 28.75).abs() < 1e-4);
//! assert!((m.humidity_percent - 46.75).abs() < 1e-4);
//! # i2c.done();
//! # }
//! # Ok::<(), sense_hts221::Error<embedded_hal::i2c::ErrorKind>>(())
//! ```
//!
//! ## Waiting for data
//!
//! Waits are bounded: the driver polls every [`POLL_INTERVAL_MS`] and gives up with
//! [`Error::ConversionTimeout`] instead of hanging on a stuck chip.
//!
//! - [`Mode::OneShot`]: each read sets `CTRL_REG2.ONE_SHOT` and polls `CTRL_REG2` until the chip
//!   clears the bit (it does so when the new data set is in the output registers), at most
//!   [`ONE_SHOT_MAX_POLLS`] times (about 0.5 s). The sources this driver follows (the datasheet's
//!   register descriptions, TN1218) state no one-shot conversion time; Linux's `hts221` IIO driver
//!   sleeps 50 ms after enabling the chip before it reads, so the bound leaves a factor of ten.
//! - [`Mode::Continuous`]: each read polls `STATUS` until both `H_DA` and `T_DA` are set, for at
//!   most [`CONTINUOUS_MAX_PERIODS`] output periods (2 s at 1 Hz, see [`Mode::max_polls`]).
#![no_std]
#![warn(missing_docs)]

use core::fmt;

mod calibration;
pub mod register;

pub use calibration::{Calibration, CalibrationError};

use register::{
    CTRL_REG1_BDU, CTRL_REG1_PD, ODR_1HZ, ODR_7HZ, ODR_12_5HZ, ODR_ONE_SHOT, WHO_AM_I_VALUE,
};

/// The HTS221's 7-bit I2C address. It is fixed: the chip has no address pin, so every HTS221,
/// the Sense HAT's humidity sensor too, answers here, and the driver takes no address.
pub const ADDRESS: u8 = 0x5F;

/// Time between two polls while waiting for a conversion, in milliseconds.
pub const POLL_INTERVAL_MS: u32 = 5;
/// One-shot mode: reads of `CTRL_REG2` before [`Error::ConversionTimeout`]. With a
/// [`POLL_INTERVAL_MS`] pause after each, that is about 0.5 s.
pub const ONE_SHOT_MAX_POLLS: u32 = 100;
/// Continuous mode: output periods to wait for `STATUS` data-ready before
/// [`Error::ConversionTimeout`]. A read that just missed a sample needs up to one period; two leave
/// room for a slow oscillator.
pub const CONTINUOUS_MAX_PERIODS: u32 = 2;

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
}

impl DataRate {
    /// The time between two samples, in milliseconds, rounded up.
    pub const fn period_ms(self) -> u32 {
        match self {
            DataRate::Hz1 => 1000,
            DataRate::Hz7 => 143,
            DataRate::Hz12_5 => 80,
        }
    }

    const fn odr_bits(self) -> u8 {
        match self {
            DataRate::Hz1 => ODR_1HZ,
            DataRate::Hz7 => ODR_7HZ,
            DataRate::Hz12_5 => ODR_12_5HZ,
        }
    }
}

/// How the chip converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// The chip sleeps between reads; each `Hts221::read` triggers one conversion. The lowest
    /// power, and every reading is fresh.
    OneShot,
    /// The chip converts on its own at a [`DataRate`]; `Hts221::read` waits for the next sample
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
        CTRL_REG1_PD | CTRL_REG1_BDU | odr
    }

    /// How many times `Hts221::read` polls before [`Error::ConversionTimeout`]: 100 in one-shot
    /// mode; in continuous mode enough for [`CONTINUOUS_MAX_PERIODS`] output periods (401 at 1 Hz,
    /// 58 at 7 Hz, 33 at 12.5 Hz).
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
    /// Temperature, °C.
    pub temperature_c: f32,
    /// Relative humidity, % (0 to 100).
    pub humidity_percent: f32,
}

/// What can go wrong. `E` is the I2C bus's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus failed (no acknowledge, arbitration loss, the address is busy, ...).
    I2c(E),
    /// `WHO_AM_I` did not read `0xBC`: another chip answers at the address. Holds what it read.
    UnexpectedDevice(u8),
    /// The chip did not deliver data within the bounded wait (see the crate documentation).
    ConversionTimeout,
    /// The calibration registers would divide by zero (see [`CalibrationError`]).
    BadCalibration,
    /// `Hts221::read` before a successful `Hts221::init`.
    NotInitialized,
}

impl<E> From<CalibrationError> for Error<E> {
    fn from(_: CalibrationError) -> Self {
        Error::BadCalibration
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "HTS221: I2C error: {e}"),
            Error::UnexpectedDevice(id) => write!(
                f,
                "HTS221: WHO_AM_I is 0x{id:02X}, expected 0x{WHO_AM_I_VALUE:02X}"
            ),
            Error::ConversionTimeout => f.write_str(
                "HTS221: conversion did not complete (ONE_SHOT bit stuck or no data ready)",
            ),
            Error::BadCalibration => {
                f.write_str("HTS221: calibration registers are unusable (zero span)")
            }
            Error::NotInitialized => f.write_str("HTS221: read before init"),
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
        AUTO_INCREMENT, AV_CONF, AV_CONF_DEFAULT, CALIBRATION_LEN, CALIBRATION_START, CTRL_REG1,
        CTRL_REG2, CTRL_REG2_ONE_SHOT, H_OUT_L, STATUS, STATUS_H_DA, STATUS_T_DA, WHO_AM_I,
        WHO_AM_I_VALUE,
    };
    use crate::{ADDRESS, Calibration, Error, Measurement, Mode, POLL_INTERVAL_MS};

    /// An HTS221 on an I2C bus.
    #[derive(Debug)]
    pub struct Hts221<I2C, D> {
        i2c: I2C,
        delay: D,
        calibration: Option<Calibration>,
        mode: Option<Mode>,
    }

    impl<I2C: I2c, D: DelayNs> Hts221<I2C, D> {
        /// A driver for the HTS221 at [`ADDRESS`]. Does not touch the bus; call
        /// [`init`](Self::init) next.
        pub fn new(i2c: I2C, delay: D) -> Self {
            Hts221 {
                i2c,
                delay,
                calibration: None,
                mode: None,
            }
        }

        /// Gives the bus and the delay back.
        pub fn release(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// Checks `WHO_AM_I`, reads the calibration once, configures `mode`.
        ///
        /// Writes `AV_CONF` = `0x1B` (the power-on averaging) and `CTRL_REG1` = [`Mode::ctrl_reg1`].
        /// Can be called again to change mode. After an error the driver is not initialised.
        pub async fn init(&mut self, mode: Mode) -> Result<(), Error<I2C::Error>> {
            self.mode = None;
            let id = self.read_register(WHO_AM_I).await?;
            if id != WHO_AM_I_VALUE {
                return Err(Error::UnexpectedDevice(id));
            }
            let mut regs = [0u8; CALIBRATION_LEN];
            self.read_block(CALIBRATION_START, &mut regs).await?;
            self.calibration = Some(Calibration::from_registers(&regs)?);
            self.write_register(AV_CONF, AV_CONF_DEFAULT).await?;
            self.write_register(CTRL_REG1, mode.ctrl_reg1()).await?;
            self.mode = Some(mode);
            Ok(())
        }

        /// One measurement.
        ///
        /// One-shot mode: sets `ONE_SHOT`, polls `CTRL_REG2` until the bit clears, then reads.
        /// Continuous mode: polls `STATUS` until both data-ready bits are set, then reads. Both waits
        /// are bounded ([`Mode::max_polls`]). `H_OUT` and `T_OUT` are read in one 4-byte transfer.
        pub async fn read(&mut self) -> Result<Measurement, Error<I2C::Error>> {
            let (Some(mode), Some(calibration)) = (self.mode, self.calibration) else {
                return Err(Error::NotInitialized);
            };
            match mode {
                Mode::OneShot => {
                    self.write_register(CTRL_REG2, CTRL_REG2_ONE_SHOT).await?;
                    self.wait(mode, CTRL_REG2, |v| v & CTRL_REG2_ONE_SHOT == 0)
                        .await?;
                }
                Mode::Continuous(_) => {
                    let both = STATUS_H_DA | STATUS_T_DA;
                    self.wait(mode, STATUS, |v| v & both == both).await?;
                }
            }
            let mut out = [0u8; 4];
            self.read_block(H_OUT_L, &mut out).await?;
            let h_out = i16::from_le_bytes([out[0], out[1]]);
            let t_out = i16::from_le_bytes([out[2], out[3]]);
            Ok(Measurement {
                temperature_c: calibration.temperature_c(t_out),
                humidity_percent: calibration.humidity_percent(h_out),
            })
        }

        /// The calibration read by [`init`](Self::init), if it has run.
        pub fn calibration(&self) -> Option<&Calibration> {
            self.calibration.as_ref()
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
                .write_read(ADDRESS, &[register], &mut value)
                .await
                .map_err(Error::I2c)?;
            Ok(value[0])
        }

        /// Reads consecutive registers from `first` on, with [`AUTO_INCREMENT`].
        async fn read_block(&mut self, first: u8, buf: &mut [u8]) -> Result<(), Error<I2C::Error>> {
            self.i2c
                .write_read(ADDRESS, &[first | AUTO_INCREMENT], buf)
                .await
                .map_err(Error::I2c)
        }

        async fn write_register(
            &mut self,
            register: u8,
            value: u8,
        ) -> Result<(), Error<I2C::Error>> {
            self.i2c
                .write(ADDRESS, &[register, value])
                .await
                .map_err(Error::I2c)
        }
    }
}
