//! Writes made together: the [`Batch`] and its operations, the [`Guard`]s of a conditional
//! apply, and the [`Stats`] that [`Batch::accumulate`] keeps; what both backends apply.

use std::time::Duration;

/// One write in a [`Batch`].
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Op {
    Set {
        key: String,
        value: String,
        ttl: Option<Duration>,
    },
    Del {
        key: String,
    },
    Publish {
        channel: String,
        payload: String,
    },
    Push {
        key: String,
        value: String,
        keep: usize,
        ttl: Option<Duration>,
        /// `LPUSH` and keep the first `keep` (newest first) instead of `RPUSH` and the last.
        front: bool,
    },
    Accumulate {
        key: String,
        field: String,
        value: f64,
        expire_at_ms: u64,
    },
}

/// Writes applied together: on Redis in one `MULTI`/`EXEC` round trip, so a reader never sees
/// half a poll; publishes go out after the sets they announce.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub(super) ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// `SET key value` with an optional expiry (rounded up to whole milliseconds, at least 1).
    pub fn set(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        ttl: Option<Duration>,
    ) -> &mut Self {
        self.ops.push(Op::Set {
            key: key.into(),
            value: value.into(),
            ttl,
        });
        self
    }

    /// `DEL key`.
    pub fn del(&mut self, key: impl Into<String>) -> &mut Self {
        self.ops.push(Op::Del { key: key.into() });
        self
    }

    /// `PUBLISH channel payload`, after the batch's writes.
    pub fn publish(&mut self, channel: impl Into<String>, payload: impl Into<String>) -> &mut Self {
        self.ops.push(Op::Publish {
            channel: channel.into(),
            payload: payload.into(),
        });
        self
    }

    /// Appends `value` to the list at `key`, keeps only its last `keep` entries (`RPUSH` + `LTRIM`)
    /// and sets the list's expiry: a bounded log such as a reading's history.
    pub fn push_capped(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        keep: usize,
        ttl: Option<Duration>,
    ) -> &mut Self {
        self.ops.push(Op::Push {
            key: key.into(),
            value: value.into(),
            keep: keep.max(1),
            ttl,
            front: false,
        });
        self
    }

    /// Prepends `value` to the list at `key` and keeps only its first `keep` entries (`LPUSH` +
    /// `LTRIM`), setting the list's expiry: a bounded log read newest first.
    pub fn push_front_capped(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        keep: usize,
        ttl: Option<Duration>,
    ) -> &mut Self {
        self.ops.push(Op::Push {
            key: key.into(),
            value: value.into(),
            keep: keep.max(1),
            ttl,
            front: true,
        });
        self
    }

    /// Folds `value` into the running statistics held in the field `field` of the hash at `key`
    /// (`"{count} {sum} {min} {max}"`, see [`Stats`]; created at the first value), and makes the
    /// hash expire at `expire_at` (Unix seconds; a moment already past removes it at once, as
    /// Redis `PEXPIREAT` does). Non-finite values are left out. A read-modify-write that runs
    /// inside the batch (a small script on Redis), so it is as atomic as the batch's other writes
    /// and two writers never lose each other's values: what [`crate::store`]'s history rollups are
    /// made of.
    pub fn accumulate(
        &mut self,
        key: impl Into<String>,
        field: impl Into<String>,
        value: f64,
        expire_at: f64,
    ) -> &mut Self {
        if value.is_finite() {
            self.ops.push(Op::Accumulate {
                key: key.into(),
                field: field.into(),
                value,
                expire_at_ms: unix_millis(expire_at),
            });
        }
        self
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// A condition of [`Bus::apply_if`](super::Bus::apply_if): `key` holds `expected` (`None`: the key has no value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    /// The key to look at.
    pub key: String,
    /// What it must hold for the batch to apply.
    pub expected: Option<String>,
}

impl Guard {
    /// `key` must hold `expected`.
    pub fn holds(key: impl Into<String>, expected: Option<&str>) -> Guard {
        Guard {
            key: key.into(),
            expected: expected.map(str::to_owned),
        }
    }
}

/// Unix seconds as whole milliseconds, rounded up (0 for anything before the epoch).
fn unix_millis(at: f64) -> u64 {
    if at.is_finite() && at > 0.0 {
        // Saturates at u64::MAX for absurd values; exact for any real date.
        (at * 1000.0).ceil() as u64
    } else {
        0
    }
}

/// A count, sum, minimum and maximum of values, as [`Batch::accumulate`] keeps them in one hash
/// field: `"{count} {sum} {min} {max}"`, each number to 15 significant digits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// How many values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Stats {
    /// The statistics of one value.
    pub fn of(value: f64) -> Stats {
        Stats {
            count: 1,
            sum: value,
            min: value,
            max: value,
        }
    }

    /// The mean (`sum / count`).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// These and `other` together.
    pub fn merge(&self, other: &Stats) -> Stats {
        Stats {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    /// Parses the stored text; `None` when it is not four numbers.
    pub fn parse(text: &str) -> Option<Stats> {
        let mut parts = text.split(' ');
        let count = parts.next()?.parse().ok()?;
        let mut next = || parts.next()?.parse::<f64>().ok();
        let (sum, min, max) = (next()?, next()?, next()?);
        Some(Stats {
            count,
            sum,
            min,
            max,
        })
    }

    /// The stored text, each number rounded to 15 significant digits as the Redis script's
    /// `%.15g` does (the text may differ, `1e20` for `1e+20`; the numbers read back are equal).
    pub fn to_text(&self) -> String {
        let sig = |x: f64| format!("{x:.14e}").parse::<f64>().unwrap_or(x);
        format!(
            "{} {} {} {}",
            self.count,
            sig(self.sum),
            sig(self.min),
            sig(self.max)
        )
    }
}
