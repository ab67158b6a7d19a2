//! How many connections the gateway holds, from whom, and what it does when there are too many.
//!
//! Every accepted connection asks the [`Registry`] for a [`Slot`] first:
//!
//! - **Per client** (an IPv4 address, or an IPv6 /64): at most `GATEWAY_MAX_CONNECTIONS_PER_CLIENT`
//!   (default 32) connections; one more is refused at once (429), so one address flooding cannot
//!   lock out another. Trusted proxies (`TRUSTED_PROXIES`) are exempt: every client behind one
//!   comes from its address.
//! - **In total**: at most `GATEWAY_MAX_CONNECTIONS` (default 512), and never more than the
//!   file-descriptor limit allows ([`connections_for_descriptors`]: a quarter of it, at least 64,
//!   is kept for Redis, files and HLS). When it is reached, the connection that has waited
//!   longest without a complete request head (a slow client, or an idle keep-alive) is closed to
//!   make room; only when every connection is busy with a request or a WebSocket is the newcomer
//!   refused (503).
//! - **WebSockets**: at most `GATEWAY_MAX_WEBSOCKETS` (default 64) and
//!   `GATEWAY_MAX_WEBSOCKETS_PER_CLIENT` (default 16), through [`Registry::try_websocket`]. When
//!   the total is reached, a client holding fewer than the one holding most still gets one: that
//!   one's oldest WebSocket is closed to make room ([`WebSocketPermit::evicted`]), so a few
//!   addresses at their own cap cannot keep a dashboard from its live feed.
//!
//! A refused connection is answered (429 or 503, `Retry-After: 1`) as soon as the client sends
//! its request (discarded, not parsed), and closed; at most [`Limits::answered_refusals`] are waiting
//! to be answered at a time (each for a second at most), the others are closed at once.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Connections held at most, unless the file-descriptor limit allows fewer.
pub const DEFAULT_CONNECTIONS: usize = 512;
/// Connections per client at most (a browser opens about 6, and a WebSocket per page).
pub const DEFAULT_PER_CLIENT: usize = 32;
/// WebSockets held at most.
pub const DEFAULT_WEBSOCKETS: usize = 64;
/// WebSockets per client at most.
pub const DEFAULT_WEBSOCKETS_PER_CLIENT: usize = 16;

/// Refused connections answered at a time at most (a quarter of the descriptors' reserve below).
pub const MAX_ANSWERED_REFUSALS: usize = 64;

/// The environment variables read by [`Limits::from_env`].
pub const ENV_CONNECTIONS: &str = "GATEWAY_MAX_CONNECTIONS";
/// See [`ENV_CONNECTIONS`].
pub const ENV_PER_CLIENT: &str = "GATEWAY_MAX_CONNECTIONS_PER_CLIENT";
/// See [`ENV_CONNECTIONS`].
pub const ENV_WEBSOCKETS: &str = "GATEWAY_MAX_WEBSOCKETS";
/// See [`ENV_CONNECTIONS`].
pub const ENV_WEBSOCKETS_PER_CLIENT: &str = "GATEWAY_MAX_WEBSOCKETS_PER_CLIENT";

/// The caps in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections in total.
    pub connections: usize,
    /// Connections per client.
    pub per_client: usize,
    /// WebSockets in total.
    pub websockets: usize,
    /// WebSockets per client.
    pub websockets_per_client: usize,
    /// Refused connections answered at a time (each waits up to a second for the client to
    /// speak); more are closed without an answer. Part of the descriptors' reserve.
    pub answered_refusals: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: DEFAULT_CONNECTIONS,
            per_client: DEFAULT_PER_CLIENT,
            websockets: DEFAULT_WEBSOCKETS,
            websockets_per_client: DEFAULT_WEBSOCKETS_PER_CLIENT,
            answered_refusals: MAX_ANSWERED_REFUSALS,
        }
    }
}

