//! Jobs as Docker containers, through the Docker Engine API on its unix socket, by hand over
//! `sense-http` (bollard would cost about 40 s of compile time on a Pi for six endpoints).
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
//! (`{project}-source-camera`) so a leftover from before a restart is found and replaced; they are
//! stopped with `POST /v…/containers/{id}/stop?t=10` (SIGTERM, SIGKILL after 10 s).
//!
//! # The containers
//!
//! Every container runs the one image with `Entrypoint ["sense-pulse"]` (the image must have it
//! on its `PATH`) and the job's arguments as `Cmd`; it joins the compose network; its environment
//! is `REDIS_URL`, `LOG_LEVEL`, `TZ` and every config variable of the orchestrator's own
//! environment (the `.env` file), so a source falls back to the same values the orchestrator
//! seeded. Labels make it part of the compose project (`com.docker.compose.project`,
//! `com.docker.compose.service=source-<name>`, `com.docker.compose.oneoff=True` for one-shot
//! jobs) and mark it as ours (`io.sense-pulse.orchestrated=true`, `io.sense-pulse.source=<id>`).
//! Per source:
//!
//! | source | service | binds | other |
//! |---|---|---|---|
//! | `system` | `source-system` | `/proc:/host/proc:ro`, `/sys:/host/sys:ro` | `HOST_PROC`, `HOST_SYS` |
//! | `co2` | `source-aranet4` | `/run/dbus/system_bus_socket` (read-only) | |
//! | `tailscale` | `source-tailscale` | `/var/run/tailscale` (read-only) | |
//! | `network_camera` | `source-camera` | `{project}_hls:/hls` | `HLS_OUTPUT_DIR=/hls` |
//! | `sensors` | `source-sensehat` | | privileged (I2C, framebuffer, joystick, LEDs) |
//! | `pihole`, `weather` | `source-pihole`, `source-weather` | | |
//!
//! The co2 source talks to the host's BlueZ over D-Bus: the system bus socket is all it needs.
//! Neither host networking nor a privileged container is required (those are for raw HCI
//! sockets, which we do not use); the container runs as root, which BlueZ's D-Bus policy admits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sense_bus::SourceId;
use sense_http::{HttpClient, HttpError, HttpOptions, Method, Request, Response};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use crate::launcher::{
    Job, JobMode, LOG_TAIL_LINES, LaunchError, Launcher, LogTail, RunEnd, RunOutcome, ServiceRun,
};

/// The newest Engine API version we speak; older daemons are spoken to in theirs.
pub const API_VERSION: (u32, u32) = (1, 44);

/// The oldest daemon API we accept (Docker 20.10).
pub const MIN_API_VERSION: (u32, u32) = (1, 41);

/// How long `docker stop` gives a long-running container before SIGKILL.
const STOP_SECONDS: u32 = 10;

/// The Host header sent over the socket (the daemon ignores it).
const HOST: &str = "docker";

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
    /// The orchestrator's own container, by id or name (its `HOSTNAME`), to find the image and
    /// network from.
    pub self_container: Option<String>,
    /// The environment given to every container.
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for DockerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Variable names only: values may be secrets.
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("DockerOptions")
            .field("socket", &self.socket)
            .field("project", &self.project)
            .field("image", &self.image)
            .field("self_container", &self.self_container)
            .field("env", &env)
            .finish()
    }
}

/// The compose service name of a source's container.
pub const fn service_name(source: SourceId) -> &'static str {
    match source {
        SourceId::Tailscale => "source-tailscale",
        SourceId::Pihole => "source-pihole",
        SourceId::System => "source-system",
        SourceId::Co2 => "source-aranet4",
        SourceId::Weather => "source-weather",
        SourceId::Sensors => "source-sensehat",
        SourceId::NetworkCamera => "source-camera",
    }
}

