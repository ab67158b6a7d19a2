//! Test helpers shared by the workspace's integration tests.
//!
//! [`RedisServer`] runs a real `redis-server` (Debian's package; `.ci/run` installs it) on a free
//! loopback port, with no persistence, in its own temporary directory. Unlike `redis-test`, it can
//! [`stop`](RedisServer::stop) and [`restart`](RedisServer::restart) on the *same* port, which is
//! what the "Redis goes away and comes back" tests need.
//!
//! A port cannot be reserved for another process: one found free may be taken before
//! `redis-server` binds it. So the server is started on a candidate port and, when it reports
//! `Address already in use`, started again on another; it is ready when it says so in its log,
//! and is checked to be ours (its `process_id`) before it is handed out. Anything else that stops
//! it is a panic quoting its log.

pub mod mosquitto;
pub mod proxy;
pub mod raw_http;
pub mod ws;

pub use mosquitto::MosquittoServer;
pub use proxy::TcpProxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// The binary to run; `REDIS_SERVER_BIN` overrides it.
fn redis_binary() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned())
}

/// How many ports [`RedisServer::start`] tries before it gives up.
const PORT_TRIES: usize = 20;
/// How long a starting server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// How long [`RedisServer::restart`] waits for its port to be free again.
const RESTART_WITHIN: Duration = Duration::from_secs(5);
/// The most log lines kept of one server (it logs a dozen at start, then little).
const LOG_LINES: usize = 500;

/// A `redis-server` child process on 127.0.0.1. Killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    log: Log,
}

/// A server's stdout and stderr lines, as read so far.
#[derive(Clone, Debug, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() < LOG_LINES {
            lines.push(line);
        }
    }

    fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }
}

/// Why a server did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The port was taken: worth another port.
    PortTaken(String),
    /// Anything else: the message says what, with the server's log.
    Failed(String),
}

/// Starts a server with `spawn` on the first of `ports` (at most [`PORT_TRIES`]) it can bind:
/// the port and what `spawn` gave back. `server` names it in the panic.
pub(crate) fn on_first_free_port<T>(
    server: &str,
    ports: impl IntoIterator<Item = u16>,
    mut spawn: impl FnMut(u16) -> Result<T, StartError>,
) -> (u16, T) {
    let mut taken = Vec::new();
    for port in ports.into_iter().take(PORT_TRIES) {
        match spawn(port) {
            Ok(started) => return (port, started),
            Err(StartError::PortTaken(_)) => taken.push(port),
            Err(StartError::Failed(why)) => panic!("{why}"),
        }
    }
    panic!("{server} found every port it tried taken: {taken:?}")
}

