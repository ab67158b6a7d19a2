//! The runner against a real redis-server (and the in-memory bus where Redis is not the point).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sense_bus::model::{Measurement, MissingPart, PollOutcome, Status, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{Bus, ConnectOptions, SectionName, SourceId, Ttl, store};
use sense_hal::Unit;
use sense_runtime::Env;
use sense_runtime::runner::Runner;
use sense_testkit::RedisServer;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// A source whose behaviour the test controls.
#[derive(Clone, Default)]
struct Scripted {
    fail: Arc<AtomicBool>,
    /// Measures, but names a part it got nothing from (this text).
    partial: Arc<Mutex<Option<String>>>,
    polls: Arc<AtomicU32>,
}

#[derive(Default, Serialize, Deserialize)]
struct Remembered {
    runs: u32,
}

impl Source for Scripted {
    const ID: SourceId = SourceId::System;
    const SECTIONS: &'static [SectionName] = &[SectionName::Weather];
    type State = Remembered;

    async fn poll(
        &mut self,
        _context: PollContext<'_>,
        state: &mut Remembered,
    ) -> Result<PollOutput, PollError> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        state.runs += 1;
        if self.fail.load(Ordering::SeqCst) {
            return Err(PollError::new("reading /proc/stat: permission denied"));
        }
        let partial = self.partial.lock().unwrap().clone();
        Ok(PollOutput {
            error: partial.clone(),
            missing: partial
                .into_iter()
                .map(|error| MissingPart {
                    name: "garage".into(),
                    error,
                    since: 1_700_000_000.0,
                    last_seen: None,
                })
                .collect(),
            ..PollOutput::complete(vec![
                Measurement::new(
                    "cpu_percent".into(),
                    Value::Float(12.5),
                    Some(Unit::PERCENT),
                ),
                Measurement::new("runs".into(), Value::Int(i64::from(state.runs)), None),
            ])
        })
    }
}

async fn redis_bus(server: &RedisServer) -> Bus {
    Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap()
}

fn no_env() -> Env {
    Env::from_fn(|_| None)
}

async fn status(bus: &Bus) -> Status {
    store::read_status(bus, "system")
        .await
        .unwrap()
        .expect("a status")
}

#[tokio::test]
async fn one_shot_runs_accumulate_counters_and_state_across_processes() {
    let server = RedisServer::start();
    let bus = redis_bus(&server).await;
    for run in 1..=3u64 {
        // A new runner each time, as a new container would be.
        let report = Runner::new(bus.clone(), Scripted::default(), no_env())
            .run_once()
            .await
            .unwrap();
        assert!(!report.failed());
        assert_eq!(status(&bus).await.poll_count, run);
    }
    let snapshot = store::read_source(&bus, "system").await.unwrap();
    assert_eq!(
        snapshot.readings["runs"].value,
        Value::Int(3),
        "source state survived the runs"
    );
    assert_eq!(snapshot.readings["cpu_percent"].unit.as_deref(), Some("%"));
    let Ttl::Expires(ttl) = bus.ttl("source:system:cpu_percent").await.unwrap() else {
        panic!()
    };
    assert!(ttl >= Duration::from_secs(59), "{ttl:?}");
    let Ttl::Expires(ttl) = bus.ttl("status:system").await.unwrap() else {
        panic!()
    };
    assert!(ttl >= Duration::from_secs(119), "{ttl:?}");
    let meta: serde_json::Value =
        serde_json::from_str(&bus.get("meta:system").await.unwrap().unwrap()).unwrap();
    assert_eq!(meta["refresh_interval"], 30);
    assert_eq!(meta["name"], "System");
}

#[tokio::test]
async fn a_failed_poll_writes_an_error_status_naming_the_cause() {
    let server = RedisServer::start();
    let bus = redis_bus(&server).await;
    let source = Scripted::default();
    Runner::new(bus.clone(), source.clone(), no_env())
        .run_once()
        .await
        .unwrap();
    source.fail.store(true, Ordering::SeqCst);
    let report = Runner::new(bus.clone(), source.clone(), no_env())
        .run_once()
        .await
        .unwrap();
    assert!(report.failed());
    let s = status(&bus).await;
    assert_eq!(
        s.last_error.as_deref(),
        Some("reading /proc/stat: permission denied")
    );
    assert_eq!((s.poll_count, s.error_count), (2, 1));
    assert!(
        s.last_success.is_some(),
        "the earlier success is remembered"
    );
    // The earlier readings are not refreshed, and not replaced by zeros.
    assert_eq!(
        store::read_source(&bus, "system").await.unwrap().readings["runs"].value,
        Value::Int(1)
    );
}

/// Log lines written while it lives, for the current thread (`#[tokio::test]` runs on one).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(needle)
            .count()
    }
}

