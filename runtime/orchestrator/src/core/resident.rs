//! Resident sources: kept running, restarted with a growing back-off while they keep failing.

use std::sync::Arc;
use std::time::Duration;

use sense_bus::{SourceId, unix_now};
use tokio::time::Instant;

use super::{Core, MAX_BACKOFF, RunRecord, STABLE_RUN, ServiceState};
use crate::launcher::{Job, JobMode, Launcher, RunEnd, RunOutcome, seconds};

impl<L: Launcher> Core<L> {
    /// Keeps `id` running: starts it, and restarts it when it ends (with a growing back-off
    /// while it keeps failing, at once after `restart_service`).
    pub(crate) async fn supervise(self: Arc<Self>, id: SourceId) {
        let mut failures: u32 = 0;
        let mut generation = 0;
        while !self.shutdown.is_cancelled() {
            generation += 1;
            let stop = self.shutdown.child_token();
            let started = Instant::now();
            let started_unix = unix_now();
            {
                let mut st = self.state();
                let r = st.residents.entry(id).or_default();
                r.current = Some(ServiceState {
                    stop: stop.clone(),
                    started_at: started_unix,
                    generation,
                    adopted: false,
                });
                r.starts += 1;
                r.backoff = None;
                r.restart_requested = false;
            }
            self.changed.notify_one();
            let in_flight = self.in_flight();
            let outcome = match self.launcher.start_service(Job::service(id), stop).await {
                Ok(run) => {
                    tracing::info!(source = %id, "resident source started");
                    run.await
                }
                Err(e) => RunOutcome::new(RunEnd::Failed(e.0)),
            };
            drop(in_flight);
            let record = RunRecord::new(JobMode::Service, started_unix, &outcome);
            let restart_requested = {
                let mut st = self.state();
                let r = st.residents.entry(id).or_default();
                r.current = None;
                r.last_run = Some(record.clone());
                std::mem::take(&mut r.restart_requested)
            };
            self.changed.notify_one();
            if self.shutdown.is_cancelled() {
                break;
            }
            if let Some(error) = &record.error
                && !restart_requested
            {
                tracing::warn!(source = %id, %error, "resident source ended");
                let _ = self.record_error(id, error, Some(started_unix)).await;
            }
            if restart_requested {
                failures = 0;
                continue;
            }
            if started.elapsed() >= STABLE_RUN {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            let backoff =
                Duration::from_secs(1u64 << failures.min(6).saturating_sub(1)).min(MAX_BACKOFF);
            self.state().residents.entry(id).or_default().backoff = Some(backoff);
            tracing::info!(source = %id, "restarting in {}", seconds(backoff));
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.shutdown.cancelled() => break,
            }
        }
    }

    /// Asks a resident source to restart. Whether it is one.
    pub(crate) fn restart_resident(&self, id: SourceId) -> bool {
        let mut st = self.state();
        let Some(r) = st.residents.get_mut(&id) else {
            return false;
        };
        r.restart_requested = true;
        if let Some(c) = &r.current {
            c.stop.cancel();
        }
        true
    }

    /// Whether `id` is run as a resident source here.
    pub(crate) fn is_resident(&self, id: SourceId) -> bool {
        self.options.resident.contains(&id)
    }
}
