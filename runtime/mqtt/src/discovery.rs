//! Home Assistant's MQTT discovery: which entity each reading becomes, its config payload and
//! topics, and the state payloads.
//!
//! # The schema followed
//!
//! From Home Assistant's MQTT documentation (home-assistant.io/integrations/mqtt, "MQTT
//! Discovery"; /integrations/sensor.mqtt, /integrations/binary_sensor.mqtt,
//! /integrations/text.mqtt; the sensor device classes of developers.home-assistant.io
//! docs/core/entity/sensor):
//!
//! - A discovery config is a JSON object published **retained** to
//!   `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, where `node_id` and
//!   `object_id` consist only of `[a-zA-Z0-9_-]`. An empty retained payload removes it.
//! - `unique_id` makes the entity editable and is required for the `device` block to tie it into
//!   the device registry; `device` needs `identifiers` (or `connections`) and takes `name`,
//!   `manufacturer`, `model`, `sw_version`. `origin` (`name`, `sw_version`, `support_url`) says
//!   which application published the config.
//! - `availability` is a list of `{topic, payload_available, payload_not_available}` (defaults
//!   `online` / `offline`); with `availability_mode: all` the entity is available only while
//!   every listed topic says so. Retained availability messages are seen at once by a Home
//!   Assistant that starts later.
//! - `sensor`: `state_topic` is required. `device_class` must fit the unit: `temperature` (°C,
//!   °F, K), `humidity` (%), `atmospheric_pressure` (cbar, bar, hPa, mmHg, inHg, kPa, mbar, Pa,
//!   psi), `carbon_dioxide` (ppm), `battery` (%), `duration` (d, h, min, s, ms), `distance` (km,
//!   m, …), `wind_speed` (km/h, m/s, …), `data_size` (MB, …), `signal_strength` (dB, dBm); none
//!   where nothing fits (any unit then). `state_class: measurement` marks a numeric value
//!   measured now (long-term statistics); a sensor with a unit or a state class must have numeric
//!   states. A state payload `None` sets the state to unknown.
//! - `binary_sensor`: states `ON` / `OFF` (its `payload_on` / `payload_off` defaults), `None`
//!   for unknown; `device_class: connectivity` for a connection.
//! - `text`: `command_topic` is required; Home Assistant publishes the text entered there.
//!   `min` (default 0) and `max` (default 255) bound its length; `mode` is `text` or `password`.
//! - Home Assistant publishes `online` to `<discovery_prefix>/status` when it starts (its birth
//!   message): configs are published again then.

use std::collections::BTreeMap;

use sense_bus::model::{Reading, Value};
use serde_json::{Value as Json, json};

use sense_bus::config::MqttConfig;

/// Where the project lives, for the `origin` block.
const SUPPORT_URL: &str = "https://github.com/sense-pulse/sense-pulse";
/// The manufacturer of every device.
pub const MANUFACTURER: &str = "Sense Pulse";
/// Longest state Home Assistant keeps (its states are at most 255 characters).
const MAX_STATE: usize = 255;
/// Longest text the Sense HAT's `show_text` takes.
pub const MAX_MATRIX_TEXT: usize = 200;

/// `text` as an MQTT topic level and a discovery id: `[a-zA-Z0-9_-]` only. `:` (sensor ids such as
/// `office:co2`) becomes `_`; when anything else had to be replaced, a short hash of the
/// original is added, so two ids that differ only in such characters stay apart.
pub fn safe_id(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lossy = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else {
            lossy |= c != ':';
            out.push('_');
        }
    }
    if lossy || out.is_empty() {
        let hash = text.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        out.push_str(&format!("_{:06x}", hash & 0xff_ffff));
    }
    out
}

/// The topics of one bridge, from its config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    /// `discovery_prefix`.
    pub discovery_prefix: String,
    /// `base_topic`.
    pub base: String,
    /// The discovery `node_id` and the start of every id: the base topic made safe.
    pub node: String,
}

impl Topics {
    /// The topics `config` names.
    pub fn new(config: &MqttConfig) -> Topics {
        Topics {
            discovery_prefix: config.discovery_prefix.clone(),
            base: config.base_topic.clone(),
            node: safe_id(&config.base_topic),
        }
    }

    /// `{base}/bridge/availability`: the bridge's own `online`, and its last will `offline`.
    pub fn bridge_availability(&self) -> String {
        format!("{}/bridge/availability", self.base)
    }

    /// `{base}/{source}/availability`: `online` while the source's polls work.
    pub fn availability(&self, source: &str) -> String {
        format!("{}/{}/availability", self.base, safe_id(source))
    }

