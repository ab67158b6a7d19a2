//! The orchestrator's state: the schedule, runs and their bookkeeping, the status a failed run
//! leaves behind. The loops (`loops.rs`), the camera (`camera.rs`), the resident services
//! (`resident.rs`) and the health payload (`health.rs`) are `impl Core` blocks of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sense_bus::config::{self, Config, ScheduleConfig};
use sense_bus::keys::{self, channels};
use sense_bus::model::{PollOutcome, Status};
use sense_bus::store::{self, status_ttl, to_json};
use sense_bus::{Batch, Bus, BusError, SectionName, SourceId, unix_now};
use serde_json::{Map, Value as Json, json};
use tokio::sync::{Notify, OwnedMutexGuard, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::launcher::{Job, JobMode, Launcher, RunEnd, RunOutcome, seconds};
use crate::{EnvFn, OrchestratorOptions};

mod camera;
mod health;
mod loops;
mod resident;

/// The orchestrator's own status key.
pub const HEALTH_KEY: &str = "status:orchestrator";

/// The orchestrator's own id on the bus (`status:orchestrator`, `cmd:orchestrator`), scoped on a
/// named node like a source's: `orchestrator@kitchen`.
pub const ORCHESTRATOR: &str = "orchestrator";

/// A source counts as overdue when it has had no successful poll for this many intervals.
pub const OVERDUE_INTERVALS: u32 = 3;

/// How long `start_camera` watches a new camera for an immediate failure before answering.
const CAMERA_EARLY_EXIT: Duration = Duration::from_secs(1);

/// The longest back-off between restarts of a resident source that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a co2 run needs beyond its Bluetooth listening time (start-up, Redis, a GATT fallback).
pub const CO2_MARGIN: Duration = Duration::from_secs(15);

/// A resident source that ran this long before ending starts its back-off afresh.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// How long the schedule's look for lost statuses may wait on the bus: while Redis is away, the
/// look fails at this rather than holding the schedule for the bus's own timeout.
const LOST_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// One run, for the health payload.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunRecord {
    pub(crate) mode: JobMode,
    pub(crate) started_at: f64,
    pub(crate) ended_at: f64,
    pub(crate) exit_code: Option<i32>,
    /// `ok`, `partial`, `failed`, `not_built`, `timeout`, `stopped`, `launch_failed`.
    pub(crate) outcome: &'static str,
    pub(crate) error: Option<String>,
    pub(crate) log_tail: Vec<String>,
}

