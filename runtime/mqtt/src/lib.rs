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
mod session;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use sense_bus::config::{Config, MqttConfig, process_env};
use sense_bus::keys::channels;
use sense_bus::model::{ConfigChanged, PollOutcome, Status};
use sense_bus::store;
use sense_bus::{Bus, SectionName, Subscription, Topic};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use discovery::Topics;
use session::Session;

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

/// Whether a source counts as available: it has a status (not expired) and its last poll did
/// not fail (`partial` is available: most of it works).
pub fn is_online(status: Option<&Status>) -> bool {
    status.is_some_and(|s| s.outcome() != PollOutcome::Failed)
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

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
