//! Test helpers shared by the workspace's integration tests.
//!
//! [`RedisServer`] runs a real `redis-server` (Debian's package; `.ci/run` installs it) on a free
//! loopback port, with no persistence, in its own temporary directory. Unlike `redis-test`, it can
//! [`stop`](RedisServer::stop) and [`restart`](RedisServer::restart) on the *same* port, which is
//! what the "Redis goes away and comes back" tests need.

pub mod proxy;
pub mod ws;

pub use proxy::TcpProxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary to run; `REDIS_SERVER_BIN` overrides it.
fn redis_binary() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned())
}

/// A `redis-server` child process on 127.0.0.1. Killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not come up within 10 s: the message says how
    /// to install it.
    pub fn start() -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sense-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        let mut server = RedisServer {
            port,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(redis_binary())
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", self.dir.to_str().expect("utf-8 temp dir")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{}` ({e}); install it with `apt-get install redis-server` \
                     or set REDIS_SERVER_BIN",
                    redis_binary()
                )
            });
        self.child = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    /// Whether the server answers `PING` right now.
    pub fn ping(&self) -> bool {
        self.command(&["PING"]).is_some_and(|r| r == "+PONG")
    }

    /// Sends one command over a fresh connection and returns the first line of the reply
    /// (e.g. `+OK`, `:42`, `$-1`), or `None` if the server cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
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

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; give the kernel a moment if it is still in TIME_WAIT.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpListener::bind((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "port {} did not free up",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
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
