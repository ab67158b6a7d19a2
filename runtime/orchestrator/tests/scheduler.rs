//! The orchestrator's logic with a scripted launcher, on the in-memory bus, in paused time: the
//! schedule, exclusivity, failure bookkeeping, commands, the camera, resident sources, shutdown.
//! (The real launchers are tested in `docker.rs` and, with the real binary, in the CLI's tests.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::{CommandResponse, PollOutcome, Status};
use sense_bus::{Bus, Scope, SectionName, SourceId, Topic, unix_now};
use sense_orchestrator::{
    CancellationToken, HEALTH_KEY, Job, JobMode, LaunchError, Launcher, LauncherChoice,
    OrchestratorOptions, RunEnd, RunOutcome, ServiceRun, run_with_launcher,
};
use serde_json::{Map, Value as Json, json};
use tokio::time::Instant;

/// What a scripted run does.
#[derive(Clone, Debug)]
struct Plan {
    /// How long it runs.
    takes: Duration,
    /// Its exit code.
    code: i32,
    /// Whether it writes its own status (as `sense-pulse source` does when it gets to poll).
    writes_status: bool,
    /// Its output.
    log: Vec<String>,
    /// Exit 0 after writing a partial poll's status (a monitor not heard).
    partial: bool,
}

impl Plan {
    fn ok(takes_ms: u64) -> Plan {
        Plan {
            takes: Duration::from_millis(takes_ms),
            code: 0,
            writes_status: true,
            log: Vec::new(),
            partial: false,
        }
    }
}

type Script = Arc<dyn Fn(Job) -> Plan + Send + Sync>;

#[derive(Default)]
struct Record {
    launches: Vec<(Job, Instant)>,
    running: HashMap<SourceId, usize>,
    most_at_once: HashMap<SourceId, usize>,
}

#[derive(Clone)]
struct Fake {
    bus: Bus,
    script: Script,
    record: Arc<Mutex<Record>>,
}

impl Fake {
    fn new(bus: &Bus, script: impl Fn(Job) -> Plan + Send + Sync + 'static) -> Fake {
        Fake {
            bus: bus.clone(),
            script: Arc::new(script),
            record: Arc::default(),
        }
    }

    fn launches(&self, source: SourceId, mode: JobMode) -> usize {
        let r = self.record.lock().unwrap();
        r.launches
            .iter()
            .filter(|(j, _)| j.source == source && j.mode == mode)
            .count()
    }

    fn launch_times(&self, source: SourceId) -> Vec<Instant> {
        let r = self.record.lock().unwrap();
        r.launches
            .iter()
            .filter(|(j, _)| j.source == source && j.mode == JobMode::Poll)
            .map(|(_, t)| *t)
            .collect()
    }

    fn most_at_once(&self, source: SourceId) -> usize {
        *self
            .record
            .lock()
            .unwrap()
            .most_at_once
            .get(&source)
            .unwrap_or(&0)
    }

    fn enter(&self, job: Job) {
        let mut r = self.record.lock().unwrap();
        r.launches.push((job, Instant::now()));
        let n = r.running.entry(job.source).or_default();
        *n += 1;
        let n = *n;
        let most = r.most_at_once.entry(job.source).or_default();
        *most = (*most).max(n);
    }

    fn leave(&self, job: Job) {
        *self
            .record
            .lock()
            .unwrap()
            .running
            .entry(job.source)
            .or_default() -= 1;
    }

    /// What `sense-pulse source` writes at the end of a poll.
    async fn write_status(&self, job: Job, code: i32, partial: bool) {
        // A named node's runs write its own ids (`status:system@kitchen`).
        let key = format!("status:{}", self.bus.scope().source(job.source));
        let previous: Option<Status> = self
            .bus
            .get(&key)
            .await
            .unwrap()
            .and_then(|t| serde_json::from_str(&t).ok());
        let now = unix_now();
        let mut status = previous.unwrap_or_else(|| Status::new(job.source.as_str()));
        status.last_poll = Some(now);
        status.poll_count += 1;
        if partial {
            status.last_success = Some(now);
            status.error_count += 1;
            status.last_error = Some("garage not heard".into());
            status.outcome = Some(PollOutcome::Partial);
        } else if code == 0 {
            status.last_success = Some(now);
            status.last_error = None;
        } else {
            status.error_count += 1;
            status.last_error = Some("the poll failed".into());
        }
        self.bus
            .set(&key, &serde_json::to_string(&status).unwrap(), None)
            .await
            .unwrap();
        if job.mode == JobMode::Scan {
            let scan = json!({"devices": [{"name": "Aranet4 1A2B1", "mac": "AA:BB:CC:DD:EE:01", "rssi": -60}]});
            self.bus
                .set("scan:co2", &scan.to_string(), None)
                .await
                .unwrap();
        }
    }
}

