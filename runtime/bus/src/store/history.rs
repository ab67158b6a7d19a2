//! Reading history: the 24 h list of each numeric reading, and its rollups (5-minute and hourly
//! statistics, kept 7 and 90 days), read back as series for charts.

use std::time::Duration;

use super::parse_logged;
use crate::keys;
use crate::model::Reading;
use crate::{Bus, BusError, Fetched, Read, Stats};

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
}
