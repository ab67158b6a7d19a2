//! The simulated node as the Linux side will see it: on a pty whose slave is opened as a serial
//! port, frames decoded with sense-node-proto.
//!
//! Real time: nothing sleeps, every wait is for a frame (or an error), with a generous timeout as
//! the bound on failure. Short periods keep the tests quick.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::path::Path;
use std::time::Duration;

use sense_display::font;
use sense_ledmatrix::{Frame, encode, gamma};
use sense_linux::{SerialPort, is_hangup};
use sense_node::TEXT_COLOUR;
use sense_node_proto::{
    Capabilities, Command, CommandKind, Decoder, Encoder, Hello, HostMessage, MAX_FRAME_LEN,
    NodeMessage, Quantity, Readings, Reply, ReplyError, SensorError, Status,
};
use sense_runtime::node::sim::{SimNode, SimNodeOptions, SimNodeState, SimSensor};
use sense_sim::environment::{Conditions, Environment};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

/// How long a test waits for a frame before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// Not the default room, so the readings are the chips' and not a constant.
const ROOM: Environment = Environment::with_mean(Conditions {
    temperature_c: 27.5,
    humidity_percent: 61.0,
    pressure_hpa: 987.0,
});

/// A chip's resolution and then some: the room changes by far less between a conversion and the
/// test's look at the clock.
const TOLERANCE: f32 = 0.05;

fn options(id: &'static str) -> SimNodeOptions {
    SimNodeOptions {
        id,
        firmware_version: "9.8.7-test",
        period: Duration::from_millis(50),
        led_matrix: true,
        environment: ROOM,
    }
}

/// `future`'s output, or a failure after [`PATIENCE`]: a bound on loops that wait for a frame
/// among others.
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("no {what} in time"))
}

fn unix_ms() -> u64 {
    u64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis()).unwrap()
}

/// The host's end: the slave opened as a serial port, and the frames decoded from it.
struct Host {
    port: SerialPort,
    decoder: Decoder<NodeMessage>,
    frames: VecDeque<NodeMessage>,
}

impl Host {
    fn open(path: &Path) -> Host {
        Host {
            port: SerialPort::open(path).expect("the slave opens"),
            decoder: Decoder::new(),
            frames: VecDeque::new(),
        }
    }

    /// The next frame; every byte on the line decodes.
    async fn next_frame(&mut self) -> NodeMessage {
        let mut buf = [0u8; 256];
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return frame;
            }
            let n = timeout(PATIENCE, self.port.read(&mut buf))
                .await
                .expect("a frame in time")
                .expect("the line is up");
            for decoded in self.decoder.feed(&buf[..n]) {
                self.frames
                    .push_back(decoded.expect("the node sends only valid frames"));
            }
        }
    }

    /// The next read's error (the line going down), skipping any frames still on the way.
    async fn next_error(&mut self) -> io::Error {
        let mut buf = [0u8; 256];
        within("error", async {
            loop {
                if let Err(error) = self.port.read(&mut buf).await {
                    return error;
                }
            }
        })
        .await
    }

    async fn hello(&mut self) -> Hello {
        match self.next_frame().await {
            NodeMessage::Hello(hello) => hello,
            other => panic!("expected a Hello, got {other:?}"),
        }
    }

    /// The next Readings, with the Status frames sent before it in its round.
    async fn next_round(&mut self) -> (Vec<Status>, Readings) {
        let mut statuses = Vec::new();
        loop {
            match self.next_frame().await {
                NodeMessage::Status(status) => statuses.push(status),
                NodeMessage::Readings(readings) => return (statuses, readings),
                other => panic!("expected a round of readings, got {other:?}"),
            }
        }
    }

    /// The next Reply, with the Status frames since the call; rounds of readings are skipped.
    async fn next_reply(&mut self) -> (Vec<Status>, Reply) {
        let mut statuses = Vec::new();
        within("reply", async {
            loop {
                match self.next_frame().await {
                    NodeMessage::Reply(reply) => return (statuses, reply),
                    NodeMessage::Status(status) => statuses.push(status),
                    NodeMessage::Readings(_) => {}
                    other => panic!("expected a reply, got {other:?}"),
                }
            }
        })
        .await
    }

    async fn command(&mut self, id: u32, kind: CommandKind) {
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = Encoder::new()
            .encode(&HostMessage::Command(Command { id, kind }), &mut frame)
            .unwrap();
        timeout(PATIENCE, self.port.write_all(&frame[..n]))
            .await
            .unwrap()
            .unwrap();
    }
}

fn value(readings: &Readings, quantity: Quantity) -> Option<f32> {
    readings
        .readings
        .iter()
        .find(|r| r.quantity == quantity)
        .map(|r| r.value)
}

