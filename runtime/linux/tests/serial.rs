//! Serial ports on pseudo-terminals: every byte value both ways, hangups, cancel safety, errors.
//!
//! Nothing here sleeps: each test waits for the bytes or the error it expects, with a generous
//! timeout only as a bound on failure.

use std::future::{Future, poll_fn};
use std::io;
use std::path::Path;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use sense_linux::serial::Hangup;
use sense_linux::{PtyPair, SerialPort, is_hangup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// How long a test waits for what it expects before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// Reads exactly `n` bytes from `port`, in whatever pieces they come.
async fn read_n(port: &SerialPort, n: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(n);
    let mut buf = [0u8; 300];
    while got.len() < n {
        let want = (n - got.len()).min(buf.len());
        let read = timeout(PATIENCE, port.read(&mut buf[..want]))
            .await
            .unwrap_or_else(|_| panic!("timed out with {} of {n} bytes", got.len()))
            .expect("read");
        assert!(read > 0);
        got.extend_from_slice(&buf[..read]);
    }
    got
}

/// Every byte value, four times, each time in another order.
fn all_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for round in 0..4u8 {
        bytes.extend((0..=255u8).map(|b| b.wrapping_mul(1 + 2 * round).wrapping_add(round)));
    }
    bytes
}

/// The first result of polling `future` once.
async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let mut future = Some(future);
    poll_fn(|cx| Poll::Ready(future.take().unwrap().poll(cx))).await
}

#[tokio::test]
async fn every_byte_value_passes_unchanged_both_ways() {
    let pty = PtyPair::open().unwrap();
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    let master = pty.master();
    let bytes = all_bytes();
    // The sensitive ones, for the record: NUL, LF, CR, ^C, XON, XOFF, DEL, ^D, ^Z, ^\.
    for b in [0x00, 0x0a, 0x0d, 0x03, 0x11, 0x13, 0x7f, 0x04, 0x1a, 0x1c] {
        assert!(bytes.contains(&b));
    }

    master.write_all(&bytes).await.unwrap();
    assert_eq!(read_n(&slave, bytes.len()).await, bytes, "master to slave");

    slave.write_all(&bytes).await.unwrap();
    assert_eq!(read_n(master, bytes.len()).await, bytes, "slave to master");

    // Nothing came back to the writer: the next byte each side reads is the marker.
    master.write_all(&[0x42]).await.unwrap();
    assert_eq!(read_n(&slave, 1).await, [0x42]);
    slave.write_all(&[0x24]).await.unwrap();
    assert_eq!(read_n(master, 1).await, [0x24]);
}

#[tokio::test]
async fn bytes_the_master_writes_before_the_slave_opens_wait_unchanged_and_are_not_echoed() {
    let pty = PtyPair::open().unwrap();
    let bytes = all_bytes();
    pty.master().write_all(&bytes).await.unwrap();

    let slave = SerialPort::open(pty.slave_path()).unwrap();
    assert_eq!(read_n(&slave, bytes.len()).await, bytes);
    // Had the line echoed them (not raw before the slave's open), the master would read them
    // before the marker.
    slave.write_all(b"!").await.unwrap();
    assert_eq!(read_n(pty.master(), 1).await, b"!");
}

#[tokio::test]
async fn the_tokio_traits_move_bytes_too() {
    let pty = PtyPair::open().unwrap();
    let (mut master, path) = pty.into_parts();
    let mut slave = SerialPort::open(&path).unwrap();
    let bytes = all_bytes();
    master.write_all(&bytes).await.unwrap();
    master.flush().await.unwrap();
    let mut got = vec![0u8; bytes.len()];
    timeout(PATIENCE, slave.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, bytes);
}

#[tokio::test]
async fn dropping_the_master_hangs_the_slave_up() {
    let pty = PtyPair::open().unwrap();
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    let (master, path) = pty.into_parts();
    master.write_all(b"last words").await.unwrap();
    assert_eq!(read_n(&slave, 10).await, b"last words");

    let mut buf = [0u8; 16];
    let error = {
        let mut read = pin!(slave.read(&mut buf));
        assert!(
            poll_once(read.as_mut()).await.is_pending(),
            "nothing to read yet"
        );
        drop(master);
        // The pending read wakes with the hangup.
        timeout(PATIENCE, read).await.unwrap().unwrap_err()
    };
    assert!(is_hangup(&error), "{error:?}");
    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    let hangup = error.get_ref().unwrap().downcast_ref::<Hangup>().unwrap();
    assert_eq!(hangup.port(), path.display().to_string());
    assert!(
        error.to_string().contains(&*path.to_string_lossy()),
        "{error}"
    );

    // And stays: every later read and write fails at once, without spinning.
    for _ in 0..3 {
        let again = timeout(PATIENCE, slave.read(&mut buf)).await.unwrap();
        assert!(again.as_ref().is_err_and(is_hangup), "{again:?}");
    }
    let write = timeout(PATIENCE, slave.write_all(b"anyone?"))
        .await
        .unwrap();
    assert!(write.as_ref().is_err_and(is_hangup), "{write:?}");
    assert!(slave.is_hung_up().unwrap());
    // Through the tokio trait too: an error, not an end of file.
    let mut slave = slave;
    let via_trait = timeout(PATIENCE, AsyncReadExt::read(&mut slave, &mut buf))
        .await
        .unwrap();
    assert!(via_trait.as_ref().is_err_and(is_hangup), "{via_trait:?}");
}

