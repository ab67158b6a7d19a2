//! Peers of other protocol versions, both ways: what this version makes of a newer or older
//! node's frames, and of a newer or older host's; and how a newer version reads this one's.

mod common;

use common::*;
use heapless::Vec as HVec;
use sense_node_proto::message::MAX_READINGS;
use sense_node_proto::*;
use serde::ser::SerializeTuple;
use serde::{Serialize, Serializer};

/// Any frame of any version: a kind and a body of raw bytes, for playing a peer this crate does
/// not implement. `HOST`: the host-to-node direction.
#[derive(Clone, Debug, PartialEq)]
struct Raw<const MAJOR: u8, const HOST: bool> {
    kind: u8,
    body: Vec<u8>,
}

impl<const MAJOR: u8, const HOST: bool> Raw<MAJOR, HOST> {
    fn new(kind: u8, body: &impl Serialize) -> Self {
        Raw {
            kind,
            body: postcard::to_stdvec(body).unwrap(),
        }
    }
}

impl<const MAJOR: u8, const HOST: bool> Message for Raw<MAJOR, HOST> {
    const DIRECTION: Direction = if HOST {
        Direction::HostToNode
    } else {
        Direction::NodeToHost
    };
    const MAJOR: u8 = MAJOR;

    fn kind(&self) -> u8 {
        self.kind
    }

    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // postcard writes a tuple's elements back to back, and a u8 as itself.
        let mut t = serializer.serialize_tuple(self.body.len())?;
        for b in &self.body {
            t.serialize_element(b)?;
        }
        t.end()
    }

    fn decode_body(kind: u8, body: &[u8]) -> Result<Option<Self>, postcard::Error> {
        Ok(Some(Raw {
            kind,
            body: body.to_vec(),
        }))
    }
}

type Node1<const MAJOR: u8> = Raw<MAJOR, false>;
type Host1<const MAJOR: u8> = Raw<MAJOR, true>;

