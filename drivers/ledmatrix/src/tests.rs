//! Golden bytes for the encoding, exact bus traffic against `embedded-hal-mock`, and the driver
//! against the ATtiny88 model in `sense-sim`.

extern crate std;

use std::format;
use std::vec;
use std::vec::Vec;

use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTx};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_hal::i2c::ErrorKind;
use sense_hal::led::{Action, Direction, Frame, Joystick, JoystickEvent, LedMatrix, Rgb, Rotation};
use sense_sim::attiny88::Attiny88Sim;
use sense_sim::i2c::{AutoIncrement, Fault, RegisterFile, SimBus, SimError};

use crate::*;

/// Byte index of colour `colour` (0 R, 1 G, 2 B) of pixel (`x`, `y`), by the reference layout.
fn at(x: usize, y: usize, colour: usize) -> usize {
    y * 24 + colour * 8 + x
}

fn event(direction: Direction, action: Action) -> JoystickEvent {
    JoystickEvent { direction, action }
}

// ---------------------------------------------------------------------------------------------
// Encoding: golden bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn one_red_pixel_is_one_full_byte() {
    let mut frame = Frame::BLACK;
    frame.set(1, 0, Rgb::new(255, 0, 0));
    let mut want = [0u8; FRAME_BYTES];
    want[1] = 0x1F; // 255 >> 3 = 31, DEFAULT[31] = 0x1F, at 0*24 + 0*8 + 1
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
}

#[test]
fn mid_grey_goes_through_the_gamma_table() {
    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::new(128, 128, 128));
    let mut want = [0u8; FRAME_BYTES];
    // 128 >> 3 = 16, DEFAULT[16] = 0x08, in the R, G and B blocks of row 0.
    want[0] = 0x08;
    want[8] = 0x08;
    want[16] = 0x08;
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
    // LOW_LIGHT[16] = 0x03.
    want[0] = 0x03;
    want[8] = 0x03;
    want[16] = 0x03;
    assert_eq!(encode(&frame, &gamma::LOW_LIGHT), want);
}

#[test]
fn green_and_blue_land_in_their_blocks_of_later_rows() {
    let mut frame = Frame::BLACK;
    frame.set(2, 5, Rgb::new(0, 200, 0)); // 200 >> 3 = 25 -> DEFAULT 0x14
    frame.set(7, 7, Rgb::new(0, 0, 255)); // 31 -> 0x1F
    frame.set(4, 3, Rgb::new(64, 96, 160)); // 8 -> 0x02, 12 -> 0x04, 20 -> 0x0C
    let mut want = [0u8; FRAME_BYTES];
    want[130] = 0x14; // 5*24 + 1*8 + 2
    want[191] = 0x1F; // 7*24 + 2*8 + 7: the last byte
    want[76] = 0x02; // 3*24 + 0*8 + 4
    want[84] = 0x04; // 3*24 + 1*8 + 4
    want[92] = 0x0C; // 3*24 + 2*8 + 4
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
    assert_eq!(
        [
            at(2, 5, 1),
            at(7, 7, 2),
            at(4, 3, 0),
            at(4, 3, 1),
            at(4, 3, 2)
        ],
        [130, 191, 76, 84, 92]
    );
}

#[test]
fn low_light_keeps_dim_colours_lit_and_caps_brightness() {
    let mut frame = Frame::BLACK;
    frame.set(0, 1, Rgb::new(8, 0, 0)); // level 1: DEFAULT 0x00, LOW_LIGHT 0x01
    frame.set(1, 1, Rgb::new(255, 255, 255)); // level 31: LOW_LIGHT 0x0A
    let low = encode(&frame, &gamma::LOW_LIGHT);
    let mut want = [0u8; FRAME_BYTES];
    want[24] = 0x01;
    want[25] = 0x0A;
    want[33] = 0x0A;
    want[41] = 0x0A;
    assert_eq!(low, want);
    assert_eq!(encode(&frame, &gamma::DEFAULT)[24], 0x00);
}

#[test]
fn channels_keep_their_top_five_bits() {
    let table = gamma::LINEAR;
    for (value, level) in [
        (0u8, 0u8),
        (7, 0),
        (8, 1),
        (127, 15),
        (128, 16),
        (247, 30),
        (248, 31),
    ] {
        let frame = Frame::filled(Rgb::new(value, value, value));
        assert!(
            encode(&frame, &table).iter().all(|&b| b == level),
            "{value} -> {level}"
        );
    }
    assert_eq!(
        encode(&Frame::filled(Rgb::WHITE), &gamma::DEFAULT),
        [0x1F; 192]
    );
    assert_eq!(encode(&Frame::BLACK, &gamma::LOW_LIGHT), [0; 192]);
}

