//! The blocking driver (`blocking::Hts221`, on embedded-hal 1.0): the same I2C traffic as the async
//! one in `transactions.rs`, against `embedded-hal-mock`. Both are generated from one source; these
//! tests catch a blocking variant that lost a step. (`sim_blocking.rs` runs it against the model.)

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as Delay};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_hts221::{DataRate, Error, Measurement, Mode, ONE_SHOT_MAX_POLLS, asynch, blocking};

const ADDR: u8 = 0x5F;

/// The registers and outputs worked by hand in `transactions.rs`: 28.75 °C and 46.75 %RH.
const CALIBRATION: [u8; 16] = [
    0x34, 0x87, 0xA8, 0x24, 0x00, 0xC4, 0x70, 0xED, 0x00, 0x00, 0xF4, 0x15, 0xFB, 0xFF, 0xC3, 0x03,
];
const OUTPUTS: [u8; 4] = [0xB2, 0x01, 0xDF, 0x01];

fn init_traffic(ctrl_reg1: u8) -> Vec<Transaction> {
    vec![
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBC]),
        Transaction::write_read(ADDR, vec![0x30 | 0x80], CALIBRATION.to_vec()),
        Transaction::write(ADDR, vec![0x10, 0x1B]),
        Transaction::write(ADDR, vec![0x20, ctrl_reg1]),
    ]
}

fn assert_outputs(m: Measurement) {
    assert!((m.temperature_c - 28.75).abs() < 1e-4, "{m:?}");
    assert!((m.humidity_percent - 46.75).abs() < 1e-4, "{m:?}");
}

#[test]
fn one_shot_init_and_read_are_the_async_drivers_traffic() {
    let mut traffic = init_traffic(0x84);
    traffic.extend([
        Transaction::write(ADDR, vec![0x21, 0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x00]),
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);

    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = blocking::Hts221::new(i2c.clone(), delay.clone());
    sensor.init(Mode::OneShot).unwrap();
    assert_eq!(sensor.mode(), Some(Mode::OneShot));
    let blocking_reading = sensor.read().unwrap();
    assert_outputs(blocking_reading);
    i2c.done();
    delay.done();

    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = asynch::Hts221::new(i2c.clone(), delay.clone());
    block_on(sensor.init(Mode::OneShot)).unwrap();
    assert_eq!(block_on(sensor.read()), Ok(blocking_reading));
    i2c.done();
    delay.done();
}

#[test]
fn continuous_read_waits_for_both_data_ready_bits() {
    let mut traffic = init_traffic(0x86);
    traffic.extend([
        Transaction::write_read(ADDR, vec![0x27], vec![0x02]), // H_DA only: keep waiting
        Transaction::write_read(ADDR, vec![0x27], vec![0x03]),
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = blocking::Hts221::new(i2c.clone(), delay.clone());
    sensor.init(Mode::Continuous(DataRate::Hz7)).unwrap();
    assert_outputs(sensor.read().unwrap());
    i2c.done();
    delay.done();
}

#[test]
fn a_stuck_one_shot_bit_times_out_after_the_documented_polls() {
    let mut traffic = init_traffic(0x84);
    traffic.push(Transaction::write(ADDR, vec![0x21, 0x01]));
    for _ in 0..ONE_SHOT_MAX_POLLS {
        traffic.push(Transaction::write_read(ADDR, vec![0x21], vec![0x01]));
    }
    let mut i2c = Mock::new(&traffic);
    let delays: Vec<Delay> = (0..ONE_SHOT_MAX_POLLS)
        .map(|_| Delay::delay_ms(5))
        .collect();
    let mut delay = CheckedDelay::new(&delays);
    let mut sensor = blocking::Hts221::new(i2c.clone(), delay.clone());
    sensor.init(Mode::OneShot).unwrap();
    assert_eq!(sensor.read(), Err(Error::ConversionTimeout));
    i2c.done();
    delay.done();
}

#[test]
fn a_wrong_who_am_i_and_a_bus_error_stop_init() {
    let i2c = Mock::new(&[
        Transaction::write_read(ADDR, vec![0x0F], vec![0x12]),
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBC]).with_error(ErrorKind::Other),
    ]);
    let mut sensor = blocking::Hts221::new(i2c, NoopDelay::new());
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::UnexpectedDevice(0x12))
    );
    assert_eq!(
        sensor.init(Mode::OneShot),
        Err(Error::I2c(ErrorKind::Other))
    );
    assert_eq!(sensor.read(), Err(Error::NotInitialized));
    let (mut i2c, _delay) = sensor.release();
    i2c.done();
}
