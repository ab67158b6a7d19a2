//! A real Mosquitto broker (Debian's `mosquitto` package; `scripts/setup.sh` installs it) on a
//! free loopback port, with its own config file in its own temporary directory, that tests can
//! stop (SIGKILL, by its PID) and restart on the same port, as [`RedisServer`](crate::RedisServer)
//! does for Redis.
//!
//! It is started on a candidate port and, when it says `Address already in use`, again on
//! another; it is ready when it logs that it is running. It keeps nothing across a restart
//! (`persistence false`): retained messages are gone, as after a broker crash with no disk.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use crate::{StartError, free_port, on_first_free_port, on_same_port};

/// The binary to run; `MOSQUITTO_BIN` overrides it.
fn mosquitto_binary() -> String {
    std::env::var("MOSQUITTO_BIN").unwrap_or_else(|_| "mosquitto".to_owned())
}

const READY_WITHIN: Duration = Duration::from_secs(10);
const LOG_LINES: usize = 2000;

/// A broker's stdout and stderr lines, as read so far.
type Log = Arc<Mutex<Vec<String>>>;

/// A `mosquitto` child process on 127.0.0.1. Killed when dropped.
#[derive(Debug)]
pub struct MosquittoServer {
    port: u16,
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    log: Log,
}

impl MosquittoServer {
    /// A broker that lets anyone in (`allow_anonymous true`).
    ///
    /// # Panics
    /// When `mosquitto` is not installed or does not come up (the message quotes its log).
    pub fn start() -> MosquittoServer {
        MosquittoServer::start_with(|_| "allow_anonymous true\n".to_owned())
    }

    /// A broker whose config gets the lines `setup` returns after its `listener` line. `setup`
    /// is handed the broker's own temporary directory, to write password files or certificates
    /// in first (see [`write_password_file`]).
    pub fn start_with(setup: impl FnOnce(&Path) -> String) -> MosquittoServer {
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sense-mosquitto-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create mosquitto temp dir");
        let extra = setup(&dir);
        let config = dir.join("mosquitto.conf");
        let (port, (child, log)) =
            on_first_free_port("mosquitto", std::iter::repeat_with(free_port), |port| {
                write_config(&config, port, &extra);
                spawn(&config)
            });
        MosquittoServer {
            port,
            dir,
            config,
            child: Some(child),
            log,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its temporary directory (config, password file, certificates).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the broker logged so far (it logs connections, refusals included).
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Kills the broker (SIGKILL, by its PID: no goodbye to clients) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same config, empty.
    ///
    /// # Panics
    /// When the port stays taken for 5 s, or the broker fails to start.
    pub fn restart(&mut self) {
        self.stop();
        let (child, log) = on_same_port("mosquitto", self.port, || spawn(&self.config));
        self.child = Some(child);
        self.log = log;
    }
}

impl Drop for MosquittoServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes a Mosquitto password file for `user` and `password` in `dir` (with `mosquitto_passwd`,
/// from the same package) and returns its path, for a `password_file` line.
pub fn write_password_file(dir: &Path, user: &str, password: &str) -> PathBuf {
    let path = dir.join("passwords");
    let status = Command::new("mosquitto_passwd")
        .arg("-b")
        .arg("-c")
        .arg(&path)
        .args([user, password])
        .stdin(Stdio::null())
        .status()
        .expect("run mosquitto_passwd (Debian's mosquitto package)");
    assert!(status.success(), "mosquitto_passwd failed: {status}");
    path
}

fn write_config(path: &Path, port: u16, extra: &str) {
    // `user root`: when the tests run as root (CI), mosquitto would otherwise drop to the
    // `mosquitto` user, which cannot read a password file only root may read.
    let text = format!(
        "listener {port} 127.0.0.1\n{extra}\npersistence false\nlog_dest stderr\n\
         log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
         connection_messages true\nuser root\n"
    );
    std::fs::write(path, text).expect("write mosquitto.conf");
}

fn spawn(config: &Path) -> Result<(Child, Log), StartError> {
    let mut child = Command::new(mosquitto_binary())
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `{}` ({e}); install it with `apt-get install mosquitto` or set \
                 MOSQUITTO_BIN",
                mosquitto_binary()
            )
        });
    let log: Log = Arc::default();
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
        let (log, lines) = (Arc::clone(&log), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                {
                    let mut kept = log.lock().unwrap_or_else(PoisonError::into_inner);
                    if kept.len() < LOG_LINES {
                        kept.push(line.clone());
                    }
                }
                let _ = lines.send(Some(line));
            }
            let _ = lines.send(None);
        });
    }
    drop(lines);
    let text = |log: &Log| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    };
    let deadline = Instant::now() + READY_WITHIN;
    let mut open = 2;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Some(line)) if line.contains(" running") && line.contains("mosquitto version") => {
                return Ok((child, log));
            }
            Ok(Some(_)) => {}
            Ok(None) if open > 1 => open -= 1,
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                let said = text(&log);
                return Err(if said.contains("Address already in use") {
                    StartError::PortTaken(said)
                } else {
                    StartError::Failed(format!(
                        "mosquitto ({}) exited ({status}) before it was running; it said:\n{said}",
                        config.display()
                    ))
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Failed(format!(
                    "mosquitto did not say it was running within {READY_WITHIN:?}; it said:\n{}",
                    text(&log)
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpStream};

    #[test]
    fn a_broker_stops_and_comes_back_on_its_port() {
        let mut broker = MosquittoServer::start();
        let port = broker.port();
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok());
        broker.stop();
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
        broker.restart();
        assert_eq!(broker.port(), port);
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn a_broker_that_cannot_start_shows_what_it_said() {
        let panic = std::panic::catch_unwind(|| {
            MosquittoServer::start_with(|_| "no_such_directive 1\n".to_owned())
        })
        .expect_err("mosquitto refuses an unknown directive");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("no_such_directive"), "{message}");
    }
}
