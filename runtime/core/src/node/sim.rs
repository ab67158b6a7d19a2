//! A simulated microcontroller node on the host: the real firmware logic ([`sense_node::Node`])
//! against `sense-sim`'s HTS221, LPS25H and ATtiny88 (LED matrix), in real time, talking the node
//! protocol over a link of the caller's choice. For `run --sim` and for tests of the Linux side,
//! which opens [`SimNode::spawn_on_pty`]'s slave path as it would open a Pico's `/dev/ttyACM0`.
//!
//! The node runs on a thread of its own, on a current-thread tokio runtime (the node's futures
//! are not `Send`): the chips on a simulated I2C bus, their clock the wall clock ([`WALL_CLOCK`]),
//! the node's delays tokio's timer. The [`SimNode`] handle reaches the chips from any thread: the
//! LED matrix's frame, a sensor made to stop answering, the room the sensors measure.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use embedded_hal_async::i2c::{ErrorType, I2c, Operation, SevenBitAddress};
use sense_linux::{PtyPair, SerialPort, TokioDelay, is_hangup};
use sense_node::{Link, Node, NodeConfig};
use sense_node_proto::Sensor;
use sense_sim::attiny88::{self, Attiny88Sim};
use sense_sim::environment::Environment;
use sense_sim::hts221::{self, Hts221Sim};
use sense_sim::i2c::{Fault, I2cTarget, SimBus, SimError};
use sense_sim::lps25h::{self, Lps25hSim};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, watch};

use crate::sim::WALL_CLOCK;

/// How often a node on a pty looks whether the host has opened the line (the Pico waits for DTR;
/// a pty's master is told nothing when its slave is opened).
const OPEN_POLL: Duration = Duration::from_millis(20);

/// What the simulated node is and measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimNodeOptions {
    /// The node's name in its Hello (at most 32 bytes). `'static` as in
    /// [`NodeConfig`]: a name read at run time can be [leaked](String::leak) once.
    pub id: &'static str,
    /// The firmware version in its Hello (at most 24 bytes).
    pub firmware_version: &'static str,
    /// Time between two rounds of readings (whole milliseconds, at least one).
    pub period: Duration,
    /// Whether the node drives an LED matrix (an ATtiny88 on its bus, and the capability in its
    /// Hello).
    pub led_matrix: bool,
    /// The room the sensors measure.
    pub environment: Environment,
}

impl Default for SimNodeOptions {
    /// `sim-pico`, this crate's version with `-sim`, a reading a second (as the Pico firmware),
    /// an LED matrix, the default room.
    fn default() -> Self {
        SimNodeOptions {
            id: "sim-pico",
            firmware_version: concat!(env!("CARGO_PKG_VERSION"), "-sim"),
            period: Duration::from_secs(1),
            led_matrix: true,
            environment: Environment::new(),
        }
    }
}

/// A chip of the simulated node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimSensor {
    /// The humidity and temperature sensor.
    Hts221,
    /// The pressure sensor.
    Lps25h,
    /// The LED matrix controller.
    LedMatrix,
}

impl SimSensor {
    const ALL: [SimSensor; 3] = [SimSensor::Hts221, SimSensor::Lps25h, SimSensor::LedMatrix];

    /// Its I2C address on the node's bus.
    pub const fn address(self) -> u8 {
        match self {
            SimSensor::Hts221 => hts221::ADDRESS,
            SimSensor::Lps25h => lps25h::ADDRESS,
            SimSensor::LedMatrix => attiny88::ADDRESS,
        }
    }

