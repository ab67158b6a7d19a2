//! `/proc` and `/sys` of the host, wherever they are mounted.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sense_hal::files::{FileError, FileErrorKind, FsUsage, TextFiles, Usage};

/// The host's `/proc` and `/sys`.
///
/// Drivers ask for canonical paths (`/proc/stat`); `HostFs` maps the `/proc` and `/sys` prefixes
/// onto its roots. Reads are plain blocking reads: procfs and sysfs files are generated in memory
/// by the kernel and return in microseconds, so they do not stall an executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFs {
    proc_root: PathBuf,
    sys_root: PathBuf,
}

impl Default for HostFs {
    fn default() -> Self {
        HostFs::new("/proc", "/sys")
    }
}

impl HostFs {
    /// A host whose `/proc` is at `proc_root` and `/sys` at `sys_root`.
    pub fn new(proc_root: impl Into<PathBuf>, sys_root: impl Into<PathBuf>) -> Self {
        HostFs {
            proc_root: proc_root.into(),
            sys_root: sys_root.into(),
        }
    }

    /// The roots a container should use: `HOST_PROC` / `HOST_SYS` when set (psutil's names), else
    /// `/host/proc` / `/host/sys` when mounted there (the compose file mounts them), else the
    /// process's own `/proc` and `/sys`.
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> Self {
        let pick = |var: &str, mounted: &str, own: &str| {
            env(var).filter(|v| !v.is_empty()).map_or_else(
                || {
                    if Path::new(mounted).is_dir() {
                        mounted.into()
                    } else {
                        own.into()
                    }
                },
                PathBuf::from,
            )
        };
        HostFs {
            proc_root: pick("HOST_PROC", "/host/proc", "/proc"),
            sys_root: pick("HOST_SYS", "/host/sys", "/sys"),
        }
    }

    /// Where `/proc` is read from.
    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }

    /// Where `/sys` is read from.
    pub fn sys_root(&self) -> &Path {
        &self.sys_root
    }

    /// The real path of a canonical one.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let under = |root: &Path, rest: &str| root.join(rest.trim_start_matches('/'));
        if let Some(rest) = path
            .strip_prefix("/proc")
            .filter(|r| r.is_empty() || r.starts_with('/'))
        {
            under(&self.proc_root, rest)
        } else if let Some(rest) = path
            .strip_prefix("/sys")
            .filter(|r| r.is_empty() || r.starts_with('/'))
        {
            under(&self.sys_root, rest)
        } else {
            PathBuf::from(path)
        }
    }
}

/// A file of the host could not be read.
#[derive(Debug)]
pub struct HostFsError {
    path: PathBuf,
    error: io::Error,
}

impl fmt::Display for HostFsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for HostFsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl FileError for HostFsError {
    fn kind(&self) -> FileErrorKind {
        match self.error.kind() {
            io::ErrorKind::NotFound => FileErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => FileErrorKind::PermissionDenied,
            _ => FileErrorKind::Other,
        }
    }
}

impl TextFiles for HostFs {
    type Error = HostFsError;

    async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, HostFsError> {
        let real = self.resolve(path);
        let fail = |error| HostFsError {
            path: real.clone(),
            error,
        };
        let mut file = std::fs::File::open(&real).map_err(fail)?;
        // procfs hands out at most a page per read: keep reading until full or at the end.
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(filled)
    }
}

impl FsUsage for HostFs {
    type Error = HostFsError;

    async fn usage(&mut self, path: &str) -> Result<Usage, HostFsError> {
        let real = PathBuf::from(path);
        statvfs(&real).map_err(|error| HostFsError { path: real, error })
    }
}

/// `statvfs(2)`, reported the way `df` does.
fn statvfs(path: &Path) -> io::Result<Usage> {
    let stats = rustix::fs::statvfs(path)?;
    let (frsize, blocks, bfree, bavail) = (
        stats.f_frsize,
        stats.f_blocks,
        stats.f_bfree,
        stats.f_bavail,
    );
    Ok(Usage {
        total_bytes: blocks * frsize,
        used_bytes: blocks.saturating_sub(bfree) * frsize,
        available_bytes: bavail * frsize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_map_under_the_roots() {
        let fs = HostFs::new("/host/proc", "/host/sys");
        assert_eq!(fs.resolve("/proc/stat"), PathBuf::from("/host/proc/stat"));
        assert_eq!(
            fs.resolve("/sys/class/thermal/thermal_zone0/temp"),
            PathBuf::from("/host/sys/class/thermal/thermal_zone0/temp")
        );
        assert_eq!(fs.resolve("/process/x"), PathBuf::from("/process/x"));
        assert_eq!(fs.resolve("/etc/hostname"), PathBuf::from("/etc/hostname"));
    }

    #[test]
    fn detection_prefers_the_environment() {
        let fs = HostFs::detect(|v| (v == "HOST_PROC").then(|| "/custom/proc".to_owned()));
        assert_eq!(fs.proc_root(), Path::new("/custom/proc"));
    }

    #[tokio::test]
    async fn reads_this_machines_proc_and_a_fake_root() {
        let mut fs = HostFs::default();
        let mut buf = [0u8; 256];
        let n = fs.read("/proc/loadavg", &mut buf).await.unwrap();
        assert!(n > 10);

        let dir = std::env::temp_dir().join(format!("sense-linux-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(dir.join("proc/uptime"), "12.5 40.0\n").unwrap();
        let mut fake = HostFs::new(dir.join("proc"), dir.join("sys"));
        let n = fake.read("/proc/uptime", &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"12.5 40.0\n");
        let err = fake.read("/proc/stat", &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), FileErrorKind::NotFound);
        assert!(err.to_string().contains("proc/stat"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn root_file_system_usage_is_plausible() {
        let u = HostFs::default().usage("/").await.unwrap();
        assert!(u.total_bytes > 0 && u.used_bytes <= u.total_bytes);
        let pct = u.used_percent().unwrap();
        assert!((0.0..=100.0).contains(&pct), "{pct}");
        let err = HostFs::default().usage("/no/such/dir").await.unwrap_err();
        assert_eq!(err.kind(), FileErrorKind::NotFound);
    }
}
