//! FFmpeg command lines and what FFmpeg says on stderr.
//!
//! Every argument is its own [`OsString`], passed with `Command::args`: there is no shell, so a
//! URL or path is always exactly one argument whatever it contains.
//!
//! A camera's URL, which holds its password, is never an argument: any local user can read a
//! process's command line (`ps`, `/proc/<pid>/cmdline`). FFmpeg reads it from its standard input
//! instead, as a one-entry playlist of its `concat` demuxer ([`input_script`]: `-f concat -safe 0
//! -i pipe:0`), written by the caller into a pipe and closed. FFmpeg's RTSP client then opens the
//! URL as it would from `-i`, with `rtsp_transport` and `timeout` as `option` lines of the
//! playlist. Nothing of it is on the command line, in the environment or on disk.
//!
//! FFmpeg's environment is not the service's either ([`command`]): only [`ENV_KEPT`] passes. The
//! service's holds the settings variables (`CAMERA_CONFIG` with the camera's password, say, in a
//! container the orchestrator starts), which FFmpeg does not need.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use sense_bus::config::{CameraConfig, CameraEntry, RtspTransport};

/// The HLS playlist's file name in the output folder.
pub const PLAYLIST: &str = "stream.m3u8";
/// Segment file names: `segment_00000.ts`, `segment_00001.ts`, ...
pub const SEGMENT_PATTERN: &str = "segment_%05d.ts";
/// How long an RTSP socket read or write may block before FFmpeg gives up (its `-timeout`), so a
/// camera that stops sending ends the process instead of hanging it.
pub const RTSP_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The simulated camera's picture size.
pub const TEST_PATTERN_SIZE: &str = "640x360";
/// The simulated camera's frame rate.
pub const TEST_PATTERN_FPS: u32 = 15;
/// What FFmpeg calls the input it reads from its standard input (in its messages too).
pub const STDIN_INPUT: &str = "pipe:0";
/// The environment variables FFmpeg gets from the service's (when set); no other.
pub const ENV_KEPT: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TZ",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LD_LIBRARY_PATH",
];
/// The protocols FFmpeg may open for a camera read through [`input_script`]: the script itself
/// (`pipe`) and what RTSP uses.
const CAMERA_PROTOCOLS: &str = "pipe,rtsp,rtp,tcp,udp";

/// What FFmpeg reads.
#[derive(Clone, PartialEq, Eq)]
pub enum Input {
    /// A network camera.
    Rtsp {
        /// `rtsp://...`, built by [`crate::rtsp::url`]. It may hold a password.
        url: String,
        /// TCP (interleaved) or UDP.
        transport: RtspTransport,
    },
    /// FFmpeg's `testsrc2` pattern with a 440 Hz tone, in real time: the simulated camera of
    /// `--sim`.
    TestPattern,
    /// A local media file or HLS playlist, read as fast as FFmpeg can (the stream's own playlist
    /// is the input of a thumbnail taken while streaming, so the camera sees no second client).
    Local(std::path::PathBuf),
}

impl Input {
    /// The RTSP input of `camera`.
    pub fn camera(camera: &CameraEntry, transport: RtspTransport) -> Input {
        Input::Rtsp {
            url: crate::rtsp::url(camera),
            transport,
        }
    }

    /// What it is, for messages: the URL with its password redacted.
    pub fn describe(&self) -> String {
        match self {
            Input::Rtsp { url, .. } => crate::rtsp::redacted(url),
            Input::TestPattern => "the test pattern".to_owned(),
            Input::Local(path) => path.display().to_string(),
        }
    }

    /// `text` with this input's password, if any, redacted.
    pub fn redact(&self, text: &str) -> String {
        match self {
            Input::Rtsp { url, .. } => crate::rtsp::redact_text(text, url),
            Input::TestPattern | Input::Local(_) => crate::rtsp::redact_text(text, ""),
        }
    }

    /// An FFmpeg message about this input, for people: redacted, and with the input FFmpeg
    /// read from its standard input (`pipe:0: Connection refused`) named as what it is.
    pub fn explain(&self, message: &str) -> String {
        let message = match (self, message.strip_prefix(STDIN_INPUT)) {
            (Input::Rtsp { .. }, Some(rest)) if rest.starts_with(':') => {
                format!("{}{rest}", self.describe())
            }
            _ => message.to_owned(),
        };
        self.redact(&message)
    }
}

