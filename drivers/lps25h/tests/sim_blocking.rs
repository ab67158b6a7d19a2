//! The blocking driver against the register-level model in `sense-sim` (as `sim.rs` does for the
//! async one).

use embedded_hal::delay::DelayNs;
use embedded_hal_mock::eh1::delay::NoopDelay;
use sense_lps25h::{Address, DataRate, Error, Mode, blocking};
use sense_sim::clock::{ManualClock, SimClock};
use sense_sim::environment::Environment;
use sense_sim::i2c::{SimBus, SimError};
use sense_sim::lps25h::Lps25hSim;

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
    let mut chip = Lps25hSim::new(&CLOCK);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(0x5D, &mut chip).unwrap();
    let mut sensor = blocking::Lps25h::new(&bus, ClockDelay(&CLOCK), Address::Sa0High);
    sensor.init(Mode::Continuous(DataRate::Hz25)).unwrap();
    let start = CLOCK.now_ms();
    sensor.read().unwrap();
    let m = sensor.read().unwrap();
    assert_eq!(CLOCK.now_ms(), start + 40, "the next sample, 40 ms later");
    let room = Environment::new().at(CLOCK.now_ms());
    assert!(
        (m.pressure_hpa - room.pressure_hpa).abs() <= 0.0002,
        "{m:?} vs {room:?}"
    );
    assert!(
        (m.temperature_c - room.temperature_c).abs() <= 0.0012,
        "{m:?} vs {room:?}"
    );
}

#[test]
fn nothing_at_the_address_is_a_nack() {
    let bus: SimBus<'_, 4> = SimBus::new();
    let mut sensor = blocking::Lps25h::new(&bus, NoopDelay::new(), Address::SENSE_HAT);
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::I2c(SimError::Nack(0x5C)))
    );
}