/// The process's file-descriptor limit (`RLIMIT_NOFILE`, soft), `None` when unlimited.
pub fn descriptor_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// File descriptors kept for everything but client connections under a limit of `limit`: a
/// quarter, at least 64 (Redis connections, the files and HLS segments being served, the
/// sources and the orchestrator of `sense-pulse run`), at most half.
pub fn reserved_descriptors(limit: u64) -> u64 {
    (limit / 4).max(64).min(limit / 2)
}

/// Connections a file-descriptor limit of `limit` allows: the rest after
/// [`reserved_descriptors`]. systemd's default of 1024 allows 768.
pub fn connections_for_descriptors(limit: u64) -> usize {
    usize::try_from(limit - reserved_descriptors(limit)).unwrap_or(usize::MAX)
}

impl Limits {
    /// The caps from the environment (`GATEWAY_MAX_CONNECTIONS`, `…_PER_CLIENT`,
    /// `GATEWAY_MAX_WEBSOCKETS`, `…_PER_CLIENT`: positive whole numbers), the total kept under
    /// what `descriptors` (the file-descriptor limit, `None`: unlimited) allows. An invalid value
    /// is logged and its default used.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, descriptors: Option<u64>) -> Limits {
        let read = |name: &str, default: usize| match env(name) {
            None => default,
            Some(v) if v.trim().is_empty() => default,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    tracing::warn!("{name}={v:?} is not a positive whole number; using {default}");
                    default
                }
            },
        };
        let wanted = read(ENV_CONNECTIONS, DEFAULT_CONNECTIONS);
        let mut connections = wanted;
        if let Some(limit) = descriptors {
            let allowed = connections_for_descriptors(limit);
            if wanted > allowed {
                connections = allowed;
                // The default is simply lowered; a value asked for is worth a word.
                if env(ENV_CONNECTIONS).is_some() {
                    tracing::warn!(
                        "{ENV_CONNECTIONS}={wanted} is more than the file-descriptor limit \
                         ({limit}) allows: {allowed} connections at most (raise LimitNOFILE= or \
                         `ulimit -n` for more)"
                    );
                }
            }
        }
        let websockets = read(ENV_WEBSOCKETS, DEFAULT_WEBSOCKETS).min(connections);
        Limits {
            connections,
            per_client: read(ENV_PER_CLIENT, DEFAULT_PER_CLIENT).min(connections),
            websockets,
            websockets_per_client: read(ENV_WEBSOCKETS_PER_CLIENT, DEFAULT_WEBSOCKETS_PER_CLIENT)
                .min(websockets),
            answered_refusals: descriptors.map_or(MAX_ANSWERED_REFUSALS, |limit| {
                let quarter = usize::try_from(reserved_descriptors(limit) / 4).unwrap_or(0);
                quarter.clamp(1, MAX_ANSWERED_REFUSALS)
            }),
        }
    }
}

/// Whom a connection counts against: an IPv4 address, or the /64 of an IPv6 one (a single
/// host is usually given a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    /// The client `ip` counts as.
    pub fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !(u128::MAX >> 64);
                Client(IpAddr::V6(bits.into()))
            }
            v4 => Client(v4),
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

/// Why a connection is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its client holds [`Limits::per_client`] connections: 429.
    PerClient,
    /// The gateway holds [`Limits::connections`], none of them waiting: 503.
    Full,
}

impl Refusal {
    /// The status code and its reason phrase.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::PerClient => (429, "Too Many Requests"),
            Refusal::Full => (503, "Service Unavailable"),
        }
    }

    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::PerClient => "too many connections from this address",
            Refusal::Full => "the gateway is at its connection limit",
        }
    }
}

/// Counts, for `/metrics` and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections held now.
    pub open: usize,
    /// Of which waiting for a request head (new, slow or idle).
    pub waiting: usize,
    /// WebSocket permits held now.
    pub websockets: usize,
    /// Connections refused, ever.
    pub refused: u64,
    /// Waiting connections closed to make room, ever.
    pub evicted: u64,
    /// WebSockets closed to make room for another client's, ever.
    pub websockets_evicted: u64,
}

