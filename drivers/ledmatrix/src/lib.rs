//! # sense-ledmatrix
//!
//! A driver for the Raspberry Pi Sense HAT's ATtiny88 at I2C address [`ADDRESS`] (`0x46`): the
//! 8×8 RGB LED matrix and the five-way joystick. `no_std`, no allocation, async over
//! [`embedded_hal_async::i2c::I2c`].
//!
//! - [`SenseHatMatrix`] checks the chip ([`SenseHatMatrix::init`]), writes frames in one
//!   193-byte transfer ([`SenseHatMatrix::write_frame`]) and reads the joystick
//!   ([`SenseHatMatrix::read_keys`]). It implements [`sense_hal::led::LedMatrix`], turning the
//!   picture for the device's [`Rotation`](sense_hal::led::Rotation).
//! - [`PolledStick`] implements [`sense_hal::led::Joystick`] by polling the `KEYS` register
//!   through its own bus handle and turning changes into press and release events.
//! - [`encode`] and [`decode`] are the pure conversion between a [`Frame`](sense_hal::led::Frame)
//!   and the chip's 192 frame bytes, with the Linux driver's [`gamma`] tables.
//!
//! ## The chip
//!
//! After the address byte, the first byte written selects a register; further bytes store frame
//! bytes with auto-increment. The frame is 192 bytes at `0x00..=0xBF`, row by row, each row 8
//! red, then 8 green, then 8 blue values: byte `row * 24 + colour * 8 + col`. Each value is a
//! PWM level 0–31. `0xF0` reads `'s'`, `0xF1` the firmware version, `0xF2` the joystick bitmask
//! ([`Keys`]), `0xF3` controls the HAT EEPROM's write-protect pin; other registers read `0xFF`.
//!
//! On a Pi whose kernel has loaded the `rpi-sense` overlay, the kernel's framebuffer and joystick
//! drivers own `0x46` and userspace `I2C_SLAVE` access fails with `EBUSY`: this driver is for
//! boards where the address is free (overlay disabled, a microcontroller, or the simulation in
//! `sense-sim`).
//!
//! ```
//! # use sense_hal::led::{Frame, Rgb};
//! use sense_ledmatrix::{encode, gamma, FRAME_BYTES};
//!
//! let mut frame = Frame::BLACK;
//! frame.set(1, 0, Rgb::RED);
//! let bytes: [u8; FRAME_BYTES] = encode(&frame, &gamma::DEFAULT);
//! assert_eq!(bytes[1], 0x1F); // row 0, red, column 1, full brightness
//! ```
#![no_std]
#![warn(missing_docs)]

mod encoding;
mod matrix;
mod stick;
#[cfg(test)]
mod tests;

pub use encoding::{decode, encode};
pub use matrix::{Error, SenseHatMatrix};
pub use stick::{Keys, PolledStick};

/// The ATtiny88's 7-bit I2C address on the Sense HAT.
pub const ADDRESS: u8 = 0x46;

/// What the `WAI` register reads: `'s'` (0x73).
pub const WHO_AM_I: u8 = b's';

/// Bytes in a frame: 8 rows × 3 colours × 8 columns.
pub const FRAME_BYTES: usize = 192;

/// The chip's registers.
pub mod register {
    /// The first frame byte; the frame occupies `0x00..=0xBF`.
    pub const DISPLAY: u8 = 0x00;
    /// Who-am-I, reads [`WHO_AM_I`](crate::WHO_AM_I).
    pub const WAI: u8 = 0xF0;
    /// The firmware version.
    pub const VERSION: u8 = 0xF1;
    /// The joystick bitmask, see [`Keys`](crate::Keys). Reading it clears the keys interrupt.
    pub const KEYS: u8 = 0xF2;
    /// The HAT EEPROM write-protect pin: write non-zero to allow EEPROM writes, 0 to protect it;
    /// reads 1 while writes are allowed.
    pub const EE_WP: u8 = 0xF3;
}

/// Gamma tables: a 5-bit colour level (0–31) to the PWM level (0–31) the chip is sent.
///
/// These are the Linux Sense HAT framebuffer driver's tables. The kernel applies the table to
/// each RGB565 component; a driver that talks to the chip directly must apply it itself.
pub mod gamma {
    /// The kernel's default table: a perceptual curve from off to full brightness.
    pub const DEFAULT: [u8; 32] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x02, 0x03, 0x03, 0x04, 0x05, 0x06,
        0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0E, 0x0F, 0x11, 0x12, 0x14, 0x15, 0x17, 0x19, 0x1B,
        0x1D, 0x1F,
    ];

    /// The kernel's low-light table (python-sense-hat's `low_light = True`): at most a third of
    /// full brightness, and every non-black level lit.
    pub const LOW_LIGHT: [u8; 32] = [
        0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02,
        0x02, 0x03, 0x03, 0x03, 0x04, 0x04, 0x05, 0x05, 0x06, 0x06, 0x07, 0x07, 0x08, 0x08, 0x09,
        0x0A, 0x0A,
    ];

    /// The identity table: colour level `n` is sent as PWM level `n`.
    pub const LINEAR: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
}