/// What FFmpeg must read on its standard input for `input`, if anything: for a camera, a
/// `concat` playlist (`ffconcat version 1.0`) naming its URL, with the RTSP transport and the
/// socket timeout `io_timeout` as options of that input. It holds the password: write it to
/// FFmpeg's stdin and close it; never log it.
pub fn input_script(input: &Input, io_timeout: Duration) -> Option<String> {
    let Input::Rtsp { url, transport } = input else {
        return None;
    };
    let transport = match transport {
        RtspTransport::Tcp => "tcp",
        RtspTransport::Udp => "udp",
    };
    // In single quotes everything is literal; a quote is closed, escaped and reopened. The URL
    // is percent-encoded ([`crate::rtsp::url`]), so it has no quote or line break: this is the
    // second line of defence, as a line break would end the entry.
    let quoted = url
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace('\'', r"'\''");
    Some(format!(
        "ffconcat version 1.0\nfile '{quoted}'\noption rtsp_transport {transport}\n\
         option timeout {}\n",
        io_timeout.as_micros()
    ))
}

/// A command to run `program` (FFmpeg) with an environment of only the [`ENV_KEPT`] variables of
/// this process's.
pub fn command(program: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.env_clear();
    for name in ENV_KEPT {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// Writes `script` ([`input_script`]) to FFmpeg's `stdin` and closes it, from a task of its own
/// so a caller never waits on FFmpeg. A write that fails (FFmpeg already gone) is dropped:
/// FFmpeg's exit tells.
pub fn feed(mut stdin: tokio::process::ChildStdin, script: String) {
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if stdin.write_all(script.as_bytes()).await.is_ok() {
            let _ = stdin.shutdown().await;
        }
    });
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Rtsp { url, transport } => f
                .debug_struct("Rtsp")
                .field("url", &crate::rtsp::redacted(url))
                .field("transport", transport)
                .finish(),
            Input::TestPattern => f.write_str("TestPattern"),
            Input::Local(path) => f.debug_tuple("Local").field(path).finish(),
        }
    }
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

/// The options every run starts with: no banner, no stdin, no progress lines, and every log line
/// tagged with its level (`[error]`, `[info]`, ...) so errors can be told apart.
fn common(args: &mut Vec<OsString>) {
    push(
        args,
        &[
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "level+info",
        ],
    );
}

/// The input options and `-i`. `realtime` paces the test pattern at its frame rate.
fn input_args(args: &mut Vec<OsString>, input: &Input, realtime: bool) {
    match input {
        Input::Rtsp { .. } => {
            // The URL, transport and timeout come on stdin: see `input_script`.
            push(
                args,
                &[
                    "-f",
                    "concat",
                    "-safe",
                    "0",
                    "-protocol_whitelist",
                    CAMERA_PROTOCOLS,
                    "-i",
                    STDIN_INPUT,
                ],
            );
        }
        Input::TestPattern => {
            let video = format!("testsrc2=size={TEST_PATTERN_SIZE}:rate={TEST_PATTERN_FPS}");
            if realtime {
                push(args, &["-re"]);
            }
            push(args, &["-f", "lavfi", "-i", &video]);
            if realtime {
                push(
                    args,
                    &[
                        "-re",
                        "-f",
                        "lavfi",
                        "-i",
                        "sine=frequency=440:sample_rate=44100",
                    ],
                );
            }
        }
        Input::Local(path) => {
            if realtime {
                push(args, &["-re"]);
            }
            push(args, &["-i"]);
            args.push(absolute(path).into_os_string());
        }
    }
}

