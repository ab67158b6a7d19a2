//! Jobs as child processes: `sense-pulse source <id> --once`, for installs without Docker (a bare
//! Pi under systemd) and for tests.
//!
//! Each child runs in its own process group, so a timeout kills everything it started (a shell
//! script's `sleep` too), not just the first process. Its stdout and stderr are read line by line
//! and the last [`LOG_TAIL_LINES`](crate::launcher::LOG_TAIL_LINES) kept. Children inherit the
//! orchestrator's environment (`REDIS_URL` included) plus the configured extra variables.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal};
use sense_bus::SourceId;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::launcher::{Job, LaunchError, Launcher, LogTail, RunEnd, RunOutcome, ServiceRun};

/// How long a stopped service may take to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long the output readers may lag behind the exit of the child.
const DRAIN: Duration = Duration::from_millis(500);

/// Runs jobs as child processes of the orchestrator.
#[derive(Clone)]
pub struct ProcessLauncher {
    binary: PathBuf,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    stop_grace: Duration,
}

impl std::fmt::Debug for ProcessLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Variable names only: values may be secrets.
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ProcessLauncher")
            .field("binary", &self.binary)
            .field("extra_args", &self.extra_args)
            .field("env", &env)
            .finish_non_exhaustive()
    }
}

impl ProcessLauncher {
    /// Runs `binary` (normally this very executable) with each job's arguments followed by
    /// `extra_args` (e.g. `--sim`), with `env` added to the inherited environment.
    pub fn new(binary: PathBuf, extra_args: Vec<String>, env: Vec<(String, String)>) -> Self {
        ProcessLauncher {
            binary,
            extra_args,
            env,
            stop_grace: STOP_GRACE,
        }
    }