#[test]
fn the_gamma_tables_are_the_kernels() {
    assert_eq!(gamma::DEFAULT[16], 0x08);
    assert_eq!(
        gamma::DEFAULT,
        [
            0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 17, 18, 20,
            21, 23, 25, 27, 29, 31
        ]
    );
    assert_eq!(
        gamma::LOW_LIGHT,
        [
            0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
            9, 10, 10
        ]
    );
    for table in [gamma::DEFAULT, gamma::LOW_LIGHT, gamma::LINEAR] {
        assert!(table.windows(2).all(|w| w[0] <= w[1]) && table[31] <= 31);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

#[test]
fn decode_widens_the_lowest_matching_level() {
    let mut bytes = [0u8; FRAME_BYTES];
    bytes[0] = 0x1F; // level 31 -> 255
    bytes[8] = 0x08; // level 16 -> 128 | 4 = 132
    bytes[16] = 0x01; // DEFAULT levels 6 and 7 -> 6 -> 48 | 1 = 49
    bytes[1] = 0x0D; // not a DEFAULT output: first level reaching it is 21 (0x0E) -> 168 | 5
    bytes[2] = 0xFF; // beyond every output: level 31
    let frame = decode(&bytes, &gamma::DEFAULT);
    assert_eq!(frame.get(0, 0), Rgb::new(255, 132, 49));
    assert_eq!(frame.get(1, 0), Rgb::new(173, 0, 0));
    assert_eq!(frame.get(2, 0), Rgb::new(255, 0, 0));
    assert_eq!(frame.get(7, 7), Rgb::BLACK);
}

#[test]
fn encode_after_decode_gives_the_bytes_back() {
    for table in [gamma::DEFAULT, gamma::LOW_LIGHT, gamma::LINEAR] {
        let mut bytes = [0u8; FRAME_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = table[(i * 7) % 32];
        }
        assert_eq!(encode(&decode(&bytes, &table), &table), bytes);
    }
}

#[test]
fn decode_after_encode_keeps_each_level_under_a_linear_table() {
    for value in 0..=255u8 {
        let frame = Frame::filled(Rgb::new(value, 255 - value, value / 2));
        let back = decode(&encode(&frame, &gamma::LINEAR), &gamma::LINEAR);
        let p = back.get(3, 4);
        assert_eq!(
            [p.r >> 3, p.g >> 3, p.b >> 3],
            [value >> 3, (255 - value) >> 3, (value / 2) >> 3]
        );
    }
    // Black and white survive the default table. Low light sends levels 30 and 31 alike
    // (0x0A), so white comes back as level 30.
    for f in [Frame::BLACK, Frame::filled(Rgb::WHITE)] {
        assert_eq!(decode(&encode(&f, &gamma::DEFAULT), &gamma::DEFAULT), f);
    }
    let low = decode(
        &encode(&Frame::filled(Rgb::WHITE), &gamma::LOW_LIGHT),
        &gamma::LOW_LIGHT,
    );
    assert_eq!(low, Frame::filled(Rgb::new(247, 247, 247)));
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_bits_follow_the_kernel_keymap() {
    assert_eq!(
        Keys::DIRECTIONS.map(Keys::bit),
        [Keys::DOWN, Keys::RIGHT, Keys::UP, Keys::ENTER, Keys::LEFT]
    );
    assert_eq!(
        [Keys::DOWN, Keys::RIGHT, Keys::UP, Keys::ENTER, Keys::LEFT],
        [1, 2, 4, 8, 16]
    );
    let k = Keys(Keys::UP | Keys::ENTER | 0x80);
    assert!(k.is_pressed(Direction::Up) && k.is_pressed(Direction::Middle));
    assert!(!k.is_pressed(Direction::Down));
    assert_eq!(
        k.pressed().collect::<Vec<_>>(),
        [Direction::Up, Direction::Middle]
    );
    assert!(Keys(0x80).is_empty() && !k.is_empty());
    assert_eq!(u8::from(k), 0x8C);
}

#[test]
fn changes_come_in_bit_order() {
    let before = Keys(Keys::DOWN | Keys::LEFT);
    let now = Keys(Keys::RIGHT | Keys::LEFT | Keys::ENTER);
    let events: Vec<_> = now.changes_since(before).collect();
    assert_eq!(
        events,
        [
            event(Direction::Down, Action::Released),
            event(Direction::Right, Action::Pressed),
            event(Direction::Middle, Action::Pressed),
        ]
    );
    assert_eq!(now.changes_since(now).count(), 0);
    // Applying the events gets from one state to the other.
    let reached = events.iter().fold(before, |k, e| k.after(*e));
    assert_eq!(reached, now);
}

// ---------------------------------------------------------------------------------------------
// Exact bus traffic (embedded-hal-mock)
// ---------------------------------------------------------------------------------------------

#[test]
fn init_checks_who_am_i_and_returns_the_version() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF0], vec![b's']),
        Transaction::write_read(ADDRESS, vec![0xF1], vec![0x02]),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(block_on(matrix.init()), Ok(0x02));
    i2c.done();
}

