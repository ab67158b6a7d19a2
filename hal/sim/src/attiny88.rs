//! The Sense HAT's ATtiny88: the 8×8 LED matrix controller and joystick reader at `0x46`.
//!
//! The model follows the chip's firmware (`rpi-sense`) byte by byte:
//!
//! - After the address with the write bit, the first data byte selects a register; further
//!   written bytes store pixels from there with auto-increment. The pointer only selects a
//!   register again after a new address byte, so `write(0x46, [0x00, 192 bytes])` sets a frame,
//!   and adjacent write operations in one transaction (no repeated start between them) continue
//!   the same burst.
//! - Reads start at the pointer. In the pixel area (`0x00..=0xBF`) they auto-increment, also
//!   across transactions: a read without a preceding register write goes on where the pointer was.
//!   Other registers do not advance the pointer, so reading two bytes of `WAI` gives `'s'` twice.
//! - `0xF0` `WAI` reads `'s'`, `0xF1` the firmware version, `0xF2` the joystick bitmask (reading
//!   it clears the keys interrupt line), `0xF3` `EE_WP` (write non-zero to drive the EEPROM
//!   write-protect pin low, 0 to drive it high; reads 1 while it is low). Every other register
//!   reads `0xFF`; writes to registers other than pixels and `EE_WP` are ignored.
//!
//! The frame is 192 raw bytes, `row * 24 + colour * 8 + col` with colour 0 red, 1 green, 2 blue,
//! each a PWM level 0–31. The model stores what it is sent; gamma and colour encoding belong to
//! the driver (`sense-ledmatrix`), which can decode [`Attiny88Sim::frame_bytes`] back to colours.
//!
//! Unlike the chip, the model does not scan: a key change is visible at once, not at the end of
//! the next frame scan.

use sense_hal::led::Direction;

use crate::i2c::I2cTarget;

/// The chip's 7-bit I2C address.
pub const ADDRESS: u8 = 0x46;

/// Bytes in a frame: 8 rows × 3 colours × 8 columns.
pub const FRAME_BYTES: usize = 192;

/// The firmware version the model reports unless told otherwise ([`Attiny88Sim::with_version`]).
pub const DEFAULT_VERSION: u8 = 0x00;

/// The chip's registers.
pub mod register {
    /// First byte of the frame buffer (`0x00..=0xBF`).
    pub const DISPLAY: u8 = 0x00;
    /// Who-am-I: reads `'s'`.
    pub const WAI: u8 = 0xF0;
    /// Firmware version.
    pub const VERSION: u8 = 0xF1;
    /// Joystick bitmask.
    pub const KEYS: u8 = 0xF2;
    /// EEPROM write-protect pin control.
    pub const EE_WP: u8 = 0xF3;
}

/// What `WAI` reads.
pub const WHO_AM_I: u8 = b's';

/// The pointer value after an address byte: the next written byte selects a register.
const SELECT: u8 = 0xFF;

/// The bit of `KEYS` that `direction` sets (active high): bit 0 down, 1 right, 2 up, 3 enter
/// (the stick pressed in, [`Direction::Middle`]), 4 left.
pub const fn key_bit(direction: Direction) -> u8 {
    match direction {
        Direction::Down => 1 << 0,
        Direction::Right => 1 << 1,
        Direction::Up => 1 << 2,
        Direction::Middle => 1 << 3,
        Direction::Left => 1 << 4,
    }
}

/// The bits of `KEYS` the five stick switches can set.
pub const KEYS_MASK: u8 = 0x1F;

/// A register-level model of the Sense HAT's ATtiny88 (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Attiny88Sim {
    pixels: [u8; FRAME_BYTES],
    /// The register pointer; [`SELECT`] right after an address byte with the write bit.
    pointer: u8,
    /// The last operation of the current transaction was a write: a following write continues
    /// the same burst (embedded-hal sends no repeated start between adjacent writes).
    writing: bool,
    /// The first pixel stored in the current write burst.
    burst_first_pixel: Option<u8>,
    /// Bytes in the current write burst, register byte included.
    burst_len: usize,
    keys: u8,
    keys_int: bool,
    /// The EEPROM write-protect pin is driven low (writes allowed). High at power-up.
    ee_wp_low: bool,
    version: u8,
    frames_written: u32,
    last_write_len: usize,
}

