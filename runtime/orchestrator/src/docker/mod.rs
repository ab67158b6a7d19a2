//! Jobs as Docker containers, through the Docker Engine API on its unix socket, by hand over
//! `sense-http` (bollard would cost about 40 s of compile time on a Pi for six endpoints): the
//! calls are in `engine.rs`, the containers' create bodies ([`ContainerSpec`]) in `spec.rs`.
//!
//! A one-shot job:
//!
//! 1. `GET /version` once: the API prefix is `/v{min(ours, the daemon's)}` (Debian 12's Docker
//!    speaks 1.41, Docker 28 speaks 1.50; ours is [`API_VERSION`]).
//! 2. `GET /v…/containers/{HOSTNAME}/json` once: the orchestrator's own container tells the image
//!    (unless one is configured) and the compose network.
//! 3. `POST /v…/containers/create?name=…` with the [`ContainerSpec`] of the job, `POST
//!    /v…/containers/{id}/start`, `POST /v…/containers/{id}/wait` (the exit code),
//!    `GET /v…/containers/{id}/logs?stdout=1&stderr=1&tail=20` (the multiplexed stream: 8-byte
//!    frame headers), `DELETE /v…/containers/{id}?force=1`.
//! 4. On timeout: `POST /v…/containers/{id}/kill`, then the logs and the removal.
//!
//! Long-running containers (the camera, resident sources) have fixed names
//! (`{project}-source-camera`); they are stopped with `POST /v…/containers/{id}/stop?t=10`
//! (SIGTERM, SIGKILL after 10 s).
//!
//! At the orchestrator's start ([`Launcher::recover`], or at the first job when the daemon was
//! away then), `GET /v…/containers/json?all=1&filters=…` lists this project's containers of ours
//! (labels `io.sense-pulse.orchestrated=true`, `com.docker.compose.project`) that a previous
//! orchestrator left: one-shot runs are removed; a running camera (`io.sense-pulse.mode=service`)
//! of the image this orchestrator would run is adopted (`POST …/wait` on it, as on one it
//! started); every other service container is stopped and removed (an older image's camera, the
//! Sense HAT, which its supervisor starts afresh). A container of the same name still in the way
//! of a create is replaced.
//!
//! # The containers
//!
//! Every container runs the core image (the camera its own, [`DockerOptions::camera_image`])
//! with `Entrypoint ["sense-pulse"]` (the image must have it on its `PATH`) and the job's
//! arguments as `Cmd`; it joins the compose network; its environment is `REDIS_URL`,
//! `LOG_LEVEL`, `TZ` and every config variable of the orchestrator's own environment (the `.env`
//! file), so a source falls back to the same values the orchestrator seeded. Labels make it part
//! of the compose project (`com.docker.compose.project`, `com.docker.compose.service=source-<name>`,
//! `com.docker.compose.oneoff=True` for one-shot jobs) and mark it as ours
//! (`io.sense-pulse.orchestrated=true`, `io.sense-pulse.source=<id>`, `io.sense-pulse.mode`).
//! Per source ([`ContainerSpec::for_job`]; docker/README.md's "Privileges" table says the same,
//! and `tests/compose/` holds both to it):
//!
//! | source | service | user | memory | mounts | other |
//! |---|---|---|---|---|---|
//! | `system` | `source-system` | `10001:10001` | 64 MiB | `/proc` at `/host/proc`, `/sys` at `/host/sys` (bind, read-only) | `HOST_PROC`, `HOST_SYS` |
//! | `co2` | `source-aranet4` | `0` | 64 MiB | `/run/dbus/system_bus_socket` (bind, read-only) | |
//! | `tailscale` | `source-tailscale` | `10001:10001` | 64 MiB | `/var/run/tailscale` (bind, read-only) | |
//! | `network_camera` | `source-camera` | `10001:10001` | 256 MiB | the `{project}_hls` volume at `/hls` | `HLS_OUTPUT_DIR=/hls`; the camera's image |
//! | `sensors` | `source-sensehat` | `0` | 64 MiB | | privileged (I2C, framebuffer, joystick, LEDs), not hardened |
//! | `pihole`, `weather` | `source-pihole`, `source-weather` | `10001:10001` | 64 MiB | | |
//!
//! Host paths are `HostConfig.Mounts` of type `bind`, not `Binds`: the Engine refuses to create a
//! container whose host path is missing (rather than create it as root's empty directory), and
//! the run fails naming the path and what to check ([`ContainerSpec::explain`]). Every container
//! but the privileged Sense HAT is hardened: `ReadonlyRootfs`, `CapDrop: ["ALL"]`,
//! `SecurityOpt: ["no-new-privileges:true"]` (nothing writes outside `/hls`, so no `Tmpfs`).
//! Logs are `json-file`, [`LOG_MAX_SIZE`] × [`LOG_MAX_FILES`], as the compose services'.
//!
//! The co2 source talks to the host's BlueZ over D-Bus: the system bus socket is all it needs.
//! Neither host networking nor a privileged container is required (those are for raw HCI
//! sockets, which we do not use); the container runs as uid 0, which BlueZ's D-Bus policy
//! admits, without any capability.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sense_bus::SourceId;
use sense_http::Method;
use tokio_util::sync::CancellationToken;

