//! # The `co2` source: Aranet4 CO2 monitors over Bluetooth LE
//!
//! Each configured monitor (by label) gives, per the contract:
//!
//! | sensor | unit |
//! |---|---|
//! | `{label}:co2` | `ppm` (int; null while the monitor calibrates) |
//! | `{label}:temperature` | `C` |
//! | `{label}:humidity` | `%` (int) |
//! | `{label}:pressure` | `mbar` |
//! | `{label}:battery` | `%` (int) |
//! | `{label}:status` | the monitor's own colour: `green`, `yellow`, `red`, `error` |
//!
//! Readings come from the monitors' "Smart Home integrations" advertisements: no connection and no
//! pairing. The [`client`] listens until every configured monitor has been heard or the timeout
//! passes. A monitor that advertises with integrations off is read over GATT instead (that needs
//! it to be paired). A monitor not heard at all is named in the status error and in
//! `status.missing`, with since when it has been missing and when it was last heard (remembered
//! in `state:co2` across the orchestrator's one-shot runs); the others are still written, and the
//! poll is partial. Only when no monitor is heard does the poll fail.
//!
//! [`scan`] lists the Aranet devices nearby, for the dashboard's "scan and add".

pub mod client;
pub mod tool;

use std::collections::BTreeMap;
use std::time::Duration;

use sense_aranet4::Measurement as Aranet4Measurement;
use sense_bus::config::Aranet4Sensor;
use sense_bus::model::{Measurement, MissingPart, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{SectionName, SourceId};
use sense_hal::Unit;
use sense_hal::ble::{Address, BleCentral};
use sense_hal::value::round_to;
use serde::{Deserialize, Serialize};

pub use client::{Heard, listen};

/// The readings of one monitor's measurement, as the contract names them.
pub fn readings(label: &str, m: &Aranet4Measurement) -> Vec<Measurement> {
    let at = |metric: &str| format!("{label}:{metric}");
    let float = |v: Option<f32>, decimals: u8| {
        v.map_or(Value::Null, |v| {
            Value::float(round_to(f64::from(v), decimals))
        })
    };
    vec![
        Measurement::new(at("co2"), Value::from_option(m.co2_ppm), Some(Unit::PPM)),
        Measurement::new(
            at("temperature"),
            float(m.temperature_c(), 2),
            Some(Unit::CELSIUS),
        ),
        Measurement::new(
            at("humidity"),
            Value::from(m.humidity_percent),
            Some(Unit::PERCENT),
        ),
        Measurement::new(
            at("pressure"),
            float(m.pressure_hpa(), 1),
            Some(Unit::MILLIBAR),
        ),
        Measurement::new(
            at("battery"),
            Value::from(m.battery_percent),
            Some(Unit::PERCENT),
        ),
        Measurement::new(
            at("status"),
            Value::Text(m.status.as_str().to_owned()),
            None,
        ),
    ]
}

/// The `co2` source over a BLE central `C`.
#[derive(Debug)]
pub struct Aranet4Source<C> {
    central: C,
    /// Monitors to read when the config names none (the simulation's, under `--sim`).
    fallback_sensors: Vec<Aranet4Sensor>,
}

impl<C: BleCentral> Aranet4Source<C> {
    /// A source listening through `central`.
    pub fn new(central: C) -> Self {
        Aranet4Source {
            central,
            fallback_sensors: Vec::new(),
        }
    }

    /// The same source, reading `sensors` when the config names none.
    pub fn with_fallback_sensors(mut self, sensors: Vec<Aranet4Sensor>) -> Self {
        self.fallback_sensors = sensors;
        self
    }

    fn sensors<'a>(&'a self, configured: &'a [Aranet4Sensor]) -> &'a [Aranet4Sensor] {
        if configured.is_empty() {
            &self.fallback_sensors
        } else {
            configured
        }
    }
}

impl<C: BleCentral> Source for Aranet4Source<C> {
    const ID: SourceId = SourceId::Co2;
    const SECTIONS: &'static [SectionName] = &[SectionName::Aranet4];
    type State = Monitors;

    fn enabled(&self, config: &sense_bus::config::Config) -> bool {
        self.sensors(&config.aranet4.sensors)
            .iter()
            .any(|s| s.enabled)
    }

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut Monitors,
    ) -> Result<PollOutput, PollError> {
        let config = &context.config.aranet4;
        // Labels and addresses were validated with the config; an address that does not parse
        // cannot get here.
        let wanted: Vec<(String, Address)> = self
            .sensors(&config.sensors)
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| Some((s.label.clone(), Address::parse(&s.mac)?)))
            .collect();
        // Monitors no longer configured are forgotten: one added back starts afresh.
        state
            .0
            .retain(|mac, _| wanted.iter().any(|(_, a)| a.to_string() == *mac));
        if wanted.is_empty() {
            return Ok(PollOutput::default());
        }
        let addresses: Vec<Address> = wanted.iter().map(|(_, a)| *a).collect();
        let timeout = Duration::from_secs(u64::from(config.timeout));
        let heard = listen(&mut self.central, &addresses, timeout)
            .await
            .map_err(|e| PollError::new(format!("Bluetooth scan failed: {e}")))?;

        let mut measurements = Vec::new();
        let mut problems = Vec::new();
        let mut missing = Vec::new();
        for (label, address) in &wanted {
            let problem = match heard.get(address) {
                Some(Heard::Reading(r)) => {
                    measurements.extend(readings(label, &r.measurement));
                    None
                }
                Some(Heard::IntegrationsOff { .. }) => {
                    match client::read_over_gatt(&mut self.central, *address).await {
                        Ok(m) => {
                            measurements.extend(readings(label, &m));
                            None
                        }
                        Err(e) => Some(format!("{label} ({address}): {e}")),
                    }
                }
                Some(Heard::Undecodable(e)) => Some(format!("{label} ({address}): {e}")),
                None => Some(format!(
                    "{label} ({address}) not heard within {} s (out of range, or its battery is flat?)",
                    timeout.as_secs()
                )),
            };
            let now = sense_bus::unix_now();
            let memory = state.0.entry(address.to_string()).or_default();
            match problem {
                None => {
                    memory.last_heard = Some(now);
                    memory.missing_since = None;
                }
                Some(error) => {
                    missing.push(MissingPart {
                        name: label.clone(),
                        error: error.clone(),
                        since: *memory.missing_since.get_or_insert(now),
                        last_seen: memory.last_heard,
                    });
                    problems.push(error);
                }
            }
        }
        // Some monitors heard: a partial poll. None: a failed one, still naming each monitor.
        Ok(PollOutput {
            measurements,
            error: (!problems.is_empty()).then(|| problems.join("; ")),
            missing,
            ..PollOutput::default()
        })
    }
}

