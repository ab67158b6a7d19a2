//! The node service (`sense-pulse source node --port …`): a microcontroller node's serial link,
//! bound to the bus.
//!
//! Resident. It opens the port (again every [`REOPEN_EVERY`] while it cannot: the node is
//! unplugged), asks the node who it is, and then, for as long as the port delivers bytes:
//!
//! - each round of readings is written as a poll of the source `node-{name}` (readings, history,
//!   status with the link's health, meta, the `data:` notice), a failed sensor making the round
//!   `partial` (or `failed` when nothing was read) and named in `last_error`;
//! - commands on `cmd:node-{name}` go to the node, and its reply is the answer (or a timeout);
//! - a lost port, a silent node, a refused node all show in the status, which stays alive while
//!   the node is away, so the dashboard says what happened instead of the source vanishing.
//!
//! The bus going away loses nothing but time: the latest write waits and is retried every
//! second; commands are listened for again when the bus is back.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::time::Duration;

use sense_bus::command::CommandServer;
use sense_bus::config::GlobalConfig;
use sense_bus::model::{Command, CommandResponse, Measurement, Meta, PollOutcome, Status};
use sense_bus::store::PollWrite;
use sense_bus::{Batch, Bus, unix_now};
use sense_source_node::{Event, NodeInfo, Round, Session, reply_message};
use serde_json::{Map, Value as Json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a port that cannot be opened is tried again.
pub const REOPEN_EVERY: Duration = Duration::from_secs(1);
/// How long the node has to answer a command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// A connected node that sent no frame for this long (and three of its periods) is said to be
/// silent, and asked who it is again.
pub const SILENCE: Duration = Duration::from_secs(10);
/// The status of a node that is away is written again this often, so it outlives its TTL and
/// the dashboard keeps saying what is wrong.
pub const STATUS_REFRESH: Duration = Duration::from_secs(30);
/// The service's clock: retries, timeouts and silence are checked this often.
const TICK: Duration = Duration::from_secs(1);
/// Skipped frames are logged at most this often (the status counts them all).
const SKIPPED_LOG_EVERY: Duration = Duration::from_secs(60);

/// What the service needs of a port: a byte stream both ways. `read` must be cancel-safe (a
/// `SerialPort` and a pseudo-terminal are).
pub trait Port: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Port for T {}

/// The node's poll counters, as the runner keeps them for other sources.
#[derive(Debug, Default)]
struct Counters {
    rounds: u64,
    errors: u64,
    last_success: Option<f64>,
    last_round: Option<f64>,
    /// Seconds between the node's last two rounds: its period, for TTLs and the meta.
    period_s: u32,
}

/// A command sent to the node, waiting for its reply.
#[derive(Debug)]
struct Pending {
    request_id: String,
    deadline: Instant,
}

/// Everything the service knows between two events.
struct Service {
    bus: Bus,
    session: Session,
    counters: Counters,
    /// The latest write the bus refused (it is away); retried every tick.
    unwritten: Option<Batch>,
    bus_down: bool,
    commands: Option<CommandServer>,
    /// The source id the command server listens for.
    listening_as: Option<String>,
    pending: HashMap<u32, Pending>,
    /// Why the link is not delivering, when it is not (said in the status).
    trouble: Option<String>,
    last_status_write: Instant,
    skipped_logged: Option<(Instant, u64)>,
    cache_ttl_s: u32,
    /// The node whose connection was last announced (logged, status written); `None` after the
    /// port was lost.
    announced: Option<sense_bus::NodeSourceId>,
}

impl Service {
    fn node(&self) -> Option<&NodeInfo> {
        self.session.node()
    }

    /// Writes a poll of the node's source: `round`'s readings, or none (a status only).
    async fn write(&mut self, round: Option<&Round>) {
        let Some(node) = self.node().cloned() else {
            return;
        };
        let now = unix_now();
        let empty = Vec::new();
        let (measurements, failed): (&Vec<Measurement>, &[String]) = match round {
            Some(round) => (&round.measurements, &round.failed),
            None => (&empty, &[]),
        };
        let outcome = match (
            round.is_some(),
            &self.trouble,
            measurements.is_empty(),
            failed,
        ) {
            (_, Some(_), _, _) | (true, None, true, _) => PollOutcome::Failed,
            (true, None, false, []) => PollOutcome::Ok,
            (true, None, false, _) => PollOutcome::Partial,
            // A status between rounds says how the last round went.
            (false, None, _, _) => PollOutcome::Ok,
        };
        let last_error = self
            .trouble
            .clone()
            .or_else(|| (!failed.is_empty()).then(|| failed.join("; ")));
        if round.is_some() {
            self.counters.rounds += 1;
            if last_error.is_some() {
                self.counters.errors += 1;
            }
            if !measurements.is_empty() {
                self.counters.last_success = Some(now);
            }
            if let Some(last) = self.counters.last_round {
                // Whole seconds, at least one: the contract's interval is in seconds.
                self.counters.period_s = ((now - last).round() as u32).clamp(1, 3600);
            }
            self.counters.last_round = Some(now);
        }
        // On a named Pi, the node is that Pi's: `node-pico@kitchen`.
        let id = &self.bus.scope().id(node.id.as_str());
        let status = Status {
            source_id: id.to_owned(),
            last_poll: self.counters.last_round,
            last_success: self.counters.last_success,
            last_error,
            poll_count: self.counters.rounds,
            error_count: self.counters.errors,
            warnings: Vec::new(),
            stale: false,
            outcome: Some(outcome),
            missing: Vec::new(),
            link: Some(self.session.health().clone()),
        };
        let meta = Meta {
            source_id: id.to_owned(),
            name: format!("Node {}", node.name),
            description: format!(
                "{} from a microcontroller node on {}",
                describe_measures(&node.measures()),
                self.session.port()
            ),
            refresh_interval: self.counters.period_s.max(1),
            enabled: true,
        };
        let batch = PollWrite {
            source: id,
            measurements,
            timestamp: now,
            status: &status,
            meta: &meta,
            state: None,
            interval_s: self.counters.period_s.max(1),
            cache_ttl_s: self.cache_ttl_s,
        }
        .batch();
        self.last_status_write = Instant::now();
        self.unwritten = Some(batch);
        self.flush().await;
    }

    /// Writes what waits, if the bus takes it.
    async fn flush(&mut self) {
        let Some(batch) = &self.unwritten else {
            return;
        };
        match self.bus.apply(batch).await {
            Ok(()) => {
                self.unwritten = None;
                if std::mem::take(&mut self.bus_down) {
                    tracing::info!(bus = %self.bus.describe(), "the bus is back; the node's latest data written");
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut self.bus_down, true) {
                    tracing::warn!(error = %e, "cannot write to the bus; retrying every second, the node's latest data kept");
                }
            }
        }
    }

    /// Listens for commands under the node's id (again, after the bus or the node changed).
    async fn listen(&mut self) {
        let Some(id) = self.node().map(|n| self.bus.scope().id(n.id.as_str())) else {
            return;
        };
        if self.listening_as.as_deref() != Some(&id) {
            self.commands = None;
        }
        if self.commands.is_none() {
            self.commands = CommandServer::listen(&self.bus, &id).await.ok();
            self.listening_as = self.commands.as_ref().map(|_| id);
        }
    }

    async fn respond(&mut self, response: CommandResponse) {
        if let Some(server) = &self.commands
            && let Err(e) = server.respond(&response).await
        {
            tracing::warn!(error = %e, "cannot answer a command");
        }
    }

    /// Answers every command still waiting with `error`.
    async fn fail_pending(&mut self, error: &str) {
        for (_, pending) in std::mem::take(&mut self.pending) {
            self.respond(CommandResponse::error(&pending.request_id, error))
                .await;
        }
    }

    /// Says what the node's events mean, on the bus and in the log. Returns frames to send.
    async fn handle(&mut self, events: Vec<Event>) {
        for event in events {
            match event {
                // Once per connection: the node's own hello and its answer to Identify are one.
                Event::Hello(info) if self.announced.as_ref() == Some(&info.id) => {
                    self.trouble = None;
                }
                Event::Hello(info) => {
                    self.announced = Some(info.id.clone());
                    tracing::info!(
                        source = %info.id,
                        firmware = %info.firmware,
                        protocol = %info.protocol,
                        port = self.session.port(),
                        "node connected"
                    );
                    self.trouble = None;
                    self.listen().await;
                    self.write(None).await;
                }
                Event::Refused(why) => {
                    tracing::warn!(port = self.session.port(), "{why}");
                    self.trouble = Some(why);
                    self.write(None).await;
                }
                Event::Round(round) => {
                    self.trouble = None;
                    self.write(Some(&round)).await;
                }
                Event::Reply { id, result } => {
                    if let Some(pending) = self.pending.remove(&id) {
                        let response = match reply_message(result) {
                            Ok(message) => {
                                let mut data = Map::new();
                                data.insert("message".into(), Json::from(message));
                                CommandResponse::ok(&pending.request_id, data)
                            }
                            Err(error) => CommandResponse::error(&pending.request_id, error),
                        };
                        self.respond(response).await;
                    }
                }
                Event::Skipped(error) => {
                    tracing::debug!(port = self.session.port(), %error, "frame skipped");
                    self.log_skipped();
                }
            }
        }
    }

    fn log_skipped(&mut self) {
        let now = Instant::now();
        let count = self.session.health().bad_frames;
        let due = self
            .skipped_logged
            .is_none_or(|(at, _)| now.duration_since(at) >= SKIPPED_LOG_EVERY);
        if due {
            let since = self.skipped_logged.map_or(0, |(_, n)| n);
            tracing::warn!(
                port = self.session.port(),
                skipped = count - since,
                "frames from the node skipped (damaged, cut, or before its hello); the stream goes on"
            );
            self.skipped_logged = Some((now, count));
        }
    }

    /// A command from the bus: to the node, or refused at once.
    async fn command<P: Port>(&mut self, port: &mut P, command: Command) -> io::Result<()> {
        match self.session.command(&command.action, &command.params) {
            Ok((id, frame)) => {
                self.pending.insert(
                    id,
                    Pending {
                        request_id: command.request_id,
                        deadline: Instant::now() + COMMAND_TIMEOUT,
                    },
                );
                port.write_all(&frame).await?;
                port.flush().await
            }
            Err(e) => {
                self.respond(CommandResponse::error(&command.request_id, e.0))
                    .await;
                Ok(())
            }
        }
    }

    /// Every second: commands that waited too long, the bus, the status of a node away.
    async fn tick(&mut self) {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(pending) = self.pending.remove(&id) {
                let error = format!(
                    "the node did not answer within {} s",
                    COMMAND_TIMEOUT.as_secs()
                );
                self.respond(CommandResponse::error(&pending.request_id, error))
                    .await;
            }
        }
        self.flush().await;
        self.listen().await;
        if self.trouble.is_some()
            && self.unwritten.is_none()
            && now.duration_since(self.last_status_write) >= STATUS_REFRESH
        {
            self.write(None).await;
        }
    }

    /// Whether a connected node has been silent too long: three periods, at least [`SILENCE`].
    fn silent(&self, last_frame: Instant) -> bool {
        let allowed = SILENCE.max(Duration::from_secs(3 * u64::from(self.counters.period_s)));
        self.session.health().connected && last_frame.elapsed() >= allowed
    }
}

