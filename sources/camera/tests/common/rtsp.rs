//! A fake IP camera: an RTSP server on 127.0.0.1 that asks for HTTP Basic credentials, as
//! cameras do, and plays FFmpeg's test pattern as H.264 over RTP interleaved in the RTSP
//! connection (`rtsp_transport tcp`).
//!
//! A second FFmpeg encodes the pattern and sends it as RTP to a UDP socket of the fake, which
//! hands the packets on to every client that has sent `PLAY`. The SDP is the one that FFmpeg
//! prints for its RTP output, with the control attribute RTSP needs. It serves one stream, at
//! any path, and records every request (method, and whether its credentials were right).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// One request the camera got.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `OPTIONS`, `DESCRIBE`, `SETUP`, `PLAY`, ...
    pub method: String,
    /// The `user:password` of its Basic `Authorization`, decoded; `None` without one.
    pub credentials: Option<String>,
    /// Whether they were the camera's.
    pub authorized: bool,
}

/// The running fake camera; everything stops when it is dropped.
pub struct FakeCamera {
    /// Its RTSP port on 127.0.0.1.
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _encoder: Child,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeCamera {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Shared {
    sdp: String,
    expected: String,
    rtp: broadcast::Sender<Vec<u8>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeCamera {
    /// Starts the encoder and the server; returns once FFmpeg has described its stream.
    pub async fn start(ffmpeg: &Path, user: &str, password: &str) -> FakeCamera {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rtp_port = udp.local_addr().unwrap().port();
        let mut encoder = Command::new(ffmpeg)
            .args([
                "-hide_banner",
                "-nostdin",
                "-nostats",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x180:rate=15",
                "-an",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "15",
                // SPS and PPS before every keyframe, as cameras send them.
                "-bsf:v",
                "dump_extra",
                "-f",
                "rtp",
                "-payload_type",
                "96",
            ])
            .arg(format!("rtp://127.0.0.1:{rtp_port}?pkt_size=1200"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // FFmpeg prints `SDP:`, the SDP, and an empty line once its output is set up.
        let mut stdout = BufReader::new(encoder.stdout.take().unwrap());
        let mut sdp = String::new();
        let mut started = false;
        let read_sdp = async {
            loop {
                let mut line = String::new();
                let n = stdout.read_line(&mut line).await.unwrap();
                assert!(n > 0, "the encoder ended before printing its SDP");
                let line = line.trim_end();
                if line == "SDP:" {
                    started = true;
                } else if started && line.is_empty() {
                    break;
                } else if started {
                    // The port of an RTSP session's media is set by SETUP, not the SDP.
                    if line.starts_with("m=video ") {
                        sdp.push_str("m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\n");
                    } else {
                        sdp.push_str(line);
                        sdp.push_str("\r\n");
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read_sdp)
            .await
            .expect("the encoder printed no SDP within 20 s");

        let (rtp, _) = broadcast::channel(4096);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            sdp,
            expected: format!("{user}:{password}"),
            rtp: rtp.clone(),
            seen: Arc::clone(&seen),
        });
        let forward = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = udp.recv(&mut buf).await {
                let _ = rtp.send(buf[..n].to_vec());
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        FakeCamera {
            port,
            seen,
            _encoder: encoder,
            tasks: vec![forward, accept],
        }
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One request: method, URL and headers (names in lower case).
struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The next request on the connection, skipping the RTCP packets the client interleaves (`$`,
/// channel, 16-bit length); `None` once the client is gone.
async fn next_request(read: &mut BufReader<OwnedReadHalf>) -> Option<Request> {
    loop {
        let first = *read.fill_buf().await.ok()?.first()?;
        if first == b'$' {
            let mut head = [0u8; 4];
            read.read_exact(&mut head).await.ok()?;
            let mut skip = vec![0u8; usize::from(u16::from_be_bytes([head[2], head[3]]))];
            read.read_exact(&mut skip).await.ok()?;
            continue;
        }
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        let mut words = lines.first()?.split(' ');
        let method = words.next()?.to_owned();
        let url = words.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines[1..]
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        read.read_exact(&mut body).await.ok()?;
        return Some(Request {
            method,
            url,
            headers,
        });
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    // Answers and RTP go out through one writer.
    let (out, mut outgoing) = mpsc::channel::<Vec<u8>>(1024);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut player: Option<JoinHandle<()>> = None;
    while let Some(request) = next_request(&mut read).await {
        let cseq = request.header("cseq").unwrap_or("0").to_owned();
        let credentials = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let authorized = credentials.as_deref() == Some(shared.expected.as_str());
        shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Seen {
                method: request.method.clone(),
                credentials,
                authorized,
            });
        let needs_auth = matches!(request.method.as_str(), "DESCRIBE" | "SETUP" | "PLAY");
        let answer = if needs_auth && !authorized {
            format!(
                "RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n\
                 WWW-Authenticate: Basic realm=\"fake camera\"\r\n\r\n"
            )
        } else {
            match request.method.as_str() {
                "OPTIONS" => format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\
                     Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n"
                ),
                "DESCRIBE" => format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Base: {}/\r\n\
                     Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
                    request.url.trim_end_matches('/'),
                    shared.sdp.len(),
                    shared.sdp
                ),
                "SETUP"
                    if request
                        .header("transport")
                        .is_some_and(|t| t.contains("TCP")) =>
                {
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 5eb5e;timeout=60\r\n\
                         Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
                    )
                }
                "SETUP" => {
                    format!("RTSP/1.0 461 Unsupported Transport\r\nCSeq: {cseq}\r\n\r\n")
                }
                "PLAY" => format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 5eb5e\r\n\
                     Range: npt=0.000-\r\n\r\n"
                ),
                _ => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 5eb5e\r\n\r\n"),
            }
        };
        if out.send(answer.into_bytes()).await.is_err() {
            break;
        }
        // RTP only after the answer to PLAY (both go through `out`).
        if request.method == "PLAY" && authorized && player.is_none() {
            player = Some(tokio::spawn(play(shared.rtp.subscribe(), out.clone())));
        }
        if request.method == "TEARDOWN" {
            break;
        }
    }
    if let Some(player) = player {
        player.abort();
    }
    drop(out);
    let _ = writer.await;
}

/// Hands every RTP packet on as an interleaved frame on channel 0.
async fn play(mut rtp: broadcast::Receiver<Vec<u8>>, out: mpsc::Sender<Vec<u8>>) {
    loop {
        let packet = match rtp.recv().await {
            Ok(p) => p,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let Ok(len) = u16::try_from(packet.len()) else {
            continue;
        };
        let mut frame = Vec::with_capacity(packet.len() + 4);
        frame.extend_from_slice(&[b'$', 0]);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&packet);
        if out.send(frame).await.is_err() {
            break;
        }
    }
}
