//! The camera's password stays out of what other users can read: FFmpeg's command line
//! (`/proc/<pid>/cmdline`, world-readable: `ps` shows it) and environment
//! (`/proc/<pid>/environ`), the HLS folder, the published states and the log; while a camera
//! that asks for the password still streams.
//!
//! The camera is [`common::rtsp::FakeCamera`]: a local RTSP server that answers `401` until it
//! gets the right Basic credentials, fed by a second FFmpeg's test pattern. Needs FFmpeg
//! (`apt-get install ffmpeg`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::rtsp::FakeCamera;
use common::{Harness, camera, capture_logs, config, ffmpeg_binary, scratch, settings};
use sense_bus::config::RtspTransport;
use sense_source_camera::ffmpeg::{self, Input};
use sense_source_camera::{Control, EndReason, StreamStatus, rtsp, thumbnail};

const USER: &str = "admin";
/// With a quote, a space and URL delimiters: percent-encoded in the URL FFmpeg gets, decoded by
/// FFmpeg for the camera.
const PASSWORD: &str = "Pw s3cret'4@fake:cam";

/// The password as it is in the URL.
fn encoded() -> String {
    rtsp::encode_userinfo(PASSWORD)
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Whether `bytes` hold the password, as it is or as in the URL.
fn holds_password(bytes: &[u8]) -> bool {
    holds(bytes, PASSWORD) || holds(bytes, &encoded())
}

/// Every file under `dir` whose content or name holds the password.
fn files_holding(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path));
        } else if holds_password(path.as_os_str().as_encoded_bytes())
            || std::fs::read(&path).is_ok_and(|b| holds_password(&b))
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// NUL-separated `/proc` lists as text, for messages.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', " ")
}

