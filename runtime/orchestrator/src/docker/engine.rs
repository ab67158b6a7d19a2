//! The Engine API calls, by hand over `sense-http` on the daemon's unix socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sense_bus::SourceId;
use sense_http::{HttpClient, HttpError, HttpOptions, Method, Request, Response};
use serde_json::{Value as Json, json};

use super::spec::{ContainerSpec, camera_image_of};
use super::{
    API_VERSION, DockerOptions, LABEL_ORCHESTRATED, MIN_API_VERSION, STOP_SECONDS, service_name,
};
use crate::launcher::{Job, JobMode, LOG_TAIL_LINES, LogTail};

/// The Host header sent over the socket (the daemon ignores it).
const HOST: &str = "docker";

/// What is learnt once from the daemon.
#[derive(Clone, Debug)]
pub(super) struct Setup {
    /// `/v1.41`.
    pub(super) prefix: String,
    /// The core image: every source but the camera.
    pub(super) image: String,
    /// The camera's image, or why there is none.
    pub(super) camera_image: Result<String, String>,
    pub(super) network: String,
    /// The compose project: our own container's `com.docker.compose.project` label, which is what
    /// compose named the network and the `hls` volume after, else `COMPOSE_PROJECT_NAME`.
    pub(super) project: String,
}

impl Setup {
    /// The image `source` runs.
    pub(super) fn image_of(&self, source: SourceId) -> Result<&str, String> {
        match source {
            SourceId::NetworkCamera => self.camera_image.as_deref().map_err(Clone::clone),
            _ => Ok(&self.image),
        }
    }
}

/// The launcher's state, shared by its clones.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) options: DockerOptions,
    pub(super) client: HttpClient,
    /// For `wait`, which lasts as long as the container.
    pub(super) waiter: HttpClient,
    setup: tokio::sync::Mutex<Option<Arc<Setup>>>,
    counter: AtomicU64,
}