impl Default for Attiny88Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Attiny88Sim {
    /// A chip just powered up: frame dark, no key pressed, EEPROM write-protected, firmware
    /// version [`DEFAULT_VERSION`].
    pub const fn new() -> Self {
        Attiny88Sim {
            pixels: [0; FRAME_BYTES],
            pointer: SELECT,
            writing: false,
            burst_first_pixel: None,
            burst_len: 0,
            keys: 0,
            keys_int: false,
            ee_wp_low: false,
            version: DEFAULT_VERSION,
            frames_written: 0,
            last_write_len: 0,
        }
    }

    /// The same chip reporting firmware version `version` at `0xF1`.
    pub const fn with_version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }

    /// The firmware version the chip reports.
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The 192 frame bytes as stored (`row * 24 + colour * 8 + col`, values as written).
    pub const fn frame_bytes(&self) -> [u8; FRAME_BYTES] {
        self.pixels
    }

    /// Replaces the stored frame, as if written over I2C (not counted by
    /// [`frames_written`](Self::frames_written)).
    pub fn set_frame_bytes(&mut self, bytes: &[u8; FRAME_BYTES]) {
        self.pixels = *bytes;
    }

    /// The joystick bitmask `KEYS` reads.
    pub const fn keys(&self) -> u8 {
        self.keys
    }

    /// Sets the joystick bitmask (bits above [`KEYS_MASK`] are dropped: the chip reads five
    /// switches). A change raises the keys interrupt line.
    pub fn set_keys(&mut self, bits: u8) {
        let bits = bits & KEYS_MASK;
        if bits != self.keys {
            self.keys_int = true;
        }
        self.keys = bits;
    }

    /// Pushes the stick towards `direction` (or in, for [`Direction::Middle`]); other switches
    /// keep their state.
    pub fn press(&mut self, direction: Direction) {
        self.set_keys(self.keys | key_bit(direction));
    }

    /// Lets go of `direction`; other switches keep their state.
    pub fn release(&mut self, direction: Direction) {
        self.set_keys(self.keys & !key_bit(direction));
    }

    /// Whether the keys interrupt line (GPIO23 on the Pi) is raised: the key state changed
    /// since `KEYS` was last read.
    pub const fn keys_interrupt(&self) -> bool {
        self.keys_int
    }

    /// Whether the HAT EEPROM is write-protected (its WP pin high, as at power-up).
    pub const fn eeprom_write_protected(&self) -> bool {
        !self.ee_wp_low
    }

    /// Complete frames written: write bursts that stored all 192 frame bytes from `0x00` on.
    pub const fn frames_written(&self) -> u32 {
        self.frames_written
    }

    /// Bytes in the most recent write burst, register byte included (193 for a full frame).
    pub const fn last_write_len(&self) -> usize {
        self.last_write_len
    }

    /// The current register pointer (`0xFF` right after an address byte with the write bit).
    pub const fn pointer(&self) -> u8 {
        self.pointer
    }

    /// One byte received in a write burst, as the firmware's TWI interrupt handles it.
    fn receive(&mut self, byte: u8) {
        match self.pointer {
            SELECT => self.pointer = byte,
            p if usize::from(p) < FRAME_BYTES => {
                self.pixels[usize::from(p)] = byte;
                let first = *self.burst_first_pixel.get_or_insert(p);
                if first == 0 && usize::from(p) == FRAME_BYTES - 1 {
                    self.frames_written = self.frames_written.wrapping_add(1);
                }
                self.pointer = p + 1;
            }
            // The firmware's pixel bound is `< 193`: a 193rd byte lands past the frame array (in
            // whatever RAM follows). The model drops it and advances, as the firmware does.
            p if usize::from(p) == FRAME_BYTES => self.pointer = p + 1,
            register::EE_WP => self.ee_wp_low = byte != 0,
            _ => {}
        }
    }

    /// One byte sent in a read, as the firmware's TWI interrupt loads it.
    fn transmit(&mut self) -> u8 {
        match self.pointer {
            p if usize::from(p) < FRAME_BYTES => {
                self.pointer = p + 1;
                self.pixels[usize::from(p)]
            }
            // Past the frame array on the chip (undefined); the model reads 0xFF.
            p if usize::from(p) == FRAME_BYTES => {
                self.pointer = p + 1;
                0xFF
            }
            register::WAI => WHO_AM_I,
            register::VERSION => self.version,
            register::KEYS => {
                self.keys_int = false;
                self.keys
            }
            register::EE_WP => u8::from(self.ee_wp_low),
            _ => 0xFF,
        }
    }
}

