//! # sense-orchestrator
//!
//! The always-on service that runs the sources (`sense-pulse orchestrator`):
//!
//! - **Schedule.** Every scheduled source (`tailscale`, `pihole`, `system`, `co2`, `weather`) is
//!   run at boot, then every `config:schedule` interval (re-read on `config:changed`
//!   `{"section": "schedule"}`, and every health period in case a notice was missed). A source
//!   never runs twice at once: a run still going when the next is due delays it. A run that
//!   outlives the run timeout is killed, and recorded in `status:{id}` (`last_error: "run killed
//!   after 60 s (timeout)"`, counters carried on as the source's own runner does).
//! - **Launchers** ([`Launcher`]): Docker containers of the compose project through the Engine API
//!   ([`DockerLauncher`]), or child processes ([`ProcessLauncher`]) for installs without Docker
//!   and for tests. Both run the one binary: `sense-pulse source <id> --once`.
//! - **Commands** on `cmd:orchestrator`: `start_camera`, `stop_camera`, `trigger {service}`,
//!   `scan_aranet4`, `discover_cameras`, `restart_service {service}` (see [`commands`]).
//! - **Camera lifecycle**: on `stream:ended` the camera's container is cleaned up and the reason
//!   recorded in `status:network_camera` (`stream_ended`). A camera a previous orchestrator left
//!   streaming (it was killed and restarted) is adopted at start ([`Launcher::recover`]).
//! - **Resident sources** (e.g. `sensors`, when asked for): started once, restarted with back-off
//!   when they end.
//! - **Health**: `status:orchestrator` (see [`run`]).
//! - **Config seeding**: at boot, `config:{section}` from the environment with `SET NX`.
//!
//! A run's exit code tells what it wrote: 0 and 1 mean it wrote its own status (1: the poll
//! failed); 4 means this build has no such source yet, and nothing is recorded (the contract:
//! a source not built writes nothing); anything else (3: Redis unreachable, a crash, a launch
//! failure, a timeout) means the source could not say, so the orchestrator writes the error to
//! `status:{id}` itself, naming the cause and the last line of the run's output.
#![warn(missing_docs)]

pub mod commands;
mod core;
pub mod docker;
pub mod launcher;
pub mod process;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sense_bus::command::CommandServer;
use sense_bus::config::Section;
use sense_bus::ids::Lifecycle;
use sense_bus::keys::channels;
use sense_bus::store::to_json;
use sense_bus::{Bus, BusError, SectionName, SourceId, Topic, with_section};
pub use tokio_util::sync::CancellationToken;

pub use crate::core::{CO2_MARGIN, HEALTH_KEY, ORCHESTRATOR, OVERDUE_INTERVALS};
pub use docker::{DockerLauncher, DockerOptions};
pub use launcher::{Job, JobMode, LaunchError, Launcher, RunEnd, RunOutcome, ServiceRun};
pub use process::ProcessLauncher;

/// An environment lookup.
pub(crate) type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where the sources run.
#[derive(Clone, PartialEq, Eq)]
pub enum LauncherChoice {
    /// Containers of the compose project, through the Docker Engine API.
    Docker(DockerOptions),
    /// Child processes.
    Process {
        /// The `sense-pulse` binary (default: this executable).
        binary: PathBuf,
        /// Arguments after each job's own, e.g. `["--sim"]`.
        extra_args: Vec<String>,
        /// Variables added to the inherited environment.
        env: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for LauncherChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LauncherChoice::Docker(d) => f.debug_tuple("Docker").field(d).finish(),
            LauncherChoice::Process {
                binary,
                extra_args,
                env,
            } => {
                // Variable names only: values may be secrets.
                let env: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                f.debug_struct("Process")
                    .field("binary", binary)
                    .field("extra_args", extra_args)
                    .field("env", &env)
                    .finish()
            }
        }
    }
}

