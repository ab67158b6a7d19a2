//! What the supervisor reports: the stream's state, its `stream_*` readings, and why a run
//! ended; plain data, kept apart from the process handling.

use std::time::{Duration, Instant};

use sense_bus::model::{Measurement, Value};
use sense_hal::Unit;

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

/// Why [`Supervisor::run`](super::Supervisor::run) returned.
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