/// "Temperature, humidity and pressure".
fn describe_measures(measures: &[String]) -> String {
    let mut words: Vec<String> = measures.iter().map(|m| m.replace('_', " ")).collect();
    let text = match words.len() {
        0 => "Readings".to_owned(),
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} and {last}", words.join(", "))
        }
    };
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Runs the node service on `port_name`, opening it with `open`, until `shutdown`.
pub async fn run<P, F, Fut>(bus: Bus, port_name: &str, mut open: F, shutdown: CancellationToken)
where
    P: Port,
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<P>>,
{
    let mut service = Service {
        bus,
        session: Session::new(port_name, unix_now()),
        counters: Counters::default(),
        unwritten: None,
        bus_down: false,
        commands: None,
        listening_as: None,
        pending: HashMap::new(),
        trouble: None,
        last_status_write: Instant::now(),
        skipped_logged: None,
        cache_ttl_s: GlobalConfig::default().cache_ttl,
        announced: None,
    };
    let mut open_error: Option<String> = None;
    tracing::info!(port = port_name, bus = %service.bus.describe(), "node service running");
    while !shutdown.is_cancelled() {
        let mut port = match open().await {
            Ok(port) => port,
            Err(e) => {
                // The error names the port.
                let why = format!("{e} (is the node plugged in?)");
                if open_error.as_deref() != Some(why.as_str()) {
                    tracing::warn!("{why}; trying again every second");
                    if service.trouble.is_some() || service.node().is_some() {
                        service.trouble = Some(why.clone());
                        service.write(None).await;
                    }
                    open_error = Some(why);
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(REOPEN_EVERY) => {}
                }
                service.tick().await;
                continue;
            }
        };
        open_error = None;
        tracing::info!(port = port_name, "port open; asking the node who it is");
        let lost = converse(&mut service, &mut port, &shutdown).await;
        service.session.closed(unix_now());
        service.announced = None;
        service.fail_pending("the node's link was lost").await;
        if let Some(why) = lost {
            tracing::warn!(port = port_name, "{why}");
            service.trouble = Some(why);
            service.write(None).await;
        }
    }
    service.fail_pending("the node service stopped").await;
}

