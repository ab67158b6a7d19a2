//! Runs a source and writes what it measured to the bus, as the contract says.
//!
//! One poll, whether one-shot or resident:
//!
//! 1. read the config sections the source uses (plus `global` and `schedule`) and, on the first
//!    poll, `state:{id}`, all in one `MGET`;
//! 2. poll the source;
//! 3. write, in one atomic batch: each reading with a TTL of at least twice the interval, the
//!    status (counters carried over from the previous run, `last_error` naming the cause, config
//!    problems as `warnings`) with a TTL of at least three intervals, `meta:{id}`, `state:{id}`,
//!    and the `data:{id}` notice.
//!
//! Resident mode repeats this on the schedule interval, polls again at once when a section it
//! reads changes (`config:changed`), keeps measuring while Redis is away and delivers the latest
//! poll as soon as Redis is back, and stops cleanly when its token is cancelled.

use std::sync::Arc;
use std::time::Duration;

use sense_bus::config::Config;
use sense_bus::keys::{self, channels};
use sense_bus::model::Reading;
use sense_bus::model::{ConfigChanged, Meta, PollOutcome, Status};
use sense_bus::source::{Inputs, PollContext, Source};
use sense_bus::store::{self, PollWrite};
use sense_bus::{Batch, Bus, BusError, SectionName, Subscription, Topic, unix_now};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Env;

/// How often a failed write is retried in resident mode while Redis is away.
pub const WRITE_RETRY: Duration = Duration::from_secs(1);
/// How often a resident source checks the bus between polls.
pub const BUS_CHECK: Duration = Duration::from_secs(1);
/// A resident source whose poll lacked one of its inputs (another source's reading not in Redis
/// yet: the `system` source's first poll at start, or Redis came back empty) polls again this
/// soon instead of a whole interval later, up to [`INPUT_RETRIES`] times in a row: the Sense
/// HAT's compensated temperature then follows the CPU temperature within a second or two.
pub const INPUT_RETRY: Duration = Duration::from_secs(1);
/// See [`INPUT_RETRY`]; after these, an input that stays missing waits for the usual interval.
pub const INPUT_RETRIES: u32 = 10;

/// The runner's own memory between runs (in `state:{id}` under `runner`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Counters {
    #[serde(default)]
    poll_count: u64,
    #[serde(default)]
    error_count: u64,
    #[serde(default)]
    last_success: Option<f64>,
    /// The config problems already logged: each is logged once until it changes, also across
    /// the one-poll processes the orchestrator starts (the status keeps listing them).
    #[serde(default)]
    problems_logged: Vec<String>,
    /// The previous poll's error: a partial poll that fails the same way again is not logged
    /// again (the status keeps saying it).
    #[serde(default)]
    last_error: Option<String>,
}

/// What one poll produced.
#[derive(Clone, Debug, PartialEq)]
pub struct PollReport {
    /// The status written.
    pub status: Status,
    /// How many readings were written.
    pub readings: usize,
    /// The previous poll ended with the same error (or with none, like this one).
    pub same_as_before: bool,
}

impl PollReport {
    /// How the poll went (`status.outcome`).
    pub fn outcome(&self) -> PollOutcome {
        self.status.outcome()
    }

    /// Whether the poll failed as a whole: no fresh readings (see `status.last_error`).
    pub fn failed(&self) -> bool {
        self.outcome() == PollOutcome::Failed
    }

    /// Whether the poll wrote readings but something failed (see `status.last_error` and
    /// `status.missing`).
    pub fn partial(&self) -> bool {
        self.outcome() == PollOutcome::Partial
    }

    /// Logs a partial poll when it does not fail as the previous poll did: a monitor out of
    /// range for a day is one warning, not one a minute (the status says it all along). A
    /// failed poll is for the caller to log.
    pub fn log_partial(&self, source: &str) {
        if self.partial()
            && !self.same_as_before
            && let Some(error) = &self.status.last_error
        {
            tracing::warn!(source = %source, readings = self.readings, %error, "poll partly failed; the other readings written");
        }
    }
}

