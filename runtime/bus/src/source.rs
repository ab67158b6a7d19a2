//! What a data source is to the runtime.
//!
//! A source turns hardware or a web API into [`Measurement`]s. It does no bus I/O of its own: the
//! runtime's runner reads the config it asks for, calls [`Source::poll`], and writes readings,
//! status, meta and the `data:{id}` notice, with the TTLs the contract sets. That keeps every
//! source testable without Redis and every write to the bus in one place.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::ids::{SectionName, SourceId};
use crate::model::Measurement;

/// A data source.
pub trait Source {
    /// Its contract id.
    const ID: SourceId;
    /// The config sections it reads. The runner always reads `global` and `schedule` as well.
    const SECTIONS: &'static [SectionName];
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
    /// failed).
    async fn poll(
        &mut self,
        config: &Config,
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
}

impl PollOutput {
    /// A poll where everything worked.
    pub fn complete(measurements: Vec<Measurement>) -> Self {
        PollOutput {
            measurements,
            error: None,
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
