//! The exact I2C traffic of the async driver, against `embedded-hal-mock`.
//!
//! The driver uses `write_read` for every register read, so the expectations are
//! `Transaction::write_read` (the mock does not route `write_read` through `transaction`).

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as Delay};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_lps25h::asynch::Lps25h;
use sense_lps25h::{Address, DataRate, Error, Measurement, Mode, ONE_SHOT_MAX_POLLS};

const ADDR: u8 = 0x5C;

/// PRESS_OUT = 0x3F_54_00 = 4 150 272 → / 4096 = 1013.25 hPa;
/// TEMP_OUT = 0xD5D0 = −10 800 → 42.5 − 10 800 / 480 = 20.0 °C.
const OUTPUTS: [u8; 5] = [0x00, 0x54, 0x3F, 0xD0, 0xD5];
const EXPECTED: Measurement = Measurement {
    pressure_hpa: 1013.25,
    temperature_c: 20.0,
};

fn init_traffic(ctrl_reg1: u8) -> Vec<Transaction> {
    vec![
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBD]),
        Transaction::write(ADDR, vec![0x10, 0x05]),
        Transaction::write(ADDR, vec![0x21, 0x00]),
        Transaction::write(ADDR, vec![0x20, ctrl_reg1]),
    ]
}

#[test]
fn init_checks_the_id_and_configures_each_mode() {
    for (mode, ctrl_reg1) in [
        (Mode::OneShot, 0x84),
        (Mode::Continuous(DataRate::Hz1), 0x94),
        (Mode::Continuous(DataRate::Hz7), 0xA4),
        (Mode::Continuous(DataRate::Hz12_5), 0xB4),
        (Mode::Continuous(DataRate::Hz25), 0xC4),
    ] {
        let mut i2c = Mock::new(&init_traffic(ctrl_reg1));
        let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
        block_on(sensor.init(mode)).unwrap();
        assert_eq!(sensor.mode(), Some(mode));
        i2c.done();
    }
}

