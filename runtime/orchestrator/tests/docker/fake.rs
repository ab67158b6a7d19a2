//! The fake Docker Engine API the launcher talks to, and the orchestrator around it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::CommandResponse;
use sense_bus::{Bus, SourceId};
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};
use sense_orchestrator::{
    CancellationToken, DockerOptions, LauncherChoice, OrchestratorOptions, run,
};
use serde_json::{Value as Json, json};
use tokio::time::Instant;

/// How the fake daemon answers.
#[derive(Clone, Debug)]
pub struct Engine {
    pub api: &'static str,
    pub inspect: Reply,
    pub create: Reply,
    pub wait: Reply,
    pub logs: Vec<u8>,
    /// `GET /containers/json` for the containers of a previous orchestrator.
    pub leftovers: Json,
    /// `GET /containers/json` for other compose services.
    pub services: Json,
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
pub fn frames(parts: &[(u8, &str)]) -> Vec<u8> {
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

pub struct Fixture {
    dir: PathBuf,
    engine: Arc<Mutex<Engine>>,
    pub server: Option<ReplayServer>,
}

impl Fixture {
    pub async fn new(name: &str, engine: Engine) -> Fixture {
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

    pub async fn start(&mut self) {
        let engine = Arc::clone(&self.engine);
        self.server = Some(
            ReplayServer::start_unix(self.socket(), move |r| answer(&engine.lock().unwrap(), r))
                .await,
        );
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    pub fn options(&self) -> DockerOptions {
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
            sim: false,
        }
    }

    /// `METHOD path` of every call so far.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path_only()))
            .collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server
            .as_ref()
            .map(ReplayServer::requests)
            .unwrap_or_default()
    }

    pub async fn wait_for_call(&self, call: &str, limit: Duration) {
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

pub fn orchestrator_options(docker: DockerOptions, scheduled: &[SourceId]) -> OrchestratorOptions {
    let mut o = OrchestratorOptions::new(LauncherChoice::Docker(docker));
    o.scheduled = scheduled.to_vec();
    o.health_interval = Duration::from_millis(500);
    o.run_timeout = Duration::from_secs(5);
    o.config_env = Some(Vec::new());
    o.camera_cleanup_delay = Duration::from_millis(100);
    o
}

pub struct Orchestrator {
    pub bus: Bus,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), sense_orchestrator::OrchestratorError>>,
}

impl Orchestrator {
    pub async fn start(options: OrchestratorOptions) -> Orchestrator {
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

    pub async fn json(&self, key: &str) -> Option<Json> {
        self.bus
            .get(key)
            .await
            .unwrap()
            .map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Waits until `key` holds JSON for which `check` holds.
    pub async fn wait_json(&self, key: &str, check: impl Fn(&Json) -> bool) -> Json {
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

    pub async fn command(&self, action: &str, params: Json) -> CommandResponse {
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

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("stops")
            .unwrap()
            .unwrap();
    }
}

/// The Engine's answer to a bind mount whose source the host does not have (Docker 20.10 to 28).
pub fn no_such_host_path(path: &str) -> Reply {
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

/// The image of the containers `launcher` created, in order.
pub fn created_images(fixture: &Fixture) -> Vec<String> {
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

/// A container of ours as `GET /containers/json` lists it.
pub fn listed(id: &str, source: SourceId, mode: &str, state: &str, image: &str) -> Json {
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
