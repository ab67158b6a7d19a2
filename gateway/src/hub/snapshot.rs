//! What is true now: every source's readings and status as last read from the bus, with the
//! moment Redis expires each, and the bus's own state. Kept in memory so requests never wait on
//! Redis; serialised once per change, not per request.
//!
//! A value goes when Redis expires it, not sooner: one that Redis no longer holds before its time
//! (Redis restarted empty, or lost its data) is kept until then, as a Redis that saved its data
//! would have kept it, so the dashboard shows every source's last reading while the sources write
//! again. The time the bus was down does not count against a value's life: the sources could not
//! write meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use sense_bus::store::{SourceLife, SourceSnapshot};
use sense_bus::{Ttl, unix_now};
use tokio::time::Instant;

use crate::api::{BusHealth, BusState, SourceView, SourcesDelta};

/// When a key with `ttl` left at `now` expires (`None`: never).
fn deadline(ttl: Ttl, now: Instant) -> Option<Instant> {
    match ttl {
        Ttl::Expires(left) => Some(now + left),
        Ttl::Persistent | Ttl::Missing => None,
    }
}

/// A value missing from Redis less than this before its deadline went by itself (the gateway's
/// deadline is a round trip later than Redis's own); one missing sooner was lost.
const LOST_MARGIN: Duration = Duration::from_secs(1);

/// The life left to a value kept past its loss from Redis, if it was lost (rather than expired).
fn left_if_lost(at: Option<Instant>, now: Instant) -> Option<Ttl> {
    at.filter(|at| *at > now + LOST_MARGIN)
        .map(|at| Ttl::Expires(at - now))
}

#[derive(Debug)]
struct Entry {
    snapshot: SourceSnapshot,
    reading_expiry: BTreeMap<String, Instant>,
    status_expiry: Option<Instant>,
    /// The [`Snapshot::version`] at which it last changed.
    version: u64,
    /// `GET /api/sources/{id}`'s body, built on first use after a change.
    json: Option<Rc<[u8]>>,
}

impl Entry {
    fn from_life(life: SourceLife, now: Instant, version: u64) -> Entry {
        Entry {
            reading_expiry: life
                .reading_ttls
                .into_iter()
                .filter_map(|(sensor, ttl)| Some((sensor, deadline(ttl, now)?)))
                .collect(),
            status_expiry: life.status_ttl.and_then(|ttl| deadline(ttl, now)),
            snapshot: life.snapshot,
            version,
            json: None,
        }
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.reading_expiry
            .values()
            .copied()
            .chain(self.status_expiry)
            .min()
    }

    /// Adds to `life` (what Redis holds of this source now) the values Redis lost before their
    /// time, with the life they had left.
    fn keep_lost(&self, life: &mut SourceLife, now: Instant) {
        for (sensor, reading) in &self.snapshot.readings {
            if life.snapshot.readings.contains_key(sensor) {
                continue;
            }
            if let Some(ttl) = left_if_lost(self.reading_expiry.get(sensor).copied(), now) {
                life.snapshot
                    .readings
                    .insert(sensor.clone(), reading.clone());
                life.reading_ttls.insert(sensor.clone(), ttl);
            }
        }
        if life.snapshot.status.is_none()
            && let Some(status) = &self.snapshot.status
            && let Some(ttl) = left_if_lost(self.status_expiry, now)
        {
            life.snapshot.status = Some(status.clone());
            life.status_ttl = Some(ttl);
        }
    }

    /// Moves every deadline `by` later.
    fn postpone(&mut self, by: Duration) {
        for at in self.reading_expiry.values_mut() {
            *at += by;
        }
        if let Some(at) = &mut self.status_expiry {
            *at += by;
        }
    }
}

/// What a `/ws/sources?mode=delta` client was last sent.
#[derive(Debug, Default)]
pub struct DeltaCursor {
    version: Option<u64>,
    known: BTreeSet<String>,
}

