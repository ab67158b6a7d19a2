//! The exact bus traffic of the async driver against `embedded-hal-mock`.

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTx};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use futures_executor::block_on;
use sense_ledmatrix::asynch::{PolledStick, SenseHatMatrix};
use sense_ledmatrix::*;

/// Byte index of colour `colour` (0 R, 1 G, 2 B) of pixel (`x`, `y`), by the reference layout.
fn at(x: usize, y: usize, colour: usize) -> usize {
    y * 24 + colour * 8 + x
}

fn event(direction: Direction, action: Action) -> JoystickEvent {
    JoystickEvent { direction, action }
}
// Exact bus traffic (embedded-hal-mock)
// ---------------------------------------------------------------------------------------------

#[test]
fn init_checks_who_am_i_and_returns_the_version() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF0], vec![b's']),
        Transaction::write_read(ADDRESS, vec![0xF1], vec![0x02]),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(block_on(matrix.init()), Ok(0x02));
    i2c.done();
}

#[test]
fn init_refuses_another_chip() {
    let expectations = [Transaction::write_read(ADDRESS, vec![0xF0], vec![0xBC])];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    let err = block_on(matrix.init()).unwrap_err();
    assert_eq!(err, Error::UnexpectedDevice(0xBC));
    assert_eq!(
        format!("{err}"),
        "LED matrix: WHO_AM_I is 0xbc, expected 0x73 ('s')"
    );
    i2c.done();
}

#[test]
fn write_frame_is_one_193_byte_write() {
    let mut frame = Frame::BLACK;
    frame.set(1, 0, Rgb::RED);
    frame.set(2, 3, Rgb::new(0, 128, 0));
    frame.set(7, 7, Rgb::BLUE);
    let mut want = vec![0u8; 193];
    want[0] = 0x00;
    want[1 + at(1, 0, 0)] = 0x1F;
    want[1 + at(2, 3, 1)] = 0x08;
    want[1 + at(7, 7, 2)] = 0x1F;
    let mut low = want.clone();
    low[1 + at(1, 0, 0)] = 0x0A;
    low[1 + at(2, 3, 1)] = 0x03;
    low[1 + at(7, 7, 2)] = 0x0A;

    let expectations = [
        Transaction::write(ADDRESS, want),
        Transaction::write(ADDRESS, low),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert!(!matrix.low_light());
    block_on(matrix.write_frame(&frame)).unwrap();
    matrix.set_low_light(true);
    assert!(matrix.low_light());
    assert_eq!(matrix.gamma(), &gamma::LOW_LIGHT);
    block_on(matrix.write_frame(&frame)).unwrap();
    i2c.done();
}

#[test]
fn show_turns_the_picture_for_the_rotation() {
    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::RED);
    // Upside down: the drawn top-left is the physical bottom-right.
    let mut want = vec![0u8; 193];
    want[1 + at(7, 7, 0)] = 0x1F;
    let expectations = [Transaction::write(ADDRESS, want)];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    block_on(matrix.show(&frame, Rotation::Deg180)).unwrap();
    i2c.done();
}

#[test]
fn read_keys_reads_register_f2() {
    let expectations = [Transaction::write_read(ADDRESS, vec![0xF2], vec![0b0_1001])];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    let keys = block_on(matrix.read_keys()).unwrap();
    assert_eq!(keys, Keys(Keys::DOWN | Keys::ENTER));
    i2c.done();
}

#[test]
fn read_frame_bytes_reads_192_bytes_from_0() {
    let stored: Vec<u8> = (0..192).map(|i| (i % 32) as u8).collect();
    let expectations = [Transaction::write_read(ADDRESS, vec![0x00], stored.clone())];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(
        block_on(matrix.read_frame_bytes()).unwrap().as_slice(),
        stored
    );
    i2c.done();
}

#[test]
fn bus_errors_are_reported_as_i2c_errors() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF0], vec![0]).with_error(ErrorKind::Other),
        Transaction::write(ADDRESS, vec![0; 193]).with_error(ErrorKind::Other),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut matrix = SenseHatMatrix::new(i2c.clone());
    assert_eq!(block_on(matrix.init()), Err(Error::I2c(ErrorKind::Other)));
    let err = block_on(matrix.write_frame(&Frame::BLACK)).unwrap_err();
    assert_eq!(
        format!("{err}"),
        format!("LED matrix: I2C error: {}", ErrorKind::Other)
    );
    i2c.done();
}

#[test]
fn set_gamma_clamps_to_five_bits() {
    let i2c = Mock::new(&[]);
    let mut matrix = SenseHatMatrix::new(i2c);
    matrix.set_gamma(&[40; 32]);
    assert_eq!(matrix.gamma(), &[31; 32]);
    assert!(!matrix.low_light());
    matrix.set_low_light(false);
    assert_eq!(matrix.gamma(), &gamma::DEFAULT);
    matrix.release().done();
}

#[test]
fn polled_stick_waits_between_polls_and_reports_changes() {
    let keys = |v: u8| Transaction::write_read(ADDRESS, vec![0xF2], vec![v]);
    let expectations = [
        keys(0),          // first poll, no wait
        keys(Keys::UP),   // after 20 ms: pressed
        keys(Keys::UP),   // after 20 ms: no change
        keys(Keys::LEFT), // after 20 ms: two changes in one poll
    ];
    let mut i2c = Mock::new(&expectations);
    let mut delay = CheckedDelay::new(&[
        DelayTx::async_delay_ms(20),
        DelayTx::async_delay_ms(20),
        DelayTx::async_delay_ms(20),
    ]);
    let mut stick = PolledStick::new(i2c.clone(), delay.clone(), 20);
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Up, Action::Pressed))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Up, Action::Released))
    );
    // The second change of that poll comes without another read or wait.
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Left, Action::Pressed))
    );
    assert_eq!(stick.keys(), Keys(Keys::LEFT));
    i2c.done();
    delay.done();
}

#[test]
fn polled_stick_returns_read_errors_and_goes_on() {
    let expectations = [
        Transaction::write_read(ADDRESS, vec![0xF2], vec![0]).with_error(ErrorKind::Other),
        Transaction::write_read(ADDRESS, vec![0xF2], vec![Keys::DOWN]),
    ];
    let mut i2c = Mock::new(&expectations);
    let mut stick = PolledStick::new(i2c.clone(), NoopDelay::new(), 10);
    assert_eq!(
        block_on(stick.next_event()),
        Err(Error::I2c(ErrorKind::Other))
    );
    assert_eq!(
        block_on(stick.next_event()),
        Ok(event(Direction::Down, Action::Pressed))
    );
    drop(stick);
    i2c.done();
}

// ---------------------------------------------------------------------------------------------
