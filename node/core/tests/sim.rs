//! The node on the host, against `sense-sim`'s HTS221, LPS25H and ATtiny88 on a simulated I2C bus,
//! through an in-memory link whose other end decodes the frames as the runtime would.
//!
//! Time is simulated: the test polls the node's future itself (no executor, no threads) and,
//! whenever the node waits, moves the simulated clock (the delay's and the chips') to the earliest
//! pending timer. Every run is the same.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embedded_hal_async::delay::DelayNs;
use sense_display::font;
use sense_ledmatrix::{Frame, Rotation, encode, gamma};
use sense_node::{Link, Node, NodeConfig, NodeStats, SCROLL_STEP_MS, TEXT_COLOUR};
use sense_node_proto::{
    Capabilities, Command, CommandKind, Decoder, Encoder, HostMessage, MAX_FRAME_LEN, NodeMessage,
    Quantity, Readings, Reply, ReplyError, Sensor, SensorError, Status,
};
use sense_sim::attiny88::Attiny88Sim;
use sense_sim::clock::ManualClock;
use sense_sim::environment::{Conditions, Environment};
use sense_sim::hts221::Hts221Sim;
use sense_sim::i2c::{Fault, SimBus};
use sense_sim::lps25h::Lps25hSim;

/// 2023-11-14 22:13:20 UTC.
const START_MS: u64 = 1_700_000_000_000;
const PERIOD_MS: u32 = 1_000;
const HTS221: u8 = 0x5F;
const LPS25H: u8 = 0x5C;
const MATRIX: u8 = 0x46;

/// The room the chips measure: not the default, so the readings are the chips', not a constant.
const ROOM: Environment = Environment::with_mean(Conditions {
    temperature_c: 27.5,
    humidity_percent: 61.0,
    pressure_hpa: 987.0,
});

/// Half a count of each chip's resolution, plus room for f32 rounding.
const T_TOLERANCE: f32 = 0.01;
const H_TOLERANCE: f32 = 0.005;
const P_TOLERANCE: f32 = 0.001;

/// Steps without a frame before a test gives up (a node that stopped talking).
const MAX_STEPS: usize = 10_000;

const CONFIG: NodeConfig = NodeConfig {
    id: "pico-test",
    firmware_version: "0.1.0-test",
    period_ms: PERIOD_MS,
};

// Simulated time
// ---------------------------------------------------------------------------------------------

/// The simulated time: a nanosecond count, the chips' clock following it, and the deadlines of
/// the delays now waiting.
#[derive(Debug)]
struct SimTime {
    clock: &'static ManualClock,
    now_ns: Cell<u64>,
    timers: RefCell<Vec<(u64, u64)>>,
    next_id: Cell<u64>,
}

impl SimTime {
    fn new(clock: &'static ManualClock) -> Rc<SimTime> {
        Rc::new(SimTime {
            clock,
            now_ns: Cell::new(0),
            timers: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        })
    }

    fn now_ns(&self) -> u64 {
        self.now_ns.get()
    }

    /// Milliseconds since the node started.
    fn elapsed_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }

    /// Moves to the earliest deadline still ahead, if any delay waits.
    fn advance(&self) {
        let next = self.timers.borrow().iter().map(|&(_, at)| at).min();
        if let Some(at) = next.filter(|&at| at > self.now_ns()) {
            self.now_ns.set(at);
            self.clock.set(START_MS + at / 1_000_000);
        }
    }
}

/// Removes a delay's deadline when its future completes or is dropped.
struct Timer<'t> {
    time: &'t SimTime,
    id: u64,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.time
            .timers
            .borrow_mut()
            .retain(|&(id, _)| id != self.id);
    }
}

/// A delay in simulated time: it waits until the test has moved the clock past its deadline.
#[derive(Clone, Debug)]
struct SimDelay(Rc<SimTime>);