/// Starts a server with `spawn` on `port` again. While something else holds the port (a
/// client's connection in the kernel's hands a moment longer, or another process that took it)
/// it tries again, for up to [`RESTART_WITHIN`].
pub(crate) fn on_same_port<T>(
    server: &str,
    port: u16,
    mut spawn: impl FnMut() -> Result<T, StartError>,
) -> T {
    let deadline = Instant::now() + RESTART_WITHIN;
    loop {
        match spawn() {
            Ok(started) => return started,
            Err(StartError::PortTaken(log)) => assert!(
                Instant::now() < deadline,
                "port {port} stayed taken for {RESTART_WITHIN:?}; {server} said:\n{log}"
            ),
            Err(StartError::Failed(why)) => panic!("{why}"),
        }
        // A retry after a failed bind, not a wait for something to happen.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server that came up, and its log.
struct Started {
    child: Child,
    log: Log,
}

impl RedisServer {
    /// Starts a server on a free port and returns once it is ready and known to be ours.
    ///
    /// # Panics
    /// When `redis-server` is not installed, does not come up within 10 s, or fails to start
    /// (the message quotes its log).
    pub fn start() -> RedisServer {
        RedisServer::start_with_args(&[])
    }

    /// [`start`](RedisServer::start) with more `redis-server` options, e.g.
    /// `["--requirepass", "secret"]` (kept for [`restart`](RedisServer::restart) too).
    pub fn start_with_args(args: &[&str]) -> RedisServer {
        RedisServer::start_trying(std::iter::repeat_with(free_port), args)
    }

    /// [`start_with_args`](RedisServer::start_with_args) on the first of `ports` that it can
    /// bind (this crate's tests hand it a taken one).
    #[doc(hidden)]
    pub fn start_trying(ports: impl IntoIterator<Item = u16>, args: &[&str]) -> RedisServer {
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sense-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let (port, started) =
            on_first_free_port("redis-server", ports, |port| spawn(port, &dir, &args));
        RedisServer {
            port,
            dir,
            args,
            child: Some(started.child),
            log: started.log,
        }
    }

    /// Whether the server answers `PING` right now.
    pub fn ping(&self) -> bool {
        self.command(&["PING"]).is_some_and(|r| r == "+PONG")
    }

    /// Sends one command over a fresh connection and returns the first line of the reply
    /// (e.g. `+OK`, `:42`, `$-1`), or `None` if the server cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        command(self.port, args)
    }

    /// [`command`](RedisServer::command) as the Redis user `user`: `AUTH user password` first
    /// on the same connection. `None` also when the AUTH is refused.
    pub fn command_as(&self, user: &str, password: &str, args: &[&str]) -> Option<String> {
        let mut reader = connect(self.port)?;
        let auth = exchange(&mut reader, &["AUTH", user, password])?;
        (auth == "+OK").then_some(())?;
        exchange(&mut reader, args)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id, while it runs (to stop and continue it, as a hang would).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the server has logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and returns once it is ready and ours.
    /// While something else holds the port (a client's connection in the kernel's hands a moment
    /// longer, or another process that took it) it tries again, for up to 5 s.
    ///
    /// # Panics
    /// When the port stays taken, or the server fails to start (the message quotes its log).
    pub fn restart(&mut self) {
        self.stop();
        let started = on_same_port("redis-server", self.port, || {
            spawn(self.port, &self.dir, &self.args)
        });
        self.child = Some(started.child);
        self.log = started.log;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `redis-server` on `port` and waits until it logs that it is ready, then checks that the
/// server answering on the port is this very process.
fn spawn(port: u16, dir: &Path, args: &[String]) -> Result<Started, StartError> {
    let mut child = Command::new(redis_binary())
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--logfile", ""])
        .args(["--dir", dir.to_str().expect("utf-8 temp dir")])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `{}` ({e}); install it with `apt-get install redis-server` \
                 or set REDIS_SERVER_BIN",
                redis_binary()
            )
        });
    let log = Log::default();
    // Each reader sends its lines, then `None` at the end of its stream; it keeps reading (so
    // the server never blocks on a full pipe) after nobody listens any more.
    let (lines, rx) = mpsc::channel::<Option<String>>();
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    for stream in [stdout, stderr].into_iter().flatten() {
        let (log, lines) = (log.clone(), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                log.push(line.clone());
                let _ = lines.send(Some(line));
            }
            let _ = lines.send(None);
        });
    }
    drop(lines);

    let deadline = Instant::now() + READY_WITHIN;
    let mut open = 2;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Some(line)) if line.contains("Ready to accept connections") => break,
            Ok(Some(_)) => {}
            Ok(None) if open > 1 => open -= 1,
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Both streams closed: the server exited.
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                let text = log.text();
                return Err(if text.contains("Address already in use") {
                    StartError::PortTaken(text)
                } else {
                    StartError::Failed(format!(
                        "redis-server on port {port} exited ({status}) before it was ready; it \
                         said:\n{text}"
                    ))
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Failed(format!(
                    "redis-server on port {port} did not say it was ready within \
                     {READY_WITHIN:?}; it said:\n{}",
                    log.text()
                )));
            }
        }
    }

    // Ready: the server on the port must be this process, not one that held the port before.
    let info = command(port, &["INFO", "server"]).unwrap_or_default();
    let ours = format!("process_id:{}", child.id());
    if !info.lines().any(|l| l.trim() == ours) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(StartError::PortTaken(format!(
            "another server answers on port {port}: {info}"
        )));
    }
    Ok(Started { child, log })
}

/// One command to the server on `port` (see [`RedisServer::command`]).
fn command(port: u16, args: &[&str]) -> Option<String> {
    exchange(&mut connect(port)?, args)
}

