//! The async driver against the register-level model in `sense-sim`.

use embedded_hal_async::delay::DelayNs;
use embedded_hal_mock::eh1::delay::NoopDelay;
use futures_executor::block_on;
use sense_lps25h::asynch::Lps25h;
use sense_lps25h::{Address, DataRate, Error, Measurement, Mode};
use sense_sim::clock::{ManualClock, SimClock};
use sense_sim::environment::{Conditions, Environment};
use sense_sim::hts221::Hts221Sim;
use sense_sim::i2c::{Fault, SimBus, SimError};
use sense_sim::lps25h::Lps25hSim;

/// 2023-11-14 22:13:20 UTC.
const START_MS: u64 = 1_700_000_000_000;
const ADDR: u8 = sense_lps25h::ADDRESS;

/// Half a count (1/8192 hPa, 1/960 °C) plus room for f32 rounding near 1000 hPa (an f32 step
/// there is 1/16 384 hPa).
const P_TOLERANCE: f32 = 0.0002;
const T_TOLERANCE: f32 = 0.0012;

/// A delay that moves a manual clock instead of sleeping, so the model sees time pass.
struct ClockDelay(&'static ManualClock);

impl DelayNs for ClockDelay {
    async fn delay_ns(&mut self, ns: u32) {
        self.0.advance(u64::from(ns).div_ceil(1_000_000));
    }
}

fn assert_matches(m: Measurement, room: Conditions) {
    assert!(
        (m.pressure_hpa - room.pressure_hpa).abs() <= P_TOLERANCE,
        "{m:?} vs {room:?}"
    );
    assert!(
        (m.temperature_c - room.temperature_c).abs() <= T_TOLERANCE,
        "{m:?} vs {room:?}"
    );
}

#[test]
fn one_shot_reads_recover_the_room_over_a_week() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    for _ in 0..(7 * 8) {
        let m = block_on(sensor.read()).unwrap();
        assert_matches(m, Environment::new().at(CLOCK.now_ms()));
        CLOCK.advance(3 * 3_600_000);
    }
}

#[test]
fn a_freezing_room_reads_below_zero() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let cold = Environment::with_mean(Conditions {
        temperature_c: -12.0,
        humidity_percent: 80.0,
        pressure_hpa: 900.0,
    });
    let mut chip = Lps25hSim::with_environment(&CLOCK, cold);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    let m = block_on(sensor.read()).unwrap();
    assert!(m.temperature_c < -10.0, "{m:?}");
    assert_matches(m, cold.at(START_MS));
}

#[test]
fn continuous_reads_wait_for_the_next_sample() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Lps25h::new(&bus, ClockDelay(&CLOCK), Address::SENSE_HAT);
    block_on(sensor.init(Mode::Continuous(DataRate::Hz25))).unwrap();

    assert_matches(
        block_on(sensor.read()).unwrap(),
        Environment::new().at(START_MS),
    );
    for n in 1..=5 {
        let m = block_on(sensor.read()).unwrap();
        assert_eq!(
            CLOCK.now_ms(),
            START_MS + n * 40,
            "8 polls of 5 ms per sample"
        );
        assert_matches(m, Environment::new().at(START_MS + n * 40));
    }
}

#[test]
fn nack_and_busy_at_the_address_are_i2c_errors() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);

    bus.inject(ADDR, Fault::Nack);
    let err = block_on(sensor.init(Mode::OneShot)).unwrap_err();
    assert_eq!(err, Error::I2c(SimError::Nack(ADDR)));
    assert_eq!(
        err.to_string(),
        "LPS25H: I2C error: no acknowledge from I2C address 0x5c"
    );
    bus.inject(ADDR, Fault::Busy);
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::I2c(SimError::Busy(ADDR)))
    );

    bus.clear(ADDR);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    bus.inject_times(ADDR, Fault::Busy, 1);
    assert_eq!(
        block_on(sensor.read()),
        Err(Error::I2c(SimError::Busy(ADDR)))
    );
    assert_matches(
        block_on(sensor.read()).unwrap(),
        Environment::new().at(START_MS),
    );
}