/// What the source remembers of each configured monitor, by address (`state:co2`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Monitors(pub BTreeMap<String, Monitor>);

/// What the source remembers of one monitor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// When it last gave readings (Unix seconds).
    #[serde(default)]
    pub last_heard: Option<f64>,
    /// Since when it has given none: the first poll of the current run of misses.
    #[serde(default)]
    pub missing_since: Option<f64>,
}

/// An Aranet device found by [`scan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Its advertised name, e.g. `Aranet4 12345`.
    pub name: String,
    /// Its address.
    pub mac: String,
    /// Signal strength in dBm.
    pub rssi: Option<i16>,
    /// Whether Smart Home integrations are on (readings without pairing).
    pub integrations: bool,
    /// Its firmware version, when advertised.
    pub firmware: Option<String>,
}

/// Lists the Aranet devices heard within `timeout`, strongest signal first.
pub async fn scan<C: BleCentral>(
    central: &mut C,
    timeout: Duration,
) -> Result<Vec<Found>, C::Error> {
    let seen = client::listen_all(central, timeout).await?;
    // Data under Aranet's company id that is no Aranet4 reading (an Aranet2 or Radon, or noise) is
    // left out, unless the device's name says it is an Aranet4.
    let is_aranet4 = |ad: &sense_hal::ble::Advertisement, heard: &Heard| {
        !matches!(heard, Heard::Undecodable(_))
            || ad
                .name
                .as_deref()
                .is_some_and(sense_aranet4::is_aranet4_name)
    };
    let mut found: Vec<Found> = seen
        .into_iter()
        .filter(|(_, (ad, heard))| is_aranet4(ad, heard))
        .map(|(address, (ad, heard))| {
            let (integrations, firmware) = match &heard {
                Heard::Reading(r) => (true, Some(r.version.to_string())),
                Heard::IntegrationsOff { version } => (false, version.map(|v| v.to_string())),
                Heard::Undecodable(_) => (false, None),
            };
            Found {
                name: ad.name.as_deref().unwrap_or("Aranet4").to_owned(),
                mac: address.to_string(),
                rssi: ad.rssi,
                integrations,
                firmware,
            }
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.rssi.unwrap_or(i16::MIN)));
    Ok(found)
}

#[cfg(test)]
mod tests;
