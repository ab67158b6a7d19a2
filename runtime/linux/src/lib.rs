//! # sense-linux
//!
//! The Linux side of the HAL: the real implementations of `sense-hal`'s traits that the runtime
//! binds drivers and sources to.
//!
//! - [`HostFs`]: `/proc` and `/sys` text under configurable roots (a container sees the host's at
//!   `/host/proc` and `/host/sys`), and file-system usage through `statvfs`.
//! - [`TokioDelay`]: `DelayNs` on the tokio timer.
//! - [`LinuxI2c`]: `/dev/i2c-N` as an async I2C bus, naming `EBUSY` (a kernel driver owns the
//!   address).
//! - [`BluezCentral`]: Bluetooth LE through BlueZ, as the HAL's `BleCentral`.
//! - [`sensehat_kernel`]: the Sense HAT through the kernel's drivers when they own it: the
//!   "RPi-Sense FB" framebuffer, the evdev joystick, IIO sensors; and the Pi's own LEDs.
//! - [`serial`]: a tty (a node's `/dev/ttyACM0`) in raw mode as an async byte stream, telling a
//!   hangup (the device went away) from other errors.
//! - [`pty`]: pseudo-terminal pairs, a serial line inside the machine for tests and simulations.

mod bluez;
mod clock;
mod delay;
mod host_fs;
mod i2c;
pub mod pty;
pub mod sensehat_kernel;
pub mod serial;

pub use bluez::{BluezCentral, BluezError};
pub use clock::{local_hour, local_hour_minute};
pub use delay::TokioDelay;
pub use host_fs::{HostFs, HostFsError};
pub use i2c::{LinuxI2c, LinuxI2cError};
pub use pty::PtyPair;
pub use serial::{SerialPort, is_hangup};