/// A fresh connection to the server on `port`.
fn connect(port: u16) -> Option<BufReader<TcpStream>> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(BufReader::new(stream))
}

/// Sends one command and reads the first line of its reply (a bulk string's payload instead).
fn exchange(reader: &mut BufReader<TcpStream>, args: &[&str]) -> Option<String> {
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    reader.get_mut().write_all(request.as_bytes()).ok()?;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end().to_owned();
    // For a bulk string, return its payload instead of the length line.
    if let Some(len) = line.strip_prefix('$').and_then(|l| l.parse::<usize>().ok()) {
        let mut payload = vec![0u8; len + 2];
        reader.read_exact(&mut payload).ok()?;
        payload.truncate(len);
        return String::from_utf8(payload).ok();
    }
    Some(line)
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago. Nothing holds it for the
/// caller: whatever binds it must cope with finding it taken (as [`RedisServer`] does).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Raises this process's file-descriptor limit (`RLIMIT_NOFILE`) to its hard limit, for tests
/// that hold a thousand connections; children started afterwards inherit it. Returns the limit
/// now in force (`u64::MAX` when unlimited).
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    // Refused (a hard limit above the kernel's `nr_open`): the old limit stays, and is reported.
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Paths that try to leave a served folder, each written another way (dot segments plain and
/// percent-encoded, encoded slashes and backslashes, NUL, absolute paths). A gateway serving a
/// folder next to `secret.txt` must answer none of them with that file.
pub const PATH_ATTACKS: &[&str] = &[
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/%2fetc%2fpasswd",
    "/secret.txt%00.html",
    "/api/stream/..%2f..%2fsecret.txt",
    "/api/stream/%2e%2e/secret.txt",
    "/api/stream/%2e%2e%2fsecret.txt",
    "/api/stream/..\\secret.txt",
    "/api/stream/..\\..\\secret.txt",
    "/api/stream/%00",
    "//etc/passwd",
    "/api/stream//etc/passwd",
];

/// The `Authorization` header value of HTTP Basic auth for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::from("Basic ");
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_skipped_never_shared() {
        let other = RedisServer::start();
        assert_eq!(
            other.command(&["SET", "owner", "other"]).as_deref(),
            Some("+OK")
        );
        // Handed the other server's port first, as a port found free can be taken a moment later.
        let ports = std::iter::once(other.port()).chain(std::iter::repeat_with(free_port));
        let ours = RedisServer::start_trying(ports, &[]);
        assert_ne!(ours.port(), other.port());
        assert_eq!(
            ours.command(&["GET", "owner"]).as_deref(),
            Some("$-1"),
            "a fresh server of our own"
        );
        // A port held by something that is not Redis at all is skipped too.
        let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let squatted = squatter.local_addr().unwrap().port();
        let ours = RedisServer::start_trying(
            std::iter::once(squatted).chain(std::iter::repeat_with(free_port)),
            &[],
        );
        assert_ne!(ours.port(), squatted);
        assert!(ours.ping());
    }

    #[test]
    fn a_server_that_cannot_start_shows_what_it_said() {
        let panic = std::panic::catch_unwind(|| {
            RedisServer::start_with_args(&["--no-such-directive", "1"])
        })
        .expect_err("redis-server refuses an unknown directive");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("exited"), "{message}");
        assert!(
            message.contains("no-such-directive"),
            "the server's own words: {message}"
        );
    }

    #[test]
    fn a_server_stops_and_comes_back_on_its_port() {
        let mut server = RedisServer::start();
        assert_eq!(server.command(&["SET", "k", "v"]).as_deref(), Some("+OK"));
        assert_eq!(server.command(&["GET", "k"]).as_deref(), Some("v"));
        let port = server.port();
        server.stop();
        assert!(!server.ping());
        server.restart();
        assert_eq!(server.port(), port);
        assert!(server.ping());
        assert_eq!(
            server.command(&["GET", "k"]).as_deref(),
            Some("$-1"),
            "restart is empty"
        );
    }

    #[test]
    fn basic_auth_is_rfc_7617() {
        // The example of RFC 7617 §2.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
    }
}
