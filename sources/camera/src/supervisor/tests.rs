use sense_bus::model::Value;
use sense_hal::Unit;

use super::*;

#[test]
fn backoff_doubles_up_to_a_minute() {
    let base = Duration::from_secs(5);
    let waits: Vec<u64> = (1..=6).map(|n| backoff(base, n).as_secs()).collect();
    assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
    assert_eq!(backoff(base, 1000), MAX_BACKOFF);
    assert_eq!(backoff(Duration::from_secs(300), 1), MAX_BACKOFF);
}

#[test]
fn only_stream_files_are_ours() {
    for name in [
        "stream.m3u8",
        "stream.m3u8.tmp",
        "segment_00000.ts",
        "segment_12345.ts",
        "segment_00001.ts.tmp",
    ] {
        assert!(is_stream_file(name), "{name}");
    }
    for name in [
        "other.ts",
        "notes.tmp",
        "stream.mp4",
        "segment_1.mp4",
        "thumb.jpg",
        "README",
    ] {
        assert!(!is_stream_file(name), "{name}");
    }
}

#[test]
fn statuses_and_reasons_speak_the_contract() {
    let all = [
        StreamStatus::Stopped,
        StreamStatus::Starting,
        StreamStatus::Streaming,
        StreamStatus::Reconnecting,
        StreamStatus::Error,
    ];
    let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["stopped", "starting", "streaming", "reconnecting", "error"]
    );
    assert_eq!(EndReason::UserStopped.as_str(), "user_stopped");
    assert_eq!(EndReason::MaxReconnects.as_str(), "max_reconnects");
    assert_eq!(EndReason::Error("x".into()).as_str(), "error");
}

fn sensor_names(state: &StreamState) -> Vec<String> {
    state.measurements().into_iter().map(|m| m.sensor).collect()
}

#[test]
fn readings_follow_the_contract() {
    let stopped = StreamState::default();
    assert_eq!(
        sensor_names(&stopped),
        [
            "stream_status",
            "stream_connected",
            "stream_error",
            "stream_uptime"
        ]
    );
    let m = stopped.measurements();
    assert_eq!(m[0].value, Value::Text("stopped".into()));
    assert_eq!(m[1].value, Value::Bool(false));
    assert_eq!(m[2].value, Value::Null);
    assert_eq!(m[3].value, Value::Float(0.0));
    assert_eq!(m[3].unit, Some(Unit::SECONDS));

    let streaming = StreamState {
        status: StreamStatus::Streaming,
        connected: true,
        resolution: Some("1920x1080".into()),
        fps: Some(25),
        started_at: Some(Instant::now() - Duration::from_secs(90)),
        ..StreamState::default()
    };
    assert_eq!(
        sensor_names(&streaming),
        [
            "stream_status",
            "stream_connected",
            "stream_error",
            "stream_resolution",
            "stream_fps",
            "stream_uptime"
        ]
    );
    let m = streaming.measurements();
    assert_eq!(m[3].value, Value::Text("1920x1080".into()));
    assert_eq!(m[4].value, Value::Int(25));
    assert_eq!(m[4].unit, Some(Unit::FRAMES_PER_SECOND));
    let uptime = m[5].value.as_f64().unwrap();
    assert!((90.0..91.0).contains(&uptime), "{uptime}");

    let failed = StreamState {
        status: StreamStatus::Reconnecting,
        error: Some("Connection refused".into()),
        ..StreamState::default()
    };
    assert_eq!(
        failed.measurements()[2].value,
        Value::Text("Connection refused".into())
    );
}

#[test]
fn the_stale_limit_covers_long_segments() {
    let mut s = SupervisorSettings::new(
        "ffmpeg".into(),
        "/tmp".into(),
        Input::TestPattern,
        CameraConfig::default(),
    );
    assert_eq!(s.stale_limit(), Duration::from_secs(10));
    s.config.hls_segment_duration = 10;
    assert_eq!(s.stale_limit(), Duration::from_secs(30));
}

#[tokio::test]
async fn cleaning_leaves_other_files() {
    let dir = std::env::temp_dir().join(format!("sense-camera-clean-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("segment_dir.ts")).unwrap();
    std::fs::create_dir_all(dir.join(FFMPEG_DIR)).unwrap();
    for name in [
        "stream.m3u8",
        "segment_00003.ts",
        "stream.m3u8.tmp",
        "keep.txt",
        "x.ts",
        ".ffmpeg/stream.m3u8",
        ".ffmpeg/stream.m3u8.tmp",
    ] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    assert_eq!(clean_hls_dir(&dir).await.unwrap(), 5);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["keep.txt", "segment_dir.ts", "x.ts"]);
    // FFmpeg's folder stays while it holds something that is not the stream's.
    std::fs::create_dir_all(dir.join(FFMPEG_DIR)).unwrap();
    std::fs::write(dir.join(".ffmpeg/notes"), b"x").unwrap();
    std::fs::write(dir.join(".ffmpeg/stream.m3u8"), b"x").unwrap();
    assert_eq!(clean_hls_dir(&dir).await.unwrap(), 1);
    assert!(dir.join(".ffmpeg/notes").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(clean_hls_dir(&dir).await.unwrap(), 0);
}
