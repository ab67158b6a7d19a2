//! The blocking driver (`blocking::{SenseHatMatrix, PolledStick}`, on embedded-hal 1.0): the same
//! bus traffic as the async one in `transactions.rs`, against `embedded-hal-mock`. Both are
//! generated from one source; these tests catch a blocking variant that lost a step.

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTx};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use sense_ledmatrix::blocking::{PolledStick, SenseHatMatrix};
use sense_ledmatrix::*;

fn event(direction: Direction, action: Action) -> JoystickEvent {
    JoystickEvent { direction, action }
}

#[test]
fn init_checks_who_am_i_and_returns_the_version() {
    let mut i2c = Mock::new(&[
        Transaction::write_read(ADDRESS, vec![0xF0], vec![b's']),
        Transaction::write_read(ADDRESS, vec![0xF1], vec![0x02]),
        Transaction::write_read(ADDRESS, vec![0xF0], vec![0xBC]),
    ]);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(matrix.init(), Ok(0x02));
    assert_eq!(matrix.init(), Err(Error::UnexpectedDevice(0xBC)));
    i2c.done();
}

#[test]
fn show_is_one_193_byte_write_of_the_turned_picture() {
    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::RED);
    // Turned by 180°, the top-left pixel lands bottom-right: row 7, red, column 7.
    let mut want = vec![0u8; 193];
    want[1 + 7 * 24 + 7] = 0x1F;
    let mut i2c = Mock::new(&[Transaction::write(ADDRESS, want)]);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    matrix.show(&frame, Rotation::Deg180).unwrap();
    i2c.done();
}

#[test]
fn frame_bytes_and_keys_are_read_from_their_registers() {
    let stored: Vec<u8> = (0..192u8).map(|b| b % 32).collect();
    let i2c = Mock::new(&[
        Transaction::write_read(ADDRESS, vec![0x00], stored.clone()),
        Transaction::write_read(ADDRESS, vec![0xF2], vec![Keys::ENTER]),
        Transaction::write_read(ADDRESS, vec![0xF2], vec![0]).with_error(ErrorKind::Other),
    ]);
    let mut matrix = SenseHatMatrix::new(i2c);
    assert_eq!(matrix.read_frame_bytes().unwrap().to_vec(), stored);
    assert_eq!(matrix.read_keys(), Ok(Keys(Keys::ENTER)));
    assert_eq!(matrix.read_keys(), Err(Error::I2c(ErrorKind::Other)));
    let mut i2c = matrix.release();
    i2c.done();
}

#[test]
fn polled_stick_waits_between_polls_and_reports_changes() {
    let keys = |v: u8| Transaction::write_read(ADDRESS, vec![0xF2], vec![v]);
    let mut i2c = Mock::new(&[keys(0), keys(Keys::UP), keys(Keys::UP), keys(Keys::LEFT)]);
    let mut delay = CheckedDelay::new(&[
        DelayTx::delay_ms(20),
        DelayTx::delay_ms(20),
        DelayTx::delay_ms(20),
    ]);
    let mut stick = PolledStick::new(i2c.clone(), delay.clone(), 20);
    assert_eq!(
        stick.next_event(),
        Ok(event(Direction::Up, Action::Pressed))
    );
    assert_eq!(
        stick.next_event(),
        Ok(event(Direction::Up, Action::Released))
    );
    assert_eq!(
        stick.next_event(),
        Ok(event(Direction::Left, Action::Pressed))
    );
    assert_eq!(stick.keys(), Keys(Keys::LEFT));
    i2c.done();
    delay.done();
}

#[test]
fn poll_reads_once_without_waiting() {
    let i2c = Mock::new(&[Transaction::write_read(
        ADDRESS,
        vec![0xF2],
        vec![Keys::DOWN],
    )]);
    let mut stick = PolledStick::new(i2c, NoopDelay::new(), 50);
    assert_eq!(
        stick.poll(),
        Ok(Some(event(Direction::Down, Action::Pressed)))
    );
    let (mut i2c, _delay) = stick.release();
    i2c.done();
}
