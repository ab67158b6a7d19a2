//! The Docker launcher against a fake Docker Engine API on a unix socket: every call it makes, in
//! order, with the negotiated prefix and the container spec, and how each failure ends up in the
//! source's status.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::CommandResponse;
use sense_bus::{Bus, SourceId, unix_now};
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};
use sense_orchestrator::{
    CancellationToken, DockerLauncher, DockerOptions, HEALTH_KEY, Job, Launcher, LauncherChoice,
    OrchestratorOptions, RunEnd, run,
};
use serde_json::{Value as Json, json};
use tokio::time::Instant;

/// How the fake daemon answers.
#[derive(Clone, Debug)]
struct Engine {
    api: &'static str,
    inspect: Reply,
    create: Reply,
    wait: Reply,
    logs: Vec<u8>,
    /// `GET /containers/json` for the containers of a previous orchestrator.
    leftovers: Json,
    /// `GET /containers/json` for other compose services.
    services: Json,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            api: "1.41",
            inspect: Reply::ok(
                json!({
                    "Id": "orch-1",
                    "Config": {"Image": "sense-pulse:latest"},
                    "NetworkSettings": {"Networks": {"sp_default": {}}},
                })
                .to_string(),
            ),
            create: Reply::Json {
                status: 201,
                body: json!({"Id": "c1", "Warnings": []}).to_string(),
            },
            wait: Reply::ok(json!({"StatusCode": 0, "Error": null}).to_string()),
            logs: frames(&[(1, "starting\n"), (2, "done\n")]),
            leftovers: json!([]),
            services: json!([]),
        }
    }
}

