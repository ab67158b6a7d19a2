//! The contract's operations on a [`Bus`]: what the services read and write, with the key names
//! from [`keys`] and the TTL policy of design §4.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::config::{self, Config, FieldError};
use crate::ids::{NodeName, Scope, SectionName};
use crate::keys::{self, channels};
use crate::model::{ConfigChanged, DataUpdate, Measurement, Meta, Reading, Status};
use crate::{Batch, Bus, BusError, Fetched, Guard, Read, Stats, Ttl, unix_now};

/// How long a reading lives: twice the poll interval, never below 60 s nor below the
/// `global.cache_ttl` floor. A source polled every 300 s therefore never blinks out between polls.
pub fn reading_ttl(interval_s: u32, cache_ttl_s: u32) -> Duration {
    Duration::from_secs(u64::from(
        interval_s.saturating_mul(2).max(60).max(cache_ttl_s),
    ))
}

/// How far back history goes.
pub const HISTORY_SPAN: Duration = Duration::from_secs(24 * 3600);
/// The most history entries kept per reading (24 h at one poll every 30 s). Sources polled more
/// often keep a shorter span; memory stays bounded either way (~60 KB per reading at most).
pub const HISTORY_MAX_ENTRIES: usize = 2880;

/// History entries to keep for a reading polled every `interval_s`.
pub fn history_entries(interval_s: u32) -> usize {
    let per_day = HISTORY_SPAN.as_secs() / u64::from(interval_s.max(1)) + 1;
    usize::try_from(per_day)
        .unwrap_or(HISTORY_MAX_ENTRIES)
        .min(HISTORY_MAX_ENTRIES)
}

/// One history point: `"{timestamp} {value}"`.
pub fn history_entry(timestamp: f64, value: f64) -> String {
    format!("{timestamp:.1} {value}")
}

/// Parses a history entry back into `(timestamp, value)`.
pub fn parse_history_entry(entry: &str) -> Option<(f64, f64)> {
    let (t, v) = entry.split_once(' ')?;
    Some((t.parse().ok()?, v.parse().ok()?))
}

/// A rollup **[ours]**: the count, sum, minimum and maximum of every numeric reading over
/// fixed `resolution_s`-second buckets (aligned on the Unix epoch), kept for `retention`. Written
/// by every poll ([`PollWrite::batch`]), read by [`read_history`].
///
/// # How they are stored, and why
///
/// Each reading's buckets are grouped in chunks of [`BUCKETS_PER_CHUNK`] consecutive buckets (8 h
/// of 5-minute buckets, 4 days of hourly ones), one Redis hash per chunk
/// ([`keys::rollup`]): field = the bucket's index in the chunk, value = `"{count} {sum} {min}
/// {max}"`. A poll folds its value into the current bucket with [`Batch::accumulate`], a tiny
/// Lua script run inside the poll's own `MULTI`, so the rollups change with the readings and
/// history, all or nothing, and concurrent writers cannot lose each other's values.
///
/// - **Bounded by construction.** Each chunk expires as a whole (`PEXPIREAT`) at its end plus
///   the retention, computed from the poll's timestamp: nothing needs trimming, a source that
///   stops leaves nothing behind after the retention, and a reading has at most
///   `retention / chunk span + 2` chunks (23 of 5-minute buckets, 25 hourly).
/// - **Compact.** 96 short fields keep every hash in Redis's listpack encoding (default
///   `hash-max-listpack-entries 128`), some 20–40 bytes a bucket, with a few hundred keys in all.
///   One key per bucket would cost ~100 bytes of key overhead each (a quarter of a million keys
///   for the default sources); a sorted set per reading leaves listpack above 128 entries.
/// - **Why a script.** `HINCRBYFLOAT` keeps a sum and `HINCRBY` a count without reading, but no
///   command keeps a minimum or a maximum; one script call does all four in one field (four
///   fields a bucket would quadruple the hash and leave listpack).
/// - **Continuous across restarts.** Buckets and chunks follow from the timestamp alone: a
///   source that restarts (or a second writer) folds into the same bucket; nothing lives in the
///   writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollup {
    /// The bucket length in seconds.
    pub resolution_s: u32,
    /// How long a bucket is kept after it ends (at least; up to one chunk span longer).
    pub retention: Duration,
}

/// Buckets in one rollup hash.
pub const BUCKETS_PER_CHUNK: u64 = 96;

/// The rollups every numeric reading gets: 5 minutes kept 7 days, hourly kept 90 days.
pub const ROLLUPS: [Rollup; 2] = [
    Rollup {
        resolution_s: 300,
        retention: Duration::from_secs(7 * 24 * 3600),
    },
    Rollup {
        resolution_s: 3600,
        retention: Duration::from_secs(90 * 24 * 3600),
    },
];

