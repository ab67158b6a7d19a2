//! Pure parsers of `/proc` and `/sys` text.

use core::fmt;

/// Why a file's text could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A required line or field is missing (named).
    Missing(&'static str),
    /// A field is present but is not a number of the expected kind (named).
    Invalid(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Missing(what) => write!(f, "{what} is missing"),
            ParseError::Invalid(what) => write!(f, "{what} is not a valid number"),
        }
    }
}

/// Aggregate CPU time of all cores since boot, in clock ticks (`USER_HZ`, normally 100 per
/// second), from the first line of `/proc/stat`.
///
/// `guest` and `guest_nice` are not kept: the kernel already counts them in `user` and `nice`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CpuTimes {
    /// Normal processes in user mode.
    pub user: u64,
    /// Niced processes in user mode.
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle while waiting for I/O (kernel ≥ 2.5.41).
    pub iowait: u64,
    /// Servicing interrupts (kernel ≥ 2.6.0).
    pub irq: u64,
    /// Servicing softirqs (kernel ≥ 2.6.0).
    pub softirq: u64,
    /// Stolen by the hypervisor (kernel ≥ 2.6.11).
    pub steal: u64,
}

impl CpuTimes {
    /// All ticks counted.
    pub fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }

    /// Ticks spent idle, counting I/O wait as idle (as `top` and psutil do).
    pub fn idle_total(&self) -> u64 {
        self.idle + self.iowait
    }

    /// Percent of CPU time busy between `earlier` and `self`, in 0..=100.
    ///
    /// `None` when no time passed or a counter went backwards (the machine rebooted in between, or
    /// the samples are from different machines): the caller needs a fresh sample.
    pub fn busy_percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let fields = |t: &CpuTimes| {
            [
                t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal,
            ]
        };
        if fields(self)
            .iter()
            .zip(fields(earlier).iter())
            .any(|(now, then)| now < then)
        {
            return None;
        }
        let total = self.total() - earlier.total();
        if total == 0 {
            return None;
        }
        let idle = self.idle_total() - earlier.idle_total();
        #[allow(clippy::cast_precision_loss)]
        let busy = (total - idle) as f64 * 100.0 / total as f64;
        Some(busy.clamp(0.0, 100.0))
    }
}

fn number<T: core::str::FromStr>(field: Option<&str>, name: &'static str) -> Result<T, ParseError> {
    field
        .ok_or(ParseError::Missing(name))?
        .parse()
        .map_err(|_| ParseError::Invalid(name))
}

/// Parses the aggregate `cpu` line of `/proc/stat` (the first line; later lines are ignored, and
/// may be cut off).
///
/// At least `user nice system idle` must be present; newer fields default to zero when an old
/// kernel does not print them.
pub fn parse_cpu_times(stat: &str) -> Result<CpuTimes, ParseError> {
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu ") || l.starts_with("cpu\t"))
        .ok_or(ParseError::Missing("aggregate `cpu` line"))?;
    let mut fields = line.split_ascii_whitespace().skip(1);
    let mut required = |name| number::<u64>(fields.next(), name);
    let user = required("cpu user")?;
    let nice = required("cpu nice")?;
    let system = required("cpu system")?;
    let idle = required("cpu idle")?;
    let mut optional = |name| match fields.next() {
        None => Ok(0),
        some => number::<u64>(some, name),
    };
    Ok(CpuTimes {
        user,
        nice,
        system,
        idle,
        iowait: optional("cpu iowait")?,
        irq: optional("cpu irq")?,
        softirq: optional("cpu softirq")?,
        steal: optional("cpu steal")?,
    })
}

/// Memory figures from `/proc/meminfo`, in KiB (the file says "kB" but means 1024 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`: usable RAM.
    pub total_kib: u64,
    /// `MemFree`: RAM nobody uses.
    pub free_kib: u64,
    /// `MemAvailable` (kernel ≥ 3.14): the kernel's estimate of RAM available without swapping.
    pub available_kib: Option<u64>,
    /// `Buffers`.
    pub buffers_kib: u64,
    /// `Cached`.
    pub cached_kib: u64,
    /// `SReclaimable`: reclaimable slab, when reported.
    pub slab_reclaimable_kib: Option<u64>,
    /// `SwapTotal`.
    pub swap_total_kib: u64,
    /// `SwapFree`.
    pub swap_free_kib: u64,
}

impl MemInfo {
    /// RAM available to new work: `MemAvailable`, or on old kernels the classic estimate
    /// free + buffers + cache + reclaimable slab.
    pub fn available(&self) -> u64 {
        self.available_kib.unwrap_or(
            self.free_kib
                + self.buffers_kib
                + self.cached_kib
                + self.slab_reclaimable_kib.unwrap_or(0),
        )
    }