/// Parses `1.41`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Percent-encodes a query value.
pub(super) fn encode(text: &str) -> String {
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

impl Inner {
    pub(super) fn new(options: DockerOptions) -> Inner {
        let waiter = HttpClient::new(HttpOptions {
            request_timeout: Duration::from_secs(7 * 24 * 3600),
            ..HttpOptions::default()
        });
        Inner {
            options,
            client: HttpClient::default(),
            waiter,
            setup: tokio::sync::Mutex::new(None),
            counter: AtomicU64::new(0),
        }
    }

    pub(super) fn request(&self, method: Method, path: &str) -> Request {
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

    pub(super) async fn send(
        &self,
        client: &HttpClient,
        request: Request,
    ) -> Result<Response, String> {
        let response = client.send(request).await.map_err(|e| self.transport(e))?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(api_error(&response))
        }
    }

    /// Negotiates the API version and finds the image and network, once; the first time, also
    /// clears what a previous orchestrator left (see [`Inner::setup_and_recover`]).
    pub(super) async fn setup(&self) -> Result<Arc<Setup>, String> {
        self.setup_and_recover(&[]).await.map(|(setup, _)| setup)
    }

    /// [`Inner::setup`]; the first time it succeeds (at the orchestrator's start, or at the first
    /// job when the daemon was away then) it also clears the containers a previous orchestrator
    /// left ([`Inner::clear_leftovers`]), keeping the running services of `keep`: their ids.
    /// Done while the setup is locked, so no job of ours starts meanwhile and is taken for one.
    pub(super) async fn setup_and_recover(
        &self,
        keep: &[SourceId],
    ) -> Result<(Arc<Setup>, Vec<(SourceId, String)>), String> {
        let mut slot = self.setup.lock().await;
        if let Some(setup) = slot.as_ref() {
            return Ok((Arc::clone(setup), Vec::new()));
        }
        let setup = Arc::new(self.negotiate().await?);
        let kept = self.clear_leftovers(&setup, keep).await;
        *slot = Some(Arc::clone(&setup));
        Ok((setup, kept))
    }

    /// Asks the daemon its API version and, of our own container, the image and network.
    async fn negotiate(&self) -> Result<Setup, String> {
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
        let mut project = self.options.project.clone();
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
                    if let Some(label) = inspect["Config"]["Labels"]["com.docker.compose.project"]
                        .as_str()
                        .filter(|l| !l.is_empty() && *l != project)
                    {
                        tracing::warn!(
                            configured = %project,
                            compose = label,
                            "COMPOSE_PROJECT_NAME differs from the project compose runs this \
                             container in; using compose's"
                        );
                        project = label.to_owned();
                    }
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
        let camera_image = match &self.options.camera_image {
            Some(camera) => Ok(camera.clone()),
            None => camera_image_of(&image).ok_or_else(|| {
                format!(
                    "docker: cannot tell which image runs the camera: the image `{image}` is \
                     given by id or digest, so no `-camera` name follows from it; set \
                     SENSE_CAMERA_IMAGE"
                )
            }),
        };
        tracing::info!(
            api = %prefix,
            %image,
            camera_image = camera_image.as_deref().unwrap_or("(none: set SENSE_CAMERA_IMAGE)"),
            %network,
            "talking to Docker"
        );
        Ok(Setup {
            prefix,
            image,
            camera_image,
            network,
            project,
        })
    }

    /// The containers (all, running or not) with every label of `labels`.
    pub(super) async fn list(&self, setup: &Setup, labels: &[String]) -> Result<Vec<Json>, String> {
        let filters = json!({ "label": labels });
        let path = format!(
            "{}/containers/json?all=1&filters={}",
            setup.prefix,
            encode(&filters.to_string())
        );
        self.send(&self.client, self.request(Method::GET, &path))
            .await?
            .json()
            .map_err(|e| format!("docker: {e}"))
    }

    /// Clears the containers of this project a previous orchestrator left (it was killed, or
    /// crashed mid-run): one-shot runs are removed; long-running services are stopped and
    /// removed, but for one running container of each source of `keep` that runs the image this
    /// orchestrator would run it from (an older image is replaced): those are kept, and
    /// returned with their ids for the launcher to adopt.
    async fn clear_leftovers(&self, setup: &Setup, keep: &[SourceId]) -> Vec<(SourceId, String)> {
        let ours = [
            format!("{LABEL_ORCHESTRATED}=true"),
            format!("com.docker.compose.project={}", setup.project),
        ];
        let containers = match self.list(setup, &ours).await {
            Ok(containers) => containers,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for containers left by a previous orchestrator");
                return Vec::new();
            }
        };
        let mut kept: Vec<(SourceId, String)> = Vec::new();
        for c in containers {
            let Some(id) = c["Id"].as_str() else { continue };
            let labels = &c["Labels"];
            let service = match labels["io.sense-pulse.mode"].as_str() {
                Some(mode) => mode == JobMode::Service.as_str(),
                None => labels["com.docker.compose.oneoff"] == "False",
            };
            let source_label = labels["io.sense-pulse.source"].as_str().unwrap_or("?");
            if !service {
                tracing::info!(
                    container = id,
                    source = source_label,
                    "removing a one-shot container left by a previous orchestrator"
                );
                let _ = self.remove(setup, id).await;
                continue;
            }
            let running = c["State"] == "running";
            let source = source_label.parse::<SourceId>().ok();
            if let Some(source) = source.filter(|s| running && keep.contains(s))
                && !kept.iter().any(|(k, _)| *k == source)
            {
                match setup.image_of(source) {
                    Ok(image) if c["Image"] == image => {
                        tracing::info!(container = id, %source, "adopting a service container left running by a previous orchestrator");
                        kept.push((source, id.to_owned()));
                        continue;
                    }
                    Ok(image) => tracing::info!(
                        container = id, %source, was = %c["Image"], now = image,
                        "a service container left running by a previous orchestrator runs another image: replacing it"
                    ),
                    Err(e) => tracing::info!(container = id, %source, error = %e, "cannot adopt"),
                }
            }
            if running {
                tracing::info!(
                    container = id,
                    source = source_label,
                    "stopping a service container left running by a previous orchestrator"
                );
                self.stop(setup, id).await;
            } else {
                tracing::info!(
                    container = id,
                    source = source_label,
                    "removing a stopped service container left by a previous orchestrator"
                );
            }
            let _ = self.remove(setup, id).await;
        }
        kept
    }

    /// `docker stop`: SIGTERM, SIGKILL after [`STOP_SECONDS`] (best effort).
    pub(super) async fn stop(&self, setup: &Setup, id: &str) {
        let path = format!(
            "{}/containers/{}/stop?t={STOP_SECONDS}",
            setup.prefix,
            encode(id)
        );
        let stopping = self.send(&self.waiter, self.request(Method::POST, &path));
        let limit = Duration::from_secs(u64::from(STOP_SECONDS) + 5);
        match tokio::time::timeout(limit, stopping).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(container = %id, error = %e, "stop failed"),
            Err(_) => tracing::warn!(container = %id, "stop did not finish in time"),
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

    pub(super) async fn post(&self, setup: &Setup, id: &str, action: &str) -> Result<(), String> {
        let path = format!("{}/containers/{}/{action}", setup.prefix, encode(id));
        self.send(&self.client, self.request(Method::POST, &path))
            .await
            .map(drop)
    }

    /// Waits for the container to stop: its exit code.
    pub(super) async fn wait(&self, setup: &Setup, id: &str) -> Result<i32, String> {
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
    pub(super) async fn logs(&self, setup: &Setup, id: &str) -> Vec<String> {
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

    pub(super) async fn remove(&self, setup: &Setup, id: &str) -> Result<(), String> {
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

    pub(super) fn name(&self, setup: &Setup, job: Job) -> String {
        let base = format!("{}-{}", setup.project, service_name(job.source));
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
    pub(super) async fn launch(&self, setup: &Setup, job: Job) -> Result<String, String> {
        let spec = ContainerSpec::for_job(
            job,
            &setup.project,
            setup.image_of(job.source)?,
            &setup.network,
            &self.options.env,
            self.name(setup, job),
        );
        let spec = if self.options.sim {
            spec.simulated()
        } else {
            spec
        };
        let id = self
            .create(setup, &spec)
            .await
            .map_err(|e| spec.explain(e))?;
        if let Err(e) = self.post(setup, &id, "start").await {
            let _ = self.remove(setup, &id).await;
            return Err(spec.explain(e));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
