//! The picture and the joystick's events: an 8×8 RGB [`Frame`], the matrix's [`Rotation`], and a
//! [`JoystickEvent`] ([`Direction`] and [`Action`]).
//!
//! A [`Frame`] is the picture as drawn: row 0 at the top, column 0 at the left, for a viewer
//! holding the device upright. [`Rotation`] says how the physical matrix is turned;
//! [`Frame::for_rotation`] turns the picture so it appears upright on the rotated device.
//!
//! These types need no feature and no dependency. (Sense Pulse's `sense-hal` re-exports them in
//! its `led` module, beside its `LedMatrix` and `Joystick` traits.)

use core::fmt;

/// A 24-bit colour.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rgb {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
}

impl Rgb {
    /// Off.
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);
    /// Full white.
    pub const WHITE: Rgb = Rgb::new(255, 255, 255);
    /// Full red.
    pub const RED: Rgb = Rgb::new(255, 0, 0);
    /// Full green.
    pub const GREEN: Rgb = Rgb::new(0, 255, 0);
    /// Full blue.
    pub const BLUE: Rgb = Rgb::new(0, 0, 255);
    /// Yellow.
    pub const YELLOW: Rgb = Rgb::new(255, 255, 0);
    /// Orange.
    pub const ORANGE: Rgb = Rgb::new(255, 128, 0);
    /// Cyan.
    pub const CYAN: Rgb = Rgb::new(0, 255, 255);
    /// Magenta.
    pub const MAGENTA: Rgb = Rgb::new(255, 0, 255);

    /// A colour from its components.
    pub const fn new(r: u8, g: u8, b: u8) -> Rgb {
        Rgb { r, g, b }
    }

    /// Whether the pixel is off.
    pub const fn is_black(self) -> bool {
        self.r == 0 && self.g == 0 && self.b == 0
    }

    /// As `[r, g, b]`, the contract's pixel form.
    pub const fn to_array(self) -> [u8; 3] {
        [self.r, self.g, self.b]
    }
}

impl From<[u8; 3]> for Rgb {
    fn from([r, g, b]: [u8; 3]) -> Rgb {
        Rgb { r, g, b }
    }
}

impl fmt::Debug for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// How the matrix is turned, clockwise, in steps of 90°.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Rotation {
    /// Upright (the HDMI port of a Pi at the bottom).
    #[default]
    Deg0,
    /// Turned 90° clockwise.
    Deg90,
    /// Upside down.
    Deg180,
    /// Turned 270° clockwise.
    Deg270,
}

impl Rotation {
    /// The rotation for `degrees`, which must be 0, 90, 180 or 270.
    pub const fn from_degrees(degrees: u16) -> Option<Rotation> {
        match degrees {
            0 => Some(Rotation::Deg0),
            90 => Some(Rotation::Deg90),
            180 => Some(Rotation::Deg180),
            270 => Some(Rotation::Deg270),
            _ => None,
        }
    }

    /// The rotation in degrees.
    pub const fn degrees(self) -> u16 {
        match self {
            Rotation::Deg0 => 0,
            Rotation::Deg90 => 90,
            Rotation::Deg180 => 180,
            Rotation::Deg270 => 270,
        }
    }
}

/// Side length of the matrix.
pub const SIZE: usize = 8;

/// An 8×8 picture, `rows[y][x]`, row 0 at the top.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Frame {
    /// The pixels, row-major.
    pub rows: [[Rgb; SIZE]; SIZE],
}

impl fmt::Debug for Frame {
    /// One line per row, `#` for a lit pixel and `.` for a dark one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.rows {
            f.write_str("\n")?;
            for p in row {
                f.write_str(if p.is_black() { "." } else { "#" })?;
            }
        }
        Ok(())
    }
}

impl Frame {
    /// Every pixel off.
    pub const BLACK: Frame = Frame {
        rows: [[Rgb::BLACK; SIZE]; SIZE],
    };

    /// Every pixel `colour`.
    pub const fn filled(colour: Rgb) -> Frame {
        Frame {
            rows: [[colour; SIZE]; SIZE],
        }
    }

