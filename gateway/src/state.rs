//! What the gateway shares between connections, and the hub that feeds the WebSockets.
//!
//! One subscription per kind of event serves every client: the hub reads a source once when its
//! `data:{id}` arrives and broadcasts the JSON to all `/ws/sources` clients. Broadcast channels are
//! bounded: a client that falls behind is dropped, it never makes the gateway hold more.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::config::{AuthConfig, IpRange, resolve};
use sense_bus::keys::{self, channels};
use sense_bus::{Bus, SectionName, Topic};
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;

/// Pending messages per WebSocket client before it counts as too slow and is dropped.
pub const CLIENT_BACKLOG: usize = 64;
/// Log entries kept for `/ws/logs` clients that connect later.
pub const LOG_HISTORY: usize = keys::LOGS_KEPT;

/// The channel services publish their warnings and errors on (ours).
pub const LOGS_CHANNEL: &str = channels::LOGS;
/// The list holding the latest log entries, for a gateway that starts later (ours).
pub const LOGS_KEY: &str = keys::LOGS;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests handled.
    pub requests: Cell<u64>,
    /// Requests refused for authentication.
    pub auth_failures: Cell<u64>,
    /// Commands sent.
    pub commands: Cell<u64>,
    /// WebSocket clients connected now.
    pub websocket_clients: Cell<u64>,
    /// WebSocket clients dropped for being too slow.
    pub websocket_dropped: Cell<u64>,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }
}

/// Where the gateway finds its files and whom it trusts.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// The built dashboard (`frontend/build`); `None` or missing: a page says how to build it.
    pub frontend_dir: Option<PathBuf>,
    /// The HLS folder the camera writes.
    pub hls_dir: PathBuf,
    /// Origins allowed besides the gateway's own (`CORS_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// Environment lookup for config defaults.
    pub env: fn(&str) -> Option<String>,
}

/// State shared by every connection on the gateway's thread.
pub struct Shared {
    /// The bus.
    pub bus: Bus,
    /// Sends commands and routes their answers.
    pub commands: CommandClient,
    /// Authentication and rate limits.
    pub auth: Auth,
    /// `config:auth` as last read.
    pub auth_config: RefCell<AuthConfig>,
    /// Its `trusted_proxies`, parsed.
    pub trusted_proxies: RefCell<Vec<IpRange>>,
    /// Options.
    pub options: GatewayOptions,
    /// Counters.
    pub counters: Counters,
    /// Updates for `/ws/sources`: `{id: {readings, status}}`.
    pub sources: broadcast::Sender<Arc<str>>,
    /// `matrix:state` payloads for `/ws/grid`.
    pub grid: broadcast::Sender<Arc<str>>,
    /// The last `matrix:state`, for a client that just connected.
    pub last_grid: RefCell<Option<Arc<str>>>,
    /// Log entries for `/ws/logs`.
    pub logs: broadcast::Sender<Arc<Json>>,
    /// The latest log entries.
    pub log_history: RefCell<VecDeque<Arc<Json>>>,
    /// Whether the bus answered the last health check.
    pub bus_ok: Cell<bool>,
    /// Why it did not, if it did not.
    pub bus_error: RefCell<Option<String>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Connects the command client and starts empty.
    pub async fn new(bus: Bus, options: GatewayOptions) -> Result<Rc<Shared>, sense_bus::BusError> {
        let commands = CommandClient::new(bus.clone()).await?;
        Ok(Rc::new(Shared {
            bus,
            commands,
            auth: Auth::default(),
            auth_config: RefCell::default(),
            trusted_proxies: RefCell::default(),
            options,
            counters: Counters::default(),
            sources: broadcast::channel(CLIENT_BACKLOG).0,
            grid: broadcast::channel(CLIENT_BACKLOG).0,
            last_grid: RefCell::new(None),
            logs: broadcast::channel(CLIENT_BACKLOG).0,
            log_history: RefCell::new(VecDeque::with_capacity(LOG_HISTORY)),
            bus_ok: Cell::new(true),
            bus_error: RefCell::new(None),
        }))
    }