/// A container to create, as the Engine API's create body wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: String,
    /// The image.
    pub image: String,
    /// The arguments of `sense-pulse`.
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `source:target[:ro]` binds (host paths and named volumes).
    pub binds: Vec<String>,
    /// The network to join.
    pub network: String,
    /// Whether the container is privileged.
    pub privileged: bool,
    /// The user it runs as: root only where the hardware needs it (the Sense HAT's I2C and
    /// framebuffer, BlueZ's D-Bus policy), else the image's `sense` user ([`SENSE_USER`]).
    pub user: String,
    /// Its memory limit in bytes.
    pub memory: u64,
}

/// The image's unprivileged user (`docker/Dockerfile`).
pub const SENSE_USER: &str = "10001:10001";

/// Memory limits: FFmpeg gets room for a 1080p stream; a poll needs a few MB.
const CAMERA_MEMORY: u64 = 256 << 20;
const SOURCE_MEMORY: u64 = 64 << 20;

impl ContainerSpec {
    /// The spec of `job` in `project`, with `image`, `network` and the shared `env`; `name` is
    /// the container's name.
    pub fn for_job(
        job: Job,
        project: &str,
        image: &str,
        network: &str,
        env: &[(String, String)],
        name: String,
    ) -> ContainerSpec {
        let source = job.source;
        let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut binds = Vec::new();
        let mut privileged = false;
        let mut user = SENSE_USER;
        match source {
            SourceId::System => {
                binds.push("/proc:/host/proc:ro".to_owned());
                binds.push("/sys:/host/sys:ro".to_owned());
                env.push("HOST_PROC=/host/proc".to_owned());
                env.push("HOST_SYS=/host/sys".to_owned());
            }
            SourceId::Co2 => {
                binds.push("/run/dbus/system_bus_socket:/run/dbus/system_bus_socket:ro".to_owned());
                user = "0";
            }
            SourceId::Tailscale => {
                binds.push("/var/run/tailscale:/var/run/tailscale:ro".to_owned());
            }
            SourceId::NetworkCamera => {
                binds.push(format!("{project}_hls:/hls"));
                env.push("HLS_OUTPUT_DIR=/hls".to_owned());
            }
            SourceId::Sensors => {
                privileged = true;
                user = "0";
            }
            SourceId::Pihole | SourceId::Weather => {}
        }
        let oneoff = job.mode != JobMode::Service;
        let labels = [
            ("com.docker.compose.project", project),
            ("com.docker.compose.service", service_name(source)),
            (
                "com.docker.compose.oneoff",
                if oneoff { "True" } else { "False" },
            ),
            (LABEL_ORCHESTRATED, "true"),
            ("io.sense-pulse.source", source.as_str()),
            ("io.sense-pulse.mode", job.mode.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        ContainerSpec {
            name,
            image: image.to_owned(),
            cmd: job.args(),
            env,
            labels,
            binds,
            network: network.to_owned(),
            privileged,
            user: user.to_owned(),
            memory: if source == SourceId::NetworkCamera {
                CAMERA_MEMORY
            } else {
                SOURCE_MEMORY
            },
        }
    }

    /// The `POST /containers/create` body.
    pub fn to_json(&self) -> Json {
        json!({
            "Image": self.image,
            "Entrypoint": ["sense-pulse"],
            "Cmd": self.cmd,
            "Env": self.env,
            "Labels": self.labels,
            "Tty": false,
            "OpenStdin": false,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "User": self.user,
            "HostConfig": {
                "Binds": self.binds,
                "NetworkMode": self.network,
                "Privileged": self.privileged,
                "RestartPolicy": {"Name": "no"},
                "Memory": self.memory,
                // An SD card does not like logs (as docker-compose.yml).
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "2m", "max-file": "2"}},
            },
        })
    }
}

/// What is learnt once from the daemon.
#[derive(Clone, Debug)]
struct Setup {
    /// `/v1.41`.
    prefix: String,
    image: String,
    network: String,
}

/// Runs jobs as containers of the compose project. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DockerLauncher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: DockerOptions,
    client: HttpClient,
    /// For `wait`, which lasts as long as the container.
    waiter: HttpClient,
    setup: tokio::sync::Mutex<Option<Arc<Setup>>>,
    counter: AtomicU64,
}

