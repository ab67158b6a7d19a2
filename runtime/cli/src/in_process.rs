//! The orchestrator's launcher for `sense-pulse run`: every job runs inside this process, on the
//! same bus (which may be the in-memory one no child process could reach).
//!
//! Jobs run on a worker thread of their own with a current-thread runtime: source futures need
//! not be `Send`, and a busy source never slows the orchestrator or the gateway. A job's "exit
//! code" follows the binary's: 0 done (also a partial poll), 1 failed (its status written), 3 bus
//! unreachable, 4 not built.

use std::future::Future;
use std::time::Duration;

use sense_bus::{Bus, SourceId};
use sense_orchestrator::{
    CancellationToken, Job, JobMode, LaunchError, Launcher, RunEnd, RunOutcome, ServiceRun,
};
use sense_runtime::sources::{self, Mode, SourceError, SourceOptions};
use tokio::sync::{mpsc, oneshot};

/// One job for the worker.
struct Work {
    job: Job,
    /// For one-shot jobs: killed after this long.
    timeout: Option<Duration>,
    /// Cancelled: a one-shot job is dropped, a service asked to stop.
    stop: CancellationToken,
    done: oneshot::Sender<RunOutcome>,
}

/// Runs jobs on a worker thread of this process.
#[derive(Debug)]
pub struct InProcessLauncher {
    work: mpsc::UnboundedSender<Work>,
}

impl InProcessLauncher {
    /// Starts the worker thread; jobs use `bus` and find their hardware through `options`.
    pub fn start(bus: Bus, options: SourceOptions) -> std::io::Result<Self> {
        let (work, mut jobs) = mpsc::unbounded_channel::<Work>();
        std::thread::Builder::new()
            .name("sources".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the sources' runtime");
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    while let Some(work) = jobs.recv().await {
                        tokio::task::spawn_local(perform(work, bus.clone(), options.clone()));
                    }
                });
            })?;
        Ok(InProcessLauncher { work })
    }

    fn submit(
        &self,
        job: Job,
        timeout: Option<Duration>,
        stop: CancellationToken,
    ) -> oneshot::Receiver<RunOutcome> {
        let (done, outcome) = oneshot::channel();
        let work = Work {
            job,
            timeout,
            stop,
            done,
        };
        // If the worker is gone, `outcome` reports it when awaited.
        let _ = self.work.send(work);
        outcome
    }
}

/// What to report when the worker dropped a job without an answer.
fn lost() -> RunOutcome {
    RunOutcome::new(RunEnd::Failed("the in-process worker is gone".into()))
}

impl Launcher for InProcessLauncher {
    fn kind(&self) -> &'static str {
        "in_process"
    }

    fn run_once(
        &self,
        job: Job,
        timeout: Duration,
        kill: CancellationToken,
    ) -> impl Future<Output = RunOutcome> + Send {
        let outcome = self.submit(job, Some(timeout), kill);
        async move { outcome.await.unwrap_or_else(|_| lost()) }
    }

    fn start_service(
        &self,
        job: Job,
        stop: CancellationToken,
    ) -> impl Future<Output = Result<ServiceRun, LaunchError>> + Send {
        let outcome = self.submit(job, None, stop);
        async move {
            let run: ServiceRun = Box::pin(async move { outcome.await.unwrap_or_else(|_| lost()) });
            Ok(run)
        }
    }
}

/// Runs one job on the worker and reports how it ended.
async fn perform(work: Work, bus: Bus, options: SourceOptions) {
    let Work {
        job,
        timeout,
        stop,
        done,
    } = work;
    let outcome = match timeout {
        // A one-shot job is dropped (killed) on timeout or when told to stop.
        Some(limit) => tokio::select! {
            outcome = tokio::time::timeout(limit, run_job(job, bus, &options, stop.clone())) => {
                outcome.unwrap_or_else(|_| RunOutcome::new(RunEnd::TimedOut(limit)))
            }
            () = stop.cancelled() => RunOutcome::new(RunEnd::Stopped),
        },
        // A service stops itself when `stop` is cancelled.
        None => run_job(job, bus, &options, stop).await,
    };
    let _ = done.send(outcome);
}

async fn run_job(
    job: Job,
    bus: Bus,
    options: &SourceOptions,
    stop: CancellationToken,
) -> RunOutcome {
    let id: SourceId = job.source;
    let result = match job.mode {
        // A partial poll (readings written, a part failed) exits 0, as the binary does.
        JobMode::Poll => sources::run(id, bus, options, Mode::Once)
            .await
            .map(|report| {
                report
                    .filter(|r| r.failed())
                    .and_then(|r| r.status.last_error)
            }),
        JobMode::Scan | JobMode::Discover => sources::scan(id, &bus, options).await.map(|_| None),
        JobMode::Service => sources::run(id, bus, options, Mode::Resident(stop))
            .await
            .map(|_| None),
    };
    match result {
        Ok(None) => RunOutcome::new(RunEnd::Exited(0)),
        // The poll failed; its status says so.
        Ok(Some(error)) => exited(1, error),
        Err(SourceError::Bus(e)) => exited(3, e.to_string()),
        Err(e @ SourceError::NotYet { .. }) => exited(4, e.to_string()),
        Err(e) => exited(1, e.to_string()),
    }
}

fn exited(code: i32, line: String) -> RunOutcome {
    RunOutcome {
        end: RunEnd::Exited(code),
        log_tail: vec![line],
    }
}
