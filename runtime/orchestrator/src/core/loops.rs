//! The orchestrator's loops: the schedule (with the sources whose status Redis lost, polled
//! at once) and the listener for `config:changed` and `stream:ended`; an `impl Core` of their
//! own, like the camera's, since they only drive what `mod.rs` books.

use std::sync::Arc;
use std::time::Duration;

use sense_bus::keys::{self, channels};
use sense_bus::model::{ConfigChanged, StreamEnded};
use sense_bus::{SectionName, SourceId, Subscription};
use tokio::time::Instant;

use super::{Core, LOST_CHECK_TIMEOUT};
use crate::OrchestratorError;
use crate::launcher::{Job, Launcher};

impl<L: Launcher> Core<L> {
    /// Starts every scheduled source that is due and not running, every `tick`.
    pub(crate) async fn schedule_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.options.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let due: Vec<SourceId> = {
                let st = self.state();
                self.options
                    .scheduled
                    .iter()
                    .copied()
                    .filter(|id| {
                        let interval = st.schedule.interval(*id).unwrap_or(30);
                        st.sources
                            .get(id)
                            .and_then(|s| s.last_start)
                            .is_none_or(|t| now >= t + Duration::from_secs(u64::from(interval)))
                    })
                    .collect()
            };
            let mut due = due;
            for id in self.lost_statuses().await {
                if !due.contains(&id) {
                    tracing::info!(source = %id, "its status is gone from Redis (restarted empty?); polling it now");
                    due.push(id);
                }
            }
            for id in due {
                if self.try_start(Job::poll(id)).is_none() {
                    tracing::debug!(source = %id, "due but still running; not started again");
                }
            }
        }
    }

    /// The scheduled sources whose `status:{id}` was in Redis and no longer is: Redis restarted
    /// empty or lost its data (every poll writes the status, and it outlives three intervals).
    /// They are polled at once, so their readings are back within a second or two instead of at
    /// their next turn (five minutes for weather). A source is counted once per loss: until its
    /// status is seen in Redis again it is not counted again (so a run whose status never shows,
    /// e.g. a source container on another Redis, is not restarted every tick). Nothing while the
    /// bus is down.
    pub(crate) async fn lost_statuses(&self) -> Vec<SourceId> {
        let idle: Vec<SourceId> = {
            let st = self.state();
            self.options
                .scheduled
                .iter()
                .copied()
                .filter(|id| st.sources.get(id).is_some_and(|s| s.running.is_none()))
                .collect()
        };
        if idle.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = idle
            .iter()
            .map(|&id| keys::status(&self.bus.scope().source(id)))
            .collect();
        let Ok(Ok(statuses)) = tokio::time::timeout(LOST_CHECK_TIMEOUT, self.bus.mget(&keys)).await
        else {
            return Vec::new();
        };
        let mut st = self.state();
        let mut lost = Vec::new();
        for (id, status) in idle.into_iter().zip(statuses) {
            let Some(s) = st.sources.get_mut(&id) else {
                continue;
            };
            // A run started meanwhile writes its own status.
            if s.running.is_some() {
                continue;
            }
            if status.is_some() {
                s.status_seen = true;
                s.awaiting_status = false;
            } else {
                if s.status_seen && !s.awaiting_status {
                    s.awaiting_status = true;
                    lost.push(id);
                }
                s.status_seen = false;
            }
        }
        lost
    }

    /// Handles `config:changed` and `stream:ended`.
    pub(crate) async fn listen_loop(
        self: Arc<Self>,
        mut events: Subscription,
    ) -> Result<(), OrchestratorError> {
        loop {
            let message = tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                m = events.recv() => m.ok_or(OrchestratorError::BusClosed)?,
            };
            if message.channel == channels::CONFIG_CHANGED {
                let Ok(changed) = serde_json::from_str::<ConfigChanged>(&message.payload) else {
                    continue;
                };
                // Shared sections, and this node's own overrides; never another node's. (The
                // gateway reloads `auth` itself on the same notice.)
                let scope = self.bus.scope();
                if changed.concerns(scope, &[SectionName::Schedule, SectionName::Aranet4]) {
                    if let Err(e) = self.reload_schedule().await {
                        tracing::warn!(error = %e, "cannot read the new schedule");
                    }
                    self.changed.notify_one();
                } else if changed.concerns(scope, &[SectionName::Camera])
                    && self.state().camera.is_some()
                {
                    tracing::info!("camera config changed: restart the stream to apply it")
                }
            } else if message.channel == self.bus.scope().id(channels::STREAM_ENDED) {
                match serde_json::from_str::<StreamEnded>(&message.payload) {
                    Ok(ended) => {
                        // The camera that announced it, taken now: one started later is not it.
                        let generation = self.state().camera.as_ref().map(|c| c.generation);
                        tokio::spawn(Arc::clone(&self).stream_ended(ended, generation));
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed stream:ended"),
                }
            }
        }
    }
}