/// A connection's eviction notice. (Not a child `CancellationToken`: the parent's list of
/// children grows with a burst of connections and keeps the heap from shrinking after it.)
#[derive(Debug, Default)]
struct Eviction {
    evicted: Cell<bool>,
    notice: Notify,
}

impl Eviction {
    fn evict(&self) {
        self.evicted.set(true);
        // Kept as a permit if the connection is not waiting for it right now.
        self.notice.notify_one();
    }

    async fn wait(&self) {
        if !self.evicted.get() {
            self.notice.notified().await;
        }
    }
}

#[derive(Debug)]
struct Entry {
    client: Client,
    /// Counted against its client (not a trusted proxy).
    counted: bool,
    /// Since when it waits for a request head; `None` while busy.
    waiting_since: Option<Instant>,
    eviction: Rc<Eviction>,
}

struct Inner {
    limits: Limits,
    exempt: Option<Box<dyn Fn(IpAddr) -> bool>>,
    next_id: u64,
    open: HashMap<u64, Entry>,
    /// The waiting connections, longest waiting first.
    waiting: BTreeSet<(Instant, u64)>,
    per_client: HashMap<Client, usize>,
    websockets_per_client: HashMap<Client, usize>,
    /// Each WebSocket held, oldest first: its client (`None`: behind a trusted proxy, never
    /// closed to make room) and how to close it.
    sockets: BTreeMap<u64, (Option<Client>, Rc<Eviction>)>,
    next_socket: u64,
    refused: u64,
    evicted: u64,
    websockets_evicted: u64,
}

impl Inner {
    fn is_exempt(&self, ip: IpAddr) -> bool {
        self.exempt.as_ref().is_some_and(|f| f(ip))
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.open.remove(&id)?;
        if let Some(since) = entry.waiting_since {
            self.waiting.remove(&(since, id));
        }
        if entry.counted {
            decrement(&mut self.per_client, entry.client);
        }
        Some(entry)
    }

    fn evict_longest_waiting(&mut self) -> bool {
        let Some(&(_, id)) = self.waiting.first() else {
            return false;
        };
        if let Some(entry) = self.remove(id) {
            entry.eviction.evict();
            self.evicted += 1;
        }
        true
    }

    /// Closes the oldest WebSocket of the client holding most, if it holds more than one over
    /// what `newcomer` holds (the newcomer would not then hold more than it); `false` if none
    /// does. Its place is given to the newcomer at once.
    fn make_room_for_websocket(&mut self, newcomer: Option<Client>) -> bool {
        let mine = newcomer.map_or(0, |c| {
            self.websockets_per_client.get(&c).copied().unwrap_or(0)
        });
        let Some((top, most)) = self
            .websockets_per_client
            .iter()
            .max_by_key(|(_, held)| **held)
            .map(|(c, held)| (*c, *held))
        else {
            return false;
        };
        if most <= mine + 1 {
            return false;
        }
        let oldest = self
            .sockets
            .iter()
            .find(|(_, (client, _))| *client == Some(top))
            .map(|(id, _)| *id);
        let Some((_, eviction)) = oldest.and_then(|id| self.sockets.remove(&id)) else {
            return false;
        };
        decrement(&mut self.websockets_per_client, top);
        eviction.evict();
        self.websockets_evicted += 1;
        true
    }
}

fn decrement(counts: &mut HashMap<Client, usize>, client: Client) {
    if let Some(n) = counts.get_mut(&client) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&client);
        }
    }
}