impl DelayNs for SimDelay {
    async fn delay_ns(&mut self, ns: u32) {
        let time = &*self.0;
        let deadline = time.now_ns() + u64::from(ns);
        let id = time.next_id.get();
        time.next_id.set(id + 1);
        time.timers.borrow_mut().push((id, deadline));
        let _timer = Timer { time, id };
        poll_fn(|_| {
            if time.now_ns() >= deadline {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

// The in-memory link
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct Closed;

#[derive(Debug, Default)]
struct Pipe {
    to_node: RefCell<VecDeque<u8>>,
    from_node: RefCell<Vec<u8>>,
    closed: Cell<bool>,
}

/// The node's end of a pair of queues. Bytes arrive in pieces of at most 5 (USB packets, a
/// tty's reads), so frames are cut anywhere.
#[derive(Debug)]
struct TestLink(Rc<Pipe>);

impl Link for TestLink {
    type Error = Closed;

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        if self.0.closed.get() {
            return Err(Closed);
        }
        self.0.from_node.borrow_mut().extend_from_slice(bytes);
        Ok(())
    }

    async fn receive(&mut self, buf: &mut [u8]) -> Result<usize, Closed> {
        poll_fn(|_| {
            if self.0.closed.get() {
                return Poll::Ready(Err(Closed));
            }
            let mut queue = self.0.to_node.borrow_mut();
            if queue.is_empty() {
                return Poll::Pending;
            }
            let n = queue.len().min(buf.len()).min(5);
            for (slot, byte) in buf.iter_mut().zip(queue.drain(..n)) {
                *slot = byte;
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

// The host's end
// ---------------------------------------------------------------------------------------------

/// A frame from the node and the simulated time (ms since the start) it was sent at.
type Timed = (u64, NodeMessage);

struct Host<'a, 'd> {
    node: Pin<&'a mut dyn Future<Output = Closed>>,
    returned: Option<Closed>,
    bus: &'a SimBus<'d, 4>,
    pipe: Rc<Pipe>,
    time: Rc<SimTime>,
    decoder: Decoder<NodeMessage>,
    frames: VecDeque<Timed>,
}

impl Host<'_, '_> {
    /// Polls the node once; if it waits, moves time to its next timer.
    fn step(&mut self) {
        assert!(self.returned.is_none(), "the node has returned");
        let mut cx = Context::from_waker(Waker::noop());
        let poll = self.node.as_mut().poll(&mut cx);
        let bytes = std::mem::take(&mut *self.pipe.from_node.borrow_mut());
        let at = self.time.elapsed_ms();
        for decoded in self.decoder.feed(&bytes) {
            let message = decoded.expect("the node sends only valid frames");
            self.frames.push_back((at, message));
        }
        match poll {
            Poll::Ready(error) => self.returned = Some(error),
            Poll::Pending => self.time.advance(),
        }
    }

    fn next_timed(&mut self) -> Timed {
        for _ in 0..MAX_STEPS {
            if let Some(frame) = self.frames.pop_front() {
                return frame;
            }
            self.step();
        }
        panic!("no frame from the node after {MAX_STEPS} steps");
    }

    fn next_frame(&mut self) -> NodeMessage {
        self.next_timed().1
    }

    /// The next Readings, with any Status frames sent before it in this round.
    fn next_round(&mut self) -> (u64, Vec<Status>, Readings) {
        let mut statuses = Vec::new();
        loop {
            match self.next_timed() {
                (_, NodeMessage::Status(status)) => statuses.push(status),
                (at, NodeMessage::Readings(readings)) => return (at, statuses, readings),
                (_, other) => panic!("expected a round of readings, got {other:?}"),
            }
        }
    }

    /// The next Reply, skipping the rounds of readings sent meanwhile; with the Statuses sent
    /// since the call.
    fn next_reply(&mut self) -> (Vec<Status>, Reply) {
        let mut statuses = Vec::new();
        loop {
            match self.next_frame() {
                NodeMessage::Reply(reply) => return (statuses, reply),
                NodeMessage::Status(status) => statuses.push(status),
                NodeMessage::Readings(_) => {}
                other => panic!("expected a reply, got {other:?}"),
            }
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.pipe.to_node.borrow_mut().extend(bytes);
    }

    fn command(&mut self, id: u32, kind: CommandKind) {
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = Encoder::new()
            .encode(&HostMessage::Command(Command { id, kind }), &mut frame)
            .unwrap();
        self.send_raw(&frame[..n]);
    }

    /// What the ATtiny88 holds.
    fn matrix_bytes(&self) -> [u8; 192] {
        self.bus
            .with_chip::<Attiny88Sim, _>(MATRIX, |chip| chip.frame_bytes())
            .expect("a matrix on the bus")
    }

    fn frames_written(&self) -> u32 {
        self.bus
            .with_chip::<Attiny88Sim, _>(MATRIX, |chip| chip.frames_written())
            .expect("a matrix on the bus")
    }

    /// Closes the link and runs the node until it returns.
    fn close(&mut self) -> Closed {
        self.pipe.closed.set(true);
        for _ in 0..MAX_STEPS {
            if let Some(error) = self.returned.take() {
                return error;
            }
            self.step();
        }
        panic!("the node did not return after the link closed");
    }
}

/// A node on a simulated Sense HAT (with its LED matrix when `matrix`), started with `script`
/// playing the host. Returns the node's counters once the script is done.
fn scenario(matrix: bool, script: impl FnOnce(&mut Host<'_, '_>)) -> NodeStats {
    let clock: &'static ManualClock = Box::leak(Box::new(ManualClock::new(START_MS)));
    let mut hts221 = Hts221Sim::with_environment(clock, ROOM);
    let mut lps25h = Lps25hSim::with_environment(clock, ROOM);
    let mut attiny = Attiny88Sim::new();
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(HTS221, &mut hts221).unwrap();
    bus.attach(LPS25H, &mut lps25h).unwrap();
    if matrix {
        bus.attach(MATRIX, &mut attiny).unwrap();
    }
    let time = SimTime::new(clock);
    let pipe = Rc::new(Pipe::default());
    let mut node = Node::new(
        CONFIG,
        &bus,
        &bus,
        matrix.then_some(&bus),
        SimDelay(time.clone()),
    );
    let mut link = TestLink(pipe.clone());
    {
        let run = pin!(node.run(&mut link));
        let mut host = Host {
            node: run,
            returned: None,
            bus: &bus,
            pipe,
            time,
            decoder: Decoder::new(),
            frames: VecDeque::new(),
        };
        script(&mut host);
    }
    node.stats()
}

fn reading(readings: &Readings, quantity: Quantity) -> Option<f32> {
    readings
        .readings
        .iter()
        .find(|r| r.quantity == quantity)
        .map(|r| r.value)
}

/// The readings are the room the chips were set to, at the time they were taken.
fn assert_room(readings: &Readings, at_ms: u64) {
    let room = ROOM.at(START_MS + at_ms);
    let t = reading(readings, Quantity::Temperature).expect("a temperature");
    let h = reading(readings, Quantity::Humidity).expect("a humidity");
    let p = reading(readings, Quantity::Pressure).expect("a pressure");
    assert!(
        (t - room.temperature_c).abs() <= T_TOLERANCE,
        "{t} vs {room:?}"
    );
    assert!(
        (h - room.humidity_percent).abs() <= H_TOLERANCE,
        "{h} vs {room:?}"
    );
    assert!(
        (p - room.pressure_hpa).abs() <= P_TOLERANCE,
        "{p} vs {room:?}"
    );
    assert_eq!(readings.readings.len(), 3);
}

fn no_status() -> Vec<Status> {
    Vec::new()
}

fn status(sensor: Sensor, error: SensorError) -> Vec<Status> {
    vec![Status { sensor, error }]
}

/// `text` drawn as the node draws it with its first column at `x`, as the ATtiny88 stores it.
fn text_bytes(text: &str, x: i32, rotation: Rotation) -> [u8; 192] {
    let mut frame = Frame::BLACK;
    font::draw(&mut frame, text, x, TEXT_COLOUR);
    encode(&frame.for_rotation(rotation), &gamma::DEFAULT)
}

const BLACK: [u8; 192] = [0; 192];

// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn hello_comes_first_with_the_id_version_and_capabilities() {
    scenario(true, |host| {
        let NodeMessage::Hello(hello) = host.next_frame() else {
            panic!("the first frame is not a Hello")
        };
        assert_eq!(hello.node_id, "pico-test");
        assert_eq!(hello.firmware_version, "0.1.0-test");
        assert!(hello.is_compatible());
        assert_eq!(
            hello.capabilities,
            Capabilities::TEMPERATURE
                | Capabilities::HUMIDITY
                | Capabilities::PRESSURE
                | Capabilities::LED_MATRIX
        );
    });
}

#[test]
fn identify_says_hello_again_then_replies_with_or_without_a_matrix() {
    for matrix in [true, false] {
        scenario(matrix, |host| {
            let NodeMessage::Hello(first) = host.next_frame() else {
                panic!("the first frame is not a Hello")
            };
            host.command(5, CommandKind::Identify);
            // Rounds of readings may come first; then the Hello, then the Reply.
            let again = loop {
                match host.next_frame() {
                    NodeMessage::Hello(hello) => break hello,
                    NodeMessage::Readings(_) => {}
                    other => panic!("expected a Hello, got {other:?}"),
                }
            };
            assert_eq!(again, first);
            assert_eq!(
                host.next_reply(),
                (
                    no_status(),
                    Reply {
                        id: 5,
                        result: Ok(())
                    }
                )
            );
        });
    }
}

#[test]
fn a_node_without_a_matrix_says_so_and_refuses_led_commands() {
    scenario(false, |host| {
        let NodeMessage::Hello(hello) = host.next_frame() else {
            panic!("the first frame is not a Hello")
        };
        assert!(!hello.capabilities.contains(Capabilities::LED_MATRIX));
        assert!(hello.capabilities.contains(Capabilities::PRESSURE));
        host.command(1, CommandKind::text("Hi").unwrap());
        host.command(2, CommandKind::Clear);
        for id in [1, 2] {
            let (statuses, reply) = host.next_reply();
            assert_eq!(statuses, no_status());
            assert_eq!(
                reply,
                Reply {
                    id,
                    result: Err(ReplyError::Unsupported)
                }
            );
        }
        // The readings go on.
        let (_, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_eq!(readings.readings.len(), 3);
    });
}

#[test]
fn readings_carry_the_simulated_room_every_period() {
    let stats = scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        for seq in 0..5u32 {
            let (at, statuses, readings) = host.next_round();
            assert_eq!(statuses, no_status());
            assert_eq!(readings.seq, seq);
            // Right after the Hello, then one period after another.
            let due = u64::from(seq) * u64::from(PERIOD_MS);
            // (The simulated one-shot conversions take no time.)
            assert_eq!(at, due, "round {seq}");
            assert_room(&readings, at);
        }
    });
    assert_eq!(stats.readings, 5);
    assert_eq!(stats.statuses, 0);
}

#[test]
fn readings_follow_the_room_as_it_changes() {
    scenario(false, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        let (_, _, first) = host.next_round();
        // The chips are moved to another room: the next round measures it.
        let cold = Environment::with_mean(Conditions {
            temperature_c: 4.0,
            humidity_percent: 80.0,
            pressure_hpa: 1030.0,
        });
        host.bus
            .with_chip::<Hts221Sim, _>(HTS221, |c| c.set_environment(cold));
        host.bus
            .with_chip::<Lps25hSim, _>(LPS25H, |c| c.set_environment(cold));
        let (at, _, second) = host.next_round();
        let room = cold.at(START_MS + at);
        let t = reading(&second, Quantity::Temperature).unwrap();
        let p = reading(&second, Quantity::Pressure).unwrap();
        assert!(
            (t - room.temperature_c).abs() <= T_TOLERANCE,
            "{t} vs {room:?}"
        );
        assert!(
            (p - room.pressure_hpa).abs() <= P_TOLERANCE,
            "{p} vs {room:?}"
        );
        assert!(reading(&first, Quantity::Temperature).unwrap() > 20.0);
    });
}

#[test]
fn a_nacking_lps25h_gives_a_status_and_the_others_go_on_until_it_recovers() {
    let stats = scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        let (at, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_room(&readings, at);

        host.bus.inject(LPS25H, Fault::Nack);
        for seq in 1..=3 {
            let (at, statuses, readings) = host.next_round();
            assert_eq!(statuses, status(Sensor::Lps25h, SensorError::NoAcknowledge));
            assert_eq!(readings.seq, seq, "not fatal: the rounds go on");
            assert_eq!(reading(&readings, Quantity::Pressure), None);
            let room = ROOM.at(START_MS + at);
            let t = reading(&readings, Quantity::Temperature).unwrap();
            let h = reading(&readings, Quantity::Humidity).unwrap();
            assert!((t - room.temperature_c).abs() <= T_TOLERANCE);
            assert!((h - room.humidity_percent).abs() <= H_TOLERANCE);
        }

        // It answers again: initialised again, its pressure is back, no more Status.
        host.bus.clear(LPS25H);
        let (at, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_eq!(readings.seq, 4);
        assert_room(&readings, at);
    });
    assert_eq!(stats.statuses, 3);
}

#[test]
fn an_hts221_plugged_in_late_is_picked_up() {
    scenario(false, |host| {
        // Absent from the start: never initialised.
        host.bus.inject(HTS221, Fault::Nack);
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        for _ in 0..2 {
            let (_, statuses, readings) = host.next_round();
            assert_eq!(statuses, status(Sensor::Hts221, SensorError::NoAcknowledge));
            assert_eq!(reading(&readings, Quantity::Temperature), None);
            assert_eq!(reading(&readings, Quantity::Humidity), None);
            assert!(reading(&readings, Quantity::Pressure).is_some());
        }
        host.bus.clear(HTS221);
        let (at, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_room(&readings, at);
    });
}

#[test]
fn a_stuck_conversion_is_not_ready_and_both_missing_still_sends_readings() {
    scenario(false, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.next_round();
        host.bus
            .with_chip::<Hts221Sim, _>(HTS221, |c| c.set_stuck_one_shot(true));
        host.bus.inject(LPS25H, Fault::Busy);
        let (at, statuses, readings) = host.next_round();
        // The driver's bounded wait for the stuck conversion.
        assert!(at >= u64::from(PERIOD_MS) + 400, "round 1 sent at {at} ms");
        assert_eq!(
            statuses,
            vec![
                Status {
                    sensor: Sensor::Hts221,
                    error: SensorError::NotReady
                },
                Status {
                    sensor: Sensor::Lps25h,
                    error: SensorError::Bus
                },
            ]
        );
        assert_eq!(readings.seq, 1);
        assert!(readings.readings.is_empty());
        host.bus
            .with_chip::<Hts221Sim, _>(HTS221, |c| c.set_stuck_one_shot(false));
        host.bus.clear(LPS25H);
        let (at, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_room(&readings, at);
        // The slow round did not push the next one back: its period started before its reads.
        let due = 2 * u64::from(PERIOD_MS);
        assert!((due..due + 50).contains(&at), "round 2 sent at {at} ms");
    });
}

#[test]
fn text_rotate_and_clear_change_the_matrix_and_get_replies_with_their_ids() {
    let stats = scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        assert_eq!(host.matrix_bytes(), BLACK);

        // Fits the matrix: shown centred, still.
        host.command(7, CommandKind::text("Hi").unwrap());
        let (statuses, reply) = host.next_reply();
        assert_eq!(statuses, no_status());
        assert_eq!(
            reply,
            Reply {
                id: 7,
                result: Ok(())
            }
        );
        let x = (8 - i32::try_from(font::text_width("Hi")).unwrap()) / 2;
        let upright = text_bytes("Hi", x, Rotation::Deg0);
        assert_ne!(upright, BLACK);
        assert_eq!(host.matrix_bytes(), upright);

        host.command(8, CommandKind::Rotate(Rotation::Deg90));
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 8,
                result: Ok(())
            }
        );
        assert_eq!(host.matrix_bytes(), text_bytes("Hi", x, Rotation::Deg90));
        assert_ne!(host.matrix_bytes(), upright);

        host.command(9, CommandKind::Clear);
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 9,
                result: Ok(())
            }
        );
        assert_eq!(host.matrix_bytes(), BLACK);

        // The rotation stays for what is shown next.
        host.command(10, CommandKind::text("ok").unwrap());
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 10,
                result: Ok(())
            }
        );
        let x = (8 - i32::try_from(font::text_width("ok")).unwrap()) / 2;
        assert_eq!(host.matrix_bytes(), text_bytes("ok", x, Rotation::Deg90));

        // The still text stays: a period later, nothing else was written.
        let written = host.frames_written();
        host.next_round();
        host.next_round();
        assert_eq!(host.frames_written(), written);
    });
    assert_eq!(stats.commands, 4);
}

