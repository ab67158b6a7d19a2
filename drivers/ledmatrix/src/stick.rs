//! The joystick: the `KEYS` bitmask and a polling [`Joystick`].

use core::fmt;

use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use sense_hal::led::{Action, Direction, Joystick, JoystickEvent};

use crate::matrix::read_register;
use crate::{Error, register};

/// The joystick state the chip reports in `KEYS`: one bit per switch, set while it is pressed.
///
/// The field is the raw register value; bits above [`Keys::MASK`] are never set by the chip and
/// are ignored by every method.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Keys(pub u8);

impl Keys {
    /// The stick pushed down (bit 0).
    pub const DOWN: u8 = 1 << 0;
    /// The stick pushed right (bit 1).
    pub const RIGHT: u8 = 1 << 1;
    /// The stick pushed up (bit 2).
    pub const UP: u8 = 1 << 2;
    /// The stick pressed in (bit 3), [`Direction::Middle`].
    pub const ENTER: u8 = 1 << 3;
    /// The stick pushed left (bit 4).
    pub const LEFT: u8 = 1 << 4;
    /// The five switch bits.
    pub const MASK: u8 = 0x1F;
    /// Nothing pressed.
    pub const NONE: Keys = Keys(0);

    /// The directions in bit order: down, right, up, middle, left (the Linux driver's keymap
    /// order). [`changes_since`](Self::changes_since) and [`pressed`](Self::pressed) follow it.
    pub const DIRECTIONS: [Direction; 5] = [
        Direction::Down,
        Direction::Right,
        Direction::Up,
        Direction::Middle,
        Direction::Left,
    ];

    /// The bit of `direction`.
    pub const fn bit(direction: Direction) -> u8 {
        match direction {
            Direction::Down => Self::DOWN,
            Direction::Right => Self::RIGHT,
            Direction::Up => Self::UP,
            Direction::Middle => Self::ENTER,
            Direction::Left => Self::LEFT,
        }
    }

    /// Whether the switch for `direction` is pressed.
    pub const fn is_pressed(self, direction: Direction) -> bool {
        self.0 & Self::bit(direction) != 0
    }

    /// Whether nothing is pressed.
    pub const fn is_empty(self) -> bool {
        self.0 & Self::MASK == 0
    }

    /// The pressed directions, in bit order ([`Keys::DIRECTIONS`]).
    pub fn pressed(self) -> impl Iterator<Item = Direction> {
        Self::DIRECTIONS
            .into_iter()
            .filter(move |&d| self.is_pressed(d))
    }

    /// The events that lead from `before` to `self`: one per switch whose state differs, in bit
    /// order ([`Keys::DIRECTIONS`]: down, right, up, middle, left), each
    /// [`Action::Pressed`] if the switch is pressed in `self` and [`Action::Released`] if not.
    pub fn changes_since(self, before: Keys) -> impl Iterator<Item = JoystickEvent> {
        let changed = self.0 ^ before.0;
        Self::DIRECTIONS
            .into_iter()
            .filter(move |&d| changed & Self::bit(d) != 0)
            .map(move |direction| JoystickEvent {
                direction,
                action: if self.is_pressed(direction) {
                    Action::Pressed
                } else {
                    Action::Released
                },
            })
    }

    /// The state after `event`.
    pub const fn after(self, event: JoystickEvent) -> Keys {
        let bit = Self::bit(event.direction);
        match event.action {
            Action::Pressed => Keys(self.0 | bit),
            Action::Released => Keys(self.0 & !bit),
        }
    }
}

impl From<Keys> for u8 {
    fn from(keys: Keys) -> u8 {
        keys.0
    }
}

/// A [`Joystick`] that polls the chip's `KEYS` register every `poll_interval_ms` and reports
/// each change as an event.
///
/// It owns its own bus handle, apart from the [`SenseHatMatrix`](crate::SenseHatMatrix) that
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
    /// callers that run their own timer; [`Joystick::next_event`] waits and polls itself.
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
}

impl<I2C, D> Joystick for PolledStick<I2C, D>
where
    I2C: I2c,
    I2C::Error: fmt::Display,
    D: DelayNs,
{
    type Error = Error<I2C::Error>;

    /// Returns a change already read, or polls (waiting `poll_interval_ms` before every poll but
    /// the first) until one shows. A failed read is returned; the next call waits and polls
    /// again.
    async fn next_event(&mut self) -> Result<JoystickEvent, Self::Error> {
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
