//! # The `system` source
//!
//! What the machine is doing, from `/proc` and `/sys` through [`sense_procfs`]:
//!
//! | sensor | unit | from |
//! |---|---|---|
//! | `cpu_percent` | `%` | `/proc/stat`, delta since the previous run |
//! | `memory_percent` | `%` | `/proc/meminfo`: (total − available) / total |
//! | `swap_percent` | `%` | `/proc/meminfo`; null when there is no swap |
//! | `load_1min`, `load_5min`, `load_15min` | `load` | `/proc/loadavg` |
//! | `cpu_temp` | `C` | the CPU's thermal zone; null when there is none (never 0) |
//! | `disk_percent` | `%` | `statvfs` of the configured path, as `df` reports it |
//! | `uptime` | `seconds` | `/proc/uptime` |
//!
//! CPU use needs two samples. A one-shot run does not sleep for the second: it keeps the previous
//! run's counters in its state (the runner stores it in Redis) and reports the use since then.
//! Only when there is no usable previous sample (first run, a reboot in between, or one older than
//! three poll intervals) does it take two samples [`FIRST_SAMPLE_WINDOW_MS`] apart.

use sense_bus::model::{Measurement, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{SectionName, SourceId, unix_now};
use sense_hal::DelayNs;
use sense_hal::Unit;
use sense_hal::files::{FsUsage, TextFiles};
use sense_hal::value::round_to as round;
use sense_procfs::CpuTimes;
use sense_procfs::asynch::ProcFs;
use serde::{Deserialize, Serialize};

/// How far apart the two CPU samples are when there is no previous one, in milliseconds.
pub const FIRST_SAMPLE_WINDOW_MS: u32 = 100;

/// What a run remembers for the next one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemState {
    /// The CPU counters at the end of the last run.
    pub cpu: Option<CpuTimes>,
    /// When they were read, in Unix seconds.
    pub cpu_at: Option<f64>,
}

/// The `system` source over files `F`, disk usage `U` and delay `D`.
#[derive(Debug)]
pub struct SystemSource<F, U, D> {
    procfs: ProcFs<F>,
    disk: U,
    disk_path: String,
    delay: D,
}

impl<F: TextFiles, U: FsUsage, D: DelayNs> SystemSource<F, U, D> {
    /// A source reading `files`, reporting the disk holding `disk_path`, waiting with `delay`.
    pub fn new(files: F, disk: U, disk_path: impl Into<String>, delay: D) -> Self {
        SystemSource {
            procfs: ProcFs::new(files),
            disk,
            disk_path: disk_path.into(),
            delay,
        }
    }

    /// CPU use since the remembered sample, or over a short fresh window.
    async fn cpu_percent(
        &mut self,
        state: &mut SystemState,
        max_age_s: f64,
    ) -> Result<f64, String> {
        let now = self.procfs.cpu_times().await.map_err(|e| e.to_string())?;
        let now_at = unix_now();
        let fresh_enough = state.cpu_at.is_some_and(|at| now_at - at <= max_age_s);
        let since_last = state
            .cpu
            .filter(|_| fresh_enough)
            .and_then(|prev| now.busy_percent_since(&prev));
        let (percent, last, last_at) = match since_last {
            Some(p) => (p, now, now_at),
            None => {
                self.delay.delay_ms(FIRST_SAMPLE_WINDOW_MS).await;
                let later = self.procfs.cpu_times().await.map_err(|e| e.to_string())?;
                // A window with no ticks (a frozen clock) is 0 % busy, not unknown.
                (
                    later.busy_percent_since(&now).unwrap_or(0.0),
                    later,
                    unix_now(),
                )
            }
        };
        state.cpu = Some(last);
        state.cpu_at = Some(last_at);
        Ok(percent)
    }
}

fn m(sensor: &str, value: Value, unit: Unit) -> Measurement {
    Measurement::new(sensor.to_owned(), value, Some(unit))
}

impl<F: TextFiles, U: FsUsage, D: DelayNs> Source for SystemSource<F, U, D> {
    const ID: SourceId = SourceId::System;
    const SECTIONS: &'static [SectionName] = &[];
    type State = SystemState;

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut SystemState,
    ) -> Result<PollOutput, PollError> {
        let mut out = Vec::with_capacity(10);
        let mut errors: Vec<String> = Vec::new();
        let interval = f64::from(context.config.schedule.system);

        match self.cpu_percent(state, 3.0 * interval).await {
            Ok(p) => out.push(m("cpu_percent", Value::rounded(p, 1), Unit::PERCENT)),
            Err(e) => errors.push(e),
        }
        match self.procfs.meminfo().await {
            Ok(mem) => {
                out.push(m(
                    "memory_percent",
                    Value::from_option(mem.used_percent().map(|p| round(p, 1))),
                    Unit::PERCENT,
                ));
                out.push(m(
                    "swap_percent",
                    Value::from_option(mem.swap_used_percent().map(|p| round(p, 1))),
                    Unit::PERCENT,
                ));
            }
            Err(e) => errors.push(e.to_string()),
        }
        match self.procfs.loadavg().await {
            Ok(load) => {
                out.push(m("load_1min", Value::rounded(load.one, 2), Unit::LOAD));
                out.push(m("load_5min", Value::rounded(load.five, 2), Unit::LOAD));
                out.push(m("load_15min", Value::rounded(load.fifteen, 2), Unit::LOAD));
            }
            Err(e) => errors.push(e.to_string()),
        }
        match self.procfs.cpu_temperature().await {
            Ok(t) => out.push(m(
                "cpu_temp",
                Value::from_option(t.map(|t| round(t.celsius, 1))),
                Unit::CELSIUS,
            )),
            Err(e) => errors.push(e.to_string()),
        }
        match self.disk.usage(&self.disk_path).await {
            Ok(u) => out.push(m(
                "disk_percent",
                Value::from_option(u.used_percent().map(|p| round(p, 1))),
                Unit::PERCENT,
            )),
            Err(e) => errors.push(format!("disk usage of {}: {e}", self.disk_path)),
        }
        match self.procfs.uptime().await {
            // Whole seconds: fractions of a second of uptime are noise on a dashboard.
            #[allow(clippy::cast_possible_truncation)]
            Ok(s) => out.push(m("uptime", Value::Int(s as i64), Unit::SECONDS)),
            Err(e) => errors.push(e.to_string()),
        }

        let error = (!errors.is_empty()).then(|| errors.join("; "));
        // Nothing but nulls (say, a wrong /proc root) measured nothing.
        if out.iter().all(|m| m.value.is_null()) {
            return Err(PollError::new(
                error.unwrap_or_else(|| "nothing could be measured".into()),
            ));
        }
        Ok(PollOutput {
            measurements: out,
            error,
            ..PollOutput::default()
        })
    }
}

#[cfg(test)]
mod tests;
