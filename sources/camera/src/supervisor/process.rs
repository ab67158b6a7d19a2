//! FFmpeg's process from the outside: its stderr read into a log, and SIGTERM; apart from the
//! supervisor's state machine, which only sees their results.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::AsyncReadExt;
use tokio::process::ChildStderr;

use crate::ffmpeg::{self, Input, StreamInfo};

/// The longest stderr line kept; longer ones are cut.
const MAX_LINE: usize = 4096;

/// What FFmpeg's stderr told so far.
#[derive(Debug, Default)]
pub(super) struct StderrLog {
    pub(super) info: StreamInfo,
    pub(super) last_error: Option<String>,
}

/// Reads FFmpeg's stderr line by line (split at `\n` or `\r`), keeping the stream info and the
/// last error line, passwords redacted.
pub(super) async fn read_stderr(mut stderr: ChildStderr, log: Arc<Mutex<StderrLog>>, input: Input) {
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
pub(super) fn is_disk_full(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("Disk quota exceeded")
}

/// Sends SIGTERM to `pid`: our own child, not yet reaped (tokio's `Child::id` is `None` once it
/// is), so it cannot name an unrelated process.
pub(super) fn terminate(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
}
