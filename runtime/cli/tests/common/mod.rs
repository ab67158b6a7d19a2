//! The harness shared by the end-to-end tests of `sense-pulse run`: the real binary on a real
//! redis-server, reached with a real HTTP client and WebSocket client.
#![allow(dead_code)] // each test file uses its own part of it

pub mod orchestrator;
pub mod procs;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sense_http::{HttpClient, Request, Response};
use sense_testkit::RedisServer;
use sense_testkit::ws::WsClient;
use serde_json::{Value as Json, json};

/// A running `sense-pulse run --sim`, killed when dropped, with its folders.
pub struct Run {
    pub child: Child,
    pub address: String,
    pub dir: PathBuf,
    /// Everything `run` wrote to its standard output and error so far, a line each.
    output: Output,
}

/// The lines a child wrote, shared with the threads reading its pipes.
type Output = Arc<Mutex<Vec<String>>>;

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Run {
    /// Starts `run --sim` on `server` with a tiny built dashboard beside a file nobody may read.
    pub async fn start(server: &RedisServer, name: &str) -> Run {
        Run::start_with(server, name, &[]).await
    }

    /// [`Run::start`] with more environment variables.
    pub async fn start_with(server: &RedisServer, name: &str, env: &[(&str, &str)]) -> Run {
        Run::start_on(&server.url(), name, env).await
    }

    /// [`Run::start_with`] on the Redis at `redis_url`.
    pub async fn start_on(redis_url: &str, name: &str, env: &[(&str, &str)]) -> Run {
        let dir = std::env::temp_dir().join(format!("sense-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("build")).unwrap();
        std::fs::create_dir_all(dir.join("hls")).unwrap();
        std::fs::write(
            dir.join("build/index.html"),
            "<!doctype html><title>Sense Pulse</title>",
        )
        .unwrap();
        std::fs::write(dir.join("secret.txt"), "top secret").unwrap();
        // Port 0: the gateway binds a free port itself and says which (no port to race for).
        let mut child = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
            .args([
                "run",
                "--sim",
                "--redis",
                redis_url,
                "--listen",
                "127.0.0.1:0",
            ])
            .env_remove("RUST_LOG")
            .env("LOG_LEVEL", "info")
            .env("FRONTEND_DIR", dir.join("build"))
            .env("HLS_OUTPUT_DIR", dir.join("hls"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Output::default();
        keep_lines(child.stderr.take().unwrap(), Arc::clone(&output));
        let address =
            match listening_address(child.stdout.take().unwrap(), Arc::clone(&output)).await {
                Ok(address) => address,
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{why}");
                }
            };
        let run = Run {
            child,
            address,
            dir,
            output,
        };
        // The gateway answers at once; /health is 200 once it has the bus too.
        let start = Instant::now();
        while run.try_get("/health").await.map(|r| r.status) != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the gateway did not become healthy; `run` said:\n{}",
                run.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        run
    }

    /// Waits (10 s at most) until sign-in is in force: `GET /api/session` says `auth_enabled`.
    /// For tests that start with sign-in on: the gateway accepts connections before its first
    /// read of `config:auth` (a task of its own does that read), and gives no sign when it is
    /// done, so this asks until it says so.
    pub async fn wait_sign_in_in_force(&self) {
        let start = Instant::now();
        loop {
            if let Some(r) = self.try_get("/api/session").await
                && let Ok(v) = serde_json::from_slice::<Json>(&r.body)
                && v["auth_enabled"] == true
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sign-in is not in force: {:?}",
                self.try_get("/api/session").await.map(|r| r.text())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `run` wrote to its standard output and error so far.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// What `run` holds right now.
    pub fn resources(&self) -> Resources {
        Resources::of(self.child.id())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn try_get(&self, path: &str) -> Option<Response> {
        HttpClient::default()
            .send(Request::get(self.url(path)))
            .await
            .ok()
    }

    pub async fn send(&self, request: Request) -> Response {
        HttpClient::default().send(request).await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Request::get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Json) -> Response {
        self.send(Request::post_json(self.url(path), body)).await
    }

    pub async fn command(&self, target: &str, action: &str, params: Json) -> Json {
        let reply = self
            .post(
                &format!("/api/command/{target}"),
                &json!({"action": action, "params": params}),
            )
            .await;
        json_of(&reply)
    }

    /// Waits until `GET path` answers JSON for which `check` holds.
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        check: impl Fn(&Json) -> bool,
    ) -> Json {
        let start = Instant::now();
        loop {
            if let Some(r) = self.try_get(path).await
                && r.status == 200
                && let Ok(v) = serde_json::from_slice::<Json>(&r.body)
                && check(&v)
            {
                return v;
            }
            assert!(
                start.elapsed() < within,
                "{path} did not match within {within:?}: {:?}",
                self.try_get(path).await.map(|r| r.text())
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A WebSocket on the gateway, opened on a blocking thread.
    pub async fn ws<T: Send + 'static>(
        &self,
        path: &'static str,
        headers: Vec<(String, String)>,
        then: impl FnOnce(Result<WsClient, u16>) -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        let address = self.address.clone();
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            then(WsClient::connect(&address, path, &headers).map_err(|r| r.status))
        })
    }
}

/// Keeps every line of `stream` in `output`, read on a thread of its own (so the child never
/// blocks on a full pipe).
fn keep_lines(stream: impl std::io::Read + Send + 'static, output: Output) {
    use std::io::BufRead;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            output
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    });
}

/// What a process holds: resident memory, open descriptors and threads.
#[derive(Clone, Copy, Debug)]
pub struct Resources {
    pub pid: u32,
    pub rss_kib: u64,
    pub descriptors: usize,
    pub threads: u64,
}

impl Resources {
    /// Read from `/proc/{pid}`.
    pub fn of(pid: u32) -> Resources {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                .unwrap()
        };
        let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count();
        Resources {
            pid,
            rss_kib: field("VmRSS:"),
            descriptors,
            threads: field("Threads:"),
        }
    }

    /// `pid`'s resources once the connections a test opened are closed (the gateway sees a
    /// client gone a moment after it went): read again until the descriptors are back within the
    /// bound of `before`, for 10 s at most.
    pub async fn settled(pid: u32, before: Resources) -> Resources {
        let start = Instant::now();
        loop {
            let now = Resources::of(pid);
            if now.descriptors <= before.descriptors + 16
                || start.elapsed() > Duration::from_secs(10)
            {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Panics unless `after` is within the suite's bound of `self`: 16 MiB more memory, 16 more
    /// descriptors, 4 more threads (caches filled and buffers kept by the allocator, never a
    /// leak per request or per connection).
    pub fn check_growth(self, after: Resources) {
        assert!(
            after.rss_kib < self.rss_kib + 16 * 1024,
            "memory grew: {} → {} KiB",
            self.rss_kib,
            after.rss_kib
        );
        assert!(
            after.descriptors <= self.descriptors + 16,
            "descriptors grew: {} → {}; now open: {}",
            self.descriptors,
            after.descriptors,
            open_descriptors(after.pid)
        );
        assert!(
            after.threads <= self.threads + 4,
            "threads grew: {} → {}",
            self.threads,
            after.threads
        );
    }
}

/// What `pid` holds open, for a failure message: each file, and each TCP socket as
/// `local port → remote port` with its state (from the namespace's `/proc/net/tcp`).
fn open_descriptors(pid: u32) -> String {
    let tcp: Vec<Vec<String>> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().map(str::to_owned).collect())
                .collect::<Vec<Vec<String>>>()
        })
        .collect();
    let port = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
            .unwrap_or(0)
    };
    let mut open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .map(|target| {
                    let target = target.to_string_lossy().into_owned();
                    let inode = target
                        .strip_prefix("socket:[")
                        .and_then(|t| t.strip_suffix(']'));
                    match inode.and_then(|i| tcp.iter().find(|f| f.len() > 9 && f[9] == i)) {
                        Some(f) => {
                            format!("tcp {} → {} (state {})", port(&f[1]), port(&f[2]), f[3])
                        }
                        None => target,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    open.sort();
    open.join(", ")
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB, {} descriptors, {} threads",
            self.rss_kib, self.descriptors, self.threads
        )
    }
}

/// Reads `run`'s standard output (kept in `output`) until it says where it listens (`… is
/// running: open http://ADDRESS/ …`), within 20 s.
async fn listening_address(
    stdout: std::process::ChildStdout,
    output: Output,
) -> Result<String, String> {
    use std::io::BufRead;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            output
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line.clone());
            if let Some(address) = line
                .split_once("open http://")
                .and_then(|(_, rest)| rest.split_once('/'))
                .map(|(address, _)| address.to_owned())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(address);
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(20), rx).await {
        Ok(Ok(address)) => Ok(address),
        Ok(Err(_)) => Err("`run` exited before it said where it listens".into()),
        Err(_) => Err("`run` did not say where it listens within 20 s".into()),
    }
}

pub fn json_of(r: &Response) -> Json {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}
