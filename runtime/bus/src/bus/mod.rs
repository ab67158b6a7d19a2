//! The bus: one interface over Redis or memory.

mod batch;
mod glob;
mod login;
mod memory;
mod redis;
mod tls;

use std::fmt;
use std::time::Duration;

use batch::Op;
pub use batch::{Batch, Guard, Stats};
pub use glob::glob_match;
pub use tls::{TlsFile, TlsFileError, TlsOptions};

/// How long one bus operation may take before it fails with [`BusError::Timeout`]. While Redis
/// is away operations wait for the reconnection; this bounds the wait so callers can report it.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// Pending messages a subscription holds before new ones are dropped (a stuck consumer must not
/// grow memory without bound).
pub const SUBSCRIPTION_BUFFER: usize = 4096;

/// What went wrong talking to the bus.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis could not be reached in time.
    #[error("Redis at {url} is unreachable: {reason}")]
    Unavailable {
        /// The URL, password removed.
        url: String,
        /// The last connection error.
        reason: String,
    },
    /// A TLS connection (`rediss://`) failed for a reason waiting will not cure: the server's
    /// certificate does not verify, or it wants a client certificate.
    #[error("TLS with Redis at {url} failed: {reason}")]
    Tls {
        /// The URL, password removed.
        url: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// Redis refused this client: a wrong or missing user and password, or its protected mode.
    #[error("Redis at {url}: {reason}")]
    Refused {
        /// The URL, password removed.
        url: String,
        /// What it refused and what to do, in words.
        reason: String,
    },
    /// An operation did not finish within [`OPERATION_TIMEOUT`] (Redis is probably down).
    #[error("Redis did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Redis answered with an error.
    #[error("Redis error: {0}")]
    Redis(String),
}

/// A key's remaining life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key never expires.
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

/// What a subscription listens to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One channel by name.
    Channel(String),
    /// Every channel matching a glob pattern (`data:*`), as Redis `PSUBSCRIBE`.
    Pattern(String),
}

impl Topic {
    /// A channel.
    pub fn channel(name: impl Into<String>) -> Topic {
        Topic::Channel(name.into())
    }

    /// A pattern.
    pub fn pattern(glob: impl Into<String>) -> Topic {
        Topic::Pattern(glob.into())
    }

    fn matches(&self, channel: &str) -> bool {
        match self {
            Topic::Channel(name) => name == channel,
            Topic::Pattern(glob) => glob_match(glob, channel),
        }
    }
}

/// A published message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: String,
    /// The pattern that matched, when it came through a [`Topic::Pattern`].
    pub pattern: Option<String>,
    /// The payload (JSON, for every channel of the contract).
    pub payload: String,
}

/// One read of [`Bus::read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// `GET key`.
    Get(String),
    /// `LRANGE key 0 -1`.
    List(String),
    /// `HGETALL key`.
    Hash(String),
}

/// The answer to one [`Read`]; a missing key reads as `Text(None)`, an empty list or hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// What `GET` found.
    Text(Option<String>),
    /// The list's entries, oldest first.
    List(Vec<String>),
    /// The hash's fields and values, sorted by field.
    Hash(Vec<(String, String)>),
}

impl Fetched {
    /// The text, if this is a `Get` that found one.
    pub fn into_text(self) -> Option<String> {
        match self {
            Fetched::Text(t) => t,
            _ => None,
        }
    }

    /// The entries, if this is a `List`.
    pub fn into_list(self) -> Vec<String> {
        match self {
            Fetched::List(l) => l,
            _ => Vec::new(),
        }
    }

    /// The fields, if this is a `Hash`.
    pub fn into_hash(self) -> Vec<(String, String)> {
        match self {
            Fetched::Hash(h) => h,
            _ => Vec::new(),
        }
    }
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_nanos().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Messages from a subscription. Dropping it unsubscribes.
pub struct Subscription {
    rx: tokio::sync::mpsc::Receiver<Message>,
    // Keeps the backend's side alive (Redis: the subscribed connection).
    _guard: Box<dyn Send + Sync>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next message. `None` only when the bus is gone for good; a Redis restart does not end
    /// a subscription (it is renewed on reconnection; messages published meanwhile are lost, as
    /// with any Redis pub/sub).
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }
}

/// How [`Bus::connect`] treats a Redis that is not (yet) there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectOptions {
    /// Give up with [`BusError::Unavailable`] after this long: for one-shot runs.
    FailAfter(Duration),
    /// Keep trying until Redis answers: for services that start before Redis does.
    WaitForever,
}

#[derive(Clone)]
enum Backend {
    Memory(memory::MemoryBus),
    // Boxed: a TLS client's certificates make it large.
    Redis(Box<redis::RedisBus>),
}

/// The data bus: Redis, or an in-process stand-in with the same behaviour.
///
/// Cheap to clone; clones share the connection (or the memory).
#[derive(Clone)]
pub struct Bus {
    backend: Backend,
    /// Whose keys this handle's services write: the hub's, or a named node's
    /// ([`Bus::with_scope`]).
    scope: crate::ids::Scope,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bus({})", self.describe())
    }
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::Memory($b) => Ok($call),
            Backend::Redis($b) => timed($call).await,
        }
    };
}

/// Bounds a Redis operation by [`OPERATION_TIMEOUT`].
async fn timed<T>(op: impl Future<Output = Result<T, BusError>>) -> Result<T, BusError> {
    tokio::time::timeout(OPERATION_TIMEOUT, op)
        .await
        .unwrap_or(Err(BusError::Timeout(OPERATION_TIMEOUT)))
}

