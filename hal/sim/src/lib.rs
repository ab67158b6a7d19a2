//! # sense-sim
//!
//! A register-level simulation of the hardware Sense Pulse talks to, so drivers, sources and the
//! whole stack run on any laptop and in tests, deterministically.
//!
//! - [`i2c`]: a simulated I2C bus. Devices ([`i2c::I2cTarget`]) answer at their addresses, usually
//!   through a [`i2c::RegisterFile`]; faults (address NACK, `EBUSY` as when the kernel owns an
//!   address) can be injected per address, for a number of transactions or until cleared.
//! - [`host`]: a simulated Linux host (a Raspberry Pi 3B) whose `/proc` and `/sys` files are
//!   generated from the wall clock, so CPU counters keep rising across separate processes.
//!
//! - [`ble`]: a simulated Bluetooth LE radio that advertisers (Aranet4s, other vendors' gadgets)
//!   broadcast on, implementing `sense-hal`'s `BleCentral`.
//! - [`clock`]: the time the chip models see: the wall clock at run time, a manual clock in tests.
//! - [`environment`]: a deterministic room (temperature, humidity, pressure) with a day cycle and
//!   slow drifts, that the sensor models measure.
//! - [`hts221`], [`lps25h`], [`attiny88`]: the Sense HAT's chips as register-level models.
//! - [`aranet4`]: an Aranet4 CO₂ monitor on the simulated radio, in `sense-aranet4`'s formats.
//!
//! `no_std`. The bus is shared through a `critical-section` mutex: on Linux enable
//! `critical-section/std` in the binary (the runtime does).
#![no_std]
#![warn(missing_docs)]
#![allow(async_fn_in_trait)]

pub mod aranet4;
pub mod attiny88;
pub mod ble;
pub mod clock;
pub mod environment;
pub mod host;
pub mod hts221;
pub mod i2c;
pub mod lps25h;