impl Rollup {
    /// The rollup of this resolution, if there is one.
    pub fn of(resolution_s: u32) -> Option<Rollup> {
        ROLLUPS.into_iter().find(|r| r.resolution_s == resolution_s)
    }

    /// Seconds one chunk covers.
    pub fn chunk_span(&self) -> u64 {
        u64::from(self.resolution_s) * BUCKETS_PER_CHUNK
    }

    /// The start of the bucket holding `t` (Unix seconds).
    pub fn bucket_start(&self, t: f64) -> u64 {
        let res = u64::from(self.resolution_s);
        // Saturating cast: negative or NaN times land in bucket 0.
        (t.max(0.0) as u64) / res * res
    }

    /// The start of the chunk holding `t`.
    pub fn chunk_of(&self, t: f64) -> u64 {
        let span = self.chunk_span();
        self.bucket_start(t) / span * span
    }

    /// The hash field of the bucket holding `t` in its chunk.
    pub fn field(&self, t: f64) -> String {
        ((self.bucket_start(t) - self.chunk_of(t)) / u64::from(self.resolution_s)).to_string()
    }

    /// When the chunk starting at `chunk` expires (Unix seconds): its end plus the retention.
    pub fn expire_at(&self, chunk: u64) -> f64 {
        (chunk + self.chunk_span()) as f64 + self.retention.as_secs_f64()
    }

    /// The chunks holding the buckets from `from` to `to`.
    pub fn chunks(&self, from: f64, to: f64) -> impl Iterator<Item = u64> + use<> {
        let span = self.chunk_span();
        let (first, last) = (self.chunk_of(from), self.chunk_of(to));
        (0..)
            .map(move |i| first + i * span)
            .take_while(move |c| *c <= last)
    }
}

/// One point of a series' history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HistoryPoint {
    /// A reading as polled.
    Raw {
        /// When (Unix seconds).
        timestamp: f64,
        /// Its value.
        value: f64,
    },
    /// A rollup bucket.
    Bucket {
        /// Its start (Unix seconds).
        start: f64,
        /// The readings in it.
        stats: Stats,
    },
}

/// One series' history over a range ([`read_history`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesHistory {
    /// The unit of the current reading, if there is one.
    pub unit: Option<String>,
    /// The points, oldest first.
    pub points: Vec<HistoryPoint>,
    /// Everything in the range together; `None` when there are no points.
    pub summary: Option<Stats>,
}

/// The history of each of `series` (`(source, sensor)`) from `from` to `to` (Unix seconds):
/// the raw points of `history:{source}:{sensor}` when `rollup` is `None` (24 h at most), the
/// buckets of the rollup otherwise (every bucket that overlaps the range). Each series' unit
/// comes from its current reading. One round trip for all of them. A series with no data has no
/// points (not an error).
pub async fn read_history(
    bus: &Bus,
    series: &[(String, String)],
    from: f64,
    to: f64,
    rollup: Option<Rollup>,
) -> Result<Vec<SeriesHistory>, BusError> {
    let chunks: Vec<u64> = rollup.map_or_else(Vec::new, |r| r.chunks(from, to).collect());
    let mut reads = Vec::new();
    for (source, sensor) in series {
        reads.push(Read::Get(keys::reading(source, sensor)));
        match rollup {
            None => reads.push(Read::List(keys::history(source, sensor))),
            Some(r) => reads.extend(
                chunks
                    .iter()
                    .map(|c| Read::Hash(keys::rollup(source, sensor, r.resolution_s, *c))),
            ),
        }
    }
    let mut fetched = bus.read(&reads).await?.into_iter();
    let mut out = Vec::with_capacity(series.len());
    for (source, sensor) in series {
        let unit = fetched
            .next()
            .and_then(Fetched::into_text)
            .and_then(|t| parse_logged::<Reading>(&keys::reading(source, sensor), &t))
            .and_then(|r| r.unit);
        let mut points = Vec::new();
        let mut summary: Option<Stats> = None;
        let mut add = |stats: &Stats| {
            summary = Some(summary.map_or(*stats, |s| s.merge(stats)));
        };
        match rollup {
            None => {
                for entry in fetched.next().map(Fetched::into_list).unwrap_or_default() {
                    let Some((timestamp, value)) = parse_history_entry(&entry) else {
                        continue;
                    };
                    if timestamp >= from && timestamp <= to && value.is_finite() {
                        add(&Stats::of(value));
                        points.push(HistoryPoint::Raw { timestamp, value });
                    }
                }
            }
            Some(r) => {
                let res = u64::from(r.resolution_s);
                for chunk in &chunks {
                    let mut buckets: Vec<(u64, Stats)> = fetched
                        .next()
                        .map(Fetched::into_hash)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(field, text)| {
                            let index: u64 = field.parse().ok()?;
                            Some((chunk + index * res, Stats::parse(&text)?))
                        })
                        .filter(|(start, s)| {
                            (start + res) as f64 > from && *start as f64 <= to && s.count > 0
                        })
                        .collect();
                    buckets.sort_by_key(|(start, _)| *start);
                    for (start, stats) in buckets {
                        add(&stats);
                        points.push(HistoryPoint::Bucket {
                            start: start as f64,
                            stats,
                        });
                    }
                }
            }
        }
        out.push(SeriesHistory {
            unit,
            points,
            summary,
        });
    }
    Ok(out)
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

