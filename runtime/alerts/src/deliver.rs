//! Delivery to ntfy and a webhook: one bounded outbox and one worker per channel, so a slow or
//! failing channel never holds up evaluation nor the other channel. A failed attempt is retried
//! with exponential backoff; when too many alerts wait, the oldest is dropped and counted. Each
//! channel's health goes to `alerts:channels`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sense_bus::config::{AlertsConfig, NtfyChannel};
use sense_bus::model::{AlertChannels, AlertEvent, AlertKind, ChannelHealth, ChannelState};
use sense_http::{HttpClient, Request};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// A delivery channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// ntfy.
    Ntfy,
    /// The webhook.
    Webhook,
}

impl Channel {
    /// Both.
    pub const ALL: [Channel; 2] = [Channel::Ntfy, Channel::Webhook];

    /// `ntfy`, `webhook`: its key in `alerts:channels`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Ntfy => "ntfy",
            Channel::Webhook => "webhook",
        }
    }

    /// Whether `config` sends alerts to it.
    pub fn enabled(self, config: &AlertsConfig) -> bool {
        match self {
            Channel::Ntfy => config.ntfy.enabled,
            Channel::Webhook => config.webhook.enabled,
        }
    }
}

/// How long to wait before retrying a failed delivery: from `first`, doubling, at most `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(5),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (1: `first`).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.cap)
            .max(self.first.min(self.cap))
    }
}

/// Every channel's health, shared between the workers and the writer of `alerts:channels`.
#[derive(Clone, Debug, Default)]
pub struct Board {
    health: Arc<Mutex<AlertChannels>>,
    /// Told whenever a channel's health changes.
    pub changed: Arc<Notify>,
}

impl Board {
    /// Every channel's health now.
    pub fn snapshot(&self) -> AlertChannels {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, channel: Channel, f: impl FnOnce(&mut ChannelHealth)) {
        {
            let mut all = self.health.lock().unwrap_or_else(PoisonError::into_inner);
            f(all.entry(channel.as_str().to_owned()).or_default());
        }
        self.changed.notify_one();
    }
}

/// One channel's waiting alerts.
#[derive(Debug)]
pub struct Outbox {
    channel: Channel,
    queue: Mutex<VecDeque<AlertEvent>>,
    capacity: usize,
    ready: Notify,
    board: Board,
}

impl Outbox {
    /// An empty outbox for `channel` holding at most `capacity` alerts.
    pub fn new(channel: Channel, capacity: usize, board: Board) -> Arc<Outbox> {
        Arc::new(Outbox {
            channel,
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            board,
        })
    }

    /// Its channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<AlertEvent>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event`, dropping the oldest waiting one when full. Never waits.
    pub fn push(&self, event: AlertEvent) {
        let (pending, dropped) = {
            let mut queue = self.queue();
            let dropped = if queue.len() >= self.capacity {
                queue.pop_front();
                1
            } else {
                0
            };
            queue.push_back(event);
            (queue.len(), dropped)
        };
        if dropped > 0 {
            tracing::warn!(
                channel = self.channel.as_str(),
                "too many alerts waiting: the oldest was dropped"
            );
        }
        self.board.update(self.channel, |h| {
            h.pending = u32::try_from(pending).unwrap_or(u32::MAX);
            h.dropped += dropped;
        });
        self.ready.notify_one();
    }

    fn front(&self) -> Option<AlertEvent> {
        self.queue().front().cloned()
    }

    /// Removes `delivered` if it is still the oldest (it may have been dropped meanwhile).
    fn done(&self, delivered: &AlertEvent) -> usize {
        let mut queue = self.queue();
        if queue.front() == Some(delivered) {
            queue.pop_front();
        }
        queue.len()
    }

    fn clear(&self) {
        self.queue().clear();
    }
}