#[tokio::test]
async fn the_password_is_neither_on_the_command_line_nor_in_the_environment() {
    let ffmpeg = ffmpeg_binary();
    let (logs, _logging) = capture_logs();
    let fake = FakeCamera::start(&ffmpeg, USER, PASSWORD).await;
    let dir = scratch("password");
    let cam = camera("127.0.0.1", fake.port, USER, PASSWORD, "/stream");
    let input = Input::camera(&cam, RtspTransport::Tcp);
    let mut h = Harness::start(settings(ffmpeg, dir.clone(), input, config(-1)));
    h.send(Control::Start).await;
    let streaming = h
        .wait_for("streaming", Duration::from_secs(30), |s| {
            s.status == StreamStatus::Streaming
        })
        .await;
    let pid = streaming.pid.expect("the streaming FFmpeg's pid");

    // What any local user can read of the process that is streaming.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        holds(&cmdline, "-f\0hls"),
        "not FFmpeg's command line: {}",
        shown(&cmdline)
    );
    assert!(
        !holds_password(&cmdline),
        "the password is on FFmpeg's command line: {}",
        shown(&cmdline)
    );
    assert!(
        !holds_password(&environ),
        "the password is in FFmpeg's environment"
    );
    // Nor can any other setting of the service's be there (`CAMERA_CONFIG` holds the password
    // where the environment configures the camera): FFmpeg gets only a few variables.
    let names: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v.split(|b| *b == b'=').next().unwrap()).into_owned())
        .collect();
    assert!(
        names.iter().all(|n| ffmpeg::ENV_KEPT.contains(&n.as_str())),
        "FFmpeg's environment has more than it needs: {names:?}"
    );
    assert!(
        files_holding(&dir).is_empty(),
        "the password is in {:?}",
        files_holding(&dir)
    );

    // The camera got it, from that process, and the stream plays: a playlist naming segments
    // that exist.
    let seen = fake.seen();
    assert!(
        seen.iter().any(|r| r.method == "DESCRIBE" && !r.authorized),
        "the camera never asked for the password: {seen:?}"
    );
    assert!(
        seen.iter().any(|r| r.method == "PLAY" && r.authorized),
        "FFmpeg never played with the right password: {seen:?}"
    );
    let playlist = std::fs::read_to_string(dir.join(ffmpeg::PLAYLIST)).unwrap();
    let segment = playlist
        .lines()
        .find(|l| l.starts_with("segment_"))
        .unwrap_or_else(|| panic!("no segment in {playlist}"));
    assert!(std::fs::metadata(dir.join(segment)).unwrap().len() > 0);
    assert_eq!(streaming.resolution.as_deref(), Some("320x180"));

    h.send(Control::Stop).await;
    let (reason, states) = h.end(Duration::from_secs(10)).await;
    assert_eq!(reason, EndReason::UserStopped);
    for state in &states {
        assert!(
            !holds_password(format!("{state:?}").as_bytes()),
            "a state holds the password: {state:?}"
        );
    }
    assert!(
        files_holding(&dir).is_empty(),
        "the password was left in {:?}",
        files_holding(&dir)
    );
    let log = logs.text();
    assert!(log.contains("admin:***@127.0.0.1"), "{log}");
    assert!(
        !holds_password(log.as_bytes()),
        "the log holds the password:\n{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_reported_without_the_password() {
    let ffmpeg = ffmpeg_binary();
    let (logs, _logging) = capture_logs();
    let fake = FakeCamera::start(&ffmpeg, USER, "the-right-one").await;
    let dir = scratch("password-wrong");
    let cam = camera("127.0.0.1", fake.port, USER, PASSWORD, "/stream");
    let input = Input::camera(&cam, RtspTransport::Tcp);
    let h = Harness::start(settings(ffmpeg, dir.clone(), input, config(0)));
    h.send(Control::Start).await;
    let (reason, states) = h.end(Duration::from_secs(20)).await;
    assert_eq!(reason, EndReason::MaxReconnects);
    let last = states.last().unwrap();
    assert_eq!(last.status, StreamStatus::Error);
    let error = last.error.clone().unwrap();
    assert!(error.contains("401"), "{error}");
    assert!(
        error.contains(&format!("rtsp://{USER}:***@127.0.0.1:{}/stream", fake.port)),
        "the error does not name the camera: {error}"
    );
    for state in &states {
        assert!(
            !holds_password(format!("{state:?}").as_bytes()),
            "{state:?}"
        );
    }
    let seen = fake.seen();
    assert!(
        seen.iter()
            .any(|r| r.credentials.as_deref() == Some(&format!("{USER}:{PASSWORD}"))),
        "FFmpeg never offered the configured password: {seen:?}"
    );
    let log = logs.text();
    assert!(
        !holds_password(log.as_bytes()),
        "the log holds the password:\n{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_thumbnail_of_the_camera_keeps_the_password_off_the_command_line() {
    let ffmpeg = ffmpeg_binary();
    let fake = FakeCamera::start(&ffmpeg, USER, PASSWORD).await;
    let dir = scratch("password-thumb");
    // A stand-in FFmpeg that keeps its arguments and environment, then runs the real one.
    let wrapper = common::script(
        &dir,
        "ffmpeg",
        &format!(
            r#"d="$(dirname "$0")"; printf '%s\0' "$@" > "$d/argv"; env > "$d/environ"; exec '{}' "$@""#,
            ffmpeg.display()
        ),
    );
    let cam = camera("127.0.0.1", fake.port, USER, PASSWORD, "/stream");
    let input = Input::camera(&cam, RtspTransport::Tcp);
    let out = dir.join("thumbs/camera.jpg");
    thumbnail(&wrapper, &input, &out, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(&std::fs::read(&out).unwrap()[..3], &[0xFF, 0xD8, 0xFF]);
    let argv = std::fs::read(dir.join("argv")).unwrap();
    assert!(holds(&argv, "-frames:v"), "{}", shown(&argv));
    assert!(
        !holds_password(&argv),
        "the password is on FFmpeg's command line: {}",
        shown(&argv)
    );
    assert!(!holds_password(
        &std::fs::read(dir.join("environ")).unwrap()
    ));
    assert!(
        fake.seen()
            .iter()
            .any(|r| r.method == "PLAY" && r.authorized)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
