//! `/dev/i2c-N` as an async `embedded-hal` bus.
//!
//! Linux I2C is blocking: each transaction is one `I2C_RDWR` ioctl of a few bytes at 100 kHz
//! (0.1–2 ms). [`LinuxI2c`] runs it inline, so whoever awaits it must be on an executor of its own:
//! the runtime gives the Sense HAT service its own thread, never the gateway's.
//!
//! Each driver opens its own `LinuxI2c`; the kernel serialises transfers, so no bus lock is needed.
//! When a kernel driver has bound an address (`UU` in `i2cdetect`; current Pi kernels bind the
//! LED matrix at 0x46 and the HTS221 at 0x5F), selecting it fails with `EBUSY`:
//! [`LinuxI2cError::is_busy`] says so, and the runtime switches to the kernel's own interfaces.

use std::fmt;
use std::path::{Path, PathBuf};

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use linux_embedded_hal::I2cdev;
use linux_embedded_hal::i2cdev::linux::LinuxI2CError;

/// An I2C bus device such as `/dev/i2c-1`.
pub struct LinuxI2c {
    dev: I2cdev,
    path: PathBuf,
}

impl fmt::Debug for LinuxI2c {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinuxI2c")
            .field("path", &self.path)
            .finish()
    }
}

/// An I2C failure, with the errno when the kernel gave one.
#[derive(Debug)]
pub struct LinuxI2cError {
    errno: Option<i32>,
    message: String,
    path: PathBuf,
    address: Option<u8>,
}

/// The errno values I2C drivers report (kernel `i2c/fault-codes`).
mod errno {
    use rustix::io::Errno;
    pub const EBUSY: i32 = Errno::BUSY.raw_os_error();
    pub const ENOENT: i32 = Errno::NOENT.raw_os_error();
    pub const EACCES: i32 = Errno::ACCESS.raw_os_error();
    pub const EPERM: i32 = Errno::PERM.raw_os_error();
    pub const ENXIO: i32 = Errno::NXIO.raw_os_error();
    pub const EREMOTEIO: i32 = Errno::REMOTEIO.raw_os_error();
    pub const ENODEV: i32 = Errno::NODEV.raw_os_error();
    pub const EAGAIN: i32 = Errno::AGAIN.raw_os_error();
    pub const EIO: i32 = Errno::IO.raw_os_error();
    pub const EINVAL: i32 = Errno::INVAL.raw_os_error();
}

impl LinuxI2cError {
    fn new(e: &LinuxI2CError, path: &Path, address: Option<u8>) -> Self {
        let errno = match e {
            LinuxI2CError::Errno(n) => Some(*n),
            LinuxI2CError::Io(io) => io.raw_os_error(),
        };
        LinuxI2cError {
            errno,
            message: e.to_string(),
            path: path.to_owned(),
            address,
        }
    }

    /// The address is owned by a kernel driver (`EBUSY`).
    pub fn is_busy(&self) -> bool {
        self.errno == Some(errno::EBUSY)
    }

    /// The bus device does not exist or may not be opened (I2C not enabled, no permission).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.errno,
            Some(errno::ENOENT | errno::EACCES | errno::EPERM)
        )
    }

    /// The raw errno, if any.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }
}

impl fmt::Display for LinuxI2cError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.address {
            Some(a) => format!("{} address {a:#04x}", self.path.display()),
            None => self.path.display().to_string(),
        };
        if self.is_busy() {
            write!(f, "{at} is owned by a kernel driver (EBUSY)")
        } else if self.errno == Some(errno::ENXIO) || self.errno == Some(errno::EREMOTEIO) {
            write!(f, "{at}: no device answered (NACK)")
        } else {
            write!(f, "{at}: {}", self.message)
        }
    }
}

impl std::error::Error for LinuxI2cError {}

impl embedded_hal::i2c::Error for LinuxI2cError {
    fn kind(&self) -> ErrorKind {
        // https://www.kernel.org/doc/html/latest/i2c/fault-codes.html
        match self.errno {
            Some(errno::ENXIO | errno::EREMOTEIO) => {
                ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
            }
            Some(errno::ENODEV) => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data),
            Some(errno::EAGAIN) => ErrorKind::ArbitrationLoss,
            Some(errno::EIO | errno::EINVAL) => ErrorKind::Bus,
            _ => ErrorKind::Other,
        }
    }
}

impl LinuxI2c {
    /// Opens the bus at `path` (e.g. `/dev/i2c-1`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LinuxI2cError> {
        let path = path.as_ref();
        let dev = I2cdev::new(path).map_err(|e| LinuxI2cError::new(&e, path, None))?;
        Ok(LinuxI2c {
            dev,
            path: path.to_owned(),
        })
    }
}

impl embedded_hal::i2c::ErrorType for LinuxI2c {
    type Error = LinuxI2cError;
}

impl embedded_hal_async::i2c::I2c<SevenBitAddress> for LinuxI2c {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        // Blocking, inline: see the module documentation.
        embedded_hal::i2c::I2c::transaction(&mut self.dev, address, operations)
            .map_err(|e| LinuxI2cError::new(e.inner(), &self.path, Some(address)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bus_is_reported_as_unavailable() {
        let err = LinuxI2c::open("/dev/i2c-does-not-exist").unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(err.to_string().contains("/dev/i2c-does-not-exist"), "{err}");
    }

    #[test]
    fn ebusy_is_named() {
        let e = LinuxI2cError {
            errno: Some(errno::EBUSY),
            message: "Device or resource busy".into(),
            path: "/dev/i2c-1".into(),
            address: Some(0x5F),
        };
        assert!(e.is_busy());
        assert_eq!(
            e.to_string(),
            "/dev/i2c-1 address 0x5f is owned by a kernel driver (EBUSY)"
        );
    }
}
