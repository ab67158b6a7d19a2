//! A session fed the bytes a node sends, whole, damaged, cut and reset, as a port delivers them.

use sense_bus::model::Measurement;
use sense_hal::value::Unit;
use sense_node_proto::{
    Capabilities, Command, CommandKind, Decoder, Encoder, FrameError, Hello, HostMessage,
    MAX_FRAME_LEN, NodeMessage, Quantity, Reading, Readings, Reply, ReplyError, Sensor,
    SensorError, Status,
};
use sense_source_node::{Event, Session};
use serde_json::{Map, json};

const PORT: &str = "/dev/ttyACM0";

fn frame(message: &NodeMessage) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = Encoder::new().encode(message, &mut out).unwrap();
    out[..n].to_vec()
}

fn hello(name: &str, capabilities: Capabilities) -> NodeMessage {
    NodeMessage::Hello(Hello::new(name, "0.1.0", capabilities).unwrap())
}

fn all() -> Capabilities {
    Capabilities::TEMPERATURE
        | Capabilities::HUMIDITY
        | Capabilities::PRESSURE
        | Capabilities::LED_MATRIX
}

fn readings(seq: u32, t: f32) -> NodeMessage {
    let mut r = Readings::new(seq);
    r.push(Reading::new(Quantity::Temperature, t)).unwrap();
    r.push(Reading::new(Quantity::Humidity, 48.04)).unwrap();
    r.push(Reading::new(Quantity::Pressure, 1013.26)).unwrap();
    NodeMessage::Readings(r)
}

/// A session on an open port that has heard `name`'s hello.
fn connected(name: &str) -> Session {
    let mut session = Session::new(PORT, 100.0);
    let identify = session.opened();
    assert_eq!(
        decode_host(&identify),
        vec![HostMessage::Command(Command {
            id: 1,
            kind: CommandKind::Identify
        })],
        "opening the port asks the node who it is"
    );
    let events = session.feed(&frame(&hello(name, all())), 101.0);
    assert!(
        matches!(&events[..], [Event::Hello(info)] if info.name == name),
        "{events:?}"
    );
    session
}

fn decode_host(bytes: &[u8]) -> Vec<HostMessage> {
    Decoder::<HostMessage>::new()
        .feed(bytes)
        .map(Result::unwrap)
        .collect()
}

