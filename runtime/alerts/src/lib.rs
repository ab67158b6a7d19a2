//! # sense-alerts
//!
//! Alerts that reach a phone: rules on the sources' readings (`config:alerts`), sources that are
//! down, satellite Pis out of contact, and the data bus out of reach, sent to ntfy and a webhook.
//!
//! [`run`] follows the bus: each `data:{source}` notice has that source's readings and status read
//! and evaluated, every source is read whole every [`AlertsOptions::rescan`] (statuses that
//! expired, readings gone), the nodes' records (`node:*`) are read on every tick, and
//! `config:changed` for `alerts` puts new settings in force at once.
//! The state machine ([`engine`]) has no I/O. Fired and cleared events go to:
//!
//! - `alerts:active` (the alerts firing now), `alerts:history` (newest first, capped) and the
//!   `alerts` channel, on the bus;
//! - one outbox per delivery channel ([`deliver`]), delivered with retries and backoff; their
//!   health is written to `alerts:channels`.
//!
//! While Redis is away the engine keeps its state, alerts that the bus is down (delivered to ntfy
//! and the webhook, which need no Redis), and writes what it owes the bus once Redis is back.
#![warn(missing_docs)]

pub mod deliver;
pub mod engine;
pub mod text;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use sense_bus::config::AlertsConfig;
use sense_bus::ids::{Lifecycle, split_scoped};
use sense_bus::keys::{self, channels};
use sense_bus::model::{AlertEvent, ConfigChanged, Meta, NodeRecord, Value};
use sense_bus::store::{self, SourceSnapshot};
use sense_bus::{Batch, Bus, BusError, Message, SectionName, SourceId, Subscription, Topic};
use sense_http::{HttpClient, HttpOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use deliver::{Backoff, Board, Channel, Outbox};
use engine::{Engine, SourceObservation};

/// How [`run`] works; [`Default`] suits a Pi.
#[derive(Clone, Debug)]
pub struct AlertsOptions {
    /// The environment config is resolved with (as every service's).
    pub env: fn(&str) -> Option<String>,
    /// The HTTP client's limits for ntfy and the webhook.
    pub http: HttpOptions,
    /// How often the bus is checked and timers looked at (bus down, a value held).
    pub tick: Duration,
    /// How often every source is read whole (statuses that expired, readings gone).
    pub rescan: Duration,
    /// Retries of a failed delivery.
    pub backoff: Backoff,
    /// Alerts waiting per channel before the oldest is dropped.
    pub queue: usize,
    /// How times of day are written in messages.
    pub clock: text::Clock,
    /// A simulated run (`--sim`): alerts are evaluated and shown, never sent to a configured
    /// host.
    pub simulated: bool,
}

impl Default for AlertsOptions {
    fn default() -> Self {
        AlertsOptions {
            env: |name| std::env::var(name).ok(),
            http: HttpOptions::default(),
            tick: Duration::from_secs(5),
            rescan: Duration::from_secs(30),
            backoff: Backoff::default(),
            queue: 100,
            clock: text::local_clock,
            simulated: false,
        }
    }
}

/// Seconds since the epoch, advancing with tokio's clock (so paused time in tests moves it).
#[derive(Clone, Copy, Debug)]
struct Now {
    unix: f64,
    at: tokio::time::Instant,
}

impl Now {
    fn start() -> Now {
        Now {
            unix: sense_bus::unix_now(),
            at: tokio::time::Instant::now(),
        }
    }

    fn get(self) -> f64 {
        self.unix + self.at.elapsed().as_secs_f64()
    }
}

/// What the bus is owed: events not yet written, and whether `alerts:active` and
/// `alerts:channels` changed.
#[derive(Debug, Default)]
struct Owed {
    events: VecDeque<AlertEvent>,
    active: bool,
    channels: bool,
}

/// The service: evaluation, its bus I/O and the delivery workers.
struct Service {
    bus: Bus,
    options: AlertsOptions,
    engine: Engine,
    now: Now,
    outboxes: Vec<Arc<Outbox>>,
    board: Board,
    config_tx: watch::Sender<AlertsConfig>,
    owed: Owed,
    bus_up: bool,
    metas: BTreeMap<String, Meta>,
    sensors: BTreeSet<(String, String)>,
}

fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// Whether `source` is expected to report all the time (not the on-demand camera, the hub's or
/// a satellite's).
fn polled(source: &str) -> bool {
    split_scoped(source)
        .0
        .parse::<SourceId>()
        .map_or(true, |id| id.lifecycle() != Lifecycle::OnDemand)
}

impl Service {
    fn dispatch(&mut self, events: Vec<AlertEvent>) {
        if events.is_empty() {
            return;
        }
        let config = self.engine.config().clone();
        for event in events {
            tracing::info!(id = %event.id, kind = ?event.kind, message = %event.message, "alert");
            for outbox in &self.outboxes {
                if config.enabled && outbox.channel().enabled(&config) {
                    outbox.push(event.clone());
                }
            }
            if self.owed.events.len() >= keys::ALERTS_HISTORY_KEPT {
                self.owed.events.pop_front();
            }
            self.owed.events.push_back(event);
        }
        self.owed.active = true;
    }

    /// The bus failed or answered: tells the engine.
    fn bus_seen(&mut self, up: bool) {
        let was = self.bus_up;
        self.bus_up = up;
        if was != up {
            if up {
                tracing::info!("the data bus answers again");
            } else {
                tracing::warn!("the data bus is out of reach");
            }
        }
        let events = self.engine.bus(self.now.get(), up);
        self.dispatch(events);
    }

    fn result<T>(&mut self, r: Result<T, BusError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(error = %e, "bus operation failed");
                self.bus_seen(false);
                None
            }
        }
    }

    async fn load_config(&mut self) {
        let stored = self.bus.get(&keys::config(SectionName::Alerts)).await;
        let Some(stored) = self.result(stored) else {
            return;
        };
        // Resolved here, not across an await: the environment function is not `Sync`.
        let env = self.options.env;
        let resolved = sense_bus::config::resolve::<AlertsConfig>(stored.as_deref(), &env);
        for problem in resolved.problems {
            tracing::warn!(%problem, "config problem");
        }
        let config = resolved.value;
        let events = self.engine.set_config(config.clone(), self.now.get());
        let mut delivered = config;
        // A simulated run contacts no configured host: the channels stay off (Status says so).
        if self.options.simulated && (delivered.ntfy.enabled || delivered.webhook.enabled) {
            tracing::info!("simulated run: alerts are not sent to ntfy or the webhook");
            delivered.ntfy.enabled = false;
            delivered.webhook.enabled = false;
        }
        self.config_tx.send_replace(delivered);
        self.dispatch(events);
    }

    /// Feeds one source's readings and status.
    fn observe(&mut self, source: &str, snapshot: &SourceSnapshot) {
        let now = self.now.get();
        let mut events = Vec::new();
        self.sensors.retain(|(so, se)| {
            let keep = so != source || snapshot.readings.contains_key(se);
            if !keep {
                self.engine.reading_gone(so, se);
            }
            keep
        });
        for (sensor, reading) in &snapshot.readings {
            self.sensors.insert((source.to_owned(), sensor.clone()));
            match numeric(&reading.value) {
                Some(v) => events.extend(self.engine.reading(
                    now,
                    source,
                    sensor,
                    v,
                    reading.unit.as_deref(),
                )),
                None => self.engine.reading_gone(source, sensor),
            }
        }
        let meta = self.metas.get(source);
        let seen = SourceObservation {
            source,
            name: meta.map_or(source, |m| m.name.as_str()),
            watched: meta.is_none_or(|m| m.enabled) && polled(source),
            status: snapshot.status.as_ref(),
        };
        events.extend(self.engine.source(now, &seen));
        self.dispatch(events);
    }

    /// Reads every named node's record (`node:*`): a node not heard from is lost. A record that
    /// does not parse, or is filed under another name, is skipped.
    async fn read_nodes(&mut self) {
        let names = self.bus.keys(keys::ALL_NODES).await;
        let Some(names) = self.result(names) else {
            return;
        };
        let texts = self.bus.mget(&names).await;
        let Some(texts) = self.result(texts) else {
            return;
        };
        let mut records = Vec::new();
        for (key, text) in names.iter().zip(texts) {
            let (Some(name), Some(text)) = (keys::parse_node(key), text) else {
                continue;
            };
            match serde_json::from_str::<NodeRecord>(&text) {
                Ok(record) if record.name == name.as_str() => records.push(record),
                Ok(_) => tracing::debug!(%key, "skipping a node record of another name"),
                Err(e) => {
                    tracing::debug!(%key, error = %e, "skipping a node record that does not parse")
                }
            }
        }
        let events = self.engine.nodes(self.now.get(), &records);
        self.dispatch(events);
    }

    /// Reads every source whole.
    async fn rescan(&mut self) {
        let lives = store::read_all_source_lives(&self.bus).await;
        let Some(lives) = self.result(lives) else {
            return;
        };
        let meta_keys = self.bus.keys(&keys::meta("*")).await;
        let Some(meta_keys) = self.result(meta_keys) else {
            return;
        };
        let texts = self.bus.mget(&meta_keys).await;
        let Some(texts) = self.result(texts) else {
            return;
        };
        self.metas = texts
            .into_iter()
            .flatten()
            .filter_map(|t| serde_json::from_str::<Meta>(&t).ok())
            .map(|m| (m.source_id.clone(), m))
            .collect();
        let mut all: BTreeMap<String, SourceSnapshot> = lives
            .into_iter()
            .map(|(id, life)| (id, life.snapshot))
            .collect();
        // Sources that ran (they have a meta) but have nothing on the bus now, and sources seen
        // before: down once their status is gone.
        let known: Vec<String> = self
            .metas
            .keys()
            .cloned()
            .chain(self.sensors.iter().map(|(so, _)| so.clone()))
            .collect();
        for source in known {
            all.entry(source).or_default();
        }
        for (source, snapshot) in &all {
            self.observe(source, snapshot);
        }
    }

    async fn on_message(&mut self, message: Message) {
        if let Some(source) = channels::parse_data(&message.channel) {
            let source = source.to_owned();
            let snapshot = store::read_source(&self.bus, &source).await;
            if let Some(snapshot) = self.result(snapshot) {
                if !self.metas.contains_key(&source)
                    && let Ok(Some(text)) = self.bus.get(&keys::meta(&source)).await
                    && let Ok(meta) = serde_json::from_str::<Meta>(&text)
                {
                    self.metas.insert(source.clone(), meta);
                }
                self.observe(&source, &snapshot);
            }
        } else if message.channel == channels::CONFIG_CHANGED
            && serde_json::from_str::<ConfigChanged>(&message.payload)
                .is_ok_and(|c| c.section == SectionName::Alerts.as_str())
        {
            self.load_config().await;
        }
    }

    /// Writes what the bus is owed, in one batch.
    async fn flush(&mut self) {
        if !self.bus_up {
            return;
        }
        let channels_now = self.board.snapshot();
        if self.owed.events.is_empty() && !self.owed.active && !self.owed.channels {
            return;
        }
        let mut batch = Batch::new();
        for event in &self.owed.events {
            let json = store::to_json(event);
            batch.push_front_capped(
                keys::ALERTS_HISTORY,
                json.clone(),
                keys::ALERTS_HISTORY_KEPT,
                None,
            );
            batch.publish(channels::ALERTS, json);
        }
        if self.owed.active || !self.owed.events.is_empty() {
            batch.set(
                keys::ALERTS_ACTIVE,
                store::to_json(&self.engine.active()),
                None,
            );
        }
        if self.owed.channels {
            batch.set(keys::ALERTS_CHANNELS, store::to_json(&channels_now), None);
        }
        let applied = self.bus.apply(&batch).await;
        if self.result(applied).is_some() {
            self.owed = Owed::default();
        }
    }
}

