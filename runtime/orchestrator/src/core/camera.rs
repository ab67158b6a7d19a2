//! The camera: started on demand, one stream at a time, stopped when its stream ends.

use std::sync::Arc;
use std::time::Duration;

use sense_bus::keys;
use sense_bus::model::{Status, StreamEnded};
use sense_bus::store::status_ttl;
use sense_bus::{BusError, SourceId, unix_now};
use serde_json::{Map, Value as Json, json};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{CAMERA_EARLY_EXIT, Core, RunRecord, ServiceState};
use crate::launcher::{Job, JobMode, Launcher, ServiceRun};

impl<L: Launcher> Core<L> {
    /// At start: takes over the camera a previous orchestrator (killed, restarted) left
    /// streaming, so the stream keeps playing and `stop_camera` stops it; the launcher clears
    /// what else it left ([`Launcher::recover`]).
    pub(crate) async fn recover(self: &Arc<Self>) {
        let stop = self.shutdown.child_token();
        let adopt = vec![(SourceId::NetworkCamera, stop.clone())];
        for (source, run) in self.launcher.recover(adopt).await {
            if source != SourceId::NetworkCamera {
                continue;
            }
            let Some(generation) = self.claim_camera(stop.clone(), true) else {
                continue;
            };
            tracing::info!(
                "the camera a previous orchestrator left streaming is adopted: it keeps running"
            );
            drop(self.watch_camera(run, generation, unix_now()));
        }
    }

    /// Books a camera as running, stopped by `stop`: its generation, or `None` when one runs.
    fn claim_camera(&self, stop: CancellationToken, adopted: bool) -> Option<u64> {
        let mut st = self.state();
        if st.camera.is_some() {
            return None;
        }
        st.camera_generation += 1;
        if !adopted {
            st.camera_starts += 1;
        }
        let generation = st.camera_generation;
        st.camera = Some(ServiceState {
            stop,
            started_at: unix_now(),
            generation,
            adopted,
        });
        drop(st);
        self.changed.notify_one();
        Some(generation)
    }

    /// Starts the camera stream unless it runs. `Ok(true)` when it was already running.
    pub(crate) async fn start_camera(self: &Arc<Self>) -> Result<bool, String> {
        let stop = self.shutdown.child_token();
        let Some(generation) = self.claim_camera(stop.clone(), false) else {
            return Ok(true);
        };
        let started_unix = unix_now();
        let job = Job::service(SourceId::NetworkCamera);
        let run = match self.launcher.start_service(job, stop).await {
            Ok(run) => run,
            Err(e) => {
                self.camera_gone(generation, None);
                let _ = self.record_error(SourceId::NetworkCamera, &e.0, None).await;
                return Err(e.0);
            }
        };
        tracing::info!("camera started");
        let rx = self.watch_camera(run, generation, started_unix);
        match tokio::time::timeout(CAMERA_EARLY_EXIT, rx).await {
            Ok(Ok(record)) if record.outcome == "not_built" => Err(format!(
                "the camera is not available in this build ({})",
                record.error.unwrap_or_default()
            )),
            Ok(Ok(record)) if !record.ok() => Err(format!(
                "the camera stopped at once: {}",
                record.error.unwrap_or_default()
            )),
            _ => Ok(false),
        }
    }

    /// Follows the camera's `run` to its end, and books it: its record, when it ends.
    fn watch_camera(
        self: &Arc<Self>,
        run: ServiceRun,
        generation: u64,
        started_unix: f64,
    ) -> oneshot::Receiver<RunRecord> {
        let (tx, rx) = oneshot::channel();
        let core = Arc::clone(self);
        let in_flight = self.in_flight();
        tokio::spawn(async move {
            let outcome = run.await;
            let record = RunRecord::new(JobMode::Service, started_unix, &outcome);
            match &record.error {
                Some(error) => tracing::info!("camera ended ({}): {error}", record.outcome),
                None => tracing::info!("camera ended ({})", record.outcome),
            }
            core.camera_gone(generation, Some(record.clone()));
            if !matches!(record.outcome, "ok" | "stopped" | "not_built")
                && let Some(error) = &record.error
            {
                let _ = core
                    .record_error(SourceId::NetworkCamera, error, Some(started_unix))
                    .await;
            }
            let _ = tx.send(record);
            drop(in_flight);
        });
        rx
    }

