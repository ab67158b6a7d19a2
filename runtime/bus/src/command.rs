//! Commands between services: publish on `cmd:{target}`, answer on
//! `cmd:{target}:response:{request_id}`.
//!
//! The [`CommandClient`] keeps one pattern subscription to every response channel and routes each
//! response to the caller waiting for its request id, so a command costs one `PUBLISH` and no
//! subscribe/unsubscribe round trips. The [`CommandServer`] is the service's side.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value as Json};
use tokio::sync::oneshot;

use crate::keys::channels;
use crate::model::{Command, CommandResponse};
use crate::store::to_json;
use crate::{Bus, BusError, Message, Subscription, Topic, unix_now};

/// Why a command got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Nothing listens on `cmd:{target}`: the service is not running.
    #[error("no service is listening for `{target}` commands (is it running?)")]
    NoListener {
        /// The target.
        target: String,
    },
    /// The service did not answer in time.
    #[error("`{target}` did not answer `{action}` within {} s", .after.as_secs_f32())]
    Timeout {
        /// The target.
        target: String,
        /// The action sent.
        action: String,
        /// How long we waited.
        after: Duration,
    },
}

/// A fresh request id in the UUID v4 format.
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let hash = |salt: u64| {
        // `RandomState` is seeded from the OS once per thread and stepped per instance.
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(salt);
        h.write_u128(std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
        h.finish()
    };
    let (hi, lo) = (hash(1), hash(2));
    let bytes = (u128::from(hi) << 64) | u128::from(lo);
    // Version 4, variant 10xx.
    let v = (bytes & !(0xF000 << 64) | (0x4000 << 64)) & !(0xC000 << 48) | (0x8000 << 48);
    sense_hal::ble::Uuid(v).to_string()
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<CommandResponse>>>>;

/// Sends commands and waits for their responses.
#[derive(Debug)]
pub struct CommandClient {
    bus: Bus,
    pending: Pending,
    router: tokio::task::JoinHandle<()>,
}

impl Drop for CommandClient {
    fn drop(&mut self) {
        self.router.abort();
    }
}

impl CommandClient {
    /// A client on `bus`. Subscribes to every response channel before returning.
    pub async fn new(bus: Bus) -> Result<Self, BusError> {
        let mut responses = bus
            .subscribe(&[Topic::pattern(channels::ALL_COMMAND_RESPONSES)])
            .await?;
        let pending: Pending = Arc::default();
        let routes = Arc::clone(&pending);
        let router = tokio::spawn(async move {
            while let Some(message) = responses.recv().await {
                let Ok(response) = serde_json::from_str::<CommandResponse>(&message.payload) else {
                    tracing::warn!(channel = %message.channel, "ignoring a malformed command response");
                    continue;
                };
                // Only the channel named after the request id answers it.
                if !message
                    .channel
                    .ends_with(&format!(":response:{}", response.request_id))
                {
                    continue;
                }
                let waiter = routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&response.request_id);
                if let Some(tx) = waiter {
                    let _ = tx.send(response);
                }
            }
        });
        Ok(CommandClient {
            bus,
            pending,
            router,
        })
    }

    /// Sends `action` with `params` to `target` and waits up to `timeout` for the answer.
    pub async fn send(
        &self,
        target: &str,
        action: &str,
        params: Map<String, Json>,
        timeout: Duration,
    ) -> Result<CommandResponse, CommandError> {
        let request_id = new_request_id();
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request_id.clone(), tx);
        let forget = || {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&request_id);
        };
        let command = Command {
            action: action.to_owned(),
            request_id: request_id.clone(),
            params,
            timestamp: unix_now(),
        };
        let listeners = match self
            .bus
            .publish(&channels::command(target), &to_json(&command))
            .await
        {
            Ok(n) => n,
            Err(e) => {
                forget();
                return Err(e.into());
            }
        };
        if listeners == 0 {
            forget();
            return Err(CommandError::NoListener {
                target: target.to_owned(),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => Ok(response),
            _ => {
                forget();
                Err(CommandError::Timeout {
                    target: target.to_owned(),
                    action: action.to_owned(),
                    after: timeout,
                })
            }
        }
    }
}

/// A service's end: receives commands sent to its target and publishes the answers.
#[derive(Debug)]
pub struct CommandServer {
    bus: Bus,
    target: String,
    commands: Subscription,
}

impl CommandServer {
    /// Listens on `cmd:{target}`. Returns once subscribed.
    pub async fn listen(bus: &Bus, target: &str) -> Result<Self, BusError> {
        let commands = bus
            .subscribe(&[Topic::channel(channels::command(target))])
            .await?;
        Ok(CommandServer {
            bus: bus.clone(),
            target: target.to_owned(),
            commands,
        })
    }

    /// The next well-formed command. A malformed one that still carries a `request_id` is answered
    /// with an error here; one without is logged and skipped. `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Command> {
        loop {
            let Message { payload, .. } = self.commands.recv().await?;
            match serde_json::from_str::<Command>(&payload) {
                Ok(command) => return Some(command),
                Err(e) => {
                    let request_id = serde_json::from_str::<Json>(&payload)
                        .ok()
                        .and_then(|v| v.get("request_id")?.as_str().map(str::to_owned));
                    match request_id {
                        Some(id) => {
                            let answer =
                                CommandResponse::error(&id, format!("malformed command: {e}"));
                            if let Err(e) = self.respond(&answer).await {
                                tracing::warn!(error = %e, "could not answer a malformed command");
                            }
                        }
                        None => {
                            tracing::warn!(service = %self.target, error = %e, "ignoring a malformed command");
                        }
                    }
                }
            }
        }
    }

    /// Publishes `response` on `cmd:{target}:response:{request_id}`.
    pub async fn respond(&self, response: &CommandResponse) -> Result<(), BusError> {
        let channel = channels::command_response(&self.target, &response.request_id);
        self.bus
            .publish(&channel, &to_json(response))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn request_ids_look_like_uuid_v4_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
