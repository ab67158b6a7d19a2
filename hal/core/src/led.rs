//! An 8×8 RGB LED matrix and a five-way joystick, as on the Sense HAT.
//!
//! A [`Frame`] is the picture as drawn: row 0 at the top, column 0 at the left, for a viewer
//! holding the device upright. [`Rotation`] says how the physical matrix is turned; an
//! implementation of [`LedMatrix`] is given the rotation and turns the picture so it appears
//! upright on the rotated device.
//!
//! The picture and event types live in the publishable `sense-ledmatrix` driver (without any of
//! its features: no dependency comes with them) and are re-exported here, so a frame drawn
//! against this crate is the driver's own type. The traits are this crate's; this module
//! implements them for the driver's async `SenseHatMatrix` and `PolledStick`.

use core::fmt;

pub use sense_ledmatrix::led::{Action, Direction, Frame, JoystickEvent, Rgb, Rotation, SIZE};

use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use sense_ledmatrix::asynch::{PolledStick, SenseHatMatrix};

/// An 8×8 RGB LED matrix.
pub trait LedMatrix {
    /// The implementation's error.
    type Error: fmt::Debug + fmt::Display;

    /// Shows `frame` on a matrix turned by `rotation`.
    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> Result<(), Self::Error>;
}

/// A five-way joystick.
pub trait Joystick {
    /// The implementation's error.
    type Error: fmt::Debug + fmt::Display;

    /// Waits for the next event.
    async fn next_event(&mut self) -> Result<JoystickEvent, Self::Error>;
}

/// The Sense HAT's matrix through its ATtiny88 ([`SenseHatMatrix::show`]).
impl<I2C> LedMatrix for SenseHatMatrix<I2C>
where
    I2C: I2c,
    I2C::Error: fmt::Display,
{
    type Error = sense_ledmatrix::Error<I2C::Error>;

    /// Writes `frame` turned for `rotation` ([`Frame::for_rotation`]).
    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> Result<(), Self::Error> {
        SenseHatMatrix::show(self, frame, rotation).await
    }
}

/// The Sense HAT's joystick, polled ([`PolledStick::next_event`]).
impl<I2C, D> Joystick for PolledStick<I2C, D>
where
    I2C: I2c,
    I2C::Error: fmt::Display,
    D: DelayNs,
{
    type Error = sense_ledmatrix::Error<I2C::Error>;

    /// Returns a change already read, or polls until one shows
    /// ([`PolledStick::next_event`]).
    async fn next_event(&mut self) -> Result<JoystickEvent, Self::Error> {
        PolledStick::next_event(self).await
    }
}