impl Launcher for Fake {
    fn kind(&self) -> &'static str {
        "fake"
    }

    async fn run_once(&self, job: Job, timeout: Duration, kill: CancellationToken) -> RunOutcome {
        let plan = (self.script)(job);
        self.enter(job);
        let end = tokio::select! {
            () = tokio::time::sleep(plan.takes) => RunEnd::Exited(plan.code),
            () = tokio::time::sleep(timeout) => RunEnd::TimedOut(timeout),
            () = kill.cancelled() => RunEnd::Stopped,
        };
        if plan.writes_status && matches!(end, RunEnd::Exited(0 | 1)) {
            self.write_status(job, plan.code, plan.partial).await;
        }
        self.leave(job);
        RunOutcome {
            end,
            log_tail: plan.log,
        }
    }

    async fn start_service(
        &self,
        job: Job,
        stop: CancellationToken,
    ) -> Result<ServiceRun, LaunchError> {
        let plan = (self.script)(job);
        if plan.code == 125 {
            return Err(LaunchError(
                "docker: No such image: sense-pulse:latest".into(),
            ));
        }
        self.enter(job);
        let this = self.clone();
        Ok(Box::pin(async move {
            let end = tokio::select! {
                () = tokio::time::sleep(plan.takes) => RunEnd::Exited(plan.code),
                () = stop.cancelled() => RunEnd::Stopped,
            };
            this.leave(job);
            RunOutcome {
                end,
                log_tail: plan.log,
            }
        }))
    }
}

fn options() -> OrchestratorOptions {
    let mut o = OrchestratorOptions::new(LauncherChoice::Process {
        binary: "unused".into(),
        extra_args: Vec::new(),
        env: Vec::new(),
    });
    o.health_interval = Duration::from_secs(1);
    o.config_env = Some(Vec::new());
    o.camera_cleanup_delay = Duration::from_millis(200);
    o
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), sense_orchestrator::OrchestratorError>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("stops")
            .unwrap()
            .unwrap();
    }
}

async fn start(bus: &Bus, fake: &Fake, options: OrchestratorOptions) -> Running {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_with_launcher(
        bus.clone(),
        fake.clone(),
        options,
        shutdown.clone(),
    ));
    // Subscribed to commands: running.
    let deadline = Instant::now() + Duration::from_secs(5);
    while bus.publish("cmd:orchestrator", "{}").await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the orchestrator did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Running { shutdown, task }
}

async fn json_at(bus: &Bus, key: &str) -> Option<Json> {
    bus.get(key)
        .await
        .unwrap()
        .map(|t| serde_json::from_str(&t).unwrap())
}

async fn set_schedule(bus: &Bus, schedule: Json) {
    bus.set("config:schedule", &schedule.to_string(), None)
        .await
        .unwrap();
}

