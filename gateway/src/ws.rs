//! The WebSockets: `/ws/sources`, `/ws/grid`, `/ws/logs`.
//!
//! Each sends what there is now on connect, then every update as it arrives, and a ping every
//! 30 s so proxies keep the connection and clients notice a dead one. A client that cannot keep up
//! (its backlog of [`CLIENT_BACKLOG`](crate::state::CLIENT_BACKLOG) updates overflows, or a write
//! times out) is closed with 1008.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use picoserve::futures::Either;
use picoserve::io::{Read, Write};
use picoserve::response::ws::{Message, SocketRx, SocketTx, WebSocketCallback};
use serde_json::Value as Json;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::state::{Counters, Shared};

/// Time between pings.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// The level order used by the log filter.
fn level_rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "error" => 3,
        "warn" | "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// Which WebSocket, with what it needs.
#[derive(Debug)]
pub enum Feed {
    /// `/ws/sources`: the snapshot, then per-source updates.
    Sources {
        /// The full `/api/sources` object at connect time.
        snapshot: String,
    },
    /// `/ws/grid`: `matrix:state` payloads.
    Grid,
    /// `/ws/logs`: log entries at or above `min_level`.
    Logs {
        /// 0 debug, 1 info, 2 warn, 3 error.
        min_level: u8,
    },
}

/// One WebSocket connection.
#[derive(Debug)]
pub struct Socket {
    /// The gateway's state.
    pub shared: Rc<Shared>,
    /// What to send.
    pub feed: Feed,
}

impl Feed {
    /// The log filter for `?level=…` (default: warnings and errors).
    pub fn logs(level: Option<&str>) -> Feed {
        Feed::Logs {
            min_level: level.map_or(2, level_rank),
        }
    }
}

enum Updates {
    Text(broadcast::Receiver<Arc<str>>),
    Logs(broadcast::Receiver<Arc<Json>>, u8),
}

enum Event {
    Send(Option<String>),
    Lagged,
    Closed,
    Heartbeat,
}

impl Updates {
    async fn next(&mut self) -> Event {
        match self {
            Updates::Text(rx) => match rx.recv().await {
                Ok(text) => Event::Send(Some(text.to_string())),
                Err(RecvError::Lagged(_)) => Event::Lagged,
                Err(RecvError::Closed) => Event::Closed,
            },
            Updates::Logs(rx, min) => match rx.recv().await {
                Ok(entry) => {
                    let level = entry.get("level").and_then(Json::as_str).unwrap_or("info");
                    Event::Send((level_rank(level) >= *min).then(|| entry.to_string()))
                }
                Err(RecvError::Lagged(_)) => Event::Lagged,
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
        let shared = self.shared;
        // Subscribe before sending the backlog, so nothing falls between the two.
        let (first, mut updates) = match self.feed {
            Feed::Sources { snapshot } => {
                (vec![snapshot], Updates::Text(shared.sources.subscribe()))
            }
            Feed::Grid => {
                let updates = Updates::Text(shared.grid.subscribe());
                (
                    shared
                        .last_grid
                        .borrow()
                        .iter()
                        .map(|g| g.to_string())
                        .collect(),
                    updates,
                )
            }
            Feed::Logs { min_level } => {
                let updates = Updates::Logs(shared.logs.subscribe(), min_level);
                let history = shared
                    .log_history
                    .borrow()
                    .iter()
                    .filter(|e| {
                        level_rank(e.get("level").and_then(Json::as_str).unwrap_or("info"))
                            >= min_level
                    })
                    .map(|e| e.to_string())
                    .collect();
                (history, updates)
            }
        };
        let clients = &shared.counters.websocket_clients;
        clients.set(clients.get() + 1);
        let result = async {
            for text in first {
                tx.send_text(&text).await?;
            }
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            let mut buffer = [0u8; 512];
            let close = loop {
                let signal = async {
                    tokio::select! {
                        event = updates.next() => event,
                        _ = heartbeat.tick() => Event::Heartbeat,
                    }
                };
                match rx.next_message(&mut buffer, signal).await? {
                    Either::First(Ok(Message::Close(_))) => break None,
                    Either::First(Ok(Message::Ping(data))) => tx.send_pong(data).await?,
                    Either::First(Ok(_)) => {}
                    Either::First(Err(e)) => break Some((e.code(), "protocol error")),
                    Either::Second(Event::Send(Some(text))) => tx.send_text(&text).await?,
                    Either::Second(Event::Send(None)) => {}
                    Either::Second(Event::Heartbeat) => tx.send_ping(b"").await?,
                    Either::Second(Event::Lagged) => {
                        Counters::bump(&shared.counters.websocket_dropped);
                        break Some((1008, "too slow: updates were dropped"));
                    }
                    Either::Second(Event::Closed) => break Some((1001, "gateway shutting down")),
                }
            };
            tx.close(close).await
        }
        .await;
        clients.set(clients.get().saturating_sub(1));
        result
    }
}
