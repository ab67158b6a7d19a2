//! The LED matrix driver.

use core::fmt;

use embedded_hal_async::i2c::I2c;
use sense_hal::led::{Frame, LedMatrix, Rotation};

use crate::{ADDRESS, FRAME_BYTES, Keys, WHO_AM_I, encode, gamma, register};

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

/// Reads one register of the chip.
pub(crate) async fn read_register<I: I2c>(i2c: &mut I, reg: u8) -> Result<u8, Error<I::Error>> {
    let mut buf = [0u8; 1];
    i2c.write_read(ADDRESS, &[reg], &mut buf)
        .await
        .map_err(Error::I2c)?;
    Ok(buf[0])
}

/// The Sense HAT's LED matrix (and joystick register) through the ATtiny88 at [`ADDRESS`].
///
/// Frames go out through a gamma table: [`gamma::DEFAULT`] unless
/// [`set_low_light`](Self::set_low_light) or [`set_gamma`](Self::set_gamma) chose another.
#[derive(Debug)]
pub struct SenseHatMatrix<I2C> {
    i2c: I2C,
    gamma: [u8; 32],
}

impl<I2C: I2c> SenseHatMatrix<I2C> {
    /// A driver on `i2c`, with the default gamma table. Nothing is sent until a call needs it.
    pub fn new(i2c: I2C) -> Self {
        SenseHatMatrix {
            i2c,
            gamma: gamma::DEFAULT,
        }
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    /// Checks that the chip answers as a Sense HAT ATtiny88 (`WAI` reads `'s'`) and returns its
    /// firmware version (`0xF1`).
    pub async fn init(&mut self) -> Result<u8, Error<I2C::Error>> {
        let id = read_register(&mut self.i2c, register::WAI).await?;
        if id != WHO_AM_I {
            return Err(Error::UnexpectedDevice(id));
        }
        read_register(&mut self.i2c, register::VERSION).await
    }

    /// Chooses the low-light gamma table ([`gamma::LOW_LIGHT`]) or the default one
    /// ([`gamma::DEFAULT`]) for the frames written from now on.
    pub fn set_low_light(&mut self, on: bool) {
        self.gamma = if on { gamma::LOW_LIGHT } else { gamma::DEFAULT };
    }

    /// Whether the low-light gamma table is in use.
    pub fn low_light(&self) -> bool {
        self.gamma == gamma::LOW_LIGHT
    }

    /// Uses `table` as the gamma table for the frames written from now on (the kernel driver's
    /// set-gamma ioctl). Entries above 31 are clamped to 31: the chip's levels are 5-bit.
    pub fn set_gamma(&mut self, table: &[u8; 32]) {
        self.gamma = table.map(|v| v.min(31));
    }

    /// The gamma table in use.
    pub fn gamma(&self) -> &[u8; 32] {
        &self.gamma
    }

    /// Writes `frame`, already in the matrix's physical orientation, as one transfer of the
    /// `DISPLAY` register address and the 192 [`encode`]d bytes.
    pub async fn write_frame(&mut self, frame: &Frame) -> Result<(), Error<I2C::Error>> {
        let mut buf = [0u8; FRAME_BYTES + 1];
        buf[0] = register::DISPLAY;
        buf[1..].copy_from_slice(&encode(frame, &self.gamma));
        self.i2c.write(ADDRESS, &buf).await.map_err(Error::I2c)
    }

    /// Reads the 192 frame bytes the chip holds, as stored (see [`decode`](crate::decode)).
    pub async fn read_frame_bytes(&mut self) -> Result<[u8; FRAME_BYTES], Error<I2C::Error>> {
        let mut buf = [0u8; FRAME_BYTES];
        self.i2c
            .write_read(ADDRESS, &[register::DISPLAY], &mut buf)
            .await
            .map_err(Error::I2c)?;
        Ok(buf)
    }

    /// Reads the joystick (`KEYS`). Reading clears the chip's keys interrupt line.
    pub async fn read_keys(&mut self) -> Result<Keys, Error<I2C::Error>> {
        read_register(&mut self.i2c, register::KEYS).await.map(Keys)
    }
}

impl<I2C> LedMatrix for SenseHatMatrix<I2C>
where
    I2C: I2c,
    I2C::Error: fmt::Display,
{
    type Error = Error<I2C::Error>;

    /// Writes `frame` turned for `rotation` ([`Frame::for_rotation`]).
    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> Result<(), Self::Error> {
        self.write_frame(&frame.for_rotation(rotation)).await
    }
}