#[tokio::test]
async fn a_config_problem_is_logged_once_across_one_poll_runs_until_it_changes() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let server = RedisServer::start();
    let bus = redis_bus(&server).await;
    bus.set("config:schedule", "every ten seconds", None)
        .await
        .unwrap();
    // Each poll a process of its own, as the orchestrator runs them.
    for _ in 0..3 {
        Runner::new(bus.clone(), Scripted::default(), no_env())
            .run_once()
            .await
            .unwrap();
    }
    assert_eq!(logs.count("config problem"), 1, "logged once, not per poll");
    assert!(
        status(&bus).await.warnings[0].starts_with("config:schedule"),
        "the status still says it every time"
    );
    // A different problem is news.
    bus.set("config:schedule", r#"{"system": -5}"#, None)
        .await
        .unwrap();
    for _ in 0..2 {
        Runner::new(bus.clone(), Scripted::default(), no_env())
            .run_once()
            .await
            .unwrap();
    }
    assert_eq!(logs.count("config problem"), 2);
}

#[tokio::test]
async fn a_partial_poll_writes_its_readings_and_names_what_failed_logging_it_once() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let bus = Bus::memory();
    let source = Scripted::default();
    let report = Runner::new(bus.clone(), source.clone(), no_env())
        .run_once()
        .await
        .unwrap();
    assert_eq!(report.outcome(), PollOutcome::Ok);
    assert_eq!(status(&bus).await.outcome, Some(PollOutcome::Ok));

    *source.partial.lock().unwrap() = Some("garage not heard".into());
    // Each poll a process of its own, as the orchestrator runs them.
    for run in 2..=4u64 {
        let report = Runner::new(bus.clone(), source.clone(), no_env())
            .run_once()
            .await
            .unwrap();
        report.log_partial("system");
        assert!(report.partial() && !report.failed(), "{:?}", report.status);
        assert_eq!(report.readings, 2);
        let s = status(&bus).await;
        assert_eq!(s.outcome, Some(PollOutcome::Partial));
        assert_eq!(s.last_error.as_deref(), Some("garage not heard"));
        assert_eq!(s.last_success, s.last_poll, "readings written: a success");
        assert_eq!((s.poll_count, s.error_count), (run, run - 1));
        assert_eq!(s.missing.len(), 1);
        assert_eq!(s.missing[0].name, "garage");
        assert_eq!(
            store::read_source(&bus, "system").await.unwrap().readings["runs"].value,
            Value::Int(i64::try_from(run).unwrap()),
            "the readings are fresh"
        );
    }
    assert_eq!(
        logs.count("poll partly failed"),
        1,
        "logged once, not per poll"
    );
    // A different failure is news; a whole failure is "failed", not "partial".
    *source.partial.lock().unwrap() = Some("office not heard".into());
    let report = Runner::new(bus.clone(), source.clone(), no_env())
        .run_once()
        .await
        .unwrap();
    report.log_partial("system");
    assert_eq!(logs.count("poll partly failed"), 2);
    source.fail.store(true, Ordering::SeqCst);
    let report = Runner::new(bus.clone(), source.clone(), no_env())
        .run_once()
        .await
        .unwrap();
    assert!(report.failed());
    let s = status(&bus).await;
    assert_eq!(s.outcome, Some(PollOutcome::Failed));
    assert!(s.missing.is_empty());
}