/// A path as FFmpeg should see it: absolute (a relative `a:b/x` would be read as protocol `a:`).
fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// FFmpeg's arguments (without the program) to turn `input` into an HLS stream in `out_dir`:
/// segments `out_dir/segment_NNNNN.ts` and FFmpeg's playlist in `out_dir/.ffmpeg/stream.m3u8`,
/// from which [`crate::hls::Publisher`] writes the served `out_dir/stream.m3u8`.
///
/// - RTSP: `-f concat -safe 0 -protocol_whitelist … -i pipe:0` with the URL, transport and
///   [`RTSP_IO_TIMEOUT`] on stdin ([`input_script`]), video copied as it comes (`-c:v copy`),
///   the first audio track, if any, transcoded to AAC.
/// - Test pattern: `testsrc2` at 640x360, 15 fps plus a sine tone, paced in real time, encoded with
///   `libx264 -preset ultrafast -tune zerolatency` with a keyframe every segment.
/// - HLS: `-hls_time`, `-hls_list_size` from `config`, old segments deleted, program date-times
///   and independent segments flagged.
pub fn hls_args(input: &Input, out_dir: &Path, config: &CameraConfig) -> Vec<OsString> {
    let segment = config.hls_segment_duration.max(1);
    let mut args = Vec::with_capacity(48);
    common(&mut args);
    input_args(&mut args, input, true);
    match input {
        Input::Rtsp { .. } | Input::Local(_) => push(
            &mut args,
            &[
                "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k",
            ],
        ),
        Input::TestPattern => {
            let gop = (TEST_PATTERN_FPS * segment).to_string();
            push(
                &mut args,
                &[
                    "-map",
                    "0:v:0",
                    "-map",
                    "1:a:0",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "zerolatency",
                    "-pix_fmt",
                    "yuv420p",
                    "-g",
                    &gop,
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                ],
            );
        }
    }
    let dir = absolute(out_dir);
    // `%` is special in FFmpeg's segment name pattern: a folder that has one needs it doubled.
    let mut segments = OsString::from(dir.as_os_str().to_string_lossy().replace('%', "%%"));
    segments.push("/");
    segments.push(SEGMENT_PATTERN);
    push(
        &mut args,
        &[
            "-f",
            "hls",
            "-hls_time",
            &segment.to_string(),
            "-hls_list_size",
            &config.hls_playlist_size.max(1).to_string(),
            "-hls_flags",
            "delete_segments+program_date_time+independent_segments",
            "-hls_segment_filename",
        ],
    );
    args.push(segments);
    args.push(crate::hls::Publisher::source(&dir).into_os_string());
    args
}

/// FFmpeg's arguments to write one JPEG frame of `input` to `out` (`-frames:v 1 -q:v 5`). A
/// camera's URL goes on stdin ([`input_script`]).
pub fn thumbnail_args(input: &Input, out: &Path) -> Vec<OsString> {
    let mut args = Vec::with_capacity(32);
    common(&mut args);
    input_args(&mut args, input, false);
    push(
        &mut args,
        &[
            "-an",
            "-frames:v",
            "1",
            "-q:v",
            "5",
            "-c:v",
            "mjpeg",
            "-f",
            "image2",
            "-update",
            "1",
            "-y",
        ],
    );
    args.push(absolute(out).into_os_string());
    args
}

/// The video stream's size and frame rate, as FFmpeg reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// `WIDTHxHEIGHT`, e.g. `1920x1080`.
    pub resolution: Option<String>,
    /// Frames per second, rounded.
    pub fps: Option<u32>,
}

impl StreamInfo {
    /// Takes what `other` knows, keeping what it does not.
    pub fn merge(&mut self, other: StreamInfo) {
        if other.resolution.is_some() {
            self.resolution = other.resolution;
        }
        if other.fps.is_some() {
            self.fps = other.fps;
        }
    }
}

fn parse_resolution(token: &str) -> Option<String> {
    let (w, h) = token.split_once('x')?;
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('0')
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| (1..=32_768).contains(&n))
    };
    (ok(w) && ok(h)).then(|| format!("{w}x{h}"))
}

fn parse_fps(value: &str) -> Option<u32> {
    let fps: f64 = value.parse().ok()?;
    if !(fps.is_finite() && fps > 0.0 && fps < 1000.0) {
        return None;
    }
    // In range by the check above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(fps.round() as u32)
}

/// The video size and frame rate in one FFmpeg stderr line such as
/// `  Stream #0:0: Video: h264 (Main), yuvj420p(pc, bt709, progressive), 1920x1080, 25 fps, 25 tbr, 90k tbn`;
/// `None` for any other line (audio streams, progress, ...). Either field may be missing (a raw
/// input reports `tbr` but no `fps`).
pub fn parse_stream_info(stderr_line: &str) -> Option<StreamInfo> {
    let stream = stderr_line.find("Stream #")?;
    let rest = &stderr_line[stream..];
    let video = rest.find(": Video: ")?;
    let details = &rest[video + ": Video: ".len()..];
    let mut info = StreamInfo::default();
    let words: Vec<&str> = details
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        if info.resolution.is_none() {
            info.resolution = parse_resolution(word);
        }
        if info.fps.is_none() && words.get(i + 1) == Some(&"fps") {
            info.fps = parse_fps(word);
        }
    }
    (info.resolution.is_some() || info.fps.is_some()).then_some(info)
}

/// The message of an FFmpeg `[error]` or `[fatal]` line (as logged with `-loglevel level+info`),
/// without the `[component @ 0x...]` and level tags; `None` for other lines.
pub fn error_message(stderr_line: &str) -> Option<&str> {
    let (_, message) = stderr_line
        .split_once("[error] ")
        .or_else(|| stderr_line.split_once("[fatal] "))?;
    let message = message.trim();
    (!message.is_empty()).then_some(message)
}

#[cfg(test)]
mod tests;
