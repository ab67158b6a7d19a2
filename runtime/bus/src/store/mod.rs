//! The contract's operations on a [`Bus`]: what the services read and write, with the key names
//! from [`keys`] and the TTL policy of design §4.

mod history;
mod sections;

pub use history::*;
pub use sections::*;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::keys::{self, channels};
use crate::model::{DataUpdate, Measurement, Meta, Reading, Status};
use crate::{Batch, Bus, BusError, Ttl};

/// How long a reading lives: twice the poll interval, never below 60 s nor below the
/// `global.cache_ttl` floor. A source polled every 300 s therefore never blinks out between polls.
pub fn reading_ttl(interval_s: u32, cache_ttl_s: u32) -> Duration {
    Duration::from_secs(u64::from(
        interval_s.saturating_mul(2).max(60).max(cache_ttl_s),
    ))
}

/// How long a status lives: three times the poll interval, never below 120 s. When it expires the
/// source counts as unavailable.
pub fn status_ttl(interval_s: u32) -> Duration {
    Duration::from_secs(u64::from(interval_s.saturating_mul(3).max(120)))
}

/// One source's readings and status, as `GET /api/sources/{id}` shows them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceSnapshot {
    /// Readings by sensor id.
    pub readings: BTreeMap<String, Reading>,
    /// The status, `None` once it expired (the source is unavailable).
    pub status: Option<Status>,
}

pub(crate) fn parse_logged<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(key, error = %e, "ignoring a value that does not follow the contract");
            None
        }
    }
}

/// One source with each key's remaining life, for a cache that must forget a value exactly
/// when Redis does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceLife {
    /// The readings and status.
    pub snapshot: SourceSnapshot,
    /// Each reading's remaining life, by sensor id.
    pub reading_ttls: BTreeMap<String, Ttl>,
    /// The status's remaining life.
    pub status_ttl: Option<Ttl>,
}

impl SourceLife {
    /// Whether the bus holds nothing of the source.
    pub fn is_empty(&self) -> bool {
        self.snapshot.readings.is_empty() && self.snapshot.status.is_none()
    }
}

/// Sorts `(key, value, ttl)` of reading and status keys into sources.
fn collect_sources(
    found: impl IntoIterator<Item = (String, Option<(String, Ttl)>)>,
) -> BTreeMap<String, SourceLife> {
    let mut all: BTreeMap<String, SourceLife> = BTreeMap::new();
    for (key, value) in found {
        let Some((text, ttl)) = value else { continue };
        if let Some((source, sensor)) = keys::parse_reading(&key) {
            if let Some(reading) = parse_logged(&key, &text) {
                let life = all.entry(source.to_owned()).or_default();
                life.snapshot.readings.insert(sensor.to_owned(), reading);
                life.reading_ttls.insert(sensor.to_owned(), ttl);
            }
        } else if let Some(source) = keys::parse_status(&key)
            && let Some(status) = parse_logged(&key, &text)
        {
            let life = all.entry(source.to_owned()).or_default();
            life.snapshot.status = Some(status);
            life.status_ttl = Some(ttl);
        }
    }
    all
}

/// The readings and status of `source`, with their remaining lives.
pub async fn read_source_life(bus: &Bus, source: &str) -> Result<SourceLife, BusError> {
    let mut keys = bus.keys(&keys::readings_of(source)).await?;
    keys.push(keys::status(source));
    let values = bus.mget_ttl(&keys).await?;
    let mut all = collect_sources(keys.into_iter().zip(values));
    Ok(all.remove(source).unwrap_or_default())
}

/// Every source that has readings or a status, by id, with their remaining lives.
pub async fn read_all_source_lives(bus: &Bus) -> Result<BTreeMap<String, SourceLife>, BusError> {
    let mut keys = bus.keys(keys::ALL_READINGS).await?;
    keys.extend(bus.keys(keys::ALL_STATUSES).await?);
    let values = bus.mget_ttl(&keys).await?;
    Ok(collect_sources(keys.into_iter().zip(values)))
}

/// The readings and status of `source`.
pub async fn read_source(bus: &Bus, source: &str) -> Result<SourceSnapshot, BusError> {
    Ok(read_source_life(bus, source).await?.snapshot)
}

/// Every source that has readings or a status, by id.
pub async fn read_all_sources(bus: &Bus) -> Result<BTreeMap<String, SourceSnapshot>, BusError> {
    Ok(read_all_source_lives(bus)
        .await?
        .into_iter()
        .map(|(id, life)| (id, life.snapshot))
        .collect())
}

