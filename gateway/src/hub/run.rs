//! The hub's task: one subscription per kind of event feeds every client, the bus is pinged,
//! sources are re-read, expired values dropped, and the config reconciled.

use std::rc::Rc;
use std::sync::Arc;

use sense_bus::ids::split_scoped;
use sense_bus::keys::{self, channels};
use sense_bus::model::NodeRecord;
use sense_bus::store;
use sense_bus::{Bus, BusError, Scope, SourceId, Subscription, Topic};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::{HEALTH_CHECK, LOG_HISTORY, PING_TIMEOUT, RECONCILE};
use crate::state::{LOGS_CHANNEL, LOGS_KEY, Shared};

/// Re-reads every source and every node record; a bus that does not answer is said to be down.
async fn reload(shared: &Shared) {
    match store::read_all_source_lives(&shared.bus).await {
        Ok(all) => {
            if let Some(tailscale) = all.get(SourceId::Tailscale.as_str()) {
                shared.hosts.learn(&tailscale.snapshot);
            }
            shared.hub.update(|s, now| s.put_all(all, now));
        }
        Err(e) => return shared.hub.set_bus(Err(e.to_string())),
    }
    reload_nodes(shared).await;
}

/// Every `node:{name}` record (a named node's orchestrator writes its own at each health write).
/// A key that is not a node name, or a record that is not one, is left out; the key names the
/// node, whatever the record says.
pub async fn read_nodes(bus: &Bus) -> Result<Vec<NodeRecord>, BusError> {
    let found = bus.keys(keys::ALL_NODES).await?;
    let found: Vec<String> = found
        .into_iter()
        .filter(|k| keys::parse_node(k).is_some())
        .collect();
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let values = bus.mget(&found).await?;
    Ok(found
        .iter()
        .zip(values)
        .filter_map(|(key, text)| {
            let name = keys::parse_node(key)?;
            let mut record: NodeRecord = serde_json::from_str(&text?)
                .inspect_err(|e| {
                    tracing::debug!(key, error = %e, "ignoring a node record not as expected");
                })
                .ok()?;
            record.name = name.to_string();
            Some(record)
        })
        .collect())
}

/// Re-reads the node records.
async fn reload_nodes(shared: &Shared) {
    match read_nodes(&shared.bus).await {
        Ok(nodes) => shared.hub.set_nodes(nodes),
        Err(e) => shared.hub.set_bus(Err(e.to_string())),
    }
}

/// Re-reads one source after its `data:{id}` notice.
async fn reload_source(shared: &Shared, id: &str) {
    match store::read_source_life(&shared.bus, id).await {
        Ok(life) => {
            if id == SourceId::Tailscale.as_str() {
                shared.hosts.learn(&life.snapshot);
            }
            shared.hub.update(|s, now| s.put_source(id, life, now));
        }
        Err(e) => shared.hub.set_bus(Err(e.to_string())),
    }
}

async fn next(sub: &mut Option<Subscription>) -> Option<sense_bus::Message> {
    match sub {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// When the next value expires, unless the bus is down: then the last values stay, shown frozen,
/// until the bus says what is true again.
async fn next_expiry(shared: &Shared) {
    let at = shared
        .hub
        .read(|s| s.next_expiry())
        .filter(|_| shared.hub.bus_up());
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs the hub until `shutdown`.
pub async fn run(shared: Rc<Shared>, shutdown: CancellationToken) {
    // The config was reconciled once before the first connection (`crate::serve`).
    // Log entries written before this gateway started.
    if let Ok(entries) = shared.bus.list(LOGS_KEY).await {
        for e in entries.iter().rev().take(LOG_HISTORY).rev() {
            if let Ok(v) = serde_json::from_str::<Json>(e) {
                shared.hub.push_log(Arc::new(v));
            }
        }
    }
    let topics = [
        Topic::pattern(channels::ALL_DATA),
        Topic::channel(channels::MATRIX_STATE),
        Topic::pattern(channels::ALL_NODE_MATRIX_STATES),
        Topic::channel(channels::CONFIG_CHANGED),
        Topic::channel(LOGS_CHANNEL),
    ];
    let mut sub = None;
    let mut health = tokio::time::interval(HEALTH_CHECK);
    let mut reconcile = tokio::time::interval(RECONCILE);
    loop {
        if sub.is_none() {
            match shared.bus.subscribe(&topics).await {
                // Subscribed first, then read: nothing published in between is missed.
                Ok(s) => {
                    sub = Some(s);
                    reload(&shared).await;
                }
                Err(e) => shared.hub.set_bus(Err(e.to_string())),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = health.tick() => {
                let was_up = shared.hub.bus_up();
                let result = match tokio::time::timeout(PING_TIMEOUT, shared.bus.ping()).await {
                    Ok(answer) => answer.map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "Redis did not answer a ping within {} s",
                        PING_TIMEOUT.as_secs_f32()
                    )),
                };
                let up = result.is_ok();
                shared.hub.set_bus(result);
                // Back: what was published meanwhile is read now, not at its next poll.
                if up && !was_up {
                    reload(&shared).await;
                    shared.reconcile_config().await;
                }
            }
            _ = reconcile.tick() => {
                if shared.hub.bus_up() {
                    reload(&shared).await;
                    shared.reconcile_config().await;
                }
            }
            () = next_expiry(&shared) => shared.hub.update(|s, now| s.expire(now)),
            message = next(&mut sub) => {
                let Some(m) = message else {
                    // The bus is gone for good (its subscription survives reconnections);
                    // subscribe again at the next turn.
                    sub = None;
                    health.tick().await;
                    continue;
                };
                if let Some(id) = channels::parse_data(&m.channel) {
                    reload_source(&shared, id).await;
                    // A node's orchestrator writes its record with its health.
                    if matches!(split_scoped(id), ("orchestrator", Some(_))) {
                        reload_nodes(&shared).await;
                    }
                } else if m.channel == channels::MATRIX_STATE {
                    shared.hub.set_grid(&Scope::HUB, Arc::from(m.payload));
                } else if let Some(node) = channels::parse_node_matrix_state(&m.channel) {
                    shared.hub.set_grid(&Scope::node(node), Arc::from(m.payload));
                } else if m.channel == channels::CONFIG_CHANGED {
                    shared.reconcile_config().await;
                } else if m.channel == LOGS_CHANNEL
                    && let Ok(entry) = serde_json::from_str::<Json>(&m.payload)
                {
                    shared.hub.push_log(Arc::new(entry));
                }
            }
        }
    }
}