#[tokio::test]
async fn bad_config_is_reported_in_the_status_and_defaults_are_used() {
    let server = RedisServer::start();
    let bus = redis_bus(&server).await;
    bus.set("config:schedule", "every ten seconds", None)
        .await
        .unwrap();
    Runner::new(bus.clone(), Scripted::default(), no_env())
        .run_once()
        .await
        .unwrap();
    let s = status(&bus).await;
    assert_eq!(s.last_error, None, "config problems do not fail the poll");
    assert!(
        s.warnings[0].starts_with("config:schedule is not valid JSON"),
        "{:?}",
        s.warnings
    );
    let Ttl::Expires(ttl) = bus.ttl("source:system:cpu_percent").await.unwrap() else {
        panic!()
    };
    assert!(
        ttl <= Duration::from_secs(60),
        "the default interval (30 s) sets the TTL: {ttl:?}"
    );

    bus.set("config:schedule", r#"{"system": -5, "weather": 600}"#, None)
        .await
        .unwrap();
    Runner::new(bus.clone(), Scripted::default(), no_env())
        .run_once()
        .await
        .unwrap();
    let s = status(&bus).await;
    assert_eq!(
        s.warnings,
        ["config:schedule.system: must not be negative (got -5); using 30"]
    );
    let meta: serde_json::Value =
        serde_json::from_str(&bus.get("meta:system").await.unwrap().unwrap()).unwrap();
    assert_eq!(meta["refresh_interval"], 30);
}

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Virtual time: the memory bus has no real I/O, so the clock moves only once every task is idle.
#[tokio::test(start_paused = true)]
async fn a_resident_source_polls_again_when_its_config_changes_and_stops_on_cancel() {
    let bus = Bus::memory();
    bus.set("config:schedule", r#"{"system": 300}"#, None)
        .await
        .unwrap();
    let source = Scripted::default();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        Runner::new(bus.clone(), source.clone(), no_env()).run_resident(shutdown.clone()),
    );
    wait_until("the first poll", Duration::from_secs(2), async || {
        source.polls.load(Ordering::SeqCst) == 1
    })
    .await;

    // A section the source does not read changes nothing...
    let object = |v: serde_json::Value| v.as_object().unwrap().clone();
    store::update_config(
        &bus,
        &[(
            SectionName::Display,
            object(serde_json::json!({"rotation": 90})),
        )],
        &|_| None,
    )
    .await
    .unwrap();
    // ...one it reads triggers a poll at once, long before the 300 s interval.
    store::update_config(
        &bus,
        &[(
            SectionName::Weather,
            object(serde_json::json!({"location": "Paris"})),
        )],
        &|_| None,
    )
    .await
    .unwrap();
    wait_until("the hot-reload poll", Duration::from_secs(2), async || {
        source.polls.load(Ordering::SeqCst) == 2
    })
    .await;
    // In virtual time this returns only once the runner is idle again: every change was handled.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        source.polls.load(Ordering::SeqCst),
        2,
        "display changes are not this source's business"
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .unwrap();
}

/// A source that needs another source's reading (as the Sense HAT needs `system:cpu_temp`).
#[derive(Clone, Default)]
struct NeedsCpu {
    polls: Arc<AtomicU32>,
    with_input: Arc<AtomicU32>,
}

impl Source for NeedsCpu {
    const ID: SourceId = SourceId::Sensors;
    const SECTIONS: &'static [SectionName] = &[];
    const INPUTS: &'static [(SourceId, &'static str)] = &[(SourceId::System, "cpu_temp")];
    type State = Remembered;

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        _state: &mut Remembered,
    ) -> Result<PollOutput, PollError> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let cpu = context.inputs.number(SourceId::System, "cpu_temp");
        if cpu.is_some() {
            self.with_input.fetch_add(1, Ordering::SeqCst);
        }
        Ok(PollOutput::complete(vec![Measurement::new(
            "temperature_compensated".into(),
            cpu.map_or(Value::Null, Value::Float),
            Some(Unit::CELSIUS),
        )]))
    }
}

