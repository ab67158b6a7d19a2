//! The async driver against the register-level model in `sense-sim`.

use embedded_hal_async::delay::DelayNs;
use embedded_hal_mock::eh1::delay::NoopDelay;
use futures_executor::block_on;
use sense_hts221::asynch::Hts221;
use sense_hts221::{DataRate, Error, Measurement, Mode};
use sense_sim::clock::{ManualClock, SimClock};
use sense_sim::environment::Environment;
use sense_sim::hts221::Hts221Sim;
use sense_sim::i2c::{Fault, SimBus, SimError};
use sense_sim::lps25h::Lps25hSim;

/// 2023-11-14 22:13:20 UTC.
const START_MS: u64 = 1_700_000_000_000;
const ADDR: u8 = sense_hts221::ADDRESS;

/// Half a count of the simulated chip's calibration (0.016 °C and 0.004 %RH per count), plus room
/// for f32 rounding.
const T_TOLERANCE: f32 = 0.009;
const H_TOLERANCE: f32 = 0.003;

/// A delay that moves a manual clock instead of sleeping, so the model sees time pass.
struct ClockDelay(&'static ManualClock);

impl DelayNs for ClockDelay {
    async fn delay_ns(&mut self, ns: u32) {
        self.0.advance(u64::from(ns).div_ceil(1_000_000));
    }
}

fn assert_matches_room(m: Measurement, at_ms: u64) {
    let room = Environment::new().at(at_ms);
    assert!(
        (m.temperature_c - room.temperature_c).abs() <= T_TOLERANCE,
        "{m:?} vs {room:?}"
    );
    assert!(
        (m.humidity_percent - room.humidity_percent).abs() <= H_TOLERANCE,
        "{m:?} vs {room:?}"
    );
}

#[test]
fn one_shot_reads_recover_the_room_through_a_day() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Hts221::new(&bus, NoopDelay::new());
    block_on(sensor.init(Mode::OneShot)).unwrap();
    for _ in 0..24 {
        let m = block_on(sensor.read()).unwrap();
        assert_matches_room(m, CLOCK.now_ms());
        CLOCK.advance(3_600_000);
    }
    let conversions = bus.with_chip(ADDR, |c: &mut Hts221Sim| c.conversions());
    assert_eq!(conversions, Some(24));
}

#[test]
fn continuous_reads_wait_for_the_next_sample() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Hts221::new(&bus, ClockDelay(&CLOCK));
    block_on(sensor.init(Mode::Continuous(DataRate::Hz1))).unwrap();

    // The first sample is ready at once; the next one comes on the next second boundary.
    assert_matches_room(block_on(sensor.read()).unwrap(), START_MS);
    let m = block_on(sensor.read()).unwrap();
    assert_eq!(CLOCK.now_ms(), START_MS + 1000, "200 polls of 5 ms");
    assert_matches_room(m, START_MS + 1000);
}

#[test]
fn nack_and_busy_at_the_address_are_i2c_errors() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Hts221::new(&bus, NoopDelay::new());

    bus.inject(ADDR, Fault::Nack);
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::I2c(SimError::Nack(ADDR)))
    );
    bus.inject(ADDR, Fault::Busy);
    let err = block_on(sensor.init(Mode::OneShot)).unwrap_err();
    assert_eq!(err, Error::I2c(SimError::Busy(ADDR)));
    assert_eq!(
        err.to_string(),
        "HTS221: I2C error: I2C address 0x5f is busy (EBUSY)"
    );

    bus.clear(ADDR);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    // A fault in the middle of a read: the next read works again.
    bus.inject_times(ADDR, Fault::Nack, 1);
    assert_eq!(
        block_on(sensor.read()),
        Err(Error::I2c(SimError::Nack(ADDR)))
    );
    assert_matches_room(block_on(sensor.read()).unwrap(), START_MS);
}

#[test]
fn nothing_at_the_address_is_a_nack() {
    let bus: SimBus<'_, 4> = SimBus::new();
    let mut sensor = Hts221::new(&bus, NoopDelay::new());
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::I2c(SimError::Nack(ADDR)))
    );
}

#[test]
fn a_stuck_one_shot_times_out_and_recovers_when_freed() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Hts221::new(&bus, ClockDelay(&CLOCK));
    block_on(sensor.init(Mode::OneShot)).unwrap();

    bus.with_chip(ADDR, |c: &mut Hts221Sim| c.set_stuck_one_shot(true))
        .unwrap();
    bus.reset_stats();
    assert_eq!(block_on(sensor.read()), Err(Error::ConversionTimeout));
    assert_eq!(
        bus.stats().transactions,
        1 + sense_hts221::ONE_SHOT_MAX_POLLS,
        "one trigger, then the bounded polls"
    );
    assert_eq!(CLOCK.now_ms(), START_MS + 500, "100 polls of 5 ms");

    bus.with_chip(ADDR, |c: &mut Hts221Sim| c.set_stuck_one_shot(false))
        .unwrap();
    assert_matches_room(block_on(sensor.read()).unwrap(), CLOCK.now_ms());
}

#[test]
fn a_different_chip_at_the_address_is_refused() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut barometer = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut barometer).unwrap();
    let mut sensor = Hts221::new(&bus, NoopDelay::new());
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::UnexpectedDevice(0xBD))
    );
}

#[test]
fn the_calibration_read_is_the_models() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Hts221::new(&bus, NoopDelay::new());
    block_on(sensor.init(Mode::Continuous(DataRate::Hz12_5))).unwrap();
    let expected =
        sense_hts221::Calibration::from_registers(&sense_sim::hts221::CALIBRATION).unwrap();
    assert_eq!(sensor.calibration(), Some(&expected));
    let ctrl1 = bus.with_chip(ADDR, |c: &mut Hts221Sim| c.registers().get(0x20));
    assert_eq!(ctrl1, Some(0x87));
}
