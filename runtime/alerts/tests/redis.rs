//! The alerts service on a real Redis: readings written through the sources' own write path cross
//! a threshold, the alert lands on the bus and reaches loopback receivers playing ntfy and a
//! webhook (one failing first), and clears when the value falls back; a satellite Pi whose
//! `node:{node}` record goes stale is one alert, cleared when it is heard again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sense_alerts::deliver::Backoff;
use sense_alerts::{AlertsOptions, run, text};
use sense_bus::keys::{self, channels};
use sense_bus::model::{
    AlertChannels, AlertEvent, AlertKind, AlertTrigger, ChannelState, Measurement, Meta,
    NodeRecord, Status, Value,
};
use sense_bus::store::{self, PollWrite};
use sense_bus::{Bus, ConnectOptions, NodeName, SectionName, Subscription, Topic};
use sense_hal::Unit;
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};
use sense_testkit::RedisServer;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a step may take before the test gives up (a deadline, not a measurement).
const PATIENCE: Duration = Duration::from_secs(15);

async fn write_co2(bus: &Bus, ppm: i64) {
    let measurements = vec![Measurement::new(
        "office:co2".into(),
        Value::Int(ppm),
        Some(Unit::PPM),
    )];
    let mut status = Status::new("co2");
    status.poll_count = 1;
    let meta = Meta {
        source_id: "co2".into(),
        name: "CO₂ monitors".into(),
        description: String::new(),
        refresh_interval: 60,
        enabled: true,
    };
    let write = PollWrite {
        source: "co2",
        measurements: &measurements,
        timestamp: sense_bus::unix_now(),
        status: &status,
        meta: &meta,
        state: None,
        interval_s: 60,
        cache_ttl_s: 60,
    };
    bus.apply(&write.batch()).await.unwrap();
}

async fn next_event(sub: &mut Subscription) -> AlertEvent {
    let message = tokio::time::timeout(PATIENCE, sub.recv())
        .await
        .expect("an alert on the alerts channel")
        .expect("the subscription is open");
    serde_json::from_str(&message.payload).unwrap()
}

async fn next_request(rx: &mut mpsc::UnboundedReceiver<RecordedRequest>) -> RecordedRequest {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("a request at the receiver")
        .expect("the receiver is up")
}

