//! # sense-mqtt
//!
//! The Home Assistant bridge: publishes every reading on the bus to an MQTT broker, with Home
//! Assistant's MQTT discovery ([`discovery`]), so each source appears in Home Assistant as a
//! device with its sensors; takes text for the Sense HAT's LED matrix as a `text` entity's
//! command; forwards the alert engine's events.
//!
//! [`run`] reads `config:mqtt` and follows `config:changed`: while the section is disabled it
//! only waits; when enabled it connects (TLS and credentials as configured), reconnects with
//! backoff whenever the broker goes away, and on every connection (and whenever Home Assistant
//! says it started) publishes, retained: the bridge's availability (`online`; its last will
//! `offline`), each source's availability (`offline` when its last poll failed or its status
//! expired), every discovery config and every state. Afterwards each `data:{source}` notice
//! publishes that source's states, and a sweep every few seconds follows the statuses.
//!
//! | topic | payload | retained |
//! |---|---|---|
//! | `{discovery_prefix}/sensor\|binary_sensor/{node}/{source}_{sensor}/config` | discovery config | yes |
//! | `{discovery_prefix}/text/{node}/sensors_matrix_text/config` | the LED matrix text entity | yes |
//! | `{base_topic}/{source}/{sensor}/state` | the value (`None` for null; `ON`/`OFF`) | yes |
//! | `{base_topic}/{source}/availability` | `online` / `offline` | yes |
//! | `{base_topic}/bridge/availability` | `online` / `offline` (last will) | yes |
//! | `{base_topic}/sensors/matrix_text/set` | text → `show_text` on `cmd:sensors` | (subscribed) |
//! | `{base_topic}/alerts` | the bus's `alerts` events, as they are | no |
//!
//! `{node}` is the base topic made safe (`[a-zA-Z0-9_-]`); ids with other characters (`:` of
//! `office:co2`) are made safe the same way.

pub mod discovery;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, MqttOptions,
    Packet, QoS, TlsConfiguration, Transport,
};
use sense_bus::command::CommandClient;
use sense_bus::config::{Config, MqttConfig, process_env};
use sense_bus::keys::{self, channels};
use sense_bus::model::{ConfigChanged, Meta, PollOutcome, Status};
use sense_bus::store::{self, SourceSnapshot};
use sense_bus::{Bus, SectionName, Subscription, Topic};
use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use discovery::{DeviceInfo, Kind, Topics};

/// The bus channel the alert engine publishes its events on.
pub const ALERTS_CHANNEL: &str = "alerts";

/// How the bridge is doing, for whoever watches it (tests, a status page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BridgeState {
    /// `config:mqtt` is disabled: nothing is published.
    Disabled,
    /// Connecting (or about to try again).
    Connecting,
    /// Connected to the broker.
    Connected,
    /// The broker refused the connection: the message says why (wrong credentials, …).
    Refused(String),
    /// The broker could not be reached or the connection broke: the message says why.
    Unreachable(String),
}

/// How the bridge runs; [`Options::default`] is what a service uses.
#[derive(Debug)]
pub struct Options {
    /// How often the sources' statuses are read for their availability (a failed poll writes no
    /// `data:` notice, and an expired status says nothing at all).
    pub status_sweep: Duration,
    /// The first pause before connecting again; it doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest pause between connection attempts.
    pub backoff_max: Duration,
    /// How long the Sense HAT service has to answer a `show_text`.
    pub command_timeout: Duration,
    /// Told every change of [`BridgeState`].
    pub state: Option<watch::Sender<BridgeState>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            status_sweep: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            command_timeout: Duration::from_secs(5),
            state: None,
        }
    }
}

impl Options {
    fn tell(&self, state: BridgeState) {
        if let Some(tx) = &self.state {
            tx.send_if_modified(|s| {
                let changed = *s != state;
                *s = state;
                changed
            });
        }
    }
}

/// Runs the bridge until `shutdown`, with the default [`Options`].
pub async fn run(bus: Bus, shutdown: CancellationToken) {
    run_with(bus, shutdown, Options::default()).await;
}

/// Runs the bridge until `shutdown`.
pub async fn run_with(bus: Bus, shutdown: CancellationToken, options: Options) {
    loop {
        let Some(mut events) = subscribe(&bus, &shutdown, &options).await else {
            return;
        };
        match follow(&bus, &mut events, &shutdown, &options).await {
            End::Shutdown => return,
            // The bus subscription ended: subscribe again and carry on from the config in force.
            _ => tracing::warn!("MQTT bridge: the bus subscription ended; subscribing again"),
        }
    }
}

/// Follows `config:mqtt`, running a session while it is enabled, until shutdown or the end of
/// the bus subscription.
async fn follow(
    bus: &Bus,
    events: &mut Subscription,
    shutdown: &CancellationToken,
    options: &Options,
) -> End {
    let mut config = load_config(bus).await;
    loop {
        if !config.enabled {
            options.tell(BridgeState::Disabled);
            tracing::debug!("MQTT is disabled (config:mqtt.enabled); waiting for config");
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return End::Shutdown,
                    message = events.recv() => {
                        let Some(message) = message else { return End::BusLost };
                        if is_mqtt_change(&message.channel, &message.payload) {
                            config = load_config(bus).await;
                            if config.enabled {
                                break;
                            }
                        }
                    }
                }
            }
        }
        match Session::run(bus, &config, events, shutdown, options).await {
            End::Reconfigured(next) => config = next,
            end => return end,
        }
    }
}