fn parse_logged<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Option<T> {
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

/// The keys that hold `sections` as `scope` sees them: each section's, then, on a named node, its
/// override of each per-node one (`config:display@kitchen`). Read them together and pair the
/// values up with [`config_texts`].
pub fn config_keys(scope: &Scope, sections: &[SectionName]) -> Vec<String> {
    let shared = sections.iter().map(|&s| keys::config(s));
    let overrides = sections.iter().filter_map(|&s| {
        scope
            .name()
            .filter(|_| s.per_node())
            .map(|node| keys::config_override(s, node))
    });
    shared.chain(overrides).collect()
}

/// Each of `sections`' stored text from `values` (read at [`config_keys`], in its order), a
/// node's override laid over the shared section: the fields it sets win
/// ([`config::overlay`]).
pub fn config_texts(
    scope: &Scope,
    sections: &[SectionName],
    values: &[Option<String>],
) -> HashMap<SectionName, Option<String>> {
    let mut texts: HashMap<SectionName, Option<String>> = sections
        .iter()
        .copied()
        .zip(values.iter().cloned())
        .collect();
    if scope.name().is_some() {
        let overridable = sections.iter().copied().filter(|s| s.per_node());
        for (section, over) in overridable.zip(values.iter().skip(sections.len())) {
            if let Some(text) = texts.get_mut(&section) {
                *text = config::overlay(text.as_deref(), over.as_deref());
            }
        }
    }
    texts
}

/// The stored text of each of `sections` (`None` where nothing is stored) as the bus's scope sees
/// them, in one round trip.
pub async fn read_config_texts(
    bus: &Bus,
    sections: &[SectionName],
) -> Result<HashMap<SectionName, Option<String>>, BusError> {
    let values = bus.mget(&config_keys(bus.scope(), sections)).await?;
    Ok(config_texts(bus.scope(), sections, &values))
}

/// Resolves `sections` from Redis and the environment (see [`config`]). Problems name the section
/// and field; the values to run with are always complete.
pub async fn load_config(
    bus: &Bus,
    sections: &[SectionName],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<String>), BusError> {
    let texts = read_config_texts(bus, sections).await?;
    Ok(Config::resolve(
        sections,
        |s| texts.get(&s).cloned().flatten(),
        env,
    ))
}

/// What seeding did to one section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeded {
    /// The environment set nothing for it.
    NothingToSeed,
    /// Written from the environment.
    Written,
    /// Already in Redis (e.g. edited in the dashboard): left alone.
    AlreadyPresent,
}

/// Seeds `config:{section}` from the environment with `SET NX`, for every section the environment
/// sets fields of. Existing sections are never overwritten, so dashboard edits survive restarts.
/// Returns what happened per section, and the environment's problems.
pub async fn seed_config_from_env(
    bus: &Bus,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<(SectionName, Seeded)>, Vec<String>), BusError> {
    let mut outcome = Vec::new();
    let mut problems = Vec::new();
    for name in SectionName::ALL {
        let (fields, p) = config::env_layer_by_name(name, env);
        problems.extend(p);
        let seeded = if fields.is_empty() {
            Seeded::NothingToSeed
        } else if bus
            .set_nx(&keys::config(name), &Json::Object(fields).to_string())
            .await?
        {
            Seeded::Written
        } else {
            Seeded::AlreadyPresent
        };
        outcome.push((name, seeded));
    }
    Ok((outcome, problems))
}

