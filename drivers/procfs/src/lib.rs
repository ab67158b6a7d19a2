//! # sense-procfs
//!
//! Parsers for the Linux `/proc` and `/sys` text that a system monitor needs, and a reader that
//! fetches them through [`sense_hal::files::TextFiles`]. `no_std`, no allocation.
//!
//! | file | parser | gives |
//! |---|---|---|
//! | `/proc/stat` | [`parse_cpu_times`] | [`CpuTimes`], CPU use between two samples |
//! | `/proc/meminfo` | [`parse_meminfo`] | [`MemInfo`], memory and swap use |
//! | `/proc/loadavg` | [`parse_loadavg`] | [`LoadAvg`] |
//! | `/proc/uptime` | [`parse_uptime`] | seconds since boot |
//! | `/sys/class/thermal/thermal_zone*/temp` | [`parse_millidegrees`] | °C |
//!
//! The parsers are pure functions over `&str`; [`ProcFs`] is the async side. Every parser accepts
//! the older formats too (7-field CPU lines of 2.6 kernels, `meminfo` without `MemAvailable`).
#![no_std]
#![warn(missing_docs)]

mod parse;
mod reader;

pub use parse::{
    CpuTimes, LoadAvg, MemInfo, ParseError, parse_cpu_times, parse_loadavg, parse_meminfo,
    parse_millidegrees, parse_uptime,
};
pub use reader::{CpuTemperature, Error, ProcFile, ProcFs, THERMAL_PREFERENCE};
