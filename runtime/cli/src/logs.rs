//! Logging: to stderr for Docker and journald, and every warning and error also onto the bus
//! (`logs` channel and capped list, [`LogEntry`]) for the dashboard's log viewer.
//!
//! Logging starts before the bus exists; [`attach`] connects the two once it does. Entries go
//! through a bounded queue and are dropped when it is full or the bus is away: the log viewer is
//! a convenience, never a reason to block or grow.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sense_bus::keys::{self, channels};
use sense_bus::model::LogEntry;
use sense_bus::store::to_json;
use sense_bus::{Batch, Bus, unix_now};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Entries waiting for the bus; more are dropped.
const QUEUE: usize = 256;

static SINK: OnceLock<Sink> = OnceLock::new();

struct Sink {
    queue: mpsc::Sender<LogEntry>,
    role: String,
}

/// Entries queued or being written.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Logs to stderr at `level` (or as `RUST_LOG` says), and warnings and errors to the bus once
/// [`attach`]ed.
pub fn init(level: &str) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .unwrap_or_else(|| level.to_owned());
    let filter = level
        .parse::<tracing_subscriber::filter::LevelFilter>()
        .unwrap_or_else(|_| {
            // Before logging exists, stderr is the only place to say so.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("warning: unknown log level {level:?}; using info");
            }
            tracing_subscriber::filter::LevelFilter::INFO
        });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter))
        .with(BusLayer)
        .init();
}

/// From now on, warnings and errors also go to `bus`, as said by `role` (`gateway`,
/// `orchestrator`, a source id) unless the event names its `source`. Call once, inside a tokio
/// runtime.
pub fn attach(bus: Bus, role: &str) {
    let (queue, mut entries) = mpsc::channel::<LogEntry>(QUEUE);
    let sink = Sink {
        queue,
        role: role.to_owned(),
    };
    if SINK.set(sink).is_err() {
        return;
    }
    tokio::spawn(async move {
        while let Some(entry) = entries.recv().await {
            let json = to_json(&entry);
            let mut batch = Batch::new();
            batch.publish(channels::LOGS, json.clone()).push_capped(
                keys::LOGS,
                json,
                keys::LOGS_KEPT,
                None,
            );
            // Not logged when it fails: that would feed this very queue.
            let _ = bus.apply(&batch).await;
            IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        }
    });
}

/// Waits (at most `patience`) until the queued entries are written: a one-shot run calls it
/// before it exits.
pub async fn flush(patience: Duration) {
    let deadline = tokio::time::Instant::now() + patience;
    while IN_FLIGHT.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Turns warning and error events into [`LogEntry`]s for the bus.
struct BusLayer;

impl<S: Subscriber> Layer<S> for BusLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return;
        }
        let Some(sink) = SINK.get() else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let entry = LogEntry {
            level: if level == Level::ERROR {
                "error"
            } else {
                "warn"
            }
            .to_owned(),
            service: fields.source.unwrap_or_else(|| sink.role.clone()),
            message: fields.text,
            timestamp: unix_now(),
        };
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        if sink.queue.try_send(entry).is_err() {
            IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The message, then the other fields as `name=value`; `source` taken apart.
#[derive(Default)]
struct Fields {
    text: String,
    source: Option<String>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => {
                if self.text.is_empty() {
                    self.text = value.to_owned();
                } else {
                    self.text = format!("{value} {}", self.text);
                }
            }
            "source" if self.source.is_none() => self.source = Some(value.to_owned()),
            name => {
                if !self.text.is_empty() {
                    self.text.push(' ');
                }
                let _ = write!(self.text, "{name}={value}");
            }
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.add(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_one_line_with_the_source_apart() {
        type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, String)>>>;
        struct Probe(Seen);
        impl<S: Subscriber> Layer<S> for Probe {
            fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
                let mut fields = Fields::default();
                event.record(&mut fields);
                self.0.lock().unwrap().push((fields.source, fields.text));
            }
        }
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(Probe(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let error = "garage not heard within 10 s";
            tracing::warn!(source = "co2", %error, "poll failed");
            tracing::error!(attempts = 3, "gave up");
        });
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            [
                (
                    Some("co2".to_owned()),
                    "poll failed error=garage not heard within 10 s".to_owned()
                ),
                (None, "gave up attempts=3".to_owned()),
            ]
        );
    }
}
