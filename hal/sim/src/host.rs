//! A simulated Linux host: a Raspberry Pi 3B (4 cores, 1 GB) whose `/proc` and `/sys` text is
//! generated from the time.
//!
//! Everything is a pure function of the wall-clock time given to [`SimHost::set_time`], so two
//! processes that read the host a minute apart see CPU counters that rose by a minute's worth, just
//! as on a real machine. Load follows two slow waves (periods of 15 min and 97 s); memory and
//! temperature follow the load. The host "boots" every 7 days at a fixed phase of the Unix epoch,
//! which also exercises counter resets.

use core::f64::consts::TAU;
use core::fmt::{self, Write};

use sense_hal::files::{FileError, FileErrorKind, FsUsage, TextFiles, Usage};

/// Clock ticks per second in `/proc/stat` (`USER_HZ`).
pub const USER_HZ: f64 = 100.0;
/// Seconds between simulated boots.
pub const BOOT_PERIOD_S: u64 = 7 * 24 * 3600;
/// `MemTotal` of a Raspberry Pi 3B running Raspberry Pi OS, in KiB.
pub const MEM_TOTAL_KIB: u64 = 949_448;
/// Swap configured by `dphys-swapfile`'s default, in KiB.
pub const SWAP_TOTAL_KIB: u64 = 102_396;
/// The size of a 32 GB SD card's root file system, in bytes.
pub const DISK_TOTAL_BYTES: u64 = 31_164_276_736;

const LOAD_BASE: f64 = 0.18;
const SLOW_AMPLITUDE: f64 = 0.12;
const SLOW_PERIOD_S: f64 = 900.0;
const FAST_AMPLITUDE: f64 = 0.05;
const FAST_PERIOD_S: f64 = 97.0;

/// The simulated host.
#[derive(Clone, Debug)]
pub struct SimHost {
    cpus: u32,
    /// Seconds since the simulated boot.
    uptime_s: f64,
    boot_unix_s: u64,
}

/// The simulated host has no such file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSuchFile;

impl fmt::Display for NoSuchFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such file on the simulated host")
    }
}

impl FileError for NoSuchFile {
    fn kind(&self) -> FileErrorKind {
        FileErrorKind::NotFound
    }
}

impl SimHost {
    /// A 4-core host at Unix time `unix_ms` (milliseconds).
    pub fn new(unix_ms: u64) -> Self {
        let mut host = SimHost {
            cpus: 4,
            uptime_s: 0.0,
            boot_unix_s: 0,
        };
        host.set_time(unix_ms);
        host
    }

    /// Moves the host's clock to Unix time `unix_ms`.
    pub fn set_time(&mut self, unix_ms: u64) {
        let unix_s = unix_ms / 1000;
        self.boot_unix_s = unix_s - unix_s % BOOT_PERIOD_S;
        // Precision: uptime stays below 7 days, far inside f64's exact integer range.
        #[allow(clippy::cast_precision_loss)]
        {
            self.uptime_s = (unix_ms - self.boot_unix_s * 1000) as f64 / 1000.0;
        }
    }

    /// Seconds since the simulated boot.
    pub fn uptime_s(&self) -> f64 {
        self.uptime_s
    }

    /// The fraction of CPU time busy at time `t` seconds since boot, always in (0, 1).
    pub fn load_fraction(t: f64) -> f64 {
        LOAD_BASE
            + SLOW_AMPLITUDE * libm::sin(TAU * t / SLOW_PERIOD_S)
            + FAST_AMPLITUDE * libm::sin(TAU * t / FAST_PERIOD_S)
    }

    /// Busy CPU-seconds of one core from boot to `t`: the integral of [`Self::load_fraction`].
    fn busy_seconds(t: f64) -> f64 {
        let slow = SLOW_AMPLITUDE * SLOW_PERIOD_S / TAU;
        let fast = FAST_AMPLITUDE * FAST_PERIOD_S / TAU;
        LOAD_BASE * t
            + slow * (1.0 - libm::cos(TAU * t / SLOW_PERIOD_S))
            + fast * (1.0 - libm::cos(TAU * t / FAST_PERIOD_S))
    }

    /// CPU temperature in °C: idle at 44 °C, up to about 62 °C at full load.
    pub fn cpu_temp_c(&self) -> f64 {
        44.0 + 18.0 * Self::load_fraction(self.uptime_s)
    }