/// The readings are the room's now.
fn assert_room(readings: &Readings) {
    let room = ROOM.at(unix_ms());
    let expected = [
        (Quantity::Temperature, room.temperature_c),
        (Quantity::Humidity, room.humidity_percent),
        (Quantity::Pressure, room.pressure_hpa),
    ];
    assert_eq!(readings.readings.len(), 3, "{readings:?}");
    for (quantity, want) in expected {
        let got = value(readings, quantity).unwrap_or_else(|| panic!("no {quantity:?}"));
        assert!(
            (got - want).abs() <= TOLERANCE,
            "{quantity:?}: {got} vs {want}"
        );
    }
}

/// `text` as the node shows a still text, as the ATtiny88 stores it.
fn still_text(text: &str) -> [u8; 192] {
    let mut frame = Frame::BLACK;
    let x = (8 - i32::try_from(font::text_width(text)).unwrap()) / 2;
    font::draw(&mut frame, text, x, TEXT_COLOUR);
    encode(&frame, &gamma::DEFAULT)
}

const BLACK: [u8; 192] = [0; 192];

#[tokio::test]
async fn a_hello_then_readings_of_the_room() {
    let (node, path) = SimNode::spawn_on_pty(options("sim-test")).unwrap();
    // Nothing until the host opens the port.
    assert_eq!(node.state(), SimNodeState::Waiting);
    let mut host = Host::open(&path);
    let hello = host.hello().await;
    assert_eq!(node.state(), SimNodeState::Talking);
    assert_eq!(hello.node_id, "sim-test");
    assert_eq!(hello.firmware_version, "9.8.7-test");
    assert!(hello.is_compatible());
    assert_eq!(
        hello.capabilities,
        Capabilities::TEMPERATURE
            | Capabilities::HUMIDITY
            | Capabilities::PRESSURE
            | Capabilities::LED_MATRIX
    );
    for seq in 0..3 {
        let (statuses, readings) = host.next_round().await;
        assert_eq!(statuses, []);
        assert_eq!(readings.seq, seq);
        assert_room(&readings);
    }

    // The room changes: the next rounds measure the new one.
    let cold = Environment::with_mean(Conditions {
        temperature_c: 4.0,
        humidity_percent: 80.0,
        pressure_hpa: 1030.0,
    });
    node.set_environment(cold);
    let readings = within("readings of the cold room", async {
        loop {
            let (_, readings) = host.next_round().await;
            if value(&readings, Quantity::Pressure).is_some_and(|p| p > 1010.0) {
                return readings;
            }
        }
    })
    .await;
    let room = cold.at(unix_ms());
    let t = value(&readings, Quantity::Temperature).unwrap();
    assert!((t - room.temperature_c).abs() <= TOLERANCE, "{t}");
    assert!(node.stop().is_none(), "stopped here, not by itself");
}

#[tokio::test]
async fn a_node_without_a_matrix_says_so() {
    let options = SimNodeOptions {
        led_matrix: false,
        ..options("no-matrix")
    };
    let (node, path) = SimNode::spawn_on_pty(options).unwrap();
    let mut host = Host::open(&path);
    let hello = host.hello().await;
    assert!(!hello.capabilities.contains(Capabilities::LED_MATRIX));
    assert!(node.matrix_frame().is_none());
    host.command(1, CommandKind::Clear).await;
    assert_eq!(
        host.next_reply().await,
        (
            vec![],
            Reply {
                id: 1,
                result: Err(ReplyError::Unsupported)
            }
        )
    );
}

#[tokio::test]
async fn commands_are_replied_to_and_change_the_matrix() {
    let (node, path) = SimNode::spawn_on_pty(options("sim-matrix")).unwrap();
    let mut host = Host::open(&path);
    host.hello().await;
    assert_eq!(node.matrix_frame(), Some(BLACK));

    host.command(7, CommandKind::text("Hi").unwrap()).await;
    let (statuses, reply) = host.next_reply().await;
    assert_eq!(statuses, []);
    assert_eq!(
        reply,
        Reply {
            id: 7,
            result: Ok(())
        }
    );
    // The node writes the matrix before it replies.
    assert_eq!(node.matrix_frame(), Some(still_text("Hi")));

    host.command(8, CommandKind::Clear).await;
    assert_eq!(
        host.next_reply().await.1,
        Reply {
            id: 8,
            result: Ok(())
        }
    );
    assert_eq!(node.matrix_frame(), Some(BLACK));
}

