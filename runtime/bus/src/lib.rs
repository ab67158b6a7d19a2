//! # sense-bus
//!
//! The data bus that connects every Sense Pulse service, and the wire contract it carries
//! (`docs/CONTRACT.md`). Written once, here:
//!
//! - [`ids`]: the source ids (`system`, `co2`, ...) and config section names.
//! - [`keys`]: every Redis key and pub/sub channel name. Nothing else formats one.
//! - [`model`]: the JSON payloads: [`Reading`](model::Reading), [`Meta`](model::Meta),
//!   [`Status`](model::Status), [`DataUpdate`](model::DataUpdate), [`Command`](model::Command),
//!   [`CommandResponse`](model::CommandResponse), [`ConfigChanged`](model::ConfigChanged),
//!   [`StreamEnded`](model::StreamEnded), [`MatrixState`](model::MatrixState).
//! - [`config`]: the config sections as typed, validated structs, resolved Redis → environment →
//!   default.
//! - [`source`]: what a data source is to the runtime: the [`Source`](source::Source) trait.
//!
//! With the default `backends` feature:
//!
//! - [`Bus`]: one interface, two backends: Redis (RESP3, reconnecting, resubscribing) and an
//!   in-memory bus with the same semantics (TTL expiry, `SET NX`, pub/sub with patterns) for
//!   `sense-pulse run` without Redis.
//! - [`store`]: the contract's operations on a bus (write a poll's readings, read a source, ...).
//! - [`command`]: the command client (`cmd:{target}` → `cmd:{target}:response:{id}`) and server.
#![warn(missing_docs)]
#![allow(async_fn_in_trait)]

pub mod acl;
pub mod config;
pub mod ids;
pub mod keys;
pub mod model;
pub mod redact;
pub mod source;

#[cfg(feature = "backends")]
mod bus;
#[cfg(feature = "backends")]
pub mod command;
#[cfg(feature = "backends")]
pub mod store;

#[cfg(feature = "backends")]
pub use bus::{
    Batch, Bus, BusError, ConnectOptions, Fetched, Guard, Message, Read, Stats, Subscription,
    Topic, Ttl, glob_match,
};
pub use ids::{NodeName, NodeSourceId, Scope, SectionName, SourceId};

/// Seconds since the Unix epoch, as the contract's `timestamp` fields carry it.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