#[test]
fn init_refuses_another_chip() {
    let expectations = [Transaction::write_read(ADDRESS, vec![0xF0], vec![0xBC])];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    let err = block_on(matrix.init()).unwrap_err();
    assert_eq!(err, Error::UnexpectedDevice(0xBC));
    assert_eq!(
        format!("{err}"),
        "LED matrix: WHO_AM_I is 0xbc, expected 0x73 ('s')"
    );
    i2c.done();
}

#[test]
fn write_frame_is_one_193_byte_write() {
    let mut frame = Frame::BLACK;
    frame.set(1, 0, Rgb::RED);
    frame.set(2, 3, Rgb::new(0, 128, 0));
    frame.set(7, 7, Rgb::BLUE);
    let mut want = vec![0u8; 193];
    want[0] = 0x00;
    want[1 + at(1, 0, 0)] = 0x1F;
    want[1 + at(2, 3, 1)] = 0x08;
    want[1 + at(7, 7, 2)] = 0x1F;
    let mut low = want.clone();
    low[1 + at(1, 0, 0)] = 0x0A;
    low[1 + at(2, 3, 1)] = 0x03;
    low[1 + at(7, 7, 2)] = 0x0A;

    let expectations = [
        Transaction::write(ADDRESS, want),
        Transaction::write(ADDRESS, low),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert!(!matrix.low_light());
    block_on(matrix.write_frame(&frame)).unwrap();
    matrix.set_low_light(true);
    assert!(matrix.low_light());
    assert_eq!(matrix.gamma(), &gamma::LOW_LIGHT);
    block_on(matrix.write_frame(&frame)).unwrap();
    i2c.done();
}

#[test]
fn show_turns_the_picture_for_the_rotation() {
    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::RED);
    // Upside down: the drawn top-left is the physical bottom-right.
    let mut want = vec![0u8; 193];
    want[1 + at(7, 7, 0)] = 0x1F;
    let expectations = [Transaction::write(ADDRESS, want)];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    block_on(matrix.show(&frame, Rotation::Deg180)).unwrap();
    i2c.done();
}

#[test]
fn read_keys_reads_register_f2() {
    let expectations = [Transaction::write_read(ADDRESS, vec![0xF2], vec![0b0_1001])];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    let keys = block_on(matrix.read_keys()).unwrap();
    assert_eq!(keys, Keys(Keys::DOWN | Keys::ENTER));
    i2c.done();
}

#[test]
fn read_frame_bytes_reads_192_bytes_from_0() {
    let stored: Vec<u8> = (0..192).map(|i| (i % 32) as u8).collect();
    let expectations = [Transaction::write_read(ADDRESS, vec![0x00], stored.clone())];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(
        block_on(matrix.read_frame_bytes()).unwrap().as_slice(),
        stored
    );
    i2c.done();
}

#[test]
fn bus_errors_are_reported_as_i2c_errors() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF0], vec![0]).with_error(ErrorKind::Other),
        Transaction::write(ADDRESS, vec![0; 193]).with_error(ErrorKind::Other),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(block_on(matrix.init()), Err(Error::I2c(ErrorKind::Other)));
    let err = block_on(matrix.write_frame(&Frame::BLACK)).unwrap_err();
    assert_eq!(
        format!("{err}"),
        format!("LED matrix: I2C error: {}", ErrorKind::Other)
    );
    i2c.done();
}

#[test]
fn set_gamma_clamps_to_five_bits() {
    let i2c = Mock::new(&[]);
    let mut matrix = SenseHatMatrix::new(i2c);
    matrix.set_gamma(&[40; 32]);
    assert_eq!(matrix.gamma(), &[31; 32]);
    assert!(!matrix.low_light());
    matrix.set_low_light(false);
    assert_eq!(matrix.gamma(), &gamma::DEFAULT);
    matrix.release().done();
}