#[tokio::test]
async fn a_failing_sensor_gives_a_status_and_its_readings_are_left_out_until_it_answers_again() {
    let (node, path) = SimNode::spawn_on_pty(options("sim-faults")).unwrap();
    let mut host = Host::open(&path);
    host.hello().await;
    host.next_round().await;

    node.fail_sensor(SimSensor::Hts221, true);
    let (statuses, readings) = within("a Status", async {
        loop {
            let (statuses, readings) = host.next_round().await;
            if !statuses.is_empty() {
                return (statuses, readings);
            }
        }
    })
    .await;
    assert_eq!(
        statuses,
        [Status {
            sensor: SimSensor::Hts221.sensor(),
            error: SensorError::NoAcknowledge
        }]
    );
    assert_eq!(value(&readings, Quantity::Temperature), None);
    assert_eq!(value(&readings, Quantity::Humidity), None);
    assert!(value(&readings, Quantity::Pressure).is_some());
    // Reported every round while it fails.
    let (statuses, _) = host.next_round().await;
    assert_eq!(statuses.len(), 1);

    node.fail_sensor(SimSensor::Hts221, false);
    let readings = within("a round without a Status", async {
        loop {
            let (statuses, readings) = host.next_round().await;
            if statuses.is_empty() {
                return readings;
            }
        }
    })
    .await;
    assert_room(&readings);

    // The matrix: a Status and a Hardware reply to the command.
    node.fail_sensor(SimSensor::LedMatrix, true);
    host.command(3, CommandKind::text("x").unwrap()).await;
    let (statuses, reply) = host.next_reply().await;
    assert_eq!(
        statuses,
        [Status {
            sensor: SimSensor::LedMatrix.sensor(),
            error: SensorError::NoAcknowledge
        }]
    );
    assert_eq!(
        reply,
        Reply {
            id: 3,
            result: Err(ReplyError::Hardware)
        }
    );
}

#[tokio::test]
async fn closing_and_reopening_the_port_starts_the_node_again_with_a_hello() {
    let (node, path) = SimNode::spawn_on_pty(options("sim-reopen")).unwrap();
    let mut host = Host::open(&path);
    host.hello().await;
    let (_, first) = host.next_round().await;
    drop(host);
    // The node sees the port closed, and waits for the next open.
    let state = timeout(PATIENCE, node.wait_for_state(SimNodeState::Waiting)).await;
    assert_eq!(state, Ok(SimNodeState::Waiting));

    let mut host = Host::open(&path);
    // Frames the first host left unread may come first; then the new run's Hello.
    let hello = within("new Hello", async {
        loop {
            if let NodeMessage::Hello(hello) = host.next_frame().await {
                return hello;
            }
        }
    })
    .await;
    assert_eq!(hello.node_id, "sim-reopen");
    assert_eq!(node.state(), SimNodeState::Talking);
    let (_, readings) = host.next_round().await;
    assert!(
        readings.seq > first.seq,
        "the sequence goes on: {readings:?}"
    );
}

#[tokio::test]
async fn stopping_the_node_hangs_the_port_up_like_an_unplugged_device() {
    let (node, path) = SimNode::spawn_on_pty(options("sim-unplug")).unwrap();
    let mut host = Host::open(&path);
    host.hello().await;
    drop(node);
    let error = host.next_error().await;
    assert!(is_hangup(&error), "{error:?}");

    // Plugged in again: a new node at a new path.
    let (_node, path) = SimNode::spawn_on_pty(options("sim-unplug")).unwrap();
    let mut host = Host::open(&path);
    assert_eq!(host.hello().await.node_id, "sim-unplug");
}

#[tokio::test]
async fn over_any_stream_the_node_stops_when_the_host_closes_it() {
    let (mut host_end, node_end) = tokio::io::duplex(1024);
    let node = SimNode::spawn(options("sim-duplex"), node_end).unwrap();
    let mut decoder = Decoder::<NodeMessage>::new();
    let mut buf = [0u8; 256];
    let hello = within("Hello", async {
        loop {
            let n = host_end.read(&mut buf).await.unwrap();
            if let Some(frame) = decoder.feed(&buf[..n]).next() {
                return frame.unwrap();
            }
        }
    })
    .await;
    assert!(matches!(hello, NodeMessage::Hello(h) if h.node_id == "sim-duplex"));

    drop(host_end);
    let state = timeout(PATIENCE, node.wait_for_state(SimNodeState::Ended)).await;
    assert_eq!(state, Ok(SimNodeState::Ended));
    let error = node.stop().expect("the node stopped by itself");
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe
        ),
        "{error:?}"
    );
}

#[test]
fn spawning_on_a_pty_needs_no_runtime_of_the_callers() {
    // As `run --sim` may do before its runtime starts.
    let (node, path) = SimNode::spawn_on_pty(options("sim-sync")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hello = runtime.block_on(async { Host::open(&path).hello().await });
    assert_eq!(hello.node_id, "sim-sync");
    assert!(node.stop().is_none());
}
