//! The orchestrator run in the test process with the process launcher: its children are real
//! `sense-pulse source … --once --sim` processes on a real redis-server.

use std::path::PathBuf;
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::CommandResponse;
use sense_bus::{Bus, ConnectOptions};
use sense_orchestrator::{
    CancellationToken, HEALTH_KEY, LauncherChoice, OrchestratorError, OrchestratorOptions, run,
};
use sense_testkit::RedisServer;
use serde_json::Value as Json;
use tokio::time::Instant;

pub fn options(server: &RedisServer, binary: PathBuf) -> OrchestratorOptions {
    let mut o = OrchestratorOptions::new(LauncherChoice::Process {
        binary,
        extra_args: vec!["--sim".into()],
        env: vec![
            ("REDIS_URL".into(), server.url()),
            ("LOG_LEVEL".into(), "info".into()),
        ],
    });
    o.health_interval = Duration::from_secs(1);
    o.tick = Duration::from_millis(250);
    o.config_env = Some(Vec::new());
    // Runs still going when a test ends are killed after 1 s.
    o.shutdown_grace = Duration::from_secs(1);
    o
}

pub fn sense_pulse() -> PathBuf {
    env!("CARGO_BIN_EXE_sense-pulse").into()
}

pub struct Orchestrator {
    pub bus: Bus,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), OrchestratorError>>,
    pub started: Instant,
}

impl Orchestrator {
    pub async fn start(server: &RedisServer, options: OrchestratorOptions) -> Orchestrator {
        let bus = Bus::connect(
            &server.url(),
            ConnectOptions::FailAfter(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let task = tokio::spawn(run(bus.clone(), options, shutdown.clone()));
        Orchestrator {
            bus,
            shutdown,
            task,
            started,
        }
    }

    pub async fn json(&self, key: &str) -> Option<Json> {
        self.bus
            .get(key)
            .await
            .unwrap()
            .map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Waits up to `limit` until `key` holds JSON for which `check` holds.
    pub async fn wait_json(
        &self,
        key: &str,
        limit: Duration,
        check: impl Fn(&Json) -> bool,
    ) -> Json {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = self.json(key).await
                && check(&v)
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{key} did not match within {limit:?}: {:#?}",
                self.json(key).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn command(&self, action: &str, params: Json) -> CommandResponse {
        // The command listener is up once the first health write is there.
        self.wait_json(HEALTH_KEY, Duration::from_secs(5), |_| true)
            .await;
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
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the orchestrator stops")
            .unwrap()
            .unwrap();
    }
}

pub fn set(server: &RedisServer, key: &str, value: Json) {
    assert_eq!(
        server.command(&["SET", key, &value.to_string()]).as_deref(),
        Some("+OK")
    );
}
