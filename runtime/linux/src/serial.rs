//! Serial ports (a microcontroller node's USB CDC-ACM `/dev/ttyACM0`, a pseudo-terminal's slave)
//! as async byte streams on tokio.
//!
//! [`SerialPort::open`] opens the tty with
//!
//! - `O_RDWR`: frames go both ways;
//! - `O_NOCTTY`: the port must not become the process's controlling terminal (a daemon without
//!   one would otherwise acquire it, and get `SIGHUP` when the device is unplugged);
//! - `O_NONBLOCK`: reads and writes return `EAGAIN` instead of blocking, so tokio's reactor
//!   (epoll) waits for them; the open itself does not wait for a carrier either;
//! - `O_CLOEXEC`: a child process (a helper the runtime starts) does not inherit the port and keep
//!   it open after we close it,
//!
//! and puts it in raw mode (`tcgetattr`, then `tcsetattr(TCSANOW)`):
//!
//! - `cfmakeraw`: no line editing (`ICANON`: bytes would wait for a `0x0a`), no echo (`ECHO`: the
//!   peer would read its own frames back), no signal characters (`ISIG`: `0x03` would be eaten as
//!   `SIGINT`), no CR/NL translation (`ICRNL`, `OPOST`), no XON/XOFF (`IXON`: `0x11` and `0x13`
//!   would be eaten), 8 data bits without parity;
//! - `IXOFF` and `IXANY` cleared too (with `IXOFF` the kernel itself would send `0x13`/`0x11`
//!   into the stream when its buffer fills), and `CRTSCTS` (no hardware flow control: CDC-ACM has
//!   USB's own, a pty none);
//! - `CLOCAL` (modem control lines are ignored: a missing carrier neither blocks nor hangs up the
//!   port) and `CREAD` (the receiver is on); `HUPCL` is left as it is (on by default): closing the
//!   port drops DTR, which a Pico's firmware takes as "the host closed the port" and answers with
//!   a new Hello at the next open;
//! - `VMIN = 1`, `VTIME = 0`: a non-blocking read with no data returns `EAGAIN` (tokio then waits
//!   for the fd). With `VMIN = 0` it would return 0, which cannot be told from a hangup and would
//!   make the reader spin;
//! - 115200 baud: CDC-ACM and ptys ignore the rate, a real UART would use it.
//!
//! Bytes already queued are kept (no `tcflush`): a pty's other end may have written before the
//! port was opened.
//!
//! # Hangup
//!
//! When the device goes away (a USB device unplugged, a pty's master closed) the kernel hangs the
//! tty up: reads return 0 (with `VMIN = 1`, only then) or `EIO`, writes `EIO`. [`SerialPort`]
//! turns these (and `ENXIO`, `ENODEV`) into an [`io::Error`] of kind
//! [`BrokenPipe`](io::ErrorKind::BrokenPipe) carrying a [`Hangup`]; [`is_hangup`] tells it from
//! other errors. Every later read or write fails the same way: the caller closes the port and
//! opens the path again when the device is back. A pty's master sees the same when no one has
//! its slave open any more (after someone had).
//!
//! # Cancel safety
//!
//! [`SerialPort::read`] (and [`AsyncRead`]) are cancel-safe: bytes are taken from the kernel only
//! in the poll that returns them, so a read dropped while waiting loses nothing.
//! [`SerialPort::write_all`] is not (a part may have been written).

use std::ffi::OsString;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::termios::{
    ControlModes, InputModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr,
};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The line speed set on open (ignored by CDC-ACM and ptys).
pub const BAUD_RATE: u32 = 115_200;

/// A tty (serial port or pty end) in raw mode, read and written asynchronously on tokio. See the
/// [module documentation](self) for the flags, hangups and cancel safety.
///
/// Reads and writes take `&self`: one task may read while another writes. Like tokio's split
/// halves, at most one read and one write may wait at a time (a second concurrent reader would
/// take the first one's wake-up).
#[derive(Debug)]
pub struct SerialPort {
    fd: AsyncFd<OwnedFd>,
    path: PathBuf,
    /// Names the port in errors: its path, or what a pty master is the master of.
    name: String,
}

/// The device behind a [`SerialPort`] went away: the payload of the
/// [`BrokenPipe`](io::ErrorKind::BrokenPipe) error its reads and writes then return.
#[derive(Debug)]
pub struct Hangup {
    port: String,
}

impl Hangup {
    /// The port that hung up, as its errors name it.
    pub fn port(&self) -> &str {
        &self.port
    }
}

impl fmt::Display for Hangup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hung up (the device went away or the other end closed)",
            self.port
        )
    }
}

impl std::error::Error for Hangup {}

/// Whether `error` says the port hung up: the device went away (unplugged, reset) or, for a pty,
/// the other end closed. The port is then of no more use; open the path again.
pub fn is_hangup(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
        && error.get_ref().is_some_and(|inner| inner.is::<Hangup>())
}

