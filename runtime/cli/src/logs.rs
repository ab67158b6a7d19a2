//! Logging: to stderr for Docker and journald, and every warning and error also onto the bus
//! (`logs` channel and capped list, [`LogEntry`]) for the dashboard's log viewer.
//!
//! Logging starts before the bus exists; [`attach`] connects the two once it does. Entries go
//! through a bounded queue and are dropped when it is full or the bus is away: the log viewer is
//! a convenience, never a reason to block or grow.
//!
//! A line that repeats (the same level, target, service and message, whatever its other fields)
//! reaches the bus [`REPEATS_PER_MINUTE`] times a minute at most; the rest are counted, and one
//! line "… (repeated 57 more times in the last minute)" follows when the minute is over, so one
//! noisy line never pushes everything else out of the `logs` list. Standard error gets every
//! line.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sense_bus::keys::{self, channels};
use sense_bus::model::LogEntry;
use sense_bus::store::to_json;
use sense_bus::{Batch, Bus, unix_now};
use tokio::sync::{Notify, mpsc};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Entries waiting for the bus; more are dropped.
const QUEUE: usize = 256;

/// Times the same line reaches the bus per [`REPEAT_WINDOW`]; the rest are counted.
pub const REPEATS_PER_MINUTE: u32 = 5;

/// The window [`REPEATS_PER_MINUTE`] counts in.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// Different lines followed at once; beyond, new kinds of lines are counted together.
const KINDS_TRACKED: usize = 256;

static SINK: OnceLock<Sink> = OnceLock::new();

struct Sink {
    queue: mpsc::Sender<LogEntry>,
    role: String,
    repeats: Mutex<Repeats>,
    /// Wakes the writer when a new line starts being counted (its summary will be due).
    counting: Notify,
}

/// Now, on tokio's clock when a test pauses it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Entries queued or being written.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// The target of the events of [`error`] and [`warning`]: they go to the bus only, since they
/// were written to standard error as they are.
const TOLD: &str = "sense_pulse::told";

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
                eprintln!(
                    "warning: unknown log level `{level}` (--log-level, LOG_LEVEL or RUST_LOG): \
                     use error, warn, info, debug or trace; using info"
                );
            }
            tracing_subscriber::filter::LevelFilter::INFO
        });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let not_told = tracing_subscriber::filter::filter_fn(|m| m.target() != TOLD);
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter.and(not_told)))
        .with(BusLayer)
        .init();
}

/// Tells the person at the terminal (standard error) `error: {message}`, not as a log line, and
/// the dashboard's log viewer too once [`attach`]ed.
#[allow(clippy::print_stderr)]
pub fn error(message: &str) {
    eprintln!("error: {message}");
    tracing::error!(target: TOLD, "{message}");
}

/// As [`error`], for `warning: {message}`.
#[allow(clippy::print_stderr)]
pub fn warning(message: &str) {
    eprintln!("warning: {message}");
    tracing::warn!(target: TOLD, "{message}");
}