    /// Sets how long a stopped service may take to exit after SIGTERM (default [`STOP_GRACE`]).
    #[must_use]
    pub fn with_stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    fn spawn(&self, job: Job) -> Result<Spawned, LaunchError> {
        let mut command = Command::new(&self.binary);
        command
            .args(job.args())
            .args(&self.extra_args)
            // The job's mode is in its arguments; an inherited MODE must not change a poll.
            .env_remove("MODE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| LaunchError(format!("cannot start {}: {e}", self.binary.display())))?;
        let tail = LogTail::default();
        let readers = [
            child.stdout.take().map(|out| read_lines(out, tail.clone())),
            child.stderr.take().map(|err| read_lines(err, tail.clone())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let pid = child.id();
        tracing::debug!(%job, pid, "started");
        Ok(Spawned {
            child,
            pid,
            tail,
            readers,
        })
    }
}

/// A running child and the readers of its output.
struct Spawned {
    child: Child,
    /// Also the id of its process group.
    pid: Option<u32>,
    tail: LogTail,
    readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    /// Kills the whole process group, then reaps the child.
    async fn kill(&mut self) {
        if let Some(pid) = self.pid {
            signal_group(pid, Signal::KILL);
        }
        let _ = self.child.kill().await;
    }

    /// Waits for the exit, as an exit code (128 + n for signal n).
    async fn wait(&mut self) -> RunEnd {
        match self.child.wait().await {
            Ok(status) => RunEnd::Exited(exit_code(status)),
            Err(e) => RunEnd::Failed(format!("lost the child process: {e}")),
        }
    }

    /// The output, once the readers are done. Something the child left running that still holds
    /// its output open (a script's background job) is killed with its group.
    async fn finish(mut self, end: RunEnd) -> RunOutcome {
        let mut readers = std::mem::take(&mut self.readers);
        let drained = tokio::time::timeout(DRAIN, async {
            for r in &mut readers {
                let _ = r.await;
            }
        })
        .await
        .is_ok();
        if !drained {
            if let Some(pid) = self.pid {
                // The child is reaped but its group lives on (it holds our pipes): stragglers.
                signal_group(pid, Signal::KILL);
            }
            for r in &readers {
                r.abort();
            }
        }
        RunOutcome {
            end,
            log_tail: self.tail.lines(),
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// Sends `signal` to the process group `pgid` (our child's, created with `process_group(0)`).
fn signal_group(pgid: u32, signal: Signal) {
    // Pid 1 (init) and anything that is no pid at all are never signalled.
    let Some(pgid) = i32::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .and_then(Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process_group(pgid, signal);
}

fn read_lines(stream: impl AsyncRead + Unpin + Send + 'static, tail: LogTail) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => tail.push(&String::from_utf8_lossy(&line)),
            }
        }
    })
}

impl Launcher for ProcessLauncher {
    fn kind(&self) -> &'static str {
        "process"
    }

    async fn run_once(&self, job: Job, timeout: Duration, kill: CancellationToken) -> RunOutcome {
        let mut spawned = match self.spawn(job) {
            Ok(s) => s,
            Err(e) => return RunOutcome::new(RunEnd::Failed(e.0)),
        };
        let end = tokio::select! {
            end = spawned.wait() => end,
            () = tokio::time::sleep(timeout) => {
                tracing::warn!(%job, pid = spawned.pid, "run timed out; killing it");
                spawned.kill().await;
                RunEnd::TimedOut(timeout)
            }
            () = kill.cancelled() => {
                spawned.kill().await;
                RunEnd::Stopped
            }
        };
        spawned.finish(end).await
    }

    async fn start_service(
        &self,
        job: Job,
        stop: CancellationToken,
    ) -> Result<ServiceRun, LaunchError> {
        let mut spawned = self.spawn(job)?;
        let grace = self.stop_grace;
        Ok(Box::pin(async move {
            let end = tokio::select! {
                end = spawned.wait() => end,
                () = stop.cancelled() => {
                    if let Some(pid) = spawned.pid {
                        signal_group(pid, Signal::TERM);
                    }
                    match tokio::time::timeout(grace, spawned.wait()).await {
                        Ok(_) => {}
                        Err(_) => {
                            tracing::warn!(%job, "did not stop within {} s of SIGTERM; killing it", grace.as_secs());
                            spawned.kill().await;
                        }
                    }
                    RunEnd::Stopped
                }
            };
            spawned.finish(end).await
        }))
    }

    async fn clean_up(&self, _source: SourceId) -> Result<(), LaunchError> {
        // Children die with the orchestrator (kill_on_drop); nothing can be left over.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory for one test's scripts, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("sense-orch-proc-{}-{test}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn script(dir: &Scratch, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = &dir.0;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn alive(pid: &str) -> bool {
        // A zombie waiting for its reaper is dead too.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[tokio::test]
    async fn runs_collect_the_exit_code_and_the_output_tail() {
        let scratch = Scratch::new("echo");
        let bin = script(
            &scratch,
            "echo.sh",
            r#"echo "args: $*"; echo "to stderr: $EXTRA" >&2; exit 3"#,
        );
        let launcher = ProcessLauncher::new(
            bin,
            vec!["--sim".into()],
            vec![("EXTRA".into(), "yes".into())],
        );
        let outcome = launcher
            .run_once(
                Job::poll(SourceId::System),
                Duration::from_secs(5),
                CancellationToken::new(),
            )
            .await;
        assert_eq!(outcome.end, RunEnd::Exited(3));
        assert!(
            outcome
                .log_tail
                .contains(&"args: source system --once --sim".to_owned()),
            "{:?}",
            outcome.log_tail
        );
        assert!(outcome.log_tail.contains(&"to stderr: yes".to_owned()));
    }

    #[tokio::test]
    async fn a_hung_run_is_killed_with_everything_it_started() {
        let scratch = Scratch::new("hang");
        let pids = scratch.0.join("pids");
        let bin = script(
            &scratch,
            "hang.sh",
            &format!("sleep 30 & echo $! > {}; wait", pids.display()),
        );
        let launcher = ProcessLauncher::new(bin, Vec::new(), Vec::new());
        let started = std::time::Instant::now();
        let outcome = launcher
            .run_once(
                Job::poll(SourceId::Weather),
                Duration::from_millis(500),
                CancellationToken::new(),
            )
            .await;
        assert_eq!(outcome.end, RunEnd::TimedOut(Duration::from_millis(500)));
        assert!(started.elapsed() < Duration::from_secs(3));
        let sleeper = std::fs::read_to_string(&pids).unwrap();
        let sleeper = sleeper.trim();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while alive(sleeper) {
            assert!(
                std::time::Instant::now() < deadline,
                "sleep {sleeper} survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn a_missing_binary_is_a_launch_failure_naming_it() {
        let launcher = ProcessLauncher::new("/no/such/sense-pulse".into(), Vec::new(), Vec::new());
        let outcome = launcher
            .run_once(
                Job::poll(SourceId::System),
                Duration::from_secs(1),
                CancellationToken::new(),
            )
            .await;
        let error = outcome.error().unwrap();
        assert!(
            error.starts_with("cannot start /no/such/sense-pulse:"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_service_stops_on_sigterm_or_is_killed_after_the_grace() {
        let scratch = Scratch::new("service");
        let trapped = scratch.0.join("trapped");
        let polite = script(
            &scratch,
            "polite.sh",
            &format!(
                "trap 'exit 0' TERM; touch '{}'; while true; do sleep 0.1; done",
                trapped.display()
            ),
        );
        let launcher = ProcessLauncher::new(polite, Vec::new(), Vec::new());
        let stop = CancellationToken::new();
        let run = launcher
            .start_service(Job::service(SourceId::NetworkCamera), stop.clone())
            .await
            .unwrap();
        let run = tokio::spawn(run);
        // SIGTERM only once the script has its trap in place.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !trapped.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the script did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        let outcome = tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(outcome.end, RunEnd::Stopped);

        let stubborn = script(
            &scratch,
            "stubborn.sh",
            "trap '' TERM; while true; do sleep 0.1; done",
        );
        let launcher = ProcessLauncher::new(stubborn, Vec::new(), Vec::new())
            .with_stop_grace(Duration::from_millis(300));
        let stop = CancellationToken::new();
        let run = launcher
            .start_service(Job::service(SourceId::Sensors), stop.clone())
            .await
            .unwrap();
        stop.cancel();
        let outcome = tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .unwrap();
        assert_eq!(outcome.end, RunEnd::Stopped);
    }
}
