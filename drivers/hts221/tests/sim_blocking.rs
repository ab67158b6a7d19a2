//! The blocking driver against the register-level model in `sense-sim` (as `sim.rs` does for the
//! async one).

use embedded_hal::delay::DelayNs;
use embedded_hal_mock::eh1::delay::NoopDelay;
use sense_hts221::{DataRate, Error, Mode, blocking};
use sense_sim::clock::{ManualClock, SimClock};
use sense_sim::environment::Environment;
use sense_sim::hts221::Hts221Sim;
use sense_sim::i2c::{SimBus, SimError};

const ADDR: u8 = sense_hts221::ADDRESS;

/// A blocking delay that moves a manual clock instead of sleeping.
struct ClockDelay(&'static ManualClock);

impl DelayNs for ClockDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.0.advance(u64::from(ns).div_ceil(1_000_000));
    }
}

#[test]
fn the_model_reads_the_room_through_the_blocking_api() {
    static CLOCK: ManualClock = ManualClock::new(1_700_000_000_000);
    let mut chip = Hts221Sim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(ADDR, &mut chip).unwrap();
    let mut sensor = blocking::Hts221::new(&bus, ClockDelay(&CLOCK));
    sensor.init(Mode::Continuous(DataRate::Hz1)).unwrap();
    let start = CLOCK.now_ms();
    sensor.read().unwrap();
    let m = sensor.read().unwrap();
    assert_eq!(
        CLOCK.now_ms(),
        start + 1000,
        "the next sample, a second later"
    );
    let room = Environment::new().at(CLOCK.now_ms());
    assert!(
        (m.temperature_c - room.temperature_c).abs() <= 0.009,
        "{m:?} vs {room:?}"
    );
    assert!(
        (m.humidity_percent - room.humidity_percent).abs() <= 0.003,
        "{m:?} vs {room:?}"
    );
}

#[test]
fn nothing_at_the_address_is_a_nack() {
    let bus: SimBus<'_, 4> = SimBus::new();
    let mut sensor = blocking::Hts221::new(&bus, NoopDelay::new());
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::I2c(SimError::Nack(ADDR)))
    );
}
