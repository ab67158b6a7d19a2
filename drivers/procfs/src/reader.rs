//! The async side: reads the files through [`TextFiles`] and parses them.

use core::fmt::{self, Write as _};

use sense_hal::files::{FileError, FileErrorKind, TextFiles};

use crate::parse::{
    CpuTimes, LoadAvg, MemInfo, ParseError, parse_cpu_times, parse_loadavg, parse_meminfo,
    parse_millidegrees, parse_uptime,
};

/// Thermal zones are probed from 0 up to this number, stopping at the first that does not exist.
const MAX_THERMAL_ZONES: u8 = 32;

/// Zone `type`s that mean "the CPU", best first. Raspberry Pi kernels call it `cpu-thermal`
/// (older ones `cpu_thermal`); Intel machines `x86_pkg_temp`; ACPI boards `acpitz`.
pub const THERMAL_PREFERENCE: &[&str] = &[
    "cpu-thermal",
    "cpu_thermal",
    "cpu0-thermal",
    "soc_thermal",
    "soc-thermal",
    "x86_pkg_temp",
    "coretemp",
    "k10temp",
    "acpitz",
];

/// A file the reader could not use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFile {
    /// `/proc/stat`
    Stat,
    /// `/proc/meminfo`
    Meminfo,
    /// `/proc/loadavg`
    Loadavg,
    /// `/proc/uptime`
    Uptime,
    /// `/sys/class/thermal/thermal_zone{n}/temp`
    ThermalZone(u8),
}

impl fmt::Display for ProcFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcFile::Stat => f.write_str("/proc/stat"),
            ProcFile::Meminfo => f.write_str("/proc/meminfo"),
            ProcFile::Loadavg => f.write_str("/proc/loadavg"),
            ProcFile::Uptime => f.write_str("/proc/uptime"),
            ProcFile::ThermalZone(n) => write!(f, "/sys/class/thermal/thermal_zone{n}/temp"),
        }
    }
}

/// An error of [`ProcFs`], generic over the file implementation's error `E`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The file could not be read.
    Read(ProcFile, E),
    /// The file was read but its text is not what the kernel writes.
    Parse(ProcFile, ParseError),
    /// The file is not UTF-8 text.
    NotText(ProcFile),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(file, e) => write!(f, "reading {file}: {e}"),
            Error::Parse(file, e) => write!(f, "parsing {file}: {e}"),
            Error::NotText(file) => write!(f, "{file} is not text"),
        }
    }
}

/// The CPU temperature and the thermal zone it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTemperature {
    /// Degrees Celsius.
    pub celsius: f64,
    /// The zone's number (`thermal_zone{n}`).
    pub zone: u8,
    /// The zone's `type`, e.g. `cpu-thermal`.
    pub zone_type: heapless::String<24>,
}

/// Reads system figures from `/proc` and `/sys` through a [`TextFiles`] implementation.
#[derive(Debug)]
pub struct ProcFs<F> {
    files: F,
}

