//! The stream supervisor: runs FFmpeg, watches its HLS output, reconnects with backoff.
//!
//! # Lifecycle
//!
//! ```text
//!            Start                 playlist fresh
//! stopped ──────────▶ starting ───────────────────▶ streaming
//!                        │  FFmpeg exited, or         │  FFmpeg exited, or playlist stale
//!                        │  no output in time          ▼
//!                        └──────────────────────▶ reconnecting ──(attempts left)──▶ respawn
//!                                                      │
//!                                        out of attempts ▼
//!                                                    error  → EndReason::MaxReconnects
//! ```
//!
//! - **Streaming** once FFmpeg's playlist (`.ffmpeg/stream.m3u8`) was written by the current
//!   process, is fresh, and its newest segment is whole: the supervisor then serves it in
//!   `stream.m3u8` (see [`crate::hls`]).
//! - **Monitoring** every [`SupervisorSettings::check_every`] (1 s): FFmpeg's exit is noticed at
//!   once; FFmpeg's playlist is *stale* when older than `max(stale_after, 3 ×
//!   hls_segment_duration)` (a playlist is rewritten once per segment, so long segments need a
//!   longer limit). Each check also reads the segments FFmpeg listed since the last one and
//!   rewrites the served `stream.m3u8` with the whole ones.
//! - **Full folder**: FFmpeg says nothing when a write fails, so a segment that was cut short (or
//!   FFmpeg's playlist itself) is what tells. The state becomes `error` with `the HLS folder is
//!   full: …` naming the first cut file, one warning is logged, and the cut segments are left out
//!   of `stream.m3u8`. FFmpeg keeps running: once a whole segment comes again the state is
//!   `streaming` again (logged once too). A `Start` while the folder is full restarts FFmpeg
//!   with an emptied folder. An FFmpeg that exits saying `No space left on device` fails with the
//!   same words.
//! - **Reconnect rule**: after the n-th failure in a row the supervisor waits
//!   `min(reconnect_delay × 2^(n−1), 60 s)` and spawns FFmpeg again. `max_reconnect_attempts`
//!   counts these respawns (−1: no limit); when a failure happens with the count already at the
//!   maximum, the state becomes `error` and [`Supervisor::run`] returns
//!   [`EndReason::MaxReconnects`]. The count, and with it the backoff, goes back to 0 once a
//!   process has streamed for [`STABLE_STREAMING`] (30 s) without a break, and on a user's
//!   `Start`/`Restart`. So a camera that flaps every few seconds still runs out of attempts.
//! - **Stop**: SIGTERM, up to [`SupervisorSettings::stop_grace`] (5 s) for FFmpeg to finish, then
//!   SIGKILL; then every file the stream wrote is deleted from the HLS folder (`segment_*.ts`,
//!   `stream.m3u8`, their `*.tmp` leftovers, and FFmpeg's playlist folder `.ffmpeg`; nothing
//!   else). The same clean-up runs before each spawn, so a dead process's playlist is never taken
//!   for a live one.
//!
//! A camera's URL reaches FFmpeg on its stdin, never its command line ([`crate::ffmpeg`]).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use sense_bus::config::CameraConfig;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ffmpeg::{self, Input};
use crate::hls::{FFMPEG_DIR, Outcome, Publisher};

mod files;
mod process;
mod state;

pub use files::{clean_hls_dir, is_stream_file};
use process::{StderrLog, is_disk_full, read_stderr, terminate};
pub use state::{EndReason, StreamState, StreamStatus};

/// How long a process must stream without a break before the reconnect count starts over.
pub const STABLE_STREAMING: Duration = Duration::from_secs(30);
/// The longest wait between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the supervisor runs and how.
#[derive(Clone, Debug)]
pub struct SupervisorSettings {
    /// The FFmpeg binary, e.g. `/usr/bin/ffmpeg`.
    pub ffmpeg: PathBuf,
    /// Where the playlist and segments go (created if missing).
    pub hls_dir: PathBuf,
    /// What to stream.
    pub input: Input,
    /// Segment length, playlist size, reconnect delay and attempts.
    pub config: CameraConfig,
    /// A streaming playlist older than this (or `3 × hls_segment_duration`, if longer) is stale.
    pub stale_after: Duration,
    /// How long a new process may take to write its first playlist.
    pub startup_timeout: Duration,
    /// How often the process and playlist are checked.
    pub check_every: Duration,
    /// How long FFmpeg gets to exit after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
}

impl SupervisorSettings {
    /// Settings with the defaults: stale after 10 s, 30 s to start, checks every second, 5 s
    /// to stop.
    pub fn new(ffmpeg: PathBuf, hls_dir: PathBuf, input: Input, config: CameraConfig) -> Self {
        SupervisorSettings {
            ffmpeg,
            hls_dir,
            input,
            config,
            stale_after: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(30),
            check_every: Duration::from_secs(1),
            stop_grace: Duration::from_secs(5),
        }
    }