/// From now on, warnings and errors also go to `bus`, as said by `role` (`gateway`,
/// `orchestrator`, a source id) unless the event names its `source`. Call once, inside a tokio
/// runtime.
pub fn attach(bus: Bus, role: &str) {
    let (queue, mut entries) = mpsc::channel::<LogEntry>(QUEUE);
    let sink = Sink {
        queue,
        role: role.to_owned(),
        repeats: Mutex::new(Repeats::new(
            REPEATS_PER_MINUTE,
            REPEAT_WINDOW,
            KINDS_TRACKED,
        )),
        counting: Notify::new(),
    };
    if SINK.set(sink).is_err() {
        return;
    }
    let Some(sink) = SINK.get() else { return };
    tokio::spawn(async move {
        let write = |entry: LogEntry| {
            let json = to_json(&entry);
            let mut batch = Batch::new();
            batch.publish(channels::LOGS, json.clone()).push_capped(
                keys::LOGS,
                json,
                keys::LOGS_KEPT,
                None,
            );
            batch
        };
        loop {
            let due = sink.repeats.lock().map(|r| r.next_due()).unwrap_or(None);
            let summaries = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                entry = entries.recv() => {
                    let Some(entry) = entry else { break };
                    // Not logged when it fails: that would feed this very queue.
                    let _ = bus.apply(&write(entry)).await;
                    IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
                }
                () = summaries => {
                    let due = sink.repeats.lock().map(|mut r| r.due(now())).unwrap_or_default();
                    for entry in due {
                        let _ = bus.apply(&write(entry)).await;
                    }
                }
                () = sink.counting.notified() => {}
            }
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
        let level = if level == Level::ERROR {
            "error"
        } else {
            "warn"
        };
        let service = fields.source.unwrap_or_else(|| sink.role.clone());
        let key = Kind {
            level,
            target: event.metadata().target(),
            service: service.clone(),
            message: fields.message.unwrap_or_else(|| fields.text.clone()),
        };
        let entry = LogEntry {
            level: level.to_owned(),
            service,
            message: fields.text,
            timestamp: unix_now(),
        };
        let Ok(mut repeats) = sink.repeats.lock() else {
            return;
        };
        let verdict = repeats.check(key, &entry, now());
        drop(repeats);
        if verdict.new_kind {
            sink.counting.notify_one();
        }
        for entry in verdict
            .summary
            .into_iter()
            .chain(verdict.send.then_some(entry))
        {
            IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
            if sink.queue.try_send(entry).is_err() {
                IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// What makes two log lines the same line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Kind {
    level: &'static str,
    target: &'static str,
    service: String,
    /// The message without the other fields (an address, a count).
    message: String,
}

/// One kind of line in its current window.
#[derive(Debug)]
struct Seen {
    since: Instant,
    count: u32,
    suppressed: u32,
    /// The last line not sent, for its summary.
    last: Option<LogEntry>,
}

/// What to do with a line.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    /// A summary of the kind's last window, to send first.
    summary: Option<LogEntry>,
    /// Send the line.
    send: bool,
    /// The line starts being counted: a summary may be due at the end of its window.
    new_kind: bool,
}

/// Counts lines by [`Kind`]: `allowed` per `window`, then one summary of the rest.
#[derive(Debug)]
struct Repeats {
    allowed: u32,
    window: Duration,
    capacity: usize,
    kinds: HashMap<Kind, Seen>,
}

impl Repeats {
    fn new(allowed: u32, window: Duration, capacity: usize) -> Repeats {
        Repeats {
            allowed,
            window,
            capacity,
            kinds: HashMap::new(),
        }
    }

    /// The kind all lines count as once `capacity` kinds are followed.
    fn overflow(level: &'static str) -> Kind {
        Kind {
            level,
            target: "",
            service: String::new(),
            message: String::new(),
        }
    }

    fn summary(seen: &mut Seen) -> Option<LogEntry> {
        let n = std::mem::take(&mut seen.suppressed);
        let last = seen.last.take()?;
        let message = if last.message.is_empty() {
            format!("{n} more log lines of many kinds in the last minute were not shown here")
        } else {
            format!(
                "{} (repeated {n} more times in the last minute)",
                last.message
            )
        };
        Some(LogEntry {
            message,
            timestamp: unix_now(),
            ..last
        })
    }

    /// Counts `entry`, of `kind`, at `now`.
    fn check(&mut self, kind: Kind, entry: &LogEntry, now: Instant) -> Verdict {
        let mut kind = kind;
        if !self.kinds.contains_key(&kind) && self.kinds.len() >= self.capacity {
            // Forget kinds whose window is over and that have nothing to say.
            let window = self.window;
            self.kinds
                .retain(|_, s| now.duration_since(s.since) < window || s.suppressed > 0);
            if self.kinds.len() >= self.capacity {
                kind = Repeats::overflow(kind.level);
            }
        }
        let overflow = kind.target.is_empty();
        let mut verdict = Verdict::default();
        let seen = match self.kinds.get_mut(&kind) {
            Some(seen) => seen,
            None => {
                verdict.new_kind = true;
                self.kinds.entry(kind).or_insert(Seen {
                    since: now,
                    count: 0,
                    suppressed: 0,
                    last: None,
                })
            }
        };
        if now.duration_since(seen.since) >= self.window {
            verdict.summary = Repeats::summary(seen);
            seen.since = now;
            seen.count = 0;
        }
        seen.count += 1;
        if seen.count <= self.allowed && !overflow {
            verdict.send = true;
        } else {
            seen.suppressed += 1;
            seen.last = Some(if overflow {
                LogEntry {
                    message: String::new(),
                    ..entry.clone()
                }
            } else {
                entry.clone()
            });
        }
        verdict
    }

    /// When the next window ends (a summary may be due then).
    fn next_due(&self) -> Option<Instant> {
        self.kinds.values().map(|s| s.since + self.window).min()
    }

    /// The summaries of windows over at `now`; those kinds are forgotten.
    fn due(&mut self, now: Instant) -> Vec<LogEntry> {
        let window = self.window;
        let mut summaries = Vec::new();
        self.kinds.retain(|_, seen| {
            if now.duration_since(seen.since) < window {
                return true;
            }
            summaries.extend(Repeats::summary(seen));
            false
        });
        summaries
    }
}

/// The message, then the other fields as `name=value`; `source` taken apart.
#[derive(Default)]
struct Fields {
    text: String,
    /// The message alone.
    message: Option<String>,
    source: Option<String>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => {
                self.message = Some(value.to_owned());
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
        type Seen = std::sync::Arc<Mutex<Vec<(Option<String>, String)>>>;
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

    fn kind(message: &str) -> Kind {
        Kind {
            level: "warn",
            target: "sense_gateway",
            service: "gateway".into(),
            message: message.into(),
        }
    }

    fn entry(text: &str) -> LogEntry {
        LogEntry {
            level: "warn".into(),
            service: "gateway".into(),
            message: text.into(),
            timestamp: 0.0,
        }
    }

    #[test]
    fn a_repeated_line_is_sent_five_times_a_minute_then_summed_up() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut repeats = Repeats::new(5, Duration::from_secs(60), 4);
        let accept = kind("accept failed");
        let sent: Vec<bool> = (0..62)
            .map(|i| {
                let line = entry(&format!("accept failed error=EMFILE n={i}"));
                repeats.check(accept.clone(), &line, at(i * 10)).send
            })
            .collect();
        assert_eq!(sent.iter().filter(|s| **s).count(), 5);
        assert!(sent[..5].iter().all(|s| *s), "the first five");
        // Another line is not held back by the first.
        assert!(repeats.check(kind("other"), &entry("other"), at(700)).send);
        assert_eq!(repeats.next_due(), Some(at(60_000)));
        assert!(repeats.due(at(59_999)).is_empty());
        let summaries = repeats.due(at(60_000));
        assert_eq!(summaries.len(), 1, "nothing to say about `other`");
        assert_eq!(
            summaries[0].message,
            "accept failed error=EMFILE n=61 (repeated 57 more times in the last minute)"
        );
        assert_eq!(summaries[0].service, "gateway");
        assert_eq!(repeats.next_due(), Some(at(60_700)));
        // A new minute: sent again.
        assert!(repeats.check(accept.clone(), &entry("x"), at(61_000)).send);

        // A line coming back after its minute brings the summary of that minute first.
        let mut repeats = Repeats::new(1, Duration::from_secs(60), 4);
        assert!(repeats.check(accept.clone(), &entry("a"), at(0)).send);
        assert!(!repeats.check(accept.clone(), &entry("b"), at(1)).send);
        let back = repeats.check(accept.clone(), &entry("c"), at(60_000));
        assert!(back.send);
        assert_eq!(
            back.summary.map(|s| s.message).as_deref(),
            Some("b (repeated 1 more times in the last minute)")
        );
    }

    #[test]
    fn too_many_kinds_of_lines_are_counted_together() {
        let start = Instant::now();
        let mut repeats = Repeats::new(5, Duration::from_secs(60), 2);
        assert!(repeats.check(kind("a"), &entry("a"), start).send);
        assert!(repeats.check(kind("b"), &entry("b"), start).send);
        for i in 0..10 {
            let line = format!("c{i}");
            assert!(!repeats.check(kind(&line), &entry(&line), start).send);
        }
        let summaries = repeats.due(start + Duration::from_secs(60));
        assert_eq!(summaries.len(), 1);
        assert_eq!(
            summaries[0].message,
            "10 more log lines of many kinds in the last minute were not shown here"
        );
    }

    /// The layer, the queue and the bus together: a thousand equal warnings leave five entries in
    /// the `logs` list, and one summary after the minute. (The only test here that attaches: the
    /// sink is the process's.)
    #[tokio::test(start_paused = true)]
    async fn a_flood_of_one_line_does_not_fill_the_logs_list() {
        let bus = Bus::memory();
        let mut published = bus
            .subscribe(&[sense_bus::Topic::channel(channels::LOGS)])
            .await
            .unwrap();
        attach(bus.clone(), "gateway");
        let subscriber = tracing_subscriber::registry().with(BusLayer);
        let guard = tracing::subscriber::set_default(subscriber);
        for _ in 0..1000 {
            tracing::warn!(error = "Too many open files (os error 24)", "accept failed");
        }
        tracing::error!("something else");
        drop(guard);
        flush(Duration::from_secs(5)).await;
        let listed = bus.list(keys::LOGS).await.unwrap();
        let accept = |l: &&String| l.contains("accept failed");
        assert_eq!(listed.iter().filter(accept).count(), 5, "{listed:?}");
        assert_eq!(listed.len(), 6, "and the other line: {listed:?}");
        for _ in 0..6 {
            published.recv().await.unwrap();
        }
        // A minute later, one line sums up the rest.
        tokio::time::advance(REPEAT_WINDOW).await;
        let summary = published.recv().await.unwrap();
        let summary: LogEntry = serde_json::from_str(&summary.payload).unwrap();
        assert_eq!(
            summary.message,
            "accept failed error=Too many open files (os error 24) \
             (repeated 995 more times in the last minute)"
        );
        assert_eq!(summary.level, "warn");
        let listed = bus.list(keys::LOGS).await.unwrap();
        assert_eq!(listed.len(), 7);
    }
}