#[test]
fn a_stuck_one_shot_times_out_and_recovers_when_freed() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut chip = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = Lps25h::new(&bus, ClockDelay(&CLOCK), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();

    bus.with_chip(ADDR, |c: &mut Lps25hSim| c.set_stuck_one_shot(true))
        .unwrap();
    bus.reset_stats();
    assert_eq!(block_on(sensor.read()), Err(Error::ConversionTimeout));
    assert_eq!(
        bus.stats().transactions,
        1 + sense_lps25h::ONE_SHOT_MAX_POLLS
    );
    assert_eq!(CLOCK.now_ms(), START_MS + 500, "100 polls of 5 ms");

    bus.with_chip(ADDR, |c: &mut Lps25hSim| c.set_stuck_one_shot(false))
        .unwrap();
    assert_matches(
        block_on(sensor.read()).unwrap(),
        Environment::new().at(CLOCK.now_ms()),
    );
}

#[test]
fn a_different_chip_at_the_address_is_refused() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut humidity = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut humidity).unwrap();
    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::UnexpectedDevice(0xBC))
    );
}

#[test]
fn both_sensors_share_one_bus() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut barometer = Lps25hSim::new(&CLOCK);
    let mut humidity = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut barometer).unwrap();
    bus.attach(sense_sim::hts221::ADDRESS, &mut humidity)
        .unwrap();
    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::Continuous(DataRate::Hz1))).unwrap();
    let config = bus.with_chip(ADDR, |c: &mut Lps25hSim| {
        (c.registers().get(0x10), c.registers().get(0x20))
    });
    assert_eq!(config, Some((0x05, 0x94)));
    let untouched = bus.with_chip(0x5F, |c: &mut Hts221Sim| c.registers().get(0x20));
    assert_eq!(untouched, Some(0x00));
}

#[test]
fn the_driver_talks_to_the_address_it_is_given() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut high = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(sense_lps25h::ADDRESS_SA0_HIGH, &mut high)
        .unwrap();

    // Nothing at 0x5C: the Sense HAT's address is not tried behind the caller's back.
    let mut wrong = Lps25h::new(&bus, NoopDelay::new(), Address::Sa0Low);
    assert_eq!(
        block_on(wrong.init(Mode::OneShot)),
        Err(Error::I2c(SimError::Nack(0x5C)))
    );

    let mut sensor = Lps25h::new(&bus, NoopDelay::new(), Address::Sa0High);
    block_on(sensor.init(Mode::Continuous(DataRate::Hz7))).unwrap();
    assert_matches(
        block_on(sensor.read()).unwrap(),
        Environment::new().at(START_MS),
    );
    let ctrl1 = bus.with_chip(0x5D, |c: &mut Lps25hSim| c.registers().get(0x20));
    assert_eq!(ctrl1, Some(0xA4));
}

#[test]
fn two_barometers_one_at_each_address() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut low = Lps25hSim::new(&CLOCK);
    let mut high = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(0x5C, &mut low).unwrap();
    bus.attach(0x5D, &mut high).unwrap();
    let mut a = Lps25h::new(&bus, NoopDelay::new(), Address::Sa0Low);
    let mut b = Lps25h::new(&bus, NoopDelay::new(), Address::Sa0High);
    block_on(a.init(Mode::Continuous(DataRate::Hz1))).unwrap();
    block_on(b.init(Mode::Continuous(DataRate::Hz25))).unwrap();
    let ctrl1 = |address| bus.with_chip(address, |c: &mut Lps25hSim| c.registers().get(0x20));
    assert_eq!((ctrl1(0x5C), ctrl1(0x5D)), (Some(0x94), Some(0xC4)));
}