#[test]
fn one_shot_read_triggers_polls_ctrl_reg2_and_reads_five_bytes() {
    let mut traffic = init_traffic(0x84);
    traffic.extend([
        Transaction::write(ADDR, vec![0x21, 0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x00]),
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = Lps25h::new(i2c.clone(), delay.clone(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    assert_eq!(block_on(sensor.read()), Ok(EXPECTED));
    i2c.done();
    delay.done();
}

#[test]
fn continuous_read_waits_for_both_data_ready_bits() {
    let mut traffic = init_traffic(0xC4);
    traffic.extend([
        Transaction::write_read(ADDR, vec![0x27], vec![0x00]),
        Transaction::write_read(ADDR, vec![0x27], vec![0x02]), // P_DA only: keep waiting
        Transaction::write_read(ADDR, vec![0x27], vec![0x33]), // both, with overrun flags
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5), Delay::delay_ms(5)]);
    let mut sensor = Lps25h::new(i2c.clone(), delay.clone(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::Continuous(DataRate::Hz25))).unwrap();
    assert_eq!(block_on(sensor.read()), Ok(EXPECTED));
    i2c.done();
    delay.done();
}

#[test]
fn a_negative_temperature_reads_below_zero() {
    let mut traffic = init_traffic(0x84);
    traffic.extend([
        Transaction::write(ADDR, vec![0x21, 0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x00]),
        // 0x3F_F0_00 → 1023.0 hPa; 0xA6F0 = −22 800 → 42.5 − 47.5 = −5.0 °C.
        Transaction::write_read(ADDR, vec![0xA8], vec![0x00, 0xF0, 0x3F, 0xF0, 0xA6]),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    assert_eq!(
        block_on(sensor.read()),
        Ok(Measurement {
            pressure_hpa: 1023.0,
            temperature_c: -5.0
        })
    );
    i2c.done();
}

#[test]
fn a_wrong_who_am_i_stops_init_and_leaves_the_driver_uninitialised() {
    // 0xBC is the HTS221: a board with the two addresses swapped.
    let mut i2c = Mock::new(&[Transaction::write_read(ADDR, vec![0x0F], vec![0xBC])]);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
    let err = block_on(sensor.init(Mode::OneShot)).unwrap_err();
    assert_eq!(err, Error::UnexpectedDevice(0xBC));
    assert_eq!(err.to_string(), "LPS25H: WHO_AM_I is 0xBC, expected 0xBD");
    assert_eq!(block_on(sensor.read()), Err(Error::NotInitialized));
    i2c.done();
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
    let mut sensor = Lps25h::new(i2c.clone(), delay.clone(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    let err = block_on(sensor.read()).unwrap_err();
    assert_eq!(err, Error::ConversionTimeout);
    assert_eq!(
        err.to_string(),
        "LPS25H: conversion did not complete (ONE_SHOT bit stuck or no data ready)"
    );
    i2c.done();
    delay.done();
}

#[test]
fn continuous_mode_without_data_times_out_after_two_periods() {
    let mode = Mode::Continuous(DataRate::Hz25);
    let mut traffic = init_traffic(0xC4);
    for _ in 0..mode.max_polls() {
        traffic.push(Transaction::write_read(ADDR, vec![0x27], vec![0x01]));
    }
    let mut i2c = Mock::new(&traffic);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(mode)).unwrap();
    assert_eq!(block_on(sensor.read()), Err(Error::ConversionTimeout));
    i2c.done();
}

#[test]
fn read_before_init_touches_nothing() {
    let mut i2c = Mock::new(&[]);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
    let err = block_on(sensor.read()).unwrap_err();
    assert_eq!(err, Error::NotInitialized);
    assert_eq!(err.to_string(), "LPS25H: read before init");
    i2c.done();
}

#[test]
fn bus_errors_are_passed_through() {
    let mut traffic = init_traffic(0x84);
    traffic.push(Transaction::write(ADDR, vec![0x21, 0x01]).with_error(ErrorKind::Other));
    let mut i2c = Mock::new(&traffic);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::SENSE_HAT);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    let err = block_on(sensor.read()).unwrap_err();
    assert_eq!(err, Error::I2c(ErrorKind::Other));
    assert!(err.to_string().starts_with("LPS25H: I2C error: "), "{err}");
    i2c.done();
}

#[test]
fn release_hands_back_the_bus_and_delay() {
    let i2c = Mock::new(&[]);
    let sensor = Lps25h::new(i2c, NoopDelay::new(), Address::SENSE_HAT);
    let (mut i2c, _delay) = sensor.release();
    i2c.done();
}

#[test]
fn with_sa0_high_every_transfer_goes_to_0x5d() {
    let traffic: Vec<Transaction> = [
        Transaction::write_read(0x5D, vec![0x0F], vec![0xBD]),
        Transaction::write(0x5D, vec![0x10, 0x05]),
        Transaction::write(0x5D, vec![0x21, 0x00]),
        Transaction::write(0x5D, vec![0x20, 0x84]),
        Transaction::write(0x5D, vec![0x21, 0x01]),
        Transaction::write_read(0x5D, vec![0x21], vec![0x00]),
        Transaction::write_read(0x5D, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]
    .into();
    let mut i2c = Mock::new(&traffic);
    let mut sensor = Lps25h::new(i2c.clone(), NoopDelay::new(), Address::Sa0High);
    assert_eq!(sensor.address(), 0x5D);
    block_on(sensor.init(Mode::OneShot)).unwrap();
    assert_eq!(block_on(sensor.read()), Ok(EXPECTED));
    i2c.done();
}

#[test]
fn the_sense_hat_address_is_sa0_low() {
    let i2c = Mock::new(&[]);
    let sensor = Lps25h::new(i2c, NoopDelay::new(), Address::SENSE_HAT);
    assert_eq!(sensor.address(), 0x5C);
    assert_eq!(sensor.address(), sense_lps25h::ADDRESS);
    assert_eq!(sensor.address(), sense_lps25h::ADDRESS_SA0_LOW);
    let (mut i2c, _delay) = sensor.release();
    i2c.done();
}
