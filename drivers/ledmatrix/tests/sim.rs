//! The async driver against the ATtiny88 model in `sense-sim`, through `sense-hal`'s `LedMatrix`
//! and `Joystick` traits (as the runtime uses it).

use embedded_hal_mock::eh1::delay::NoopDelay;
use futures_executor::block_on;
use sense_hal::led::{Joystick, LedMatrix};
use sense_ledmatrix::asynch::{PolledStick, SenseHatMatrix};
use sense_ledmatrix::*;
use sense_sim::attiny88::Attiny88Sim;
use sense_sim::i2c::{AutoIncrement, Fault, RegisterFile, SimBus, SimError};

fn event(direction: Direction, action: Action) -> JoystickEvent {
    JoystickEvent { direction, action }
}

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

    block_on(LedMatrix::show(&mut matrix, &frame, Rotation::Deg0)).unwrap();
    let stored = sim_frame(&bus);
    assert_eq!(stored, encode(&frame, &gamma::DEFAULT));
    let shown = decode(&stored, &gamma::DEFAULT);
    assert_eq!(shown.get(0, 0), Rgb::new(255, 0, 0));
    assert_eq!(shown.get(7, 0), Rgb::new(0, 132, 0));
    // Each channel comes back as the lowest level of its gamma step: 40 -> level 5 -> 0x00 ->
    // black, 80 -> level 10 -> 0x03 -> level 10 -> 82, 250 -> level 31 -> 255.
    assert_eq!(shown.get(3, 5), Rgb::new(0, 82, 255));

    // Turned 90° clockwise: the drawn top edge runs up the physical left edge.
    block_on(LedMatrix::show(&mut matrix, &frame, Rotation::Deg90)).unwrap();
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
        block_on(Joystick::next_event(&mut stick)),
        Ok(event(Direction::Middle, Action::Pressed))
    );
    assert!(
        !bus.with_chip::<Attiny88Sim, _>(ADDRESS, |c| c.keys_interrupt())
            .unwrap(),
        "reading KEYS clears the interrupt"
    );
    sim(&|c| c.release(Direction::Middle));
    assert_eq!(
        block_on(Joystick::next_event(&mut stick)),
        Ok(event(Direction::Middle, Action::Released))
    );

    // Two switches in one poll: both reported, in bit order, from that one read.
    sim(&|c| {
        c.press(Direction::Left);
        c.press(Direction::Up);
    });
    bus.reset_stats();
    assert_eq!(
        block_on(Joystick::next_event(&mut stick)),
        Ok(event(Direction::Up, Action::Pressed))
    );
    assert_eq!(
        block_on(Joystick::next_event(&mut stick)),
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
        block_on(Joystick::next_event(&mut stick)),
        Ok(event(Direction::Right, Action::Pressed))
    );
    assert_eq!(
        block_on(Joystick::next_event(&mut stick)),
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
        block_on(Joystick::next_event(&mut stick)),
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