/// Drives one source.
pub struct Runner<S: Source> {
    bus: Bus,
    /// The source's id on the bus: `S::ID`, scoped to the bus's node (`sensors@kitchen`).
    id: String,
    source: S,
    env: Env,
    sections: Vec<SectionName>,
    config: Config,
    problems: Vec<String>,
    inputs: Inputs,
    /// `None` until `state:{id}` has been read; afterwards memory is the authority, so a Redis
    /// that restarts empty does not reset the counters of a resident source.
    remembered: Option<(Counters, S::State)>,
    /// Overrides the schedule's interval (the camera writes its state every 5 s).
    every: Option<Duration>,
    /// Polls at once when notified (the camera, when its stream changes state).
    wake: Option<Arc<Notify>>,
}

impl<S: Source> std::fmt::Debug for Runner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("source", &S::ID)
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

impl<S: Source> Runner<S> {
    /// A runner of `source` on `bus`, reading the environment through `env`.
    pub fn new(bus: Bus, source: S, env: Env) -> Self {
        let mut sections = vec![SectionName::Global, SectionName::Schedule];
        for s in S::SECTIONS {
            if !sections.contains(s) {
                sections.push(*s);
            }
        }
        Runner {
            id: bus.scope().source(S::ID),
            bus,
            source,
            env,
            sections,
            config: Config::default(),
            problems: Vec::new(),
            inputs: Inputs::new(),
            remembered: None,
            every: None,
            wake: None,
        }
    }