/// How the orchestrator runs.
#[derive(Clone)]
pub struct OrchestratorOptions {
    /// Where the sources run.
    pub launcher: LauncherChoice,
    /// How long one poll may take before it is killed (default 60 s).
    pub run_timeout: Duration,
    /// How long a scan or a discovery may take (default 30 s).
    pub scan_timeout: Duration,
    /// How often `status:orchestrator` is written (default 15 s; its TTL is 3 periods, ≥ 60 s).
    pub health_interval: Duration,
    /// How often the schedule is checked (default 1 s).
    pub tick: Duration,
    /// How long runs may go on after shutdown before they are killed (default 10 s).
    pub shutdown_grace: Duration,
    /// The sources run on the schedule (default: every scheduled one).
    pub scheduled: Vec<SourceId>,
    /// Sources run continuously and restarted when they end (default none; `sensors` on a bare
    /// Pi without its own Sense HAT service).
    pub resident: Vec<SourceId>,
    /// How long after `stream:ended` the camera may take to exit by itself before it is stopped
    /// (default 2 s).
    pub camera_cleanup_delay: Duration,
    /// The environment config is seeded and resolved from; `None`: the process's.
    pub config_env: Option<Vec<(String, String)>>,
}

impl std::fmt::Debug for OrchestratorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config_env: Option<Vec<&str>> = self
            .config_env
            .as_ref()
            .map(|vars| vars.iter().map(|(k, _)| k.as_str()).collect());
        f.debug_struct("OrchestratorOptions")
            .field("launcher", &self.launcher)
            .field("run_timeout", &self.run_timeout)
            .field("scan_timeout", &self.scan_timeout)
            .field("health_interval", &self.health_interval)
            .field("tick", &self.tick)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("scheduled", &self.scheduled)
            .field("resident", &self.resident)
            .field("camera_cleanup_delay", &self.camera_cleanup_delay)
            .field("config_env", &config_env)
            .finish()
    }
}

impl OrchestratorOptions {
    /// The defaults, with `launcher`.
    pub fn new(launcher: LauncherChoice) -> Self {
        OrchestratorOptions {
            launcher,
            run_timeout: Duration::from_secs(60),
            scan_timeout: Duration::from_secs(30),
            health_interval: Duration::from_secs(15),
            tick: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            scheduled: SourceId::ALL
                .into_iter()
                .filter(|id| id.lifecycle() == Lifecycle::Scheduled)
                .collect(),
            resident: Vec::new(),
            camera_cleanup_delay: Duration::from_secs(2),
            config_env: None,
        }
    }

    /// The defaults, with the launcher [`choose_launcher`] picks and the resident sources
    /// `ORCHESTRATOR_RESIDENT` lists (comma-separated ids, e.g. `sensors`; unknown ones are
    /// logged and skipped).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut options = OrchestratorOptions::new(choose_launcher(env));
        if let Some(list) = env("ORCHESTRATOR_RESIDENT") {
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match commands::parse_service(name) {
                    Some(id) if !options.resident.contains(&id) => options.resident.push(id),
                    Some(_) => {}
                    None => tracing::warn!("ORCHESTRATOR_RESIDENT: unknown source `{name}`"),
                }
            }
            options
                .scheduled
                .retain(|id| !options.resident.contains(id));
        }
        options
    }
}

/// How often a named node's orchestrator writes its health and its `node:{name}` record: the
/// hub counts a node lost after [`NodeRecord::SILENT_AFTER`](sense_bus::model::NodeRecord::SILENT_AFTER)
/// of these without a word.
pub const NODE_HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Where Docker's socket normally is.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Docker when its socket exists and `COMPOSE_PROJECT_NAME` is set, else child processes of this
/// executable. `ORCHESTRATOR_LAUNCHER=process|docker` overrides the guess.
///
/// For Docker: the image is `SENSE_IMAGE` or the orchestrator's own container's (found by its
/// `HOSTNAME`), the camera's `SENSE_CAMERA_IMAGE` or that image's name with `-camera` appended
/// ([`docker::camera_image_of`]); every container gets `REDIS_URL`, `LOG_LEVEL`, `RUST_LOG`, `TZ` and each config
/// variable of the contract (`PIHOLE_HOST`, `SCHEDULE_SYSTEM`, ...) this environment sets.
pub fn choose_launcher(env: &dyn Fn(&str) -> Option<String>) -> LauncherChoice {
    choose_launcher_at(env, Path::new(DOCKER_SOCKET))
}

