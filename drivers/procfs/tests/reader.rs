//! The async reader (`asynch::ProcFs`) on fixtures taken from real machines (`fixtures/`), and
//! the blocking one (`blocking::ProcFs`) on the same files.

use futures_executor::block_on;
use sense_procfs::{Error, FileError, FileErrorKind, ParseError, ProcFile, asynch, blocking};

/// Files in memory, `(path, contents)`: both the async and the blocking `TextFiles`.
#[derive(Clone, Copy)]
struct Files(&'static [(&'static str, &'static str)]);

#[derive(Debug, PartialEq)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

impl FileError for NotFound {
    fn kind(&self) -> FileErrorKind {
        FileErrorKind::NotFound
    }
}

impl Files {
    fn copy(&self, path: &str, buf: &mut [u8]) -> Result<usize, NotFound> {
        let (_, contents) = self.0.iter().find(|(p, _)| *p == path).ok_or(NotFound)?;
        let n = contents.len().min(buf.len());
        buf[..n].copy_from_slice(&contents.as_bytes()[..n]);
        Ok(n)
    }
}

impl asynch::TextFiles for Files {
    type Error = NotFound;
    async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, NotFound> {
        self.copy(path, buf)
    }
}

impl blocking::TextFiles for Files {
    type Error = NotFound;
    fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, NotFound> {
        self.copy(path, buf)
    }
}

use asynch::ProcFs;

const PI: &[(&str, &str)] = &[
    (
        "/proc/stat",
        include_str!("../fixtures/raspberry-pi-3b-plus/stat"),
    ),
    (
        "/proc/meminfo",
        include_str!("../fixtures/raspberry-pi-3b-plus/meminfo"),
    ),
    (
        "/proc/loadavg",
        include_str!("../fixtures/raspberry-pi-3b-plus/loadavg"),
    ),
    (
        "/proc/uptime",
        include_str!("../fixtures/raspberry-pi-3b-plus/uptime"),
    ),
    (
        "/sys/class/thermal/thermal_zone0/type",
        include_str!("../fixtures/raspberry-pi-3b-plus/thermal_zone0_type"),
    ),
    (
        "/sys/class/thermal/thermal_zone0/temp",
        include_str!("../fixtures/raspberry-pi-3b-plus/thermal_zone0_temp"),
    ),
];

#[test]
fn reads_a_pi() {
    let mut fs = ProcFs::new(Files(PI));
    assert_eq!(block_on(fs.cpu_times()).unwrap().user, 1_184_913);
    assert_eq!(block_on(fs.meminfo()).unwrap().total_kib, 949_448);
    assert!((block_on(fs.loadavg()).unwrap().one - 0.52).abs() < 1e-9);
    assert!((block_on(fs.uptime()).unwrap() - 133_771.40).abs() < 1e-9);
    let t = block_on(fs.cpu_temperature()).unwrap().unwrap();
    assert!((t.celsius - 51.54).abs() < 1e-9);
    assert_eq!((t.zone, t.zone_type.as_str()), (0, "cpu-thermal"));
}

#[test]
fn no_thermal_zone_is_none_not_zero() {
    let mut fs = ProcFs::new(Files(&PI[..4]));
    assert_eq!(block_on(fs.cpu_temperature()), Ok(None));
}

#[test]
fn the_cpu_zone_wins_over_earlier_zones() {
    let files: &[(&str, &str)] = &[
        ("/sys/class/thermal/thermal_zone0/type", "acpitz\n"),
        ("/sys/class/thermal/thermal_zone0/temp", "27800\n"),
        ("/sys/class/thermal/thermal_zone1/type", "iwlwifi_1\n"),
        ("/sys/class/thermal/thermal_zone1/temp", "41000\n"),
        ("/sys/class/thermal/thermal_zone2/type", "x86_pkg_temp\n"),
        ("/sys/class/thermal/thermal_zone2/temp", "57000\n"),
    ];
    let mut fs = ProcFs::new(Files(files));
    let t = block_on(fs.cpu_temperature()).unwrap().unwrap();
    assert_eq!((t.zone, t.zone_type.as_str()), (2, "x86_pkg_temp"));
    assert!((t.celsius - 57.0).abs() < 1e-9);
}

#[test]
fn an_unreadable_preferred_zone_falls_back_to_one_that_reads() {
    let files: &[(&str, &str)] = &[
        ("/sys/class/thermal/thermal_zone0/type", "cpu-thermal\n"),
        // zone 0 has no temp file (a disabled zone)
        ("/sys/class/thermal/thermal_zone1/type", "gpu-thermal\n"),
        ("/sys/class/thermal/thermal_zone1/temp", "45000\n"),
    ];
    let mut fs = ProcFs::new(Files(files));
    let t = block_on(fs.cpu_temperature()).unwrap().unwrap();
    assert_eq!(t.zone, 1);
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let mut fs = ProcFs::new(Files(&[]));
    let err = block_on(fs.meminfo()).unwrap_err();
    assert!(matches!(err, Error::Read(ProcFile::Meminfo, _)));
    assert_eq!(err.to_string(), "reading /proc/meminfo: not found");
}

#[test]
fn garbage_is_a_parse_error_naming_the_file() {
    let mut fs = ProcFs::new(Files(&[("/proc/loadavg", "hello\n")]));
    assert_eq!(
        block_on(fs.loadavg()),
        Err(Error::Parse(
            ProcFile::Loadavg,
            ParseError::Invalid("1-minute load")
        ))
    );
    let mut fs = ProcFs::new(Files(&[("/proc/uptime", "\u{FFFD}\u{0}")]));
    assert!(block_on(fs.uptime()).is_err());
}

#[test]
fn the_blocking_reader_reads_a_pi_the_same() {
    let mut fs = blocking::ProcFs::new(Files(PI));
    assert_eq!(fs.cpu_times().unwrap().user, 1_184_913);
    assert_eq!(fs.meminfo().unwrap().total_kib, 949_448);
    assert!((fs.loadavg().unwrap().one - 0.52).abs() < 1e-9);
    assert!((fs.uptime().unwrap() - 133_771.40).abs() < 1e-9);
    let t = fs.cpu_temperature().unwrap().unwrap();
    assert_eq!(
        Some(t),
        block_on(ProcFs::new(Files(PI)).cpu_temperature()).unwrap()
    );
}

#[test]
fn the_blocking_reader_names_the_file_it_could_not_use() {
    let mut fs = blocking::ProcFs::new(Files(&[("/proc/loadavg", "hello\n")]));
    assert_eq!(
        fs.loadavg(),
        Err(Error::Parse(
            ProcFile::Loadavg,
            ParseError::Invalid("1-minute load")
        ))
    );
    assert_eq!(fs.meminfo(), Err(Error::Read(ProcFile::Meminfo, NotFound)));
    assert_eq!(fs.cpu_temperature(), Ok(None));
}