/// Parses `1.41`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of Docker's multiplexed log stream (8-byte headers: stream, 0, 0, 0, big-endian
/// length), or the bytes as they are when they are not multiplexed (a TTY container).
pub fn demultiplex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let header_ok = rest.len() >= 8 && rest[0] <= 2 && rest[1..4] == [0, 0, 0];
        if !header_ok {
            return String::from_utf8_lossy(bytes).into_owned();
        }
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl DockerLauncher {
    /// A launcher talking to the daemon at `options.socket`. Nothing is asked of the daemon
    /// until the first job.
    pub fn new(options: DockerOptions) -> Self {
        let waiter = HttpClient::new(HttpOptions {
            request_timeout: Duration::from_secs(7 * 24 * 3600),
            ..HttpOptions::default()
        });
        DockerLauncher {
            inner: Arc::new(Inner {
                options,
                client: HttpClient::default(),
                waiter,
                setup: tokio::sync::Mutex::new(None),
                counter: AtomicU64::new(0),
            }),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &DockerOptions {
        &self.inner.options
    }
}

impl Inner {
    fn request(&self, method: Method, path: &str) -> Request {
        Request::unix(method, &self.options.socket, HOST, path)
    }

    /// Turns a transport failure into a message naming the daemon.
    fn transport(&self, e: HttpError) -> String {
        match e {
            HttpError::Connect { reason, .. } => format!(
                "docker: cannot reach the Docker daemon at {}: {reason}",
                self.options.socket.display()
            ),
            other => format!("docker: {other}"),
        }
    }

    async fn send(&self, client: &HttpClient, request: Request) -> Result<Response, String> {
        let response = client.send(request).await.map_err(|e| self.transport(e))?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(api_error(&response))
        }
    }

    /// Negotiates the API version and finds the image and network, once.
    async fn setup(&self) -> Result<Arc<Setup>, String> {
        let mut slot = self.setup.lock().await;
        if let Some(setup) = slot.as_ref() {
            return Ok(Arc::clone(setup));
        }
        let version: Json = self
            .send(&self.client, self.request(Method::GET, "/version"))
            .await?
            .json()
            .map_err(|e| format!("docker: {e}"))?;
        let theirs = version["ApiVersion"]
            .as_str()
            .and_then(parse_version)
            .ok_or_else(|| format!("docker: /version has no ApiVersion: {version}"))?;
        if theirs < MIN_API_VERSION {
            return Err(format!(
                "docker: the daemon speaks API {}.{}; at least {}.{} (Docker 20.10) is needed",
                theirs.0, theirs.1, MIN_API_VERSION.0, MIN_API_VERSION.1
            ));
        }
        let (major, minor) = theirs.min(API_VERSION);
        let prefix = format!("/v{major}.{minor}");
        let project = &self.options.project;
        let mut image = self.options.image.clone();
        let mut network = None;
        if let Some(me) = &self.options.self_container {
            let path = format!("{prefix}/containers/{}/json", encode(me));
            match self
                .send(&self.client, self.request(Method::GET, &path))
                .await
            {
                Ok(response) => {
                    let inspect: Json = response.json().unwrap_or_default();
                    if image.is_none() {
                        image = inspect["Config"]["Image"].as_str().map(str::to_owned);
                    }
                    let networks: Vec<String> = inspect["NetworkSettings"]["Networks"]
                        .as_object()
                        .map(|n| n.keys().cloned().collect())
                        .unwrap_or_default();
                    network = networks
                        .iter()
                        .find(|n| n.starts_with(&format!("{project}_")))
                        .or_else(|| {
                            networks
                                .iter()
                                .find(|n| !matches!(n.as_str(), "host" | "none"))
                        })
                        .cloned();
                }
                Err(e) if image.is_none() => {
                    return Err(format!(
                        "docker: cannot tell which image to run: set SENSE_IMAGE \
                         (inspecting this container `{me}` failed: {e})"
                    ));
                }
                Err(e) => tracing::debug!(error = %e, "cannot inspect our own container"),
            }
        }
        let image = image.ok_or_else(|| {
            "docker: cannot tell which image to run: set SENSE_IMAGE (this is not a container, \
             or HOSTNAME is not its id)"
                .to_owned()
        })?;
        let network = network.unwrap_or_else(|| format!("{project}_default"));
        tracing::info!(api = %prefix, %image, %network, "talking to Docker");
        let setup = Arc::new(Setup {
            prefix,
            image,
            network,
        });
        self.remove_leftovers(&setup).await;
        *slot = Some(Arc::clone(&setup));
        Ok(setup)
    }

    /// Removes one-shot containers a previous orchestrator left behind (it crashed mid-run).
    async fn remove_leftovers(&self, setup: &Setup) {
        let filters = json!({"label": [
            format!("{LABEL_ORCHESTRATED}=true"),
            format!("com.docker.compose.project={}", self.options.project),
            "com.docker.compose.oneoff=True",
        ]});
        let path = format!(
            "{}/containers/json?all=1&filters={}",
            setup.prefix,
            encode(&filters.to_string())
        );
        let Ok(response) = self
            .send(&self.client, self.request(Method::GET, &path))
            .await
        else {
            return;
        };
        let containers: Vec<Json> = response.json().unwrap_or_default();
        for c in containers {
            if let Some(id) = c["Id"].as_str() {
                tracing::info!(container = id, "removing a container left over from before");
                let _ = self.remove(setup, id).await;
            }
        }
    }

    async fn create(&self, setup: &Setup, spec: &ContainerSpec) -> Result<String, String> {
        let path = format!(
            "{}/containers/create?name={}",
            setup.prefix,
            encode(&spec.name)
        );
        let body = spec.to_json();
        let request = || self.request(Method::POST, &path).json(&body);
        let response = match self.send(&self.client, request()).await {
            Err(e) if e.contains("is already in use") || e.contains("Conflict") => {
                // A long-running container of ours from before: replace it.
                tracing::info!(name = %spec.name, "replacing an old container of the same name");
                self.remove(setup, &spec.name).await?;
                self.send(&self.client, request()).await?
            }
            other => other?,
        };
        let created: Json = response.json().map_err(|e| format!("docker: {e}"))?;
        for warning in created["Warnings"].as_array().into_iter().flatten() {
            tracing::warn!(name = %spec.name, "docker: {}", warning.as_str().unwrap_or(""));
        }
        created["Id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("docker: create answered without an Id: {created}"))
    }

    async fn post(&self, setup: &Setup, id: &str, action: &str) -> Result<(), String> {
        let path = format!("{}/containers/{}/{action}", setup.prefix, encode(id));
        self.send(&self.client, self.request(Method::POST, &path))
            .await
            .map(drop)
    }

    /// Waits for the container to stop: its exit code.
    async fn wait(&self, setup: &Setup, id: &str) -> Result<i32, String> {
        let path = format!("{}/containers/{}/wait", setup.prefix, encode(id));
        let answer: Json = self
            .send(&self.waiter, self.request(Method::POST, &path))
            .await?
            .json()
            .map_err(|e| format!("docker: {e}"))?;
        if let Some(message) = answer["Error"]["Message"]
            .as_str()
            .filter(|m| !m.is_empty())
        {
            return Err(format!("docker: {message}"));
        }
        answer["StatusCode"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .ok_or_else(|| format!("docker: wait answered without a StatusCode: {answer}"))
    }

    /// The last lines of the container's output (best effort).
    async fn logs(&self, setup: &Setup, id: &str) -> Vec<String> {
        let path = format!(
            "{}/containers/{}/logs?stdout=1&stderr=1&tail={LOG_TAIL_LINES}",
            setup.prefix,
            encode(id)
        );
        match self
            .send(&self.client, self.request(Method::GET, &path))
            .await
        {
            Ok(response) => {
                let tail = LogTail::default();
                for line in demultiplex(&response.body).lines() {
                    tail.push(line);
                }
                tail.lines()
            }
            Err(e) => {
                tracing::debug!(container = id, error = %e, "no logs");
                Vec::new()
            }
        }
    }

    async fn remove(&self, setup: &Setup, id: &str) -> Result<(), String> {
        let path = format!("{}/containers/{}?force=1", setup.prefix, encode(id));
        match self
            .send(&self.client, self.request(Method::DELETE, &path))
            .await
        {
            Ok(_) => Ok(()),
            // Already gone.
            Err(e) if e.contains("No such container") => Ok(()),
            Err(e) => {
                tracing::warn!(container = id, error = %e, "cannot remove the container");
                Err(e)
            }
        }
    }

    fn name(&self, job: Job) -> String {
        let base = format!("{}-{}", self.options.project, service_name(job.source));
        match job.mode {
            JobMode::Service => base,
            _ => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                let millis = std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_millis());
                format!("{base}-run-{millis:x}{n:x}")
            }
        }
    }

    /// Creates and starts the container of `job`: its id.
    async fn launch(&self, setup: &Setup, job: Job) -> Result<String, String> {
        let spec = ContainerSpec::for_job(
            job,
            &self.options.project,
            &setup.image,
            &setup.network,
            &self.options.env,
            self.name(job),
        );
        let id = self.create(setup, &spec).await?;
        if let Err(e) = self.post(setup, &id, "start").await {
            let _ = self.remove(setup, &id).await;
            return Err(e);
        }
        tracing::debug!(%job, container = %id, "started");
        Ok(id)
    }
}

/// The daemon's `{"message": …}`, as `docker: …`.
fn api_error(response: &Response) -> String {
    let message = response
        .json::<Json>()
        .ok()
        .and_then(|j| j["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            let text = response.text();
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {}", response.status)
            } else {
                text.to_owned()
            }
        });
    format!("docker: {message}")
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
        Ok(Box::pin(async move {
            let end = tokio::select! {
                code = this.wait(&setup, &id) => match code {
                    Ok(code) => RunEnd::Exited(code),
                    Err(e) => RunEnd::Failed(e),
                },
                () = stop.cancelled() => {
                    let path = format!("{}/containers/{}/stop?t={STOP_SECONDS}", setup.prefix, encode(&id));
                    let stopping = this.send(&this.waiter, this.request(Method::POST, &path));
                    let limit = Duration::from_secs(u64::from(STOP_SECONDS) + 5);
                    match tokio::time::timeout(limit, stopping).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(container = %id, error = %e, "stop failed"),
                        Err(_) => tracing::warn!(container = %id, "stop did not finish in time"),
                    }
                    RunEnd::Stopped
                }
            };
            let log_tail = this.logs(&setup, &id).await;
            let _ = this.remove(&setup, &id).await;
            RunOutcome { end, log_tail }
        }))
    }

    async fn clean_up(&self, source: SourceId) -> Result<(), LaunchError> {
        let this = &self.inner;
        let setup = this.setup().await.map_err(LaunchError)?;
        let name = this.name(Job::service(source));
        this.remove(&setup, &name).await.map_err(LaunchError)
    }

    async fn restart_other(&self, service: &str) -> Result<bool, LaunchError> {
        let this = &self.inner;
        let setup = this.setup().await.map_err(LaunchError)?;
        let filters = json!({"label": [
            format!("com.docker.compose.project={}", this.options.project),
            format!("com.docker.compose.service={service}"),
        ]});
        let path = format!(
            "{}/containers/json?all=1&filters={}",
            setup.prefix,
            encode(&filters.to_string())
        );
        let containers: Vec<Json> = this
            .send(&this.client, this.request(Method::GET, &path))
            .await
            .map_err(LaunchError)?
            .json()
            .map_err(|e| LaunchError(format!("docker: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_only_where_the_hardware_needs_it() {
        let spec =
            |job: Job| ContainerSpec::for_job(job, "sp", "img", "sp_default", &[], "n".into());
        assert_eq!(spec(Job::service(SourceId::Sensors)).user, "0");
        assert!(spec(Job::service(SourceId::Sensors)).privileged);
        assert_eq!(spec(Job::poll(SourceId::Co2)).user, "0");
        for id in [
            SourceId::System,
            SourceId::Weather,
            SourceId::Pihole,
            SourceId::Tailscale,
        ] {
            assert_eq!(spec(Job::poll(id)).user, SENSE_USER, "{id}");
        }
        let camera = spec(Job::service(SourceId::NetworkCamera));
        assert_eq!(camera.user, SENSE_USER);
        assert!(
            camera.memory > spec(Job::poll(SourceId::System)).memory,
            "room for FFmpeg"
        );
    }

    #[test]
    fn the_multiplexed_log_stream_is_taken_apart() {
        let mut bytes = Vec::new();
        for (stream, text) in [(1u8, "out line\n"), (2, "err line\npartial"), (1, " end\n")] {
            bytes.extend_from_slice(&[stream, 0, 0, 0]);
            bytes.extend_from_slice(&u32::try_from(text.len()).unwrap().to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        assert_eq!(demultiplex(&bytes), "out line\nerr line\npartial end\n");
        assert_eq!(demultiplex(b"plain tty output\n"), "plain tty output\n");
        // A header announcing more than was sent keeps what is there.
        assert_eq!(demultiplex(&[1, 0, 0, 0, 0, 0, 0, 99, b'h', b'i']), "hi");
    }

    #[test]
    fn versions_and_query_values() {
        assert_eq!(parse_version("1.41"), Some((1, 41)));
        assert_eq!(parse_version("1.50"), Some((1, 50)));
        assert_eq!(parse_version("x"), None);
        assert!((1, 50).min(API_VERSION) == API_VERSION);
        assert_eq!(
            encode(r#"{"a":["b=c"]}"#),
            "%7B%22a%22%3A%5B%22b%3Dc%22%5D%7D"
        );
    }

    #[test]
    fn each_source_gets_its_mounts_labels_and_network() {
        let env = vec![("REDIS_URL".to_owned(), "redis://redis:6379".to_owned())];
        let spec = ContainerSpec::for_job(
            Job::poll(SourceId::System),
            "sp",
            "sense-pulse:latest",
            "sp_default",
            &env,
            "n".into(),
        );
        let body = spec.to_json();
        assert_eq!(body["Image"], "sense-pulse:latest");
        assert_eq!(body["Cmd"], json!(["source", "system", "--once"]));
        assert_eq!(
            body["HostConfig"]["Binds"],
            json!(["/proc:/host/proc:ro", "/sys:/host/sys:ro"])
        );
        assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
        assert_eq!(
            body["Labels"]["com.docker.compose.service"],
            "source-system"
        );
        assert_eq!(body["Labels"]["com.docker.compose.oneoff"], "True");
        assert!(
            body["Env"]
                .as_array()
                .unwrap()
                .contains(&json!("REDIS_URL=redis://redis:6379"))
        );

        let camera = ContainerSpec::for_job(
            Job::service(SourceId::NetworkCamera),
            "sp",
            "img",
            "sp_default",
            &env,
            "n".into(),
        );
        assert_eq!(camera.binds, ["sp_hls:/hls"]);
        assert_eq!(camera.labels["com.docker.compose.oneoff"], "False");
        assert_eq!(camera.cmd, ["source", "network_camera"]);
        let co2 = ContainerSpec::for_job(
            Job::poll(SourceId::Co2),
            "sp",
            "img",
            "sp_default",
            &env,
            "n".into(),
        );
        assert_eq!(
            co2.binds,
            ["/run/dbus/system_bus_socket:/run/dbus/system_bus_socket:ro"]
        );
        assert!(!co2.privileged);
        assert_eq!(co2.labels["com.docker.compose.service"], "source-aranet4");
    }
}