/// Why a config write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConfigWriteError {
    /// A value the write sets is invalid (in `auth`, checked whole, any stored one too), named
    /// within its section; nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The bus failed; nothing was written.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The section changed since the writer loaded the revision it sent; nothing was written.
    #[error("config:{section} was changed elsewhere since it was loaded: reload it and try again")]
    Stale {
        /// The section.
        section: SectionName,
    },
    /// Other writers kept changing the sections under this write; nothing was written.
    #[error("the config is being changed by others right now: try again")]
    Busy,
}

/// A partial update of one section, as `POST /api/config` takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct SectionUpdate {
    /// The section.
    pub section: SectionName,
    /// Fields to set over what is stored; secrets sent back [`REDACTED`](config::REDACTED) are
    /// restored where that is safe ([`config::Section::restore_redacted`]).
    pub patch: Map<String, Json>,
    /// The [`config::revision`] the writer loaded, if it wants the write refused when the section
    /// has changed since.
    pub revision: Option<String>,
    /// Writes this node's override (`config:display@kitchen`) instead of the shared section: the
    /// patch is checked over the shared section with the override laid on it, and only the
    /// override's fields are stored.
    pub node: Option<NodeName>,
}

impl SectionUpdate {
    /// An update that does not check the revision (last writer wins, field by field).
    pub fn new(section: SectionName, patch: Map<String, Json>) -> Self {
        SectionUpdate {
            section,
            patch,
            revision: None,
            node: None,
        }
    }

    /// The name it is written and announced under: `display`, or `display@kitchen`.
    pub fn name(&self) -> String {
        match &self.node {
            None => self.section.as_str().to_owned(),
            Some(node) => Scope::node(node.clone()).id(self.section.as_str()),
        }
    }
}

/// One section a write stored ([`update_sections`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenSection {
    /// The section.
    pub section: SectionName,
    /// The node whose override it is (`None`: the shared section).
    pub node: Option<NodeName>,
    /// Its new text; its [`config::revision`] follows from it.
    pub text: String,
    /// Stored fields the write did not set that are invalid, kept as they were for the user to
    /// fix, each named within its section (`display.rotation`):
    /// [`config::CheckedUpdate::warnings`]. Empty when the section is valid as a whole.
    pub warnings: Vec<FieldError>,
}

/// Attempts of a write that others keep changing under it before it gives up.
const WRITE_ATTEMPTS: usize = 64;