#[test]
fn long_text_scrolls_across_and_leaves_the_matrix_dark_while_readings_go_on() {
    const TEXT: &str = "Hello, world";
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.next_round();
        host.command(3, CommandKind::text(TEXT).unwrap());
        let started = loop {
            match host.next_timed() {
                (at, NodeMessage::Reply(reply)) => {
                    assert_eq!(
                        reply,
                        Reply {
                            id: 3,
                            result: Ok(())
                        }
                    );
                    break at;
                }
                (_, NodeMessage::Readings(_)) => {}
                (_, other) => panic!("{other:?}"),
            }
        };
        let width = i32::try_from(font::text_width(TEXT)).unwrap();
        assert!(width > 8);

        // Every frame the matrix shows, as the node steps: from the first column at the right
        // edge, one column left per step, to dark.
        let mut seen = vec![host.matrix_bytes()];
        let mut seqs = Vec::new();
        let mut dark_at = None;
        for _ in 0..MAX_STEPS {
            // The time of the poll: `step` moves the clock on after it.
            let at = host.time.elapsed_ms();
            host.step();
            while let Some((_, frame)) = host.frames.pop_front() {
                if let NodeMessage::Readings(r) = frame {
                    seqs.push(r.seq);
                }
            }
            let now = host.matrix_bytes();
            if *seen.last().unwrap() != now {
                seen.push(now);
            }
            if now == BLACK {
                dark_at = Some(at);
                break;
            }
        }
        let expected: Vec<_> = (0..width + 7)
            .map(|step| text_bytes(TEXT, 7 - step, Rotation::Deg0))
            .chain([BLACK])
            .collect();
        let mut expected_changes = expected.clone();
        expected_changes.dedup();
        assert_eq!(seen, expected_changes);
        // `width + 7` steps of SCROLL_STEP_MS after the command.
        let steps = u64::try_from(width + 7).unwrap();
        assert_eq!(
            dark_at.unwrap() - started,
            steps * u64::from(SCROLL_STEP_MS)
        );
        // Readings went on meanwhile, in order.
        assert!(seqs.len() >= 2, "{seqs:?}");
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

        // Then it stays dark: no more writes.
        let written = host.frames_written();
        host.next_round();
        assert_eq!(host.frames_written(), written);
    });
}