async fn command(bus: &Bus, action: &str, params: Json) -> CommandResponse {
    let client = CommandClient::new(bus.clone()).await.unwrap();
    client
        .send(
            "orchestrator",
            action,
            params.as_object().cloned().unwrap_or_default(),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
}

const SCHEDULED: [SourceId; 5] = [
    SourceId::Tailscale,
    SourceId::Pihole,
    SourceId::System,
    SourceId::Co2,
    SourceId::Weather,
];

#[tokio::test(start_paused = true)]
async fn boot_runs_every_scheduled_source_then_each_on_its_interval() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"system": 5, "tailscale": 10})).await;
    let fake = Fake::new(&bus, |_| Plan::ok(200));
    let started = Instant::now();
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in SCHEDULED {
        assert_eq!(fake.launches(id, JobMode::Poll), 1, "{id} at boot");
    }
    assert_eq!(fake.launches(SourceId::Sensors, JobMode::Poll), 0);
    assert_eq!(fake.launches(SourceId::NetworkCamera, JobMode::Poll), 0);
    tokio::time::sleep(Duration::from_secs(21)).await;
    // system every 5 s: at 0, 5, 10, 15, 20; tailscale every 10 s: 0, 10, 20; pihole every 30 s.
    let system = fake.launch_times(SourceId::System);
    assert_eq!(system.len(), 5, "{system:?}");
    for (i, t) in system.iter().enumerate() {
        let at = t.duration_since(started).as_secs_f64();
        assert!((at - 5.0 * i as f64).abs() < 1.5, "run {i} at {at} s");
    }
    assert_eq!(fake.launches(SourceId::Tailscale, JobMode::Poll), 3);
    assert_eq!(fake.launches(SourceId::Pihole, JobMode::Poll), 1);

    let health = json_at(&bus, HEALTH_KEY)
        .await
        .expect("status:orchestrator");
    assert_eq!(health["source_id"], "orchestrator");
    assert_eq!(health["launcher"], "fake");
    let system = &health["sources"]["system"];
    assert_eq!(system["interval_s"], 5);
    assert_eq!(system["launches"], 5);
    assert_eq!(system["last_run"]["outcome"], "ok");
    assert_eq!(system["last_run"]["exit_code"], 0);
    assert_eq!(system["overdue"], false);
    assert!(system["last_run"]["started_at"].as_f64().unwrap() > 1.7e9);
    // The health key is a valid status for status readers.
    let _: Status = serde_json::from_value(health.clone()).unwrap();
    let ttl = bus.ttl(HEALTH_KEY).await.unwrap();
    assert!(
        matches!(ttl, sense_bus::Ttl::Expires(d) if d >= Duration::from_secs(2)),
        "{ttl:?}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_source_still_running_is_not_started_again() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"aranet4": 5})).await;
    // Each co2 poll takes 8 s, longer than its 5 s interval.
    let fake = Fake::new(&bus, |job| {
        Plan::ok(if job.source == SourceId::Co2 {
            8000
        } else {
            100
        })
    });
    let started = Instant::now();
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(fake.launches(SourceId::Co2, JobMode::Poll), 1);
    // A trigger while it runs does not start another either.
    let answer = command(&bus, "trigger", json!({"service": "source-aranet4"})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["already_running"], true);
    assert_eq!(answer.data["source"], "co2");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let times = fake.launch_times(SourceId::Co2);
    assert_eq!(times.len(), 3, "{times:?}");
    // The second started when the first ended (8 s), not at 5 s.
    let second = times[1].duration_since(started).as_secs_f64();
    assert!((8.0..9.5).contains(&second), "second run at {second} s");
    assert_eq!(fake.most_at_once(SourceId::Co2), 1);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_run_is_recorded_with_the_counters_carried_on() {
    let bus = Bus::memory();
    // What the source's runner remembers from earlier runs.
    bus.set(
        "state:weather",
        &json!({"runner": {"poll_count": 4, "error_count": 1, "last_success": 1.7e9}, "source": {"etag": "x"}})
            .to_string(),
        None,
    )
    .await
    .unwrap();
    let fake = Fake::new(&bus, |job| {
        if job.source == SourceId::Weather {
            Plan::ok(3_600_000)
        } else {
            Plan::ok(100)
        }
    });
    let mut o = options();
    o.run_timeout = Duration::from_secs(60);
    let running = start(&bus, &fake, o).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let status: Status =
        serde_json::from_value(json_at(&bus, "status:weather").await.unwrap()).unwrap();
    assert_eq!(
        status.last_error.as_deref(),
        Some("run killed after 60 s (timeout)")
    );
    assert_eq!((status.poll_count, status.error_count), (5, 2));
    assert_eq!(status.last_success, Some(1.7e9));
    let state = json_at(&bus, "state:weather").await.unwrap();
    assert_eq!(state["runner"]["poll_count"], 5);
    assert_eq!(state["runner"]["error_count"], 2);
    assert_eq!(
        state["source"]["etag"], "x",
        "the source's own memory is kept"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(
        health["sources"]["weather"]["last_run"]["outcome"],
        "timeout"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_exit_code_decides_who_writes_the_status() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |job| match job.source {
        // Polled and failed: wrote its own status.
        SourceId::Pihole => Plan {
            code: 1,
            ..Plan::ok(100)
        },
        // Could not reach Redis: wrote nothing.
        SourceId::Tailscale => Plan {
            code: 3,
            writes_status: false,
            log: vec![
                "2025-01-01T00:00:00Z ERROR Redis at redis://redis:6379 is unreachable: refused"
                    .into(),
            ],
            ..Plan::ok(100)
        },
        // Not built yet: nothing to record.
        SourceId::Weather => Plan {
            code: 4,
            writes_status: false,
            ..Plan::ok(100)
        },
        _ => Plan::ok(100),
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pihole = json_at(&bus, "status:pihole").await.unwrap();
    assert_eq!(pihole["last_error"], "the poll failed");
    assert_eq!(pihole["error_count"], 1, "not counted twice");
    let tailscale = json_at(&bus, "status:tailscale").await.unwrap();
    assert_eq!(
        tailscale["last_error"],
        "exited with code 3: ERROR Redis at redis://redis:6379 is unreachable: refused"
    );
    assert_eq!(tailscale["poll_count"], 1);
    assert_eq!(tailscale["outcome"], "failed");
    assert_eq!(json_at(&bus, "status:weather").await, None);
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(
        health["sources"]["weather"]["last_run"]["outcome"],
        "not_built"
    );
    assert_eq!(
        health["sources"]["tailscale"]["last_run"]["outcome"],
        "failed"
    );
    assert_eq!(health["sources"]["tailscale"]["last_run"]["exit_code"], 3);
    assert_eq!(
        health["sources"]["tailscale"]["last_run"]["log_tail"][0]
            .as_str()
            .map(|l| l.contains("unreachable")),
        Some(true)
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_partial_poll_is_recorded_as_partial_and_is_no_failure() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"co2": 5})).await;
    // Exits 0 having written readings and a status naming the monitor it did not hear.
    let fake = Fake::new(&bus, |job| Plan {
        partial: job.source == SourceId::Co2,
        log: vec!["WARN poll partly failed; the other readings written".into()],
        ..Plan::ok(100)
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    let run = &health["sources"]["co2"]["last_run"];
    assert_eq!(run["outcome"], "partial", "{health}");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["error"], "garage not heard");
    assert_eq!(run.get("log_tail"), None, "no failure, no log tail: {run}");
    let co2 = json_at(&bus, "status:co2").await.unwrap();
    assert_eq!(co2["outcome"], "partial");
    assert_eq!(
        co2["error_count"], 1,
        "the source's own status, not rewritten"
    );
    // Triggered and waited for: an answer, not an error.
    let reply = command(&bus, "trigger", json!({"service": "co2", "wait": true})).await;
    assert_eq!(
        reply.status,
        sense_bus::model::ResponseStatus::Ok,
        "{reply:?}"
    );
    assert_eq!(reply.data["outcome"], "partial");
    assert_eq!(reply.data["error"], "garage not heard");
    // Readings were written every time: never overdue.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["sources"]["co2"]["overdue"], false, "{health}");
    assert_eq!(health["last_error"], Json::Null);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_schedule_change_applies_without_a_restart() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"system": 60})).await;
    let fake = Fake::new(&bus, |_| Plan::ok(100));
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.launches(SourceId::System, JobMode::Poll), 1);
    let mut patch = Map::new();
    patch.insert("system".into(), json!(5));
    sense_bus::store::update_config(&bus, &[(SectionName::Schedule, patch)], &|_| None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    // 0 s, then 5 s and 10 s under the new interval.
    assert_eq!(fake.launches(SourceId::System, JobMode::Poll), 3);
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["schedule"]["system"], 5);
    // An invalid value is reported and the default used.
    set_schedule(&bus, json!({"system": 1})).await;
    bus.publish("config:changed", r#"{"section": "schedule"}"#)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["schedule"]["system"], 30);
    assert!(
        health["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("config:schedule.system"),
        "{health}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn sources_without_success_for_three_intervals_are_overdue() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"system": 5, "tailscale": 5})).await;
    // system keeps failing; tailscale succeeds.
    let fake = Fake::new(&bus, |job| {
        if job.source == SourceId::System {
            Plan {
                code: 1,
                ..Plan::ok(100)
            }
        } else {
            Plan::ok(100)
        }
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(
        health["sources"]["system"]["overdue"], false,
        "not before 15 s"
    );
    assert_eq!(health["last_error"], Json::Null);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["sources"]["system"]["overdue"], true);
    assert_eq!(health["sources"]["tailscale"]["overdue"], false);
    assert_eq!(health["last_error"], "overdue: system");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_redis_that_comes_back_empty_makes_no_source_overdue() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"weather": 60})).await;
    let fake = Fake::new(&bus, |_| Plan::ok(100));
    let running = start(&bus, &fake, options()).await;
    // Up for longer than three intervals, polling fine.
    tokio::time::sleep(Duration::from_secs(200)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["sources"]["weather"]["overdue"], false, "{health}");
    // Redis restarts empty: the source's status is gone until its next poll, 40 s away.
    assert!(bus.del("status:weather").await.unwrap());
    tokio::time::sleep(Duration::from_secs(15)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(
        health["sources"]["weather"]["overdue"], false,
        "a source that polled fine a minute ago is not overdue: {health}"
    );
    assert_eq!(health["last_error"], Json::Null);
    assert!(health["sources"]["weather"]["last_success"].is_number());
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_status_lost_from_redis_is_polled_again_at_once_and_once_per_loss() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let bus = Bus::memory();
    set_schedule(&bus, json!({"weather": 300})).await;
    let writes = Arc::new(AtomicBool::new(true));
    let fake = Fake::new(&bus, {
        let writes = Arc::clone(&writes);
        move |_| Plan {
            writes_status: writes.load(Ordering::SeqCst),
            ..Plan::ok(100)
        }
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.launches(SourceId::Weather, JobMode::Poll), 1);
    // Redis lost it (restarted empty): polled within a tick, not at its turn 290 s away.
    let lost = Instant::now();
    assert!(bus.del("status:weather").await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let times = fake.launch_times(SourceId::Weather);
    assert_eq!(times.len(), 2, "{times:?}");
    assert!(times[1].duration_since(lost) <= Duration::from_millis(1100));
    assert!(json_at(&bus, "status:weather").await.is_some());
    // Lost again, and this time the run writes no status (a source on another Redis, say):
    // polled once more, then left to its schedule.
    writes.store(false, Ordering::SeqCst);
    assert!(bus.del("status:weather").await.unwrap());
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(fake.launches(SourceId::Weather, JobMode::Poll), 3);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_first_poll_under_way_has_a_status_saying_it_never_polled() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |job| match job.source {
        // co2 listens a minute for its monitors.
        SourceId::Co2 => Plan::ok(60_000),
        SourceId::Weather => Plan {
            code: 4,
            writes_status: false,
            ..Plan::ok(100)
        },
        _ => Plan::ok(100),
    });
    let mut notices = bus.subscribe(&[Topic::channel("data:co2")]).await.unwrap();
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let co2 = json_at(&bus, "status:co2")
        .await
        .expect("a status while it polls");
    assert_eq!(co2["poll_count"], 0);
    assert_eq!(co2["last_poll"], Json::Null);
    assert_eq!(co2["last_error"], Json::Null);
    assert!(bus.ttl("status:co2").await.unwrap() != sense_bus::Ttl::Persistent);
    let notice = tokio::time::timeout(Duration::from_secs(1), notices.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.channel, "data:co2", "the gateway is told at once");
    // A source this build does not have keeps no status saying it is about to poll.
    assert_eq!(json_at(&bus, "status:weather").await, None);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(json_at(&bus, "status:co2").await.unwrap()["poll_count"], 1);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn unknown_actions_and_services_are_named() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |_| Plan::ok(100));
    let running = start(&bus, &fake, options()).await;
    let answer = command(&bus, "dance", json!({})).await;
    let error = answer.error.unwrap();
    assert!(
        error.contains("unknown action `dance`") && error.contains("scan_aranet4"),
        "{error}"
    );
    let answer = command(&bus, "trigger", json!({"service": "source-toaster"})).await;
    let error = answer.error.unwrap();
    assert!(
        error.contains("unknown service `source-toaster`") && error.contains("source-aranet4"),
        "{error}"
    );
    let answer = command(&bus, "trigger", json!({})).await;
    assert!(answer.error.unwrap().contains("needs params.service"));
    let answer = command(&bus, "restart_service", json!({"service": "web-gateway"})).await;
    assert!(
        answer
            .error
            .unwrap()
            .contains("unknown service `web-gateway`")
    );
    let answer = command(&bus, "trigger", json!({"service": "source-camera"})).await;
    assert!(answer.error.unwrap().contains("start_camera"));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn trigger_runs_a_poll_now_and_can_wait_for_it() {
    let bus = Bus::memory();
    set_schedule(&bus, json!({"system": 300})).await;
    let fake = Fake::new(&bus, |_| Plan::ok(300));
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answer = command(&bus, "trigger", json!({"service": "system", "wait": true})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["started"], true);
    assert_eq!(answer.data["outcome"], "ok");
    assert_eq!(answer.data["service"], "source-system");
    assert_eq!(fake.launches(SourceId::System, JobMode::Poll), 2);
    // Without wait the answer comes at once.
    let answer = command(&bus, "trigger", json!({"service": "sensehat"})).await;
    assert_eq!(answer.data["started"], true);
    assert_eq!(answer.data["source"], "sensors");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scans_wait_for_the_source_and_answer_with_what_they_found() {
    let bus = Bus::memory();
    // A stale result must not be handed out.
    bus.set("scan:co2", r#"{"devices": [{"name": "stale"}]}"#, None)
        .await
        .unwrap();
    let fake = Fake::new(&bus, |job| match (job.source, job.mode) {
        (SourceId::Co2, JobMode::Poll) => Plan::ok(5000),
        (SourceId::Co2, JobMode::Scan) => Plan::ok(3000),
        (SourceId::NetworkCamera, JobMode::Discover) => Plan {
            code: 4,
            writes_status: false,
            log: vec![
                "ERROR the `network_camera` source is not available yet: it arrives with issue #6"
                    .into(),
            ],
            ..Plan::ok(100)
        },
        _ => Plan::ok(100),
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.launches(SourceId::Co2, JobMode::Poll), 1);
    let asked = Instant::now();
    let answer = command(&bus, "scan_aranet4", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["devices"][0]["name"], "Aranet4 1A2B1");
    // It waited for the boot poll (5 s) and then scanned (3 s).
    let took = asked.elapsed();
    assert!(took >= Duration::from_millis(7800), "{took:?}");
    assert_eq!(fake.most_at_once(SourceId::Co2), 1);
    let answer = command(&bus, "discover_cameras", json!({})).await;
    let error = answer.error.unwrap();
    assert!(
        error.contains("not available in this build") && error.contains("issue #6"),
        "{error}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_camera_starts_once_stops_on_request_and_is_cleaned_up_after_stream_ended() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |_| Plan::ok(3_600_000));
    let mut o = options();
    o.scheduled.clear();
    let running = start(&bus, &fake, o).await;
    let answer = command(&bus, "start_camera", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["already_running"], false);
    let answer = command(&bus, "start_camera", json!({})).await;
    assert_eq!(answer.data["already_running"], true);
    assert_eq!(fake.launches(SourceId::NetworkCamera, JobMode::Service), 1);

    // stop_camera asks the camera (on cmd:network_camera) to stop.
    let mut camera_commands = bus
        .subscribe(&[Topic::channel("cmd:network_camera")])
        .await
        .unwrap();
    let answer = command(&bus, "stop_camera", json!({})).await;
    assert!(answer.is_ok());
    assert_eq!(answer.data["running"], true);
    let stop = camera_commands.recv().await.unwrap();
    let stop: Json = serde_json::from_str(&stop.payload).unwrap();
    assert_eq!(stop["action"], "stop");
    assert!(stop["request_id"].as_str().is_some());

    // The camera announces the end of the stream; it is cleaned up and the reason recorded.
    bus.publish(
        "stream:ended",
        &json!({"source_id": "network_camera", "reason": "max_reconnects", "timestamp": unix_now()})
            .to_string(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fake_running = fake.record.lock().unwrap().running[&SourceId::NetworkCamera];
    assert_eq!(fake_running, 0, "camera stopped");
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    assert_eq!(status["stream_ended"]["reason"], "max_reconnects");
    assert_eq!(status["last_error"], "stream ended: max_reconnects");
    let _: Status = serde_json::from_value(status).unwrap();
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(
        health["sources"]["network_camera"]["stream"]["running"],
        false
    );
    assert_eq!(
        health["sources"]["network_camera"]["stream"]["last_run"]["outcome"],
        "stopped"
    );
    // With nothing listening on cmd:network_camera, stop_camera stops it directly.
    drop(camera_commands);
    command(&bus, "start_camera", json!({})).await;
    let answer = command(&bus, "stop_camera", json!({})).await;
    assert!(answer.is_ok());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.record.lock().unwrap().running[&SourceId::NetworkCamera],
        0
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_camera_started_right_after_a_stop_is_left_running_by_the_old_streams_end() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |_| Plan::ok(3_600_000));
    let mut o = options();
    o.scheduled.clear();
    let running = start(&bus, &fake, o).await;
    let camera_running = || fake.record.lock().unwrap().running[&SourceId::NetworkCamera];
    assert!(command(&bus, "start_camera", json!({})).await.is_ok());
    // Stop: the camera announces the end of its stream, then exits (nothing listens on
    // cmd:network_camera here, so stop_camera ends it).
    bus.publish(
        "stream:ended",
        &json!({"source_id": "network_camera", "reason": "user_stopped", "timestamp": unix_now()})
            .to_string(),
    )
    .await
    .unwrap();
    assert!(command(&bus, "stop_camera", json!({})).await.is_ok());
    let deadline = Instant::now() + Duration::from_secs(5);
    while json_at(&bus, HEALTH_KEY)
        .await
        .is_none_or(|h| h["sources"]["network_camera"]["stream"]["running"] != false)
    {
        assert!(Instant::now() < deadline, "the camera did not stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(camera_running(), 0);
    // Start again at once, before the old stream's end is dealt with.
    let answer = command(&bus, "start_camera", json!({})).await;
    assert_eq!(
        answer.data.get("already_running"),
        Some(&json!(false)),
        "{answer:?}"
    );
    // Once it is (its reason recorded), the new camera still runs.
    let deadline = Instant::now() + Duration::from_secs(5);
    while json_at(&bus, "status:network_camera")
        .await
        .is_none_or(|s| s["stream_ended"].is_null())
    {
        assert!(
            Instant::now() < deadline,
            "the stream's end was not recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(camera_running(), 1, "the new camera was stopped");
    assert_eq!(fake.launches(SourceId::NetworkCamera, JobMode::Service), 2);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_camera_that_cannot_start_says_why() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |_| Plan {
        code: 125,
        ..Plan::ok(0)
    });
    let mut o = options();
    o.scheduled.clear();
    let running = start(&bus, &fake, o).await;
    let answer = command(&bus, "start_camera", json!({})).await;
    assert_eq!(
        answer.error.as_deref(),
        Some("docker: No such image: sense-pulse:latest")
    );
    let status = json_at(&bus, "status:network_camera").await.unwrap();
    assert_eq!(
        status["last_error"],
        "docker: No such image: sense-pulse:latest"
    );
    // A camera that exits at once (not built yet) is reported too.
    let fake = Fake::new(&bus, |_| Plan {
        code: 4,
        log: vec!["ERROR the `network_camera` source is not available yet".into()],
        ..Plan::ok(50)
    });
    running.stop().await;
    let mut o = options();
    o.scheduled.clear();
    let running = start(&bus, &fake, o).await;
    let answer = command(&bus, "start_camera", json!({})).await;
    let error = answer.error.unwrap();
    assert!(error.contains("not available in this build"), "{error}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_resident_source_is_restarted_with_back_off() {
    let bus = Bus::memory();
    // It keeps crashing after 100 ms.
    let fake = Fake::new(&bus, |_| Plan {
        code: 1,
        ..Plan::ok(100)
    });
    let mut o = options();
    o.scheduled.clear();
    o.resident = vec![SourceId::Sensors];
    let running = start(&bus, &fake, o).await;
    // Starts at 0, 1.1, 3.2, 7.3, 15.4 s (back-off 1, 2, 4, 8 s).
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.launches(SourceId::Sensors, JobMode::Service), 4);
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["sources"]["sensors"]["lifecycle"], "resident");
    assert_eq!(health["sources"]["sensors"]["backoff_s"], 8.0);
    running.stop().await;

    // One that runs is restarted at once on restart_service.
    let fake = Fake::new(&bus, |_| Plan::ok(3_600_000));
    let mut o = options();
    o.scheduled.clear();
    o.resident = vec![SourceId::Sensors];
    let running = start(&bus, &fake, o).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answer = command(
        &bus,
        "restart_service",
        json!({"service": "source-sensehat"}),
    )
    .await;
    assert!(answer.is_ok(), "{answer:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.launches(SourceId::Sensors, JobMode::Service), 2);
    assert_eq!(fake.most_at_once(SourceId::Sensors), 1);
    let answer = command(&bus, "trigger", json!({"service": "sensors"})).await;
    assert!(answer.error.unwrap().contains("restart_service"));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_runs_finish_then_kills_the_rest() {
    let bus = Bus::memory();
    let fake = Fake::new(&bus, |job| match job.source {
        SourceId::System => Plan::ok(2000),
        SourceId::Weather => Plan::ok(3_600_000),
        _ => Plan::ok(100),
    });
    let mut o = options();
    o.shutdown_grace = Duration::from_secs(5);
    let running = start(&bus, &fake, o).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    running.stop().await;
    let took = stopping.elapsed();
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(7)).contains(&took),
        "{took:?}"
    );
    // system finished within the grace; weather was killed at its end.
    assert_eq!(
        json_at(&bus, "status:system").await.unwrap()["poll_count"],
        1
    );
    let weather = json_at(&bus, "status:weather").await.unwrap();
    assert_eq!(
        weather["last_error"],
        "run stopped before it ended (orchestrator stopping)"
    );
    // No new runs after shutdown.
    let launches = fake.record.lock().unwrap().launches.len();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(fake.record.lock().unwrap().launches.len(), launches);
}

#[tokio::test(start_paused = true)]
async fn config_is_seeded_from_the_environment_without_overwriting() {
    let bus = Bus::memory();
    bus.set("config:weather", r#"{"location": "Paris"}"#, None)
        .await
        .unwrap();
    let fake = Fake::new(&bus, |_| Plan::ok(100));
    let mut o = options();
    o.config_env = Some(vec![
        ("WEATHER_LOCATION".into(), "London".into()),
        ("SCHEDULE_SYSTEM".into(), "15".into()),
    ]);
    let running = start(&bus, &fake, o).await;
    assert_eq!(
        json_at(&bus, "config:weather").await.unwrap()["location"],
        "Paris",
        "a dashboard edit is never overwritten"
    );
    assert_eq!(
        json_at(&bus, "config:schedule").await.unwrap()["system"],
        15
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = json_at(&bus, HEALTH_KEY).await.unwrap();
    assert_eq!(health["schedule"]["system"], 15);
    running.stop().await;
}

#[test]
fn the_entry_point_can_be_spawned() {
    fn spawnable<T: Send + 'static>(_: &T) {}
    let bus = Bus::memory();
    let fut = sense_orchestrator::run(bus, options(), CancellationToken::new());
    spawnable(&fut);
}

#[tokio::test(start_paused = true)]
async fn a_co2_run_may_listen_as_long_as_its_config_says() {
    let bus = Bus::memory();
    bus.set("config:aranet4", r#"{"timeout": 90}"#, None)
        .await
        .unwrap();
    // Listens 90 s, ends at 95 s: past the 60 s run timeout, within 90 + 15 s.
    let fake = Fake::new(&bus, |job| match job.source {
        SourceId::Co2 => Plan::ok(95_000),
        SourceId::Weather => Plan::ok(95_000),
        _ => Plan::ok(100),
    });
    let running = start(&bus, &fake, options()).await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    let co2 = json_at(&bus, "status:co2").await.unwrap();
    assert_eq!(co2["last_error"], Json::Null, "{co2}");
    let weather = json_at(&bus, "status:weather").await.unwrap();
    assert_eq!(weather["last_error"], "run killed after 60 s (timeout)");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_named_node_runs_its_own_sources_under_its_name_and_leaves_the_config_alone() {
    let hub = Bus::memory();
    let kitchen = hub
        .clone()
        .with_scope(Scope::node("kitchen".parse().unwrap()));
    set_schedule(&hub, json!({"system": 5})).await;
    let fake = Fake::new(&kitchen, |_| Plan::ok(200));
    let mut opts = options();
    // What the hub would seed from: a satellite never does.
    opts.config_env = Some(vec![("DISPLAY_ROTATION".into(), "90".into())]);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_with_launcher(
        kitchen.clone(),
        fake.clone(),
        opts,
        shutdown.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    while hub.publish("cmd:orchestrator@kitchen", "{}").await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the kitchen's orchestrator did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Its own hardware's sources; the installation's (weather, Pi-hole) are the hub's.
    for id in [SourceId::System, SourceId::Tailscale, SourceId::Co2] {
        assert_eq!(fake.launches(id, JobMode::Poll), 1, "{id}");
    }
    for id in [SourceId::Weather, SourceId::Pihole] {
        assert_eq!(
            fake.launches(id, JobMode::Poll),
            0,
            "{id} ran on a satellite"
        );
    }
    assert!(json_at(&hub, "status:system@kitchen").await.is_some());
    assert!(json_at(&hub, "status:system").await.is_none());

    // Its health, and its record: what the hub judges contact from.
    let health = json_at(&hub, "status:orchestrator@kitchen").await.unwrap();
    assert_eq!(health["source_id"], "orchestrator@kitchen");
    assert_eq!(health["node"], "kitchen");
    assert!(json_at(&hub, HEALTH_KEY).await.is_none());
    let record = json_at(&hub, "node:kitchen").await.unwrap();
    assert_eq!(record["room"], "Kitchen");
    assert_eq!(record["interval_s"], 1.0);
    let sources: Vec<&str> = record["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(sources.contains(&"system@kitchen") && sources.contains(&"orchestrator@kitchen"));
    assert!(!sources.contains(&"weather@kitchen"), "{sources:?}");
    assert_eq!(
        hub.ttl("node:kitchen").await.unwrap(),
        sense_bus::Ttl::Persistent
    );

    // The config is the hub's: nothing seeded.
    assert_eq!(hub.get("config:display").await.unwrap(), None);

    // Commands on its own channel.
    let client = CommandClient::new(hub.clone()).await.unwrap();
    let answer = client
        .send(
            "orchestrator@kitchen",
            "trigger",
            json!({"service": "system"}).as_object().cloned().unwrap(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(answer.is_ok(), "{answer:?}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}

/// Redis gone between the wait for it and the orchestrator's first steps (its subscriptions, its
/// command channel, the schedule): it waits for Redis to come back rather than ending (`run`
/// ended with "Redis unreachable" when Redis went away in its first milliseconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gone_while_starting_is_waited_for_not_the_end() {
    let mut server = sense_testkit::RedisServer::start();
    let bus = Bus::connect(
        &server.url(),
        sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    server.stop();
    let fake = Fake::new(&bus, |_| Plan::ok(100));
    let shutdown = CancellationToken::new();
    let mut task = tokio::spawn(run_with_launcher(
        bus.clone(),
        fake.clone(),
        options(),
        shutdown.clone(),
    ));
    // Its first step fails after the bus's own timeout (3 s): still running after that.
    let waited = Duration::from_secs(5);
    let ended = tokio::time::timeout(waited, &mut task).await;
    assert!(ended.is_err(), "the orchestrator ended: {ended:?}");
    // Back: it takes commands.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while bus.publish("cmd:orchestrator", "{}").await.unwrap_or(0) == 0 {
        assert!(!task.is_finished(), "the orchestrator ended");
        assert!(
            Instant::now() < deadline,
            "not running 20 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}
