//! A real Redis and a real Mosquitto per test, readings written through the sources' own write
//! path, and a watching MQTT client.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use sense_bus::model::{Measurement, Meta, Status, Value};
use sense_bus::store::{self, PollWrite};
use sense_bus::{Bus, ConnectOptions, SectionName};
use sense_hal::Unit;
use sense_mqtt::{BridgeState, Options};
use sense_testkit::{MosquittoServer, RedisServer};
use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// How long any awaited condition may take before the test fails.
pub const WITHIN: Duration = Duration::from_secs(20);

pub async fn redis() -> (RedisServer, Bus) {
    let server = RedisServer::start();
    let bus = Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .expect("connect to the test redis-server");
    (server, bus)
}

/// A running bridge.
pub struct Bridge {
    pub state: watch::Receiver<BridgeState>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Bridge {
    /// Writes `config` to `config:mqtt` (as the dashboard does) and starts the bridge.
    pub async fn start(bus: &Bus, config: Json) -> Bridge {
        set_config(bus, config).await;
        let (tx, state) = watch::channel(BridgeState::Connecting);
        let shutdown = CancellationToken::new();
        let options = Options {
            status_sweep: Duration::from_millis(200),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(500),
            command_timeout: Duration::from_secs(3),
            state: Some(tx),
        };
        let task = tokio::spawn(sense_mqtt::run_with(bus.clone(), shutdown.clone(), options));
        Bridge {
            state,
            shutdown,
            task,
        }
    }

    /// Waits until the bridge's state satisfies `ok`.
    pub async fn wait_state(
        &mut self,
        what: &str,
        ok: impl Fn(&BridgeState) -> bool,
    ) -> BridgeState {
        let found = tokio::time::timeout(WITHIN, self.state.wait_for(|s| ok(s)))
            .await
            .map(|r| r.map(|state| state.clone()));
        match found {
            Ok(Ok(state)) => state,
            _ => panic!(
                "the bridge never got {what}; it is {:?}",
                *self.state.borrow()
            ),
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("the bridge stops when asked")
            .expect("the bridge did not panic");
    }
}

/// A partial write of `config:mqtt`, checked like the dashboard's.
pub async fn set_config(bus: &Bus, config: Json) {
    let patch = config.as_object().expect("an object").clone();
    store::update_config(bus, &[(SectionName::Mqtt, patch)], &|_| None)
        .await
        .expect("a valid config:mqtt");
}

/// The bridge's config for `broker`.
pub fn config_for(broker: &MosquittoServer) -> Json {
    json!({"enabled": true, "host": "127.0.0.1", "port": broker.port()})
}

/// One poll of `source` written as a source writes it: readings, status, meta and the `data:`
/// notice in one batch. No readings and `error`: a failed poll.
pub async fn poll(
    bus: &Bus,
    source: &str,
    readings: &[(&str, Value, Option<Unit>)],
    error: Option<&str>,
) {
    let measurements: Vec<Measurement> = readings
        .iter()
        .map(|(sensor, value, unit)| Measurement::new((*sensor).to_owned(), value.clone(), *unit))
        .collect();
    let now = sense_bus::unix_now();
    let status: Status = serde_json::from_value(json!({
        "source_id": source, "last_poll": now,
        "last_success": if error.is_none() { Some(now) } else { None },
        "last_error": error, "poll_count": 1, "error_count": u64::from(error.is_some()),
        "outcome": if error.is_none() { "ok" } else { "failed" },
    }))
    .unwrap();
    let meta: Meta = serde_json::from_value(json!({
        "source_id": source, "name": format!("The {source}"), "description": "test",
        "refresh_interval": 30, "enabled": true,
    }))
    .unwrap();
    let write = PollWrite {
        source,
        measurements: &measurements,
        timestamp: now,
        status: &status,
        meta: &meta,
        state: None,
        interval_s: 30,
        cache_ttl_s: 60,
    };
    bus.apply(&write.batch()).await.expect("write a poll");
}

/// A message seen by the watcher.
#[derive(Clone, Debug)]
pub struct Seen {
    pub payload: String,
    pub retain: bool,
}

/// An MQTT client subscribed to `homeassistant/#` and `sense_pulse/#` (again after each
/// reconnection), keeping the last message of every topic.
pub struct Watcher {
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<rumqttc::Publish>,
    pub seen: BTreeMap<String, Seen>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Watcher {
    pub fn connect(
        port: u16,
        credentials: Option<(&str, &str)>,
        tls: Option<rustls::ClientConfig>,
    ) -> Watcher {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "watcher-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(true);
        options.set_max_packet_size(1 << 20, 1 << 20);
        if let Some((user, password)) = credentials {
            options.set_credentials(user, password);
        }
        if let Some(tls) = tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(tls),
            )));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let (tx, rx) = mpsc::unbounded_channel();
        let subscriber = client.clone();
        let driver = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for filter in ["homeassistant/#", "sense_pulse/#"] {
                            let _ = subscriber.try_subscribe(filter, QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // A pause before trying again (the broker is away), not a wait for an event.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Watcher {
            client,
            rx,
            seen: BTreeMap::new(),
            driver,
        }
    }

    /// Receives until `done` holds of what was seen.
    pub async fn until(&mut self, what: &str, done: impl Fn(&BTreeMap<String, Seen>) -> bool) {
        let wait = async {
            while !done(&self.seen) {
                let Some(p) = self.rx.recv().await else {
                    return false;
                };
                let payload = String::from_utf8_lossy(&p.payload).into_owned();
                self.seen.insert(
                    p.topic.clone(),
                    Seen {
                        payload,
                        retain: p.retain,
                    },
                );
            }
            true
        };
        if !matches!(tokio::time::timeout(WITHIN, wait).await, Ok(true)) {
            let topics: Vec<String> = self
                .seen
                .iter()
                .map(|(t, s)| format!("{t} = {}", s.payload.chars().take(80).collect::<String>()))
                .collect();
            panic!("never saw {what}; saw:\n{}", topics.join("\n"));
        }
    }

    /// Waits for `topic` to hold `payload`.
    pub async fn until_payload(&mut self, topic: &str, payload: &str) {
        self.until(&format!("{topic} = {payload}"), |seen| {
            seen.get(topic).is_some_and(|s| s.payload == payload)
        })
        .await;
    }

    /// The discovery configs seen, by topic.
    pub fn configs(&self) -> BTreeMap<String, Json> {
        self.seen
            .iter()
            .filter(|(t, s)| {
                t.starts_with("homeassistant/") && t.ends_with("/config") && !s.payload.is_empty()
            })
            .map(|(t, s)| {
                (
                    t.clone(),
                    serde_json::from_str(&s.payload).expect("discovery is JSON"),
                )
            })
            .collect()
    }
}
