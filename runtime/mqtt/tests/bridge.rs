//! The bridge against a real Mosquitto and a real Redis: readings written through the sources'
//! write path appear as Home Assistant discovery configs and states; availability follows the
//! statuses; the LED matrix text becomes a `show_text` command; alerts are forwarded; the bridge
//! reconnects after the broker restarts, logs in with credentials, and speaks TLS.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use sense_bus::command::CommandServer;
use sense_bus::model::{CommandResponse, Value};
use sense_bus::{Bus, keys};
use sense_hal::Unit;
use sense_mqtt::BridgeState;
use sense_testkit::{MosquittoServer, TestCerts};
use serde_json::{Map, Value as Json, json};

/// The units Home Assistant accepts for each device class used (its sensor device class
/// table), and the state classes there are.
fn units_of(device_class: &str) -> &'static [&'static str] {
    match device_class {
        "temperature" => &["°C", "°F", "K"],
        "humidity" | "battery" => &["%"],
        "atmospheric_pressure" | "pressure" => &[
            "cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi",
        ],
        "carbon_dioxide" => &["ppm"],
        "duration" => &["d", "h", "min", "s", "ms"],
        other => panic!("a device class this test does not know: {other}"),
    }
}

fn safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks every discovery config against Home Assistant's documented schema; returns the
/// unique ids.
fn check_schema(configs: &std::collections::BTreeMap<String, Json>) -> BTreeSet<String> {
    let mut unique_ids = BTreeSet::new();
    for (topic, config) in configs {
        let parts: Vec<&str> = topic.split('/').collect();
        assert_eq!(
            parts.len(),
            5,
            "{topic}: <prefix>/<component>/<node_id>/<object_id>/config"
        );
        assert_eq!(parts[0], "homeassistant");
        assert!(
            ["sensor", "binary_sensor", "text"].contains(&parts[1]),
            "{topic}"
        );
        assert!(
            safe(parts[2]) && safe(parts[3]),
            "{topic}: ids are [a-zA-Z0-9_-]"
        );
        let c = config.as_object().expect("a JSON object");
        let unique_id = c["unique_id"].as_str().expect("unique_id");
        assert!(
            unique_ids.insert(unique_id.to_owned()),
            "{unique_id} is not unique"
        );
        assert!(c["name"].is_string(), "{topic}: name");
        // The device block ties the entity to its source's device.
        let device = c["device"].as_object().expect("device");
        let ids = device["identifiers"].as_array().expect("identifiers");
        assert!(
            !ids.is_empty() && ids.iter().all(Json::is_string),
            "{topic}"
        );
        assert_eq!(device["manufacturer"], "Sense Pulse");
        assert!(
            device["name"].is_string() && device["model"].is_string(),
            "{topic}"
        );
        assert!(c["origin"]["name"].is_string(), "{topic}: origin");
        // Availability: the bridge's and the source's, both required.
        assert_eq!(c["availability_mode"], "all", "{topic}");
        let availability: Vec<&str> = c["availability"]
            .as_array()
            .expect("availability list")
            .iter()
            .map(|a| {
                assert_eq!(a["payload_available"], "online");
                assert_eq!(a["payload_not_available"], "offline");
                a["topic"].as_str().expect("topic")
            })
            .collect();
        assert_eq!(availability[0], "sense_pulse/bridge/availability");
        assert!(
            availability[1].starts_with("sense_pulse/")
                && availability[1].ends_with("/availability")
        );
        match parts[1] {
            "sensor" | "binary_sensor" => {
                let state = c["state_topic"].as_str().expect("state_topic is required");
                assert!(state.starts_with("sense_pulse/") && state.ends_with("/state"));
                assert!(!state.contains(['+', '#', ':']), "{state}");
            }
            _ => {
                let command = c["command_topic"]
                    .as_str()
                    .expect("command_topic is required");
                assert_eq!(command, "sense_pulse/sensors/matrix_text/set");
            }
        }
        if let Some(class) = c.get("device_class").and_then(Json::as_str) {
            if parts[1] == "binary_sensor" {
                assert_eq!(class, "connectivity");
            } else {
                let unit = c["unit_of_measurement"]
                    .as_str()
                    .expect("a device class has a unit");
                assert!(
                    units_of(class).contains(&unit),
                    "{topic}: {class} in {unit}"
                );
            }
        }
        if let Some(state_class) = c.get("state_class") {
            assert!(
                ["measurement", "total", "total_increasing"]
                    .contains(&state_class.as_str().unwrap()),
                "{topic}"
            );
        }
    }
    unique_ids
}

