//! One configuration's connection to the broker: what it published per source, and the
//! handling of reports, bus notices and commands while it lasts; apart from the config and
//! reconnect plumbing in `lib.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, QoS};
use sense_bus::command::CommandClient;
use sense_bus::config::MqttConfig;
use sense_bus::ids::{NodeName, split_scoped};
use sense_bus::keys::{self, channels};
use sense_bus::model::{Meta, NodeRecord};
use sense_bus::store::{self, SourceSnapshot};
use sense_bus::{Bus, Subscription};
use serde_json::{Map, Value as Json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::discovery::{self, DeviceInfo, Kind, Topics};
use crate::{
    ALERTS_CHANNEL, BridgeState, End, Options, Report, drive, is_mqtt_change, is_online,
    load_config, mqtt_options, wait_for_change,
};

/// One source as published.
#[derive(Debug, Default)]
struct Published {
    device: Option<DeviceInfo>,
    /// The kind each sensor was announced as.
    kinds: HashMap<String, Kind>,
    online: Option<bool>,
}

/// One configuration's connection to the broker.
pub(crate) struct Session<'a> {
    bus: &'a Bus,
    config: &'a MqttConfig,
    options: &'a Options,
    topics: Topics,
    client: AsyncClient,
    connected: bool,
    sources: BTreeMap<String, Published>,
    commands: Option<Arc<CommandClient>>,
    last_problem: Option<BridgeState>,
}