/// An HTTP header value: ASCII as it is, anything else as an RFC 2047 encoded word (ntfy decodes
/// them; HTTP headers carry no UTF-8).
fn header_text(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The ntfy publish request for `event`: `POST {url}/{topic}`, the message as the body, `Title`,
/// `Priority` and `Tags` headers, and the token as a bearer token.
pub fn ntfy_request(ntfy: &NtfyChannel, event: &AlertEvent) -> Request {
    let url = format!("{}/{}", ntfy.url.trim_end_matches('/'), ntfy.topic);
    let (title, priority, tags) = match event.kind {
        AlertKind::Fired => (event.name.clone(), "high", "warning"),
        AlertKind::Cleared => (
            format!("{} (cleared)", event.name),
            "default",
            "white_check_mark",
        ),
    };
    let mut request = Request::post(url, "text/plain; charset=utf-8", event.message.clone())
        .header("Title", header_text(&title))
        .header("Priority", priority)
        .header("Tags", format!("{tags},{}", header_text(&event.rule)));
    if !ntfy.token.is_empty() {
        request = request.header("Authorization", format!("Bearer {}", ntfy.token));
    }
    request
}

/// The webhook request for `event`: the event as JSON.
pub fn webhook_request(url: &str, event: &AlertEvent) -> Request {
    // The URL is the webhook's key: no message about the request quotes its path.
    Request::post_json(url, event).secret_path()
}

/// What the server said when it refused, in one short line.
fn refused(channel: Channel, status: u16, body: &str) -> String {
    let body: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let body = body.trim();
    if body.is_empty() {
        format!("{} answered HTTP {status}", channel.as_str())
    } else {
        format!("{} answered HTTP {status}: {body}", channel.as_str())
    }
}

/// Delivers what `outbox` holds, oldest first, until `shutdown`.
pub async fn deliver(
    outbox: Arc<Outbox>,
    mut config: watch::Receiver<AlertsConfig>,
    http: HttpClient,
    backoff: Backoff,
    shutdown: CancellationToken,
) {
    let channel = outbox.channel;
    let board = outbox.board.clone();
    let mut failures = 0u32;
    loop {
        let settings = config.borrow_and_update().clone();
        if !channel.enabled(&settings) {
            outbox.clear();
            failures = 0;
            board.update(channel, |h| {
                *h = ChannelHealth {
                    state: ChannelState::Off,
                    ..ChannelHealth::default()
                };
            });
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = config.changed() => if changed.is_err() { return },
            }
            continue;
        }
        board.update(channel, |h| {
            if h.state == ChannelState::Off {
                h.state = ChannelState::Ok;
            }
        });
        let Some(event) = outbox.front() else {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = outbox.ready.notified() => {}
                changed = config.changed() => if changed.is_err() { return },
            }
            continue;
        };
        let request = match channel {
            Channel::Ntfy => ntfy_request(&settings.ntfy, &event),
            Channel::Webhook => webhook_request(&settings.webhook.url, &event),
        };
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            sent = http.send(request) => sent,
        };
        let now = sense_bus::unix_now();
        let error = match outcome {
            Ok(response) if response.is_success() => None,
            Ok(response) => Some(refused(channel, response.status, &response.text())),
            Err(e) => Some(sense_bus::redact::url_credentials(&e.to_string()).into_owned()),
        };
        match error {
            None => {
                failures = 0;
                let left = outbox.done(&event);
                board.update(channel, |h| {
                    h.state = ChannelState::Ok;
                    h.last_error = None;
                    h.last_success = Some(now);
                    h.pending = u32::try_from(left).unwrap_or(u32::MAX);
                });
            }
            Some(error) => {
                failures += 1;
                let wait = backoff.delay(failures);
                tracing::warn!(
                    channel = channel.as_str(),
                    error = %error,
                    retry_in_s = wait.as_secs_f32(),
                    "alert not delivered"
                );
                board.update(channel, |h| {
                    h.state = ChannelState::Failing;
                    h.last_error = Some(error);
                    h.last_failure = Some(now);
                });
                // A settings change (a fixed token, another URL) is tried at once.
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                    changed = config.changed() => {
                        if changed.is_err() { return }
                        failures = 0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            first: Duration::from_secs(5),
            cap: Duration::from_secs(300),
        };
        let waits: Vec<u64> = (1..=9).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn headers_carry_utf8_as_encoded_words() {
        assert_eq!(header_text("CPU hot"), "CPU hot");
        assert_eq!(header_text("CO₂ high"), "=?UTF-8?B?Q0/igoIgaGlnaA==?=");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"M"), "TQ==");
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_it() {
        let board = Board::default();
        let outbox = Outbox::new(Channel::Webhook, 2, board.clone());
        let event = |id: &str| AlertEvent {
            id: id.to_owned(),
            rule: "r".into(),
            name: "R".into(),
            kind: AlertKind::Fired,
            source: "system".into(),
            sensor: None,
            label: String::new(),
            value: None,
            unit: None,
            threshold: None,
            condition: sense_bus::model::AlertTrigger::Above,
            since: 0.0,
            at: 0.0,
            message: String::new(),
        };
        for id in ["a", "b", "c"] {
            outbox.push(event(id));
        }
        assert_eq!(outbox.front().map(|e| e.id), Some("b".to_owned()));
        let health = &board.snapshot()["webhook"];
        assert_eq!((health.pending, health.dropped), (2, 1));
    }
}