impl RunRecord {
    fn new(mode: JobMode, started_at: f64, outcome: &RunOutcome) -> RunRecord {
        RunRecord {
            mode,
            started_at,
            ended_at: unix_now(),
            exit_code: outcome.end.exit_code(),
            outcome: match outcome.end {
                RunEnd::Exited(0) => "ok",
                RunEnd::Exited(crate::launcher::EXIT_NOT_BUILT) => "not_built",
                RunEnd::Exited(_) => "failed",
                RunEnd::TimedOut(_) => "timeout",
                RunEnd::Stopped => "stopped",
                RunEnd::Failed(_) => "launch_failed",
            },
            error: outcome.error(),
            log_tail: outcome.log_tail.clone(),
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// Whether the run wrote readings: `ok`, or `partial` (exit 0, the status naming what failed).
    pub(crate) fn wrote_readings(&self) -> bool {
        matches!(self.outcome, "ok" | "partial")
    }

    fn to_json(&self) -> Json {
        let mut j = json!({
            "mode": self.mode.as_str(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": ((self.ended_at - self.started_at) * 1000.0).round() / 1000.0,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "error": self.error,
        });
        if !self.wrote_readings() && !self.log_tail.is_empty() {
            j["log_tail"] = json!(self.log_tail);
        }
        j
    }
}

/// A scheduled source's bookkeeping.
#[derive(Clone, Debug, Default)]
struct SourceState {
    /// When its last scheduled (or triggered) poll started: the schedule counts from there.
    last_start: Option<Instant>,
    /// What runs now and since when (Unix seconds).
    running: Option<(JobMode, f64)>,
    /// Runs started since boot (polls, scans, discoveries).
    launches: u64,
    last_run: Option<RunRecord>,
    /// When its last successful run ended (Unix seconds): what the orchestrator saw itself, so
    /// a Redis that comes back empty (no `status:{id}` until the next poll) does not make a
    /// healthy source look overdue.
    last_ok: Option<f64>,
    /// Whether `status:{id}` is believed to be in Redis: seen there, or written by a run that
    /// ended (see [`Core::lost_statuses`]).
    status_seen: bool,
    /// A lost status was acted on: no other loss is counted until it is seen in Redis again.
    awaiting_status: bool,
}

/// A long-running service (the camera, a resident source) while it runs.
#[derive(Clone, Debug)]
struct ServiceState {
    stop: CancellationToken,
    /// When it was started, or adopted (Unix seconds).
    started_at: f64,
    generation: u64,
    /// Taken over from a previous orchestrator rather than started here.
    adopted: bool,
}

/// A resident source's bookkeeping.
#[derive(Clone, Debug, Default)]
struct ResidentState {
    current: Option<ServiceState>,
    starts: u64,
    restart_requested: bool,
    backoff: Option<Duration>,
    last_run: Option<RunRecord>,
}

#[derive(Debug, Default)]
struct State {
    schedule: ScheduleConfig,
    /// `aranet4.timeout`: a co2 run listens this long, so it may run longer than others.
    aranet4_timeout: Duration,
    problems: Vec<String>,
    sources: BTreeMap<SourceId, SourceState>,
    camera: Option<ServiceState>,
    camera_generation: u64,
    camera_starts: u64,
    camera_last_run: Option<RunRecord>,
    residents: BTreeMap<SourceId, ResidentState>,
    health_writes: u64,
    overdue: BTreeSet<SourceId>,
}

/// Counts what is in flight (runs and services) while alive.
#[derive(Debug)]
pub(crate) struct InFlight(watch::Sender<usize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Everything the loops share.
pub(crate) struct Core<L> {
    pub(crate) bus: Bus,
    pub(crate) launcher: L,
    pub(crate) options: OrchestratorOptions,
    env: EnvFn,
    started_unix: f64,
    started: Instant,
    state: Mutex<State>,
    slots: BTreeMap<SourceId, Arc<tokio::sync::Mutex<()>>>,
    in_flight: watch::Sender<usize>,
    /// Cancelled when shutdown's grace is over: runs still going are killed.
    kill: CancellationToken,
    pub(crate) shutdown: CancellationToken,
    changed: Notify,
}

impl<L> std::fmt::Debug for Core<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

impl<L: Launcher> Core<L> {
    pub(crate) fn new(
        bus: Bus,
        launcher: L,
        options: OrchestratorOptions,
        env: EnvFn,
        shutdown: CancellationToken,
    ) -> Core<L> {
        let slots = SourceId::ALL
            .into_iter()
            .map(|id| (id, Arc::new(tokio::sync::Mutex::new(()))))
            .collect();
        Core {
            bus,
            launcher,
            options,
            env,
            started_unix: unix_now(),
            started: Instant::now(),
            state: Mutex::new(State::default()),
            slots,
            in_flight: watch::Sender::new(0),
            kill: CancellationToken::new(),
            shutdown,
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn in_flight(&self) -> InFlight {
        self.in_flight.send_modify(|n| *n += 1);
        InFlight(self.in_flight.clone())
    }

    fn interval_s(&self, id: SourceId) -> u32 {
        self.state().schedule.interval(id).unwrap_or(0)
    }

    /// Seeds `config:*` from the environment (SET NX) and logs what happened.
    ///
    /// This is `store::seed_config_from_env`, step by step: that function holds its (non-`Sync`)
    /// environment across awaits, which would make the orchestrator's future unfit for
    /// `tokio::spawn`.
    pub(crate) async fn seed(&self) -> Result<(), BusError> {
        for section in SectionName::ALL {
            let (fields, problems) = {
                let env = &*self.env;
                config::env_layer_by_name(section, &|v| env(v))
            };
            for p in problems {
                tracing::warn!(problem = %p, "environment config problem");
            }
            if fields.is_empty() {
                continue;
            }
            let names: Vec<String> = fields.keys().cloned().collect();
            let written = self
                .bus
                .set_nx(&keys::config(section), &Json::Object(fields).to_string())
                .await?;
            if written {
                tracing::info!(%section, fields = %names.join(", "), "config seeded from the environment");
            } else {
                tracing::info!(%section, "config already in Redis; the environment's values are left unused");
            }
        }
        Ok(())
    }

    /// Reads `config:schedule` and `config:aranet4` (with the environment and defaults) and
    /// applies them.
    pub(crate) async fn reload_schedule(&self) -> Result<(), BusError> {
        const SECTIONS: [SectionName; 2] = [SectionName::Schedule, SectionName::Aranet4];
        let texts = store::read_config_texts(&self.bus, &SECTIONS).await?;
        let env = &*self.env;
        let (config, problems) =
            Config::resolve(&SECTIONS, |s| texts.get(&s).cloned().flatten(), &|v| env(v));
        let mut st = self.state();
        for p in problems.iter().filter(|p| !st.problems.contains(p)) {
            tracing::warn!(problem = %p, "schedule problem");
        }
        if st.schedule != config.schedule || st.health_writes == 0 {
            let intervals: Vec<String> = self
                .options
                .scheduled
                .iter()
                .map(|&id| format!("{id} every {} s", config.schedule.interval(id).unwrap_or(0)))
                .collect();
            tracing::info!(schedule = %intervals.join(", "), "schedule in force");
        }
        st.schedule = config.schedule;
        st.aranet4_timeout = Duration::from_secs(u64::from(config.aranet4.timeout));
        st.problems = problems;
        Ok(())
    }

    /// How long `job` may run: the run or scan timeout, but for co2 at least its Bluetooth
    /// listening time (`aranet4.timeout`, up to 120 s) plus [`CO2_MARGIN`].
    fn timeout_of(&self, job: Job) -> Duration {
        let base = match job.mode {
            JobMode::Poll => self.options.run_timeout,
            _ => self.options.scan_timeout,
        };
        if job.source == SourceId::Co2 {
            base.max(self.state().aranet4_timeout + CO2_MARGIN)
        } else {
            base
        }
    }

    // ----- runs -----

    /// Starts `job` now unless a run of its source is in progress (`None` then).
    pub(crate) fn try_start(self: &Arc<Self>, job: Job) -> Option<JoinHandle<RunRecord>> {
        let guard = Arc::clone(&self.slots[&job.source]).try_lock_owned().ok()?;
        Some(self.spawn_run(job, guard))
    }

    /// Waits (up to `patience`) until no run of the source is in progress, runs `before` (still
    /// holding the slot), then starts `job`.
    pub(crate) async fn start_when_free(
        self: &Arc<Self>,
        job: Job,
        patience: Duration,
        before: impl Future<Output = ()>,
    ) -> Option<JoinHandle<RunRecord>> {
        let slot = Arc::clone(&self.slots[&job.source]);
        let guard = tokio::time::timeout(patience, slot.lock_owned())
            .await
            .ok()?;
        before.await;
        Some(self.spawn_run(job, guard))
    }

    fn spawn_run(self: &Arc<Self>, job: Job, guard: OwnedMutexGuard<()>) -> JoinHandle<RunRecord> {
        let started_unix = unix_now();
        let first_poll = {
            let mut st = self.state();
            let s = st.sources.entry(job.source).or_default();
            let first_poll = job.mode == JobMode::Poll && s.launches == 0;
            s.running = Some((job.mode, started_unix));
            s.launches += 1;
            if job.mode == JobMode::Poll {
                s.last_start = Some(Instant::now());
            }
            first_poll
        };
        self.changed.notify_one();
        let in_flight = self.in_flight();
        let timeout = self.timeout_of(job);
        let core = Arc::clone(self);
        tokio::spawn(async move {
            tracing::debug!(%job, "run started");
            if first_poll && let Err(e) = core.mark_first_poll(job.source).await {
                tracing::debug!(source = %job.source, error = %e, "cannot say that the first poll is under way");
            }
            let outcome = core
                .launcher
                .run_once(job, timeout, core.kill.clone())
                .await;
            let record = core.finish(job, started_unix, &outcome).await;
            drop(guard);
            drop(in_flight);
            record
        })
    }

    /// Says that `source`'s first poll is under way, when Redis holds no status of it (a first
    /// start): a status that has never polled (`poll_count` 0, `last_poll` null), so that until
    /// the poll ends (co2 listens for its monitors up to `aranet4.timeout`) it is a source
    /// running without data yet, not an unavailable one. Never over a status that is there.
    async fn mark_first_poll(&self, source: SourceId) -> Result<(), BusError> {
        let id = &self.bus.scope().source(source);
        let key = keys::status(id);
        let mut batch = Batch::new();
        batch.set(
            &key,
            to_json(&Status::new(id)),
            Some(status_ttl(self.interval_s(source))),
        );
        batch.publish(
            channels::data(id),
            json!({"source_id": id, "timestamp": unix_now()}).to_string(),
        );
        self.bus
            .apply_if(&[sense_bus::Guard::holds(key.clone(), None)], &batch)
            .await
            .map(drop)
    }

    /// Books a run's end, and writes `status:{id}` when the run could not.
    async fn finish(&self, job: Job, started_unix: f64, outcome: &RunOutcome) -> RunRecord {
        let mut record = RunRecord::new(job.mode, started_unix, outcome);
        // A poll that exits 0 may have been partial (a monitor not heard): its status says so.
        if job.mode == JobMode::Poll
            && record.ok()
            && let Some(error) = self.partial_error(job.source, started_unix).await
        {
            record.outcome = "partial";
            record.error = Some(error);
        }
        match (&record.error, record.outcome) {
            (None, _) => tracing::debug!(%job, "run ended"),
            // The source warned itself, when the failing part changed; not again every run.
            (Some(e), "partial") => tracing::debug!(%job, error = %e, "run ended, in part"),
            (Some(_), "not_built") => {
                tracing::info!(%job, "this build has no such source yet (exit 4)");
                // It will never poll: no status says its first poll is under way.
                let id = &self.bus.scope().source(job.source);
                let key = keys::status(id);
                let mut batch = Batch::new();
                batch.del(&key);
                let waiting = to_json(&Status::new(id));
                let _ = self
                    .bus
                    .apply_if(&[sense_bus::Guard::holds(key, Some(&waiting))], &batch)
                    .await;
            }
            (Some(e), _) => tracing::warn!(%job, error = %e, "run failed"),
        }
        if job.mode == JobMode::Poll
            && !matches!(record.outcome, "not_built" | "partial")
            && let Some(error) = &record.error
        {
            // A child that got as far as its poll wrote its own status (exit 1); one killed,
            // never started, or unable to reach Redis did not.
            let since = match outcome.end {
                RunEnd::TimedOut(_) | RunEnd::Failed(_) => None,
                RunEnd::Exited(_) | RunEnd::Stopped => Some(started_unix),
            };
            if let Err(e) = self.record_error(job.source, error, since).await {
                tracing::warn!(source = %job.source, error = %e, "cannot record the failure in the status");
            }
        }
        {
            let mut st = self.state();
            let s = st.sources.entry(job.source).or_default();
            s.running = None;
            if record.wrote_readings() {
                s.last_ok = Some(record.ended_at);
            }
            // A poll that ran (exit 0, or 1 with its error status) wrote its status.
            if job.mode == JobMode::Poll && matches!(outcome.end, RunEnd::Exited(0 | 1)) {
                s.status_seen = true;
            }
            s.last_run = Some(record.clone());
        }
        self.changed.notify_one();
        record
    }

    /// `last_error` of `source`'s status when the poll that started at `since` wrote it with
    /// `outcome: partial`.
    async fn partial_error(&self, source: SourceId, since: f64) -> Option<String> {
        let text = match self
            .bus
            .get(&keys::status(&self.bus.scope().source(source)))
            .await
        {
            Ok(text) => text?,
            Err(e) => {
                tracing::debug!(%source, error = %e, "cannot read the status of the run");
                return None;
            }
        };
        let status: Status = serde_json::from_str(&text).ok()?;
        (status.outcome() == PollOutcome::Partial && status.last_poll.is_some_and(|t| t >= since))
            .then_some(status.last_error)
            .flatten()
    }

    /// Writes `error` as the last poll's outcome of `source`, counting it as a failed poll like
    /// the source's own runner does: the counters live in `state:{id}` under `runner` (see
    /// `sense-runtime`'s runner), so they are read and written back there too, and the next run
    /// carries on from them. Skipped when the status was written at or after `since` (the run
    /// wrote it itself).
    pub(crate) async fn record_error(
        &self,
        source: SourceId,
        error: &str,
        since: Option<f64>,
    ) -> Result<(), BusError> {
        let id = &self.bus.scope().source(source);
        let (status_key, state_key) = (keys::status(id), keys::state(id));
        let values = self
            .bus
            .mget(&[status_key.clone(), state_key.clone()])
            .await?;
        let previous: Option<Status> = values[0]
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        if let (Some(since), Some(last_poll)) = (since, previous.as_ref().and_then(|s| s.last_poll))
            && last_poll >= since
        {
            return Ok(());
        }
        let mut state: Map<String, Json> = values[1]
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let mut runner = match state.remove("runner") {
            Some(Json::Object(m)) => m,
            _ => Map::new(),
        };
        let count =
            |key: &str, fallback: u64| runner.get(key).and_then(Json::as_u64).unwrap_or(fallback);
        let poll_count = count("poll_count", previous.as_ref().map_or(0, |s| s.poll_count)) + 1;
        let error_count = count(
            "error_count",
            previous.as_ref().map_or(0, |s| s.error_count),
        ) + 1;
        let last_success = runner
            .get("last_success")
            .and_then(Json::as_f64)
            .or_else(|| previous.as_ref().and_then(|s| s.last_success));
        runner.insert("poll_count".into(), json!(poll_count));
        runner.insert("error_count".into(), json!(error_count));
        runner.insert("last_success".into(), json!(last_success));
        state.insert("runner".into(), Json::Object(runner));
        // Fields this does not know of (warnings, ...) stay as the source last wrote them.
        let mut status = previous.unwrap_or_else(|| Status::new(id));
        status.last_poll = Some(unix_now());
        status.last_success = last_success;
        status.last_error = Some(error.to_owned());
        status.outcome = Some(PollOutcome::Failed);
        status.poll_count = poll_count;
        status.error_count = error_count;
        let mut batch = Batch::new();
        batch.set(
            &status_key,
            to_json(&status),
            Some(status_ttl(self.interval_s(source))),
        );
        batch.set(&state_key, Json::Object(state).to_string(), None);
        self.bus.apply(&batch).await
    }

    /// Waits until nothing is in flight, up to `limit`. Whether it got there.
    pub(crate) async fn drain(&self, limit: Duration) -> bool {
        let mut rx = self.in_flight.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|n| *n == 0))
            .await
            .is_ok()
    }

    /// After shutdown: lets runs finish within the grace, then kills what is left.
    pub(crate) async fn wind_down(&self) {
        let grace = self.options.shutdown_grace;
        let busy = *self.in_flight.borrow();
        if busy > 0 {
            tracing::info!(
                runs = busy,
                "waiting up to {} for runs to end",
                seconds(grace)
            );
        }
        if !self.drain(grace).await {
            tracing::warn!("runs still going after the grace; killing them");
            self.kill.cancel();
            self.drain(Duration::from_secs(5)).await;
        }
    }
}
