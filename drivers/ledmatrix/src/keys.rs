//! The joystick's `KEYS` bitmask.

use crate::led::{Action, Direction, JoystickEvent};

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