use crate::launcher::{Job, LaunchError, Launcher, RunEnd, RunOutcome, ServiceRun};

mod engine;
mod spec;

pub use engine::demultiplex;
use engine::{Inner, Setup, encode};
pub use spec::{
    ContainerSpec, LOG_MAX_FILES, LOG_MAX_SIZE, Mount, MountKind, NO_NEW_PRIVILEGES, SENSE_USER,
    TMP_TMPFS, camera_image_of, service_name,
};

/// The newest Engine API version we speak; older daemons are spoken to in theirs.
pub const API_VERSION: (u32, u32) = (1, 44);

/// The oldest daemon API we accept (Docker 20.10).
pub const MIN_API_VERSION: (u32, u32) = (1, 41);

/// How long `docker stop` gives a long-running container before SIGKILL.
const STOP_SECONDS: u32 = 10;

/// The label that marks the containers the orchestrator made.
pub const LABEL_ORCHESTRATED: &str = "io.sense-pulse.orchestrated";

/// What the Docker launcher needs to know.
#[derive(Clone, PartialEq, Eq)]
pub struct DockerOptions {
    /// The daemon's socket, normally `/var/run/docker.sock`.
    pub socket: PathBuf,
    /// The compose project (`COMPOSE_PROJECT_NAME`): labels, the network and volume names.
    pub project: String,
    /// The image to run (`SENSE_IMAGE`); `None`: the orchestrator's own container's image.
    pub image: Option<String>,
    /// The camera's image, with FFmpeg (`SENSE_CAMERA_IMAGE`); `None`: the image's repository
    /// with `-camera` appended ([`camera_image_of`]).
    pub camera_image: Option<String>,
    /// The orchestrator's own container, by id or name (its `HOSTNAME`), to find the image and
    /// network from.
    pub self_container: Option<String>,
    /// The environment given to every container.
    pub env: Vec<(String, String)>,
    /// Every source with simulated hardware and web services (`orchestrator --sim`):
    /// [`ContainerSpec::simulated`].
    pub sim: bool,
}

impl std::fmt::Debug for DockerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Variable names only: values may be secrets.
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("DockerOptions")
            .field("socket", &self.socket)
            .field("project", &self.project)
            .field("image", &self.image)
            .field("camera_image", &self.camera_image)
            .field("self_container", &self.self_container)
            .field("env", &env)
            .field("sim", &self.sim)
            .finish()
    }
}

/// Runs jobs as containers of the compose project. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DockerLauncher {
    inner: Arc<Inner>,
}

