use super::*;
use std::path::PathBuf;

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn config(segment: u32, size: u32) -> CameraConfig {
    CameraConfig {
        hls_segment_duration: segment,
        hls_playlist_size: size,
        ..CameraConfig::default()
    }
}

#[test]
fn rtsp_hls_command_line() {
    let input = Input::Rtsp {
        url: "rtsp://u:p%20w@10.0.0.2:554/live; rm -rf /".into(),
        transport: RtspTransport::Udp,
    };
    let args = strings(&hls_args(&input, Path::new("/hls"), &config(2, 3)));
    assert_eq!(
        args.join(" "),
        "-hide_banner -nostdin -nostats -loglevel level+info \
         -f concat -safe 0 -protocol_whitelist pipe,rtsp,rtp,tcp,udp -i pipe:0 \
         -map 0:v:0 -map 0:a:0? -c:v copy -c:a aac -b:a 64k \
         -f hls -hls_time 2 -hls_list_size 3 \
         -hls_flags delete_segments+program_date_time+independent_segments \
         -hls_segment_filename /hls/segment_%05d.ts /hls/.ffmpeg/stream.m3u8"
    );
    // The URL, and with it the password, is no argument at all: it comes on stdin.
    assert!(
        !args
            .iter()
            .any(|a| a.contains("rtsp://") || a.contains("p%20w"))
    );
    assert_eq!(
        input_script(&input, RTSP_IO_TIMEOUT).unwrap(),
        "ffconcat version 1.0\n\
         file 'rtsp://u:p%20w@10.0.0.2:554/live; rm -rf /'\n\
         option rtsp_transport udp\n\
         option timeout 10000000\n"
    );
}

#[test]
fn the_input_script_keeps_the_url_one_entry() {
    // URLs from `rtsp::url` have neither; a hand-made one still cannot add a line.
    let input = Input::Rtsp {
        url: "rtsp://h:554/a'b\nfile 'x'\r".into(),
        transport: RtspTransport::Tcp,
    };
    let script = input_script(&input, Duration::from_secs(5)).unwrap();
    assert_eq!(
        script,
        "ffconcat version 1.0\n\
         file 'rtsp://h:554/a'\\''b%0Afile '\\''x'\\''%0D'\n\
         option rtsp_transport tcp\n\
         option timeout 5000000\n"
    );
    assert_eq!(input_script(&Input::TestPattern, RTSP_IO_TIMEOUT), None);
    assert_eq!(
        input_script(&Input::Local("/hls/stream.m3u8".into()), RTSP_IO_TIMEOUT),
        None
    );
}

#[test]
fn messages_about_stdin_name_the_camera() {
    let input = Input::Rtsp {
        url: "rtsp://admin:hunter22@127.0.0.1:9/x".into(),
        transport: RtspTransport::Tcp,
    };
    assert_eq!(
        input.explain("pipe:0: Connection refused"),
        "rtsp://admin:***@127.0.0.1:9/x: Connection refused"
    );
    assert_eq!(
        input.explain("Impossible to open 'rtsp://admin:hunter22@127.0.0.1:9/x'"),
        "Impossible to open 'rtsp://admin:***@127.0.0.1:9/x'"
    );
    assert_eq!(Input::TestPattern.explain("pipe:0: odd"), "pipe:0: odd");
}

#[test]
fn test_pattern_command_line() {
    let args = strings(&hls_args(
        &Input::TestPattern,
        Path::new("/tmp/h%d"),
        &config(4, 5),
    ));
    let line = args.join(" ");
    assert!(line.contains(
        "-re -f lavfi -i testsrc2=size=640x360:rate=15 \
         -re -f lavfi -i sine=frequency=440:sample_rate=44100"
    ));
    assert!(line.contains("-c:v libx264 -preset ultrafast -tune zerolatency"));
    assert!(line.contains("-g 60"), "{line}");
    assert!(line.contains("-hls_time 4 -hls_list_size 5"));
    // `%` in the folder is escaped in the pattern only.
    assert!(line.ends_with("/tmp/h%%d/segment_%05d.ts /tmp/h%d/.ffmpeg/stream.m3u8"));
}

#[test]
fn relative_folders_become_absolute() {
    let args = hls_args(&Input::TestPattern, Path::new("a:b"), &config(2, 3));
    let last = PathBuf::from(args.last().unwrap());
    assert!(last.is_absolute());
    assert!(last.ends_with("a:b/.ffmpeg/stream.m3u8"));
}

