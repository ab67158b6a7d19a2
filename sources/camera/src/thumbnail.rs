//! One JPEG frame of the camera, cached for a while.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::CameraError;
use crate::ffmpeg::{self, Input};

/// How long a thumbnail is reused.
pub const THUMBNAIL_CACHE: Duration = Duration::from_secs(30);
/// How long FFmpeg may take to grab one.
pub const THUMBNAIL_TIMEOUT: Duration = Duration::from_secs(10);

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_error(path: &Path, e: &std::io::Error) -> CameraError {
    CameraError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// A JPEG of one frame of `input` at `out`: the existing file when it is younger than `cache`,
/// otherwise a new one grabbed by FFmpeg (`-frames:v 1 -q:v 5`) within [`THUMBNAIL_TIMEOUT`].
/// See [`thumbnail_with_timeout`].
pub async fn thumbnail(
    ffmpeg: &Path,
    input: &Input,
    out: &Path,
    cache: Duration,
) -> Result<PathBuf, CameraError> {
    thumbnail_with_timeout(ffmpeg, input, out, cache, THUMBNAIL_TIMEOUT).await
}

/// [`thumbnail`] with its own time limit. FFmpeg writes a temporary file next to `out` that is
/// renamed over it once complete, so a reader never sees half a JPEG; on timeout FFmpeg is
/// killed and the temporary file removed. The RTSP socket timeout is the smaller of `timeout` and
/// 5 s.
pub async fn thumbnail_with_timeout(
    ffmpeg: &Path,
    input: &Input,
    out: &Path,
    cache: Duration,
    timeout: Duration,
) -> Result<PathBuf, CameraError> {
    if let Ok(meta) = tokio::fs::metadata(out).await
        && meta.len() > 0
        && let Ok(modified) = meta.modified()
        && SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO)
            < cache
    {
        return Ok(out.to_path_buf());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| io_error(parent, &e))?;
    }
    let name = out
        .file_name()
        .map_or_else(|| "thumbnail".into(), |n| n.to_string_lossy().into_owned());
    let temp = out.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let args = ffmpeg::thumbnail_args(input, &temp);
    let script = ffmpeg::input_script(input, timeout.min(Duration::from_secs(5)));
    let mut child = ffmpeg::command(ffmpeg)
        .args(&args)
        .stdin(if script.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CameraError::Spawn {
            program: ffmpeg.display().to_string(),
            reason: e.to_string(),
        })?;
    if let (Some(script), Some(stdin)) = (script, child.stdin.take()) {
        ffmpeg::feed(stdin, script);
    }
    // On timeout the future, and with it the child, is dropped: `kill_on_drop` kills it.
    let result = tokio::time::timeout(timeout, child.wait_with_output()).await;
    let failure = match result {
        Err(_) => Some(CameraError::Timeout {
            what: "grab a thumbnail",
            input: input.describe(),
            after: timeout,
        }),
        Ok(Err(e)) => Some(CameraError::Ffmpeg {
            what: "grab a thumbnail",
            input: input.describe(),
            message: e.to_string(),
        }),
        Ok(Ok(output)) if !output.status.success() => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr
                .lines()
                .filter_map(ffmpeg::error_message)
                .next_back()
                .map_or_else(
                    || format!("FFmpeg exited ({})", output.status),
                    str::to_owned,
                );
            Some(CameraError::Ffmpeg {
                what: "grab a thumbnail",
                input: input.describe(),
                message: input.explain(&message),
            })
        }
        Ok(Ok(_)) => None,
    };
    if let Some(error) = failure {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(error);
    }
    match tokio::fs::rename(&temp, out).await {
        Ok(()) => Ok(out.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CameraError::Ffmpeg {
            what: "grab a thumbnail",
            input: input.describe(),
            message: "FFmpeg exited without writing a frame".to_owned(),
        }),
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            Err(io_error(out, &e))
        }
    }
}