async fn write_sources(bus: &Bus) {
    poll(
        bus,
        "sensors",
        &[
            ("temperature", Value::Float(21.5), Some(Unit::CELSIUS)),
            ("humidity", Value::Float(40.25), Some(Unit::PERCENT)),
            ("pressure", Value::Float(1013.2), Some(Unit::MILLIBAR)),
        ],
        None,
    )
    .await;
    poll(
        bus,
        "system",
        &[
            ("cpu_percent", Value::Float(12.5), Some(Unit::PERCENT)),
            ("cpu_temp", Value::Null, Some(Unit::CELSIUS)),
            ("uptime", Value::Int(3600), Some(Unit::SECONDS)),
            ("load_1min", Value::Float(0.5), Some(Unit::LOAD)),
        ],
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_appear_as_discovered_devices_with_their_states() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    // Two sources before the bridge starts (published on connecting) ...
    write_sources(&bus).await;
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let bridge = Bridge::start(&bus, config_for(&broker)).await;
    watcher
        .until_payload("sense_pulse/bridge/availability", "online")
        .await;
    watcher
        .until_payload("sense_pulse/sensors/temperature/state", "21.5")
        .await;
    // ... and two after (published on their data: notices).
    poll(
        &bus,
        "co2",
        &[
            ("office:co2", Value::Int(812), Some(Unit::PPM)),
            (
                "office:temperature",
                Value::Float(22.1),
                Some(Unit::CELSIUS),
            ),
            ("office:battery", Value::Int(87), Some(Unit::PERCENT)),
            ("office:status", Value::Text("green".into()), None),
        ],
        None,
    )
    .await;
    poll(
        &bus,
        "tailscale",
        &[("connected", Value::Bool(true), None)],
        None,
    )
    .await;

    let expected = [
        "homeassistant/sensor/sense_pulse/sensors_temperature/config",
        "homeassistant/sensor/sense_pulse/sensors_humidity/config",
        "homeassistant/sensor/sense_pulse/sensors_pressure/config",
        "homeassistant/text/sense_pulse/sensors_matrix_text/config",
        "homeassistant/sensor/sense_pulse/system_cpu_percent/config",
        "homeassistant/sensor/sense_pulse/system_cpu_temp/config",
        "homeassistant/sensor/sense_pulse/system_uptime/config",
        "homeassistant/sensor/sense_pulse/system_load_1min/config",
        "homeassistant/sensor/sense_pulse/co2_office_co2/config",
        "homeassistant/sensor/sense_pulse/co2_office_temperature/config",
        "homeassistant/sensor/sense_pulse/co2_office_battery/config",
        "homeassistant/sensor/sense_pulse/co2_office_status/config",
        "homeassistant/binary_sensor/sense_pulse/tailscale_connected/config",
    ];
    watcher
        .until("every discovery config", |seen| {
            expected.iter().all(|t| seen.contains_key(*t))
        })
        .await;
    watcher
        .until_payload("sense_pulse/co2/office_co2/state", "812")
        .await;
    watcher
        .until_payload("sense_pulse/tailscale/connected/state", "ON")
        .await;
    watcher
        .until_payload("sense_pulse/co2/availability", "online")
        .await;

    let configs = watcher.configs();
    assert_eq!(configs.len(), expected.len(), "{:?}", configs.keys());
    let unique_ids = check_schema(&configs);
    assert_eq!(unique_ids.len(), expected.len());

    // What Home Assistant gets, exactly, for a few.
    let temperature = &configs["homeassistant/sensor/sense_pulse/sensors_temperature/config"];
    assert_eq!(temperature["device_class"], "temperature");
    assert_eq!(temperature["unit_of_measurement"], "°C");
    assert_eq!(temperature["state_class"], "measurement");
    assert_eq!(
        temperature["state_topic"],
        "sense_pulse/sensors/temperature/state"
    );
    assert_eq!(
        temperature["device"]["name"], "The sensors",
        "from meta:sensors"
    );
    assert_eq!(temperature["device"]["model"], "Sense HAT");
    assert_eq!(
        configs["homeassistant/sensor/sense_pulse/sensors_pressure/config"]["device_class"],
        "atmospheric_pressure"
    );
    let co2 = &configs["homeassistant/sensor/sense_pulse/co2_office_co2/config"];
    assert_eq!(co2["device_class"], "carbon_dioxide");
    assert_eq!(co2["unit_of_measurement"], "ppm");
    assert_eq!(co2["device"]["model"], "Aranet4");
    assert_eq!(
        co2["availability"][1]["topic"],
        "sense_pulse/co2/availability"
    );
    let battery = &configs["homeassistant/sensor/sense_pulse/co2_office_battery/config"];
    assert_eq!(battery["device_class"], "battery");
    let cpu = &configs["homeassistant/sensor/sense_pulse/system_cpu_percent/config"];
    assert!(cpu.get("device_class").is_none(), "no class fits a CPU's %");
    assert_eq!(cpu["unit_of_measurement"], "%");
    let uptime = &configs["homeassistant/sensor/sense_pulse/system_uptime/config"];
    assert_eq!(
        (
            uptime["device_class"].as_str(),
            uptime["unit_of_measurement"].as_str()
        ),
        (Some("duration"), Some("s"))
    );
    let status = &configs["homeassistant/sensor/sense_pulse/co2_office_status/config"];
    assert!(status.get("state_class").is_none() && status.get("unit_of_measurement").is_none());
    let connected = &configs["homeassistant/binary_sensor/sense_pulse/tailscale_connected/config"];
    assert_eq!(
        (
            connected["payload_on"].as_str(),
            connected["payload_off"].as_str()
        ),
        (Some("ON"), Some("OFF"))
    );
    // One device per source.
    let devices: BTreeSet<String> = configs
        .values()
        .map(|c| c["device"]["identifiers"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        devices,
        [
            "sense_pulse_co2",
            "sense_pulse_sensors",
            "sense_pulse_system",
            "sense_pulse_tailscale"
        ]
        .map(str::to_owned)
        .into()
    );

    // States: numbers as Home Assistant parses them, null as `None`.
    for (topic, payload) in [
        ("sense_pulse/sensors/humidity/state", "40.25"),
        ("sense_pulse/system/cpu_temp/state", "None"),
        ("sense_pulse/system/uptime/state", "3600"),
        ("sense_pulse/co2/office_status/state", "green"),
        ("sense_pulse/sensors/availability", "online"),
    ] {
        assert_eq!(watcher.seen[topic].payload, payload, "{topic}");
    }

    // A new poll publishes the new state.
    poll(
        &bus,
        "sensors",
        &[("temperature", Value::Float(22.0), Some(Unit::CELSIUS))],
        None,
    )
    .await;
    watcher
        .until_payload("sense_pulse/sensors/temperature/state", "22")
        .await;

    // Configs, states and availability are retained: a client that comes later gets them all.
    let mut late = Watcher::connect(broker.port(), None, None);
    late.until("the retained configs", |seen| {
        expected.iter().all(|t| seen.contains_key(*t))
    })
    .await;
    late.until_payload("sense_pulse/sensors/temperature/state", "22")
        .await;
    for topic in expected {
        assert!(late.seen[topic].retain, "{topic} is retained");
    }
    assert!(late.seen["sense_pulse/bridge/availability"].retain);

    bridge.stop().await;
    // A bridge that stops says so.
    watcher
        .until_payload("sense_pulse/bridge/availability", "offline")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_expired_status_makes_a_source_offline() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let bridge = Bridge::start(&bus, config_for(&broker)).await;
    poll(
        &bus,
        "sensors",
        &[("temperature", Value::Float(20.0), Some(Unit::CELSIUS))],
        None,
    )
    .await;
    watcher
        .until_payload("sense_pulse/sensors/availability", "online")
        .await;

    // A failed poll: a status with an error and no readings (and no data: notice).
    poll(&bus, "sensors", &[], Some("HTS221 not answering")).await;
    watcher
        .until_payload("sense_pulse/sensors/availability", "offline")
        .await;

    poll(
        &bus,
        "sensors",
        &[("temperature", Value::Float(20.5), Some(Unit::CELSIUS))],
        None,
    )
    .await;
    watcher
        .until_payload("sense_pulse/sensors/availability", "online")
        .await;
    watcher
        .until_payload("sense_pulse/sensors/temperature/state", "20.5")
        .await;

    // The status expires (its TTL is two minutes at least; taken away here as Redis would).
    assert!(bus.del(&keys::status("sensors")).await.unwrap());
    watcher
        .until_payload("sense_pulse/sensors/availability", "offline")
        .await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_text_becomes_a_show_text_command_and_alerts_are_forwarded() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let mut sensehat = CommandServer::listen(&bus, "sensors").await.unwrap();
    poll(
        &bus,
        "sensors",
        &[("temperature", Value::Float(20.0), Some(Unit::CELSIUS))],
        None,
    )
    .await;
    let bridge = Bridge::start(&bus, config_for(&broker)).await;
    watcher
        .until("the text entity", |seen| {
            seen.contains_key("homeassistant/text/sense_pulse/sensors_matrix_text/config")
        })
        .await;
    let config: Json = serde_json::from_str(
        &watcher.seen["homeassistant/text/sense_pulse/sensors_matrix_text/config"].payload,
    )
    .unwrap();
    assert_eq!(
        config["command_topic"],
        "sense_pulse/sensors/matrix_text/set"
    );
    assert_eq!(config["device"]["identifiers"][0], "sense_pulse_sensors");

    // Home Assistant sets the text.
    watcher
        .client
        .publish(
            "sense_pulse/sensors/matrix_text/set",
            rumqttc::QoS::AtLeastOnce,
            false,
            "Hello, HA",
        )
        .await
        .unwrap();
    let command = tokio::time::timeout(WITHIN, sensehat.next())
        .await
        .expect("a command within the bound")
        .expect("the bus is up");
    assert_eq!(command.action, "show_text");
    assert_eq!(command.params["text"], "Hello, HA");
    sensehat
        .respond(&CommandResponse::ok(&command.request_id, Map::new()))
        .await
        .unwrap();

    // An alert event on the bus goes to {base}/alerts as it is, not retained.
    let alert = json!({"id": "a1", "rule": "co2-high", "name": "CO2 high", "kind": "fired",
        "source": "co2", "sensor": "office:co2", "label": "office", "value": 1500, "unit": "ppm",
        "threshold": 1400, "condition": "above", "since": 1.0, "at": 2.0,
        "message": "office CO2 1500 ppm is above 1400 ppm"})
    .to_string();
    assert_eq!(
        bus.publish(sense_mqtt::ALERTS_CHANNEL, &alert)
            .await
            .unwrap(),
        1
    );
    watcher.until_payload("sense_pulse/alerts", &alert).await;
    assert!(!watcher.seen["sense_pulse/alerts"].retain);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_reconnects_and_publishes_everything_again_after_a_broker_restart() {
    let (_redis, bus) = redis().await;
    let mut broker = MosquittoServer::start();
    write_sources(&bus).await;
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let mut bridge = Bridge::start(&bus, config_for(&broker)).await;
    let temperature = "homeassistant/sensor/sense_pulse/sensors_temperature/config";
    watcher
        .until("discovery", |seen| seen.contains_key(temperature))
        .await;
    bridge
        .wait_state("connected", |s| *s == BridgeState::Connected)
        .await;

    broker.stop();
    let lost = bridge
        .wait_state("the broker lost", |s| {
            matches!(s, BridgeState::Unreachable(_))
        })
        .await;
    assert!(matches!(lost, BridgeState::Unreachable(_)));
    // An empty broker (nothing retained survives): the bridge publishes it all again.
    broker.restart();
    watcher.seen.clear();
    bridge
        .wait_state("connected again", |s| *s == BridgeState::Connected)
        .await;
    watcher
        .until("discovery and states again", |seen| {
            seen.contains_key(temperature)
                && seen.contains_key("homeassistant/text/sense_pulse/sensors_matrix_text/config")
                && seen
                    .get("sense_pulse/sensors/temperature/state")
                    .is_some_and(|s| s.payload == "21.5")
                && seen
                    .get("sense_pulse/system/availability")
                    .is_some_and(|s| s.payload == "online")
                && seen
                    .get("sense_pulse/bridge/availability")
                    .is_some_and(|s| s.payload == "online")
        })
        .await;
    // Retained on the new broker too.
    let mut late = Watcher::connect(broker.port(), None, None);
    late.until("retained discovery", |seen| {
        seen.get(temperature).is_some_and(|s| s.retain)
    })
    .await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_and_right_ones_accepted_without_a_restart() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start_with(|dir| {
        let passwords = sense_testkit::mosquitto::write_password_file(dir, "pulse", "s3cret");
        format!(
            "allow_anonymous false\npassword_file {}\n",
            passwords.display()
        )
    });
    write_sources(&bus).await;
    let mut config = config_for(&broker);
    config["username"] = json!("pulse");
    config["password"] = json!("wrong");
    let mut bridge = Bridge::start(&bus, config).await;
    let refused = bridge
        .wait_state("refused", |s| matches!(s, BridgeState::Refused(_)))
        .await;
    let BridgeState::Refused(why) = refused else {
        unreachable!()
    };
    assert!(why.contains("user name or password"), "{why}");
    assert!(
        !why.contains("wrong"),
        "the password is never quoted: {why}"
    );

    // Fixed in the dashboard: applied without a restart.
    set_config(&bus, json!({"password": "s3cret"})).await;
    bridge
        .wait_state("connected", |s| *s == BridgeState::Connected)
        .await;
    let mut watcher = Watcher::connect(broker.port(), Some(("pulse", "s3cret")), None);
    watcher
        .until_payload("sense_pulse/sensors/temperature/state", "21.5")
        .await;
    // The broker logged its refusal of the wrong password too.
    assert!(broker.log().contains("not authorised") || broker.log().contains("not authorized"));

    // Disabled: the bridge says it is offline and goes quiet.
    set_config(&bus, json!({"enabled": false})).await;
    bridge
        .wait_state("disabled", |s| *s == BridgeState::Disabled)
        .await;
    watcher
        .until_payload("sense_pulse/bridge/availability", "offline")
        .await;
    bridge.stop().await;
}

fn tls_client(ca: &Path) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_speaks_tls_trusting_its_ca_file() {
    let (_redis, bus) = redis().await;
    let certs = TestCerts::generate();
    let broker = MosquittoServer::start_with(|_| {
        format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\n",
            certs.ca().display(),
            certs.server_cert().display(),
            certs.server_key().display()
        )
    });
    let ca = certs.ca();
    write_sources(&bus).await;

    // A CA file that is not there is said, and the next config is waited for.
    let mut config = config_for(&broker);
    config["tls"] = json!(true);
    config["ca_file"] = json!(broker.dir().join("missing.pem").display().to_string());
    let mut bridge = Bridge::start(&bus, config).await;
    let missing = bridge
        .wait_state("a missing CA file", |s| {
            matches!(s, BridgeState::Unreachable(_))
        })
        .await;
    assert!(
        format!("{missing:?}").contains("cannot read the CA file"),
        "{missing:?}"
    );

    // Without the CA the broker's certificate is not trusted.
    set_config(&bus, json!({"ca_file": ""})).await;
    let untrusted = bridge
        .wait_state(
            "a TLS failure",
            |s| matches!(s, BridgeState::Unreachable(why) if !why.contains("CA file")),
        )
        .await;
    let BridgeState::Unreachable(why) = untrusted else {
        unreachable!()
    };
    assert!(
        why.to_lowercase().contains("tls") || why.contains("certificate"),
        "{why}"
    );

    set_config(&bus, json!({"ca_file": ca.display().to_string()})).await;
    bridge
        .wait_state("connected over TLS", |s| *s == BridgeState::Connected)
        .await;
    let mut watcher = Watcher::connect(broker.port(), None, Some(tls_client(&ca)));
    watcher
        .until_payload("sense_pulse/sensors/temperature/state", "21.5")
        .await;
    watcher
        .until_payload("sense_pulse/bridge/availability", "online")
        .await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_bridge_publishes_nothing_until_enabled() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    write_sources(&bus).await;
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let mut config = config_for(&broker);
    config["enabled"] = json!(false);
    let mut bridge = Bridge::start(&bus, config).await;
    bridge
        .wait_state("disabled", |s| *s == BridgeState::Disabled)
        .await;
    // Another base topic and discovery prefix, enabled later: applied without a restart.
    set_config(
        &bus,
        json!({"enabled": true, "base_topic": "home/pulse", "discovery_prefix": "homeassistant"}),
    )
    .await;
    bridge
        .wait_state("connected", |s| *s == BridgeState::Connected)
        .await;
    watcher
        .client
        .subscribe("home/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    watcher
        .until_payload("home/pulse/sensors/temperature/state", "21.5")
        .await;
    watcher
        .until("discovery under the new node id", |seen| {
            seen.keys().any(|t| {
                t.starts_with("homeassistant/sensor/home_pulse_")
                    && t.ends_with("/sensors_temperature/config")
            })
        })
        .await;
    assert!(
        !watcher.seen.keys().any(|t| t.starts_with("sense_pulse/")),
        "nothing was published while disabled: {:?}",
        watcher.seen.keys()
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_starting_gets_the_discovery_again() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    write_sources(&bus).await;
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let bridge = Bridge::start(&bus, config_for(&broker)).await;
    let temperature = "homeassistant/sensor/sense_pulse/sensors_temperature/config";
    watcher
        .until("discovery", |seen| seen.contains_key(temperature))
        .await;
    watcher.seen.clear();
    // Home Assistant's birth message (not retained), as it sends it when it starts.
    watcher
        .client
        .publish(
            "homeassistant/status",
            rumqttc::QoS::AtLeastOnce,
            false,
            "online",
        )
        .await
        .unwrap();
    watcher
        .until("discovery again, live", |seen| {
            seen.get(temperature).is_some_and(|s| !s.retain)
                && seen.contains_key("sense_pulse/sensors/temperature/state")
        })
        .await;
    bridge.stop().await;
}

/// With several Pis, each satellite's sources are devices of their own: named with the room
/// (two "Sense HAT" devices would make Home Assistant's entities `…_temperature_2`), in the room
/// as their suggested area, with the model of their kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satellites_sources_are_devices_named_with_their_room_in_its_area() {
    let (_redis, bus) = redis().await;
    let broker = MosquittoServer::start();
    write_sources(&bus).await;
    // The kitchen's record, as its orchestrator writes it, and its Sense HAT's poll.
    let record = json!({
        "name": "kitchen", "room": "Kitchen", "last_contact": sense_bus::unix_now(),
        "interval_s": 5.0, "sources": ["sensors@kitchen"], "version": "0.1.0",
    });
    bus.set(
        &keys::node(&sense_bus::ids::NodeName::parse("kitchen").unwrap()),
        &record.to_string(),
        None,
    )
    .await
    .unwrap();
    poll(
        &bus,
        "sensors@kitchen",
        &[("temperature", Value::Float(19.5), Some(Unit::CELSIUS))],
        None,
    )
    .await;
    let meta = json!({
        "source_id": "sensors@kitchen", "name": "Sense HAT", "description": "test",
        "refresh_interval": 30, "enabled": true,
    });
    bus.set(&keys::meta("sensors@kitchen"), &meta.to_string(), None)
        .await
        .unwrap();
    let mut watcher = Watcher::connect(broker.port(), None, None);
    let bridge = Bridge::start(&bus, config_for(&broker)).await;
    let kitchens = |seen: &std::collections::BTreeMap<String, Seen>| {
        seen.iter()
            .filter(|(t, _)| t.starts_with("homeassistant/sensor/") && t.contains("kitchen"))
            .count()
    };
    watcher
        .until("the kitchen's temperature discovered", |seen| {
            kitchens(seen) > 0
                && seen.contains_key("homeassistant/sensor/sense_pulse/sensors_temperature/config")
        })
        .await;
    let configs = watcher.configs();
    let (topic, kitchen) = configs
        .iter()
        .find(|(t, _)| t.contains("kitchen") && t.ends_with("temperature/config"))
        .expect("the kitchen's temperature");
    assert_eq!(kitchen["device"]["name"], "Sense HAT (Kitchen)", "{topic}");
    assert_eq!(kitchen["device"]["suggested_area"], "Kitchen");
    assert_eq!(kitchen["device"]["model"], "Sense HAT");
    // The hub's stays as it was: no room, its own device.
    let hub = &configs["homeassistant/sensor/sense_pulse/sensors_temperature/config"];
    assert_eq!(hub["device"]["name"], "The sensors");
    assert!(hub["device"].get("suggested_area").is_none());
    assert_ne!(
        hub["device"]["identifiers"],
        kitchen["device"]["identifiers"]
    );
    check_schema(&configs);
    bridge.stop().await;
}