impl Bus {
    /// A fresh in-memory bus. Clones share it; it lives as long as any clone.
    pub fn memory() -> Bus {
        Bus {
            backend: Backend::Memory(memory::MemoryBus::new()),
            scope: crate::ids::Scope::HUB,
        }
    }

    /// Connects to Redis at `url` (`redis://[[user]:password@]host:port[/db]`, or `rediss://`
    /// for TLS, trusting the public web's CAs).
    ///
    /// The connection speaks RESP3 and reconnects by itself when Redis restarts; subscriptions
    /// are renewed. Needs a tokio runtime.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Bus, BusError> {
        Bus::connect_with(url, options, &TlsOptions::default()).await
    }

    /// [`Bus::connect`] with the certificates a `rediss://` URL uses (a `redis://` one ignores
    /// them): every connection, subscriptions' too, uses them. A server certificate that does not
    /// verify fails at once with [`BusError::Tls`], even with [`ConnectOptions::WaitForever`].
    pub async fn connect_with(
        url: &str,
        options: ConnectOptions,
        tls: &TlsOptions,
    ) -> Result<Bus, BusError> {
        let bus = redis::RedisBus::connect(url, options, tls).await?;
        Ok(Bus {
            backend: Backend::Redis(Box::new(bus)),
            scope: crate::ids::Scope::HUB,
        })
    }

    /// The same bus, for the services of `scope`: a named node's write `sensors@kitchen`'s keys
    /// where the hub's write `sensors`'.
    pub fn with_scope(mut self, scope: crate::ids::Scope) -> Bus {
        self.scope = scope;
        self
    }

    /// Whose keys this handle's services write.
    pub fn scope(&self) -> &crate::ids::Scope {
        &self.scope
    }

    /// Where the bus is, for logs: `memory` or the Redis URL without its password.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Memory(_) => "memory".to_owned(),
            Backend::Redis(r) => r.url().to_owned(),
        }
    }

    /// Whether this is the in-memory bus.
    pub fn is_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// Checks the bus answers.
    pub async fn ping(&self) -> Result<(), BusError> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => timed(r.ping()).await,
        }
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, BusError> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.get(key)),
            Backend::Redis(r) => timed(r.get(key)).await,
        }
    }

    /// `MGET keys…`: one value (or `None`) per key, in order.
    pub async fn mget(&self, keys: &[String]) -> Result<Vec<Option<String>>, BusError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Memory(m) => Ok(keys.iter().map(|k| m.get(k)).collect()),
            Backend::Redis(r) => timed(r.mget(keys)).await,
        }
    }

    /// `MGET` with each key's remaining life (`PTTL`), read together: `None` where a key has no
    /// text value. Lets a cache drop a value exactly when Redis does.
    pub async fn mget_ttl(&self, keys: &[String]) -> Result<Vec<Option<(String, Ttl)>>, BusError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Memory(m) => Ok(m.mget_ttl(keys)),
            Backend::Redis(r) => timed(r.mget_ttl(keys)).await,
        }
    }

    /// `SET key value [PX ttl]`.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), BusError> {
        let mut batch = Batch::new();
        batch.set(key, value, ttl);
        self.apply(&batch).await
    }

    /// `SET key value NX`: writes only if the key does not exist; returns whether it wrote.
    pub async fn set_nx(&self, key: &str, value: &str) -> Result<bool, BusError> {
        dispatch!(self, b => b.set_nx(key, value))
    }

    /// `DEL key`: returns whether the key existed.
    pub async fn del(&self, key: &str) -> Result<bool, BusError> {
        dispatch!(self, b => b.del(key))
    }

    /// `PTTL key`.
    pub async fn ttl(&self, key: &str) -> Result<Ttl, BusError> {
        dispatch!(self, b => b.ttl(key))
    }

    /// The entries of the list at `key`, oldest first (`LRANGE key 0 -1`); empty when there is
    /// none.
    pub async fn list(&self, key: &str) -> Result<Vec<String>, BusError> {
        dispatch!(self, b => b.list(key))
    }

    /// Every key matching the glob `pattern` (`SCAN … MATCH`, never the blocking `KEYS`), sorted.
    pub async fn keys(&self, pattern: &str) -> Result<Vec<String>, BusError> {
        dispatch!(self, b => b.keys(pattern))
    }

    /// Several reads in one round trip (on Redis a `MULTI`/`EXEC` pipeline, so they see the same
    /// moment: never half a poll): one [`Fetched`] per [`Read`], in order.
    pub async fn read(&self, reads: &[Read]) -> Result<Vec<Fetched>, BusError> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, b => b.read(reads))
    }

    /// `PUBLISH channel payload`: returns how many subscribers received it.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<usize, BusError> {
        dispatch!(self, b => b.publish(channel, payload))
    }

    /// Applies a batch of writes atomically.
    pub async fn apply(&self, batch: &Batch) -> Result<(), BusError> {
        if batch.is_empty() {
            return Ok(());
        }
        dispatch!(self, b => b.apply(batch))
    }

    /// Applies `batch` atomically only if every guard holds at that moment (compare-and-set,
    /// for read-modify-write without lost updates): `Ok(false)` and nothing written otherwise.
    /// On Redis one script runs the check and the writes, so no other client writes in between.
    pub async fn apply_if(&self, guards: &[Guard], batch: &Batch) -> Result<bool, BusError> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.apply_if(guards, batch)),
            Backend::Redis(r) => timed(r.apply_if(guards, batch)).await,
        }
    }

    /// Subscribes to `topics`. Returns once the subscription is in place, so a message published
    /// after this returns is received.
    pub async fn subscribe(&self, topics: &[Topic]) -> Result<Subscription, BusError> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.subscribe(topics)),
            Backend::Redis(r) => timed(r.subscribe(topics)).await,
        }
    }
}
