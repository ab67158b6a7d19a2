//! The in-memory bus: Redis semantics for one process, for `sense-pulse run` without Redis.
//!
//! Keys expire lazily when read and in a periodic sweep on writes, so memory stays bounded by
//! what is live. Publishing delivers one message per matching subscription, as Redis does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    Batch, Fetched, Guard, Message, Op, Read, SUBSCRIPTION_BUFFER, Stats, Subscription, Topic, Ttl,
    glob_match,
};

/// Writes between sweeps of expired keys.
const SWEEP_EVERY: u32 = 256;

/// What a key holds: a string, a list (for `push_capped`) or a hash (for `accumulate`).
enum Stored {
    Text(String),
    List(std::collections::VecDeque<String>),
    Hash(std::collections::BTreeMap<String, String>),
}

/// The instant of the Unix time `at_ms`, `None` when it is not in the future.
fn instant_of_unix_millis(at_ms: u64, now: Instant) -> Option<Instant> {
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    (at_ms > now_ms).then(|| now + Duration::from_millis(at_ms - now_ms))
}

struct Entry {
    value: Stored,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Default)]
struct Data {
    entries: HashMap<String, Entry>,
    writes_since_sweep: u32,
}

struct Subscriber {
    topics: Vec<Topic>,
    tx: mpsc::Sender<Message>,
}

#[derive(Default)]
struct Inner {
    data: Mutex<Data>,
    subscribers: Mutex<Vec<Subscriber>>,
}

#[derive(Clone, Default)]
pub(super) struct MemoryBus {
    inner: Arc<Inner>,
}