    fn camera_gone(&self, generation: u64, record: Option<RunRecord>) {
        let mut st = self.state();
        if st
            .camera
            .as_ref()
            .is_some_and(|c| c.generation == generation)
        {
            st.camera = None;
        }
        if record.is_some() {
            st.camera_last_run = record;
        }
        drop(st);
        self.changed.notify_one();
    }

    /// Whether the camera runs (as far as the orchestrator knows).
    pub(crate) fn camera_running(&self) -> bool {
        self.state().camera.is_some()
    }

    /// Stops the camera the hard way (it did not take the `stop` command). Whether it ran.
    pub(crate) fn stop_camera_service(&self) -> bool {
        match self.state().camera.as_ref() {
            Some(c) => {
                c.stop.cancel();
                true
            }
            None => false,
        }
    }

    /// Waits up to `limit` for the camera to be gone.
    pub(crate) async fn camera_stopped(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.camera_running() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// `stream:ended`: makes sure the camera that announced it (`ended_generation`, the one that
    /// ran when it came; `None`: it was gone already) is gone, and records why in its status. A
    /// camera started since (Start right after Stop, Restart) is left running.
    pub(super) async fn stream_ended(
        self: Arc<Self>,
        ended: StreamEnded,
        ended_generation: Option<u64>,
    ) {
        tracing::info!(reason = %ended.reason, "the camera stream ended");
        // The camera exits by itself after announcing it; give it time to.
        tokio::select! {
            () = tokio::time::sleep(self.options.camera_cleanup_delay) => {}
            () = self.shutdown.cancelled() => return,
        }
        let current = self
            .state()
            .camera
            .as_ref()
            .map(|c| (c.generation, c.stop.clone()));
        match current {
            Some((generation, stop)) if Some(generation) == ended_generation => {
                tracing::info!("the camera is still running after stream:ended; stopping it");
                stop.cancel();
                self.camera_stopped(Duration::from_secs(20)).await;
            }
            Some(_) => tracing::info!("a camera started since the stream ended; it keeps running"),
            None => {
                if let Err(e) = self.launcher.clean_up(SourceId::NetworkCamera).await {
                    tracing::warn!(error = %e, "cannot clean up the camera");
                }
            }
        }
        if let Err(e) = self.record_stream_end(&ended).await {
            tracing::warn!(error = %e, "cannot record the end of the stream");
        }
    }

    /// Adds `stream_ended` (`{reason, timestamp}`) to `status:network_camera`, keeping what the
    /// camera wrote; a reason other than `user_stopped` becomes `last_error` when none is set.
    async fn record_stream_end(&self, ended: &StreamEnded) -> Result<(), BusError> {
        let id = &self.bus.scope().source(SourceId::NetworkCamera);
        let key = keys::status(id);
        let mut status = match self
            .bus
            .get(&key)
            .await?
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
        {
            Some(Json::Object(m)) => m,
            _ => match serde_json::to_value(Status::new(id)) {
                Ok(Json::Object(m)) => m,
                _ => Map::new(),
            },
        };
        status.insert(
            "stream_ended".into(),
            json!({"reason": ended.reason, "timestamp": ended.timestamp}),
        );
        if ended.reason != "user_stopped" && status.get("last_error").is_none_or(Json::is_null) {
            status.insert(
                "last_error".into(),
                json!(format!("stream ended: {}", ended.reason)),
            );
        }
        self.bus
            .set(&key, &Json::Object(status).to_string(), Some(status_ttl(0)))
            .await
    }
}
