//! The driver, written once and generated twice by `maybe-async-cfg`.

/// The driver.
///
/// `blocking` and `asynch` are generated from one source by `maybe-async-cfg`: the async code is
/// the original, the blocking one has every `async` and `.await` removed. Same types, same I2C
/// traffic.
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

    use crate::led::{Frame, JoystickEvent, Rotation};
    use crate::{ADDRESS, Error, FRAME_BYTES, Keys, WHO_AM_I, encode, gamma, register};

    /// Reads one register of the chip.
    async fn read_register<I: I2c>(i2c: &mut I, reg: u8) -> Result<u8, Error<I::Error>> {
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

        /// Writes `frame` turned for a matrix turned by `rotation` ([`Frame::for_rotation`]): the
        /// picture appears upright on the rotated device.
        pub async fn show(
            &mut self,
            frame: &Frame,
            rotation: Rotation,
        ) -> Result<(), Error<I2C::Error>> {
            self.write_frame(&frame.for_rotation(rotation)).await
        }
    }

    /// A joystick that polls the chip's `KEYS` register every `poll_interval_ms` and reports
    /// each change as an event.
    ///
    /// It owns its own bus handle, apart from the [`SenseHatMatrix`] that
    /// draws: on Linux each user opens `/dev/i2c-1` separately; on a shared bus hand it a shared
    /// handle (in `sense-sim`, `&SimBus` is `Copy`).
    ///
    /// The first poll happens at once and compares with "nothing pressed", so a switch held at start
    /// is reported as pressed. When one poll finds several switches changed, the events are
    /// returned one per call, in bit order ([`Keys::changes_since`]), before the next poll. A change
    /// that is undone between two polls is not seen: choose an interval shorter than a tap (the
    /// kernel driver reacts to the chip's interrupt instead; 10–50 ms polling is a good stand-in).
    #[derive(Debug)]
    pub struct PolledStick<I2C, D> {
        i2c: I2C,
        delay: D,
        poll_interval_ms: u32,
        /// The state last read from the chip.
        current: Keys,
        /// The state the events returned so far add up to.
        reported: Keys,
        /// Whether the chip has been polled yet: every later poll waits first.
        polled: bool,
    }

    impl<I2C: I2c, D: DelayNs> PolledStick<I2C, D> {
        /// A stick that reads `KEYS` through `i2c`, waiting `poll_interval_ms` with `delay` between
        /// polls.
        pub fn new(i2c: I2C, delay: D, poll_interval_ms: u32) -> Self {
            PolledStick {
                i2c,
                delay,
                poll_interval_ms,
                current: Keys::NONE,
                reported: Keys::NONE,
                polled: false,
            }
        }

        /// Gives the bus handle and the delay back.
        pub fn release(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// The state as last read from the chip.
        pub fn keys(&self) -> Keys {
            self.current
        }

        /// Reads `KEYS` once, without waiting, and returns the next unreported change, if any. For
        /// callers that run their own timer; [`next_event`](Self::next_event) waits and polls itself.
        pub async fn poll(&mut self) -> Result<Option<JoystickEvent>, Error<I2C::Error>> {
            self.polled = true;
            self.current = Keys(read_register(&mut self.i2c, register::KEYS).await?);
            Ok(self.take_pending())
        }

        /// The next change between what was reported and what was read, marked as reported.
        fn take_pending(&mut self) -> Option<JoystickEvent> {
            let event = self.current.changes_since(self.reported).next()?;
            self.reported = self.reported.after(event);
            Some(event)
        }

        /// Returns a change already read, or polls (waiting `poll_interval_ms` before every poll but
        /// the first) until one shows. A failed read is returned; the next call waits and polls
        /// again.
        pub async fn next_event(&mut self) -> Result<JoystickEvent, Error<I2C::Error>> {
            loop {
                if let Some(event) = self.take_pending() {
                    return Ok(event);
                }
                if self.polled {
                    self.delay.delay_ms(self.poll_interval_ms).await;
                }
                if let Some(event) = self.poll().await? {
                    return Ok(event);
                }
            }
        }
    }
}