fn hello_of(version: ProtocolVersion, capabilities: Capabilities) -> Hello {
    Hello {
        protocol_version: version,
        ..Hello::new("pico-future", "9.9.9", capabilities).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// A newer node (1.1), this host (1.0)

/// What a 1.1 node adds: a battery voltage after its readings, a joystick message (kind 0x05),
/// a CO2 quantity (code 3), a capability bit.
#[derive(Serialize)]
struct Readings11<'a> {
    seq: u32,
    readings: &'a [Reading],
    battery_mv: u16,
}

const JOYSTICK: u8 = 0x05;
const CO2: Quantity = Quantity::Unknown(3);

#[test]
fn newer_minor_node_hello_is_compatible_and_keeps_unknown_capabilities() {
    let caps = Capabilities::TEMPERATURE | Capabilities::from_bits_retain(1 << 20);
    let hello11 = hello_of(ProtocolVersion { major: 1, minor: 1 }, caps);
    // A 1.1 Hello may carry more after its capabilities (a serial number here).
    let bytes = frame(&Node1::<1>::new(kind::HELLO, &(&hello11, 0xdead_beef_u32)));
    let [Ok(NodeMessage::Hello(hello))] = &decode::<NodeMessage>(&bytes)[..] else {
        panic!("no hello");
    };
    assert_eq!(hello, &hello11);
    assert!(hello.is_compatible());
    assert_eq!(hello.capabilities.bits(), (1 << 20) | 1);
}

#[test]
fn newer_minor_node_readings_with_an_appended_field_decode() {
    let readings = [
        Reading::new(Quantity::Temperature, 21.0),
        Reading::new(CO2, 612.0),
    ];
    let body = Readings11 {
        seq: 5,
        readings: &readings,
        battery_mv: 3300,
    };
    let bytes = frame(&Node1::<1>::new(kind::READINGS, &body));
    let [Ok(NodeMessage::Readings(got))] = &decode::<NodeMessage>(&bytes)[..] else {
        panic!("no readings");
    };
    assert_eq!(got.seq, 5);
    assert_eq!(got.readings, readings);
    // The unknown quantity is kept, and has no unit or sensor id here.
    assert_eq!(got.readings[1].quantity, Quantity::Unknown(3));
    assert_eq!(got.readings[1].to_measurement::<&str>(), None);
}

#[test]
fn newer_minor_node_new_message_kind_is_unsupported_and_the_stream_goes_on() {
    let mut bytes = frame(&Node1::<1>::new(JOYSTICK, &(2_u8, 1_u8)));
    bytes.extend(frame(&Node1::<1>::new(
        kind::STATUS,
        &Status {
            sensor: Sensor::Unknown(7),
            error: SensorError::Unknown(42),
        },
    )));
    bytes.extend(frame(&NodeMessage::from(readings())));
    assert_eq!(
        decode::<NodeMessage>(&bytes),
        [
            Err(FrameError::Unsupported { kind: JOYSTICK }),
            Ok(Status {
                sensor: Sensor::Unknown(7),
                error: SensorError::Unknown(42)
            }
            .into()),
            Ok(readings().into()),
        ]
    );
    assert!(!FrameError::Unsupported { kind: JOYSTICK }.is_corruption());
}

// ---------------------------------------------------------------------------------------------
// A newer host (1.1), this node (1.0)

const PING: u8 = 0x82;
const SET_PIXEL: u8 = 4;

#[test]
fn newer_minor_host_command_of_an_unknown_kind_gets_an_unsupported_reply() {
    // Command 9: set pixel (code 4) at (2, 5) to #ff8000.
    let bytes = frame(&Host1::<1>::new(
        kind::COMMAND,
        &(9_u32, SET_PIXEL, 2_u8, 5_u8, [0xff_u8, 0x80, 0x00]),
    ));
    let [Ok(HostMessage::Command(command))] = &decode::<HostMessage>(&bytes)[..] else {
        panic!("no command");
    };
    assert_eq!(command.id, 9);
    assert_eq!(command.kind, CommandKind::Unknown(SET_PIXEL));
    // What a node answers, and the host reads.
    let reply = NodeMessage::from(Reply {
        id: command.id,
        result: Err(ReplyError::Unsupported),
    });
    assert_eq!(decode::<NodeMessage>(&frame(&reply)), [Ok(reply)]);
}

#[test]
fn newer_minor_host_known_command_with_an_appended_field_decodes() {
    // Text with a scroll speed after it.
    let bytes = frame(&Host1::<1>::new(
        kind::COMMAND,
        &(4_u32, CommandKind::TEXT, "hi", 120_u16),
    ));
    assert_eq!(
        decode::<HostMessage>(&bytes),
        [Ok(HostMessage::Command(Command {
            id: 4,
            kind: CommandKind::text("hi").unwrap()
        }))]
    );
}

#[test]
fn newer_minor_host_new_message_kind_is_unsupported_and_the_stream_goes_on() {
    let mut bytes = frame(&Host1::<1>::new(PING, &77_u32));
    let clear = HostMessage::Command(Command {
        id: 1,
        kind: CommandKind::Clear,
    });
    bytes.extend(frame(&clear));
    assert_eq!(
        decode::<HostMessage>(&bytes),
        [Err(FrameError::Unsupported { kind: PING }), Ok(clear)]
    );
}

// ---------------------------------------------------------------------------------------------
// A newer runtime (1.1) reading this node (1.0)

/// The node messages as a 1.1 runtime would read them: `Readings` with an optional battery
/// voltage appended, read when present. Only what the test needs.
#[derive(Debug, PartialEq)]
enum NodeMessage11 {
    Readings {
        seq: u32,
        readings: HVec<Reading, MAX_READINGS>,
        battery_mv: Option<u16>,
    },
    Joystick {
        direction: u8,
        pressed: u8,
    },
}

impl Message for NodeMessage11 {
    const DIRECTION: Direction = Direction::NodeToHost;
    const MAJOR: u8 = 1;

    fn kind(&self) -> u8 {
        match self {
            NodeMessage11::Readings { .. } => kind::READINGS,
            NodeMessage11::Joystick { .. } => JOYSTICK,
        }
    }

    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeMessage11::Readings {
                seq,
                readings,
                battery_mv: Some(mv),
            } => (seq, readings, mv).serialize(serializer),
            NodeMessage11::Readings { seq, readings, .. } => (seq, readings).serialize(serializer),
            NodeMessage11::Joystick { direction, pressed } => {
                (direction, pressed).serialize(serializer)
            }
        }
    }

    fn decode_body(kind: u8, body: &[u8]) -> Result<Option<Self>, postcard::Error> {
        Ok(Some(match kind {
            kind::READINGS => {
                // The 1.0 fields, then the 1.1 field if the sender is 1.1.
                let ((seq, readings), rest) = postcard::take_from_bytes(body)?;
                let battery_mv = if rest.is_empty() {
                    None
                } else {
                    Some(postcard::from_bytes(rest)?)
                };
                NodeMessage11::Readings {
                    seq,
                    readings,
                    battery_mv,
                }
            }
            JOYSTICK => {
                let (direction, pressed) = postcard::from_bytes(body)?;
                NodeMessage11::Joystick { direction, pressed }
            }
            _ => return Ok(None),
        }))
    }
}