#[test]
fn thumbnail_command_line() {
    let input = Input::Rtsp {
        url: "rtsp://cam:554/x".into(),
        transport: RtspTransport::Tcp,
    };
    let args = strings(&thumbnail_args(&input, Path::new("/t/x.jpg")));
    assert_eq!(
        args.join(" "),
        "-hide_banner -nostdin -nostats -loglevel level+info \
         -f concat -safe 0 -protocol_whitelist pipe,rtsp,rtp,tcp,udp -i pipe:0 \
         -an -frames:v 1 -q:v 5 -c:v mjpeg -f image2 -update 1 -y /t/x.jpg"
    );
}

#[test]
fn debug_never_shows_the_password() {
    let input = Input::Rtsp {
        url: "rtsp://admin:topsecret@cam:554/x".into(),
        transport: RtspTransport::Tcp,
    };
    let shown = format!("{input:?} {}", input.describe());
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(shown.contains("admin:***@cam"));
}

fn info(resolution: Option<&str>, fps: Option<u32>) -> Option<StreamInfo> {
    Some(StreamInfo {
        resolution: resolution.map(str::to_owned),
        fps,
    })
}

#[test]
fn stream_lines_from_this_machines_ffmpeg() {
    // Captured from Debian's FFmpeg 5.1 with `-loglevel level+info`: the test pattern's input
    // (raw video reports `tbr`, not `fps`) and its encoded output.
    assert_eq!(
        parse_stream_info(
            "[info]   Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuv420p, 640x360 \
             [SAR 1:1 DAR 16:9], 15 tbr, 15 tbn"
        ),
        info(Some("640x360"), None)
    );
    assert_eq!(
        parse_stream_info(
            "[info]   Stream #0:0: Video: h264, yuv420p(progressive), 640x360 \
             [SAR 1:1 DAR 16:9], q=2-31, 15 fps, 90k tbn"
        ),
        info(Some("640x360"), Some(15))
    );
    // Without the level tag, as plain `-loglevel info` prints it: an H.264 MP4 input made here.
    assert_eq!(
        parse_stream_info(
            "  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), \
             yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 13422 kb/s, 25 fps, 25 tbr, \
             12800 tbn (default)"
        ),
        info(Some("1920x1080"), Some(25))
    );
}

#[test]
fn stream_lines_as_ip_cameras_report_them() {
    // Hikvision, Dahua and Reolink RTSP streams as FFmpeg prints them.
    assert_eq!(
        parse_stream_info(
            "  Stream #0:0: Video: h264 (Main), yuvj420p(pc, bt709, progressive), \
             1920x1080, 25 fps, 25 tbr, 90k tbn"
        ),
        info(Some("1920x1080"), Some(25))
    );
    assert_eq!(
        parse_stream_info(
            "  Stream #0:0: Video: hevc (Main), yuv420p(tv), 2688x1520, 29.97 fps, \
             29.97 tbr, 90k tbn"
        ),
        info(Some("2688x1520"), Some(30))
    );
    assert_eq!(
        parse_stream_info(
            "  Stream #0:0: Video: h264 (High), yuv420p(progressive), 2560x1440, \
             90k tbr, 90k tbn"
        ),
        info(Some("2560x1440"), None)
    );
}

#[test]
fn other_lines_are_not_stream_info() {
    for line in [
        "[info]   Stream #1:0: Audio: pcm_s16le, 48000 Hz, mono, s16, 768 kb/s",
        "[info]   Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (libx264))",
        "[info] frame=   44 fps= 15 q=-1.0 Lsize=N/A time=00:00:02.93 bitrate=N/A",
        "[info] Input #0, lavfi, from 'testsrc2=size=320x180:rate=15':",
        "",
    ] {
        assert_eq!(parse_stream_info(line), None, "{line}");
    }
}

#[test]
fn merging_keeps_what_is_known() {
    let mut known = info(Some("640x360"), None).unwrap();
    known.merge(info(None, Some(15)).unwrap());
    assert_eq!(Some(known), info(Some("640x360"), Some(15)));
}

#[test]
fn error_lines() {
    // Captured: a refused RTSP connection.
    assert_eq!(
        error_message(
            "[tcp @ 0x559cba141880] [error] Connection to tcp://127.0.0.1:9?timeout=3000000 \
             failed: Connection refused"
        ),
        Some("Connection to tcp://127.0.0.1:9?timeout=3000000 failed: Connection refused")
    );
    assert_eq!(
        error_message("[error] rtsp://admin:x@127.0.0.1:9/x: Connection refused"),
        Some("rtsp://admin:x@127.0.0.1:9/x: Connection refused")
    );
    assert_eq!(
        error_message("[fatal] out of memory"),
        Some("out of memory")
    );
    assert_eq!(error_message("[info] Stream mapping:"), None);
    assert_eq!(error_message("[warning] something odd"), None);
}
