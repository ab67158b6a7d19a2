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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use sense_bus::config::CameraConfig;
use sense_bus::model::{Measurement, Value};
use sense_hal::Unit;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ffmpeg::{self, Input, StreamInfo};
use crate::hls::{FFMPEG_DIR, Outcome, Publisher};

/// How long a process must stream without a break before the reconnect count starts over.
pub const STABLE_STREAMING: Duration = Duration::from_secs(30);
/// The longest wait between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest stderr line kept; longer ones are cut.
const MAX_LINE: usize = 4096;

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

/// The contract's `stream_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    /// No FFmpeg running.
    Stopped,
    /// FFmpeg started, no playlist yet.
    Starting,
    /// The playlist is being written.
    Streaming,
    /// The stream broke; waiting to respawn, or respawned and not streaming yet.
    Reconnecting,
    /// Out of reconnect attempts, or FFmpeg cannot be run at all; or, while FFmpeg keeps
    /// running, the HLS folder is full.
    Error,
}

impl StreamStatus {
    /// `stopped`, `starting`, `streaming`, `reconnecting` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Stopped => "stopped",
            StreamStatus::Starting => "starting",
            StreamStatus::Streaming => "streaming",
            StreamStatus::Reconnecting => "reconnecting",
            StreamStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for StreamStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stream as the dashboard sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamState {
    /// Where the stream is in its lifecycle.
    pub status: StreamStatus,
    /// Whether HLS output is being produced (`status` is `streaming`).
    pub connected: bool,
    /// Why the stream is not up: FFmpeg's last error line or the supervisor's finding, passwords
    /// redacted. `None` while streaming.
    pub error: Option<String>,
    /// The video size FFmpeg reported, e.g. `1920x1080`.
    pub resolution: Option<String>,
    /// The frame rate FFmpeg reported.
    pub fps: Option<u32>,
    /// When the current streaming period began (reset by every reconnect).
    pub started_at: Option<Instant>,
    /// The running FFmpeg's process id.
    pub pid: Option<u32>,
    /// Reconnect attempts since the stream last streamed stably.
    pub reconnect_attempts: u32,
}

impl Default for StreamState {
    fn default() -> Self {
        StreamState {
            status: StreamStatus::Stopped,
            connected: false,
            error: None,
            resolution: None,
            fps: None,
            started_at: None,
            pid: None,
            reconnect_attempts: 0,
        }
    }
}

impl StreamState {
    /// How long the stream has been streaming without a break; zero when it is not.
    pub fn uptime(&self) -> Duration {
        match (self.status, self.started_at) {
            (StreamStatus::Streaming, Some(t)) => t.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// The contract's `stream_*` readings: `stream_status`, `stream_connected`, `stream_error`
    /// (null when none), `stream_resolution` and `stream_fps` (left out when unknown) and
    /// `stream_uptime` in seconds.
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = vec![
            Measurement::new(
                "stream_status".to_owned(),
                Value::Text(self.status.as_str().to_owned()),
                None,
            ),
            Measurement::new("stream_connected".to_owned(), self.connected, None),
            Measurement::new(
                "stream_error".to_owned(),
                self.error.clone().map_or(Value::Null, Value::Text),
                None,
            ),
        ];
        if let Some(resolution) = &self.resolution {
            out.push(Measurement::new(
                "stream_resolution".to_owned(),
                Value::Text(resolution.clone()),
                None,
            ));
        }
        if let Some(fps) = self.fps {
            out.push(Measurement::new(
                "stream_fps".to_owned(),
                fps,
                Some(Unit::FRAMES_PER_SECOND),
            ));
        }
        out.push(Measurement::new(
            "stream_uptime".to_owned(),
            Value::rounded(self.uptime().as_secs_f64(), 1),
            Some(Unit::SECONDS),
        ));
        out
    }
}

/// Why [`Supervisor::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// A `Stop` came (or the control channel closed).
    UserStopped,
    /// The stream failed more often than `max_reconnect_attempts` allows.
    MaxReconnects,
    /// FFmpeg cannot be run at all (missing binary, HLS folder not writable, ...).
    Error(String),
}

impl EndReason {
    /// The `stream:ended` reason: `user_stopped`, `max_reconnects` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndReason::UserStopped => "user_stopped",
            EndReason::MaxReconnects => "max_reconnects",
            EndReason::Error(_) => "error",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Error(message) => write!(f, "error: {message}"),
            other => f.write_str(other.as_str()),
        }
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

/// What FFmpeg's stderr told so far.
#[derive(Debug, Default)]
struct StderrLog {
    info: StreamInfo,
    last_error: Option<String>,
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

/// Whether `name` is a file the stream writes: the playlist, a segment, or a leftover `.tmp` of
/// either.
pub fn is_stream_file(name: &str) -> bool {
    let ours = name.starts_with("segment_") || name.starts_with(ffmpeg::PLAYLIST);
    let kind = name.ends_with(".ts") || name.ends_with(".m3u8") || name.ends_with(".tmp");
    ours && kind
}

/// Deletes the stream's files (see [`is_stream_file`]) from `dir` and from FFmpeg's playlist
/// folder in it (`.ffmpeg`, removed once empty), leaving anything else; returns how many files
/// were deleted. A missing folder has nothing to delete.
pub async fn clean_hls_dir(dir: &Path) -> std::io::Result<usize> {
    let private = dir.join(FFMPEG_DIR);
    let deleted = remove_stream_files(dir).await? + remove_stream_files(&private).await?;
    match tokio::fs::remove_dir(&private).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::DirectoryNotEmpty
                    | std::io::ErrorKind::NotADirectory
            ) => {}
        Err(e) => return Err(e),
    }
    Ok(deleted)
}

/// Deletes the stream's files in `dir` (not in its subfolders).
async fn remove_stream_files(dir: &Path) -> std::io::Result<usize> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut deleted = 0;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_stream_file(name) || entry.file_type().await.is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

/// Reads FFmpeg's stderr line by line (split at `\n` or `\r`), keeping the stream info and the
/// last error line, passwords redacted.
async fn read_stderr(mut stderr: ChildStderr, log: Arc<Mutex<StderrLog>>, input: Input) {
    let mut pending: Vec<u8> = Vec::with_capacity(MAX_LINE);
    let mut chunk = [0u8; 4096];
    let handle = |line: &[u8]| {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(info) = ffmpeg::parse_stream_info(line) {
            log.info.merge(info);
        }
        if let Some(message) = ffmpeg::error_message(line) {
            let message = input.explain(message);
            tracing::debug!(target: "camera::ffmpeg", "{message}");
            log.last_error = Some(message);
        }
    };
    loop {
        let n = match stderr.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &chunk[..n] {
            if b == b'\n' || b == b'\r' {
                handle(&pending);
                pending.clear();
            } else if pending.len() < MAX_LINE {
                pending.push(b);
            }
        }
    }
    handle(&pending);
}

/// Whether an FFmpeg error says the disk is full (ENOSPC, or EDQUOT).
fn is_disk_full(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("Disk quota exceeded")
}

/// Sends SIGTERM to `pid`: our own child, not yet reaped (tokio's `Child::id` is `None` once it
/// is), so it cannot name an unrelated process.
fn terminate(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
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