#[test]
fn newer_runtime_reads_this_node_and_a_newer_one() {
    let ours = readings();
    let newer = NodeMessage11::Readings {
        seq: 43,
        readings: ours.readings.clone(),
        battery_mv: Some(3300),
    };
    let mut bytes = frame(&NodeMessage::from(ours.clone()));
    bytes.extend(frame(&newer));
    bytes.extend(frame(&NodeMessage::from(hello())));
    assert_eq!(
        decode::<NodeMessage11>(&bytes),
        [
            Ok(NodeMessage11::Readings {
                seq: 42,
                readings: ours.readings,
                battery_mv: None
            }),
            Ok(newer),
            // This sketch of 1.1 has no Hello: a kind it does not know.
            Err(FrameError::Unsupported { kind: kind::HELLO }),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Another major version, both ways

#[test]
fn newer_major_node_is_told_apart_by_its_hello_and_its_other_frames_refused() {
    let hello2 = hello_of(
        ProtocolVersion { major: 2, minor: 0 },
        Capabilities::PRESSURE,
    );
    let mut bytes = frame(&Node1::<2>::new(kind::HELLO, &(&hello2, [1_u8; 8])));
    // Version 2 changed what Readings hold: a 1.x host must not read them as its own.
    bytes.extend(frame(&Node1::<2>::new(kind::READINGS, &(1_u64, [7_u8; 9]))));
    bytes.extend(frame(&Node1::<2>::new(kind::STATUS, &(0_u8, 0_u8))));
    let results = decode::<NodeMessage>(&bytes);
    let Ok(NodeMessage::Hello(hello)) = &results[0] else {
        panic!("{results:?}");
    };
    assert_eq!(hello, &hello2);
    assert!(!hello.is_compatible());
    assert!(!ProtocolVersion::CURRENT.is_compatible_with(hello.protocol_version));
    assert_eq!(
        results[1..],
        [
            Err(FrameError::IncompatibleVersion { major: 2 }),
            Err(FrameError::IncompatibleVersion { major: 2 })
        ]
    );
}

#[test]
fn older_major_node_is_told_apart_by_its_hello_and_its_other_frames_refused() {
    let hello0 = hello_of(
        ProtocolVersion { major: 0, minor: 9 },
        Capabilities::TEMPERATURE,
    );
    let mut bytes = frame(&Node1::<0>::new(kind::HELLO, &hello0));
    bytes.extend(frame(&Node1::<0>::new(kind::READINGS, &(3_u8, 22.5_f32))));
    let results = decode::<NodeMessage>(&bytes);
    assert_eq!(
        results,
        [
            Ok(hello0.into()),
            Err(FrameError::IncompatibleVersion { major: 0 })
        ]
    );
}

#[test]
fn newer_major_host_commands_are_refused_by_this_node() {
    let bytes = frame(&Host1::<2>::new(
        kind::COMMAND,
        &(1_u32, CommandKind::CLEAR),
    ));
    assert_eq!(
        decode::<HostMessage>(&bytes),
        [Err(FrameError::IncompatibleVersion { major: 2 })]
    );
}

#[test]
fn newer_major_runtime_reads_this_nodes_hello_only() {
    // A 2.x runtime reads this node's Hello with its own (frozen) layout, and refuses the rest.
    let mut bytes = frame(&NodeMessage::from(hello()));
    bytes.extend(frame(&NodeMessage::from(readings())));
    let results = decode::<Node1<2>>(&bytes);
    assert_eq!(results.len(), 2);
    let Ok(raw) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(raw.kind, kind::HELLO);
    let seen: Hello = postcard::from_bytes(&raw.body).unwrap();
    assert_eq!(seen, hello());
    assert_eq!(
        seen.protocol_version,
        ProtocolVersion { major: 1, minor: 0 }
    );
    assert_eq!(
        results[1],
        Err(FrameError::IncompatibleVersion { major: 1 })
    );
}

#[test]
fn older_major_host_commands_are_refused_by_this_node() {
    let bytes = frame(&Host1::<0>::new(kind::COMMAND, &(1_u32, 2_u8)));
    assert_eq!(
        decode::<HostMessage>(&bytes),
        [Err(FrameError::IncompatibleVersion { major: 0 })]
    );
}