#[test]
fn polled_stick_waits_between_polls_and_reports_changes() {
    let keys = |v: u8| Transaction::write_read(ADDRESS, vec![0xF2], vec![v]);
    let expectations = [
        keys(0),          // first poll, no wait
        keys(Keys::UP),   // after 20 ms: pressed
        keys(Keys::UP),   // after 20 ms: no change
        keys(Keys::LEFT), // after 20 ms: two changes in one poll
    ];
    let mut i2c = Mock::new(&expectations);
    let mut delay = CheckedDelay::new(&[
        DelayTx::async_delay_ms(20),
        DelayTx::async_delay_ms(20),
        DelayTx::async_delay_ms(20),
    ]);
    let mut stick = PolledStick::new(i2c.clone(), delay.clone(), 20);
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Up, Action::Pressed))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Up, Action::Released))
    );
    // The second change of that poll comes without another read or wait.
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Left, Action::Pressed))
    );
    assert_eq!(stick.keys(), Keys(Keys::LEFT));
    i2c.done();
    delay.done();
}

#[test]
fn polled_stick_returns_read_errors_and_goes_on() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF2], vec![0]).with_error(ErrorKind::Other),
        Transaction::write_read(ADDRESS, vec![0xF2], vec![Keys::DOWN]),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut stick = PolledStick::new(i2c.clone(), NoopDelay::new(), 10);
    assert_eq!(
        block_on(stick.next_event()),
        Err(Error::I2c(ErrorKind::Other))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Down, Action::Pressed))
    );
    drop(stick);
    i2c.done();
}

// ---------------------------------------------------------------------------------------------
// Against the ATtiny88 model
// ---------------------------------------------------------------------------------------------

fn sim_frame(bus: &SimBus<'_, 4>) -> [u8; FRAME_BYTES] {
    bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.frame_bytes())
        .unwrap()
}

#[test]
fn sim_init_reads_the_version() {
    let mut chip = Attiny88Sim::new().with_version(0x03);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let mut matrix = SenseHatMatrix::new(&bus);
    assert_eq!(block_on(matrix.init()), Ok(0x03));
}

#[test]
fn sim_init_refuses_a_chip_that_is_not_the_attiny() {
    let mut other = RegisterFile::<256>::new(AutoIncrement::Always);
    other.set(0xF0, 0x00);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut other).unwrap();
    let mut matrix = SenseHatMatrix::new(&bus);
    assert_eq!(block_on(matrix.init()), Err(Error::UnexpectedDevice(0x00)));
}

#[test]
fn sim_shows_frames_turned_for_the_rotation() {
    let mut chip = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let mut matrix = SenseHatMatrix::new(&bus);

    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::RED);
    frame.set(7, 0, Rgb::new(0, 128, 0));
    frame.set(3, 5, Rgb::new(40, 80, 250));

    block_on(matrix.show(&frame, Rotation::Deg0)).unwrap();
    let stored = sim_frame(&bus);
    assert_eq!(stored, encode(&frame, &gamma::DEFAULT));
    let shown = decode(&stored, &gamma::DEFAULT);
    assert_eq!(shown.get(0, 0), Rgb::new(255, 0, 0));
    assert_eq!(shown.get(7, 0), Rgb::new(0, 132, 0));
    // Each channel comes back as the lowest level of its gamma step: 40 -> level 5 -> 0x00 ->
    // black, 80 -> level 10 -> 0x03 -> level 10 -> 82, 250 -> level 31 -> 255.
    assert_eq!(shown.get(3, 5), Rgb::new(0, 82, 255));

    // Turned 90° clockwise: the drawn top edge runs up the physical left edge.
    block_on(matrix.show(&frame, Rotation::Deg90)).unwrap();
    let shown = decode(&sim_frame(&bus), &gamma::DEFAULT);
    assert_eq!(shown.get(0, 7), Rgb::new(255, 0, 0));
    assert_eq!(shown.get(0, 0), Rgb::new(0, 132, 0));
    assert_eq!(
        shown,
        decode(
            &encode(&frame.for_rotation(Rotation::Deg90), &gamma::DEFAULT),
            &gamma::DEFAULT
        )
    );

    // Read back through the driver, the same bytes.
    assert_eq!(block_on(matrix.read_frame_bytes()), Ok(sim_frame(&bus)));
    assert_eq!(
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| (c.frames_written(), c.last_write_len())),
        Some((2, 1)),
        "two frames; the last burst is the register byte of the read-back"
    );
}