/// [`choose_launcher`] with Docker's socket at `socket`.
pub fn choose_launcher_at(env: &dyn Fn(&str) -> Option<String>, socket: &Path) -> LauncherChoice {
    let project = env("COMPOSE_PROJECT_NAME").filter(|p| !p.trim().is_empty());
    let forced = env("ORCHESTRATOR_LAUNCHER").map(|s| s.trim().to_ascii_lowercase());
    let docker = match forced.as_deref() {
        Some("docker") => true,
        Some("process") => false,
        _ => socket.exists() && project.is_some(),
    };
    if docker {
        return LauncherChoice::Docker(DockerOptions {
            socket: socket.to_owned(),
            project: project.unwrap_or_else(|| "sense-pulse".to_owned()),
            image: env("SENSE_IMAGE").filter(|i| !i.trim().is_empty()),
            camera_image: env("SENSE_CAMERA_IMAGE").filter(|i| !i.trim().is_empty()),
            self_container: env("HOSTNAME").filter(|h| !h.trim().is_empty()),
            env: passthrough_env(env),
            sim: false,
        });
    }
    LauncherChoice::Process {
        binary: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sense-pulse")),
        extra_args: Vec::new(),
        env: Vec::new(),
    }
}

/// The variables a source container gets from the orchestrator's environment: the bus, logging,
/// the time zone, the sources' deployment settings (`DISK_PATH`, `I2C_BUS`, `FFMPEG`), and every
/// config variable but the dashboard login's (no source needs those).
pub fn passthrough_env(env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut names = vec![
        "REDIS_URL",
        "LOG_LEVEL",
        "RUST_LOG",
        "TZ",
        "DISK_PATH",
        "I2C_BUS",
        "FFMPEG",
        "CAMERA_DISCOVERY_SUBNETS",
    ];
    for section in SectionName::ALL
        .into_iter()
        .filter(|s| *s != SectionName::Auth)
    {
        let fields = with_section!(section, S => S::ENV);
        names.extend(fields.iter().map(|f| f.var));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for name in names {
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        if let Some(value) = env(name) {
            out.push((name.to_owned(), value));
        }
    }
    out
}

/// Why the orchestrator stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// The bus failed at boot (subscribing to commands and events).
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A subscription ended: the bus is gone for good.
    #[error("the bus connection ended")]
    BusClosed,
}

/// Runs the orchestrator on `bus` until `shutdown` is cancelled.
///
/// At boot it seeds `config:*` from the environment (SET NX), subscribes to `cmd:orchestrator`,
/// `config:changed` and `stream:ended`, reads the schedule, clears what a previous orchestrator
/// left running but the camera, which it adopts ([`Launcher::recover`]), and starts every
/// scheduled source. On
/// shutdown it stops scheduling and answering, stops the camera and resident sources, lets runs
/// in progress end for `shutdown_grace`, then kills what is left.
///
/// `status:orchestrator` (TTL three health periods, at least 60 s) is a valid `status` with:
///
/// ```json
/// {"source_id": "orchestrator", "last_poll": …, "last_success": …, "last_error": "overdue: weather",
///  "poll_count": 12, "error_count": 0, "warnings": [],
///  "launcher": "docker", "started_at": …, "uptime_s": 180, "schedule": {"system": 30, …},
///  "running": ["co2"],
///  "sources": {
///    "system": {"lifecycle": "scheduled", "interval_s": 30, "running": null, "launches": 7,
///               "last_run": {"mode": "poll", "started_at": …, "ended_at": …, "duration_s": 0.4,
///                            "exit_code": 0, "outcome": "ok", "error": null},
///               "next_run_in_s": 12, "last_success": …, "overdue": false},
///    "network_camera": {"lifecycle": "on_demand", "stream": {"running": false, …}}, …}}
/// ```
///
/// `outcome` is `ok`, `partial`, `failed`, `not_built`, `timeout`, `stopped` or `launch_failed`;
/// `partial` is a poll that exited 0 having written `status:{id}` with `outcome: partial` (some
/// readings written; `error` is the status's `last_error`); a failed run adds its `log_tail`. A source is `overdue` when `status:{id}.last_success` is missing or
/// older than [`OVERDUE_INTERVALS`] intervals, once the orchestrator has run that long.
pub async fn run(
    bus: Bus,
    mut options: OrchestratorOptions,
    shutdown: CancellationToken,
) -> Result<(), OrchestratorError> {
    // The runs it launches are this node's too: they write `system@kitchen`, not the hub's.
    if let Some(node) = bus.scope().name() {
        let var = ("NODE_NAME".to_owned(), node.to_string());
        match &mut options.launcher {
            LauncherChoice::Docker(docker) => docker.env.push(var),
            LauncherChoice::Process { env, .. } => env.push(var),
        }
    }
    match options.launcher.clone() {
        LauncherChoice::Docker(docker) => {
            run_with_launcher(bus, DockerLauncher::new(docker), options, shutdown).await
        }
        LauncherChoice::Process {
            binary,
            extra_args,
            env,
        } => {
            let launcher = ProcessLauncher::new(binary, extra_args, env);
            run_with_launcher(bus, launcher, options, shutdown).await
        }
    }
}