/// Docker's multiplexed log stream.
fn frames(parts: &[(u8, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (stream, text) in parts {
        out.extend_from_slice(&[*stream, 0, 0, 0]);
        out.extend_from_slice(&u32::try_from(text.len()).unwrap().to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

fn answer(engine: &Engine, r: &RecordedRequest) -> Reply {
    let path = r.path_only();
    let verb = path.rsplit('/').next().unwrap_or("");
    match (r.method.as_str(), verb) {
        ("GET", "version") if path == "/version" => Reply::ok(
            json!({"ApiVersion": engine.api, "MinAPIVersion": "1.12", "Version": "fake"})
                .to_string(),
        ),
        ("GET", "json") if path.ends_with("/containers/orch-1/json") => engine.inspect.clone(),
        ("GET", "json") if path.ends_with("/containers/json") => {
            if r.path.contains("io.sense-pulse.orchestrated") {
                Reply::ok(engine.leftovers.to_string())
            } else {
                Reply::ok(engine.services.to_string())
            }
        }
        ("POST", "create") => engine.create.clone(),
        ("POST", "wait") => engine.wait.clone(),
        ("POST", "start" | "kill" | "stop" | "restart") => Reply::Status(204),
        ("GET", "logs") => Reply::WithHeaders {
            status: 200,
            headers: vec![(
                "content-type".into(),
                "application/vnd.docker.multiplexed-stream".into(),
            )],
            // Frame headers of short frames are valid UTF-8.
            body: String::from_utf8(engine.logs.clone()).unwrap(),
        },
        ("DELETE", _) => Reply::Status(204),
        _ => Reply::Json {
            status: 404,
            body: json!({"message": format!("page not found: {path}")}).to_string(),
        },
    }
}

struct Fixture {
    dir: PathBuf,
    engine: Arc<Mutex<Engine>>,
    server: Option<ReplayServer>,
}

impl Fixture {
    async fn new(name: &str, engine: Engine) -> Fixture {
        let dir = std::env::temp_dir().join(format!("sense-docker-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = Fixture {
            dir,
            engine: Arc::new(Mutex::new(engine)),
            server: None,
        };
        f.start().await;
        f
    }

    async fn start(&mut self) {
        let engine = Arc::clone(&self.engine);
        self.server = Some(
            ReplayServer::start_unix(self.socket(), move |r| answer(&engine.lock().unwrap(), r))
                .await,
        );
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    fn options(&self) -> DockerOptions {
        DockerOptions {
            socket: self.socket(),
            project: "sp".into(),
            image: None,
            camera_image: None,
            self_container: Some("orch-1".into()),
            env: vec![
                ("REDIS_URL".into(), "redis://redis:6379".into()),
                ("WEATHER_LOCATION".into(), "London".into()),
            ],
        }
    }

    /// `METHOD path` of every call so far.
    fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path_only()))
            .collect()
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.server
            .as_ref()
            .map(ReplayServer::requests)
            .unwrap_or_default()
    }

    async fn wait_for_call(&self, call: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.calls().iter().any(|c| c == call) {
            assert!(
                Instant::now() < deadline,
                "no `{call}` within {limit:?}; calls: {:#?}",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server = None;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn orchestrator_options(docker: DockerOptions, scheduled: &[SourceId]) -> OrchestratorOptions {
    let mut o = OrchestratorOptions::new(LauncherChoice::Docker(docker));
    o.scheduled = scheduled.to_vec();
    o.health_interval = Duration::from_millis(500);
    o.run_timeout = Duration::from_secs(5);
    o.config_env = Some(Vec::new());
    o.camera_cleanup_delay = Duration::from_millis(100);
    o
}

struct Orchestrator {
    bus: Bus,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), sense_orchestrator::OrchestratorError>>,
}

impl Orchestrator {
    async fn start(options: OrchestratorOptions) -> Orchestrator {
        let bus = Bus::memory();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(bus.clone(), options, shutdown.clone()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while bus.publish("cmd:orchestrator", "{}").await.unwrap() == 0 {
            assert!(Instant::now() < deadline, "did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Orchestrator {
            bus,
            shutdown,
            task,
        }
    }

    async fn json(&self, key: &str) -> Option<Json> {
        self.bus
            .get(key)
            .await
            .unwrap()
            .map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Waits until `key` holds JSON for which `check` holds.
    async fn wait_json(&self, key: &str, check: impl Fn(&Json) -> bool) -> Json {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = self.json(key).await
                && check(&v)
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{key} never matched: {:?}",
                self.json(key).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn command(&self, action: &str, params: Json) -> CommandResponse {
        let client = CommandClient::new(self.bus.clone()).await.unwrap();
        client
            .send(
                "orchestrator",
                action,
                params.as_object().cloned().unwrap_or_default(),
                Duration::from_secs(20),
            )
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("stops")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn a_poll_is_a_container_created_started_waited_read_and_removed() {
    let fixture = Fixture::new("poll", Engine::default()).await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(5))
        .await;
    assert_eq!(
        fixture.calls(),
        [
            "GET /version",
            "GET /v1.41/containers/orch-1/json",
            "GET /v1.41/containers/json",
            "POST /v1.41/containers/create",
            "POST /v1.41/containers/c1/start",
            "POST /v1.41/containers/c1/wait",
            "GET /v1.41/containers/c1/logs",
            "DELETE /v1.41/containers/c1",
        ]
    );
    let requests = fixture.requests();
    let create = &requests[3];
    assert!(
        create
            .path
            .starts_with("/v1.41/containers/create?name=sp-source-system-run-"),
        "{}",
        create.path
    );
    assert_eq!(create.header("content-type"), Some("application/json"));
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["Image"], "sense-pulse:latest",
        "the orchestrator's own image"
    );
    assert_eq!(body["Entrypoint"], json!(["sense-pulse"]));
    assert_eq!(body["Cmd"], json!(["source", "system", "--once"]));
    let env: Vec<&str> = body["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for var in [
        "REDIS_URL=redis://redis:6379",
        "WEATHER_LOCATION=London",
        "HOST_PROC=/host/proc",
        "HOST_SYS=/host/sys",
    ] {
        assert!(env.contains(&var), "{var} in {env:?}");
    }
    // Host paths as bind mounts: the Engine refuses a missing one instead of creating it.
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([
            {"Type": "bind", "Source": "/proc", "Target": "/host/proc", "ReadOnly": true},
            {"Type": "bind", "Source": "/sys", "Target": "/host/sys", "ReadOnly": true},
        ])
    );
    assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
    assert_eq!(body["HostConfig"]["Privileged"], false);
    // Hardened as the compose services are.
    assert_eq!(body["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(body["HostConfig"]["CapDrop"], json!(["ALL"]));
    assert_eq!(
        body["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges:true"])
    );
    // Not root, bounded, and quiet on the SD card.
    assert_eq!(body["User"], "10001:10001");
    assert_eq!(body["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(body["HostConfig"]["LogConfig"]["Config"]["max-size"], "2m");
    let labels = &body["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "sp");
    assert_eq!(labels["com.docker.compose.service"], "source-system");
    assert_eq!(labels["com.docker.compose.oneoff"], "True");
    assert_eq!(labels["io.sense-pulse.orchestrated"], "true");
    assert_eq!(
        requests[6].path,
        "/v1.41/containers/c1/logs?stdout=1&stderr=1&tail=20"
    );
    assert_eq!(requests[7].path, "/v1.41/containers/c1?force=1");
    // The leftovers query looks for our one-shot containers of this project.
    assert!(
        requests[2].path.contains("filters="),
        "{}",
        requests[2].path
    );

    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["system"]["last_run"]["outcome"] == "ok"
        })
        .await;
    assert_eq!(health["launcher"], "docker");
    assert_eq!(health["sources"]["system"]["last_run"]["exit_code"], 0);
    orchestrator.stop().await;
}

#[tokio::test]
async fn the_api_version_is_negotiated() {
    let newer = Fixture::new(
        "newer",
        Engine {
            api: "1.50",
            ..Engine::default()
        },
    )
    .await;
    let launcher = DockerLauncher::new(newer.options());
    let outcome = launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    assert_eq!(outcome.log_tail, ["starting", "done"]);
    let calls = newer.calls();
    assert!(
        calls[1..].iter().all(|c| c.contains(" /v1.44/")),
        "{calls:?}"
    );
    // Negotiated once.
    launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        newer
            .calls()
            .iter()
            .filter(|c| *c == "GET /version")
            .count(),
        1
    );

    let older = Fixture::new(
        "older",
        Engine {
            api: "1.30",
            ..Engine::default()
        },
    )
    .await;
    let outcome = DockerLauncher::new(older.options())
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    let error = outcome.error().unwrap();
    assert!(
        error.contains("API 1.30") && error.contains("1.41"),
        "{error}"
    );
}

#[tokio::test]
async fn the_image_comes_from_sense_image_or_the_error_says_to_set_it() {
    let no_inspect = Engine {
        inspect: Reply::Json {
            status: 404,
            body: json!({"message": "No such container: orch-1"}).to_string(),
        },
        ..Engine::default()
    };
    let fixture = Fixture::new("image", no_inspect).await;
    let outcome = DockerLauncher::new(fixture.options())
        .run_once(
            Job::poll(SourceId::Pihole),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        outcome.error().as_deref(),
        Some(
            "docker: cannot tell which image to run: set SENSE_IMAGE (inspecting this container \
             `orch-1` failed: docker: No such container: orch-1)"
        )
    );
    let mut options = fixture.options();
    options.image = Some("ghcr.io/sense-pulse/sense-pulse:1.0".into());
    let outcome = DockerLauncher::new(options)
        .run_once(
            Job::poll(SourceId::Pihole),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Image"], "ghcr.io/sense-pulse/sense-pulse:1.0");
    // Without our own container's networks, the compose default network.
    assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
}

/// The image of the containers `launcher` created, in order.
fn created_images(fixture: &Fixture) -> Vec<String> {
    fixture
        .requests()
        .into_iter()
        .filter(|r| r.path_only().ends_with("/create"))
        .map(|r| {
            let body: Json = serde_json::from_slice(&r.body).unwrap();
            body["Image"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_camera_runs_its_own_image() {
    let fixture = Fixture::new("camera-image", Engine::default()).await;
    let discover = Job {
        source: SourceId::NetworkCamera,
        mode: sense_orchestrator::JobMode::Discover,
    };
    let mut options = fixture.options();
    options.image = Some("ghcr.io/x/sense-pulse:1.0".into());
    let launcher = DockerLauncher::new(options.clone());
    for job in [Job::poll(SourceId::Weather), discover] {
        let outcome = launcher
            .run_once(job, Duration::from_secs(5), CancellationToken::new())
            .await;
        assert_eq!(outcome.end, RunEnd::Exited(0), "{job}");
    }
    assert_eq!(
        created_images(&fixture),
        [
            "ghcr.io/x/sense-pulse:1.0",
            "ghcr.io/x/sense-pulse-camera:1.0"
        ]
    );

    // SENSE_CAMERA_IMAGE wins.
    options.camera_image = Some("registry.lan/camera:7".into());
    let outcome = DockerLauncher::new(options)
        .run_once(discover, Duration::from_secs(5), CancellationToken::new())
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    assert_eq!(created_images(&fixture)[2], "registry.lan/camera:7");
}

#[tokio::test]
async fn an_image_given_by_id_needs_sense_camera_image_for_the_camera() {
    let by_id = format!("sha256:{}", "0a".repeat(32));
    let fixture = Fixture::new(
        "camera-id",
        Engine {
            inspect: Reply::ok(
                json!({
                    "Id": "orch-1",
                    "Config": {"Image": by_id},
                    "NetworkSettings": {"Networks": {"sp_default": {}}},
                })
                .to_string(),
            ),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator.command("start_camera", json!({})).await;
    let error = answer.error.clone().unwrap_or_default();
    assert!(!answer.is_ok(), "{answer:?}");
    assert!(
        error.contains("SENSE_CAMERA_IMAGE") && error.contains(&by_id),
        "{error}"
    );
    let status = orchestrator
        .wait_json("status:network_camera", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(status["last_error"], error.as_str());
    assert!(created_images(&fixture).is_empty(), "nothing created");
    // The other sources run that image.
    let answer = orchestrator
        .command("trigger", json!({"service": "weather", "wait": true}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(created_images(&fixture), [by_id.as_str()]);
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_missing_image_is_named_in_the_status() {
    let fixture = Fixture::new(
        "noimage",
        Engine {
            create: Reply::Json {
                status: 404,
                body: json!({"message": "No such image: sense-pulse:latest"}).to_string(),
            },
            ..Engine::default()
        },
    )
    .await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    let status = orchestrator
        .wait_json("status:system", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "docker: No such image: sense-pulse:latest"
    );
    assert_eq!(status["error_count"], 1);
    assert!(!fixture.calls().iter().any(|c| c.ends_with("/start")));
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            !h["sources"]["system"]["last_run"].is_null()
        })
        .await;
    assert_eq!(
        health["sources"]["system"]["last_run"]["outcome"],
        "launch_failed"
    );
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_daemon_that_is_down_is_named_and_the_orchestrator_carries_on() {
    let mut fixture = Fixture::new("down", Engine::default()).await;
    fixture.server = None; // the socket is gone
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    let status = orchestrator
        .wait_json("status:system", |s| !s["last_error"].is_null())
        .await;
    let error = status["last_error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "docker: cannot reach the Docker daemon at {}:",
            fixture.socket().display()
        )),
        "{error}"
    );
    // The daemon comes back: the next run works.
    fixture.start().await;
    let answer = orchestrator
        .command("trigger", json!({"service": "source-system", "wait": true}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["exit_code"], 0);
    orchestrator.stop().await;
}

/// The Engine's answer to a bind mount whose source the host does not have (Docker 20.10 to 28).
fn no_such_host_path(path: &str) -> Reply {
    Reply::Json {
        status: 400,
        body: json!({
            "message": format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {path}"
            )
        })
        .to_string(),
    }
}

#[tokio::test]
async fn a_host_path_the_host_lacks_is_named_in_the_status_with_what_to_check() {
    let fixture = Fixture::new(
        "nodbus",
        Engine {
            create: no_such_host_path("/run/dbus/system_bus_socket"),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::Co2])).await;
    let status = orchestrator
        .wait_json("status:co2", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "the host has no /run/dbus/system_bus_socket: is D-Bus (and bluetoothd) running on the \
         host? (docker: invalid mount config for type \"bind\": bind source path does not exist: \
         /run/dbus/system_bus_socket)"
    );
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([{
            "Type": "bind",
            "Source": "/run/dbus/system_bus_socket",
            "Target": "/run/dbus/system_bus_socket",
            "ReadOnly": true,
        }])
    );
    assert!(!fixture.calls().iter().any(|c| c.ends_with("/start")));
    orchestrator.stop().await;

    let fixture = Fixture::new(
        "notailscale",
        Engine {
            create: no_such_host_path("/var/run/tailscale"),
            ..Engine::default()
        },
    )
    .await;
    let outcome = DockerLauncher::new(fixture.options())
        .run_once(
            Job::poll(SourceId::Tailscale),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        outcome.error().as_deref(),
        Some(
            "the host has no /var/run/tailscale: is tailscaled running? (docker: invalid mount \
             config for type \"bind\": bind source path does not exist: /var/run/tailscale)"
        )
    );
}

#[tokio::test]
async fn a_failing_container_reports_its_exit_code_and_log_tail() {
    let fixture = Fixture::new(
        "exit1",
        Engine {
            wait: Reply::ok(json!({"StatusCode": 3}).to_string()),
            logs: frames(&[
                (2, "2025-01-01T00:00:00.000000Z  INFO starting\n"),
                (
                    2,
                    "2025-01-01T00:00:01.000000Z ERROR Redis at redis://redis:6379 is unreachable\n",
                ),
            ]),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(
        fixture.options(),
        &[SourceId::Tailscale],
    ))
    .await;
    let status = orchestrator
        .wait_json("status:tailscale", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "exited with code 3: ERROR Redis at redis://redis:6379 is unreachable"
    );
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            !h["sources"]["tailscale"]["last_run"].is_null()
        })
        .await;
    let run = &health["sources"]["tailscale"]["last_run"];
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["log_tail"].as_array().unwrap().len(), 2);
    // The container is removed all the same.
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(2))
        .await;
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_hung_container_is_killed_at_the_timeout() {
    let fixture = Fixture::new(
        "hung",
        Engine {
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 137}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    let mut options = orchestrator_options(fixture.options(), &[SourceId::Weather]);
    options.run_timeout = Duration::from_secs(1);
    let orchestrator = Orchestrator::start(options).await;
    let status = orchestrator
        .wait_json("status:weather", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(status["last_error"], "run killed after 1 s (timeout)");
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(2))
        .await;
    let calls = fixture.calls();
    let kill = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/c1/kill");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/c1");
    assert!(kill.is_some() && kill < delete, "{calls:?}");
    orchestrator.stop().await;
}

#[tokio::test]
async fn the_camera_runs_on_demand_and_is_removed_after_stream_ended() {
    let fixture = Fixture::new(
        "camera",
        Engine {
            // A camera runs until stopped.
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 0}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator.command("start_camera", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    assert_eq!(
        create.path,
        "/v1.41/containers/create?name=sp-source-camera"
    );
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Cmd"], json!(["source", "network_camera"]));
    // The camera's own image (FFmpeg), named after the orchestrator's.
    assert_eq!(body["Image"], "sense-pulse-camera:latest");
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([{"Type": "volume", "Source": "sp_hls", "Target": "/hls", "ReadOnly": false}])
    );
    assert_eq!(
        body["Labels"]["com.docker.compose.service"],
        "source-camera"
    );
    // FFmpeg writes only to /hls: the root file system stays read-only.
    assert_eq!(body["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(body["HostConfig"]["CapDrop"], json!(["ALL"]));
    assert_eq!(
        body["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges:true"])
    );
    assert_eq!(body["Labels"]["com.docker.compose.oneoff"], "False");
    assert!(
        body["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("HLS_OUTPUT_DIR=/hls"))
    );
    orchestrator
        .bus
        .publish(
            "stream:ended",
            &json!({"source_id": "network_camera", "reason": "user_stopped", "timestamp": unix_now()})
                .to_string(),
        )
        .await
        .unwrap();
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    let stop = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only() == "/v1.41/containers/c1/stop")
        .expect("stopped");
    assert_eq!(stop.path, "/v1.41/containers/c1/stop?t=10");
    assert!(calls.contains(&"GET /v1.41/containers/c1/logs".to_owned()));
    let status = orchestrator
        .wait_json("status:network_camera", |s| !s["stream_ended"].is_null())
        .await;
    assert_eq!(status["stream_ended"]["reason"], "user_stopped");
    assert_eq!(status["last_error"], Json::Null);
    orchestrator.stop().await;
}

#[tokio::test]
async fn leftovers_are_removed_and_compose_services_can_be_restarted() {
    let fixture = Fixture::new(
        "leftovers",
        Engine {
            leftovers: json!([{"Id": "old1"}]),
            services: json!([{"Id": "gw1"}]),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator
        .command("restart_service", json!({"service": "web-gateway"}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    let calls = fixture.calls();
    assert!(
        calls.contains(&"DELETE /v1.41/containers/old1".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"POST /v1.41/containers/gw1/restart".to_owned()),
        "{calls:?}"
    );
    let lookup = fixture
        .requests()
        .into_iter()
        .rfind(|r| r.path_only() == "/v1.41/containers/json")
        .unwrap();
    assert!(lookup.path.contains("web-gateway"), "{}", lookup.path);
    orchestrator.stop().await;
}

/// A container of ours as `GET /containers/json` lists it.
fn listed(id: &str, source: SourceId, mode: &str, state: &str, image: &str) -> Json {
    let service = sense_orchestrator::docker::service_name(source);
    json!({
        "Id": id,
        "Names": [format!("/sp-{service}")],
        "Image": image,
        "State": state,
        "Labels": {
            "com.docker.compose.project": "sp",
            "com.docker.compose.service": service,
            "com.docker.compose.oneoff": if mode == "service" { "False" } else { "True" },
            "io.sense-pulse.orchestrated": "true",
            "io.sense-pulse.source": source.as_str(),
            "io.sense-pulse.mode": mode,
        },
    })
}

#[tokio::test]
async fn at_start_a_streaming_camera_is_adopted_and_the_rest_cleared() {
    let fixture = Fixture::new(
        "adopt",
        Engine {
            leftovers: json!([
                listed(
                    "poll0",
                    SourceId::System,
                    "poll",
                    "exited",
                    "sense-pulse:latest"
                ),
                listed(
                    "cam0",
                    SourceId::NetworkCamera,
                    "service",
                    "running",
                    "sense-pulse-camera:latest"
                ),
                listed(
                    "hat0",
                    SourceId::Sensors,
                    "service",
                    "running",
                    "sense-pulse:latest"
                ),
                listed(
                    "hat1",
                    SourceId::Sensors,
                    "service",
                    "exited",
                    "sense-pulse:latest"
                ),
            ]),
            // The camera streams until stopped.
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 0}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    // Nothing scheduled, no command: what happens is the start's doing.
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["network_camera"]["stream"]["running"] == true
        })
        .await;
    let stream = &health["sources"]["network_camera"]["stream"];
    assert_eq!(stream["adopted"], true);
    assert_eq!(stream["starts"], 0, "adopted, not started");
    fixture
        .wait_for_call("DELETE /v1.41/containers/hat1", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    // The one-shot run is removed; the Sense HAT service is stopped, then removed.
    assert!(
        calls.contains(&"DELETE /v1.41/containers/poll0".to_owned()),
        "{calls:?}"
    );
    let stop = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/hat0/stop");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/hat0");
    assert!(stop.is_some() && stop < delete, "{calls:?}");
    assert!(
        !calls.contains(&"POST /v1.41/containers/hat1/stop".to_owned()),
        "{calls:?}"
    );
    // The camera is followed, not touched.
    fixture
        .wait_for_call("POST /v1.41/containers/cam0/wait", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("cam0") && !c.ends_with("/wait")),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.ends_with("/create")), "{calls:?}");

    // stop_camera stops it (nothing listens on cmd:network_camera here: directly).
    let answer = orchestrator.command("stop_camera", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["running"], true);
    fixture
        .wait_for_call("DELETE /v1.41/containers/cam0", Duration::from_secs(5))
        .await;
    assert!(
        fixture
            .calls()
            .contains(&"POST /v1.41/containers/cam0/stop".to_owned())
    );
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["network_camera"]["stream"]["running"] == false
        })
        .await;
    let stream = &health["sources"]["network_camera"]["stream"];
    assert_eq!(stream["adopted"], false);
    assert_eq!(stream["last_run"]["outcome"], "stopped");
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_camera_left_running_from_another_image_is_replaced() {
    let fixture = Fixture::new(
        "adopt-old",
        Engine {
            // After `docker compose build` the old container's image shows as its id.
            leftovers: json!([listed(
                "cam0",
                SourceId::NetworkCamera,
                "service",
                "running",
                "sha256:0123"
            )]),
            ..Engine::default()
        },
    )
    .await;
    let launcher = DockerLauncher::new(fixture.options());
    let adopted = launcher
        .recover(vec![(SourceId::NetworkCamera, CancellationToken::new())])
        .await;
    assert!(adopted.is_empty());
    let calls = fixture.calls();
    let stop = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/cam0/stop");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/cam0");
    assert!(stop.is_some() && stop < delete, "{calls:?}");
    // Once: the first job does not look again.
    let outcome = launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    let lists = fixture
        .calls()
        .iter()
        .filter(|c| *c == "GET /v1.41/containers/json")
        .count();
    assert_eq!(lists, 1);
}