    fn stale_limit(&self) -> Duration {
        self.stale_after.max(Duration::from_secs(
            3 * u64::from(self.config.hls_segment_duration),
        ))
    }
}

/// A command to the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Start streaming (nothing if already running, except while the HLS folder is full: then
    /// FFmpeg starts again with an emptied folder).
    Start,
    /// Stop streaming, clean up and make [`Supervisor::run`] return.
    Stop,
    /// Stop FFmpeg and start it again, without ending.
    Restart,
}

/// Runs FFmpeg and keeps it streaming. See the [module docs](self) for the rules.
#[derive(Debug)]
pub struct Supervisor {
    settings: SupervisorSettings,
    state: StreamState,
    published: Option<StreamState>,
}

/// One FFmpeg process.
#[derive(Debug)]
struct Running {
    child: Child,
    spawned_at: SystemTime,
    spawned: Instant,
    log: Arc<Mutex<StderrLog>>,
    reader: Option<JoinHandle<()>>,
    /// Since when FFmpeg's playlist has been fresh.
    output_since: Option<Instant>,
    /// Since when the stream has been served without a break.
    streaming_since: Option<Instant>,
    publisher: Publisher,
}

enum Phase {
    Idle,
    Running(Box<Running>),
    Backoff(tokio::time::Instant),
}

/// What a failed check or exit leads to.
enum Next {
    Phase(Phase),
    End(EndReason),
}

/// The wait before reconnect attempt `attempt` (1-based): `base × 2^(attempt−1)`, at most
/// [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