/// The sources of the bus's own scope, by their bare ids (`system`, not `system@kitchen`): what a
/// Pi's own display shows. On the hub, every source as [`read_all_sources`] reads them; on a named
/// node, only its own, which is all its Redis user may read.
pub async fn read_own_sources(bus: &Bus) -> Result<BTreeMap<String, SourceSnapshot>, BusError> {
    let scope = bus.scope();
    let Some(node) = scope.name() else {
        return read_all_sources(bus).await;
    };
    let suffix = scope.id("");
    let mut keys = bus.keys(&format!("source:*{suffix}:*")).await?;
    keys.extend(bus.keys(&format!("status:*{suffix}")).await?);
    // A pattern also matches a hub key whose sensor happens to hold `@kitchen:`: not ours.
    keys.retain(|key| {
        keys::parse_reading(key)
            .map(|(source, _)| source)
            .or_else(|| keys::parse_status(key))
            .is_some_and(|source| scope.owns(source))
    });
    let values = bus.mget_ttl(&keys).await?;
    let own = format!("{}{node}", crate::ids::NODE_SEPARATOR);
    Ok(collect_sources(keys.into_iter().zip(values))
        .into_iter()
        .map(|(id, life)| {
            (
                id.strip_suffix(&own).unwrap_or(&id).to_owned(),
                life.snapshot,
            )
        })
        .collect())
}

/// The status of `source`, if it has not expired.
pub async fn read_status(bus: &Bus, source: &str) -> Result<Option<Status>, BusError> {
    let key = keys::status(source);
    Ok(bus.get(&key).await?.and_then(|t| parse_logged(&key, &t)))
}

/// Serializes a contract type. They are plain data, so this cannot fail.
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Everything one poll writes, as one atomic batch: readings (TTL ≥ 2× interval), their history
/// and [`ROLLUPS`] (numeric ones), status (TTL ≥ 3× interval), meta (no TTL), the source's state (no TTL), and the `data:{id}` notice when readings
/// were written.
#[derive(Debug)]
pub struct PollWrite<'a> {
    /// The source's id: a [`SourceId`](crate::SourceId), or a [`NodeSourceId`](crate::NodeSourceId).
    pub source: &'a str,
    /// The measurements taken (none when the poll failed).
    pub measurements: &'a [Measurement],
    /// When they were taken.
    pub timestamp: f64,
    /// The new status.
    pub status: &'a Status,
    /// The source's meta.
    pub meta: &'a Meta,
    /// The state to remember until the next run, as JSON.
    pub state: Option<&'a str>,
    /// The poll interval in seconds.
    pub interval_s: u32,
    /// `global.cache_ttl`.
    pub cache_ttl_s: u32,
}

impl PollWrite<'_> {
    /// The batch that performs this write.
    pub fn batch(&self) -> Batch {
        let id = self.source;
        let mut batch = Batch::new();
        let ttl = reading_ttl(self.interval_s, self.cache_ttl_s);
        let history_ttl = HISTORY_SPAN + Duration::from_secs(3600);
        let keep = history_entries(self.interval_s);
        for m in self.measurements {
            let reading = Reading::new(m, self.timestamp);
            batch.set(keys::reading(id, &m.sensor), to_json(&reading), Some(ttl));
            if let Some(number) = m.value.as_f64() {
                let entry = history_entry(self.timestamp, number);
                batch.push_capped(keys::history(id, &m.sensor), entry, keep, Some(history_ttl));
                for rollup in ROLLUPS {
                    let chunk = rollup.chunk_of(self.timestamp);
                    batch.accumulate(
                        keys::rollup(id, &m.sensor, rollup.resolution_s, chunk),
                        rollup.field(self.timestamp),
                        number,
                        rollup.expire_at(chunk),
                    );
                }
            }
        }
        batch.set(
            keys::status(id),
            to_json(self.status),
            Some(status_ttl(self.interval_s)),
        );
        batch.set(keys::meta(id), to_json(self.meta), None);
        if let Some(state) = self.state {
            batch.set(keys::state(id), state, None);
        }
        if !self.measurements.is_empty() {
            let notice = DataUpdate {
                source_id: id.to_owned(),
                timestamp: self.timestamp,
            };
            batch.publish(channels::data(id), to_json(&notice));
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_follow_the_interval_with_floors() {
        assert_eq!(reading_ttl(30, 60), Duration::from_secs(60));
        assert_eq!(reading_ttl(300, 60), Duration::from_secs(600));
        assert_eq!(reading_ttl(30, 90), Duration::from_secs(90));
        assert_eq!(status_ttl(30), Duration::from_secs(120));
        assert_eq!(status_ttl(300), Duration::from_secs(900));
    }
}