impl DockerLauncher {
    /// A launcher talking to the daemon at `options.socket`. Nothing is asked of the daemon
    /// until the first job.
    pub fn new(options: DockerOptions) -> Self {
        DockerLauncher {
            inner: Arc::new(Inner::new(options)),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &DockerOptions {
        &self.inner.options
    }
}

impl Launcher for DockerLauncher {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn run_once(&self, job: Job, timeout: Duration, kill: CancellationToken) -> RunOutcome {
        let this = &self.inner;
        let started = tokio::time::Instant::now();
        let setup = match this.setup().await {
            Ok(s) => s,
            Err(e) => return RunOutcome::new(RunEnd::Failed(e)),
        };
        let id = match tokio::time::timeout(timeout, this.launch(&setup, job)).await {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => return RunOutcome::new(RunEnd::Failed(e)),
            Err(_) => return RunOutcome::new(RunEnd::TimedOut(timeout)),
        };
        let left = timeout.saturating_sub(started.elapsed());
        let end = tokio::select! {
            code = this.wait(&setup, &id) => match code {
                Ok(code) => RunEnd::Exited(code),
                Err(e) => RunEnd::Failed(e),
            },
            () = tokio::time::sleep(left) => {
                tracing::warn!(%job, container = %id, "run timed out; killing it");
                let _ = this.post(&setup, &id, "kill").await;
                RunEnd::TimedOut(timeout)
            }
            () = kill.cancelled() => {
                let _ = this.post(&setup, &id, "kill").await;
                RunEnd::Stopped
            }
        };
        let log_tail = this.logs(&setup, &id).await;
        let _ = this.remove(&setup, &id).await;
        RunOutcome { end, log_tail }
    }

    async fn start_service(
        &self,
        job: Job,
        stop: CancellationToken,
    ) -> Result<ServiceRun, LaunchError> {
        let this = Arc::clone(&self.inner);
        let setup = this.setup().await.map_err(LaunchError)?;
        let id = this.launch(&setup, job).await.map_err(LaunchError)?;
        Ok(watch(this, setup, id, stop))
    }

    async fn recover(
        &self,
        adopt: Vec<(SourceId, CancellationToken)>,
    ) -> Vec<(SourceId, ServiceRun)> {
        let this = &self.inner;
        let sources: Vec<SourceId> = adopt.iter().map(|(source, _)| *source).collect();
        let (setup, kept) = match this.setup_and_recover(&sources).await {
            Ok(recovered) => recovered,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for containers left by a previous orchestrator; done at the first job");
                return Vec::new();
            }
        };
        kept.into_iter()
            .filter_map(|(source, id)| {
                let (_, stop) = adopt.iter().find(|(s, _)| *s == source)?;
                let run = watch(Arc::clone(this), Arc::clone(&setup), id, stop.clone());
                Some((source, run))
            })
            .collect()
    }

    async fn clean_up(&self, source: SourceId) -> Result<(), LaunchError> {
        let this = &self.inner;
        let setup = this.setup().await.map_err(LaunchError)?;
        let name = this.name(&setup, Job::service(source));
        this.remove(&setup, &name).await.map_err(LaunchError)
    }

    async fn restart_other(&self, service: &str) -> Result<bool, LaunchError> {
        let this = &self.inner;
        let setup = this.setup().await.map_err(LaunchError)?;
        let labels = [
            format!("com.docker.compose.project={}", setup.project),
            format!("com.docker.compose.service={service}"),
        ];
        let containers = this.list(&setup, &labels).await.map_err(LaunchError)?;
        if containers.is_empty() {
            return Ok(false);
        }
        for c in &containers {
            let Some(id) = c["Id"].as_str() else { continue };
            let path = format!(
                "{}/containers/{}/restart?t={STOP_SECONDS}",
                setup.prefix,
                encode(id)
            );
            this.send(&this.waiter, this.request(Method::POST, &path))
                .await
                .map_err(LaunchError)?;
        }
        Ok(true)
    }
}

/// The run of the service container `id`: it ends when the container does, or when `stop` is
/// cancelled (then `docker stop`); then its log tail is read and it is removed.
fn watch(this: Arc<Inner>, setup: Arc<Setup>, id: String, stop: CancellationToken) -> ServiceRun {
    Box::pin(async move {
        let end = tokio::select! {
            code = this.wait(&setup, &id) => match code {
                Ok(code) => RunEnd::Exited(code),
                Err(e) => RunEnd::Failed(e),
            },
            () = stop.cancelled() => {
                this.stop(&setup, &id).await;
                RunEnd::Stopped
            }
        };
        let log_tail = this.logs(&setup, &id).await;
        let _ = this.remove(&setup, &id).await;
        RunOutcome { end, log_tail }
    })
}