/// Validates and writes several sections at once (all or none), then announces each on
/// `config:changed`. `updates` are partial: their fields go over what is stored, and are judged
/// on what they set ([`config::check_update`]). Returns the sections written.
pub async fn update_config(
    bus: &Bus,
    updates: &[(SectionName, Map<String, Json>)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<SectionName>, ConfigWriteError> {
    let updates: Vec<SectionUpdate> = updates
        .iter()
        .map(|(name, patch)| SectionUpdate::new(*name, patch.clone()))
        .collect();
    update_sections(bus, &updates, env)
        .await
        .map(|written| written.into_iter().map(|w| w.section).collect())
}

/// [`update_config`] with revisions: each update merges over what is stored at the moment it is
/// written (read, merge, compare-and-set, again if another writer came in between), so
/// concurrent partial writes never lose each other's fields; an update carrying a revision is
/// refused as [`ConfigWriteError::Stale`] if its section changed since. A field an update sets
/// that is invalid refuses the write ([`ConfigWriteError::Invalid`], naming it); an invalid
/// stored field it does not set is kept and reported in [`WrittenSection::warnings`]. Returns
/// each written section, in the order given.
pub async fn update_sections(
    bus: &Bus,
    updates: &[SectionUpdate],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<WrittenSection>, ConfigWriteError> {
    // Each update's key, and for an override the shared section it lies over.
    let keys: Vec<(String, Option<String>)> = updates
        .iter()
        .map(|u| match &u.node {
            None => (keys::config(u.section), None),
            Some(node) => (
                keys::config_override(u.section, node),
                Some(keys::config(u.section)),
            ),
        })
        .collect();
    let mut to_read: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
    to_read.extend(keys.iter().filter_map(|(_, shared)| shared.clone()));
    for attempt in 0..WRITE_ATTEMPTS {
        let values = bus.mget(&to_read).await?;
        let mut shared_values = values[updates.len()..].iter();
        let mut batch = Batch::new();
        let mut guards = Vec::with_capacity(updates.len());
        let mut written = Vec::with_capacity(updates.len());
        let mut announced = Vec::with_capacity(updates.len());
        for ((update, (key, shared)), current) in updates.iter().zip(&keys).zip(&values) {
            let name = update.section;
            if let Some(loaded) = &update.revision
                && *loaded != config::revision(current.as_deref())
            {
                return Err(ConfigWriteError::Stale { section: name });
            }
            // An override is checked as the node will read it: over the shared section.
            let seen = match shared {
                None => current.clone(),
                Some(_) => config::overlay(
                    shared_values.next().cloned().flatten().as_deref(),
                    current.as_deref().or(Some("{}")),
                ),
            };
            let mut patch = update.patch.clone();
            config::restore_redacted_by_name(name, &mut patch, seen.as_deref(), env)?;
            let mut checked = config::check_update_by_name(name, seen.as_deref(), &patch, env)?;
            if shared.is_some() {
                // Only the fields the node sets itself are its own; the rest follow the shared.
                let own: Map<String, Json> = current
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                checked
                    .to_store
                    .retain(|field, _| own.contains_key(field) || patch.contains_key(field));
            }
            let text = Json::Object(checked.to_store).to_string();
            batch.set(key.clone(), text.clone(), None);
            guards.push(Guard::holds(key.clone(), current.as_deref()));
            announced.push(update.name());
            written.push(WrittenSection {
                section: name,
                node: update.node.clone(),
                text,
                warnings: checked.warnings,
            });
        }
        announce_config_names(&mut batch, &announced);
        if bus.apply_if(&guards, &batch).await? {
            return Ok(written);
        }
        // Another writer came in between: merge over what it wrote, after a short random
        // pause growing with each try, so a crowd of writers does not keep colliding.
        let jitter = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
        let cap = 2 * (attempt as u64 + 1);
        tokio::time::sleep(Duration::from_millis(jitter % cap)).await;
    }
    Err(ConfigWriteError::Busy)
}

/// Publishes `config:changed` for each of `names` at the end of `batch`.
pub fn announce_config(batch: &mut Batch, names: &[SectionName]) {
    let names: Vec<String> = names.iter().map(|n| n.as_str().to_owned()).collect();
    announce_config_names(batch, &names);
}

/// [`announce_config`] by name, overrides (`display@kitchen`) included.
fn announce_config_names(batch: &mut Batch, names: &[String]) {
    let now = unix_now();
    for name in names {
        let notice = ConfigChanged {
            section: name.clone(),
            timestamp: now,
        };
        batch.publish(channels::CONFIG_CHANGED, to_json(&notice));
    }
}

/// Writes prepared `config:{section}` values (already in `batch`) and announces `names` on
/// `config:changed`, in one atomic batch.
pub async fn replace_config(
    bus: &Bus,
    batch: &mut Batch,
    names: &[SectionName],
) -> Result<(), BusError> {
    announce_config(batch, names);
    bus.apply(batch).await
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
    fn history_is_bounded_and_round_trips() {
        assert_eq!(history_entries(30), 2881.min(HISTORY_MAX_ENTRIES));
        assert_eq!(history_entries(300), 289);
        assert_eq!(history_entries(5), HISTORY_MAX_ENTRIES);
        let e = history_entry(1_708_000_000.04, 23.5);
        assert_eq!(e, "1708000000.0 23.5");
        assert_eq!(parse_history_entry(&e), Some((1_708_000_000.0, 23.5)));
        assert_eq!(parse_history_entry("x"), None);
    }

    #[test]
    fn rollup_buckets_and_chunks_follow_the_clock() {
        let five = Rollup::of(300).unwrap();
        let t = 1_708_000_123.4;
        assert_eq!(five.bucket_start(t), 1_708_000_200 - 300);
        assert_eq!(five.chunk_span(), 28_800);
        assert_eq!(five.chunk_of(t), 1_708_000_123 / 28_800 * 28_800);
        assert_eq!(five.field(t), ((1_708_000_123 % 28_800) / 300).to_string());
        let chunk = five.chunk_of(t);
        assert_eq!(five.expire_at(chunk), (chunk + 28_800 + 7 * 86_400) as f64);
        let hourly = Rollup::of(3600).unwrap();
        // 90 days of hourly buckets lie in at most 25 chunks of 4 days.
        let n = hourly.chunks(t - 90.0 * 86_400.0, t).count();
        assert!((23..=25).contains(&n), "{n}");
        assert_eq!(Rollup::of(60), None);
    }

    #[test]
    fn ttls_follow_the_interval_with_floors() {
        assert_eq!(reading_ttl(30, 60), Duration::from_secs(60));
        assert_eq!(reading_ttl(300, 60), Duration::from_secs(600));
        assert_eq!(reading_ttl(30, 90), Duration::from_secs(90));
        assert_eq!(status_ttl(30), Duration::from_secs(120));
        assert_eq!(status_ttl(300), Duration::from_secs(900));
    }
}
