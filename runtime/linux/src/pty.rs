//! Pseudo-terminal pairs: a serial line inside the machine, for tests and simulations.
//!
//! The code under test opens the slave's path (`/dev/pts/N`) as it would open `/dev/ttyACM0`, with
//! [`SerialPort::open`]; the test or simulation plays the device on the master. Dropping the
//! master hangs the slave up, as unplugging a USB device does (its reader gets the
//! [hangup](crate::serial#hangup) error); a new pair, at a new path, is the device plugged in
//! again.

use std::io;
use std::path::{Path, PathBuf};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use crate::serial::{SerialPort, path_from_bytes, set_raw};

/// A pseudo-terminal: its master as a [`SerialPort`], and the path of its slave.
#[derive(Debug)]
pub struct PtyPair {
    master: SerialPort,
    slave_path: PathBuf,
}

impl PtyPair {
    /// Opens a new pseudo-terminal (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname`).
    ///
    /// The master is opened like a serial port (`O_RDWR | O_NOCTTY | O_CLOEXEC`, then
    /// non-blocking) and the line is put in raw mode at once: on Linux the master's termios calls
    /// set the slave's line discipline, which processes both directions. So every byte value
    /// passes unchanged both ways, even when the master writes before anyone opens the slave
    /// (those bytes wait in the slave's input, and are not echoed back to the master).
    ///
    /// Must be called within a tokio runtime with I/O enabled, like [`SerialPort::open`].
    pub fn open() -> io::Result<PtyPair> {
        let fd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("openpt: {e}")))?;
        rustix::io::ioctl_fionbio(&fd, true)?;
        grantpt(&fd)?;
        unlockpt(&fd)?;
        let slave_path = path_from_bytes(ptsname(&fd, Vec::new())?.into_bytes());
        set_raw(&fd)?;
        let name = format!("pty master of {}", slave_path.display());
        let master = SerialPort::from_fd(fd, PathBuf::from("/dev/ptmx"), name)?;
        Ok(PtyPair { master, slave_path })
    }

    /// The master: what it writes, the slave's reader reads, and the other way round.
    pub fn master(&self) -> &SerialPort {
        &self.master
    }

    /// The slave's path, for the code under test to open with [`SerialPort::open`].
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The master and the slave's path. Dropping the master hangs the slave up.
    pub fn into_parts(self) -> (SerialPort, PathBuf) {
        (self.master, self.slave_path)
    }
}