    /// `{base}/{source}/{sensor}/state`.
    pub fn state(&self, source: &str, sensor: &str) -> String {
        format!(
            "{}/{}/{}/state",
            self.base,
            safe_id(source),
            safe_id(sensor)
        )
    }

    /// `{base}/sensors/matrix_text/set`: text for the LED matrix.
    pub fn matrix_text_command(&self) -> String {
        format!("{}/sensors/matrix_text/set", self.base)
    }

    /// `{base}/alerts`: the alert engine's events.
    pub fn alerts(&self) -> String {
        format!("{}/alerts", self.base)
    }

    /// `{discovery_prefix}/status`: Home Assistant's birth and last will.
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery_prefix)
    }

    /// `{discovery_prefix}/{component}/{node}/{object_id}/config`.
    pub fn discovery(&self, component: &str, object_id: &str) -> String {
        format!(
            "{}/{component}/{}/{object_id}/config",
            self.discovery_prefix, self.node
        )
    }

    /// The device identifier of `source`.
    pub fn device_id(&self, source: &str) -> String {
        format!("{}_{}", self.node, safe_id(source))
    }

    fn availability_list(&self, source: &str) -> Json {
        json!([
            {"topic": self.bridge_availability(), "payload_available": "online",
             "payload_not_available": "offline"},
            {"topic": self.availability(source), "payload_available": "online",
             "payload_not_available": "offline"},
        ])
    }
}

/// What Home Assistant is told about a source's device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The source id.
    pub source: String,
    /// Its name (`meta:{source}`'s, else the id; a satellite's with its room: `Sense HAT
    /// (Kitchen)`, so that each Pi's devices and entities are told apart).
    pub name: String,
    /// The room of the satellite Pi it runs on (`node:{name}`'s), Home Assistant's suggested
    /// area for the device; `None` on the hub.
    pub room: Option<String>,
}

/// The model shown for a source's device (a satellite's `sensors@kitchen` is a Sense HAT too).
pub fn model(source: &str) -> &'static str {
    match sense_bus::ids::split_scoped(source).0 {
        "sensors" => "Sense HAT",
        "co2" => "Aranet4",
        "system" => "Linux system",
        "weather" => "wttr.in weather",
        "pihole" => "Pi-hole",
        "tailscale" => "Tailscale",
        "network_camera" => "Network camera",
        s if s.starts_with("node-") => "Raspberry Pi Pico node",
        _ => "Sense Pulse source",
    }
}

impl DeviceInfo {
    fn block(&self, topics: &Topics) -> Json {
        let mut block = json!({
            "identifiers": [topics.device_id(&self.source)],
            "name": self.name,
            "manufacturer": MANUFACTURER,
            "model": model(&self.source),
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(room) = &self.room {
            block["suggested_area"] = json!(room);
        }
        block
    }
}

fn origin() -> Json {
    json!({"name": "Sense Pulse", "sw_version": env!("CARGO_PKG_VERSION"), "support_url": SUPPORT_URL})
}

/// How a reading appears in Home Assistant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `sensor` with a number, unit (Home Assistant's spelling) and device class as they fit.
    Numeric {
        /// `unit_of_measurement`.
        unit: Option<String>,
        /// `device_class`.
        device_class: Option<&'static str>,
        /// Whether it is a value measured now (`state_class: measurement`); forecasts are not.
        measurement: bool,
    },
    /// A `sensor` with text.
    Text,
    /// A `binary_sensor`.
    Binary {
        /// `device_class`.
        device_class: Option<&'static str>,
    },
}

impl Kind {
    /// The discovery component.
    pub fn component(&self) -> &'static str {
        match self {
            Kind::Binary { .. } => "binary_sensor",
            Kind::Numeric { .. } | Kind::Text => "sensor",
        }
    }
}

/// A bus unit in Home Assistant's spelling (`C` → `°C`, `mb` → `mbar`, `seconds` → `s`); others
/// (`%`, `ppm`, `km/h`, `load`, …) as they are.
pub fn ha_unit(unit: &str) -> &str {
    match unit {
        "C" => "°C",
        "F" => "°F",
        "mb" => "mbar",
        "seconds" => "s",
        other => other,
    }
}

