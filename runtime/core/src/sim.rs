//! The simulation, bound to the wall clock.

use sense_hal::files::{FsUsage, TextFiles, Usage};
use sense_sim::clock::SimClock;
use sense_sim::host::{NoSuchFile, SimHost};

/// The wall clock, for the simulated chips and radio.
#[derive(Debug)]
pub struct WallClock;

impl SimClock for WallClock {
    fn now_ms(&self) -> u64 {
        unix_ms()
    }
}

/// The one wall clock the simulations share.
pub static WALL_CLOCK: WallClock = WallClock;

fn unix_ms() -> u64 {
    std::time::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The simulated Raspberry Pi host, its clock following real time, so one-shot runs minutes
/// apart see the CPU counters of minutes apart.
#[derive(Clone, Debug)]
pub struct SimulatedHost {
    host: SimHost,
}

impl Default for SimulatedHost {
    fn default() -> Self {
        SimulatedHost {
            host: SimHost::new(unix_ms()),
        }
    }
}

impl TextFiles for SimulatedHost {
    type Error = NoSuchFile;
    async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, NoSuchFile> {
        self.host.set_time(unix_ms());
        self.host.read(path, buf).await
    }
}

impl FsUsage for SimulatedHost {
    type Error = NoSuchFile;
    async fn usage(&mut self, path: &str) -> Result<Usage, NoSuchFile> {
        self.host.set_time(unix_ms());
        self.host.usage(path).await
    }
}