/// Every source, the bus state, and a version that grows with each change.
#[derive(Debug)]
pub struct Snapshot {
    sources: BTreeMap<String, Entry>,
    bus: BusState,
    /// When the bus went down, while it is.
    down_at: Option<Instant>,
    version: u64,
    /// `GET /api/sources`'s body, built on first use after a change.
    contract_json: Option<Rc<[u8]>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            sources: BTreeMap::new(),
            bus: BusState {
                state: BusHealth::Up,
                since: unix_now(),
                error: None,
            },
            down_at: None,
            version: 0,
            contract_json: None,
        }
    }
}

impl Snapshot {
    /// Grows with every change of a source or of the bus state.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The bus state.
    pub fn bus(&self) -> &BusState {
        &self.bus
    }

    /// Every source now.
    pub fn sources(&self) -> impl Iterator<Item = (&str, &SourceSnapshot)> {
        self.sources
            .iter()
            .map(|(id, e)| (id.as_str(), &e.snapshot))
    }

    /// One source now.
    pub fn source(&self, id: &str) -> Option<&SourceSnapshot> {
        self.sources.get(id).map(|e| &e.snapshot)
    }

    fn changed(&mut self) -> u64 {
        self.version += 1;
        self.contract_json = None;
        self.version
    }

    /// Says whether the bus answers at `now`; returns whether that changed anything. When it
    /// answers again, every value's deadline moves by the time it did not.
    pub fn set_bus(&mut self, result: Result<(), String>, now: Instant) -> bool {
        let state = if result.is_ok() {
            BusHealth::Up
        } else {
            BusHealth::Down
        };
        let error = result.err();
        if state == self.bus.state && (state == BusHealth::Up || error == self.bus.error) {
            return false;
        }
        let since = if state == self.bus.state {
            self.bus.since
        } else {
            unix_now()
        };
        match state {
            BusHealth::Down => {
                self.down_at.get_or_insert(now);
            }
            BusHealth::Up => {
                if let Some(down_at) = self.down_at.take() {
                    let down_for = now.saturating_duration_since(down_at);
                    for entry in self.sources.values_mut() {
                        entry.postpone(down_for);
                    }
                }
            }
        }
        self.bus = BusState {
            state,
            since,
            error,
        };
        for entry in self.sources.values_mut() {
            entry.json = None;
        }
        self.changed();
        true
    }

    /// Puts in what the bus holds for one source, read at `now` (nothing: the source is gone),
    /// keeping what Redis lost before its time. Returns whether anything a client sees changed.
    pub fn put_source(&mut self, id: &str, mut life: SourceLife, now: Instant) -> bool {
        if let Some(old) = self.sources.get(id) {
            old.keep_lost(&mut life, now);
        }
        if life.is_empty() {
            if self.sources.remove(id).is_some() {
                self.changed();
                return true;
            }
            return false;
        }
        let mut entry = Entry::from_life(life, now, self.version + 1);
        match self.sources.get_mut(id) {
            Some(old) if old.snapshot == entry.snapshot => {
                // Same values; the expiries may have moved (a rewrite of the same reading).
                old.reading_expiry = entry.reading_expiry;
                old.status_expiry = entry.status_expiry;
                false
            }
            _ => {
                entry.version = self.changed();
                self.sources.insert(id.to_owned(), entry);
                true
            }
        }
    }

    /// Replaces everything with a full read of the bus at `now`. Returns whether anything
    /// changed.
    pub fn put_all(&mut self, all: BTreeMap<String, SourceLife>, now: Instant) -> bool {
        let gone: Vec<String> = self
            .sources
            .keys()
            .filter(|id| !all.contains_key(*id))
            .cloned()
            .collect();
        let mut changed = false;
        for id in gone {
            changed |= self.put_source(&id, SourceLife::default(), now);
        }
        for (id, life) in all {
            changed |= self.put_source(&id, life, now);
        }
        changed
    }

