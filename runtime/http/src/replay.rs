//! A local HTTP server that answers with recorded response formats: for tests (every error path a
//! real server can produce, on demand) and for the simulated web services of `--sim`.
//!
//! It speaks just enough HTTP/1.1 by hand (one request per connection, `Connection: close`) to be
//! able to misbehave on purpose: answer slowly, send a huge body, or promise more bytes than it
//! sends and hang up.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with its query, e.g. `/London?format=j1`.
    pub path: String,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// How the server answers one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A JSON body with a status.
    Json {
        /// The status code.
        status: u16,
        /// The body.
        body: String,
    },
    /// A status with an empty body.
    Status(u16),
    /// A status with extra headers and a body.
    WithHeaders {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// The reply after a pause.
    Delay(Duration, Box<Reply>),
    /// A 200 with a body of this many bytes.
    Huge(usize),
    /// A 200 that announces a longer body than it sends, then hangs up.
    Truncated(String),
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: impl Into<String>) -> Reply {
        Reply::Json {
            status: 200,
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

/// A running replay server; it stops when dropped.
pub struct ReplayServer {
    url: String,
    socket: Option<PathBuf>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request: head up to the blank line, then `Content-Length` bytes of body.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<RecordedRequest> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(RecordedRequest {
        method,
        path,
        headers,
        body,
    })
}

async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, reply: Reply) -> std::io::Result<()> {
    let mut reply = reply;
    while let Reply::Delay(pause, inner) = reply {
        tokio::time::sleep(pause).await;
        reply = *inner;
    }
    let (status, headers, body, announced) = match reply {
        Reply::Json { status, body } => (
            status,
            vec![("content-type".to_owned(), "application/json".to_owned())],
            body.into_bytes(),
            None,
        ),
        Reply::Status(status) => (status, Vec::new(), Vec::new(), None),
        Reply::WithHeaders {
            status,
            headers,
            body,
        } => (status, headers, body.into_bytes(), None),
        Reply::Huge(n) => (200, Vec::new(), vec![b'x'; n], None),
        Reply::Truncated(body) => {
            let promised = body.len() + 1000;
            (
                200,
                vec![("content-type".to_owned(), "application/json".to_owned())],
                body.into_bytes(),
                Some(promised),
            )
        }
        Reply::Delay(..) => unreachable!("delays were unwrapped above"),
    };
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nconnection: close\r\n",
        reason(status)
    );
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n",
        announced.unwrap_or(body.len())
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let reply = handler(&request);
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    let _ = write_reply(&mut stream, reply).await;
}

impl ReplayServer {
    /// A server on `127.0.0.1` (a free port) answering every request with `handler`.
    pub async fn start(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> ReplayServer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (log, handler) = (Arc::default(), Arc::new(handler) as Arc<Handler>);
        let task = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve_connection(
                        stream,
                        Arc::clone(&handler),
                        Arc::clone(&log),
                    ));
                }
            })
        };
        ReplayServer {
            url,
            socket: None,
            log,
            task,
        }
    }

    /// A server on the unix socket `path` (replacing a stale socket file there). Panics when it
    /// cannot listen there: for tests; see [`ReplayServer::try_start_unix`].
    pub async fn start_unix(
        path: impl Into<PathBuf>,
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> ReplayServer {
        ReplayServer::try_start_unix(path, handler)
            .await
            .expect("bind the unix socket")
    }

    /// [`ReplayServer::start_unix`], or why it cannot listen at `path` (a read-only folder).
    pub async fn try_start_unix(
        path: impl Into<PathBuf>,
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<ReplayServer> {
        let path = path.into();
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)?;
        let (log, handler) = (Arc::default(), Arc::new(handler) as Arc<Handler>);
        let task = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve_connection(
                        stream,
                        Arc::clone(&handler),
                        Arc::clone(&log),
                    ));
                }
            })
        };
        Ok(ReplayServer {
            url: format!("unix:{}", path.display()),
            socket: Some(path),
            log,
            task,
        })
    }

    /// `http://127.0.0.1:PORT` (or `unix:PATH`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests had `method` and a path (query ignored) equal to `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path_only() == path)
            .count()
    }
}