#[test]
fn a_new_command_stops_or_replaces_a_scroll() {
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.command(1, CommandKind::text("A long, long line").unwrap());
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 1,
                result: Ok(())
            }
        );
        host.command(2, CommandKind::Clear);
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 2,
                result: Ok(())
            }
        );
        assert_eq!(host.matrix_bytes(), BLACK);
        let written = host.frames_written();
        host.next_round();
        host.next_round();
        assert_eq!(host.frames_written(), written, "the scroll stopped");

        host.command(3, CommandKind::text("Another long line").unwrap());
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 3,
                result: Ok(())
            }
        );
        host.command(4, CommandKind::text("Hi").unwrap());
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 4,
                result: Ok(())
            }
        );
        let x = (8 - i32::try_from(font::text_width("Hi")).unwrap()) / 2;
        let still = text_bytes("Hi", x, Rotation::Deg0);
        assert_eq!(host.matrix_bytes(), still);
        host.next_round();
        host.next_round();
        assert_eq!(
            host.matrix_bytes(),
            still,
            "the old scroll does not come back"
        );
    });
}

#[test]
fn an_unknown_command_kind_is_unsupported() {
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.command(41, CommandKind::Unknown(0x42));
        let (statuses, reply) = host.next_reply();
        assert_eq!(statuses, no_status());
        assert_eq!(
            reply,
            Reply {
                id: 41,
                result: Err(ReplyError::Unsupported)
            }
        );
        // A newer host's command with an argument this version skips, then a known one.
        let mut raw = [0u8; 64];
        let n = raw_command(42, &[0x07, 0xAA, 0xBB, 0xCC], &mut raw);
        host.send_raw(&raw[..n]);
        host.command(43, CommandKind::Clear);
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 42,
                result: Err(ReplyError::Unsupported)
            }
        );
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 43,
                result: Ok(())
            }
        );
    });
}