impl Supervisor {
    /// A supervisor that is stopped until it gets a [`Control::Start`].
    pub fn new(settings: SupervisorSettings) -> Self {
        Supervisor {
            settings,
            state: StreamState::default(),
            published: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// Calls `on_state` if the state differs from the last one published.
    fn publish(&mut self, on_state: &mut impl FnMut(&StreamState)) {
        if self.published.as_ref() != Some(&self.state) {
            on_state(&self.state);
            self.published = Some(self.state.clone());
        }
    }

    /// Runs until a [`Control::Stop`] (or the end of `controls`) or until the stream is out of
    /// reconnect attempts; calls `on_state` whenever the state changes (the runtime writes
    /// readings and status there), starting with the initial `stopped` state.
    ///
    /// Dropping the future kills FFmpeg (`kill_on_drop`) but leaves its files.
    pub async fn run(
        mut self,
        mut controls: mpsc::Receiver<Control>,
        mut on_state: impl FnMut(&StreamState),
    ) -> EndReason {
        self.publish(&mut on_state);
        let mut ticks = tokio::time::interval(self.settings.check_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut phase = Phase::Idle;
        loop {
            let next = match phase {
                Phase::Idle => match controls.recv().await {
                    Some(Control::Start | Control::Restart) => {
                        self.state.reconnect_attempts = 0;
                        self.spawn(StreamStatus::Starting, &mut on_state).await
                    }
                    Some(Control::Stop) | None => Next::End(EndReason::UserStopped),
                },
                Phase::Backoff(until) => tokio::select! {
                    control = controls.recv() => match control {
                        Some(Control::Start | Control::Restart) => {
                            self.state.reconnect_attempts = 0;
                            self.spawn(StreamStatus::Starting, &mut on_state).await
                        }
                        Some(Control::Stop) | None => Next::End(EndReason::UserStopped),
                    },
                    () = tokio::time::sleep_until(until) => {
                        self.spawn(StreamStatus::Reconnecting, &mut on_state).await
                    }
                },
                Phase::Running(mut running) => tokio::select! {
                    control = controls.recv() => match control {
                        // While the folder is full, a start is a fresh try with an empty one.
                        Some(Control::Start) if self.state.status == StreamStatus::Error => {
                            self.stop_process(&mut running).await;
                            self.state.reconnect_attempts = 0;
                            self.spawn(StreamStatus::Starting, &mut on_state).await
                        }
                        Some(Control::Start) => Next::Phase(Phase::Running(running)),
                        Some(Control::Restart) => {
                            self.stop_process(&mut running).await;
                            self.state.reconnect_attempts = 0;
                            self.spawn(StreamStatus::Starting, &mut on_state).await
                        }
                        Some(Control::Stop) | None => {
                            self.stop_process(&mut running).await;
                            Next::End(EndReason::UserStopped)
                        }
                    },
                    status = running.child.wait() => {
                        let why = match status {
                            Ok(status) => format!("FFmpeg exited ({status})"),
                            Err(e) => format!("FFmpeg could not be waited for: {e}"),
                        };
                        self.fail(&mut running, why, &mut on_state).await
                    }
                    _ = ticks.tick() => self.check(running, &mut on_state).await,
                },
            };
            phase = match next {
                Next::Phase(phase) => phase,
                Next::End(reason) => return self.end(reason, &mut on_state).await,
            };
        }
    }

    /// Cleans up and publishes the final state for `reason`.
    async fn end(
        &mut self,
        reason: EndReason,
        on_state: &mut impl FnMut(&StreamState),
    ) -> EndReason {
        if let Err(e) = clean_hls_dir(&self.settings.hls_dir).await {
            tracing::warn!("cannot clean up {}: {e}", self.settings.hls_dir.display());
        }
        let error = match &reason {
            EndReason::UserStopped => None,
            EndReason::MaxReconnects | EndReason::Error(_) => self.state.error.clone(),
        };
        self.state = StreamState {
            status: if reason == EndReason::UserStopped {
                StreamStatus::Stopped
            } else {
                StreamStatus::Error
            },
            error,
            reconnect_attempts: self.state.reconnect_attempts,
            ..StreamState::default()
        };
        self.publish(on_state);
        tracing::info!("camera stream ended: {reason}");
        reason
    }

    /// Cleans the folder and spawns FFmpeg, entering `status`.
    async fn spawn(
        &mut self,
        status: StreamStatus,
        on_state: &mut impl FnMut(&StreamState),
    ) -> Next {
        let settings = &self.settings;
        let fatal = |state: &mut StreamState, message: String| {
            let message = if is_disk_full(&message) {
                format!("the HLS folder is full: {message}")
            } else {
                message
            };
            state.error = Some(message.clone());
            Next::End(EndReason::Error(message))
        };
        if let Err(e) = tokio::fs::create_dir_all(&settings.hls_dir).await {
            let message = format!(
                "cannot create the HLS folder {}: {e}",
                settings.hls_dir.display()
            );
            return fatal(&mut self.state, message);
        }
        if let Err(e) = clean_hls_dir(&settings.hls_dir).await {
            let message = format!(
                "cannot clean the HLS folder {}: {e}",
                settings.hls_dir.display()
            );
            return fatal(&mut self.state, message);
        }
        let private = settings.hls_dir.join(FFMPEG_DIR);
        if let Err(e) = tokio::fs::create_dir_all(&private).await {
            let message = format!("cannot create {}: {e}", private.display());
            return fatal(&mut self.state, message);
        }
        let args = ffmpeg::hls_args(&settings.input, &settings.hls_dir, &settings.config);
        let script = ffmpeg::input_script(&settings.input, ffmpeg::RTSP_IO_TIMEOUT);
        let spawned_at = SystemTime::now();
        let child = ffmpeg::command(&settings.ffmpeg)
            .args(&args)
            .stdin(if script.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                let message = format!("cannot start {}: {e}", settings.ffmpeg.display());
                return fatal(&mut self.state, message);
            }
        };
        if let (Some(script), Some(stdin)) = (script, child.stdin.take()) {
            ffmpeg::feed(stdin, script);
        }
        tracing::info!(
            "FFmpeg ({}) streaming {} to {}",
            child
                .id()
                .map_or_else(|| "exited already".to_owned(), |pid| format!("pid {pid}")),
            settings.input.describe(),
            settings.hls_dir.display()
        );
        let log = Arc::new(Mutex::new(StderrLog::default()));
        let reader = child.stderr.take().map(|stderr| {
            tokio::spawn(read_stderr(
                stderr,
                Arc::clone(&log),
                settings.input.clone(),
            ))
        });
        self.state = StreamState {
            status,
            pid: child.id(),
            error: if status == StreamStatus::Starting {
                None
            } else {
                self.state.error.clone()
            },
            reconnect_attempts: self.state.reconnect_attempts,
            ..StreamState::default()
        };
        let publisher = Publisher::new(settings.hls_dir.clone());
        self.publish(on_state);
        Next::Phase(Phase::Running(Box::new(Running {
            child,
            spawned_at,
            spawned: Instant::now(),
            log,
            reader,
            output_since: None,
            streaming_since: None,
            publisher,
        })))
    }

    /// How old FFmpeg's playlist is, if the current process wrote it.
    async fn playlist_age(&self, running: &Running) -> Option<Duration> {
        let path = Publisher::source(&self.settings.hls_dir);
        let modified = tokio::fs::metadata(&path).await.ok()?.modified().ok()?;
        // Coarse file-system clocks: allow a second of slack.
        if modified + Duration::from_secs(1) < running.spawned_at {
            return None;
        }
        Some(
            SystemTime::now()
                .duration_since(modified)
                .unwrap_or(Duration::ZERO),
        )
    }

    /// The periodic check of a running process.
    async fn check(
        &mut self,
        mut running: Box<Running>,
        on_state: &mut impl FnMut(&StreamState),
    ) -> Next {
        {
            let log = running.log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.info.resolution.is_some() {
                self.state.resolution.clone_from(&log.info.resolution);
            }
            if log.info.fps.is_some() {
                self.state.fps = log.info.fps;
            }
        }
        let age = self.playlist_age(&running).await;
        let limit = self.settings.stale_limit();
        if age.is_none_or(|age| age > limit) {
            if running.output_since.is_some() {
                let why = format!(
                    "the stream stalled: no new HLS segment for {} s",
                    limit.as_secs()
                );
                return self.fail(&mut running, why, on_state).await;
            }
            if running.spawned.elapsed() > self.settings.startup_timeout {
                let why = format!(
                    "no HLS output within {} s",
                    self.settings.startup_timeout.as_secs()
                );
                return self.fail(&mut running, why, on_state).await;
            }
            self.publish(on_state);
            return Next::Phase(Phase::Running(running));
        }
        running.output_since.get_or_insert_with(Instant::now);
        match running.publisher.update().await {
            Outcome::Waiting => {}
            Outcome::Serving if self.state.status == StreamStatus::Streaming => {
                if running
                    .streaming_since
                    .is_some_and(|since| since.elapsed() >= STABLE_STREAMING)
                {
                    self.state.reconnect_attempts = 0;
                }
            }
            Outcome::Serving => {
                let describe = self.settings.input.describe();
                if self.state.status == StreamStatus::Error {
                    tracing::info!("the HLS folder has room again: streaming {describe}");
                } else {
                    tracing::info!("camera streaming: {describe}");
                }
                let now = Instant::now();
                running.streaming_since = Some(now);
                self.state.status = StreamStatus::Streaming;
                self.state.connected = true;
                self.state.error = None;
                self.state.started_at = Some(now);
            }
            // Said once; the first cut file stays the one named until there is room again.
            Outcome::Full(_) if self.state.status == StreamStatus::Error => {}
            Outcome::Full(why) => {
                let message = format!("the HLS folder is full: {why}");
                tracing::warn!(
                    "{message}; cut segments are left out of {} until there is room",
                    ffmpeg::PLAYLIST
                );
                running.streaming_since = None;
                self.state.status = StreamStatus::Error;
                self.state.connected = false;
                self.state.error = Some(message);
                self.state.started_at = None;
            }
        }
        self.publish(on_state);
        Next::Phase(Phase::Running(running))
    }

    /// Kills a failed process and either schedules a reconnect or ends.
    async fn fail(
        &mut self,
        running: &mut Running,
        why: String,
        on_state: &mut impl FnMut(&StreamState),
    ) -> Next {
        // A broken process gets no grace period.
        let _ = running.child.kill().await;
        if let Some(reader) = running.reader.take() {
            // The last lines are read once the pipe closes; do not wait on a stuck grandchild.
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        }
        let last_error = running
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .take();
        let message = match last_error {
            Some(e) => format!("{why}: {e}"),
            None => why,
        };
        let message = if is_disk_full(&message) {
            format!("the HLS folder is full: {message}")
        } else {
            message
        };
        tracing::warn!("camera stream failed: {message}");
        self.state.error = Some(message);
        self.state.connected = false;
        self.state.started_at = None;
        self.state.pid = None;
        let max = self.settings.config.max_reconnect_attempts;
        if let Ok(max) = u32::try_from(max)
            && self.state.reconnect_attempts >= max
        {
            return Next::End(EndReason::MaxReconnects);
        }
        self.state.reconnect_attempts = self.state.reconnect_attempts.saturating_add(1);
        let delay = backoff(
            Duration::from_secs(u64::from(self.settings.config.reconnect_delay.max(1))),
            self.state.reconnect_attempts,
        );
        self.state.status = StreamStatus::Reconnecting;
        self.publish(on_state);
        tracing::info!(
            "reconnecting in {} s (attempt {})",
            delay.as_secs(),
            self.state.reconnect_attempts
        );
        Next::Phase(Phase::Backoff(tokio::time::Instant::now() + delay))
    }

    /// Stops a running FFmpeg: SIGTERM, the grace period, then SIGKILL.
    async fn stop_process(&mut self, running: &mut Running) {
        if let Some(pid) = running.child.id() {
            terminate(pid);
            match tokio::time::timeout(self.settings.stop_grace, running.child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(
                        "FFmpeg (pid {pid}) ignored SIGTERM for {} s: killing it",
                        self.settings.stop_grace.as_secs()
                    );
                    let _ = running.child.kill().await;
                }
            }
        }
        if let Some(reader) = running.reader.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        }
    }
}

#[cfg(test)]
mod tests;