    /// Reads `config:auth` (with the environment and defaults).
    pub async fn reload_auth(&self) {
        match self.bus.get(&keys::config(SectionName::Auth)).await {
            Ok(text) => {
                let resolved = resolve::<AuthConfig>(text.as_deref(), &self.options.env);
                for p in &resolved.problems {
                    tracing::warn!(problem = %p, "auth config problem");
                }
                // Validated when resolved: every entry parses.
                *self.trusted_proxies.borrow_mut() = resolved
                    .value
                    .trusted_proxies
                    .iter()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                *self.auth_config.borrow_mut() = resolved.value;
            }
            Err(e) => tracing::warn!(error = %e, "cannot read config:auth; keeping the last"),
        }
    }

    fn remember_log(&self, entry: Arc<Json>) {
        let mut history = self.log_history.borrow_mut();
        if history.len() == LOG_HISTORY {
            history.pop_front();
        }
        history.push_back(Arc::clone(&entry));
        let _ = self.logs.send(entry);
    }
}

/// `{id: {readings, status}}` for one source, as `/api/sources` shows it.
pub fn source_json(snapshot: &sense_bus::store::SourceSnapshot) -> Json {
    serde_json::to_value(crate::api::SourceView::from(snapshot)).unwrap_or_default()
}

async fn next(sub: &mut Option<sense_bus::Subscription>) -> Option<sense_bus::Message> {
    match sub {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs the hub until `shutdown`: subscriptions feeding the broadcasts, auth config reloads and
/// the bus health check.
pub async fn run_hub(shared: Rc<Shared>, shutdown: CancellationToken) {
    shared.reload_auth().await;
    // Log entries written before this gateway started.
    if let Ok(entries) = shared.bus.list(LOGS_KEY).await {
        for e in entries.iter().rev().take(LOG_HISTORY).rev() {
            if let Ok(v) = serde_json::from_str::<Json>(e) {
                shared.remember_log(Arc::new(v));
            }
        }
    }
    let topics = [
        Topic::pattern(channels::ALL_DATA),
        Topic::channel(channels::MATRIX_STATE),
        Topic::channel(channels::CONFIG_CHANGED),
        Topic::channel(LOGS_CHANNEL),
    ];
    let mut sub = None;
    let mut health = tokio::time::interval(Duration::from_secs(5));
    let mut auth_refresh = tokio::time::interval(Duration::from_secs(30));
    loop {
        if sub.is_none() {
            sub = shared.bus.subscribe(&topics).await.ok();
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = health.tick() => {
                let result = shared.bus.ping().await;
                shared.bus_ok.set(result.is_ok());
                *shared.bus_error.borrow_mut() = result.err().map(|e| e.to_string());
            }
            _ = auth_refresh.tick() => shared.reload_auth().await,
            message = next(&mut sub) => {
                let Some(m) = message else {
                    sub = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                };
                if let Some(id) = channels::parse_data(&m.channel) {
                    // Nobody listening: no need to read the source.
                    if shared.sources.receiver_count() == 0 {
                        continue;
                    }
                    if let Ok(snapshot) = sense_bus::store::read_source(&shared.bus, id).await {
                        let update = json!({ id: source_json(&snapshot) }).to_string();
                        let _ = shared.sources.send(Arc::from(update));
                    }
                } else if m.channel == channels::MATRIX_STATE {
                    let payload: Arc<str> = Arc::from(m.payload);
                    *shared.last_grid.borrow_mut() = Some(Arc::clone(&payload));
                    let _ = shared.grid.send(payload);
                } else if m.channel == channels::CONFIG_CHANGED {
                    if m.payload.contains("\"auth\"") {
                        shared.reload_auth().await;
                    }
                } else if m.channel == LOGS_CHANNEL
                    && let Ok(entry) = serde_json::from_str::<Json>(&m.payload)
                {
                    shared.remember_log(Arc::new(entry));
                }
            }
        }
    }
}