/// Reads `path` into `buf` and returns its text, cut to whole UTF-8 characters if the buffer
/// filled up mid-character.
async fn read_text<'b, F: TextFiles>(
    files: &mut F,
    path: &str,
    file: ProcFile,
    buf: &'b mut [u8],
) -> Result<&'b str, Error<F::Error>> {
    let n = files
        .read(path, buf)
        .await
        .map_err(|e| Error::Read(file, e))?;
    match core::str::from_utf8(&buf[..n]) {
        Ok(text) => Ok(text),
        // A cut in the middle of a multi-byte character: keep the valid prefix.
        Err(e) if e.error_len().is_none() => {
            Ok(core::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => Err(Error::NotText(file)),
    }
}

impl<F: TextFiles> ProcFs<F> {
    /// A reader over `files`.
    pub fn new(files: F) -> Self {
        ProcFs { files }
    }

    /// Gives the file implementation back.
    pub fn release(self) -> F {
        self.files
    }

    /// Aggregate CPU times from `/proc/stat`.
    pub async fn cpu_times(&mut self) -> Result<CpuTimes, Error<F::Error>> {
        // The aggregate line comes first; 512 bytes hold it on any machine.
        let mut buf = [0u8; 512];
        let text = read_text(&mut self.files, "/proc/stat", ProcFile::Stat, &mut buf).await?;
        parse_cpu_times(text).map_err(|e| Error::Parse(ProcFile::Stat, e))
    }

    /// Memory figures from `/proc/meminfo`.
    pub async fn meminfo(&mut self) -> Result<MemInfo, Error<F::Error>> {
        // The fields used sit in the first ~25 lines (well under 2 KiB).
        let mut buf = [0u8; 2048];
        let text = read_text(
            &mut self.files,
            "/proc/meminfo",
            ProcFile::Meminfo,
            &mut buf,
        )
        .await?;
        parse_meminfo(text).map_err(|e| Error::Parse(ProcFile::Meminfo, e))
    }

    /// Load averages from `/proc/loadavg`.
    pub async fn loadavg(&mut self) -> Result<LoadAvg, Error<F::Error>> {
        let mut buf = [0u8; 128];
        let text = read_text(
            &mut self.files,
            "/proc/loadavg",
            ProcFile::Loadavg,
            &mut buf,
        )
        .await?;
        parse_loadavg(text).map_err(|e| Error::Parse(ProcFile::Loadavg, e))
    }

    /// Seconds since boot from `/proc/uptime`.
    pub async fn uptime(&mut self) -> Result<f64, Error<F::Error>> {
        let mut buf = [0u8; 128];
        let text = read_text(&mut self.files, "/proc/uptime", ProcFile::Uptime, &mut buf).await?;
        parse_uptime(text).map_err(|e| Error::Parse(ProcFile::Uptime, e))
    }

    /// The CPU's temperature: the thermal zone whose type ranks best in [`THERMAL_PREFERENCE`],
    /// else the first zone that reads. `Ok(None)` when the machine has no readable zone (a VM, a
    /// container without `/sys`): never a made-up number.
    pub async fn cpu_temperature(&mut self) -> Result<Option<CpuTemperature>, Error<F::Error>> {
        let mut best: Option<(usize, CpuTemperature)> = None;
        for zone in 0..MAX_THERMAL_ZONES {
            let mut path = heapless::String::<48>::new();
            // Cannot overflow: the longest path is 42 bytes.
            let _ = write!(path, "/sys/class/thermal/thermal_zone{zone}/type");
            let mut type_buf = [0u8; 32];
            let zone_type = match read_text(
                &mut self.files,
                &path,
                ProcFile::ThermalZone(zone),
                &mut type_buf,
            )
            .await
            {
                Ok(text) => text.trim(),
                Err(Error::Read(_, e)) if e.kind() == FileErrorKind::NotFound => break,
                // A zone we cannot read is skipped, not fatal.
                Err(_) => continue,
            };
            let rank = THERMAL_PREFERENCE
                .iter()
                .position(|t| *t == zone_type)
                .unwrap_or(THERMAL_PREFERENCE.len());
            if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
                continue;
            }
            let mut zone_type_owned = heapless::String::new();
            let _ = zone_type_owned.push_str(&zone_type[..zone_type.len().min(24)]);

            path.clear();
            let _ = write!(path, "/sys/class/thermal/thermal_zone{zone}/temp");
            let mut temp_buf = [0u8; 32];
            // Disabled zones answer EINVAL or ENODATA: skip them too.
            let Ok(text) = read_text(
                &mut self.files,
                &path,
                ProcFile::ThermalZone(zone),
                &mut temp_buf,
            )
            .await
            else {
                continue;
            };
            let Ok(celsius) = parse_millidegrees(text) else {
                continue;
            };
            best = Some((
                rank,
                CpuTemperature {
                    celsius,
                    zone,
                    zone_type: zone_type_owned,
                },
            ));
        }
        Ok(best.map(|(_, t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;
    use sense_hal::files::StaticFiles;

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
        let mut fs = ProcFs::new(StaticFiles::new(PI));
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
        let mut fs = ProcFs::new(StaticFiles::new(&PI[..4]));
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
        let mut fs = ProcFs::new(StaticFiles::new(files));
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
        let mut fs = ProcFs::new(StaticFiles::new(files));
        let t = block_on(fs.cpu_temperature()).unwrap().unwrap();
        assert_eq!(t.zone, 1);
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let mut fs = ProcFs::new(StaticFiles::new(&[]));
        let err = block_on(fs.meminfo()).unwrap_err();
        assert!(matches!(err, Error::Read(ProcFile::Meminfo, _)));
        let mut text = heapless::String::<64>::new();
        write!(text, "{err}").unwrap();
        assert_eq!(text, "reading /proc/meminfo: not found");
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_file() {
        let mut fs = ProcFs::new(StaticFiles::new(&[("/proc/loadavg", "hello\n")]));
        assert_eq!(
            block_on(fs.loadavg()),
            Err(Error::Parse(
                ProcFile::Loadavg,
                ParseError::Invalid("1-minute load")
            ))
        );
        let mut fs = ProcFs::new(StaticFiles::new(&[("/proc/uptime", "\u{FFFD}\u{0}")]));
        assert!(block_on(fs.uptime()).is_err());
    }
}