/// A poisoned lock only means another thread panicked mid-operation; the map is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBus {
    pub(super) fn new() -> Self {
        MemoryBus::default()
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        let now = Instant::now();
        let mut data = lock(&self.inner.data);
        match data.entries.get(key) {
            Some(e) if e.live(now) => match &e.value {
                Stored::Text(text) => Some(text.clone()),
                // Redis would answer WRONGTYPE; nothing reads a list as a string here.
                Stored::List(_) | Stored::Hash(_) => None,
            },
            Some(_) => {
                data.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn set_nx(&self, key: &str, value: &str) -> bool {
        let now = Instant::now();
        let mut data = lock(&self.inner.data);
        if data.entries.get(key).is_some_and(|e| e.live(now)) {
            return false;
        }
        data.entries.insert(
            key.to_owned(),
            Entry {
                value: Stored::Text(value.to_owned()),
                expires: None,
            },
        );
        true
    }

    pub(super) fn del(&self, key: &str) -> bool {
        let now = Instant::now();
        lock(&self.inner.data)
            .entries
            .remove(key)
            .is_some_and(|e| e.live(now))
    }

    pub(super) fn ttl(&self, key: &str) -> Ttl {
        let now = Instant::now();
        match lock(&self.inner.data).entries.get(key) {
            Some(e) if e.live(now) => match e.expires {
                None => Ttl::Persistent,
                Some(at) => Ttl::Expires(at - now),
            },
            _ => Ttl::Missing,
        }
    }

    /// Each key's text value and remaining life, read under one lock.
    pub(super) fn mget_ttl(&self, keys: &[String]) -> Vec<Option<(String, Ttl)>> {
        let now = Instant::now();
        let data = lock(&self.inner.data);
        keys.iter()
            .map(|key| match data.entries.get(key) {
                Some(e) if e.live(now) => match &e.value {
                    Stored::Text(text) => Some((
                        text.clone(),
                        e.expires
                            .map_or(Ttl::Persistent, |at| Ttl::Expires(at - now)),
                    )),
                    Stored::List(_) | Stored::Hash(_) => None,
                },
                _ => None,
            })
            .collect()
    }

    pub(super) fn keys(&self, pattern: &str) -> Vec<String> {
        let now = Instant::now();
        let data = lock(&self.inner.data);
        let mut keys: Vec<String> = data
            .entries
            .iter()
            .filter(|(k, e)| e.live(now) && glob_match(pattern, k))
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    pub(super) fn apply(&self, batch: &Batch) {
        self.apply_if(&[], batch);
    }

    /// Applies `batch` only if every guard's key holds what it expects (`None`: no value), all
    /// under one lock as Redis runs a script: nothing can write in between.
    pub(super) fn apply_if(&self, guards: &[Guard], batch: &Batch) -> bool {
        let now = Instant::now();
        let mut publishes = Vec::new();
        {
            let mut data = lock(&self.inner.data);
            let holds = |key: &str| match data.entries.get(key) {
                Some(Entry {
                    value: Stored::Text(text),
                    expires,
                }) if expires.is_none_or(|at| at > now) => Some(text.as_str()),
                _ => None,
            };
            if guards
                .iter()
                .any(|g| holds(&g.key) != g.expected.as_deref())
            {
                return false;
            }
            for op in &batch.ops {
                match op {
                    Op::Set { key, value, ttl } => {
                        let expires =
                            ttl.map(|t| now + Duration::from_millis(super::ttl_millis(t)));
                        data.entries.insert(
                            key.clone(),
                            Entry {
                                value: Stored::Text(value.clone()),
                                expires,
                            },
                        );
                        data.writes_since_sweep += 1;
                    }
                    Op::Del { key } => {
                        data.entries.remove(key);
                    }
                    Op::Push {
                        key,
                        value,
                        keep,
                        ttl,
                        front,
                    } => {
                        let entry = data.entries.entry(key.clone()).or_insert(Entry {
                            value: Stored::List(std::collections::VecDeque::new()),
                            expires: None,
                        });
                        // An expired or string value is replaced, as a fresh key would be.
                        if !entry.live(now) || matches!(entry.value, Stored::Text(_)) {
                            entry.value = Stored::List(std::collections::VecDeque::new());
                        }
                        if let Stored::List(list) = &mut entry.value {
                            if *front {
                                list.push_front(value.clone());
                                list.truncate(*keep);
                            } else {
                                list.push_back(value.clone());
                                while list.len() > *keep {
                                    list.pop_front();
                                }
                            }
                        }
                        entry.expires =
                            ttl.map(|t| now + Duration::from_millis(super::ttl_millis(t)));
                        data.writes_since_sweep += 1;
                    }
                    Op::Accumulate {
                        key,
                        field,
                        value,
                        expire_at_ms,
                    } => {
                        let Some(expires) = instant_of_unix_millis(*expire_at_ms, now) else {
                            // Expiring in the past: Redis removes the key at once.
                            data.entries.remove(key);
                            continue;
                        };
                        let entry = data.entries.entry(key.clone()).or_insert(Entry {
                            value: Stored::Hash(Default::default()),
                            expires: None,
                        });
                        if !entry.live(now) || !matches!(entry.value, Stored::Hash(_)) {
                            entry.value = Stored::Hash(Default::default());
                        }
                        if let Stored::Hash(hash) = &mut entry.value {
                            let stats = hash
                                .get(field)
                                .and_then(|t| Stats::parse(t))
                                .map_or(Stats::of(*value), |s| s.merge(&Stats::of(*value)));
                            hash.insert(field.clone(), stats.to_text());
                        }
                        entry.expires = Some(expires);
                        data.writes_since_sweep += 1;
                    }
                    Op::Publish { channel, payload } => publishes.push((channel, payload)),
                }
            }
            if data.writes_since_sweep >= SWEEP_EVERY {
                data.entries.retain(|_, e| e.live(now));
                data.writes_since_sweep = 0;
            }
        }
        for (channel, payload) in publishes {
            self.publish(channel, payload);
        }
        true
    }

    pub(super) fn list(&self, key: &str) -> Vec<String> {
        let now = Instant::now();
        match lock(&self.inner.data).entries.get(key) {
            Some(Entry {
                value: Stored::List(list),
                expires,
            }) if expires.is_none_or(|at| at > now) => list.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Every read under one lock: they see the same moment, as a Redis transaction does.
    pub(super) fn read(&self, reads: &[Read]) -> Vec<Fetched> {
        let now = Instant::now();
        let data = lock(&self.inner.data);
        let live = |key: &str| data.entries.get(key).filter(|e| e.live(now));
        reads
            .iter()
            .map(|read| match read {
                Read::Get(key) => Fetched::Text(match live(key).map(|e| &e.value) {
                    Some(Stored::Text(text)) => Some(text.clone()),
                    _ => None,
                }),
                Read::List(key) => Fetched::List(match live(key).map(|e| &e.value) {
                    Some(Stored::List(list)) => list.iter().cloned().collect(),
                    _ => Vec::new(),
                }),
                Read::Hash(key) => Fetched::Hash(match live(key).map(|e| &e.value) {
                    Some(Stored::Hash(hash)) => {
                        hash.iter().map(|(f, v)| (f.clone(), v.clone())).collect()
                    }
                    _ => Vec::new(),
                }),
            })
            .collect()
    }

    pub(super) fn publish(&self, channel: &str, payload: &str) -> usize {
        let mut delivered = 0;
        let mut subscribers = lock(&self.inner.subscribers);
        subscribers.retain(|s| !s.tx.is_closed());
        for s in subscribers.iter() {
            for topic in s.topics.iter().filter(|t| t.matches(channel)) {
                let message = Message {
                    channel: channel.to_owned(),
                    pattern: match topic {
                        Topic::Pattern(p) => Some(p.clone()),
                        Topic::Channel(_) => None,
                    },
                    payload: payload.to_owned(),
                };
                match s.tx.try_send(message) {
                    Ok(()) => delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(channel, "subscriber is not keeping up; message dropped");
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        delivered
    }

    pub(super) fn subscribe(&self, topics: &[Topic]) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        lock(&self.inner.subscribers).push(Subscriber {
            topics: topics.to_vec(),
            tx,
        });
        Subscription {
            rx,
            _guard: Box::new(()),
        }
    }
}