/// A Command frame built by hand: id `id` (a one-byte varint) and `kind` (code then argument).
fn raw_command(id: u8, kind: &[u8], out: &mut [u8]) -> usize {
    assert!(id < 0x80);
    let mut raw = vec![0xD5, 0x01, 0x81, id];
    raw.extend_from_slice(kind);
    let crc = crc32(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    // COBS, between delimiters.
    let mut wire = vec![0u8];
    for chunk in raw.split(|&b| b == 0) {
        wire.push(u8::try_from(chunk.len() + 1).unwrap());
        wire.extend_from_slice(chunk);
    }
    wire.push(0);
    out[..wire.len()].copy_from_slice(&wire);
    wire.len()
}

/// CRC-32/ISO-HDLC, bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn garbage_from_the_host_is_skipped_without_stopping_the_node() {
    let stats = scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        // Line noise, a lone delimiter, a damaged command, an echo of the node's own frame, then
        // a good command.
        host.send_raw(b"\x13\x37 boot noise \xff\xfe");
        host.send_raw(&[0x00]);
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = Encoder::new()
            .encode(
                &HostMessage::Command(Command {
                    id: 5,
                    kind: CommandKind::Clear,
                }),
                &mut frame,
            )
            .unwrap();
        let mut damaged = frame[..n].to_vec();
        damaged[4] ^= 0x10;
        host.send_raw(&damaged);
        let n_echo = Encoder::new()
            .encode(
                &NodeMessage::Status(Status {
                    sensor: Sensor::Hts221,
                    error: SensorError::Bus,
                }),
                &mut frame,
            )
            .unwrap();
        host.send_raw(&frame[..n_echo]);
        host.send_raw(&[0xAB; 300]); // longer than any frame: overflow, then resync
        host.command(6, CommandKind::text("x").unwrap());

        let (statuses, reply) = host.next_reply();
        assert_eq!(statuses, no_status());
        assert_eq!(
            reply,
            Reply {
                id: 6,
                result: Ok(())
            },
            "the damaged command got no reply"
        );
        let (_, _, first) = host.next_round();
        for seq in first.seq + 1..first.seq + 4 {
            let (at, statuses, readings) = host.next_round();
            assert_eq!(statuses, no_status());
            assert_eq!(readings.seq, seq);
            assert_room(&readings, at);
        }
        host.command(7, CommandKind::Clear);
        assert_eq!(
            host.next_reply().1,
            Reply {
                id: 7,
                result: Ok(())
            }
        );
    });
    assert!(stats.bad_frames >= 3, "{stats:?}");
    assert_eq!(stats.commands, 2);
}

