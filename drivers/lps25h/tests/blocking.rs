//! The blocking driver (`blocking::Lps25h`, on embedded-hal 1.0): the same I2C traffic as the async
//! one in `transactions.rs`, against `embedded-hal-mock`. Both are generated from one source; these
//! tests catch a blocking variant that lost a step. (`sim_blocking.rs` runs it against the model.)

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as Delay};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_lps25h::{
    Address, DataRate, Error, Measurement, Mode, ONE_SHOT_MAX_POLLS, asynch, blocking,
};

/// PRESS_OUT = 0x3F_54_00 → 1013.25 hPa; TEMP_OUT = 0xD5D0 → 20.0 °C (worked in `transactions.rs`).
const OUTPUTS: [u8; 5] = [0x00, 0x54, 0x3F, 0xD0, 0xD5];
const EXPECTED: Measurement = Measurement {
    pressure_hpa: 1013.25,
    temperature_c: 20.0,
};

fn init_traffic(address: u8, ctrl_reg1: u8) -> Vec<Transaction> {
    vec![
        Transaction::write_read(address, vec![0x0F], vec![0xBD]),
        Transaction::write(address, vec![0x10, 0x05]),
        Transaction::write(address, vec![0x21, 0x00]),
        Transaction::write(address, vec![0x20, ctrl_reg1]),
    ]
}

#[test]
fn one_shot_init_and_read_are_the_async_drivers_traffic_at_either_address() {
    for (address, bits) in [(Address::Sa0Low, 0x5C), (Address::Sa0High, 0x5D)] {
        let mut traffic = init_traffic(bits, 0x84);
        traffic.extend([
            Transaction::write(bits, vec![0x21, 0x01]),
            Transaction::write_read(bits, vec![0x21], vec![0x01]),
            Transaction::write_read(bits, vec![0x21], vec![0x00]),
            Transaction::write_read(bits, vec![0x28 | 0x80], OUTPUTS.to_vec()),
        ]);

        let mut i2c = Mock::new(&traffic);
        let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
        let mut sensor = blocking::Lps25h::new(i2c.clone(), delay.clone(), address);
        assert_eq!(sensor.address(), bits);
        sensor.init(Mode::OneShot).unwrap();
        assert_eq!(sensor.mode(), Some(Mode::OneShot));
        assert_eq!(sensor.read(), Ok(EXPECTED));
        i2c.done();
        delay.done();

        let mut i2c = Mock::new(&traffic);
        let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
        let mut sensor = asynch::Lps25h::new(i2c.clone(), delay.clone(), address);
        block_on(sensor.init(Mode::OneShot)).unwrap();
        assert_eq!(block_on(sensor.read()), Ok(EXPECTED));
        i2c.done();
        delay.done();
    }
}

#[test]
fn continuous_read_waits_for_both_data_ready_bits() {
    let mut traffic = init_traffic(0x5C, 0xB4);
    traffic.extend([
        Transaction::write_read(0x5C, vec![0x27], vec![0x01]), // T_DA only: keep waiting
        Transaction::write_read(0x5C, vec![0x27], vec![0x03]),
        Transaction::write_read(0x5C, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = blocking::Lps25h::new(i2c.clone(), delay.clone(), Address::SENSE_HAT);
    sensor.init(Mode::Continuous(DataRate::Hz12_5)).unwrap();
    assert_eq!(sensor.read(), Ok(EXPECTED));
    i2c.done();
    delay.done();
}

#[test]
fn a_stuck_one_shot_bit_times_out_after_the_documented_polls() {
    let mut traffic = init_traffic(0x5C, 0x84);
    traffic.push(Transaction::write(0x5C, vec![0x21, 0x01]));
    for _ in 0..ONE_SHOT_MAX_POLLS {
        traffic.push(Transaction::write_read(0x5C, vec![0x21], vec![0x01]));
    }
    let mut i2c = Mock::new(&traffic);
    let delays: Vec<Delay> = (0..ONE_SHOT_MAX_POLLS)
        .map(|_| Delay::delay_ms(5))
        .collect();
    let mut delay = CheckedDelay::new(&delays);
    let mut sensor = blocking::Lps25h::new(i2c.clone(), delay.clone(), Address::SENSE_HAT);
    sensor.init(Mode::OneShot).unwrap();
    assert_eq!(sensor.read(), Err(Error::ConversionTimeout));
    i2c.done();
    delay.done();
}

#[test]
fn a_wrong_who_am_i_and_a_bus_error_stop_init() {
    let i2c = Mock::new(&[
        Transaction::write_read(0x5C, vec![0x0F], vec![0xBC]),
        Transaction::write_read(0x5C, vec![0x0F], vec![0xBD]).with_error(ErrorKind::Other),
    ]);
    let mut sensor = blocking::Lps25h::new(i2c, NoopDelay::new(), Address::SENSE_HAT);
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::UnexpectedDevice(0xBC))
    );
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::I2c(ErrorKind::Other))
    );
    assert_eq!(sensor.read(), Err(Error::NotInitialized));
    let (mut i2c, _delay) = sensor.release();
    i2c.done();
}
