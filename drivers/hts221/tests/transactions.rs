//! The exact I2C traffic of the async driver, against `embedded-hal-mock`.
//!
//! The driver uses `write_read` for every register read, so the expectations are
//! `Transaction::write_read` (the mock does not route `write_read` through `transaction`).

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as Delay};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_hts221::asynch::Hts221;
use sense_hts221::{DataRate, Error, Mode, ONE_SHOT_MAX_POLLS};

const ADDR: u8 = 0x5F;

/// Registers 30h..3Fh of a plausible chip; worked by hand in `src/calibration.rs`:
/// H0 = 26.0 %RH at H0_T0_OUT = −4752, H1 = 67.5 %RH at H1_T0_OUT = 5620,
/// T0 = 21.0 °C at T0_OUT = −5, T1 = 36.5 °C at T1_OUT = 963.
const CALIBRATION: [u8; 16] = [
    0x34, 0x87, 0xA8, 0x24, 0x00, 0xC4, 0x70, 0xED, 0x00, 0x00, 0xF4, 0x15, 0xFB, 0xFF, 0xC3, 0x03,
];

/// H_OUT = 434 = 0x01B2 → 26.0 + (434 + 4752) · 41.5 / 10 372 = 46.75 %RH;
/// T_OUT = 479 = 0x01DF → 21.0 + (479 + 5) · 15.5 / 968 = 28.75 °C.
const OUTPUTS: [u8; 4] = [0xB2, 0x01, 0xDF, 0x01];

fn init_traffic(ctrl_reg1: u8) -> Vec<Transaction> {
    vec![
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBC]),
        Transaction::write_read(ADDR, vec![0x30 | 0x80], CALIBRATION.to_vec()),
        Transaction::write(ADDR, vec![0x10, 0x1B]),
        Transaction::write(ADDR, vec![0x20, ctrl_reg1]),
    ]
}

fn assert_outputs(m: sense_hts221::Measurement) {
    assert!((m.temperature_c - 28.75).abs() < 1e-4, "{m:?}");
    assert!((m.humidity_percent - 46.75).abs() < 1e-4, "{m:?}");
}

#[test]
fn init_checks_the_id_reads_the_calibration_and_powers_up_in_one_shot_mode() {
    let mut i2c = Mock::new(&init_traffic(0x84));
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    block_on(sensor.init(Mode::OneShot)).unwrap();
    let cal = sensor.calibration().expect("read during init");
    assert_eq!((cal.t0_degc_x8(), cal.t1_degc_x8()), (168, 292));
    assert_eq!(sensor.mode(), Some(Mode::OneShot));
    i2c.done();
}

#[test]
fn init_sets_each_continuous_rate() {
    for (rate, ctrl_reg1) in [
        (DataRate::Hz1, 0x85),
        (DataRate::Hz7, 0x86),
        (DataRate::Hz12_5, 0x87),
    ] {
        let mut i2c = Mock::new(&init_traffic(ctrl_reg1));
        let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
        block_on(sensor.init(Mode::Continuous(rate))).unwrap();
        i2c.done();
    }
}

#[test]
fn one_shot_read_triggers_polls_ctrl_reg2_and_reads_four_bytes() {
    let mut traffic = init_traffic(0x84);
    traffic.extend([
        Transaction::write(ADDR, vec![0x21, 0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x01]),
        Transaction::write_read(ADDR, vec![0x21], vec![0x00]),
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5)]);
    let mut sensor = Hts221::new(i2c.clone(), delay.clone());
    block_on(sensor.init(Mode::OneShot)).unwrap();
    assert_outputs(block_on(sensor.read()).unwrap());
    i2c.done();
    delay.done();
}

#[test]
fn continuous_read_waits_for_both_data_ready_bits() {
    let mut traffic = init_traffic(0x85);
    traffic.extend([
        Transaction::write_read(ADDR, vec![0x27], vec![0x00]),
        Transaction::write_read(ADDR, vec![0x27], vec![0x01]), // T_DA only: keep waiting
        Transaction::write_read(ADDR, vec![0x27], vec![0x03]),
        Transaction::write_read(ADDR, vec![0x28 | 0x80], OUTPUTS.to_vec()),
    ]);
    let mut i2c = Mock::new(&traffic);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(5), Delay::delay_ms(5)]);
    let mut sensor = Hts221::new(i2c.clone(), delay.clone());
    block_on(sensor.init(Mode::Continuous(DataRate::Hz1))).unwrap();
    assert_outputs(block_on(sensor.read()).unwrap());
    i2c.done();
    delay.done();
}

#[test]
fn a_wrong_who_am_i_stops_init_and_leaves_the_driver_uninitialised() {
    let mut i2c = Mock::new(&[Transaction::write_read(ADDR, vec![0x0F], vec![0x12])]);
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    let err = block_on(sensor.init(Mode::OneShot)).unwrap_err();
    assert_eq!(err, Error::UnexpectedDevice(0x12));
    assert_eq!(err.to_string(), "HTS221: WHO_AM_I is 0x12, expected 0xBC");
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
    let mut sensor = Hts221::new(i2c.clone(), delay.clone());
    block_on(sensor.init(Mode::OneShot)).unwrap();
    let err = block_on(sensor.read()).unwrap_err();
    assert_eq!(err, Error::ConversionTimeout);
    assert_eq!(
        err.to_string(),
        "HTS221: conversion did not complete (ONE_SHOT bit stuck or no data ready)"
    );
    i2c.done();
    delay.done();
}

#[test]
fn continuous_mode_without_data_times_out_after_two_periods() {
    let mode = Mode::Continuous(DataRate::Hz12_5);
    assert_eq!(mode.max_polls(), 33, "2 × 80 ms / 5 ms + 1");
    let mut traffic = init_traffic(0x87);
    for _ in 0..mode.max_polls() {
        traffic.push(Transaction::write_read(ADDR, vec![0x27], vec![0x02]));
    }
    let mut i2c = Mock::new(&traffic);
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    block_on(sensor.init(mode)).unwrap();
    assert_eq!(block_on(sensor.read()), Err(Error::ConversionTimeout));
    i2c.done();
}

#[test]
fn read_before_init_touches_nothing() {
    let mut i2c = Mock::new(&[]);
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    let err = block_on(sensor.read()).unwrap_err();
    assert_eq!(err, Error::NotInitialized);
    assert_eq!(err.to_string(), "HTS221: read before init");
    assert!(sensor.calibration().is_none());
    i2c.done();
}

#[test]
fn unusable_calibration_is_reported() {
    let mut i2c = Mock::new(&[
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBC]),
        Transaction::write_read(ADDR, vec![0xB0], vec![0; 16]),
    ]);
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    assert_eq!(
        block_on(sensor.init(Mode::OneShot)),
        Err(Error::BadCalibration)
    );
    i2c.done();
}

#[test]
fn bus_errors_are_passed_through() {
    let mut i2c = Mock::new(&[
        Transaction::write_read(ADDR, vec![0x0F], vec![0xBC]).with_error(ErrorKind::Other)
    ]);
    let mut sensor = Hts221::new(i2c.clone(), NoopDelay::new());
    let err = block_on(sensor.init(Mode::OneShot)).unwrap_err();
    assert_eq!(err, Error::I2c(ErrorKind::Other));
    assert!(err.to_string().starts_with("HTS221: I2C error: "), "{err}");
    i2c.done();
}

#[test]
fn release_hands_back_the_bus_and_delay() {
    let i2c = Mock::new(&[]);
    let sensor = Hts221::new(i2c, NoopDelay::new());
    let (mut i2c, _delay) = sensor.release();
    i2c.done();
}
