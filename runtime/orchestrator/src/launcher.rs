//! What the orchestrator asks of a launcher, whatever runs the work: Docker containers or child
//! processes.
//!
//! Every job is the one binary, `sense-pulse source <id> …`:
//!
//! | job | arguments |
//! |---|---|
//! | [`JobMode::Poll`] | `source <id> --once` |
//! | [`JobMode::Scan`] | `source co2 --once --mode scan` |
//! | [`JobMode::Discover`] | `source network_camera --once --mode discover` |
//! | [`JobMode::Service`] | `source <id>` (runs until stopped: the camera, a resident source) |

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sense_bus::SourceId;
use tokio_util::sync::CancellationToken;

/// How many lines of a run's output are kept (stdout and stderr together, in order of arrival).
pub const LOG_TAIL_LINES: usize = 20;

/// Longest line kept in a log tail, in bytes; longer ones are cut.
pub const LOG_LINE_MAX: usize = 500;

/// The exit code of `sense-pulse` for a role or source that is not built yet.
pub const EXIT_NOT_BUILT: i32 = 4;

/// How a job runs the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobMode {
    /// One poll, then exit.
    Poll,
    /// The co2 source's scan for nearby Aranet4s (result in `scan:co2`).
    Scan,
    /// The camera's network discovery (result in `scan:network_camera`).
    Discover,
    /// Runs until stopped (the camera stream, a resident source).
    Service,
}

impl JobMode {
    /// A short name, for logs and the health payload.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobMode::Poll => "poll",
            JobMode::Scan => "scan",
            JobMode::Discover => "discover",
            JobMode::Service => "service",
        }
    }
}

/// One thing to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Job {
    /// The source.
    pub source: SourceId,
    /// What it does.
    pub mode: JobMode,
}

impl Job {
    /// A one-shot poll of `source`.
    pub const fn poll(source: SourceId) -> Job {
        Job {
            source,
            mode: JobMode::Poll,
        }
    }

    /// `source` run until stopped.
    pub const fn service(source: SourceId) -> Job {
        Job {
            source,
            mode: JobMode::Service,
        }
    }

    /// The arguments after the binary's name (`source system --once`).
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["source".to_owned(), self.source.as_str().to_owned()];
        match self.mode {
            JobMode::Poll => args.push("--once".to_owned()),
            JobMode::Scan => args.extend(["--once", "--mode", "scan"].map(str::to_owned)),
            JobMode::Discover => args.extend(["--once", "--mode", "discover"].map(str::to_owned)),
            JobMode::Service => {}
        }
        args
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.args().join(" "))
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunEnd {
    /// It exited by itself with this code (128 + n when killed by signal n, as Docker reports it).
    Exited(i32),
    /// It ran longer than allowed and was killed.
    TimedOut(Duration),
    /// It was stopped on purpose (shutdown, `stop_camera`, `restart_service`).
    Stopped,
    /// It could not be started, or the launcher lost it; the text names the cause
    /// (`docker: No such image: sense-pulse:latest`).
    Failed(String),
}

impl RunEnd {
    /// The exit code, when it exited by itself.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            RunEnd::Exited(code) => Some(*code),
            _ => None,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// How it ended.
    pub end: RunEnd,
    /// The last [`LOG_TAIL_LINES`] lines of its output.
    pub log_tail: Vec<String>,
}

impl RunOutcome {
    /// An outcome without output.
    pub fn new(end: RunEnd) -> RunOutcome {
        RunOutcome {
            end,
            log_tail: Vec::new(),
        }
    }

    /// Whether it exited with 0.
    pub fn succeeded(&self) -> bool {
        self.end == RunEnd::Exited(0)
    }

    /// Whether the binary said the source is not built yet (exit 4).
    pub fn not_built(&self) -> bool {
        self.end == RunEnd::Exited(EXIT_NOT_BUILT)
    }