    fn stat(&self, w: &mut SliceWriter<'_>) -> fmt::Result {
        let t = self.uptime_s;
        // Ticks are floored integrals of positive rates, so they never go backwards.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ticks = |seconds: f64| (seconds * USER_HZ) as u64;
        let busy = Self::busy_seconds(t);
        let user = ticks(busy * 0.7);
        let system = ticks(busy * 0.3);
        let iowait = ticks(t * 0.01);
        let irq = 0;
        let softirq = ticks(t * 0.002);
        // Idle is its own floored integral (rate 0.988 - load > 0), not total minus the rest, so
        // it too never goes backwards between two reads a few milliseconds apart.
        let idle = ticks(t * 0.988 - busy);
        let n = u64::from(self.cpus);
        writeln!(
            w,
            "cpu  {} 0 {} {} {} {irq} {} 0 0 0",
            user * n,
            system * n,
            idle * n,
            iowait * n,
            softirq * n
        )?;
        for cpu in 0..self.cpus {
            writeln!(
                w,
                "cpu{cpu} {user} 0 {system} {idle} {iowait} {irq} {softirq} 0 0 0"
            )?;
        }
        writeln!(w, "intr 0")?;
        writeln!(w, "ctxt {}", ticks(t) * 37)?;
        writeln!(w, "btime {}", self.boot_unix_s)?;
        writeln!(w, "processes {}", 1200 + ticks(t) / 500)?;
        writeln!(w, "procs_running 1")?;
        writeln!(w, "procs_blocked 0")
    }

    fn meminfo(&self, w: &mut SliceWriter<'_>) -> fmt::Result {
        let load = Self::load_fraction(self.uptime_s);
        // Available memory falls as load rises: between roughly 60 % and 40 % of total.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let available = (MEM_TOTAL_KIB as f64 * (0.64 - 0.6 * load)) as u64;
        let cached = available / 2;
        let buffers = 38_212;
        let free = available.saturating_sub(cached + buffers);
        let swap_free = SWAP_TOTAL_KIB - 10_240;
        writeln!(w, "MemTotal:       {MEM_TOTAL_KIB:>8} kB")?;
        writeln!(w, "MemFree:        {free:>8} kB")?;
        writeln!(w, "MemAvailable:   {available:>8} kB")?;
        writeln!(w, "Buffers:        {buffers:>8} kB")?;
        writeln!(w, "Cached:         {cached:>8} kB")?;
        writeln!(w, "SwapCached:         1024 kB")?;
        writeln!(w, "SwapTotal:      {SWAP_TOTAL_KIB:>8} kB")?;
        writeln!(w, "SwapFree:       {swap_free:>8} kB")
    }

