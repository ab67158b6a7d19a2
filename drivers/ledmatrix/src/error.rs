//! What can go wrong.

use core::fmt;

use crate::WHO_AM_I;

/// What went wrong talking to the ATtiny88.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus transfer failed (nothing at `0x46`, or the address is owned by a kernel driver).
    I2c(E),
    /// The chip at `0x46` is not a Sense HAT ATtiny88: `WAI` read this instead of `'s'`.
    UnexpectedDevice(u8),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "LED matrix: I2C error: {e}"),
            Error::UnexpectedDevice(id) => write!(
                f,
                "LED matrix: WHO_AM_I is {id:#04x}, expected {WHO_AM_I:#04x} ('s')"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Error<E> {}
