//! What the readers share: the files they read, their errors, and the file error trait.

use core::fmt;

use crate::parse::ParseError;

/// Thermal zones are probed from 0 up to this number, stopping at the first that does not exist.
pub(crate) const MAX_THERMAL_ZONES: u8 = 32;

/// Why a file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// The file does not exist (a missing thermal zone, a wrong root).
    NotFound,
    /// The file exists but may not be read.
    PermissionDenied,
    /// Any other failure.
    Other,
}

impl FileErrorKind {
    /// A short description, for error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            FileErrorKind::NotFound => "not found",
            FileErrorKind::PermissionDenied => "permission denied",
            FileErrorKind::Other => "read failed",
        }
    }
}

/// An error of a `TextFiles` implementation.
pub trait FileError: fmt::Debug + fmt::Display {
    /// The kind of failure, so callers can treat "not there" differently from "broken".
    fn kind(&self) -> FileErrorKind;
}

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

/// An error of `ProcFs`, generic over the file implementation's error `E`.
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