/// The device class that fits a reading of `sensor` in `unit` (Home Assistant's spelling).
pub fn device_class(sensor: &str, unit: &str) -> Option<&'static str> {
    let name = sensor.rsplit(':').next().unwrap_or(sensor);
    match unit {
        "°C" | "°F" | "K" => Some("temperature"),
        "mbar" | "hPa" | "Pa" | "kPa" | "bar" => Some("atmospheric_pressure"),
        "ppm" if name.contains("co2") => Some("carbon_dioxide"),
        "%" if name.contains("humidity") => Some("humidity"),
        "%" if name.contains("battery") => Some("battery"),
        "s" | "min" | "h" | "d" | "ms" => Some("duration"),
        "km/h" | "m/s" | "mph" if name.contains("wind") => Some("wind_speed"),
        "km" | "m" | "mi" => Some("distance"),
        "MB" | "GB" | "kB" => Some("data_size"),
        "dBm" | "dB" => Some("signal_strength"),
        _ => None,
    }
}

/// The entity a reading becomes; `None` for a null reading without a unit (its kind is not
/// known until it has a value).
pub fn kind(sensor: &str, reading: &Reading) -> Option<Kind> {
    let numeric = |unit: Option<&str>| {
        let unit = unit.map(ha_unit);
        Kind::Numeric {
            unit: unit.map(str::to_owned),
            device_class: unit.and_then(|u| device_class(sensor, u)),
            measurement: !sensor.starts_with("forecast_"),
        }
    };
    match &reading.value {
        Value::Int(_) | Value::Float(_) => Some(numeric(reading.unit.as_deref())),
        Value::Null => reading.unit.as_deref().map(|u| numeric(Some(u))),
        Value::Bool(_) => Some(Kind::Binary {
            device_class: sensor.ends_with("connected").then_some("connectivity"),
        }),
        Value::Text(_) => Some(Kind::Text),
    }
}

/// A sensor id as a name: `office:co2` → `Office CO2`, `cpu_temp` → `CPU temp`.
pub fn entity_name(sensor: &str) -> String {
    let words: Vec<String> = sensor
        .split([':', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "co2" | "cpu" | "uv" | "dns" | "ip" | "fps" => w.to_ascii_uppercase(),
            _ => w.to_owned(),
        })
        .collect();
    let mut name = words.join(" ");
    if let Some(first) = name.get(..1) {
        name = first.to_ascii_uppercase() + &name[1..];
    }
    name
}

/// One discovery message.
#[derive(Clone, Debug, PartialEq)]
pub struct Discovery {
    /// Where it goes (retained).
    pub topic: String,
    /// The config.
    pub payload: Json,
}

/// The discovery config of `sensor` of `device`'s source as `kind`.
pub fn sensor_config(topics: &Topics, device: &DeviceInfo, sensor: &str, kind: &Kind) -> Discovery {
    let source = &device.source;
    let object_id = format!("{}_{}", safe_id(source), safe_id(sensor));
    let mut payload = json!({
        "name": entity_name(sensor),
        "unique_id": format!("{}_{object_id}", topics.node),
        "state_topic": topics.state(source, sensor),
        "availability": topics.availability_list(source),
        "availability_mode": "all",
        "device": device.block(topics),
        "origin": origin(),
    });
    let fields = payload.as_object_mut().expect("an object");
    match kind {
        Kind::Numeric {
            unit,
            device_class,
            measurement,
        } => {
            if let Some(unit) = unit {
                fields.insert("unit_of_measurement".into(), json!(unit));
            }
            if let Some(class) = device_class {
                fields.insert("device_class".into(), json!(class));
            }
            if *measurement {
                fields.insert("state_class".into(), json!("measurement"));
            }
        }
        Kind::Text => {}
        Kind::Binary { device_class } => {
            fields.insert("payload_on".into(), json!("ON"));
            fields.insert("payload_off".into(), json!("OFF"));
            if let Some(class) = device_class {
                fields.insert("device_class".into(), json!(class));
            }
        }
    }
    Discovery {
        topic: topics.discovery(kind.component(), &object_id),
        payload,
    }
}

/// The `text` entity that puts text on the Sense HAT's LED matrix (part of the `sensors` device).
pub fn matrix_text_config(topics: &Topics, sensors: &DeviceInfo) -> Discovery {
    let object_id = "sensors_matrix_text";
    Discovery {
        topic: topics.discovery("text", object_id),
        payload: json!({
            "name": "LED matrix text",
            "unique_id": format!("{}_{object_id}", topics.node),
            "command_topic": topics.matrix_text_command(),
            "min": 1,
            "max": MAX_MATRIX_TEXT,
            "mode": "text",
            "icon": "mdi:led-strip",
            "availability": topics.availability_list(&sensors.source),
            "availability_mode": "all",
            "device": sensors.block(topics),
            "origin": origin(),
        }),
    }
}

