//! # The `network_camera` source: RTSP cameras as HLS, discovery, PTZ and thumbnails
//!
//! The camera runs on demand: the runtime starts a [`Supervisor`] when the dashboard asks for the
//! stream, and the supervisor runs FFmpeg to turn the camera's RTSP stream into HLS
//! (`segment_NNNNN.ts` in the HLS folder the gateway serves, and `stream.m3u8`, which the
//! supervisor writes from FFmpeg's own playlist with every segment a full disk cut short left out:
//! [`hls`]), watches it, and reconnects with backoff. Its [`StreamState`] becomes the contract's
//! readings:
//!
//! | sensor | value | unit |
//! |---|---|---|
//! | `stream_status` | `stopped`, `starting`, `streaming`, `reconnecting` or `error` | |
//! | `stream_connected` | bool | |
//! | `stream_error` | FFmpeg's last error, passwords redacted, or `the HLS folder is full: …`; null when none | |
//! | `stream_resolution` | e.g. `1920x1080` (absent until FFmpeg reports it) | |
//! | `stream_fps` | int (absent until FFmpeg reports it) | `fps` |
//! | `stream_uptime` | float | `seconds` |
//!
//! When [`Supervisor::run`] returns, the runtime publishes `stream:ended` with the
//! [`EndReason`]: `user_stopped` after a stop command, `max_reconnects` when the camera stayed
//! unreachable.
//!
//! Also here: [`discovery`] (a TCP scan of the local /24 networks for RTSP ports), [`ptz`]
//! (ONVIF pan/tilt/zoom over SOAP) and [`thumbnail()`] (one JPEG frame).
//!
//! FFmpeg always runs as `Command::new(ffmpeg).args(..)`: no shell, every argument its own, so no
//! config value can inject anything. Camera passwords are percent-encoded into the URL
//! ([`rtsp::url`]), which FFmpeg reads from a pipe on its stdin, never from its command line
//! (which every local user can read: [`ffmpeg`]), and redacted (`***`) from every message, state
//! and error.

#![warn(missing_docs)]

pub mod discovery;
pub mod ffmpeg;
pub mod hls;
pub mod ptz;
pub mod rtsp;
pub mod source;
pub mod supervisor;
mod thumbnail;

use std::path::PathBuf;
use std::time::Duration;

use sense_bus::config::{CameraConfig, CameraEntry};

pub use ffmpeg::{Input, StreamInfo};
pub use source::StreamSource;
pub use supervisor::{
    Control, EndReason, MAX_BACKOFF, STABLE_STREAMING, StreamState, StreamStatus, Supervisor,
    SupervisorSettings, backoff, clean_hls_dir, is_stream_file,
};
pub use thumbnail::{THUMBNAIL_CACHE, THUMBNAIL_TIMEOUT, thumbnail, thumbnail_with_timeout};

/// What went wrong with a camera operation. The message names the cause and never holds a
/// password (URLs in it are redacted).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CameraError {
    /// The config has no enabled camera.
    #[error("no enabled camera is configured")]
    NoCamera,
    /// FFmpeg is not installed where it was looked for.
    #[error(
        "FFmpeg is not installed: {looked}. Install it (e.g. `apt install ffmpeg`) or set FFMPEG to its path"
    )]
    NoFfmpeg {
        /// Where it was looked for.
        looked: String,
    },
    /// FFmpeg could not be started.
    #[error("cannot start FFmpeg ({program}): {reason}")]
    Spawn {
        /// The binary.
        program: String,
        /// The system's reason.
        reason: String,
    },
    /// A file or folder could not be used.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// FFmpeg took too long and was killed.
    #[error("FFmpeg did not {what} from {input} within {} s, so it was stopped", .after.as_secs_f32())]
    Timeout {
        /// What it was doing, e.g. `grab a thumbnail`.
        what: &'static str,
        /// The input, password redacted.
        input: String,
        /// The limit.
        after: Duration,
    },
    /// FFmpeg failed.
    #[error("FFmpeg could not {what} from {input}: {message}")]
    Ffmpeg {
        /// What it was doing.
        what: &'static str,
        /// The input, password redacted.
        input: String,
        /// Its last error line (redacted) or exit status.
        message: String,
    },
    /// A PTZ command failed.
    #[error(transparent)]
    Ptz(#[from] ptz::PtzError),
}

/// The camera to stream: the first enabled one in `config`, as the contract's `config:camera`
/// says.
pub fn active_camera(config: &CameraConfig) -> Result<&CameraEntry, CameraError> {
    config
        .cameras
        .iter()
        .find(|c| c.enabled)
        .ok_or(CameraError::NoCamera)
}

/// The FFmpeg input for `config`: its active camera over the configured transport.
pub fn camera_input(config: &CameraConfig) -> Result<Input, CameraError> {
    Ok(Input::camera(active_camera(config)?, config.transport))
}

/// The FFmpeg to run: `explicit` (the `FFMPEG` variable) when set, else the first `ffmpeg` in
/// `path` (the `PATH` variable). Only executable files count.
pub fn find_ffmpeg(explicit: Option<&str>, path: Option<&str>) -> Result<PathBuf, CameraError> {
    if let Some(explicit) = explicit.filter(|e| !e.is_empty()) {
        let candidate = PathBuf::from(explicit);
        return if is_executable(&candidate) {
            Ok(candidate)
        } else {
            Err(CameraError::NoFfmpeg {
                looked: format!("FFMPEG={explicit} is not an executable file"),
            })
        };
    }
    let path = path.unwrap_or_default();
    std::env::split_paths(path)
        .map(|dir| dir.join("ffmpeg"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| CameraError::NoFfmpeg {
            looked: format!("no `ffmpeg` in PATH ({path})"),
        })
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_enabled_camera_is_streamed() {
        let config: CameraConfig = serde_json::from_value(serde_json::json!({
            "cameras": [
                {"name": "Off", "host": "10.0.0.1", "enabled": false},
                {"name": "On", "host": "10.0.0.2", "username": "u", "password": "p w"},
            ],
            "transport": "udp",
        }))
        .unwrap();
        assert_eq!(active_camera(&config).unwrap().name, "On");
        let input = camera_input(&config).unwrap();
        assert_eq!(
            input,
            Input::Rtsp {
                url: "rtsp://u:p%20w@10.0.0.2:554/".into(),
                transport: sense_bus::config::RtspTransport::Udp,
            }
        );
        assert_eq!(
            active_camera(&CameraConfig::default()),
            Err(CameraError::NoCamera)
        );
    }

    #[test]
    fn ffmpeg_is_found_on_the_path_or_named_and_its_absence_is_explained() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sense-find-ffmpeg-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let ffmpeg = bin.join("ffmpeg");
        std::fs::write(&ffmpeg, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&ffmpeg, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", empty.display(), bin.display());

        assert_eq!(find_ffmpeg(None, Some(&path)).unwrap(), ffmpeg);
        assert_eq!(
            find_ffmpeg(Some(ffmpeg.to_str().unwrap()), None).unwrap(),
            ffmpeg
        );

        let missing = find_ffmpeg(None, Some(empty.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("FFmpeg is not installed: no `ffmpeg` in PATH"),
            "{missing}"
        );
        assert!(missing.contains("apt install ffmpeg"), "{missing}");

        // A file that is not executable does not count.
        std::fs::set_permissions(&ffmpeg, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(find_ffmpeg(None, Some(&path)).is_err());
        let named = find_ffmpeg(Some(ffmpeg.to_str().unwrap()), None)
            .unwrap_err()
            .to_string();
        assert!(named.contains("is not an executable file"), "{named}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
