//! Read-only access to the host's text files (`/proc`, `/sys`) and to file-system usage.
//!
//! Drivers ask for canonical paths (`/proc/stat`, `/sys/class/thermal/...`); the implementation
//! decides where those live. The Linux one maps them under configurable roots (a container sees
//! the host's `/proc` at `/host/proc`), the simulation generates them, and [`StaticFiles`] serves
//! fixtures in tests.
//!
//! [`TextFiles`], [`FileError`] and [`FileErrorKind`] are `sense-procfs`'s (its async reader's
//! file trait), re-exported here.

use core::fmt;

// The file trait and its error types live in the publishable `sense-procfs` (which reads `/proc`
// through them); re-exported here so implementations and users need only this crate.
pub use sense_procfs::asynch::TextFiles;
pub use sense_procfs::{FileError, FileErrorKind};

/// Space on a mounted file system, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Usage {
    /// Size of the file system.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes available to an unprivileged user (less than `total - used` by the root reserve).
    pub available_bytes: u64,
}

impl Usage {
    /// Percent in use as `df` reports it: used / (used + available), so the root reserve does not
    /// hide a full disk. `None` for an empty file system.
    pub fn used_percent(&self) -> Option<f64> {
        let denominator = self.used_bytes.checked_add(self.available_bytes)?;
        if denominator == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        Some(self.used_bytes as f64 * 100.0 / denominator as f64)
    }
}

/// Reports how full the file system holding a path is (`statvfs` on Linux).
pub trait FsUsage {
    /// The implementation's error.
    type Error: FileError;
    /// Usage of the file system that contains `path`.
    async fn usage(&mut self, path: &str) -> Result<Usage, Self::Error>;
}

/// The error of [`StaticFiles`]: the path is not among its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotInFixture;

impl fmt::Display for NotInFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not found")
    }
}

impl FileError for NotInFixture {
    fn kind(&self) -> FileErrorKind {
        FileErrorKind::NotFound
    }
}

/// A fixed set of files in memory: `(path, contents)` pairs. For tests and examples.
#[derive(Clone, Copy, Debug)]
pub struct StaticFiles<'a> {
    files: &'a [(&'a str, &'a str)],
    usage: Option<Usage>,
}

impl<'a> StaticFiles<'a> {
    /// Files at the given paths, and no file-system usage.
    pub const fn new(files: &'a [(&'a str, &'a str)]) -> Self {
        StaticFiles { files, usage: None }
    }

    /// The same files, reporting `usage` for every path.
    pub const fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = Some(usage);
        self
    }
}

impl TextFiles for StaticFiles<'_> {
    type Error = NotInFixture;
    async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, NotInFixture> {
        let (_, contents) = self
            .files
            .iter()
            .find(|(p, _)| *p == path)
            .ok_or(NotInFixture)?;
        let n = contents.len().min(buf.len());
        buf[..n].copy_from_slice(&contents.as_bytes()[..n]);
        Ok(n)
    }
}

impl FsUsage for StaticFiles<'_> {
    type Error = NotInFixture;
    async fn usage(&mut self, _path: &str) -> Result<Usage, NotInFixture> {
        self.usage.ok_or(NotInFixture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    #[test]
    fn static_files_cut_long_files_to_the_buffer() {
        let mut fs = StaticFiles::new(&[("/proc/loadavg", "0.52 0.58 0.59 1/467 12345\n")]);
        let mut buf = [0u8; 4];
        assert_eq!(block_on(fs.read("/proc/loadavg", &mut buf)), Ok(4));
        assert_eq!(&buf, b"0.52");
        assert_eq!(block_on(fs.read("/proc/nope", &mut buf)), Err(NotInFixture));
    }

    #[test]
    fn used_percent_counts_the_root_reserve_as_unavailable() {
        // 100 GB disk, 60 used, 35 available to users, 5 reserved for root.
        let u = Usage {
            total_bytes: 100,
            used_bytes: 60,
            available_bytes: 35,
        };
        let pct = u.used_percent().unwrap();
        assert!((pct - 63.157_894).abs() < 1e-3, "{pct}");
        assert_eq!(Usage::default().used_percent(), None);
    }
}