impl I2cTarget for Attiny88Sim {
    fn write(&mut self, bytes: &[u8]) {
        if !self.writing {
            // A (repeated) start with the write bit: the next byte selects a register.
            self.writing = true;
            self.pointer = SELECT;
            self.burst_first_pixel = None;
            self.burst_len = 0;
        }
        for &b in bytes {
            self.receive(b);
        }
        self.burst_len += bytes.len();
        self.last_write_len = self.burst_len;
    }

    fn read(&mut self, buf: &mut [u8]) {
        self.writing = false;
        for b in buf {
            *b = self.transmit();
        }
    }

    fn stop(&mut self) {
        self.writing = false;
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i2c::{Fault, SimBus, SimError};
    use embedded_hal::i2c::Operation;
    use embedded_hal_async::i2c::I2c;
    use futures_executor::block_on;

    fn ramp() -> [u8; FRAME_BYTES] {
        let mut f = [0u8; FRAME_BYTES];
        for (i, b) in f.iter_mut().enumerate() {
            *b = (i % 32) as u8;
        }
        f
    }

    fn frame_write(frame: &[u8; FRAME_BYTES]) -> [u8; FRAME_BYTES + 1] {
        let mut buf = [0u8; FRAME_BYTES + 1];
        buf[0] = register::DISPLAY;
        buf[1..].copy_from_slice(frame);
        buf
    }

    #[test]
    fn a_full_frame_write_is_stored_counted_and_reads_back() {
        let mut chip = Attiny88Sim::new();
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;

        block_on(i2c.write(ADDRESS, &frame_write(&ramp()))).unwrap();
        let (stored, frames, len) = bus
            .with_chip::<Attiny88Sim, _>(ADDRESS, |c| {
                (c.frame_bytes(), c.frames_written(), c.last_write_len())
            })
            .unwrap();
        assert_eq!((stored, frames, len), (ramp(), 1, FRAME_BYTES + 1));

        let mut back = [0u8; FRAME_BYTES];
        block_on(i2c.write_read(ADDRESS, &[register::DISPLAY], &mut back)).unwrap();
        assert_eq!(back, ramp());
        // The register write of that read is a burst of its own.
        assert_eq!(
            bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| (c.frames_written(), c.last_write_len())),
            Some((1, 1))
        );
    }

    #[test]
    fn partial_writes_land_at_their_offset_and_are_not_frames() {
        let mut chip = Attiny88Sim::new();
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;

        block_on(i2c.write(ADDRESS, &[0x18, 1, 2, 3])).unwrap();
        // Past the frame: the tail is dropped.
        block_on(i2c.write(ADDRESS, &[0xBE, 7, 8, 9, 10])).unwrap();
        let frame = bus
            .with_chip::<Attiny88Sim, _>(ADDRESS, |c| {
                assert_eq!(c.frames_written(), 0);
                c.frame_bytes()
            })
            .unwrap();
        assert_eq!(&frame[0x17..0x1C], &[0, 1, 2, 3, 0]);
        assert_eq!(&frame[0xBD..], &[0, 7, 8]);
    }

    #[test]
    fn adjacent_writes_continue_one_burst() {
        let mut chip = Attiny88Sim::new();
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let frame = ramp();
        bus.run(
            ADDRESS,
            &mut [
                Operation::Write(&[register::DISPLAY]),
                Operation::Write(&frame),
            ],
        )
        .unwrap();
        let (stored, frames) = bus
            .with_chip::<Attiny88Sim, _>(ADDRESS, |c| (c.frame_bytes(), c.frames_written()))
            .unwrap();
        assert_eq!((stored, frames), (frame, 1));
    }

    #[test]
    fn pixel_reads_continue_across_transactions() {
        let mut chip = Attiny88Sim::new();
        chip.set_frame_bytes(&ramp());
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;
        let mut buf = [0u8; 3];
        block_on(i2c.write_read(ADDRESS, &[0x05], &mut buf)).unwrap();
        assert_eq!(buf, [5, 6, 7]);
        block_on(i2c.read(ADDRESS, &mut buf)).unwrap();
        assert_eq!(buf, [8, 9, 10]);
    }

