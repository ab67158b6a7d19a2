//! `DelayNs` on tokio.

use sense_hal::DelayNs;

/// An async delay on the tokio timer (millisecond resolution, like tokio's).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioDelay;

impl DelayNs for TokioDelay {
    async fn delay_ns(&mut self, ns: u32) {
        tokio::time::sleep(std::time::Duration::from_nanos(u64::from(ns))).await;
    }
}