// Virtual time, memory bus.
#[tokio::test(start_paused = true)]
async fn a_resident_source_missing_an_input_polls_again_within_a_second_not_an_interval() {
    let bus = Bus::memory();
    bus.set("config:schedule", r#"{"sensors": 300}"#, None)
        .await
        .unwrap();
    let source = NeedsCpu::default();
    let shutdown = CancellationToken::new();
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(
        Runner::new(bus.clone(), source.clone(), no_env()).run_resident(shutdown.clone()),
    );
    wait_until("the first poll", Duration::from_secs(2), async || {
        source.polls.load(Ordering::SeqCst) >= 1
    })
    .await;
    // The other source writes its reading a moment later (its first poll).
    bus.set(
        "source:system:cpu_temp",
        r#"{"value": 52.0, "unit": "C", "timestamp": 1708000000.0}"#,
        None,
    )
    .await
    .unwrap();
    wait_until(
        "a poll with the input",
        Duration::from_secs(3),
        async || source.with_input.load(Ordering::SeqCst) >= 1,
    )
    .await;
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "with the input after {:?}, not the 300 s interval",
        started.elapsed()
    );
    // Once it has it, the interval is back: no more polls for a while.
    let polls = source.polls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.polls.load(Ordering::SeqCst), polls);

    // An input that never comes is asked for a few times, then at the interval.
    let lonely = NeedsCpu::default();
    let other = Bus::memory();
    let task2 = tokio::spawn(
        Runner::new(other.clone(), lonely.clone(), no_env()).run_resident(shutdown.clone()),
    );
    let quick = 1 + sense_runtime::runner::INPUT_RETRIES;
    tokio::time::sleep(Duration::from_millis(12_500)).await;
    assert_eq!(
        lonely.polls.load(Ordering::SeqCst),
        quick,
        "the first poll and its quick retries"
    );
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(
        lonely.polls.load(Ordering::SeqCst),
        quick,
        "then the 30 s interval"
    );

    shutdown.cancel();
    for t in [task, task2] {
        tokio::time::timeout(Duration::from_secs(2), t)
            .await
            .expect("stops promptly")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_source_survives_redis_going_away_and_writes_within_5s_of_its_return() {
    let mut server = RedisServer::start();
    let bus = redis_bus(&server).await;
    bus.set("config:schedule", r#"{"system": 5}"#, None)
        .await
        .unwrap();
    let source = Scripted::default();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        Runner::new(bus.clone(), source.clone(), no_env()).run_resident(shutdown.clone()),
    );
    wait_until("the first write", Duration::from_secs(3), async || {
        store::read_status(&bus, "system")
            .await
            .ok()
            .flatten()
            .is_some()
    })
    .await;

    // Down for longer than one interval, so a poll happens while Redis is away.
    server.stop();
    let polls_before = source.polls.load(Ordering::SeqCst);
    wait_until(
        "a poll while Redis is down",
        Duration::from_secs(9),
        async || source.polls.load(Ordering::SeqCst) > polls_before,
    )
    .await;
    assert!(!task.is_finished(), "the source keeps running");

    server.restart(); // empty: any key is a fresh write
    let back = tokio::time::Instant::now();
    wait_until(
        "a write after Redis returned",
        Duration::from_secs(5),
        async || {
            store::read_status(&bus, "system")
                .await
                .ok()
                .flatten()
                .is_some()
        },
    )
    .await;
    let s = status(&bus).await;
    assert!(
        s.poll_count >= 2,
        "counters carried in memory across the outage: {}",
        s.poll_count
    );
    eprintln!("wrote again {:?} after Redis returned", back.elapsed());

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .unwrap();
}

#[tokio::test]
async fn the_system_source_end_to_end_on_the_simulated_pi() {
    use sense_runtime::sources::{self, Mode, SourceOptions};
    let bus = Bus::memory();
    let options = SourceOptions {
        sim: true,
        host: sense_linux::HostFs::default(),
        disk_path: "/".into(),
        i2c_bus: "/dev/i2c-1".into(),
        dev_root: "/dev".into(),
        hls_dir: std::env::temp_dir(),
        env: no_env(),
    };
    let report = sources::run(SourceId::System, bus.clone(), &options, Mode::Once)
        .await
        .unwrap()
        .unwrap();
    assert!(!report.failed(), "{:?}", report.status);
    assert_eq!(report.readings, 9);
    let snapshot = store::read_source(&bus, "system").await.unwrap();
    assert!(matches!(
        snapshot.readings["cpu_temp"].value,
        Value::Float(_)
    ));
}

/// Reports the display settings it is given, to show which config a node runs with.
struct DisplayEcho;

impl Source for DisplayEcho {
    const ID: SourceId = SourceId::Sensors;
    const SECTIONS: &'static [SectionName] = &[SectionName::Display];
    type State = ();

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        _: &mut (),
    ) -> Result<PollOutput, PollError> {
        let display = &context.config.display;
        Ok(PollOutput::complete(vec![
            Measurement::new(
                "rotation".into(),
                Value::Int(i64::from(display.rotation)),
                None,
            ),
            Measurement::new("low_light".into(), Value::Bool(display.low_light), None),
        ]))
    }
}

#[tokio::test]
async fn a_named_node_writes_its_own_keys_and_lays_its_override_over_the_shared_config() {
    let bus = Bus::memory();
    bus.set(
        "config:display",
        r#"{"rotation": 90, "low_light": true}"#,
        None,
    )
    .await
    .unwrap();
    bus.set("config:display@kitchen", r#"{"rotation": 180}"#, None)
        .await
        .unwrap();
    let node = |name: &str| sense_bus::Scope::node(name.parse().unwrap());

    let mut kitchen = Runner::new(
        bus.clone().with_scope(node("kitchen")),
        DisplayEcho,
        no_env(),
    );
    assert_eq!(kitchen.id(), "sensors@kitchen");
    kitchen.run_once().await.unwrap();
    let mut hall = Runner::new(bus.clone().with_scope(node("hall")), DisplayEcho, no_env());
    hall.run_once().await.unwrap();

    let value = |key: &'static str| {
        let bus = bus.clone();
        async move {
            let text = bus
                .get(key)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("no {key}"));
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["value"].clone()
        }
    };
    // The override's field wins; the field it does not set is the shared section's.
    assert_eq!(value("source:sensors@kitchen:rotation").await, 180);
    assert_eq!(value("source:sensors@kitchen:low_light").await, true);
    // Another node has no override: the shared section.
    assert_eq!(value("source:sensors@hall:rotation").await, 90);
    let status = store::read_status(&bus, "sensors@kitchen")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.source_id, "sensors@kitchen");
    // Nothing of the hub's was written.
    assert_eq!(bus.get("source:sensors:rotation").await.unwrap(), None);
    assert_eq!(bus.get("status:sensors").await.unwrap(), None);
}