/// Puts the tty `fd` in raw mode (see the [module documentation](self)).
pub(crate) fn set_raw(fd: &OwnedFd) -> io::Result<()> {
    let mut termios = tcgetattr(fd)?;
    termios.make_raw();
    termios.input_modes -= InputModes::IXOFF | InputModes::IXANY;
    termios.control_modes -= ControlModes::CRTSCTS;
    termios.control_modes |= ControlModes::CLOCAL | ControlModes::CREAD;
    termios.special_codes[SpecialCodeIndex::VMIN] = 1;
    termios.special_codes[SpecialCodeIndex::VTIME] = 0;
    termios.set_speed(BAUD_RATE)?;
    tcsetattr(fd, OptionalActions::Now, &termios)?;
    Ok(())
}

/// `error` with what was being done and to which path, keeping its kind.
fn about(error: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{doing} {}: {error}", path.display()))
}

impl SerialPort {
    /// Opens the tty at `path` (`/dev/ttyACM0`, a pty's `/dev/pts/N`) and puts it in raw mode.
    ///
    /// Must be called within a tokio runtime with I/O enabled (the port registers with its
    /// reactor); the error says so otherwise. Errors name the path and keep the OS error's kind
    /// ([`NotFound`](io::ErrorKind::NotFound) for a missing device,
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied) without the `dialout` group).
    pub fn open(path: impl AsRef<Path>) -> io::Result<SerialPort> {
        let path = path.as_ref();
        let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty())
            .map_err(|e| about(e.into(), "cannot open serial port", path))?;
        set_raw(&fd).map_err(|e| about(e, "cannot put in raw mode serial port", path))?;
        SerialPort::from_fd(fd, path.to_path_buf(), path.display().to_string())
            .map_err(|e| about(e, "cannot watch serial port", path))
    }

    /// A tty already opened non-blocking and set up, named `name` in errors.
    pub(crate) fn from_fd(fd: OwnedFd, path: PathBuf, name: String) -> io::Result<SerialPort> {
        tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        // tokio 1.54 deprecates the safe constructor in favour of an `unsafe` one (the workspace
        // denies `unsafe`), because an arbitrary `AsRawFd` could hand out another fd later or
        // close it under the reactor. An `OwnedFd` owned by the `AsyncFd` does neither: it
        // returns the same fd until the `AsyncFd` drops it, which is `register`'s contract.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(SerialPort { fd, path, name })
    }

    /// The path the port was opened at (`/dev/ptmx` for a pty's master).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Some bytes (at least one) into `buf`, as they arrive; 0 only for an empty `buf`.
    /// Cancel-safe. A hangup is an error for which [`is_hangup`] holds.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_slice(cx, buf)).await
    }

    /// Writes some of `buf` (at least one byte unless it is empty); how many.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_slice(cx, buf)).await
    }

    /// Writes all of `buf`. Not cancel-safe: when dropped, a part may have been written.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Whether the line is hung up now (`POLLHUP`): the device went away, or, for a pty's master,
    /// no one has the slave open (after someone had). Does not wait; consumes nothing.
    pub fn is_hung_up(&self) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.fd.get_ref(), PollFlags::IN)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        rustix::event::poll(&mut fds, Some(&now))?;
        Ok(fds[0].revents().contains(PollFlags::HUP))
    }

    fn hangup(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            Hangup {
                port: self.name.clone(),
            },
        )
    }

    /// A read's or write's error: a hangup for the errnos a hung-up or vanished tty gives.
    fn error(&self, error: io::Error) -> io::Error {
        match Errno::from_io_error(&error) {
            Some(Errno::IO | Errno::NXIO | Errno::NODEV) => self.hangup(),
            _ => error,
        }
    }

    fn poll_read_slice(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            // On EAGAIN (`WouldBlock`) `try_io` clears the readiness, and the loop waits for the
            // next event.
            let attempt = guard.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut *buf)?));
            if let Ok(result) = attempt {
                return Poll::Ready(match result {
                    // With VMIN = 1 a tty returns 0 only when hung up.
                    Ok(0) => Err(self.hangup()),
                    Ok(n) => Ok(n),
                    Err(e) => Err(self.error(e)),
                });
            }
        }
    }

    fn poll_write_slice(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let attempt = guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), buf)?));
            if let Ok(result) = attempt {
                return Poll::Ready(match result {
                    Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => Ok(n),
                    Err(e) => Err(self.error(e)),
                });
            }
        }
    }

    fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(self.poll_read_slice(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// `AsyncRead` never reports end of file: a hangup is an error (see [`is_hangup`]).
impl AsyncRead for SerialPort {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_buf(cx, buf)
    }
}

impl AsyncRead for &SerialPort {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_buf(cx, buf)
    }
}

/// Flushing and shutting down do nothing: a write is handed to the kernel whole.
impl AsyncWrite for SerialPort {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for &SerialPort {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A path from the bytes `ptsname` returns.
pub(crate) fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}