    /// How the node's Status frames name it.
    pub const fn sensor(self) -> Sensor {
        match self {
            SimSensor::Hts221 => Sensor::Hts221,
            SimSensor::Lps25h => Sensor::Lps25h,
            SimSensor::LedMatrix => Sensor::LedMatrix,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    fn at(address: u8) -> Option<SimSensor> {
        SimSensor::ALL.into_iter().find(|s| s.address() == address)
    }
}

/// The chips, shared by the node's thread (through the bus) and the handle.
#[derive(Debug)]
struct Chips {
    hts221: Mutex<Hts221Sim>,
    lps25h: Mutex<Lps25hSim>,
    matrix: Option<Mutex<Attiny88Sim>>,
    /// Which chips do not answer, by [`SimSensor::index`].
    failing: [AtomicBool; 3],
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A shared chip on the bus: the bus delivers to it under its lock.
struct ChipRef<'c, T>(&'c Mutex<T>);

impl<T: I2cTarget> I2cTarget for ChipRef<'_, T> {
    fn write(&mut self, bytes: &[u8]) {
        lock(self.0).write(bytes);
    }
    fn read(&mut self, buf: &mut [u8]) {
        lock(self.0).read(buf);
    }
    fn stop(&mut self) {
        lock(self.0).stop();
    }
}

/// The bus as the node's drivers see it: the simulated bus, with the faults the handle asked for
/// applied (as [`Fault::Nack`]) before each transaction.
#[derive(Clone, Copy)]
struct NodeBus<'b, 'd> {
    bus: &'b SimBus<'d, 4>,
    chips: &'b Chips,
}

impl ErrorType for NodeBus<'_, '_> {
    type Error = SimError;
}

impl I2c<SevenBitAddress> for NodeBus<'_, '_> {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), SimError> {
        if let Some(chip) = SimSensor::at(address) {
            if self.chips.failing[chip.index()].load(Ordering::Relaxed) {
                self.bus.inject(address, Fault::Nack);
            } else {
                self.bus.clear(address);
            }
        }
        self.bus.run(address, operations)
    }
}

/// [`Link`] over a tokio byte stream. `receive` reads into the node's buffer directly, so it is
/// as cancel-safe as the stream's `read` (a [`SerialPort`]'s, a `DuplexStream`'s are).
struct IoLink<'a, T>(&'a mut T);

impl<T: AsyncRead + AsyncWrite + Unpin> Link for IoLink<'_, T> {
    type Error = io::Error;

    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes).await?;
        self.0.flush().await
    }

    async fn receive(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf).await? {
            0 if !buf.is_empty() => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the host closed the link",
            )),
            n => Ok(n),
        }
    }
}

/// The line to the host, and when the node may talk on it.
trait Line {
    type Io: AsyncRead + AsyncWrite + Unpin;
    fn io(&mut self) -> &mut Self::Io;
    /// Until the host has the line open (the Pico waits for DTR); an error when it never will.
    async fn opened(&mut self) -> io::Result<()>;
    /// Whether, after a run ended with `error`, the host may open the line again.
    fn reopens(&self, error: &io::Error) -> bool;
}

/// A stream the caller gave: open from the start, gone when it fails.
struct Stream<L>(L);

impl<L: AsyncRead + AsyncWrite + Unpin> Line for Stream<L> {
    type Io = L;
    fn io(&mut self) -> &mut L {
        &mut self.0
    }
    async fn opened(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn reopens(&self, _error: &io::Error) -> bool {
        false
    }
}

/// A pty's master: open while someone has the slave open.
struct PtyMaster(SerialPort);

impl Line for PtyMaster {
    type Io = SerialPort;
    fn io(&mut self) -> &mut SerialPort {
        &mut self.0
    }
    async fn opened(&mut self) -> io::Result<()> {
        let mut poll = tokio::time::interval(OPEN_POLL);
        while self.0.is_hung_up()? {
            poll.tick().await;
        }
        Ok(())
    }
    fn reopens(&self, error: &io::Error) -> bool {
        is_hangup(error)
    }
}

/// What a [`SimNode`] is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimNodeState {
    /// Waiting for the host to open the line (on a pty: before the first open, and after each
    /// close), as a Pico waits for DTR.
    Waiting,
    /// Talking on the open line: from its Hello on.
    Talking,
    /// Stopped: by [`SimNode::stop`], or because its link failed for good.
    Ended,
}

/// Sets the state to [`SimNodeState::Ended`] when the node's thread ends, however it ends.
struct EndGuard(watch::Sender<SimNodeState>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.send_replace(SimNodeState::Ended);
    }
}

/// A simulated node running on its own thread. Dropping it stops the node (see
/// [`stop`](Self::stop)).
#[derive(Debug)]
pub struct SimNode {
    chips: Arc<Chips>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Option<io::Error>>>,
    state: watch::Receiver<SimNodeState>,
}