#[test]
fn sim_writes_one_193_byte_burst_per_frame() {
    let mut chip = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let mut matrix = SenseHatMatrix::new(&bus);
    matrix.set_low_light(true);
    for _ in 0..3 {
        block_on(matrix.write_frame(&Frame::filled(Rgb::WHITE))).unwrap();
    }
    assert_eq!(sim_frame(&bus), [0x0A; FRAME_BYTES]);
    assert_eq!(
        bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| (c.frames_written(), c.last_write_len())),
        Some((3, 193))
    );
    let stats = bus.stats();
    assert_eq!((stats.transactions, stats.bytes_written), (3, 3 * 193));
}

#[test]
fn sim_joystick_presses_and_releases() {
    let mut chip = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let mut stick = PolledStick::new(&bus, NoopDelay::new(), 10);
    let sim = |f: &dyn Fn(&mut Attiny88Sim)| bus.with_chip::<Attiny88Sim, _>(ADDRESS, f).unwrap();

    sim(&|c| c.press(Direction::Middle));
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Middle, Action::Pressed))
    );
    assert!(
        !bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.keys_interrupt())
            .unwrap(),
        "reading KEYS clears the interrupt"
    );
    sim(&|c| c.release(Direction::Middle));
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Middle, Action::Released))
    );

    // Two switches in one poll: both reported, in bit order, from that one read.
    sim(&|c| {
        c.press(Direction::Left);
        c.press(Direction::Up);
    });
    bus.reset_stats();
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Up, Action::Pressed))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Left, Action::Pressed))
    );
    assert_eq!(bus.stats().transactions, 1);

    // The matrix driver on the same bus reads the same state.
    let mut matrix = SenseHatMatrix::new(&bus);
    assert_eq!(
        block_on(matrix.read_keys()),
        Ok(Keys(Keys::UP | Keys::LEFT))
    );
}

/// A delay that advances a script on the simulated chip: what a user does between polls.
struct ScriptedDelay<'a, 'd> {
    bus: &'a SimBus<'d, 4>,
    waits: u32,
}

impl embedded_hal_async::delay::DelayNs for ScriptedDelay<'_, '_> {
    async fn delay_ns(&mut self, _ns: u32) {
        self.waits += 1;
        let waits = self.waits;
        self.bus
            .with_chip::<Attiny88Sim, _>(ADDRESS, |c| match waits {
                3 => c.press(Direction::Right),
                5 => c.release(Direction::Right),
                _ => {}
            });
    }
}

#[test]
fn sim_joystick_polls_until_something_happens() {
    let mut chip = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let delay = ScriptedDelay {
        bus: &bus,
        waits: 0,
    };
    let mut stick = PolledStick::new(&bus, delay, 25);
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Right, Action::Pressed))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Right, Action::Released))
    );
    let (_, delay) = stick.release();
    assert_eq!(delay.waits, 5);
    // One poll without waiting, then one after each of the five waits.
    assert_eq!(bus.stats().transactions, 6);
}

#[test]
fn sim_faults_surface_as_i2c_errors() {
    let mut chip = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDRESS, &mut chip).unwrap();
    let mut matrix = SenseHatMatrix::new(&bus);

    bus.inject(ADDRESS, Fault::Busy);
    let err = block_on(matrix.write_frame(&Frame::filled(Rgb::RED))).unwrap_err();
    assert_eq!(err, Error::I2c(SimError::Busy(ADDRESS)));
    assert_eq!(
        format!("{err}"),
        "LED matrix: I2C error: I2C address 0x46 is busy (EBUSY)"
    );
    assert_eq!(
        sim_frame(&bus),
        [0; FRAME_BYTES],
        "nothing reached the chip"
    );

    bus.inject(ADDRESS, Fault::Nack);
    assert_eq!(
        block_on(matrix.init()),
        Err(Error::I2c(SimError::Nack(ADDRESS)))
    );
    let mut stick = PolledStick::new(&bus, NoopDelay::new(), 10);
    assert_eq!(
        block_on(stick.next_event()),
        Err(Error::I2c(SimError::Nack(ADDRESS)))
    );

    bus.clear(ADDRESS);
    assert_eq!(block_on(matrix.init()), Ok(0));
    block_on(matrix.write_frame(&Frame::filled(Rgb::RED))).unwrap();
    assert_eq!(sim_frame(&bus)[..8], [0x1F; 8]);
}

#[test]
fn an_empty_bus_nacks() {
    let bus: SimBus<'_, 4> = SimBus::new();
    let mut matrix = SenseHatMatrix::new(&bus);
    assert_eq!(
        block_on(matrix.init()),
        Err(Error::I2c(SimError::Nack(ADDRESS)))
    );
}