#[tokio::test]
async fn a_new_pair_after_a_hangup_works_like_a_device_plugged_in_again() {
    let first = PtyPair::open().unwrap();
    let slave = SerialPort::open(first.slave_path()).unwrap();
    drop(first);
    let mut buf = [0u8; 4];
    let error = timeout(PATIENCE, slave.read(&mut buf))
        .await
        .unwrap()
        .unwrap_err();
    assert!(is_hangup(&error));
    drop(slave);

    let second = PtyPair::open().unwrap();
    let slave = SerialPort::open(second.slave_path()).unwrap();
    second.master().write_all(b"hello again").await.unwrap();
    assert_eq!(read_n(&slave, 11).await, b"hello again");
    slave.write_all(b"welcome").await.unwrap();
    assert_eq!(read_n(second.master(), 7).await, b"welcome");
}

#[tokio::test]
async fn the_master_sees_whether_anyone_has_the_slave_open() {
    let pty = PtyPair::open().unwrap();
    let master = pty.master();
    // Before the slave was ever opened: not hung up (the master may write ahead).
    assert!(!master.is_hung_up().unwrap());
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    assert!(!master.is_hung_up().unwrap());
    drop(slave);
    assert!(master.is_hung_up().unwrap());
    // Its reads now fail as a hangup.
    let mut buf = [0u8; 4];
    let error = timeout(PATIENCE, master.read(&mut buf))
        .await
        .unwrap()
        .unwrap_err();
    assert!(is_hangup(&error), "{error:?}");
    // Opened again: the line is back, and bytes pass again.
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    assert!(!master.is_hung_up().unwrap());
    slave.write_all(b"back").await.unwrap();
    assert_eq!(read_n(master, 4).await, b"back");
}

#[tokio::test]
async fn a_pending_read_dropped_loses_nothing() {
    let pty = PtyPair::open().unwrap();
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    let mut buf = [0u8; 64];

    // A read waits (registered with the reactor), the bytes arrive, and the read is dropped
    // without being polled again: they are still there for the next one.
    {
        let mut read = pin!(slave.read(&mut buf));
        assert!(poll_once(read.as_mut()).await.is_pending());
        pty.master().write_all(b"kept").await.unwrap();
    }
    assert_eq!(read_n(&slave, 4).await, b"kept");
}

#[tokio::test]
async fn reads_cancelled_over_and_over_lose_no_byte() {
    let pty = PtyPair::open().unwrap();
    let slave = SerialPort::open(pty.slave_path()).unwrap();
    let sent: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();

    let writer = async {
        for chunk in sent.chunks(97) {
            pty.master().write_all(chunk).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    let reader = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 13];
        let mut cancelled = 0u32;
        while got.len() < sent.len() {
            // The read races a yield, as the node's receive races its timers: often it loses and
            // is dropped after it registered for the fd.
            tokio::select! {
                read = slave.read(&mut buf) => got.extend_from_slice(&buf[..read.unwrap()]),
                () = tokio::task::yield_now() => cancelled += 1,
            }
        }
        (got, cancelled)
    };
    let ((), (got, cancelled)) = timeout(PATIENCE, async { tokio::join!(writer, reader) })
        .await
        .unwrap();
    assert!(
        cancelled > 0,
        "no read was cancelled: the test proves nothing"
    );
    assert_eq!(got, sent);
}

#[tokio::test]
async fn a_missing_device_is_an_error_naming_its_path() {
    let path = Path::new("/dev/ttyACM-sense-pulse-test-missing");
    let error = SerialPort::open(path).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert!(
        error.to_string().contains(&*path.to_string_lossy()),
        "{error}"
    );
    assert!(!is_hangup(&error));
}

#[tokio::test]
async fn a_file_that_is_not_a_tty_is_an_error_naming_its_path() {
    let error = SerialPort::open("/dev/null").unwrap_err();
    assert!(error.to_string().contains("/dev/null"), "{error}");
}

#[test]
fn outside_a_runtime_opening_is_an_error_not_a_panic() {
    let error = PtyPair::open().unwrap_err();
    assert!(error.to_string().contains("runtime"), "{error}");
}