    fn loadavg(&self, w: &mut SliceWriter<'_>) -> fmt::Result {
        let t = self.uptime_s;
        let cpus = f64::from(self.cpus);
        // Longer averages look further back along the load curve.
        let one = cpus * Self::load_fraction(t - 30.0);
        let five = cpus * Self::load_fraction(t - 150.0);
        let fifteen = cpus * Self::load_fraction(t - 450.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let last_pid = 1200 + (t * USER_HZ) as u64 / 500;
        writeln!(w, "{one:.2} {five:.2} {fifteen:.2} 2/187 {last_pid}")
    }

    fn uptime(&self, w: &mut SliceWriter<'_>) -> fmt::Result {
        let t = self.uptime_s;
        let idle = (t - Self::busy_seconds(t)) * f64::from(self.cpus);
        writeln!(w, "{t:.2} {idle:.2}")
    }

    /// Renders the file at `path` into `w`; `Ok(false)` if the host has no such file.
    fn render(&self, path: &str, w: &mut SliceWriter<'_>) -> Result<bool, fmt::Error> {
        match path {
            "/proc/stat" => self.stat(w)?,
            "/proc/meminfo" => self.meminfo(w)?,
            "/proc/loadavg" => self.loadavg(w)?,
            "/proc/uptime" => self.uptime(w)?,
            "/sys/class/thermal/thermal_zone0/type" => w.write_str("cpu-thermal\n")?,
            "/sys/class/thermal/thermal_zone0/temp" => {
                #[allow(clippy::cast_possible_truncation)]
                let millidegrees = (self.cpu_temp_c() * 1000.0) as i64;
                writeln!(w, "{millidegrees}")?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl TextFiles for SimHost {
    type Error = NoSuchFile;

    async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, NoSuchFile> {
        let mut w = SliceWriter { buf, len: 0 };
        // A full buffer stops rendering early: the file is cut, as the trait allows.
        match self.render(path, &mut w) {
            Ok(false) => Err(NoSuchFile),
            Ok(true) | Err(fmt::Error) => Ok(w.len),
        }
    }
}

impl FsUsage for SimHost {
    type Error = NoSuchFile;

    async fn usage(&mut self, _path: &str) -> Result<Usage, NoSuchFile> {
        // A root file system at 38 % that slowly fills with logs (1 MB an hour).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let used = 11_842_424_832 + (self.uptime_s * 1_000_000.0 / 3600.0) as u64;
        let reserved = DISK_TOTAL_BYTES / 20;
        Ok(Usage {
            total_bytes: DISK_TOTAL_BYTES,
            used_bytes: used,
            available_bytes: DISK_TOTAL_BYTES - used - reserved,
        })
    }
}

/// `fmt::Write` into a byte slice; fails (and stops) when full.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() { Err(fmt::Error) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use futures_executor::block_on;
    use std::string::String;

    fn read(host: &mut SimHost, path: &str) -> String {
        let mut buf = [0u8; 4096];
        let n = block_on(host.read(path, &mut buf)).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn cpu_line_fields(stat: &str) -> std::vec::Vec<u64> {
        let line = stat.lines().next().unwrap();
        assert!(line.starts_with("cpu  "));
        line.split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap())
            .collect()
    }

    #[test]
    fn load_stays_strictly_between_zero_and_one() {
        for t in 0..20_000 {
            let l = SimHost::load_fraction(f64::from(t) * 0.7);
            assert!(l > 0.0 && l < 1.0, "{l} at {t}");
        }
    }

    #[test]
    fn cpu_counters_never_go_backwards_within_a_boot() {
        let start = 1_764_000_000_000; // some Unix time in ms
        let mut host = SimHost::new(start);
        let mut previous = cpu_line_fields(&read(&mut host, "/proc/stat"));
        for step in 1..500 {
            host.set_time(start + step * 1_700);
            let now = cpu_line_fields(&read(&mut host, "/proc/stat"));
            for (a, b) in previous.iter().zip(&now) {
                assert!(
                    b >= a,
                    "counter went back at step {step}: {previous:?} -> {now:?}"
                );
            }
            previous = now;
        }
    }

    #[test]
    fn a_minute_of_time_is_a_minute_of_ticks_on_every_core() {
        let start = 1_764_000_000_000;
        let mut host = SimHost::new(start);
        let before: u64 = cpu_line_fields(&read(&mut host, "/proc/stat")).iter().sum();
        host.set_time(start + 60_000);
        let after: u64 = cpu_line_fields(&read(&mut host, "/proc/stat")).iter().sum();
        // 60 s × 100 Hz × 4 cores, give or take flooring.
        assert!(
            (after - before).abs_diff(24_000) <= 12,
            "{}",
            after - before
        );
    }

    #[test]
    fn files_look_like_a_pi() {
        let mut host = SimHost::new(1_764_000_000_000);
        assert_eq!(
            read(&mut host, "/sys/class/thermal/thermal_zone0/type"),
            "cpu-thermal\n"
        );
        let temp: i64 = read(&mut host, "/sys/class/thermal/thermal_zone0/temp")
            .trim()
            .parse()
            .unwrap();
        assert!((44_000..=62_000).contains(&temp), "{temp}");
        let meminfo = read(&mut host, "/proc/meminfo");
        assert!(
            meminfo.starts_with("MemTotal:         949448 kB\n"),
            "{meminfo}"
        );
        assert_eq!(
            read(&mut host, "/proc/loadavg").split_whitespace().count(),
            5
        );
        assert!(block_on(host.read("/proc/nope", &mut [0u8; 8])).is_err());
    }

    #[test]
    fn a_small_buffer_cuts_the_file() {
        let mut host = SimHost::new(1_764_000_000_000);
        let mut buf = [0u8; 10];
        assert_eq!(block_on(host.read("/proc/stat", &mut buf)), Ok(10));
        assert_eq!(&buf[..5], b"cpu  ");
    }
}