impl Session<'_> {
    pub(crate) async fn run(
        bus: &Bus,
        config: &MqttConfig,
        events: &mut Subscription,
        shutdown: &CancellationToken,
        options: &Options,
    ) -> End {
        let topics = Topics::new(config);
        options.tell(BridgeState::Connecting);
        let mqtt = match mqtt_options(config, &topics) {
            Ok(mqtt) => mqtt,
            Err(why) => {
                tracing::warn!(error = %why, "MQTT bridge: cannot connect");
                options.tell(BridgeState::Unreachable(why));
                return wait_for_change(bus, config, events, shutdown).await;
            }
        };
        tracing::info!(host = %config.host, port = config.port, tls = config.tls, "MQTT bridge: connecting");
        let (client, eventloop) = AsyncClient::new(mqtt, 4096);
        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let driver = drive(
            eventloop,
            report_tx,
            (options.backoff_min, options.backoff_max),
        );
        let mut session = Session {
            bus,
            config,
            options,
            topics,
            client,
            connected: false,
            sources: BTreeMap::new(),
            commands: None,
            last_problem: None,
        };
        let mut sweep = tokio::time::interval(options.status_sweep);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                () = shutdown.cancelled() => break End::Shutdown,
                report = reports.recv() => match report {
                    Some(Report::Connected) => session.on_connected().await,
                    Some(Report::Lost(state)) => session.on_lost(state),
                    Some(Report::Incoming(publish)) => session.on_incoming(publish).await,
                    // The driver is gone (it panicked): start a new session.
                    None => break End::Reconfigured(config.clone()),
                },
                message = events.recv() => {
                    let Some(message) = message else { break End::BusLost };
                    if is_mqtt_change(&message.channel, &message.payload) {
                        let next = load_config(bus).await;
                        if next != *config {
                            break End::Reconfigured(next);
                        }
                    } else if message.channel == ALERTS_CHANNEL {
                        session.forward_alert(message.payload);
                    } else if let Some(source) = channels::parse_data(&message.channel) {
                        session.refresh_source(source).await;
                    }
                }
                _ = sweep.tick() => session.sweep().await,
            }
        };
        session.close(driver, reports).await;
        end
    }

    fn publish(&self, topic: String, payload: impl Into<Vec<u8>>, retain: bool) {
        if !self.connected {
            return;
        }
        if let Err(e) = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            // Everything is published again at the next connection.
            tracing::warn!(error = %e, "MQTT bridge: a message could not be queued");
        }
    }

    async fn on_connected(&mut self) {
        self.connected = true;
        self.last_problem = None;
        self.options.tell(BridgeState::Connected);
        tracing::info!(host = %self.config.host, port = self.config.port, "MQTT bridge: connected");
        for topic in [self.topics.matrix_text_command(), self.topics.ha_status()] {
            if let Err(e) = self.client.try_subscribe(topic, QoS::AtLeastOnce) {
                tracing::warn!(error = %e, "MQTT bridge: cannot subscribe");
            }
        }
        self.publish(self.topics.bridge_availability(), "online", true);
        self.republish_all().await;
    }

    fn on_lost(&mut self, state: BridgeState) {
        self.connected = false;
        if self.last_problem.as_ref() != Some(&state) {
            match &state {
                BridgeState::Refused(why) | BridgeState::Unreachable(why) => tracing::warn!(
                    host = %self.config.host,
                    port = self.config.port,
                    "MQTT bridge: {why}; trying again"
                ),
                _ => {}
            }
            self.last_problem = Some(state.clone());
        }
        self.options.tell(state);
    }

    async fn on_incoming(&mut self, publish: rumqttc::Publish) {
        let text = String::from_utf8_lossy(&publish.payload).into_owned();
        if publish.topic == self.topics.ha_status() {
            if text == "online" {
                tracing::info!("Home Assistant started: publishing discovery again");
                self.republish_all().await;
            }
        } else if publish.topic == self.topics.matrix_text_command() {
            self.show_text(text).await;
        }
    }

    /// `show_text {text}` to the Sense HAT service, answered on its own task.
    async fn show_text(&mut self, text: String) {
        if self.commands.is_none() {
            match CommandClient::new(self.bus.clone()).await {
                Ok(client) => self.commands = Some(Arc::new(client)),
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT bridge: cannot send show_text");
                    return;
                }
            }
        }
        let Some(commands) = self.commands.clone() else {
            return;
        };
        let timeout = self.options.command_timeout;
        tokio::spawn(async move {
            let mut params = Map::new();
            params.insert("text".into(), Json::String(text));
            match commands.send(SENSORS, "show_text", params, timeout).await {
                Ok(answer) if answer.is_ok() => {}
                Ok(answer) => tracing::warn!(
                    error = answer.error.as_deref().unwrap_or("no reason given"),
                    "MQTT bridge: the Sense HAT refused show_text"
                ),
                Err(e) => tracing::warn!(error = %e, "MQTT bridge: show_text got no answer"),
            }
        });
    }

    fn forward_alert(&self, payload: String) {
        self.publish(self.topics.alerts(), payload, false);
    }

    /// Publishes everything again: after a (re)connection, or when Home Assistant started.
    async fn republish_all(&mut self) {
        for published in self.sources.values_mut() {
            published.kinds.clear();
            published.online = None;
        }
        match store::read_all_sources(self.bus).await {
            Ok(all) => {
                for (source, snapshot) in all {
                    self.publish_source(&source, &snapshot).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "MQTT bridge: cannot read the sources"),
        }
    }

    async fn refresh_source(&mut self, source: &str) {
        if !self.connected {
            return;
        }
        match store::read_source(self.bus, source).await {
            Ok(snapshot) => self.publish_source(source, &snapshot).await,
            Err(e) => tracing::warn!(source, error = %e, "MQTT bridge: cannot read a source"),
        }
    }

    async fn device(&mut self, source: &str) -> DeviceInfo {
        if let Some(device) = self.sources.get(source).and_then(|p| p.device.clone()) {
            return device;
        }
        let key = keys::meta(source);
        let name = match self.bus.get(&key).await {
            Ok(Some(text)) => serde_json::from_str::<Meta>(&text).ok().map(|m| m.name),
            _ => None,
        };
        let name = name.unwrap_or_else(|| source.to_owned());
        // A satellite's source: named with its room, which is its suggested area.
        let room = match split_scoped(source).1.and_then(|n| NodeName::parse(n).ok()) {
            Some(node) => match self.bus.get(&keys::node(&node)).await {
                Ok(Some(text)) => serde_json::from_str::<NodeRecord>(&text)
                    .ok()
                    .map(|r| r.room),
                _ => None,
            }
            .or_else(|| Some(node.to_string())),
            None => None,
        };
        let device = DeviceInfo {
            source: source.to_owned(),
            name: match &room {
                Some(room) => format!("{name} ({room})"),
                None => name,
            },
            room,
        };
        self.sources.entry(source.to_owned()).or_default().device = Some(device.clone());
        device
    }

    /// Discovery for readings not announced yet (or whose kind changed), every state, and the
    /// source's availability.
    async fn publish_source(&mut self, source: &str, snapshot: &SourceSnapshot) {
        if !self.connected {
            return;
        }
        let device = self.device(source).await;
        let published = self.sources.entry(source.to_owned()).or_default();
        let mut messages = Vec::new();
        let first = published.kinds.is_empty();
        for (sensor, reading) in &snapshot.readings {
            let Some(kind) = discovery::kind(sensor, reading) else {
                continue;
            };
            if published.kinds.get(sensor) != Some(&kind) {
                let config = discovery::sensor_config(&self.topics, &device, sensor, &kind);
                messages.push((config.topic, config.payload.to_string()));
                published.kinds.insert(sensor.clone(), kind.clone());
            }
            messages.push((
                self.topics.state(source, sensor),
                discovery::state(&reading.value, &kind),
            ));
        }
        if first && source == SENSORS && !published.kinds.is_empty() {
            let config = discovery::matrix_text_config(&self.topics, &device);
            messages.push((config.topic, config.payload.to_string()));
        }
        for (topic, payload) in messages {
            self.publish(topic, payload, true);
        }
        self.set_online(source, is_online(snapshot.status.as_ref()));
    }

    fn set_online(&mut self, source: &str, online: bool) {
        let published = self.sources.entry(source.to_owned()).or_default();
        if published.online == Some(online) {
            return;
        }
        published.online = Some(online);
        let payload = if online { "online" } else { "offline" };
        self.publish(self.topics.availability(source), payload, true);
    }

    /// Follows the statuses: a failed poll or an expired status makes its source `offline`.
    async fn sweep(&mut self) {
        if !self.connected {
            return;
        }
        let all = match store::read_all_sources(self.bus).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "MQTT bridge: cannot read the sources");
                return;
            }
        };
        let gone: BTreeSet<String> = self
            .sources
            .keys()
            .filter(|s| !all.contains_key(*s))
            .cloned()
            .collect();
        for source in gone {
            self.set_online(&source, false);
        }
        for (source, snapshot) in all {
            let known = self
                .sources
                .get(&source)
                .is_some_and(|p| !p.kinds.is_empty());
            if known {
                self.set_online(&source, is_online(snapshot.status.as_ref()));
            } else {
                self.publish_source(&source, &snapshot).await;
            }
        }
    }

    /// Says `offline` for the bridge (its last will covers a crash), disconnects, and stops the
    /// driver once the broker has the goodbye (or after a second).
    async fn close(
        self,
        driver: tokio::task::JoinHandle<()>,
        mut reports: mpsc::UnboundedReceiver<Report>,
    ) {
        if self.connected {
            self.publish(self.topics.bridge_availability(), "offline", true);
            let _ = self.client.try_disconnect();
            let gone = async {
                while let Some(report) = reports.recv().await {
                    if matches!(report, Report::Lost(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), gone).await;
        }
        driver.abort();
        tracing::info!("MQTT bridge: disconnected");
    }
}

/// The Sense HAT service's command target.
const SENSORS: &str = "sensors";