    /// The pixel at column `x`, row `y` (both 0–7).
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        self.rows[y][x]
    }

    /// Sets the pixel at column `x`, row `y`; out-of-range coordinates are ignored.
    pub fn set(&mut self, x: usize, y: usize, colour: Rgb) {
        if let Some(p) = self.rows.get_mut(y).and_then(|r| r.get_mut(x)) {
            *p = colour;
        }
    }

    /// The 64 pixels in row-major order.
    pub fn pixels(&self) -> impl Iterator<Item = Rgb> + '_ {
        self.rows.iter().flatten().copied()
    }

    /// A frame from 64 row-major pixels.
    pub fn from_pixels(pixels: &[Rgb; SIZE * SIZE]) -> Frame {
        let mut frame = Frame::BLACK;
        for (i, p) in pixels.iter().enumerate() {
            frame.rows[i / SIZE][i % SIZE] = *p;
        }
        frame
    }

    /// The picture as the LEDs must show it on a matrix turned by `rotation`, so that it looks
    /// upright. For a matrix turned 90° clockwise the picture is turned 90° counter-clockwise:
    /// what is drawn at the top-left lands on the physical bottom-left.
    pub fn for_rotation(&self, rotation: Rotation) -> Frame {
        let mut out = Frame::BLACK;
        for y in 0..SIZE {
            for x in 0..SIZE {
                let (px, py) = match rotation {
                    Rotation::Deg0 => (x, y),
                    Rotation::Deg90 => (y, SIZE - 1 - x),
                    Rotation::Deg180 => (SIZE - 1 - x, SIZE - 1 - y),
                    Rotation::Deg270 => (SIZE - 1 - y, x),
                };
                out.rows[py][px] = self.rows[y][x];
            }
        }
        out
    }
}

/// A joystick direction (the Sense HAT stick also presses in: [`Direction::Middle`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// Up.
    Up,
    /// Down.
    Down,
    /// Left.
    Left,
    /// Right.
    Right,
    /// Pressed in.
    Middle,
}

impl Direction {
    /// The direction's name: `up`, `down`, `left`, `right`, `middle` (python-sense-hat's names).
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Middle => "middle",
        }
    }
}

/// What the stick did.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// It was pushed.
    Pressed,
    /// It was let go.
    Released,
}

impl Action {
    /// `pressed` or `released`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Pressed => "pressed",
            Action::Released => "released",
        }
    }
}

/// One joystick event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct JoystickEvent {
    /// Which way.
    pub direction: Direction,
    /// Pushed or let go.
    pub action: Action,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame with one lit pixel at the top-left and one at the top-right.
    fn marks() -> Frame {
        let mut f = Frame::BLACK;
        f.set(0, 0, Rgb::RED);
        f.set(7, 0, Rgb::GREEN);
        f
    }

    #[test]
    fn rotation_turns_the_picture_against_the_device() {
        let f = marks();
        assert_eq!(f.for_rotation(Rotation::Deg0), f);
        // Device turned 90° clockwise: the drawn top edge must run up the physical left edge.
        let r = f.for_rotation(Rotation::Deg90);
        assert_eq!(r.get(0, 7), Rgb::RED);
        assert_eq!(r.get(0, 0), Rgb::GREEN);
        let r = f.for_rotation(Rotation::Deg180);
        assert_eq!((r.get(7, 7), r.get(0, 7)), (Rgb::RED, Rgb::GREEN));
        let r = f.for_rotation(Rotation::Deg270);
        assert_eq!((r.get(7, 0), r.get(7, 7)), (Rgb::RED, Rgb::GREEN));
        // Four quarter turns are no turn.
        let mut back = f;
        for _ in 0..4 {
            back = back.for_rotation(Rotation::Deg90);
        }
        assert_eq!(back, f);
    }

    #[test]
    fn degrees_round_trip_and_refuse_others() {
        for d in [0, 90, 180, 270] {
            assert_eq!(Rotation::from_degrees(d).unwrap().degrees(), d);
        }
        assert_eq!(Rotation::from_degrees(45), None);
    }

    #[test]
    fn pixels_are_row_major() {
        let mut f = Frame::BLACK;
        f.set(1, 0, Rgb::BLUE);
        f.set(0, 1, Rgb::RED);
        let mut arr = [Rgb::BLACK; 64];
        let mut n = 0;
        for (slot, p) in arr.iter_mut().zip(f.pixels()) {
            *slot = p;
            n += 1;
        }
        assert_eq!(n, 64);
        assert_eq!((arr[1], arr[8]), (Rgb::BLUE, Rgb::RED));
        assert_eq!(Frame::from_pixels(&arr), f);
        f.set(9, 9, Rgb::RED); // ignored
    }
}