    /// Percent of RAM in use, (total − available) / total, as `free` and psutil compute it.
    pub fn used_percent(&self) -> Option<f64> {
        if self.total_kib == 0 {
            return None;
        }
        let used = self.total_kib.saturating_sub(self.available());
        #[allow(clippy::cast_precision_loss)]
        Some(used as f64 * 100.0 / self.total_kib as f64)
    }

    /// Percent of swap in use, or `None` when the machine has no swap.
    pub fn swap_used_percent(&self) -> Option<f64> {
        if self.swap_total_kib == 0 {
            return None;
        }
        let used = self.swap_total_kib.saturating_sub(self.swap_free_kib);
        #[allow(clippy::cast_precision_loss)]
        Some(used as f64 * 100.0 / self.swap_total_kib as f64)
    }
}

/// Parses `/proc/meminfo`. `MemTotal`, `MemFree` are required; everything else is optional. A cut
/// last line is ignored.
pub fn parse_meminfo(text: &str) -> Result<MemInfo, ParseError> {
    let mut total = None;
    let mut free = None;
    let mut info = MemInfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let value = rest.split_ascii_whitespace().next();
        // A value that does not parse is only an error for the fields we use.
        let slot: Option<(&mut Option<u64>, &'static str)> = match key {
            "MemTotal" => Some((&mut total, "MemTotal")),
            "MemFree" => Some((&mut free, "MemFree")),
            "MemAvailable" => Some((&mut info.available_kib, "MemAvailable")),
            "SReclaimable" => Some((&mut info.slab_reclaimable_kib, "SReclaimable")),
            _ => None,
        };
        if let Some((slot, name)) = slot {
            *slot = Some(number(value, name)?);
            continue;
        }
        let plain = match key {
            "Buffers" => Some((&mut info.buffers_kib, "Buffers")),
            "Cached" => Some((&mut info.cached_kib, "Cached")),
            "SwapTotal" => Some((&mut info.swap_total_kib, "SwapTotal")),
            "SwapFree" => Some((&mut info.swap_free_kib, "SwapFree")),
            _ => None,
        };
        if let Some((slot, name)) = plain {
            *slot = number(value, name)?;
        }
    }
    info.total_kib = total.ok_or(ParseError::Missing("MemTotal"))?;
    info.free_kib = free.ok_or(ParseError::Missing("MemFree"))?;
    Ok(info)
}

/// The run-queue averages of `/proc/loadavg`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadAvg {
    /// Average over 1 minute.
    pub one: f64,
    /// Average over 5 minutes.
    pub five: f64,
    /// Average over 15 minutes.
    pub fifteen: f64,
}

/// Parses `/proc/loadavg` (`0.52 0.58 0.59 2/213 29876`).
pub fn parse_loadavg(text: &str) -> Result<LoadAvg, ParseError> {
    let mut fields = text.split_ascii_whitespace();
    Ok(LoadAvg {
        one: number(fields.next(), "1-minute load")?,
        five: number(fields.next(), "5-minute load")?,
        fifteen: number(fields.next(), "15-minute load")?,
    })
}

/// Parses `/proc/uptime` into seconds since boot.
pub fn parse_uptime(text: &str) -> Result<f64, ParseError> {
    number(text.split_ascii_whitespace().next(), "uptime seconds")
}

