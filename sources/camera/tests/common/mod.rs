//! What the camera's integration tests share: FFmpeg, scratch folders, a supervisor harness, and
//! a fake RTSP camera ([`rtsp`]).
//!
//! Each test file uses part of it.
#![allow(dead_code)]

pub mod rtsp;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sense_bus::config::{CameraConfig, CameraEntry};
use sense_source_camera::ffmpeg::Input;
use sense_source_camera::{Control, EndReason, StreamState, Supervisor, SupervisorSettings};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub fn ffmpeg_binary() -> PathBuf {
    let path =
        std::env::var_os("FFMPEG").map_or_else(|| PathBuf::from("/usr/bin/ffmpeg"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: these tests need FFmpeg (apt-get install ffmpeg, or set FFMPEG)",
        path.display()
    );
    path
}

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sense-camera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn config(max_reconnect_attempts: i32) -> CameraConfig {
    CameraConfig {
        reconnect_delay: 1,
        max_reconnect_attempts,
        hls_segment_duration: 1,
        hls_playlist_size: 3,
        ..CameraConfig::default()
    }
}

pub fn settings(
    ffmpeg: PathBuf,
    hls_dir: PathBuf,
    input: Input,
    config: CameraConfig,
) -> SupervisorSettings {
    let mut s = SupervisorSettings::new(ffmpeg, hls_dir, input, config);
    s.check_every = Duration::from_millis(250);
    s.startup_timeout = Duration::from_secs(10);
    s
}

/// A running supervisor: its controls, the states it published, its task.
pub struct Harness {
    pub controls: mpsc::Sender<Control>,
    pub states: mpsc::UnboundedReceiver<StreamState>,
    pub seen: Vec<StreamState>,
    pub task: JoinHandle<EndReason>,
}

impl Harness {
    pub fn start(settings: SupervisorSettings) -> Harness {
        let (controls, rx) = mpsc::channel(8);
        let (state_tx, states) = mpsc::unbounded_channel();
        let task = tokio::spawn(Supervisor::new(settings).run(rx, move |s: &StreamState| {
            let _ = state_tx.send(s.clone());
        }));
        Harness {
            controls,
            states,
            seen: Vec::new(),
            task,
        }
    }

    pub async fn send(&self, control: Control) {
        self.controls.send(control).await.unwrap();
    }

    /// Waits for a published state that satisfies `ok`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        ok: impl Fn(&StreamState) -> bool,
    ) -> StreamState {
        match self.try_wait_for(within, ok).await {
            Some(state) => state,
            None => panic!(
                "no {what} state within {within:?}; states: {:#?}",
                self.seen
            ),
        }
    }

    /// Waits for a published state that satisfies `ok`; `None` if none comes within `within`.
    pub async fn try_wait_for(
        &mut self,
        within: Duration,
        ok: impl Fn(&StreamState) -> bool,
    ) -> Option<StreamState> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.states.recv()).await {
                Ok(Some(state)) => {
                    self.seen.push(state.clone());
                    if ok(&state) {
                        return Some(state);
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    pub async fn end(mut self, within: Duration) -> (EndReason, Vec<StreamState>) {
        let reason = tokio::time::timeout(within, &mut self.task)
            .await
            .expect("the supervisor did not end in time")
            .unwrap();
        while let Ok(state) = self.states.try_recv() {
            self.seen.push(state);
        }
        (reason, self.seen)
    }
}

/// The stream's files in `dir` (see `is_stream_file`), sorted.
pub fn stream_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| sense_source_camera::is_stream_file(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every entry of `dir`, dot files and folders included, sorted.
pub fn all_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn camera(host: &str, port: u16, user: &str, password: &str, path: &str) -> CameraEntry {
    serde_json::from_value(serde_json::json!({
        "name": "Test", "host": host, "port": port, "stream_path": path,
        "username": user, "password": password,
    }))
    .unwrap()
}

/// An executable shell script `name` in `dir` with `body`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub fn fake_ffmpeg(dir: &Path, body: &str) -> PathBuf {
    script(dir, "fake-ffmpeg", body)
}

/// Every log line written while the returned guard lives on this thread (a `#[tokio::test]`
/// runs its tasks on the test's thread), at every level.
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// The captured log.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