    /// What went wrong, naming the cause, for `status:{id}.last_error` and command answers;
    /// `None` when it exited with 0.
    pub fn error(&self) -> Option<String> {
        match &self.end {
            RunEnd::Exited(0) => None,
            RunEnd::Exited(code) => {
                let how = match code - 128 {
                    n @ 1..32 => format!("killed by {} (exit code {code})", signal_name(n)),
                    _ => format!("exited with code {code}"),
                };
                Some(match last_line(&self.log_tail) {
                    Some(line) => format!("{how}: {line}"),
                    None => how,
                })
            }
            RunEnd::TimedOut(after) => {
                Some(format!("run killed after {} (timeout)", seconds(*after)))
            }
            RunEnd::Stopped => Some("run stopped before it ended (orchestrator stopping)".into()),
            RunEnd::Failed(why) => Some(why.clone()),
        }
    }
}

/// `60 s`, `1.5 s`.
pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `SIGKILL` for 9: the signals a run meets (a kill, the OOM killer, a crash), else `signal n`.
fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        7 => "SIGBUS",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.to_owned()
}

/// The last non-empty line that may say why a run failed, without the log timestamp
/// `sense-pulse` puts first: a line logged at INFO, DEBUG or TRACE only tells what went on, so
/// it is skipped (a killed source's last line is often its start-up notice).
fn last_line(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|line| {
        let line = line.trim();
        let without_time = match line.split_once(' ') {
            Some((first, rest))
                if first.len() >= 10
                    && first.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                    && first.as_bytes()[4] == b'-' =>
            {
                rest.trim_start()
            }
            _ => line,
        };
        let level = without_time.split_whitespace().next().unwrap_or_default();
        let informs = matches!(level, "INFO" | "DEBUG" | "TRACE");
        // The binary tells its errors as `error: …`: the run's error says it already.
        let said = without_time.strip_prefix("error: ").unwrap_or(without_time);
        (!said.is_empty() && !informs).then(|| said.to_owned())
    })
}

/// Why a long-running service could not be started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

/// A started service: resolves when it has ended and been cleaned up.
pub type ServiceRun = Pin<Box<dyn Future<Output = RunOutcome> + Send>>;

/// Runs the jobs: Docker containers ([`DockerLauncher`](crate::DockerLauncher)) or child processes
/// ([`ProcessLauncher`](crate::ProcessLauncher)). Tests plug in their own.
pub trait Launcher: Send + Sync + 'static {
    /// `docker` or `process`, for the health payload.
    fn kind(&self) -> &'static str;

    /// Runs a one-shot `job` to its end. When it runs longer than `timeout` it is killed
    /// ([`RunEnd::TimedOut`]); when `kill` is cancelled (shutdown) it is killed too
    /// ([`RunEnd::Stopped`]). Never fails: a launch failure is [`RunEnd::Failed`].
    fn run_once(
        &self,
        job: Job,
        timeout: Duration,
        kill: CancellationToken,
    ) -> impl Future<Output = RunOutcome> + Send;

    /// Starts a long-running `job` and returns once it is running. The returned future resolves
    /// when it has ended, by itself or because `stop` was cancelled (then it is asked to stop,
    /// and killed if it does not within a grace period), and has been cleaned up.
    fn start_service(
        &self,
        job: Job,
        stop: CancellationToken,
    ) -> impl Future<Output = Result<ServiceRun, LaunchError>> + Send;

    /// At the orchestrator's start: what a previous orchestrator (killed, crashed) left. Its
    /// one-shot runs are removed; of its long-running services, each of `adopt`'s sources still
    /// running as this launcher would run it now is taken over, and returned as a [`ServiceRun`]
    /// stopped by the token given with it, as [`Launcher::start_service`]'s is; the other
    /// services are stopped and removed. Nothing by default: nothing is left to take over.
    fn recover(
        &self,
        adopt: Vec<(SourceId, CancellationToken)>,
    ) -> impl Future<Output = Vec<(SourceId, ServiceRun)>> + Send {
        let _ = adopt;
        async { Vec::new() }
    }

    /// Removes what a service of `source` may have left behind when the orchestrator lost track
    /// of it (a camera container from before a restart). Nothing to do by default.
    fn clean_up(&self, source: SourceId) -> impl Future<Output = Result<(), LaunchError>> + Send {
        let _ = source;
        async { Ok(()) }
    }

    /// Restarts a service the orchestrator does not run itself (a compose service such as the
    /// gateway). `Ok(false)` when there is no such service.
    fn restart_other(
        &self,
        service: &str,
    ) -> impl Future<Output = Result<bool, LaunchError>> + Send {
        let _ = service;
        async { Ok(false) }
    }
}