#[test]
fn a_failing_matrix_gives_a_status_and_a_hardware_reply_then_recovers() {
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.bus.inject(MATRIX, Fault::Nack);
        host.command(1, CommandKind::text("Hi").unwrap());
        let (statuses, reply) = host.next_reply();
        assert_eq!(
            statuses,
            status(Sensor::LedMatrix, SensorError::NoAcknowledge)
        );
        assert_eq!(
            reply,
            Reply {
                id: 1,
                result: Err(ReplyError::Hardware)
            }
        );
        // The sensors are unaffected.
        let (at, statuses, readings) = host.next_round();
        assert_eq!(statuses, no_status());
        assert_room(&readings, at);

        host.bus.clear(MATRIX);
        host.command(2, CommandKind::text("Hi").unwrap());
        let (statuses, reply) = host.next_reply();
        assert_eq!(statuses, no_status());
        assert_eq!(
            reply,
            Reply {
                id: 2,
                result: Ok(())
            }
        );
        assert_ne!(host.matrix_bytes(), BLACK);
    });
}

#[test]
fn commands_are_answered_between_readings_without_delaying_them() {
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.next_round();
        let mut rounds = Vec::new();
        for id in 0..20u32 {
            // A command every 300 ms or so of simulated time.
            host.command(id, CommandKind::Rotate(Rotation::Deg180));
            loop {
                match host.next_timed() {
                    (_, NodeMessage::Reply(reply)) => {
                        assert_eq!(reply, Reply { id, result: Ok(()) });
                        break;
                    }
                    (at, NodeMessage::Readings(r)) => rounds.push((at, r.seq)),
                    (_, other) => panic!("{other:?}"),
                }
            }
            let until = host.time.elapsed_ms() + 300;
            while host.time.elapsed_ms() < until {
                host.step();
            }
            while let Some((at, frame)) = host.frames.pop_front() {
                if let NodeMessage::Readings(r) = frame {
                    rounds.push((at, r.seq));
                }
            }
        }
        assert!(rounds.len() >= 5, "{rounds:?}");
        for (at, seq) in rounds {
            let due = u64::from(seq) * u64::from(PERIOD_MS);
            assert!((due..due + 50).contains(&at), "round {seq} at {at} ms");
        }
    });
}

