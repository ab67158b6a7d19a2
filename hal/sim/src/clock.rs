//! The time chip models see.

use core::cell::Cell;

use critical_section::Mutex;

/// A source of time for chip models, in milliseconds. Models hold a `&'static dyn SimClock`.
pub trait SimClock: Sync {
    /// Milliseconds since an arbitrary epoch (Unix time for the wall clock).
    fn now_ms(&self) -> u64;
}

/// A clock that moves only when told: deterministic tests.
#[derive(Debug)]
pub struct ManualClock {
    ms: Mutex<Cell<u64>>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub const fn new(start_ms: u64) -> Self {
        ManualClock {
            ms: Mutex::new(Cell::new(start_ms)),
        }
    }

    /// Sets the time.
    pub fn set(&self, ms: u64) {
        critical_section::with(|cs| self.ms.borrow(cs).set(ms));
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        critical_section::with(|cs| {
            let c = self.ms.borrow(cs);
            c.set(c.get() + ms);
        });
    }
}

impl SimClock for ManualClock {
    fn now_ms(&self) -> u64 {
        critical_section::with(|cs| self.ms.borrow(cs).get())
    }
}

/// A chip's continuous mode: samples at a fixed output data rate of `numerator / denominator`
/// samples per millisecond, on the grid `k × denominator / numerator` ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContinuousSampling {
    /// The sample index (`time × rate`) last converted; `None` until the first.
    last: Option<u64>,
}

impl ContinuousSampling {
    /// Starts afresh: the next [`due`](Self::due) samples at once (a new mode or rate, a reset).
    pub fn restart(&mut self) {
        self.last = None;
    }

    /// The instant, in ms, of the newest sample due by `now_ms` that was not taken yet: `now_ms`
    /// itself for the first after a restart, `None` when none is due.
    pub fn due(&mut self, now_ms: u64, (numerator, denominator): (u64, u64)) -> Option<u64> {
        let index = now_ms * numerator / denominator;
        let at = match self.last {
            Some(last) if index <= last => None,
            Some(_) => Some(index * denominator / numerator),
            None => Some(now_ms),
        };
        self.last = Some(index);
        at
    }
}

#[cfg(test)]
mod sampling_tests {
    use super::ContinuousSampling;

    #[test]
    fn samples_fall_on_the_rate_grid_once_each() {
        let mut s = ContinuousSampling::default();
        // 7 Hz: a sample every 142.857 ms.
        let rate = (7, 1000);
        assert_eq!(s.due(1_000, rate), Some(1_000), "the first at once");
        assert_eq!(s.due(1_100, rate), None, "same grid slot");
        assert_eq!(
            s.due(1_150, rate),
            Some(1_142),
            "the newest slot, on the grid"
        );
        assert_eq!(s.due(1_150, rate), None);
        s.restart();
        assert_eq!(s.due(1_151, rate), Some(1_151));
    }
}