impl SimNode {
    /// Starts the node on its own thread, talking over `link`: a Hello, then a round of readings
    /// every period, and replies to the host's commands (see [`Node::run`]). When the link fails
    /// (the host closed it), the node stops: its state becomes [`SimNodeState::Ended`], and
    /// [`stop`](Self::stop) returns the link's error.
    ///
    /// `link` is polled on the node's thread: a stream that does not depend on a reactor (a
    /// `tokio::io::duplex` end) works anywhere; one registered with another runtime's reactor
    /// works only while that runtime runs. [`spawn_on_pty`](Self::spawn_on_pty) makes its pty
    /// on the node's own runtime.
    pub fn spawn<L>(options: SimNodeOptions, link: L) -> io::Result<SimNode>
    where
        L: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (node, ()) = SimNode::start(options, move || Ok((Stream(link), ())))?;
        Ok(node)
    }

    /// Starts the node on a new pseudo-terminal, and returns the handle and the slave's path for
    /// the host side to open as its serial port.
    ///
    /// The node behaves like the Pico on USB: it says nothing until the host opens the port, runs
    /// (Hello first) while it is open, and when the host closes it, waits for the next open and
    /// starts again with a Hello (its readings' `seq` goes on). Frames the host left unread when
    /// it closed the port may come before that Hello. Dropping the handle closes the master: the
    /// host's port hangs up, as when a Pico is unplugged; a new `spawn_on_pty` is one plugged in
    /// again (at a new path).
    ///
    /// The node notices a close when its read fails; a close and a new open quicker than that
    /// (well under a millisecond) may go unnoticed, as a quick DTR toggle may on the Pico. A test
    /// that closes and reopens waits for [`SimNodeState::Waiting`] in between.
    pub fn spawn_on_pty(options: SimNodeOptions) -> io::Result<(SimNode, PathBuf)> {
        SimNode::start(options, || {
            let (master, slave_path) = PtyPair::open()?.into_parts();
            // Opened and closed once, the slave reads as hung up on the master until the host
            // opens it: then the node starts, as a Pico does when DTR rises.
            drop(SerialPort::open(&slave_path)?);
            Ok((PtyMaster(master), slave_path))
        })
    }

    /// Starts the node's thread: there, `open` makes the line (and what the caller gets with the
    /// handle) within the node's runtime, whose reactor then drives it. The runtime is made and
    /// dropped on that thread only (dropping one within async code panics).
    fn start<L, R, F>(options: SimNodeOptions, open: F) -> io::Result<(SimNode, R)>
    where
        L: Line,
        R: Send + 'static,
        F: FnOnce() -> io::Result<(L, R)> + Send + 'static,
    {
        let chips = Arc::new(Chips {
            hts221: Mutex::new(Hts221Sim::with_environment(
                &WALL_CLOCK,
                options.environment,
            )),
            lps25h: Mutex::new(Lps25hSim::with_environment(
                &WALL_CLOCK,
                options.environment,
            )),
            matrix: options.led_matrix.then(|| Mutex::new(Attiny88Sim::new())),
            failing: Default::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let (state_tx, state) = watch::channel(SimNodeState::Waiting);
        let (opened_tx, opened) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("sim-node {}", options.id))
            .spawn({
                let chips = Arc::clone(&chips);
                move || {
                    let state = EndGuard(state_tx);
                    let runtime = match runtime() {
                        Ok(runtime) => runtime,
                        Err(error) => return Some(error),
                    };
                    let line = {
                        let _reactor = runtime.enter();
                        match open() {
                            Ok((line, output)) => {
                                // The caller waits for this.
                                let _ = opened_tx.send(Ok(output));
                                line
                            }
                            Err(error) => {
                                let _ = opened_tx.send(Err(error));
                                return None;
                            }
                        }
                    };
                    runtime.block_on(async {
                        tokio::select! {
                            // A stop, or the handle dropped.
                            _ = stopped => None,
                            error = serve(&options, &chips, line, &state.0) => Some(error),
                        }
                    })
                }
            })?;
        let node = SimNode {
            chips,
            stop: Some(stop),
            thread: Some(thread),
            state,
        };
        // The thread answers before anything else, or ends (dropping the sender) when it could
        // not even make its runtime: `stop` then returns that error.
        match opened.recv() {
            Ok(Ok(output)) => Ok((node, output)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(node.stop().unwrap_or_else(|| {
                io::Error::other("the simulated node's thread ended before it started")
            })),
        }
    }

    /// The 192 bytes the LED matrix's ATtiny88 holds now (as
    /// [`sense_ledmatrix::encode`] lays them out, gamma applied); `None` without a matrix.
    pub fn matrix_frame(&self) -> Option<[u8; attiny88::FRAME_BYTES]> {
        self.chips
            .matrix
            .as_ref()
            .map(|matrix| lock(matrix).frame_bytes())
    }

    /// Makes `sensor` stop answering on the bus (`failing`: every transaction is NACKed, as a
    /// chip that came loose) or answer again. The node reports it at its next use of the chip: a
    /// Status frame (`NoAcknowledge`) with the round's readings, or with the reply to an LED
    /// command.
    pub fn fail_sensor(&self, sensor: SimSensor, failing: bool) {
        self.chips.failing[sensor.index()].store(failing, Ordering::Relaxed);
    }

    /// Moves both sensors to another room, from their next conversion on.
    pub fn set_environment(&self, environment: Environment) {
        lock(&self.chips.hts221).set_environment(environment);
        lock(&self.chips.lps25h).set_environment(environment);
    }

    /// What the node is doing now.
    pub fn state(&self) -> SimNodeState {
        *self.state.borrow()
    }

    /// Waits until the node is in `state` (at once if it is), or has ended; returns the state
    /// then. With `Ended`: until the node stopped by itself (its link failed for good; with
    /// [`spawn`](Self::spawn), the host closed the stream), and [`stop`](Self::stop) says why.
    pub async fn wait_for_state(&self, state: SimNodeState) -> SimNodeState {
        let mut watch = self.state.clone();
        let reached = watch
            .wait_for(|now| *now == state || *now == SimNodeState::Ended)
            .await
            .map(|now| *now);
        // The sender goes only after it said `Ended`.
        reached.unwrap_or(SimNodeState::Ended)
    }

    /// Stops the node (dropping its link: a pty's host side sees a hangup) and waits for its
    /// thread. Returns the link's error when the node had already stopped by itself, `None` when
    /// this stopped it. A panic on the node's thread is resumed here.
    pub fn stop(mut self) -> Option<io::Error> {
        match self.shut_down() {
            Ok(error) => error,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn shut_down(&mut self) -> std::thread::Result<Option<io::Error>> {
        if let Some(stop) = self.stop.take() {
            // Fails only when the node has ended already.
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join(),
            None => Ok(None),
        }
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        // A panic of the node's thread is not raised again in a drop.
        let _ = self.shut_down();
    }
}

/// A current-thread runtime with I/O (the pty) and time (the node's delays).
fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

/// The node on its chips, on `line` each time it is open, until it fails for good.
async fn serve<L: Line>(
    options: &SimNodeOptions,
    chips: &Chips,
    mut line: L,
    state: &watch::Sender<SimNodeState>,
) -> io::Error {
    let mut hts221 = ChipRef(&chips.hts221);
    let mut lps25h = ChipRef(&chips.lps25h);
    let mut matrix = chips.matrix.as_ref().map(ChipRef);
    let bus: SimBus<'_, 4> = SimBus::new();
    // A fresh bus, distinct addresses: attaching cannot fail.
    let _ = bus.attach(hts221::ADDRESS, &mut hts221);
    let _ = bus.attach(lps25h::ADDRESS, &mut lps25h);
    if let Some(matrix) = matrix.as_mut() {
        let _ = bus.attach(attiny88::ADDRESS, matrix);
    }
    let i2c = NodeBus { bus: &bus, chips };
    let config = NodeConfig {
        id: options.id,
        firmware_version: options.firmware_version,
        period_ms: u32::try_from(options.period.as_millis())
            .unwrap_or(u32::MAX)
            .max(1),
    };
    let mut node = Node::new(
        config,
        i2c,
        i2c,
        options.led_matrix.then_some(i2c),
        TokioDelay,
    );
    loop {
        state.send_replace(SimNodeState::Waiting);
        if let Err(error) = line.opened().await {
            return error;
        }
        state.send_replace(SimNodeState::Talking);
        let error = node.run(&mut IoLink(line.io())).await;
        tracing::debug!(node = options.id, %error, "simulated node: link down");
        if !line.reopens(&error) {
            return error;
        }
    }
}