/// Waits until `alerts:channels` shows `channel` in `state`.
async fn channel_health(bus: &Bus, channel: &str, state: ChannelState) -> AlertChannels {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(text) = bus.get(keys::ALERTS_CHANNELS).await.unwrap() {
            let all: AlertChannels = serde_json::from_str(&text).unwrap();
            if all.get(channel).is_some_and(|h| h.state == state) {
                return all;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alerts:channels never showed {channel} {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn active(bus: &Bus) -> Vec<AlertEvent> {
    let text = bus
        .get(keys::ALERTS_ACTIVE)
        .await
        .unwrap()
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap()
}

async fn history(bus: &Bus) -> Vec<AlertEvent> {
    bus.list(keys::ALERTS_HISTORY)
        .await
        .unwrap()
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_crossed_reaches_ntfy_and_the_webhook_and_clears() {
    let redis = RedisServer::start();
    let bus = Bus::connect(&redis.url(), ConnectOptions::FailAfter(PATIENCE))
        .await
        .unwrap();

    let (ntfy_tx, mut ntfy_rx) = mpsc::unbounded_channel();
    let ntfy = ReplayServer::start(move |r| {
        let _ = ntfy_tx.send(r.clone());
        Reply::ok(r#"{"id":"x"}"#)
    })
    .await;
    // The webhook fails until told to heal.
    let healed = Arc::new(AtomicBool::new(false));
    let (hook_tx, mut hook_rx) = mpsc::unbounded_channel();
    let webhook = {
        let healed = Arc::clone(&healed);
        ReplayServer::start(move |r| {
            let _ = hook_tx.send(r.clone());
            if healed.load(Ordering::SeqCst) {
                Reply::Status(204)
            } else {
                Reply::Json {
                    status: 500,
                    body: r#"{"error":"down for maintenance"}"#.into(),
                }
            }
        })
        .await
    };

    let patch = json!({
        "rules": [{"id": "co2-high", "name": "CO₂ high", "source": "co2", "sensor": "*:co2",
                   "condition": "above", "threshold": 1400, "for_s": 0, "hysteresis": 100}],
        "ntfy": {"enabled": true, "url": ntfy.url(), "topic": "home", "token": "tk_test"},
        "webhook": {"enabled": true, "url": format!("{}/hook", webhook.url())},
    });
    store::update_config(
        &bus,
        &[(SectionName::Alerts, patch.as_object().unwrap().clone())],
        &|_| None,
    )
    .await
    .unwrap();
    write_co2(&bus, 900).await;

    let mut alerts = bus
        .subscribe(&[Topic::channel(channels::ALERTS)])
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let options = AlertsOptions {
        env: |_| None,
        backoff: Backoff {
            first: Duration::from_millis(50),
            cap: Duration::from_millis(400),
        },
        clock: text::utc_clock,
        ..AlertsOptions::default()
    };
    let service = tokio::spawn(run(bus.clone(), options, shutdown.clone()));
    // Both channels are on and idle before anything fires.
    channel_health(&bus, "ntfy", ChannelState::Ok).await;

    // Past the threshold: fired.
    write_co2(&bus, 1520).await;
    let fired = next_event(&mut alerts).await;
    assert_eq!(fired.kind, AlertKind::Fired);
    assert_eq!(fired.id, "co2-high|co2|office:co2");
    assert_eq!(fired.sensor.as_deref(), Some("office:co2"));
    assert_eq!(
        (fired.value, fired.unit.as_deref()),
        (Some(1520.0), Some("ppm"))
    );
    assert_eq!(fired.label, "CO₂ · office");
    let expected = format!(
        "CO₂ high: office is at 1520 ppm (≥ 1400 ppm) since {}",
        text::utc_clock(fired.since)
    );
    assert_eq!(fired.message, expected);
    assert_eq!(active(&bus).await, std::slice::from_ref(&fired));
    assert_eq!(history(&bus).await, std::slice::from_ref(&fired));

    // ntfy got it: topic path, headers, the message as the body.
    let request = next_request(&mut ntfy_rx).await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/home")
    );
    assert_eq!(
        request.header("title"),
        Some("=?UTF-8?B?Q0/igoIgaGlnaA==?=")
    );
    assert_eq!(request.header("priority"), Some("high"));
    assert_eq!(request.header("tags"), Some("warning,co2-high"));
    assert_eq!(request.header("authorization"), Some("Bearer tk_test"));
    assert_eq!(String::from_utf8_lossy(&request.body), expected);

    // The webhook refused: the channel shows failing, naming why; then it heals and the retry
    // delivers the event as JSON.
    let first = next_request(&mut hook_rx).await;
    assert_eq!(first.path, "/hook");
    let health = channel_health(&bus, "webhook", ChannelState::Failing).await;
    let failing = &health["webhook"];
    assert!(
        failing
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("500") && e.contains("down for maintenance")),
        "{failing:?}"
    );
    assert_eq!(failing.pending, 1);
    assert_eq!(health["ntfy"].state, ChannelState::Ok);
    healed.store(true, Ordering::SeqCst);
    let delivered = loop {
        let r = next_request(&mut hook_rx).await;
        if healed.load(Ordering::SeqCst) {
            break r;
        }
    };
    assert_eq!(delivered.header("content-type"), Some("application/json"));
    let posted: AlertEvent = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(posted, fired);
    let health = channel_health(&bus, "webhook", ChannelState::Ok).await;
    assert_eq!(health["webhook"].last_error, None);
    assert!(health["webhook"].last_success.is_some());

    // Within the hysteresis: nothing. Below it: cleared, with a resolution message.
    write_co2(&bus, 1350).await;
    write_co2(&bus, 1250).await;
    let cleared = next_event(&mut alerts).await;
    assert_eq!(
        (cleared.kind, cleared.id.as_str()),
        (AlertKind::Cleared, fired.id.as_str())
    );
    assert!(
        cleared
            .message
            .starts_with("CO₂ back to normal: office at 1250 ppm after "),
        "{}",
        cleared.message
    );
    let request = next_request(&mut ntfy_rx).await;
    assert_eq!(request.header("priority"), Some("default"));
    assert_eq!(request.header("tags"), Some("white_check_mark,co2-high"));
    assert_eq!(String::from_utf8_lossy(&request.body), cleared.message);
    let posted = next_request(&mut hook_rx).await;
    let posted: AlertEvent = serde_json::from_slice(&posted.body).unwrap();
    assert_eq!(posted.kind, AlertKind::Cleared);
    assert!(active(&bus).await.is_empty());
    let kinds: Vec<AlertKind> = history(&bus).await.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::Cleared, AlertKind::Fired],
        "newest first"
    );

    shutdown.cancel();
    service.await.unwrap();
}

async fn write_kitchen(bus: &Bus, last_contact: f64) {
    let record = NodeRecord {
        name: "kitchen".into(),
        room: "Kitchen".into(),
        last_contact,
        interval_s: 5.0,
        sources: vec!["co2@kitchen".into()],
        version: "test".into(),
    };
    let key = keys::node(&NodeName::parse("kitchen").unwrap());
    bus.set(&key, &store::to_json(&record), None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satellite_out_of_contact_is_one_alert_until_it_is_heard_again() {
    let redis = RedisServer::start();
    let bus = Bus::connect(&redis.url(), ConnectOptions::FailAfter(PATIENCE))
        .await
        .unwrap();
    let now = sense_bus::unix_now();
    write_kitchen(&bus, now).await;
    // Records the service cannot read are skipped, not fatal.
    bus.set("node:hall", "not a record", None).await.unwrap();
    bus.set("node:Bad", "{}", None).await.unwrap();

    let mut alerts = bus
        .subscribe(&[Topic::channel(channels::ALERTS)])
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let options = AlertsOptions {
        env: |_| None,
        tick: Duration::from_millis(50),
        clock: text::utc_clock,
        ..AlertsOptions::default()
    };
    let service = tokio::spawn(run(bus.clone(), options, shutdown.clone()));

    // The kitchen's orchestrator stops writing: its record goes stale past `source_down.minutes`
    // (10 by default).
    let last_heard = now - 15.0 * 60.0;
    write_kitchen(&bus, last_heard).await;
    let fired = next_event(&mut alerts).await;
    assert_eq!(
        (fired.kind, fired.id.as_str(), fired.condition),
        (
            AlertKind::Fired,
            "node-lost|kitchen",
            AlertTrigger::NodeLost
        )
    );
    assert_eq!(fired.label, "Kitchen");
    assert_eq!(
        fired.message,
        format!("Kitchen: no contact since {}", text::utc_clock(last_heard))
    );
    assert_eq!(active(&bus).await, std::slice::from_ref(&fired));

    // Heard again: cleared.
    write_kitchen(&bus, sense_bus::unix_now()).await;
    let cleared = next_event(&mut alerts).await;
    assert_eq!(
        (cleared.kind, cleared.id.as_str()),
        (AlertKind::Cleared, "node-lost|kitchen")
    );
    assert!(
        cleared
            .message
            .starts_with("Kitchen: in contact again after 15 min"),
        "{}",
        cleared.message
    );
    assert!(active(&bus).await.is_empty());

    shutdown.cancel();
    service.await.unwrap();
}
