//! What a data source is to the runtime.
//!
//! A source turns hardware or a web API into [`Measurement`]s. It does no bus I/O of its own: the
//! runtime's runner reads the config it asks for, calls [`Source::poll`], and writes readings,
//! status, meta and the `data:{id}` notice, with the TTLs the contract sets. That keeps every
//! source testable without Redis and every write to the bus in one place.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::ids::{SectionName, SourceId};
use crate::model::{Measurement, MissingPart, Reading, Value};

/// Readings of other sources a source uses (the Sense HAT's heat compensation needs the CPU
/// temperature), fetched by the runner with the config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    readings: BTreeMap<(SourceId, String), Reading>,
}

impl Inputs {
    /// No inputs.
    pub const fn new() -> Self {
        Inputs {
            readings: BTreeMap::new(),
        }
    }

    /// Records `source`'s `sensor` reading.
    pub fn insert(&mut self, source: SourceId, sensor: &str, reading: Reading) {
        self.readings.insert((source, sensor.to_owned()), reading);
    }

    /// The reading of `source`'s `sensor`, if it is in Redis (i.e. not expired).
    pub fn get(&self, source: SourceId, sensor: &str) -> Option<&Reading> {
        self.readings.get(&(source, sensor.to_owned()))
    }

    /// The value of `source`'s `sensor` as a number, if there is one.
    pub fn number(&self, source: SourceId, sensor: &str) -> Option<f64> {
        self.get(source, sensor).and_then(|r| match r.value {
            Value::Null => None,
            ref v => v.as_f64(),
        })
    }
}

static NO_INPUTS: Inputs = Inputs::new();

/// What a poll is given.
#[derive(Clone, Copy, Debug)]
pub struct PollContext<'a> {
    /// The config in force (the sections the source declared, plus `global` and `schedule`).
    pub config: &'a Config,
    /// The readings named in [`Source::INPUTS`] that exist.
    pub inputs: &'a Inputs,
}

impl<'a> PollContext<'a> {
    /// A context with `config` and `inputs`.
    pub fn new(config: &'a Config, inputs: &'a Inputs) -> Self {
        PollContext { config, inputs }
    }

    /// A context with `config` and no inputs.
    pub fn config_only(config: &'a Config) -> Self {
        PollContext {
            config,
            inputs: &NO_INPUTS,
        }
    }
}

/// A data source.
pub trait Source {
    /// Its contract id.
    const ID: SourceId;
    /// The config sections it reads. The runner always reads `global` and `schedule` as well.
    const SECTIONS: &'static [SectionName];
    /// Readings of other sources it uses, as `(source, sensor)`.
    const INPUTS: &'static [(SourceId, &'static str)] = &[];
    /// What it remembers from one poll to the next. The runner keeps it in `state:{id}`, so it
    /// survives ephemeral runs (e.g. the previous CPU counters, for a delta without waiting).
    type State: Serialize + DeserializeOwned + Default + Send;

    /// Whether the source is configured to run (shown as `enabled` in `meta:{id}`).
    fn enabled(&self, _config: &Config) -> bool {
        true
    }

    /// Takes one set of measurements.
    ///
    /// `Err` when nothing could be measured; `Ok` with [`PollOutput::error`] set when some
    /// measurements were taken and others failed (they are written, and the status names what
    /// failed: a partial poll). `Ok` with an error and no measurements is a failed poll too, one
    /// that can still say which parts failed ([`PollOutput::missing`]).
    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut Self::State,
    ) -> Result<PollOutput, PollError>;
}

/// The result of a poll that measured something.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PollOutput {
    /// The measurements, each becoming `source:{id}:{sensor}`.
    pub measurements: Vec<Measurement>,
    /// What failed, when part of the poll did.
    pub error: Option<String>,
    /// When the measurements were taken, if not just now (data served from a cache), in Unix
    /// seconds: the readings carry this timestamp.
    pub measured_at: Option<f64>,
    /// The measurements are old data kept because fresh data could not be had: the status says
    /// so and does not count the poll as a success.
    pub stale: bool,
    /// The parts (monitors) that gave nothing, with since when: `status.missing`.
    pub missing: Vec<MissingPart>,
}

impl PollOutput {
    /// A poll where everything worked.
    pub fn complete(measurements: Vec<Measurement>) -> Self {
        PollOutput {
            measurements,
            ..PollOutput::default()
        }
    }
}

/// A poll that measured nothing; the message names the cause ("reading /proc/stat: not found").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PollError(pub String);

impl PollError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        PollError(message.into())
    }
}