async fn subscribe(
    bus: &Bus,
    shutdown: &CancellationToken,
    options: &Options,
) -> Option<Subscription> {
    let topics = [
        Topic::channel(channels::CONFIG_CHANGED),
        Topic::pattern(channels::ALL_DATA),
        Topic::channel(ALERTS_CHANNEL),
    ];
    let mut pause = options.backoff_min;
    loop {
        match bus.subscribe(&topics).await {
            Ok(subscription) => return Some(subscription),
            Err(e) => tracing::warn!(error = %e, "MQTT bridge: cannot subscribe to the bus yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(options.backoff_max);
    }
}

fn is_mqtt_change(channel: &str, payload: &str) -> bool {
    channel == channels::CONFIG_CHANGED
        && serde_json::from_str::<ConfigChanged>(payload)
            .is_ok_and(|c| c.section == SectionName::Mqtt.as_str())
}

/// `config:mqtt` as in force (stored, environment, default). Problems are logged, naming the
/// field (never quoting the password); a bus that cannot be read leaves the bridge disabled
/// until the next `config:changed`.
async fn load_config(bus: &Bus) -> MqttConfig {
    let texts = match store::read_config_texts(bus, &[SectionName::Mqtt]).await {
        Ok(texts) => texts,
        Err(e) => {
            tracing::warn!(error = %e, "MQTT bridge: cannot read config:mqtt");
            return MqttConfig::default();
        }
    };
    let stored = |name: SectionName| texts.get(&name).cloned().flatten();
    let (config, problems) = Config::resolve(&[SectionName::Mqtt], stored, &process_env);
    for problem in problems {
        tracing::warn!(%problem, "config:mqtt");
    }
    config.mqtt
}

/// The rustls config for `config`: its CA file's certificates, or the public web's roots.
fn tls_config(config: &MqttConfig) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if config.ca_file.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        let certs = CertificateDer::pem_file_iter(&config.ca_file)
            .map_err(|e| format!("cannot read the CA file {}: {e}", config.ca_file))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("the CA file {}: {e}", config.ca_file))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA file {}: {e}", config.ca_file))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                config.ca_file
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn mqtt_options(config: &MqttConfig, topics: &Topics) -> Result<MqttOptions, String> {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_last_will(LastWill::new(
            topics.bridge_availability(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if !config.username.is_empty() {
        options.set_credentials(&config.username, &config.password);
    }
    if config.tls {
        let tls = tls_config(config)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls),
        )));
    }
    Ok(options)
}

/// Why a session ended.
enum End {
    Shutdown,
    Reconfigured(MqttConfig),
    BusLost,
}

/// What the event loop's driver reports.
enum Report {
    Connected,
    Lost(BridgeState),
    Incoming(rumqttc::Publish),
}

/// Says what a connection error means, in words.
fn describe(error: &ConnectionError) -> BridgeState {
    match error {
        ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ) => BridgeState::Refused(format!(
            "the broker refused the user name or password ({code:?})"
        )),
        ConnectionError::ConnectionRefused(code) => {
            BridgeState::Refused(format!("the broker refused the connection ({code:?})"))
        }
        other => BridgeState::Unreachable(other.to_string()),
    }
}

/// Polls the event loop on its own task (so publishing never waits on it), reconnecting with
/// backoff.
fn drive(
    mut eventloop: EventLoop,
    reports: mpsc::UnboundedSender<Report>,
    backoff: (Duration, Duration),
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = backoff.0;
        loop {
            let report = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    pause = backoff.0;
                    Report::Connected
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => Report::Incoming(publish),
                Ok(_) => continue,
                Err(e) => {
                    if reports.send(Report::Lost(describe(&e))).is_err() {
                        return;
                    }
                    // The pause before the next attempt (the next poll connects again).
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(backoff.1);
                    continue;
                }
            };
            if reports.send(report).is_err() {
                return;
            }
        }
    })
}

/// One source as published.
#[derive(Debug, Default)]
struct Published {
    device: Option<DeviceInfo>,
    /// The kind each sensor was announced as.
    kinds: HashMap<String, Kind>,
    online: Option<bool>,
}

/// One configuration's connection to the broker.
struct Session<'a> {
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
    async fn run(
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
        let device = DeviceInfo {
            source: source.to_owned(),
            name: name.unwrap_or_else(|| source.to_owned()),
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

/// While a configuration cannot be used (an unreadable CA file): waits for the next one.
async fn wait_for_change(
    bus: &Bus,
    config: &MqttConfig,
    events: &mut Subscription,
    shutdown: &CancellationToken,
) -> End {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return End::Shutdown,
            message = events.recv() => {
                let Some(message) = message else { return End::BusLost };
                if is_mqtt_change(&message.channel, &message.payload) {
                    let next = load_config(bus).await;
                    if next != *config {
                        return End::Reconfigured(next);
                    }
                }
            }
        }
    }
}

/// The Sense HAT service's command target.
const SENSORS: &str = "sensors";

/// Whether a source counts as available: it has a status (not expired) and its last poll did
/// not fail (`partial` is available: most of it works).
pub fn is_online(status: Option<&Status>) -> bool {
    status.is_some_and(|s| s.outcome() != PollOutcome::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_online_while_its_status_lives_and_its_polls_do_not_fail() {
        let status = |json: Json| serde_json::from_value::<Status>(json).unwrap();
        assert!(!is_online(None), "expired");
        assert!(is_online(Some(&status(
            serde_json::json!({"source_id": "co2", "outcome": "ok"})
        ))));
        assert!(is_online(Some(&status(
            serde_json::json!({"source_id": "co2", "outcome": "partial", "last_error": "garage"})
        ))));
        assert!(!is_online(Some(&status(
            serde_json::json!({"source_id": "co2", "outcome": "failed", "last_error": "x"})
        ))));
        // Upstream's statuses have no outcome: an error means failed.
        assert!(!is_online(Some(&status(
            serde_json::json!({"source_id": "co2", "last_error": "x"})
        ))));
    }
}