#[test]
fn run_returns_the_error_when_the_link_fails() {
    scenario(true, |host| {
        assert!(matches!(host.next_frame(), NodeMessage::Hello(_)));
        host.next_round();
        assert_eq!(host.close(), Closed);
    });
}

#[test]
fn run_again_after_a_link_failure_says_hello_again() {
    // With a block_on executor and a delay that returns at once: the link is closed after a few
    // frames, by the link itself.
    #[derive(Clone)]
    struct Instant;
    impl DelayNs for Instant {
        async fn delay_ns(&mut self, _ns: u32) {}
    }
    struct Counted {
        frames: Vec<u8>,
        left: usize,
    }
    impl Link for Counted {
        type Error = Closed;
        async fn send(&mut self, bytes: &[u8]) -> Result<(), Closed> {
            if self.left == 0 {
                return Err(Closed);
            }
            self.left -= 1;
            self.frames.extend_from_slice(bytes);
            Ok(())
        }
        async fn receive(&mut self, _buf: &mut [u8]) -> Result<usize, Closed> {
            core::future::pending().await
        }
    }

    let clock: &'static ManualClock = Box::leak(Box::new(ManualClock::new(START_MS)));
    let mut hts221 = Hts221Sim::with_environment(clock, ROOM);
    let mut lps25h = Lps25hSim::with_environment(clock, ROOM);
    let bus: SimBus<'_, 4> = SimBus::new();
    bus.attach(HTS221, &mut hts221).unwrap();
    bus.attach(LPS25H, &mut lps25h).unwrap();
    let mut node = Node::new(CONFIG, &bus, &bus, None::<&SimBus<'_, 4>>, Instant);
    let mut seqs = Vec::new();
    for _ in 0..2 {
        let mut link = Counted {
            frames: Vec::new(),
            left: 4,
        };
        assert_eq!(embassy_futures::block_on(node.run(&mut link)), Closed);
        let mut decoder = Decoder::<NodeMessage>::new();
        let frames: Vec<_> = decoder.feed(&link.frames).map(Result::unwrap).collect();
        assert_eq!(frames.len(), 4);
        assert!(matches!(frames[0], NodeMessage::Hello(_)));
        for frame in &frames[1..] {
            let NodeMessage::Readings(readings) = frame else {
                panic!("{frame:?}")
            };
            seqs.push(readings.seq);
        }
    }
    // The sequence goes on across runs, with a gap for the round whose frame was lost with the
    // link: the host sees a lost frame, not a restart.
    assert_eq!(seqs, [0, 1, 2, 4, 5, 6]);
    assert_eq!(node.stats().readings, 6);
}

#[test]
fn the_run_future_is_small() {
    #[derive(Clone)]
    struct NoDelay;
    impl DelayNs for NoDelay {
        async fn delay_ns(&mut self, _ns: u32) {}
    }
    let bus: SimBus<'_, 4> = SimBus::new();
    let mut node = Node::new(CONFIG, &bus, &bus, Some(&bus), NoDelay);
    let mut link = TestLink(Rc::new(Pipe::default()));
    let size = size_of_val(&node.run(&mut link));
    eprintln!(
        "run future: {size} bytes, node: {} bytes",
        size_of_val(&node)
    );
    assert!(size < 2048, "{size} bytes");
}
