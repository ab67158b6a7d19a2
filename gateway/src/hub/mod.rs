//! The hub: what is true now, kept in memory and fed by the bus, so that requests and
//! WebSockets never wait on Redis and keep showing the last values while it is away.
//!
//! - [`Snapshot`]: every source (readings, status) and the bus state, filled from Redis at start
//!   and after each reconnect, updated from `data:{id}` notices, re-read every
//!   [`RECONCILE`] (a notice lost while Redis was away, or a status written without one, must not
//!   leave a source stale), and forgetting each value when Redis expires it.
//! - The named nodes' records (`node:{name}`, satellite Pis), re-read with the sources and on
//!   each `data:orchestrator@{name}` notice, for `GET /api/nodes`.
//! - The LED matrix's latest state and the latest log entries.
//!
//! Clients wait on [`Hub::watch_sources`] / [`Hub::watch_grid`]: `watch` channels hold only the
//! latest version, so a slow client gets the latest state when it catches up, never a backlog.

pub mod run;
pub mod snapshot;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use sense_bus::model::NodeRecord;
use sense_bus::{Scope, keys};
use serde_json::Value as Json;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

pub use snapshot::{DeltaCursor, Snapshot};

use crate::api::{BusHealth, BusState};

/// How often every source is re-read from the bus, besides the `data:{id}` notices.
pub const RECONCILE: Duration = Duration::from_secs(5);
/// How often the bus is pinged: a Redis that went away is noticed within this plus
/// [`PING_TIMEOUT`], and one that came back within this (the dashboard promises to say either
/// within 5 s).
pub const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How long the health check's ping may take before the bus counts as down: shorter than the
/// bus's own operation timeout (3 s), since a Redis that went away is not refused but retried by
/// the connection manager until that timeout. A PING on a live Redis takes well under 1 ms.
pub const PING_TIMEOUT: Duration = Duration::from_millis(1500);
/// Log entries kept for `/ws/logs` clients that connect later.
pub const LOG_HISTORY: usize = keys::LOGS_KEPT;
/// Log entries a `/ws/logs` client may be behind before it skips to the newest.
pub const LOG_BACKLOG: usize = 64;

/// The gateway's view of now.
#[derive(Debug)]
pub struct Hub {
    snapshot: RefCell<Snapshot>,
    sources_version: watch::Sender<u64>,
    /// The latest `matrix:state` of the hub's Sense HAT (`Scope::HUB`) and of each named node's.
    grids: RefCell<HashMap<Scope, watch::Sender<Option<Arc<str>>>>>,
    logs: broadcast::Sender<Arc<Json>>,
    log_history: RefCell<VecDeque<Arc<Json>>>,
    /// Every named node's record, sorted by name, as last read.
    nodes: RefCell<Vec<NodeRecord>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            snapshot: RefCell::default(),
            sources_version: watch::channel(0).0,
            grids: RefCell::new(HashMap::from([(Scope::HUB, watch::channel(None).0)])),
            logs: broadcast::channel(LOG_BACKLOG).0,
            log_history: RefCell::new(VecDeque::with_capacity(LOG_HISTORY)),
            nodes: RefCell::default(),
        }
    }
}

impl Hub {
    /// Reads or changes the snapshot; clients are told if `f` says it changed.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot, Instant) -> bool) {
        let (changed, version) = {
            let mut snapshot = self.snapshot.borrow_mut();
            let changed = f(&mut snapshot, Instant::now());
            (changed, snapshot.version())
        };
        if changed {
            self.sources_version.send_replace(version);
        }
    }

    /// Looks at the snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self.snapshot.borrow())
    }

    /// `GET /api/sources`'s body, serialised once per change.
    pub fn contract_json(&self) -> Rc<[u8]> {
        self.snapshot.borrow_mut().contract_json()
    }

    /// `GET /api/sources/{id}`'s body, if the bus holds anything of `id`.
    pub fn source_json(&self, id: &str) -> Option<Rc<[u8]>> {
        self.snapshot.borrow_mut().source_json(id)
    }

    /// The bus state now.
    pub fn bus(&self) -> BusState {
        self.snapshot.borrow().bus().clone()
    }

    /// Whether the bus answered last time.
    pub fn bus_up(&self) -> bool {
        self.snapshot.borrow().bus().state == BusHealth::Up
    }

    /// Says whether the bus answers.
    pub fn set_bus(&self, result: Result<(), String>) {
        let went = result.is_err() && self.bus_up();
        if let Err(e) = &result
            && went
        {
            tracing::warn!(error = %e, "the data bus is unreachable; serving the last values");
        }
        let came_back = result.is_ok() && !self.bus_up();
        if came_back {
            tracing::info!("the data bus answers again");
        }
        self.update(|s, now| s.set_bus(result, now));
    }

    /// Wakes on each change of the sources or the bus state.
    pub fn watch_sources(&self) -> watch::Receiver<u64> {
        self.sources_version.subscribe()
    }

    /// Replaces the named nodes' records with a full read of them (kept as they are while the
    /// bus is away: the last ones seen).
    pub fn set_nodes(&self, mut nodes: Vec<NodeRecord>) {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        *self.nodes.borrow_mut() = nodes;
    }

    /// Every named node's record, sorted by name.
    pub fn nodes(&self) -> Vec<NodeRecord> {
        self.nodes.borrow().clone()
    }

    /// Keeps the latest `matrix:state` of `scope`'s Sense HAT (`matrix:state@kitchen`: a named
    /// node's, which only that node may publish).
    pub fn set_grid(&self, scope: &Scope, payload: Arc<str>) {
        self.grids
            .borrow_mut()
            .entry(scope.clone())
            .or_insert_with(|| watch::channel(None).0)
            .send_replace(Some(payload));
    }

    /// Wakes on each new `matrix:state` of `scope`'s Sense HAT; holds the latest. `None` for a
    /// node the hub knows nothing of, neither its record nor a source of it (so that asking for
    /// made-up names holds nothing; its sources may come before the hub re-reads the records).
    pub fn watch_grid(&self, scope: &Scope) -> Option<watch::Receiver<Option<Arc<str>>>> {
        let known =
            match scope.name() {
                None => true,
                Some(node) => {
                    self.nodes.borrow().iter().any(|n| n.name == node.as_str())
                        || self.snapshot.borrow().sources().any(|(id, _)| {
                            sense_bus::ids::split_scoped(id).1 == Some(node.as_str())
                        })
                }
            };
        if !known {
            return None;
        }
        let mut grids = self.grids.borrow_mut();
        Some(
            grids
                .entry(scope.clone())
                .or_insert_with(|| watch::channel(None).0)
                .subscribe(),
        )
    }

    /// Keeps a log entry and passes it to `/ws/logs` clients.
    pub fn push_log(&self, entry: Arc<Json>) {
        let mut history = self.log_history.borrow_mut();
        if history.len() == LOG_HISTORY {
            history.pop_front();
        }
        history.push_back(Arc::clone(&entry));
        let _ = self.logs.send(entry);
    }

    /// The kept log entries, oldest first.
    pub fn log_history(&self) -> Vec<Arc<Json>> {
        self.log_history.borrow().iter().cloned().collect()
    }

    /// New log entries from now on.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<Arc<Json>> {
        self.logs.subscribe()
    }
}