async fn next_message(sub: &mut Option<Subscription>) -> Option<Message> {
    match sub {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs the alerts service on `bus` until `shutdown`.
pub async fn run(bus: Bus, options: AlertsOptions, shutdown: CancellationToken) {
    let board = Board::default();
    let http = HttpClient::new(options.http.clone());
    let (config_tx, config_rx) = watch::channel(AlertsConfig::default());
    let outboxes: Vec<Arc<Outbox>> = Channel::ALL
        .iter()
        .map(|c| Outbox::new(*c, options.queue, board.clone()))
        .collect();
    let mut workers = tokio::task::JoinSet::new();
    for outbox in &outboxes {
        workers.spawn(deliver::deliver(
            Arc::clone(outbox),
            config_rx.clone(),
            http.clone(),
            options.backoff,
            shutdown.clone(),
        ));
    }
    let mut service = Service {
        engine: Engine::new(AlertsConfig::default(), options.clock),
        now: Now::start(),
        bus,
        options,
        outboxes,
        board: board.clone(),
        config_tx,
        owed: Owed::default(),
        bus_up: true,
        metas: BTreeMap::new(),
        sensors: BTreeSet::new(),
    };
    // Alerts active before a restart stay active (not fired twice, and cleared when they end).
    let stored = service.bus.get(keys::ALERTS_ACTIVE).await;
    if let Some(Some(text)) = service.result(stored) {
        match serde_json::from_str::<Vec<AlertEvent>>(&text) {
            Ok(active) => service.engine.restore(active),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an alerts:active that is not a list of alerts")
            }
        }
    }
    service.load_config().await;

    let topics = [
        Topic::pattern(channels::ALL_DATA),
        Topic::channel(channels::CONFIG_CHANGED),
    ];
    let mut subscription: Option<Subscription> = None;
    let mut tick = tokio::time::interval(service.options.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rescan = tokio::time::interval(service.options.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if subscription.is_none() {
            let subscribed = service.bus.subscribe(&topics).await;
            if let Some(s) = service.result(subscribed) {
                subscription = Some(s);
                // Whatever happened while not subscribed: read it all.
                service.load_config().await;
                service.rescan().await;
            }
        }
        service.flush().await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            message = next_message(&mut subscription) => match message {
                Some(m) => service.on_message(m).await,
                None => subscription = None,
            },
            _ = tick.tick() => {
                let was_up = service.bus_up;
                let ping = service.bus.ping().await;
                let up = ping.is_ok();
                service.bus_seen(up);
                if up && !was_up {
                    service.owed.active = true;
                    service.owed.channels = true;
                    service.load_config().await;
                    service.rescan().await;
                }
                if up {
                    service.read_nodes().await;
                }
                let events = service.engine.tick(service.now.get());
                service.dispatch(events);
            }
            _ = rescan.tick() => service.rescan().await,
            () = board.changed.notified() => service.owed.channels = true,
        }
    }
    workers.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::polled;

    #[test]
    fn an_on_demand_camera_is_never_expected_to_report_on_any_pi() {
        assert!(!polled("network_camera") && !polled("network_camera@kitchen"));
        assert!(polled("co2@kitchen") && polled("node-pico@kitchen") && polled("system"));
    }
}