/// Parses a thermal zone's `temp` (millidegrees Celsius) into °C.
pub fn parse_millidegrees(text: &str) -> Result<f64, ParseError> {
    let milli: i64 = number(text.split_ascii_whitespace().next(), "temperature")?;
    #[allow(clippy::cast_precision_loss)]
    Ok(milli as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PI_STAT: &str = include_str!("../fixtures/raspberry-pi-3b-plus/stat");
    const PI_MEMINFO: &str = include_str!("../fixtures/raspberry-pi-3b-plus/meminfo");
    const VM_STAT: &str = include_str!("../fixtures/x86_64-vm-linux-6.18/stat");
    const VM_MEMINFO: &str = include_str!("../fixtures/x86_64-vm-linux-6.18/meminfo");
    const OLD_STAT: &str = include_str!("../fixtures/linux-2.6-minimal/stat");
    const OLD_MEMINFO: &str = include_str!("../fixtures/linux-2.6-minimal/meminfo");

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn pi_stat_aggregate_line() {
        let t = parse_cpu_times(PI_STAT).unwrap();
        assert_eq!(
            t,
            CpuTimes {
                user: 1_184_913,
                nice: 2174,
                system: 424_117,
                idle: 51_846_309,
                iowait: 39_214,
                irq: 0,
                softirq: 9881,
                steal: 0,
            }
        );
    }

    #[test]
    fn vm_stat_keeps_steal_and_ignores_the_huge_intr_line() {
        let t = parse_cpu_times(VM_STAT).unwrap();
        assert_eq!((t.user, t.system, t.steal), (5316, 2195, 30));
    }

    #[test]
    fn old_kernels_without_steal_default_to_zero() {
        let t = parse_cpu_times(OLD_STAT).unwrap();
        assert_eq!((t.irq, t.softirq, t.steal), (712, 433, 0));
    }

    #[test]
    fn a_cut_off_stat_still_yields_the_first_line() {
        let cut = &VM_STAT[..60];
        assert_eq!(parse_cpu_times(cut).unwrap().user, 5316);
    }

    #[test]
    fn broken_stat_names_what_is_wrong() {
        assert_eq!(
            parse_cpu_times(""),
            Err(ParseError::Missing("aggregate `cpu` line"))
        );
        assert_eq!(
            parse_cpu_times("cpu  1 2 3\n"),
            Err(ParseError::Missing("cpu idle"))
        );
        assert_eq!(
            parse_cpu_times("cpu  1 x 3 4\n"),
            Err(ParseError::Invalid("cpu nice"))
        );
        // `cpu0` alone is a per-core line, not the aggregate.
        assert!(parse_cpu_times("cpu0 1 2 3 4\n").is_err());
    }

    #[test]
    fn busy_percent_counts_iowait_as_idle() {
        let a = CpuTimes {
            user: 100,
            system: 50,
            idle: 800,
            iowait: 50,
            ..CpuTimes::default()
        };
        // +60 user, +20 system, +100 idle, +20 iowait: 80 busy of 200.
        let b = CpuTimes {
            user: 160,
            system: 70,
            idle: 900,
            iowait: 70,
            ..CpuTimes::default()
        };
        assert!(close(b.busy_percent_since(&a).unwrap(), 40.0));
    }

    #[test]
    fn busy_percent_refuses_resets_and_empty_intervals() {
        let a = CpuTimes {
            user: 100,
            idle: 900,
            ..CpuTimes::default()
        };
        let rebooted = CpuTimes {
            user: 5,
            idle: 2000,
            ..CpuTimes::default()
        };
        assert_eq!(rebooted.busy_percent_since(&a), None);
        assert_eq!(a.busy_percent_since(&a), None);
    }

    #[test]
    fn pi_meminfo_used_percent_from_mem_available() {
        let m = parse_meminfo(PI_MEMINFO).unwrap();
        assert_eq!(m.total_kib, 949_448);
        assert_eq!(m.available_kib, Some(755_260));
        // (949448 - 755260) / 949448 = 20.4527...%
        assert!((m.used_percent().unwrap() - 20.452_746).abs() < 1e-4);
        assert_eq!(m.swap_used_percent(), Some(0.0));
    }

    #[test]
    fn vm_meminfo_without_swap_has_no_swap_percent() {
        let m = parse_meminfo(VM_MEMINFO).unwrap();
        assert_eq!(m.swap_total_kib, 0);
        assert_eq!(m.swap_used_percent(), None);
    }

    #[test]
    fn old_meminfo_estimates_available() {
        let m = parse_meminfo(OLD_MEMINFO).unwrap();
        assert_eq!(m.available_kib, None);
        // free + buffers + cached = 10432 + 35080 + 121608 = 167120 of 255268.
        assert_eq!(m.available(), 167_120);
        assert!((m.used_percent().unwrap() - 34.531_551).abs() < 1e-4);
    }

    #[test]
    fn meminfo_errors_name_the_field() {
        assert_eq!(
            parse_meminfo("MemFree: 1 kB\n"),
            Err(ParseError::Missing("MemTotal"))
        );
        assert_eq!(
            parse_meminfo("MemTotal: lots kB\nMemFree: 1 kB\n"),
            Err(ParseError::Invalid("MemTotal"))
        );
        // Unknown lines with odd values are not our business.
        assert!(parse_meminfo("MemTotal: 2 kB\nMemFree: 1 kB\nHugepagesize: ? kB\n").is_ok());
    }

    #[test]
    fn loadavg_uptime_and_temperature() {
        let l = parse_loadavg("0.52 0.58 0.59 2/213 29876\n").unwrap();
        assert!(close(l.one, 0.52) && close(l.five, 0.58) && close(l.fifteen, 0.59));
        assert_eq!(
            parse_loadavg("0.52\n"),
            Err(ParseError::Missing("5-minute load"))
        );
        assert!(close(
            parse_uptime("133771.40 518463.09\n").unwrap(),
            133_771.40
        ));
        assert!(close(parse_millidegrees("51540\n").unwrap(), 51.54));
        assert!(close(parse_millidegrees("-2500\n").unwrap(), -2.5));
        assert_eq!(
            parse_millidegrees("\n"),
            Err(ParseError::Missing("temperature"))
        );
    }
}