/// The state payload of a reading shown as `kind`.
pub fn state(value: &Value, kind: &Kind) -> String {
    match (value, kind) {
        (Value::Null, _) => "None".to_owned(),
        (Value::Bool(b), Kind::Binary { .. }) => if *b { "ON" } else { "OFF" }.to_owned(),
        (Value::Int(i), _) => i.to_string(),
        (Value::Float(f), _) if f.is_finite() => f.to_string(),
        (Value::Float(_), _) => "None".to_owned(),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Text(t), Kind::Numeric { .. }) => {
            t.parse::<f64>().map_or("None".to_owned(), |_| t.clone())
        }
        (Value::Text(t), _) => t.chars().take(MAX_STATE).collect(),
    }
}

/// Every discovery config and state of one source, as its readings stand.
pub fn source_messages(
    topics: &Topics,
    device: &DeviceInfo,
    readings: &BTreeMap<String, Reading>,
) -> Vec<(Discovery, String, String)> {
    readings
        .iter()
        .filter_map(|(sensor, reading)| {
            let kind = kind(sensor, reading)?;
            Some((
                sensor_config(topics, device, sensor, &kind),
                topics.state(&device.source, sensor),
                state(&reading.value, &kind),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(value: Value, unit: Option<&str>) -> Reading {
        Reading {
            value,
            unit: unit.map(str::to_owned),
            timestamp: 1.0,
        }
    }

    #[test]
    fn ids_are_safe_and_stay_apart() {
        assert_eq!(safe_id("office:co2"), "office_co2");
        assert_eq!(safe_id("node-pico_1"), "node-pico_1");
        let a = safe_id("my room:co2");
        let b = safe_id("my_room:co2");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)),
            "{a}"
        );
        assert!(safe_id("").len() > 1);
    }

    #[test]
    fn units_and_classes_are_home_assistants() {
        let k =
            |sensor: &str, value: Value, unit: Option<&str>| kind(sensor, &reading(value, unit));
        assert_eq!(
            k("temperature", Value::Float(21.5), Some("C")),
            Some(Kind::Numeric {
                unit: Some("°C".into()),
                device_class: Some("temperature"),
                measurement: true
            })
        );
        let class = |sensor: &str, unit: &str| match k(sensor, Value::Int(1), Some(unit)) {
            Some(Kind::Numeric { device_class, .. }) => device_class,
            other => panic!("{other:?}"),
        };
        assert_eq!(class("pressure", "mbar"), Some("atmospheric_pressure"));
        assert_eq!(
            class("weather_pressure", "mb"),
            Some("atmospheric_pressure")
        );
        assert_eq!(class("office:co2", "ppm"), Some("carbon_dioxide"));
        assert_eq!(class("office:battery", "%"), Some("battery"));
        assert_eq!(class("office:humidity", "%"), Some("humidity"));
        assert_eq!(class("cpu_percent", "%"), None);
        assert_eq!(class("uptime", "seconds"), Some("duration"));
        assert_eq!(class("weather_wind", "km/h"), Some("wind_speed"));
        assert_eq!(class("load_1min", "load"), None);
        assert_eq!(
            k("connected", Value::Bool(true), None),
            Some(Kind::Binary {
                device_class: Some("connectivity")
            })
        );
        assert_eq!(
            k("hostname", Value::Text("pi".into()), None),
            Some(Kind::Text)
        );
        assert_eq!(k("stream_error", Value::Null, None), None);
        assert!(matches!(
            k("cpu_temp", Value::Null, Some("C")),
            Some(Kind::Numeric { .. })
        ));
    }

    #[test]
    fn states_are_what_home_assistant_parses() {
        let numeric = kind("t", &reading(Value::Float(1.0), Some("C"))).unwrap();
        assert_eq!(state(&Value::Float(21.5), &numeric), "21.5");
        assert_eq!(state(&Value::Int(412), &numeric), "412");
        assert_eq!(state(&Value::Null, &numeric), "None");
        let binary = Kind::Binary { device_class: None };
        assert_eq!(state(&Value::Bool(true), &binary), "ON");
        assert_eq!(state(&Value::Bool(false), &binary), "OFF");
        assert_eq!(state(&Value::Text("x".repeat(300)), &Kind::Text).len(), 255);
        assert_eq!(entity_name("office:co2"), "Office CO2");
        assert_eq!(entity_name("cpu_temp"), "CPU temp");
    }
}
