//! The supervisor and thumbnails with the real FFmpeg (`/usr/bin/ffmpeg`, or `$FFMPEG`), and
//! fake "FFmpeg" scripts to see exactly what is run.
//!
//! FFmpeg must be installed (`apt-get install ffmpeg`): these tests fail, saying so, without it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    Harness, camera, closed_port, config, fake_ffmpeg, ffmpeg_binary, scratch, settings,
    stream_files,
};
use sense_source_camera::ffmpeg::{self, Input};
use sense_source_camera::{
    CameraError, Control, EndReason, StreamState, StreamStatus, rtsp, thumbnail,
    thumbnail_with_timeout,
};

fn streaming_with_info(s: &StreamState) -> bool {
    s.status == StreamStatus::Streaming && s.fps.is_some() && s.resolution.is_some()
}

#[tokio::test]
async fn the_test_pattern_streams_and_stop_cleans_up() {
    let started = Instant::now();
    let dir = scratch("stream");
    let hls = dir.join("hls/nested"); // created by the supervisor
    let mut h = Harness::start(settings(
        ffmpeg_binary(),
        hls.clone(),
        Input::TestPattern,
        config(-1),
    ));
    h.wait_for("stopped", Duration::from_secs(2), |s| {
        s.status == StreamStatus::Stopped
    })
    .await;
    h.send(Control::Start).await;
    let starting = h
        .wait_for("starting", Duration::from_secs(5), |s| {
            s.status == StreamStatus::Starting
        })
        .await;
    assert!(starting.pid.is_some());
    let streaming = h
        .wait_for("streaming", Duration::from_secs(12), streaming_with_info)
        .await;
    assert!(streaming.connected);
    assert_eq!(streaming.error, None);
    assert_eq!(streaming.resolution.as_deref(), Some("640x360"));
    assert_eq!(streaming.fps, Some(15));
    let names: Vec<String> = streaming
        .measurements()
        .into_iter()
        .map(|m| m.sensor)
        .collect();
    assert_eq!(
        names,
        [
            "stream_status",
            "stream_connected",
            "stream_error",
            "stream_resolution",
            "stream_fps",
            "stream_uptime"
        ]
    );

    // A real playlist naming real segments.
    let playlist = std::fs::read_to_string(hls.join(ffmpeg::PLAYLIST)).unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    assert!(playlist.contains("#EXT-X-PROGRAM-DATE-TIME"), "{playlist}");
    let segment = playlist
        .lines()
        .find(|l| l.starts_with("segment_") && l.ends_with(".ts"))
        .unwrap_or_else(|| panic!("no segment in {playlist}"));
    assert!(std::fs::metadata(hls.join(segment)).unwrap().len() > 0);
    // Another file in the folder must survive the clean-up.
    std::fs::write(hls.join("keep.txt"), "not ours").unwrap();

    h.send(Control::Stop).await;
    let (reason, seen) = h.end(Duration::from_secs(8)).await;
    assert_eq!(reason, EndReason::UserStopped);
    assert_eq!(seen.last().unwrap().status, StreamStatus::Stopped);
    assert_eq!(seen.last().unwrap().pid, None);
    assert_eq!(stream_files(&hls), Vec::<String>::new());
    assert!(hls.join("keep.txt").exists());
    let pid = streaming.pid.unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "FFmpeg {pid} is still there"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("took {:?}", started.elapsed());
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_killed_ffmpeg_is_replaced_and_restart_respawns() {
    let started = Instant::now();
    let dir = scratch("kill");
    let mut h = Harness::start(settings(
        ffmpeg_binary(),
        dir.clone(),
        Input::TestPattern,
        config(-1),
    ));
    h.send(Control::Start).await;
    let first = h
        .wait_for("streaming", Duration::from_secs(12), |s| {
            s.status == StreamStatus::Streaming
        })
        .await;
    signal(first.pid.unwrap(), "-KILL");
    let broken = h
        .wait_for("reconnecting", Duration::from_secs(5), |s| {
            s.status == StreamStatus::Reconnecting
        })
        .await;
    assert!(!broken.connected);
    assert_eq!(broken.reconnect_attempts, 1);
    let error = broken.error.unwrap();
    assert!(error.starts_with("FFmpeg exited"), "{error}");
    let second = h
        .wait_for("streaming again", Duration::from_secs(12), |s| {
            s.status == StreamStatus::Streaming
        })
        .await;
    assert_ne!(second.pid, first.pid);
    assert_eq!(second.error, None);

    // Restart: a new process, starting afresh, without the supervisor ending.
    h.send(Control::Restart).await;
    let restarted = h
        .wait_for("starting", Duration::from_secs(8), |s| {
            s.status == StreamStatus::Starting
        })
        .await;
    assert_ne!(restarted.pid, second.pid);
    assert_eq!(restarted.reconnect_attempts, 0);
    h.wait_for("streaming after restart", Duration::from_secs(12), |s| {
        s.status == StreamStatus::Streaming
    })
    .await;
    h.send(Control::Stop).await;
    let (reason, _) = h.end(Duration::from_secs(8)).await;
    assert_eq!(reason, EndReason::UserStopped);
    assert_eq!(stream_files(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_frozen_ffmpeg_is_found_stale_and_replaced() {
    let started = Instant::now();
    let dir = scratch("stale");
    let mut s = settings(ffmpeg_binary(), dir.clone(), Input::TestPattern, config(-1));
    s.stale_after = Duration::from_secs(3);
    let mut h = Harness::start(s);
    h.send(Control::Start).await;
    let first = h
        .wait_for("streaming", Duration::from_secs(12), |s| {
            s.status == StreamStatus::Streaming
        })
        .await;
    // Alive but writing nothing.
    signal(first.pid.unwrap(), "-STOP");
    let stale = h
        .wait_for("reconnecting", Duration::from_secs(8), |s| {
            s.status == StreamStatus::Reconnecting
        })
        .await;
    let error = stale.error.unwrap();
    assert!(error.contains("stalled"), "{error}");
    assert!(
        !Path::new(&format!("/proc/{}", first.pid.unwrap())).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", first.pid.unwrap()))
                .is_ok_and(|s| s.contains(") Z ")),
        "the frozen FFmpeg was not killed"
    );
    h.wait_for("streaming again", Duration::from_secs(12), |s| {
        s.status == StreamStatus::Streaming
    })
    .await;
    h.send(Control::Stop).await;
    assert_eq!(
        h.end(Duration::from_secs(8)).await.0,
        EndReason::UserStopped
    );
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_unreachable_camera_runs_out_of_reconnects() {
    let started = Instant::now();
    let dir = scratch("unreachable");
    let cam = camera("127.0.0.1", closed_port(), "admin", "hunter22", "/x");
    let input = Input::camera(&cam, Default::default());
    let h = Harness::start(settings(ffmpeg_binary(), dir.clone(), input, config(2)));
    h.send(Control::Start).await;
    // Two reconnects (1 s then 2 s of backoff), then the end.
    let (reason, seen) = h.end(Duration::from_secs(14)).await;
    assert_eq!(reason, EndReason::MaxReconnects);
    assert_eq!(reason.as_str(), "max_reconnects");
    let attempts: Vec<u32> = seen
        .iter()
        .filter(|s| s.status == StreamStatus::Reconnecting && s.pid.is_none())
        .map(|s| s.reconnect_attempts)
        .collect();
    assert_eq!(attempts, [1, 2]);
    let last = seen.last().unwrap();
    assert_eq!(last.status, StreamStatus::Error);
    assert!(!last.connected);
    let error = last.error.clone().unwrap();
    assert!(error.contains("Connection refused"), "{error}");
    assert!(error.contains("admin:***@127.0.0.1"), "{error}");
    for state in &seen {
        assert!(
            !format!("{state:?}").contains("hunter22"),
            "the password leaked: {state:?}"
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!("took {elapsed:?}");
}

#[tokio::test]
async fn hostile_config_values_reach_ffmpeg_as_one_argument_and_no_shell() {
    let dir = scratch("argv");
    let marker = dir.join("pwned");
    let m = marker.display();
    let cam = camera(
        "10.0.0.7",
        554,
        &format!("ad min;$(touch {m})`touch {m}`"),
        &format!("p'a\"s s\nw|d&&touch {m}"),
        &format!("/live stream;$(touch {m})#x?y=1&z=\"2\""),
    );
    let input = Input::camera(&cam, Default::default());
    let fake = fake_ffmpeg(
        &dir,
        r#"printf '%s\0' "$@" > "$(dirname "$0")/argv"; cat > "$(dirname "$0")/stdin"; exit 1"#,
    );
    let hls = dir.join("hls dir; $(touch pwned)");
    let s = settings(fake, hls.clone(), input.clone(), config(0));
    let h = Harness::start(s);
    h.send(Control::Start).await;
    let (reason, _) = h.end(Duration::from_secs(8)).await;
    assert_eq!(reason, EndReason::MaxReconnects);

    let raw = std::fs::read(dir.join("argv")).unwrap();
    let argv: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8(a.to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = ffmpeg::hls_args(&input, &hls, &config(0))
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(argv, expected);
    assert_eq!(
        argv[argv.iter().position(|a| a == "-i").unwrap() + 1],
        "pipe:0"
    );
    // The URL comes on stdin, as the one entry of a concat script.
    let script = std::fs::read_to_string(dir.join("stdin")).unwrap();
    let lines: Vec<&str> = script.lines().collect();
    assert_eq!(lines.len(), 4, "{script}");
    assert_eq!(lines[0], "ffconcat version 1.0");
    let url = lines[1]
        .strip_prefix("file '")
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{script}"));
    assert_eq!(url, rtsp::url(&cam));
    assert_eq!(
        lines[2..],
        ["option rtsp_transport tcp", "option timeout 10000000"]
    );
    assert!(url.starts_with("rtsp://ad%20min%3B%24%28touch%20"), "{url}");
    assert!(
        url.contains("@10.0.0.7:554/live%20stream;%24%28touch"),
        "{url}"
    );
    assert!(
        !url.contains(['\n', ' ', '"', '\'', '`', '$', '#']),
        "{url}"
    );
    assert_eq!(
        argv.last().unwrap(),
        &hls.join(".ffmpeg/stream.m3u8").display().to_string()
    );
    assert!(!marker.exists(), "a shell ran something");
    assert!(!dir.join("hls dir; $(touch pwned)").join("pwned").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_missing_ffmpeg_ends_with_an_error() {
    let dir = scratch("missing");
    let h = Harness::start(settings(
        dir.join("no-such-ffmpeg"),
        dir.clone(),
        Input::TestPattern,
        config(-1),
    ));
    h.send(Control::Start).await;
    let (reason, seen) = h.end(Duration::from_secs(5)).await;
    let EndReason::Error(message) = &reason else {
        panic!("{reason:?}")
    };
    assert!(message.contains("no-such-ffmpeg"), "{message}");
    assert_eq!(reason.as_str(), "error");
    assert_eq!(seen.last().unwrap().status, StreamStatus::Error);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn stop_before_start_just_ends() {
    let dir = scratch("idle");
    std::fs::write(dir.join("segment_00007.ts"), "old").unwrap();
    let h = Harness::start(settings(
        ffmpeg_binary(),
        dir.clone(),
        Input::TestPattern,
        config(-1),
    ));
    h.send(Control::Stop).await;
    let (reason, seen) = h.end(Duration::from_secs(3)).await;
    assert_eq!(reason, EndReason::UserStopped);
    assert_eq!(seen.last().unwrap().status, StreamStatus::Stopped);
    assert_eq!(stream_files(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_thumbnail_is_a_jpeg_and_is_cached() {
    let dir = scratch("thumb");
    let out = dir.join("thumbs/camera.jpg");
    let ffmpeg = ffmpeg_binary();
    let started = Instant::now();
    let path = thumbnail(&ffmpeg, &Input::TestPattern, &out, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(path, out);
    let jpeg = std::fs::read(&out).unwrap();
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
    eprintln!("thumbnail took {:?}", started.elapsed());
    // Young enough: reused, FFmpeg not even run.
    let again = thumbnail(
        &dir.join("no-such-ffmpeg"),
        &Input::TestPattern,
        &out,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(again, out);
    // No temporary files are left.
    let left: Vec<_> = std::fs::read_dir(dir.join("thumbs")).unwrap().collect();
    assert_eq!(left.len(), 1);
    // Too old (cache 0): grabbed again.
    let err = thumbnail(
        &dir.join("no-such-ffmpeg"),
        &Input::TestPattern,
        &out,
        Duration::ZERO,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CameraError::Spawn { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_thumbnail_of_an_unreachable_camera_names_the_cause() {
    let dir = scratch("thumb-fail");
    let cam = camera("127.0.0.1", closed_port(), "admin", "hunter22", "/x");
    let input = Input::camera(&cam, Default::default());
    let err = thumbnail(
        &ffmpeg_binary(),
        &input,
        &dir.join("t.jpg"),
        Duration::from_secs(30),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, CameraError::Ffmpeg { .. }), "{err:?}");
    assert!(message.contains("Connection refused"), "{message}");
    assert!(message.contains("admin:***@127.0.0.1"), "{message}");
    assert!(!message.contains("hunter22"), "{message}");
    assert!(!dir.join("t.jpg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_hanging_thumbnail_is_killed_on_timeout() {
    let dir = scratch("thumb-hang");
    let fake = fake_ffmpeg(&dir, r#"echo $$ > "$(dirname "$0")/pid"; exec sleep 30"#);
    let started = Instant::now();
    let err = thumbnail_with_timeout(
        &fake,
        &Input::TestPattern,
        &dir.join("t.jpg"),
        Duration::from_secs(30),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, CameraError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("within 1 s"), "{err}");
    let pid = std::fs::read_to_string(dir.join("pid")).unwrap();
    let pid = pid.trim();
    // Killed: gone, or a zombie until tokio reaps it.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.contains(") Z "));
        if gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hanging FFmpeg {pid} was not killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