/// The last lines of a run's output, shared by the readers that fill it.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogTail(Arc<Mutex<VecDeque<String>>>);

impl LogTail {
    /// Adds a line (cut to [`LOG_LINE_MAX`]), dropping the oldest beyond [`LOG_TAIL_LINES`].
    pub(crate) fn push(&self, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        let mut cut = line.len().min(LOG_LINE_MAX);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == LOG_TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line[..cut].to_owned());
    }

    /// The lines kept.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_spell_the_binary_arguments() {
        assert_eq!(
            Job::poll(SourceId::System).to_string(),
            "source system --once"
        );
        let scan = Job {
            source: SourceId::Co2,
            mode: JobMode::Scan,
        };
        assert_eq!(scan.to_string(), "source co2 --once --mode scan");
        assert_eq!(
            Job::service(SourceId::NetworkCamera).to_string(),
            "source network_camera"
        );
    }

    #[test]
    fn errors_name_the_cause() {
        let timed_out = RunOutcome::new(RunEnd::TimedOut(Duration::from_secs(60)));
        assert_eq!(
            timed_out.error().as_deref(),
            Some("run killed after 60 s (timeout)")
        );
        let exited = RunOutcome {
            end: RunEnd::Exited(3),
            log_tail: vec![
                "2025-01-01T00:00:00.000000Z  INFO starting".into(),
                "2025-01-01T00:00:01.000000Z ERROR Redis at redis://redis:6379 is unreachable"
                    .into(),
                String::new(),
            ],
        };
        assert_eq!(
            exited.error().as_deref(),
            Some("exited with code 3: ERROR Redis at redis://redis:6379 is unreachable")
        );
        let told = RunOutcome {
            end: RunEnd::Exited(1),
            log_tail: vec![
                "2025-01-01T00:00:00.000000Z  WARN a monitor is out of range".into(),
                "error: the co2 poll failed: garage not heard within 10 s".into(),
            ],
        };
        assert_eq!(
            told.error().as_deref(),
            Some("exited with code 1: the co2 poll failed: garage not heard within 10 s")
        );
        let oom = RunOutcome::new(RunEnd::Exited(137));
        assert_eq!(
            oom.error().as_deref(),
            Some("killed by SIGKILL (exit code 137)")
        );
        // Killed after its start-up notice: that notice is no reason.
        let killed = RunOutcome {
            end: RunEnd::Exited(137),
            log_tail: vec![
                "2025-01-01T00:00:00.000000Z  WARN a monitor is out of range".into(),
                "2025-01-01T00:00:01.000000Z  INFO --sim: simulated endpoints".into(),
            ],
        };
        assert_eq!(
            killed.error().as_deref(),
            Some("killed by SIGKILL (exit code 137): WARN a monitor is out of range")
        );
        let segv = RunOutcome::new(RunEnd::Exited(139));
        assert_eq!(
            segv.error().as_deref(),
            Some("killed by SIGSEGV (exit code 139)")
        );
        assert_eq!(RunOutcome::new(RunEnd::Exited(0)).error(), None);
        assert!(RunOutcome::new(RunEnd::Exited(4)).not_built());
    }

    #[test]
    fn the_tail_keeps_the_last_lines_cut_short() {
        let tail = LogTail::default();
        for i in 0..30 {
            tail.push(&format!("line {i}\n"));
        }
        tail.push(&"é".repeat(400));
        let lines = tail.lines();
        assert_eq!(lines.len(), LOG_TAIL_LINES);
        assert_eq!(lines[0], "line 11");
        assert!(lines[19].len() <= LOG_LINE_MAX && lines[19].starts_with('é'));
    }
}