/// `step` until it succeeds, tried again every second while Redis is out of reach (unreachable,
/// or too slow); `None` when `shutdown` comes first. An error waiting will not cure (a refused
/// login, TLS) ends it.
async fn while_down<T, F: Future<Output = Result<T, BusError>>>(
    shutdown: &CancellationToken,
    mut step: impl FnMut() -> F,
) -> Result<Option<T>, BusError> {
    let mut said = false;
    loop {
        match step().await {
            Ok(value) => return Ok(Some(value)),
            Err(e @ (BusError::Unavailable { .. } | BusError::Timeout(_))) => {
                if !said {
                    tracing::warn!(error = %e, "the bus went away while starting; trying again");
                    said = true;
                }
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// [`run`] with a launcher of your own (`options.launcher` is ignored).
pub async fn run_with_launcher<L: Launcher>(
    bus: Bus,
    launcher: L,
    options: OrchestratorOptions,
    shutdown: CancellationToken,
) -> Result<(), OrchestratorError> {
    let env: EnvFn = match options.config_env.clone() {
        Some(vars) => {
            Arc::new(move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        }
        None => Arc::new(sense_bus::config::process_env),
    };
    let mut options = options;
    if !bus.scope().is_hub() {
        // Weather and Pi-hole are the installation's, run once, by the hub.
        options.scheduled.retain(|id| id.per_node());
        options.resident.retain(|id| id.per_node());
    }
    tracing::info!(launcher = launcher.kind(), bus = %bus.describe(), scope = %bus.scope(), "orchestrator starting");
    let core = Arc::new(core::Core::new(
        bus.clone(),
        launcher,
        options,
        env,
        shutdown.clone(),
    ));

    // Redis may go away between the wait for it and these first steps: each is tried again until
    // it answers, as every step later is, rather than ending the orchestrator.
    let topics = [
        Topic::channel(channels::CONFIG_CHANGED),
        Topic::channel(bus.scope().id(channels::STREAM_ENDED)),
    ];
    // Subscribe before reading anything, so no change slips between the read and the subscription.
    let Some(events) = while_down(&shutdown, || bus.subscribe(&topics)).await? else {
        return Ok(());
    };
    let target = bus.scope().id(ORCHESTRATOR);
    let Some(mut commands) = while_down(&shutdown, || CommandServer::listen(&bus, &target)).await?
    else {
        return Ok(());
    };
    // The config is the hub's to seed: a named node may only read it (its Redis user says so).
    if bus.scope().is_hub()
        && let Err(e) = core.seed().await
    {
        tracing::warn!(error = %e, "cannot seed config from the environment");
    }
    if while_down(&shutdown, || core.reload_schedule())
        .await?
        .is_none()
    {
        return Ok(());
    }
    // Before any run of ours: what a previous orchestrator left is cleared, or adopted.
    core.recover().await;

    let listener = tokio::spawn(Arc::clone(&core).listen_loop(events));
    let scheduler = tokio::spawn(Arc::clone(&core).schedule_loop());
    let health = tokio::spawn(Arc::clone(&core).health_loop());
    for &id in &core.options.resident {
        tokio::spawn(Arc::clone(&core).supervise(id));
    }

    let mut listener = listener;
    let mut failure = None;
    let mut listener_done = false;
    loop {
        let command = tokio::select! {
            () = shutdown.cancelled() => break,
            c = commands.next() => c,
            ended = &mut listener, if !listener_done => {
                listener_done = true;
                if let Ok(Err(e)) = ended {
                    failure = Some(e);
                    break;
                }
                continue;
            }
        };
        let Some(command) = command else {
            failure = Some(OrchestratorError::BusClosed);
            break;
        };
        tracing::debug!(action = %command.action, "command");
        let core = Arc::clone(&core);
        tokio::spawn(async move {
            let response = commands::handle(&core, &command).await;
            let target = core.bus.scope().id(ORCHESTRATOR);
            let channel = channels::command_response(&target, &response.request_id);
            if let Err(e) = core.bus.publish(&channel, &to_json(&response)).await {
                tracing::warn!(error = %e, "cannot answer a command");
            }
        });
    }
    if failure.is_some() {
        // The bus is gone: wind down as on shutdown.
        shutdown.cancel();
    }
    tracing::info!("orchestrator stopping");
    let _ = scheduler.await;
    let _ = health.await;
    if !listener_done && let Ok(Err(e)) = listener.await {
        failure.get_or_insert(e);
    }
    core.wind_down().await;
    if let Err(e) = core.write_health().await {
        tracing::debug!(error = %e, "cannot write the last status:orchestrator");
    }
    tracing::info!("orchestrator stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_is_chosen_with_a_socket_and_a_project() {
        let dir = std::env::temp_dir().join(format!("sense-orch-choose-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("docker.sock");
        std::fs::write(&socket, "").unwrap();
        let vars = [
            ("COMPOSE_PROJECT_NAME", "sp"),
            ("HOSTNAME", "abc123"),
            ("SENSE_CAMERA_IMAGE", "ghcr.io/x/camera:1"),
            ("REDIS_URL", "redis://redis:6379"),
            ("PIHOLE_PASSWORD", "secret"),
            ("SCHEDULE_SYSTEM", "15"),
            ("AUTH_PASSWORD_HASH", "$2b$12$x"),
            ("UNRELATED", "x"),
        ];
        let env = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        };
        let LauncherChoice::Docker(d) = choose_launcher_at(&env, &socket) else {
            panic!("expected docker");
        };
        assert_eq!(d.project, "sp");
        assert_eq!(d.self_container.as_deref(), Some("abc123"));
        assert_eq!(d.image, None);
        assert_eq!(d.camera_image.as_deref(), Some("ghcr.io/x/camera:1"));
        let names: Vec<&str> = d.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["REDIS_URL", "PIHOLE_PASSWORD", "SCHEDULE_SYSTEM"]);
        let shown = format!("{:?}", LauncherChoice::Docker(d));
        assert!(
            shown.contains("PIHOLE_PASSWORD") && !shown.contains("secret"),
            "{shown}"
        );

        let no_project = |n: &str| env(n).filter(|_| n != "COMPOSE_PROJECT_NAME");
        assert!(matches!(
            choose_launcher_at(&no_project, &socket),
            LauncherChoice::Process { .. }
        ));
        assert!(matches!(
            choose_launcher_at(&env, &dir.join("absent.sock")),
            LauncherChoice::Process { .. }
        ));
        let forced = |n: &str| {
            if n == "ORCHESTRATOR_LAUNCHER" {
                Some("process".to_owned())
            } else {
                env(n)
            }
        };
        assert!(matches!(
            choose_launcher_at(&forced, &socket),
            LauncherChoice::Process { .. }
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn resident_sources_leave_the_schedule() {
        let env = |n: &str| (n == "ORCHESTRATOR_RESIDENT").then(|| "sensehat, bogus".to_owned());
        let options = OrchestratorOptions::from_env(&env);
        assert_eq!(options.resident, [SourceId::Sensors]);
        assert_eq!(options.scheduled.len(), 5);
        assert_eq!(options.run_timeout, Duration::from_secs(60));
    }
}