fn rounds(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Round(round) => Some(round.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn hello_names_the_source_and_connects_the_link() {
    let session = connected("Kitchen Pico");
    let node = session.node().unwrap();
    assert_eq!(node.id.as_str(), "node-kitchen-pico");
    assert_eq!(node.measures(), ["temperature", "humidity", "pressure"]);
    let health = session.health();
    assert!(health.connected);
    assert_eq!(health.since, 101.0);
    assert_eq!(health.port, PORT);
    assert_eq!(health.firmware.as_deref(), Some("0.1.0"));
    assert_eq!(health.protocol.as_deref(), Some("1.0"));
    assert!(health.led_matrix);
    assert_eq!(
        (health.frames, health.bad_frames, health.last_frame),
        (1, 0, Some(101.0))
    );
}

#[test]
fn a_round_becomes_the_sense_hat_sources_measurements() {
    let mut session = connected("pico");
    let events = session.feed(&frame(&readings(0, 21.449)), 102.0);
    let [Event::Round(round)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        round.measurements,
        vec![
            Measurement::new("temperature".to_owned(), 21.4, Some(Unit::CELSIUS)),
            Measurement::new("humidity".to_owned(), 48.0, Some(Unit::PERCENT)),
            Measurement::new("pressure".to_owned(), 1013.3, Some(Unit::MILLIBAR)),
        ]
    );
    assert!(round.failed.is_empty());
}

#[test]
fn failed_sensors_come_with_the_round_in_words_and_once() {
    let mut session = connected("pico");
    let mut bytes = frame(&NodeMessage::Status(Status {
        sensor: Sensor::Lps25h,
        error: SensorError::NoAcknowledge,
    }));
    let mut partial = Readings::new(0);
    partial
        .push(Reading::new(Quantity::Temperature, 20.0))
        .unwrap();
    bytes.extend(frame(&NodeMessage::Readings(partial)));
    bytes.extend(frame(&readings(1, 20.0)));
    let events = session.feed(&bytes, 102.0);
    let [Event::Round(first), Event::Round(second)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        first.failed,
        ["LPS25H (pressure): does not answer on I2C (not connected, or not powered?)"]
    );
    assert_eq!(first.measurements.len(), 1);
    assert!(
        second.failed.is_empty(),
        "a failure is said with its own round only"
    );
}

#[test]
fn damage_costs_the_damaged_frame_only() {
    let mut session = connected("pico");
    let mut flipped = frame(&readings(0, 20.0));
    flipped[6] ^= 0x10;
    let whole = frame(&readings(1, 20.0));
    let mut cut = frame(&readings(2, 20.0));
    cut.truncate(cut.len() / 2);
    let mut bytes = flipped;
    bytes.extend(&whole);
    bytes.extend(cut);
    bytes.extend(frame(&readings(3, 20.0)));
    // Delivered a byte at a time, as a slow port might.
    let mut events = Vec::new();
    for b in bytes {
        events.extend(session.feed(&[b], 103.0));
    }
    assert_eq!(rounds(&events), [1, 3]);
    let skipped: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Skipped(error) => Some(*error),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().all(FrameError::is_corruption));
    assert_eq!(session.health().bad_frames, 2);
    assert_eq!(session.health().frames, 3);
}

#[test]
fn a_node_reset_mid_frame_is_heard_again_and_counted_as_a_restart() {
    let mut session = connected("pico");
    let mut bytes = frame(&readings(7, 20.0));
    let mut cut = frame(&readings(8, 20.0));
    cut.truncate(5);
    bytes.extend(cut);
    // The node restarts: its Hello's leading delimiter ends the cut frame.
    bytes.extend(frame(&hello("pico", all())));
    bytes.extend(frame(&readings(0, 20.0)));
    let events = session.feed(&bytes, 104.0);
    assert_eq!(rounds(&events), [7, 0]);
    assert_eq!(session.health().restarts, 1);
    assert_eq!(session.health().bad_frames, 1);
    assert!(session.health().connected);
}

#[test]
fn nothing_is_used_before_a_hello_or_from_a_node_of_another_major_version() {
    let mut session = Session::new(PORT, 100.0);
    let _ = session.opened();
    assert!(session.feed(&frame(&readings(0, 20.0)), 101.0).is_empty());
    assert_eq!(session.health().bad_frames, 1);
    assert!(!session.health().connected);

    let mut old = Hello::new("pico", "9.0", all()).unwrap();
    old.protocol_version.major = 2;
    let events = session.feed(&frame(&NodeMessage::Hello(old)), 102.0);
    let [Event::Refused(why)] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(
        why.contains("speaks protocol 2.0") && why.contains("update the runtime"),
        "{why}"
    );
    assert!(!session.health().connected);
    let events = session.feed(&frame(&hello("++", all())), 103.0);
    assert!(matches!(&events[..], [Event::Refused(why)] if why.contains("gives no source id")));
}

#[test]
fn closing_the_port_disconnects_and_reopening_asks_again() {
    let mut session = connected("pico");
    session.closed(200.0);
    assert!(!session.health().connected);
    assert_eq!(session.health().since, 200.0);
    assert!(session.feed(&frame(&readings(3, 20.0)), 201.0).is_empty());
    assert_eq!(
        session.node().unwrap().id.as_str(),
        "node-pico",
        "the source keeps its node"
    );
    let identify = session.opened();
    assert!(matches!(
        &decode_host(&identify)[..],
        [HostMessage::Command(Command {
            kind: CommandKind::Identify,
            ..
        })]
    ));
    let _ = session.feed(&frame(&hello("pico", all())), 202.0);
    assert!(session.health().connected);
    assert_eq!(session.health().since, 202.0);
}

#[test]
fn commands_go_out_numbered_and_replies_come_back_by_number() {
    let mut session = connected("pico");
    let params = json!({"text": "Hi"}).as_object().cloned().unwrap();
    let (id, bytes) = session.command("show_text", &params).unwrap();
    assert_eq!(
        decode_host(&bytes),
        [HostMessage::Command(Command {
            id,
            kind: CommandKind::text("Hi").unwrap()
        })]
    );
    let (next, _) = session.command("clear", &Map::new()).unwrap();
    assert_ne!(next, id);
    let events = session.feed(
        &frame(&NodeMessage::Reply(Reply {
            id,
            result: Err(ReplyError::Hardware),
        })),
        105.0,
    );
    assert_eq!(
        events,
        [Event::Reply {
            id,
            result: Err(ReplyError::Hardware)
        }]
    );
}

#[test]
fn commands_are_refused_without_a_matrix_or_a_connection() {
    let mut session = Session::new(PORT, 100.0);
    let err = session.command("clear", &Map::new()).unwrap_err().0;
    assert_eq!(err, "the node on /dev/ttyACM0 is not connected");
    let _ = session.opened();
    let _ = session.feed(
        &frame(&hello(
            "bare",
            Capabilities::TEMPERATURE | Capabilities::HUMIDITY,
        )),
        101.0,
    );
    let err = session.command("clear", &Map::new()).unwrap_err().0;
    assert_eq!(err, "the node `bare` has no LED matrix");
    assert_eq!(
        session.node().unwrap().measures(),
        ["temperature", "humidity"]
    );
}