/// Talks to the node on an open port until the port fails (`Some(why)`) or `shutdown` (`None`).
async fn converse<P: Port>(
    service: &mut Service,
    port: &mut P,
    shutdown: &CancellationToken,
) -> Option<String> {
    let name = service.session.port().to_owned();
    let lost = |e: io::Error| {
        // A port that ends (the SerialPort says so as a hangup; a pipe as end of file) went away.
        let gone = sense_linux::serial::is_hangup(&e) || e.kind() == io::ErrorKind::UnexpectedEof;
        Some(if gone {
            format!("the node's link on {name} is lost (unplugged, or the node reset?)")
        } else {
            format!("the node's link on {name} is lost: {e}")
        })
    };
    let identify = service.session.opened();
    if let Err(e) = port.write_all(&identify).await {
        return lost(e);
    }
    let mut buf = [0u8; 512];
    let mut last_frame = Instant::now();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return None,
            read = port.read(&mut buf) => {
                let n = match read {
                    Ok(0) => return lost(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    Ok(n) => n,
                    Err(e) => return lost(e),
                };
                let frames_before = service.session.health().frames;
                let events = service.session.feed(&buf[..n], unix_now());
                if service.session.health().frames != frames_before {
                    last_frame = Instant::now();
                }
                service.handle(events).await;
            }
            command = next_command(&mut service.commands) => match command {
                Some(command) => {
                    if let Err(e) = service.command(port, command).await {
                        return lost(e);
                    }
                }
                None => service.commands = None,
            },
            _ = ticks.tick() => {
                service.tick().await;
                if service.silent(last_frame) {
                    let why = format!(
                        "no data from the node on {name} for {} s (stuck?); asking it again",
                        last_frame.elapsed().as_secs()
                    );
                    if service.trouble.as_deref() != Some(why.as_str()) {
                        tracing::warn!("{why}");
                    }
                    service.trouble = Some(why);
                    service.write(None).await;
                    last_frame = Instant::now();
                    let identify = service.session.identify();
                    if let Err(e) = port.write_all(&identify).await {
                        return lost(e);
                    }
                }
            }
        }
    }
}

async fn next_command(server: &mut Option<CommandServer>) -> Option<Command> {
    match server {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::describe_measures;

    #[test]
    fn measures_are_listed_in_words() {
        let m =
            |v: &[&str]| describe_measures(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            m(&["temperature", "humidity", "pressure"]),
            "Temperature, humidity and pressure"
        );
        assert_eq!(m(&["pressure"]), "Pressure");
        assert_eq!(m(&[]), "Readings");
    }
}
