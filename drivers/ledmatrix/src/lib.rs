#![doc = include_str!("../README.md")]
//!
//! ## The driver in detail
//!
//! - `SenseHatMatrix` checks the chip (`init`), writes frames in one 193-byte transfer
//!   (`write_frame`, or `show`, which first turns the picture for the device's [`Rotation`]) and
//!   reads the joystick (`read_keys`).
//! - `PolledStick` polls the `KEYS` register through its own bus handle and turns changes into
//!   press and release events (`next_event`).
//! - [`encode`] and [`decode`] are the pure conversion between a [`Frame`] and the chip's 192
//!   frame bytes, with the Linux driver's [`gamma`] tables.
//!
//! Both drivers are written once and generated twice: in `blocking` on
//! `embedded_hal::i2c::I2c` and `embedded_hal::delay::DelayNs` (feature `blocking`), and in
//! `asynch` on `embedded_hal_async::i2c::I2c` and `embedded_hal_async::delay::DelayNs`
//! (feature `async`). Both are default features and can be used side by side. Without them the
//! crate keeps the picture types ([`led`]), the encoding, [`Keys`] and the register map, with no
//! dependency.
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
//! boards where the address is free (overlay disabled, a microcontroller, or a simulation).
#![no_std]
#![warn(missing_docs)]

#[cfg(any(feature = "blocking", feature = "async"))]
mod driver;
mod encoding;
mod error;
mod keys;
pub mod led;

#[cfg(feature = "async")]
pub use driver::asynch;
#[cfg(feature = "blocking")]
pub use driver::blocking;
pub use encoding::{decode, encode};
pub use error::Error;
pub use keys::Keys;
pub use led::{Action, Direction, Frame, JoystickEvent, Rgb, Rotation};

/// The ATtiny88's 7-bit I2C address on the Sense HAT. It is fixed: the Sense HAT's firmware sets
/// it and the board has no address pin, so the driver takes no address.
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