    #[test]
    fn id_version_and_unknown_registers() {
        let mut chip = Attiny88Sim::new().with_version(0x02);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;
        let mut two = [0u8; 2];
        block_on(i2c.write_read(ADDRESS, &[register::WAI], &mut two)).unwrap();
        assert_eq!(
            two,
            [b's', b's'],
            "registers outside the frame do not advance"
        );
        let mut one = [0u8; 1];
        block_on(i2c.write_read(ADDRESS, &[register::VERSION], &mut one)).unwrap();
        assert_eq!(one, [0x02]);
        for reg in [0xC0, 0xC1, 0xEF, 0xF4, 0xFE] {
            block_on(i2c.write_read(ADDRESS, &[reg], &mut one)).unwrap();
            assert_eq!(one, [0xFF], "register {reg:#04x}");
        }
        // Writes to the read-only registers are ignored.
        block_on(i2c.write(ADDRESS, &[register::WAI, 0x00])).unwrap();
        block_on(i2c.write(ADDRESS, &[register::VERSION, 0x55])).unwrap();
        block_on(i2c.write(ADDRESS, &[register::KEYS, 0x1F])).unwrap();
        for (reg, want) in [
            (register::WAI, b's'),
            (register::VERSION, 0x02),
            (register::KEYS, 0),
        ] {
            block_on(i2c.write_read(ADDRESS, &[reg], &mut one)).unwrap();
            assert_eq!(one, [want], "register {reg:#04x}");
        }
    }

    #[test]
    fn keys_follow_the_stick_and_reading_clears_the_interrupt() {
        let mut chip = Attiny88Sim::new();
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let read_keys = || {
            let mut k = [0u8; 1];
            block_on((&bus).write_read(ADDRESS, &[register::KEYS], &mut k)).unwrap();
            k[0]
        };
        let int = || {
            bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.keys_interrupt())
                .unwrap()
        };

        assert!(!int());
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| {
            c.press(Direction::Up);
            c.press(Direction::Middle);
        });
        assert!(int());
        assert_eq!(read_keys(), 0b0_1100);
        assert!(!int());
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.release(Direction::Up));
        assert_eq!(read_keys(), 0b0_1000);
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| {
            c.set_keys(0xFF);
            assert_eq!(c.keys(), KEYS_MASK);
        });
        assert_eq!(read_keys(), 0x1F);
        // Setting the same state again raises nothing.
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.set_keys(0x1F));
        assert!(!int());
        // Each direction has its own bit.
        let all = [
            Direction::Down,
            Direction::Right,
            Direction::Up,
            Direction::Middle,
            Direction::Left,
        ]
        .map(key_bit);
        assert_eq!(all, [1, 2, 4, 8, 16]);
    }

    #[test]
    fn ee_wp_drives_the_write_protect_pin() {
        let mut chip = Attiny88Sim::new();
        assert!(chip.eeprom_write_protected());
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;
        let mut one = [0u8; 1];
        block_on(i2c.write_read(ADDRESS, &[register::EE_WP], &mut one)).unwrap();
        assert_eq!(one, [0]);
        block_on(i2c.write(ADDRESS, &[register::EE_WP, 0x80])).unwrap();
        block_on(i2c.write_read(ADDRESS, &[register::EE_WP], &mut one)).unwrap();
        assert_eq!(one, [1]);
        assert_eq!(
            bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.eeprom_write_protected()),
            Some(false)
        );
        block_on(i2c.write(ADDRESS, &[register::EE_WP, 0])).unwrap();
        block_on(i2c.write_read(ADDRESS, &[register::EE_WP], &mut one)).unwrap();
        assert_eq!(one, [0]);
    }

    #[test]
    fn faults_reach_the_caller_and_leave_the_frame_alone() {
        let mut chip = Attiny88Sim::new();
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(ADDRESS, &mut chip).unwrap();
        let mut i2c = &bus;
        bus.inject_times(ADDRESS, Fault::Busy, 1);
        assert_eq!(
            block_on(i2c.write(ADDRESS, &frame_write(&ramp()))),
            Err(SimError::Busy(ADDRESS))
        );
        assert_eq!(
            bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| (c.frames_written(), c.frame_bytes())),
            Some((0, [0; FRAME_BYTES]))
        );
    }
}