    /// Polls every `interval` whatever the schedule says (`meta` still reports the schedule's).
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = Some(interval);
        self
    }

    /// Also polls, in resident mode, whenever `wake` is notified.
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// The poll interval: the one set by [`every`](Self::every), else the config's (30 s for a
    /// source without one).
    pub fn interval(&self) -> Duration {
        if let Some(every) = self.every {
            return every;
        }
        Duration::from_secs(u64::from(
            self.config.schedule.interval(S::ID).unwrap_or(30),
        ))
    }

    /// The source's id on the bus (`sensors`, or `sensors@kitchen` on a named node).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Reads config, the source's inputs (and, the first time, the remembered state) in one round
    /// trip. On failure the previous config and inputs stay in force.
    pub async fn refresh(&mut self) -> Result<(), BusError> {
        let scope = self.bus.scope().clone();
        let mut keys = store::config_keys(&scope, &self.sections);
        let config_count = keys.len();
        // Inputs are this Pi's: the Sense HAT's heat compensation needs its own CPU's temperature.
        keys.extend(
            S::INPUTS
                .iter()
                .map(|(source, sensor)| keys::reading(&scope.source(*source), sensor)),
        );
        let first = self.remembered.is_none();
        if first {
            keys.push(keys::state(&self.id));
        }
        let mut values = self.bus.mget(&keys).await?;
        if first {
            let state = values.pop().flatten();
            self.remembered = Some(decode_state::<S::State>(state.as_deref()));
        }
        let mut inputs = Inputs::new();
        let input_values = values.iter().skip(config_count);
        for ((source, sensor), text) in S::INPUTS.iter().zip(input_values) {
            if let Some(reading) = text
                .as_deref()
                .and_then(|t| serde_json::from_str::<Reading>(t).ok())
            {
                inputs.insert(*source, sensor, reading);
            }
        }
        self.inputs = inputs;
        values.truncate(config_count);
        let texts = store::config_texts(&scope, &self.sections, &values);
        let stored = |s: SectionName| texts.get(&s).cloned().flatten();
        let env = &self.env;
        let (config, problems) = Config::resolve(&self.sections, stored, &|name| env.get(name));
        let logged = self
            .remembered
            .as_ref()
            .map(|(counters, _)| counters.problems_logged.as_slice())
            .unwrap_or_default();
        for p in problems
            .iter()
            .filter(|p| !self.problems.contains(p) && !logged.contains(p))
        {
            tracing::warn!(source = %self.id, problem = %p, "config problem");
        }
        self.config = config;
        self.problems = problems;
        Ok(())
    }

    /// Polls the source and prepares the write. Never fails: a failed poll is a status to write.
    pub async fn poll(&mut self) -> (PollReport, Batch) {
        let (mut counters, mut state) = self.remembered.take().unwrap_or_default();
        let started = std::time::Instant::now();
        let context = PollContext::new(&self.config, &self.inputs);
        let result = self.source.poll(context, &mut state).await;
        let now = unix_now();
        let (measurements, error, measured_at, stale, missing) = match result {
            Ok(out) => (
                out.measurements,
                out.error,
                out.measured_at,
                out.stale,
                out.missing,
            ),
            Err(e) => (Vec::new(), Some(e.0), None, false, Vec::new()),
        };
        // Partial: fresh readings written, something else failed. Stale data is no fresh reading.
        let outcome = match (&error, measurements.is_empty() || stale) {
            (None, _) => PollOutcome::Ok,
            (Some(_), false) => PollOutcome::Partial,
            (Some(_), true) => PollOutcome::Failed,
        };
        let same_as_before = counters.last_error == error;
        counters.last_error.clone_from(&error);
        counters.poll_count += 1;
        counters.problems_logged.clone_from(&self.problems);
        if error.is_some() {
            counters.error_count += 1;
        }
        // Old data shown in place of new is no success.
        if !measurements.is_empty() && !stale {
            counters.last_success = Some(now);
        }
        let status = Status {
            source_id: self.id.clone(),
            last_poll: Some(now),
            last_success: counters.last_success,
            last_error: error,
            poll_count: counters.poll_count,
            error_count: counters.error_count,
            warnings: self.problems.clone(),
            stale,
            outcome: Some(outcome),
            missing,
            link: None,
        };
        let interval = self.config.schedule.interval(S::ID).unwrap_or(0);
        let meta = Meta {
            source_id: self.id.clone(),
            name: S::ID.display_name().to_owned(),
            description: S::ID.description().to_owned(),
            refresh_interval: interval,
            enabled: self.source.enabled(&self.config),
        };
        let persisted = serde_json::json!({ "runner": counters, "source": state });
        let persisted = persisted.to_string();
        let batch = PollWrite {
            source: &self.id,
            measurements: &measurements,
            timestamp: measured_at.unwrap_or(now),
            status: &status,
            meta: &meta,
            state: Some(&persisted),
            interval_s: interval.max(1),
            cache_ttl_s: self.config.global.cache_ttl,
        }
        .batch();
        tracing::debug!(
            source = %self.id,
            readings = measurements.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "polled"
        );
        self.remembered = Some((counters, state));
        (
            PollReport {
                status,
                readings: measurements.len(),
                same_as_before,
            },
            batch,
        )
    }

    /// One complete run: read config, poll, write. `Err` only when the bus fails (then nothing,
    /// not even the status, could be written).
    pub async fn run_once(&mut self) -> Result<PollReport, BusError> {
        self.refresh().await?;
        let (report, batch) = self.poll().await;
        self.bus.apply(&batch).await?;
        Ok(report)
    }

    /// Runs until `shutdown` is cancelled: a poll every interval, and one at once when a section
    /// this source reads changes. Survives Redis going away: measurements continue, and the
    /// latest is written within about a second of Redis coming back. Gives the runner back, for a
    /// last [`run_once`](Self::run_once).
    pub async fn run_resident(mut self, shutdown: CancellationToken) -> Self {
        let woken = self.wake.clone();
        let mut changes: Option<Subscription> = None;
        let mut bus_down = false;
        let mut input_retries = 0;
        let status_key = keys::status(&self.id);
        tracing::info!(source = %self.id, bus = %self.bus.describe(), "running");
        while !shutdown.is_cancelled() {
            if changes.is_none() {
                changes = self
                    .bus
                    .subscribe(&[Topic::channel(channels::CONFIG_CHANGED)])
                    .await
                    .ok();
            }
            // While writes fail, do not wait on a config read that would fail too.
            if !bus_down && let Err(e) = self.refresh().await {
                tracing::warn!(source = %self.id, error = %e, "cannot read config; keeping the last known");
            }
            let (report, batch) = self.poll().await;
            if report.failed()
                && let Some(e) = &report.status.last_error
            {
                tracing::warn!(source = %self.id, error = %e, "poll failed");
            }
            report.log_partial(&self.id);
            let missing_input = S::INPUTS
                .iter()
                .any(|(source, sensor)| self.inputs.get(*source, sensor).is_none());
            let quick = missing_input && !bus_down && input_retries < INPUT_RETRIES;
            input_retries = if missing_input { input_retries + 1 } else { 0 };
            let next_poll = Instant::now() + if quick { INPUT_RETRY } else { self.interval() };
            let mut pending = Some(batch);
            loop {
                if let Some(batch) = &pending {
                    match self.bus.apply(batch).await {
                        Ok(()) => {
                            pending = None;
                            if std::mem::take(&mut bus_down) {
                                tracing::info!(source = %self.id, "bus is back; readings written");
                            }
                        }
                        Err(e) if !bus_down => {
                            bus_down = true;
                            tracing::warn!(source = %self.id, error = %e, "cannot write; retrying every second");
                        }
                        Err(_) => {}
                    }
                }
                let wake = if pending.is_some() {
                    (Instant::now() + WRITE_RETRY).min(next_poll)
                } else {
                    (Instant::now() + BUS_CHECK).min(next_poll)
                };
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep_until(wake) => {
                        if Instant::now() >= next_poll { break }
                        // Between polls, watch the bus: a Redis that comes back (empty,
                        // perhaps) gets this source's readings at once, not at its next poll.
                        // The status is what is looked at: a Redis restarted between two looks
                        // (never seen down) has lost it too.
                        if pending.is_none() {
                            match self.bus.get(&status_key).await {
                                Err(e) if !bus_down => {
                                    bus_down = true;
                                    tracing::warn!(source = %self.id, error = %e, "the bus does not answer; polling again as soon as it does");
                                }
                                Ok(_) if bus_down => {
                                    bus_down = false;
                                    tracing::info!(source = %self.id, "bus is back; polling now");
                                    break;
                                }
                                Ok(None) => {
                                    tracing::info!(source = %self.id, "its status is gone from Redis (restarted empty?); polling now");
                                    break;
                                }
                                _ => {}
                            }
                        }
                    }
                    () = notified(woken.as_deref()) => break,
                    message = next_message(&mut changes) => match message {
                        Some(payload) if self.concerns_me(&payload) => {
                            tracing::info!(source = %self.id, "config changed; polling now");
                            break;
                        }
                        Some(_) => {}
                        // The subscription ended: renew it before the next poll.
                        None => changes = None,
                    },
                }
            }
        }
        tracing::info!(source = %self.id, "stopped");
        self
    }

    /// Whether a `config:changed` payload names a section this source reads.
    fn concerns_me(&self, payload: &str) -> bool {
        serde_json::from_str::<ConfigChanged>(payload)
            .is_ok_and(|c| c.concerns(self.bus.scope(), &self.sections))
    }
}

/// Resolves when `wake` is notified; never without one.
async fn notified(wake: Option<&Notify>) {
    match wake {
        Some(w) => w.notified().await,
        None => std::future::pending().await,
    }
}

/// The next message's payload; pending forever without a subscription.
async fn next_message(sub: &mut Option<Subscription>) -> Option<String> {
    match sub {
        Some(s) => s.recv().await.map(|m| m.payload),
        None => std::future::pending().await,
    }
}

/// Decodes `state:{id}`; anything unreadable (first run, an older format) starts afresh.
fn decode_state<T: serde::de::DeserializeOwned + Default>(text: Option<&str>) -> (Counters, T) {
    let Some(Ok(Json::Object(mut map))) = text.map(serde_json::from_str::<Json>) else {
        return (Counters::default(), T::default());
    };
    let counters = map
        .remove("runner")
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let state = map
        .remove("source")
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    (counters, state)
}
