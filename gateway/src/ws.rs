//! The WebSocket feeds: `/ws/sources`, `/ws/grid`, `/ws/logs`.
//!
//! Each sends what there is now on connect, then changes. State feeds (sources, grid) coalesce:
//! a client gets at most one message per [`SOURCES_EVERY`] / [`GRID_EVERY`], always the latest
//! state, never a backlog, so a client that falls behind catches up with the newest values
//! instead of being dropped. Only a client whose socket takes no data for [`STALL`] is dropped.
//! A ping goes out every [`HEARTBEAT`] so proxies keep the connection and clients notice a dead
//! one; delta clients also get a message at least every [`DELTA_KEEPALIVE_S`] seconds, which a
//! browser's script can see (it cannot see pings).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use picoserve::futures::Either;
use picoserve::io::{Read, Write};
use picoserve::response::ws::{Message, SocketRx, SocketTx, WebSocketCallback};
use serde_json::{Value as Json, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::api::DELTA_KEEPALIVE_S;
use crate::conn::WebSocketPermit;
use crate::hub::{DeltaCursor, Snapshot};
use crate::state::{Counters, Shared};

/// Time between pings.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// The most often a `/ws/sources` client gets a message.
pub const SOURCES_EVERY: Duration = Duration::from_millis(250);
/// The most often a `/ws/grid` client gets a message (smooth enough for scrolling text).
pub const GRID_EVERY: Duration = Duration::from_millis(50);
/// A socket that takes no data for this long is dropped (and counted): sooner than picoserve's
/// own write timeout (5 s, `crate::conn`), which would end it uncounted.
pub const STALL: Duration = Duration::from_secs(4);

/// The level order used by the log filter.
fn level_rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "error" => 3,
        "warn" | "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// Which WebSocket.
#[derive(Debug)]
pub enum Feed {
    /// `/ws/sources`: every message is `GET /api/sources`'s body (the contract).
    Sources,
    /// `/ws/sources?mode=delta` (ours): a full message, then only what changed.
    SourcesDelta,
    /// `/ws/grid`: the latest `matrix:state` (of the hub's Sense HAT), or `/ws/grid?node=kitchen`:
    /// a named node's `matrix:state@kitchen`.
    Grid(tokio::sync::watch::Receiver<Option<Arc<str>>>),
    /// `/ws/logs`: log entries at or above `min_level`.
    Logs {
        /// 0 debug, 1 info, 2 warn, 3 error.
        min_level: u8,
    },
}

impl Feed {
    /// The log filter for `?level=…` (default: warnings and errors).
    pub fn logs(level: Option<&str>) -> Feed {
        Feed::Logs {
            min_level: level.map_or(2, level_rank),
        }
    }
}

/// One WebSocket connection.
#[derive(Debug)]
pub struct Socket {
    /// The gateway's state.
    pub shared: Rc<Shared>,
    /// What to send.
    pub feed: Feed,
    /// Its place under the WebSocket caps, given back when the socket ends; the socket closes
    /// when it is taken to make room for another client's.
    pub permit: WebSocketPermit,
}

/// What the socket waits for besides the client.
enum Event {
    /// Something to send (or nothing, for a filtered log entry).
    Send(Option<String>),
    /// Time for a ping.
    Heartbeat,
    /// The gateway is shutting down.
    Closed,
    /// The socket's place was given to another client's.
    Evicted,
}

/// Where a socket is in its feed.
enum Cursor {
    Sources {
        rx: tokio::sync::watch::Receiver<u64>,
        delta: Option<DeltaCursor>,
    },
    Grid(tokio::sync::watch::Receiver<Option<Arc<str>>>),
    Logs(tokio::sync::broadcast::Receiver<Arc<Json>>, u8),
}

impl Cursor {
    /// The message bringing the client up to date now, if any.
    fn current(&mut self, shared: &Shared) -> Option<String> {
        match self {
            Cursor::Sources { rx, delta } => {
                rx.borrow_and_update();
                match delta {
                    None => {
                        let json = shared.hub.contract_json();
                        Some(String::from_utf8_lossy(&json).into_owned())
                    }
                    Some(cursor) => shared.hub.read(|s| s.delta(cursor)),
                }
            }
            Cursor::Grid(rx) => rx.borrow_and_update().as_ref().map(|g| g.to_string()),
            Cursor::Logs(..) => None,
        }
    }

    /// Waits for the next thing to send, no sooner than `not_before`.
    async fn next(&mut self, shared: &Shared, not_before: Instant) -> Event {
        match self {
            Cursor::Sources { rx, .. } => {
                if rx.changed().await.is_err() {
                    return Event::Closed;
                }
                tokio::time::sleep_until(not_before).await;
                Event::Send(self.current(shared))
            }
            Cursor::Grid(rx) => {
                if rx.changed().await.is_err() {
                    return Event::Closed;
                }
                tokio::time::sleep_until(not_before).await;
                Event::Send(self.current(shared))
            }
            Cursor::Logs(rx, min) => match rx.recv().await {
                Ok(entry) => {
                    let level = entry.get("level").and_then(Json::as_str).unwrap_or("info");
                    Event::Send((level_rank(level) >= *min).then(|| entry.to_string()))
                }
                // Behind: skip to the newest entries, and say how many were skipped.
                Err(RecvError::Lagged(skipped)) => Event::Send(Some(
                    json!({
                        "level": "warn",
                        "service": "gateway",
                        "message": format!(
                            "{skipped} log entries were skipped: this connection was too slow for them"
                        ),
                        "timestamp": sense_bus::unix_now(),
                    })
                    .to_string(),
                )),
                Err(RecvError::Closed) => Event::Closed,
            },
        }
    }
}

impl WebSocketCallback for Socket {
    async fn run<R: Read, W: Write<Error = R::Error>>(
        self,
        mut rx: SocketRx<R>,
        mut tx: SocketTx<W>,
    ) -> Result<(), W::Error> {
        let Socket {
            shared,
            feed,
            permit,
        } = self;
        let hub = &shared.hub;
        // Subscribed before the first message, so nothing falls between the two.
        let keepalive =
            matches!(feed, Feed::SourcesDelta).then_some(Duration::from_secs(DELTA_KEEPALIVE_S));
        let (mut cursor, first, every) = match feed {
            Feed::Sources | Feed::SourcesDelta => {
                let delta = keepalive.is_some().then(DeltaCursor::default);
                let mut cursor = Cursor::Sources {
                    rx: hub.watch_sources(),
                    delta,
                };
                let first = cursor.current(&shared).into_iter().collect();
                (cursor, first, SOURCES_EVERY)
            }
            Feed::Grid(rx) => {
                let mut cursor = Cursor::Grid(rx);
                let first = cursor.current(&shared).into_iter().collect();
                (cursor, first, GRID_EVERY)
            }
            Feed::Logs { min_level } => {
                let cursor = Cursor::Logs(hub.subscribe_logs(), min_level);
                let history = hub
                    .log_history()
                    .iter()
                    .filter(|e| {
                        level_rank(e.get("level").and_then(Json::as_str).unwrap_or("info"))
                            >= min_level
                    })
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>();
                (cursor, history, Duration::ZERO)
            }
        };
        let clients = &shared.counters.websocket_clients;
        clients.set(clients.get() + 1);
        let result = async {
            let mut last_sent = Instant::now();
            for text in first {
                if !send(&mut tx, &text, &shared).await? {
                    return Ok(());
                }
            }
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            let mut buffer = [0u8; 512];
            let close = loop {
                let not_before = last_sent + every;
                let idle_until = keepalive.map(|k| last_sent + k);
                let signal = async {
                    tokio::select! {
                        event = cursor.next(&shared, not_before) => event,
                        _ = heartbeat.tick() => Event::Heartbeat,
                        () = async {
                            match idle_until {
                                Some(at) => tokio::time::sleep_until(at).await,
                                None => std::future::pending().await,
                            }
                        } => Event::Send(Some(shared.hub.read(Snapshot::keepalive))),
                        () = permit.evicted() => Event::Evicted,
                    }
                };
                let event = match rx.next_message(&mut buffer, signal).await? {
                    Either::First(Ok(Message::Close(_))) => break None,
                    Either::First(Ok(Message::Ping(data))) => {
                        tx.send_pong(data).await?;
                        tx.flush().await?;
                        continue;
                    }
                    Either::First(Ok(_)) => continue,
                    Either::First(Err(e)) => break Some((e.code(), "protocol error")),
                    Either::Second(event) => event,
                };
                match event {
                    Event::Send(Some(text)) => {
                        if !send(&mut tx, &text, &shared).await? {
                            return Ok(());
                        }
                        last_sent = Instant::now();
                    }
                    Event::Send(None) => {}
                    Event::Heartbeat => tx.send_ping(b"").await?,
                    Event::Closed => break Some((1001, "gateway shutting down")),
                    // 1013, try again later: a client that holds fewer may get one then.
                    Event::Evicted => {
                        tracing::debug!("closed a WebSocket to make room for another client's");
                        break Some((1013, "too many WebSockets from this address"));
                    }
                }
            };
            tx.close(close).await
        }
        .await;
        clients.set(clients.get().saturating_sub(1));
        result
    }
}

/// Sends `text`; `false` when the client took nothing for [`STALL`] and is dropped.
async fn send<W: Write>(
    tx: &mut SocketTx<W>,
    text: &str,
    shared: &Shared,
) -> Result<bool, W::Error> {
    let sent = async {
        tx.send_text(text).await?;
        // picoserve writes a frame without flushing it.
        tx.flush().await
    };
    match tokio::time::timeout(STALL, sent).await {
        Ok(result) => result.map(|()| true),
        Err(_) => {
            Counters::bump(&shared.counters.websocket_dropped);
            tracing::debug!(
                "dropped a WebSocket client that took nothing for {} s",
                STALL.as_secs()
            );
            Ok(false)
        }
    }
}
