//! # sense-linux
//!
//! The Linux side of the HAL: the real implementations of `sense-hal`'s traits that the runtime
//! binds drivers and sources to.
//!
//! - [`HostFs`]: `/proc` and `/sys` text under configurable roots (a container sees the host's at
//!   `/host/proc` and `/host/sys`), and file-system usage through `statvfs`.
//! - [`TokioDelay`]: `DelayNs` on the tokio timer.

mod delay;
mod host_fs;

pub use delay::TokioDelay;
pub use host_fs::{HostFs, HostFsError};
