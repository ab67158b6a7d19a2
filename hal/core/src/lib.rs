//! # sense-hal
//!
//! The hardware abstraction layer shared by every Sense Pulse layer. It is `no_std`, allocation-free
//! and async, so the same driver and source code runs on a Raspberry Pi, on a microcontroller, and
//! against the simulation in `sense-sim`.
//!
//! - [`value`]: what a reading *is*: a scalar [`Value`] (int, float, text, bool, null) with a
//!   [`Unit`], named by a sensor id in a [`Measurement`].
//! - [`i2c`] and [`delay`]: re-exports of `embedded-hal-async`, the bus every Sense HAT chip sits on.
//! - [`files`]: read-only text files (Linux `/proc` and `/sys`) and file-system usage.
//! - [`ble`]: a Bluetooth LE central that yields advertisements and reads GATT characteristics.
//! - [`led`]: an 8×8 RGB LED matrix and a five-way joystick.
//!
//! Each trait ships with a small fake that tests and examples can use directly.
#![no_std]
#![warn(missing_docs)]
// The traits use `async fn`: their futures carry no `Send` bound, like embedded-hal-async's.
#![allow(async_fn_in_trait)]

pub mod ble;
pub mod files;
pub mod led;
pub mod value;

/// Async I2C, re-exported from `embedded-hal-async` so layers above need only this crate.
pub mod i2c {
    pub use embedded_hal_async::i2c::{
        Error, ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation, SevenBitAddress,
    };
}

/// Async delays, re-exported from `embedded-hal-async`.
pub mod delay {
    pub use embedded_hal_async::delay::DelayNs;
}

pub use delay::DelayNs;
pub use i2c::I2c;
pub use value::{Measurement, Unit, Value};
