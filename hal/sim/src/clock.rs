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