/// The connections held, shared by the accept loop and every connection on the gateway's thread.
#[derive(Clone)]
pub struct Registry {
    inner: Rc<RefCell<Inner>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Registry")
            .field("limits", &inner.limits)
            .field("open", &inner.open.len())
            .field("websockets", &inner.sockets.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry enforcing `limits`.
    pub fn new(limits: Limits) -> Registry {
        Registry {
            inner: Rc::new(RefCell::new(Inner {
                limits,
                exempt: None,
                next_id: 0,
                open: HashMap::new(),
                waiting: BTreeSet::new(),
                per_client: HashMap::new(),
                websockets_per_client: HashMap::new(),
                sockets: BTreeMap::new(),
                next_socket: 0,
                refused: 0,
                evicted: 0,
                websockets_evicted: 0,
            })),
        }
    }

    /// Addresses for which `exempt` holds (trusted proxies) are not capped per client.
    pub fn exempting(self, exempt: impl Fn(IpAddr) -> bool + 'static) -> Registry {
        self.inner.borrow_mut().exempt = Some(Box::new(exempt));
        self
    }

    /// The caps in force.
    pub fn limits(&self) -> Limits {
        self.inner.borrow().limits
    }

    /// Counts now.
    pub fn stats(&self) -> Stats {
        let inner = self.inner.borrow();
        Stats {
            open: inner.open.len(),
            waiting: inner.waiting.len(),
            websockets: inner.sockets.len(),
            refused: inner.refused,
            evicted: inner.evicted,
            websockets_evicted: inner.websockets_evicted,
        }
    }

    /// A slot for a connection from `peer`, accepted now, which waits for its first request
    /// head; the longest-waiting connection is closed to make room if the total is reached.
    /// [`Slot::closed`] completes when it is evicted or `stop` is cancelled.
    pub fn admit(&self, peer: IpAddr, stop: &CancellationToken) -> Result<Slot, Refusal> {
        let mut inner = self.inner.borrow_mut();
        let client = Client::of(peer);
        let counted = !inner.is_exempt(peer);
        if counted && inner.per_client.get(&client).copied().unwrap_or(0) >= inner.limits.per_client
        {
            inner.refused += 1;
            return Err(Refusal::PerClient);
        }
        if inner.open.len() >= inner.limits.connections && !inner.evict_longest_waiting() {
            inner.refused += 1;
            return Err(Refusal::Full);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let now = Instant::now();
        let eviction = Rc::new(Eviction::default());
        inner.open.insert(
            id,
            Entry {
                client,
                counted,
                waiting_since: Some(now),
                eviction: Rc::clone(&eviction),
            },
        );
        inner.waiting.insert((now, id));
        if counted {
            *inner.per_client.entry(client).or_default() += 1;
        }
        Ok(Slot {
            registry: self.clone(),
            id,
            eviction,
            stop: stop.clone(),
        })
    }

    /// Closes the connection that has waited longest for a request head, if any: a slow one goes
    /// before anyone else is refused (also when the process runs out of file descriptors).
    pub fn evict_longest_waiting(&self) -> bool {
        self.inner.borrow_mut().evict_longest_waiting()
    }

    /// A WebSocket for `peer`, if the caps allow one more, or if the total is reached and another
    /// client holds more than one over what `peer` holds (its oldest is closed to make room):
    /// hold the permit for as long as the WebSocket lives (it is given back when dropped), and
    /// close the socket when [`WebSocketPermit::evicted`] completes. `None`: answer 503 and do
    /// not upgrade.
    ///
    /// ```ignore
    /// let Some(permit) = registry.try_websocket(peer) else {
    ///     return Reply::error(503, "too many WebSockets").write(connection, writer).await;
    /// };
    /// upgrade.on_upgrade(Socket { shared, feed, permit }) // dropped when the socket ends
    /// ```
    pub fn try_websocket(&self, peer: IpAddr) -> Option<WebSocketPermit> {
        let mut inner = self.inner.borrow_mut();
        let client = Client::of(peer);
        let counted = !inner.is_exempt(peer);
        let held = inner.websockets_per_client.get(&client).copied();
        if counted && held.unwrap_or(0) >= inner.limits.websockets_per_client {
            return None;
        }
        let newcomer = counted.then_some(client);
        if inner.sockets.len() >= inner.limits.websockets
            && !inner.make_room_for_websocket(newcomer)
        {
            return None;
        }
        if counted {
            *inner.websockets_per_client.entry(client).or_default() += 1;
        }
        let id = inner.next_socket;
        inner.next_socket += 1;
        let eviction = Rc::new(Eviction::default());
        inner.sockets.insert(id, (newcomer, Rc::clone(&eviction)));
        Some(WebSocketPermit {
            registry: self.clone(),
            id,
            eviction,
        })
    }
}

/// One connection's place in the [`Registry`], given back when dropped.
pub struct Slot {
    registry: Registry,
    id: u64,
    eviction: Rc<Eviction>,
    stop: CancellationToken,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("id", &self.id).finish()
    }
}

impl Slot {
    /// The connection waits for a request head since `since` (it may be closed to make room).
    pub fn waiting(&self, since: Instant) {
        let mut inner = self.registry.inner.borrow_mut();
        let Some(entry) = inner.open.get_mut(&self.id) else {
            return;
        };
        let before = entry.waiting_since.replace(since);
        if let Some(before) = before {
            inner.waiting.remove(&(before, self.id));
        }
        inner.waiting.insert((since, self.id));
    }

