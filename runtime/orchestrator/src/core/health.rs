//! The orchestrator's health: `status:orchestrator`, a valid `Status` with every source's runs,
//! written every `health_interval`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sense_bus::keys;
use sense_bus::model::{NodeRecord, Status};
use sense_bus::store::to_json;
use sense_bus::{Batch, BusError, NodeName, SourceId, unix_now};
use serde_json::{Map, Value as Json, json};
use tokio::time::Instant;

use sense_bus::ids::Lifecycle;

use super::{Core, ORCHESTRATOR, OVERDUE_INTERVALS, RunRecord};
use crate::launcher::Launcher;

impl<L: Launcher> Core<L> {
    /// Writes `status:orchestrator` every health interval and soon after runs start or end;
    /// re-reads the schedule on each interval (in case a `config:changed` was missed).
    pub(crate) async fn health_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.options.health_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.reload_schedule().await {
                        tracing::debug!(error = %e, "cannot re-read the schedule");
                    }
                }
                () = self.changed.notified() => {
                    // Let a burst of changes (boot) settle into one write.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            if let Err(e) = self.write_health().await {
                tracing::warn!(error = %e, "cannot write status:orchestrator");
            }
        }
    }

    /// The health payload: a valid `Status` (so status readers take it) plus every source's runs.
    pub(crate) async fn health(&self) -> Result<Json, BusError> {
        let scheduled = &self.options.scheduled;
        let keys: Vec<String> = scheduled
            .iter()
            .map(|&id| keys::status(&self.bus.scope().source(id)))
            .collect();
        let statuses = self.bus.mget(&keys).await?;
        let now = unix_now();
        let mut st = self.state();
        st.health_writes += 1;
        let mut sources = Map::new();
        let mut overdue_now = BTreeSet::new();
        for (&id, status) in scheduled.iter().zip(statuses) {
            let status: Option<Status> = status.and_then(|t| serde_json::from_str(&t).ok());
            let seen_ok = st.sources.get(&id).and_then(|s| s.last_ok);
            // The later of the source's own word and a run the orchestrator saw succeed.
            let last_success = match (status.as_ref().and_then(|s| s.last_success), seen_ok) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let interval = st.schedule.interval(id).unwrap_or(30);
            // No success for three intervals, and up for at least that long.
            let limit = f64::from(interval.saturating_mul(OVERDUE_INTERVALS));
            let overdue = self.started.elapsed().as_secs_f64() > limit
                && last_success.is_none_or(|t| now - t > limit);
            if overdue {
                overdue_now.insert(id);
            }
            let s = st.sources.get(&id).cloned().unwrap_or_default();
            let next_run_in_s = match (&s.running, s.last_start) {
                (Some(_), _) => None,
                (None, None) => Some(0.0),
                (None, Some(t)) => {
                    let next = t + Duration::from_secs(u64::from(interval));
                    Some(
                        next.saturating_duration_since(Instant::now())
                            .as_secs_f64()
                            .round(),
                    )
                }
            };
            sources.insert(
                id.as_str().to_owned(),
                json!({
                    "lifecycle": "scheduled",
                    "interval_s": interval,
                    "running": s.running.map(|(mode, since)| json!({"mode": mode.as_str(), "since": since})),
                    "launches": s.launches,
                    "last_run": s.last_run.as_ref().map(RunRecord::to_json),
                    "next_run_in_s": next_run_in_s,
                    "last_success": last_success,
                    "overdue": overdue,
                }),
            );
        }
        // Sources that are not scheduled but ran (triggered, scanned).
        for (id, s) in &st.sources {
            if !sources.contains_key(id.as_str()) {
                sources.insert(
                    id.as_str().to_owned(),
                    json!({
                        "lifecycle": lifecycle_name(*id),
                        "running": s.running.map(|(mode, since)| json!({"mode": mode.as_str(), "since": since})),
                        "launches": s.launches,
                        "last_run": s.last_run.as_ref().map(RunRecord::to_json),
                    }),
                );
            }
        }
        for (id, r) in &st.residents {
            sources.insert(
                id.as_str().to_owned(),
                json!({
                    "lifecycle": "resident",
                    "running": r.current.as_ref().map(|c| json!({"mode": "service", "since": c.started_at})),
                    "launches": r.starts,
                    "backoff_s": r.backoff.map(|b| b.as_secs_f64()),
                    "last_run": r.last_run.as_ref().map(RunRecord::to_json),
                }),
            );
        }
        let camera = sources
            .entry(SourceId::NetworkCamera.as_str())
            .or_insert_with(|| json!({"lifecycle": "on_demand"}));
        camera["lifecycle"] = json!("on_demand");
        camera["stream"] = json!({
            "running": st.camera.is_some(),
            "since": st.camera.as_ref().map(|c| c.started_at),
            // Taken over from a previous orchestrator: started before this one (`since` is
            // when it was adopted).
            "adopted": st.camera.as_ref().is_some_and(|c| c.adopted),
            "starts": st.camera_starts,
            "last_run": st.camera_last_run.as_ref().map(RunRecord::to_json),
        });
        for id in overdue_now.difference(&st.overdue) {
            tracing::warn!(source = %id, "overdue: no successful poll for {OVERDUE_INTERVALS} intervals");
        }
        for id in st.overdue.difference(&overdue_now) {
            tracing::info!(source = %id, "no longer overdue");
        }
        let last_error = (!overdue_now.is_empty()).then(|| {
            let names: Vec<&str> = overdue_now.iter().map(|id| id.as_str()).collect();
            format!("overdue: {}", names.join(", "))
        });
        st.overdue = overdue_now;
        let running: Vec<&str> = st
            .sources
            .iter()
            .filter(|(_, s)| s.running.is_some())
            .map(|(id, _)| id.as_str())
            .collect();
        Ok(json!({
            "source_id": self.bus.scope().id(ORCHESTRATOR),
            "node": self.bus.scope().name().map(NodeName::as_str),
            "last_poll": now,
            "last_success": now,
            "last_error": last_error,
            "poll_count": st.health_writes,
            "error_count": 0,
            "warnings": st.problems,
            "launcher": self.launcher.kind(),
            "started_at": self.started_unix,
            "uptime_s": (now - self.started_unix).round(),
            "schedule": st.schedule,
            "running": running,
            "sources": sources,
        }))
    }

    /// Writes `status:orchestrator` (`status:orchestrator@kitchen` on a named node) and, on a
    /// named node, its `node:{name}` record: the hub's word that the node is in contact.
    pub(crate) async fn write_health(&self) -> Result<(), BusError> {
        let health = self.health().await?;
        let ttl = (self.options.health_interval * 3).max(Duration::from_secs(60));
        let scope = self.bus.scope();
        let mut batch = Batch::new();
        batch.set(
            keys::status(&scope.id(ORCHESTRATOR)),
            health.to_string(),
            Some(ttl),
        );
        if let Some(node) = scope.name() {
            let st = self.state();
            let mut sources: Vec<String> = self
                .options
                .scheduled
                .iter()
                .chain(&self.options.resident)
                .chain(st.sources.keys())
                .map(|&id| scope.source(id))
                .collect();
            sources.push(scope.id(ORCHESTRATOR));
            sources.sort();
            sources.dedup();
            let record = NodeRecord {
                name: node.to_string(),
                room: node.room(),
                last_contact: unix_now(),
                interval_s: self.options.health_interval.as_secs_f64(),
                sources,
                version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            batch.set(keys::node(node), to_json(&record), None);
        }
        self.bus.apply(&batch).await
    }
}

fn lifecycle_name(id: SourceId) -> &'static str {
    match id.lifecycle() {
        Lifecycle::Scheduled => "scheduled",
        Lifecycle::Resident => "resident",
        Lifecycle::OnDemand => "on_demand",
    }
}
