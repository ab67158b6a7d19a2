#![doc = include_str!("../README.md")]
//!
//! ## The crate in detail
//!
//! | file | parser | gives |
//! |---|---|---|
//! | `/proc/stat` | [`parse_cpu_times`] | [`CpuTimes`], CPU use between two samples |
//! | `/proc/meminfo` | [`parse_meminfo`] | [`MemInfo`], memory and swap use |
//! | `/proc/loadavg` | [`parse_loadavg`] | [`LoadAvg`] |
//! | `/proc/uptime` | [`parse_uptime`] | seconds since boot |
//! | `/sys/class/thermal/thermal_zone*/temp` | [`parse_millidegrees`] | °C |
//!
//! The parsers are pure functions over `&str` and need no feature. `ProcFs` reads the files
//! through a `TextFiles` implementation (the caller's: `std::fs`, a container's `/host/proc`, a
//! fixture) and parses them; it is written once and generated twice, `blocking::ProcFs` over
//! `blocking::TextFiles` (feature `blocking`) and `asynch::ProcFs` over `asynch::TextFiles`
//! (feature `async`). Every parser accepts the older formats too (7-field CPU lines of 2.6
//! kernels, `meminfo` without `MemAvailable`).
#![no_std]
#![warn(missing_docs)]

#[cfg(any(feature = "blocking", feature = "async"))]
mod driver;
mod parse;
mod reader;

#[cfg(feature = "async")]
pub use driver::asynch;
#[cfg(feature = "blocking")]
pub use driver::blocking;
pub use parse::{
    CpuTimes, LoadAvg, MemInfo, ParseError, parse_cpu_times, parse_loadavg, parse_meminfo,
    parse_millidegrees, parse_uptime,
};
pub use reader::{CpuTemperature, Error, FileError, FileErrorKind, ProcFile, THERMAL_PREFERENCE};