    /// The connection is busy with a request (or a WebSocket): it is not closed to make room.
    pub fn busy(&self) {
        let mut inner = self.registry.inner.borrow_mut();
        let Some(entry) = inner.open.get_mut(&self.id) else {
            return;
        };
        if let Some(since) = entry.waiting_since.take() {
            inner.waiting.remove(&(since, self.id));
        }
    }

    /// Completes when the connection must close: evicted to make room, or the gateway stops.
    pub async fn closed(&self) {
        tokio::select! {
            () = self.stop.cancelled() => {}
            () = self.eviction.wait() => {}
        }
    }

    /// Whether the connection must close (see [`Slot::closed`]).
    pub fn is_closed(&self) -> bool {
        self.eviction.evicted.get() || self.stop.is_cancelled()
    }

    /// The registry the slot is in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.inner.borrow_mut().remove(self.id);
    }
}

/// A WebSocket's place under the WebSocket caps, given back when dropped.
pub struct WebSocketPermit {
    registry: Registry,
    id: u64,
    eviction: Rc<Eviction>,
}

impl fmt::Debug for WebSocketPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketPermit")
            .field("id", &self.id)
            .field("evicted", &self.eviction.evicted.get())
            .finish()
    }
}

impl WebSocketPermit {
    /// Completes when the WebSocket must close to make room for another client's (its place is
    /// already given away).
    pub async fn evicted(&self) {
        self.eviction.wait().await;
    }
}

impl Drop for WebSocketPermit {
    fn drop(&mut self) {
        let mut inner = self.registry.inner.borrow_mut();
        // An evicted one was given back when it was evicted.
        if let Some((Some(client), _)) = inner.sockets.remove(&self.id) {
            decrement(&mut inner.websockets_per_client, client);
        }
    }
}

/// A line that may repeat many times a second (an accept error, refused connections): the
/// first is logged at once, then at most one per `every`, with how many happened meanwhile.
#[derive(Debug)]
pub struct Tally {
    every: Duration,
    last_line: Option<Instant>,
    unlogged: u64,
}

impl Tally {
    /// At most one line per `every`.
    pub fn new(every: Duration) -> Tally {
        Tally {
            every,
            last_line: None,
            unlogged: 0,
        }
    }

    /// Counts one at `now`: `Some(n)` when a line is due, `n` counted since the last line (this
    /// one included).
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        match self.last_line {
            Some(at) if now.duration_since(at) < self.every => None,
            _ => {
                self.last_line = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        }
    }

    /// `Some(n)` if `n` were counted and not logged yet and a line is due at `now`: for when it
    /// stops happening (the next line would otherwise wait for the next occurrence).
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        match self.last_line {
            _ if self.unlogged == 0 => None,
            Some(at) if now.duration_since(at) < self.every => None,
            _ => {
                self.last_line = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        }
    }
}

/// Pauses after failures that would come back at once (no file descriptor left to accept
/// with): 10 ms, doubling up to 1 s, from the start again after a success.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The pause after one more failure.
    pub fn next_pause(&mut self) -> Duration {
        let pause = Duration::from_millis(10) * 2u32.pow(self.failures.min(7));
        self.failures = self.failures.saturating_add(1);
        pause.min(Duration::from_secs(1))
    }

    /// It worked.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests;