    /// When the next reading or status expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.sources.values().filter_map(Entry::next_expiry).min()
    }

    /// Drops what Redis has dropped by `now`. Returns whether anything changed.
    pub fn expire(&mut self, now: Instant) -> bool {
        let mut touched = Vec::new();
        for (id, entry) in &mut self.sources {
            let before =
                entry.snapshot.readings.len() + usize::from(entry.snapshot.status.is_some());
            entry.reading_expiry.retain(|sensor, at| {
                let live = *at > now;
                if !live {
                    entry.snapshot.readings.remove(sensor);
                }
                live
            });
            if entry.status_expiry.is_some_and(|at| at <= now) {
                entry.status_expiry = None;
                entry.snapshot.status = None;
            }
            let after =
                entry.snapshot.readings.len() + usize::from(entry.snapshot.status.is_some());
            if after != before {
                touched.push(id.clone());
            }
        }
        if touched.is_empty() {
            return false;
        }
        let version = self.changed();
        for id in touched {
            let empty = self
                .sources
                .get(&id)
                .is_some_and(|e| e.snapshot.readings.is_empty() && e.snapshot.status.is_none());
            if empty {
                self.sources.remove(&id);
            } else if let Some(entry) = self.sources.get_mut(&id) {
                entry.version = version;
                entry.json = None;
            }
        }
        true
    }

    /// `GET /api/sources` and the default `/ws/sources` message: every source in the contract's
    /// shape, each with the bus state.
    pub fn contract_json(&mut self) -> Rc<[u8]> {
        if let Some(json) = &self.contract_json {
            return Rc::clone(json);
        }
        let bus = &self.bus;
        let view: BTreeMap<&str, SourceView<'_>> = self
            .sources
            .iter()
            .map(|(id, e)| (id.as_str(), SourceView::new(&e.snapshot, Some(bus))))
            .collect();
        let json: Rc<[u8]> = serde_json::to_vec(&view).unwrap_or_default().into();
        self.contract_json = Some(Rc::clone(&json));
        json
    }

    /// `GET /api/sources/{id}`: one source in the contract's shape, `None` if the bus holds
    /// nothing of it.
    pub fn source_json(&mut self, id: &str) -> Option<Rc<[u8]>> {
        let bus = &self.bus;
        let entry = self.sources.get_mut(id)?;
        if entry.json.is_none() {
            let view = SourceView::new(&entry.snapshot, Some(bus));
            entry.json = Some(serde_json::to_vec(&view).unwrap_or_default().into());
        }
        entry.json.clone()
    }

    /// A delta client's keep-alive: nothing changed, and the bus state. Moves no cursor (a
    /// change not yet sent still goes in the next [`Snapshot::delta`]).
    pub fn keepalive(&self) -> String {
        let message = SourcesDelta {
            kind: "sources",
            full: false,
            bus: &self.bus,
            sources: BTreeMap::new(),
            removed: Vec::new(),
        };
        serde_json::to_string(&message).unwrap_or_default()
    }

    /// The `/ws/sources?mode=delta` message that brings a client at `cursor` up to date, or
    /// `None` if it is. Advances the cursor.
    pub fn delta(&self, cursor: &mut DeltaCursor) -> Option<String> {
        let full = cursor.version.is_none();
        let since = cursor.version.unwrap_or(0);
        if !full && since == self.version {
            return None;
        }
        let sources: BTreeMap<&str, SourceView<'_>> = self
            .sources
            .iter()
            .filter(|(_, e)| full || e.version > since)
            .map(|(id, e)| (id.as_str(), SourceView::new(&e.snapshot, None)))
            .collect();
        let removed: Vec<&str> = cursor
            .known
            .iter()
            .filter(|id| !self.sources.contains_key(*id))
            .map(String::as_str)
            .collect();
        let message = SourcesDelta {
            kind: "sources",
            full,
            bus: &self.bus,
            sources,
            removed,
        };
        let text = serde_json::to_string(&message).unwrap_or_default();
        cursor.version = Some(self.version);
        cursor.known = self.sources.keys().cloned().collect();
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use sense_bus::model::{Reading, Status, Value};
    use serde_json::Value as Json;

    use super::*;

    fn reading(value: f64) -> Reading {
        Reading {
            value: Value::Float(value),
            unit: Some("C".into()),
            timestamp: 1_708_000_000.0,
        }
    }

    fn read(sensor: &str, value: f64, ttl: Ttl) -> SourceLife {
        let mut life = SourceLife::default();
        life.snapshot
            .readings
            .insert(sensor.to_owned(), reading(value));
        life.reading_ttls.insert(sensor.to_owned(), ttl);
        life
    }

    fn json(bytes: &[u8]) -> Json {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_contract_body_is_built_once_per_change() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        assert!(s.put_source("sensors", read("temperature", 21.0, Ttl::Persistent), now));
        let first = s.contract_json();
        assert!(
            Rc::ptr_eq(&first, &s.contract_json()),
            "rebuilt without a change"
        );
        // The same values again change nothing.
        assert!(!s.put_source("sensors", read("temperature", 21.0, Ttl::Persistent), now));
        assert!(Rc::ptr_eq(&first, &s.contract_json()));
        assert!(s.put_source("sensors", read("temperature", 22.0, Ttl::Persistent), now));
        let body = json(&s.contract_json());
        assert_eq!(body["sensors"]["readings"]["temperature"]["value"], 22.0);
        assert_eq!(body["sensors"]["bus"]["state"], "up");
        assert_eq!(body["sensors"]["status"], Json::Null);
    }

    #[test]
    fn readings_go_when_redis_expires_them() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        let mut both = read("a", 1.0, Ttl::Expires(Duration::from_secs(60)));
        both.snapshot.readings.insert("b".into(), reading(2.0));
        both.reading_ttls
            .insert("b".into(), Ttl::Expires(Duration::from_secs(120)));
        s.put_source("system", both, now);
        assert_eq!(s.next_expiry(), Some(now + Duration::from_secs(60)));
        assert!(!s.expire(now + Duration::from_secs(59)));
        assert!(s.expire(now + Duration::from_secs(60)));
        let left: Vec<&String> = s.source("system").unwrap().readings.keys().collect();
        assert_eq!(left, ["b"]);
        assert!(s.expire(now + Duration::from_secs(120)));
        assert!(s.source("system").is_none(), "an empty source is gone");
        assert_eq!(json(&s.contract_json()), serde_json::json!({}));
    }

    #[test]
    fn the_bus_state_is_said_and_dated() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        s.put_source("weather", read("weather_temp", 18.0, Ttl::Persistent), now);
        let before = s.version();
        assert!(s.set_bus(Err("connection refused".into()), now));
        assert!(s.version() > before);
        let body = json(&s.contract_json());
        assert_eq!(body["weather"]["bus"]["state"], "down");
        assert_eq!(body["weather"]["bus"]["error"], "connection refused");
        assert_eq!(body["weather"]["readings"]["weather_temp"]["value"], 18.0);
        let since = s.bus().since;
        assert!(
            s.set_bus(Err("timed out".into()), now),
            "a new cause is news"
        );
        assert_eq!(s.bus().since, since, "still down since the first failure");
        assert!(s.set_bus(Ok(()), now));
        assert!(!s.set_bus(Ok(()), now));
    }

    #[test]
    fn deltas_carry_what_changed_and_what_went() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        s.put_source("a", read("x", 1.0, Ttl::Persistent), now);
        s.put_source("b", read("y", 2.0, Ttl::Persistent), now);
        let mut cursor = DeltaCursor::default();
        let first = json(s.delta(&mut cursor).unwrap().as_bytes());
        assert_eq!(first["type"], "sources");
        assert_eq!(first["full"], true);
        assert_eq!(first["bus"]["state"], "up");
        assert!(
            first["sources"]["a"]["bus"].is_null(),
            "said once, not per source"
        );
        assert_eq!(first["sources"].as_object().unwrap().len(), 2);
        assert_eq!(s.delta(&mut cursor), None, "nothing new");
        s.put_source("b", read("y", 3.0, Ttl::Persistent), now);
        s.put_source("a", SourceLife::default(), now);
        let next = json(s.delta(&mut cursor).unwrap().as_bytes());
        assert_eq!(next["full"], false);
        assert_eq!(next["sources"].as_object().unwrap().len(), 1);
        assert_eq!(next["sources"]["b"]["readings"]["y"]["value"], 3.0);
        assert_eq!(next["removed"], serde_json::json!(["a"]));
        let idle = json(s.keepalive().as_bytes());
        assert_eq!(idle["bus"]["state"], "up");
        assert_eq!(s.delta(&mut cursor), None, "a keep-alive moves no cursor");
        assert_eq!(idle["sources"], serde_json::json!({}));
        assert_eq!(idle["removed"], serde_json::json!([]));
    }

    fn status(ttl: Ttl) -> (Status, Ttl) {
        (Status::new("weather"), ttl)
    }

    #[test]
    fn values_redis_lost_are_kept_until_they_were_due() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        let mut life = read("weather_temp", 18.0, Ttl::Expires(Duration::from_secs(600)));
        let (st, ttl) = status(Ttl::Expires(Duration::from_secs(900)));
        life.snapshot.status = Some(st);
        life.status_ttl = Some(ttl);
        s.put_source("weather", life, now);
        // Redis restarted empty: a full read finds nothing of weather.
        let later = now + Duration::from_secs(5);
        assert!(
            !s.put_all(BTreeMap::new(), later),
            "nothing a client sees changed"
        );
        let kept = s.source("weather").expect("kept");
        assert_eq!(
            kept.readings["weather_temp"].value,
            Value::Float(18.0),
            "the last reading stays"
        );
        assert!(kept.status.is_some(), "and so does the status");
        // Until it would have expired in Redis.
        assert_eq!(s.next_expiry(), Some(now + Duration::from_secs(600)));
        assert!(s.expire(now + Duration::from_secs(600)));
        assert!(s.source("weather").unwrap().readings.is_empty());
        // The source writes again: its values replace the kept ones.
        let mut fresh = read("weather_temp", 19.0, Ttl::Expires(Duration::from_secs(600)));
        fresh.snapshot.status = Some(Status::new("weather"));
        fresh.status_ttl = Some(Ttl::Expires(Duration::from_secs(900)));
        assert!(s.put_source("weather", fresh, later));
        assert_eq!(
            s.source("weather").unwrap().readings["weather_temp"].value,
            Value::Float(19.0)
        );
    }

    #[test]
    fn values_that_expired_in_redis_are_not_kept() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        s.put_source(
            "system",
            read("cpu_percent", 3.0, Ttl::Expires(Duration::from_secs(60))),
            now,
        );
        // Read a moment before the gateway's own deadline: Redis expired it first.
        let almost = now + Duration::from_millis(59_500);
        assert!(s.put_all(BTreeMap::new(), almost));
        assert!(s.source("system").is_none());
        // A key without a deadline that vanished is gone too (nothing says it was lost).
        s.put_source("a", read("x", 1.0, Ttl::Persistent), now);
        assert!(s.put_source("a", SourceLife::default(), now));
        assert!(s.source("a").is_none());
    }

    #[test]
    fn the_time_the_bus_was_down_does_not_count_against_a_value() {
        let now = Instant::now();
        let mut s = Snapshot::default();
        s.put_source(
            "system",
            read("cpu_percent", 3.0, Ttl::Expires(Duration::from_secs(60))),
            now,
        );
        s.set_bus(
            Err("connection refused".into()),
            now + Duration::from_secs(10),
        );
        // Down for 100 s, past the reading's deadline: back, it has the 50 s it had left.
        let back = now + Duration::from_secs(110);
        s.set_bus(Ok(()), back);
        assert_eq!(s.next_expiry(), Some(back + Duration::from_secs(50)));
        // Redis came back empty: the reading stays until then.
        assert!(!s.put_all(BTreeMap::new(), back));
        assert!(!s.expire(back + Duration::from_secs(49)));
        assert!(s.expire(back + Duration::from_secs(50)));
        assert!(s.source("system").is_none());
    }
}
