//! Every message through the encoder and the decoder, the frame format byte for byte, and the
//! decoder getting back on its feet after each kind of damage a serial line does.

mod common;

use common::*;
use sense_hal::led::Rotation;
use sense_hal::value::{Measurement, Unit, Value};
use sense_node_proto::frame::{MAGIC, MAX_BODY_LEN, MAX_ENCODED_LEN, MAX_RAW_LEN};
use sense_node_proto::message::{
    FIRMWARE_VERSION_CAPACITY, LED_TEXT_CAPACITY, MAX_READINGS, NODE_ID_CAPACITY,
};
use sense_node_proto::*;

fn round_trip_node(message: NodeMessage) {
    let bytes = frame(&message);
    assert_eq!(decode::<NodeMessage>(&bytes), [Ok(message)]);
}

fn round_trip_host(message: HostMessage) {
    let bytes = frame(&message);
    assert_eq!(decode::<HostMessage>(&bytes), [Ok(message)]);
}

fn command(id: u32, kind: CommandKind) -> HostMessage {
    HostMessage::Command(Command { id, kind })
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn hello_round_trips() {
    round_trip_node(hello().into());
    round_trip_node(Hello::new("", "", Capabilities::empty()).unwrap().into());
}

#[test]
fn readings_round_trip() {
    round_trip_node(readings().into());
    round_trip_node(Readings::new(0).into());
    round_trip_node(Readings::new(u32::MAX).into());
}

#[test]
fn status_round_trips_for_every_sensor_and_error() {
    let sensors = [
        Sensor::Hts221,
        Sensor::Lps25h,
        Sensor::LedMatrix,
        Sensor::Unknown(200),
    ];
    let errors = [
        SensorError::NoAcknowledge,
        SensorError::Bus,
        SensorError::WrongId,
        SensorError::NotReady,
        SensorError::Calibration,
        SensorError::Unknown(99),
    ];
    for sensor in sensors {
        for error in errors {
            round_trip_node(Status { sensor, error }.into());
        }
    }
}

#[test]
fn reply_round_trips() {
    round_trip_node(
        Reply {
            id: 0,
            result: Ok(()),
        }
        .into(),
    );
    for error in [
        ReplyError::Unsupported,
        ReplyError::InvalidArgument,
        ReplyError::Busy,
        ReplyError::Hardware,
        ReplyError::Unknown(17),
    ] {
        round_trip_node(
            Reply {
                id: u32::MAX,
                result: Err(error),
            }
            .into(),
        );
    }
}

#[test]
fn every_command_round_trips() {
    round_trip_host(command(1, CommandKind::text("Hello, world").unwrap()));
    round_trip_host(command(2, CommandKind::text("").unwrap()));
    round_trip_host(command(3, CommandKind::text("22.5 °C ☀").unwrap()));
    for rotation in [
        Rotation::Deg0,
        Rotation::Deg90,
        Rotation::Deg180,
        Rotation::Deg270,
    ] {
        round_trip_host(command(4, CommandKind::Rotate(rotation)));
    }
    round_trip_host(command(5, CommandKind::Clear));
    round_trip_host(command(u32::MAX, CommandKind::Unknown(200)));
}

#[test]
fn largest_messages_fit_the_frame_limit() {
    let mut full = Readings::new(u32::MAX);
    while full
        .push(Reading::new(Quantity::Unknown(255), f32::MIN))
        .is_ok()
    {}
    assert_eq!(full.readings.len(), MAX_READINGS);
    let biggest: [(NodeMessage, usize); 2] = [
        (
            Hello {
                protocol_version: ProtocolVersion {
                    major: 255,
                    minor: 255,
                },
                node_id: "n".repeat(NODE_ID_CAPACITY).as_str().try_into().unwrap(),
                firmware_version: "v"
                    .repeat(FIRMWARE_VERSION_CAPACITY)
                    .as_str()
                    .try_into()
                    .unwrap(),
                capabilities: Capabilities::from_bits_retain(u32::MAX),
            }
            .into(),
            75,
        ),
        (full.into(), 56),
    ];
    for (message, len) in biggest {
        let bytes = frame(&message);
        assert_eq!(bytes.len(), len, "{message:?}");
        assert!(bytes.len() <= MAX_FRAME_LEN);
        assert_eq!(decode::<NodeMessage>(&bytes), [Ok(message)]);
    }
    let text = command(
        u32::MAX,
        CommandKind::text(&"x".repeat(LED_TEXT_CAPACITY)).unwrap(),
    );
    let bytes = frame(&text);
    assert_eq!(bytes.len(), 81);
    assert_eq!(decode::<HostMessage>(&bytes), [Ok(text)]);
    assert!(CommandKind::text(&"x".repeat(LED_TEXT_CAPACITY + 1)).is_none());
}

#[test]
fn limits_add_up() {
    assert_eq!(MAX_RAW_LEN, 128);
    assert_eq!(MAX_BODY_LEN, 121);
    assert_eq!(MAX_ENCODED_LEN, 129);
    assert_eq!(MAX_FRAME_LEN, 131);
}

// ---------------------------------------------------------------------------------------------
// The frame format, byte for byte

#[test]
fn frame_sizes_of_the_readme() {
    // A Hello of a Sense HAT node, and a round of its three readings.
    assert_eq!(frame(&NodeMessage::from(hello())).len(), 32);
    assert_eq!(frame(&NodeMessage::from(readings())).len(), 27);
    assert_eq!(
        frame(&NodeMessage::from(Status {
            sensor: Sensor::Lps25h,
            error: SensorError::NoAcknowledge
        }))
        .len(),
        12
    );
    assert_eq!(frame(&command(7, CommandKind::Clear)).len(), 12);
}

#[test]
fn encoder_writes_the_format_of_the_readme() {
    // Built from the description alone: header, postcard body, CRC-32 LE, COBS, delimiters.
    let body = [
        1, 0, // protocol version 1.0
        12, b'p', b'i', b'c', b'o', b'-', b'k', b'i', b't', b'c', b'h', b'e', b'n', // node id
        5, b'0', b'.', b'1', b'.', b'0', // firmware version
        0x0f, // capabilities (varint)
    ];
    assert_eq!(
        frame(&NodeMessage::from(hello())),
        handmade_frame(MAGIC, 1, kind::HELLO, &body)
    );

    let body = [
        42, // seq (varint)
        3,  // three readings
        0, 0x00, 0x00, 0xbc, 0x41, // temperature 23.5 (f32 LE)
        1, 0xcd, 0xcc, 0x24, 0x42, // humidity 41.2
        2, 0x00, 0x50, 0x7d, 0x44, // pressure 1013.25
    ];
    assert_eq!(
        frame(&NodeMessage::from(readings())),
        handmade_frame(MAGIC, 1, kind::READINGS, &body)
    );

    // Command 7: rotate (code 1) by 180 degrees (varint 0xb4 0x01); then clear (code 2).
    assert_eq!(
        frame(&command(7, CommandKind::Rotate(Rotation::Deg180))),
        handmade_frame(MAGIC, 1, kind::COMMAND, &[7, 1, 0xb4, 0x01])
    );
    assert_eq!(
        frame(&command(7, CommandKind::Clear)),
        handmade_frame(MAGIC, 1, kind::COMMAND, &[7, 2])
    );
    // Reply 7: Ok (0), or Err (1) Unsupported (0).
    assert_eq!(
        frame(&NodeMessage::from(Reply {
            id: 7,
            result: Ok(())
        })),
        handmade_frame(MAGIC, 1, kind::REPLY, &[7, 0])
    );
    assert_eq!(
        frame(&NodeMessage::from(Reply {
            id: 7,
            result: Err(ReplyError::Unsupported)
        })),
        handmade_frame(MAGIC, 1, kind::REPLY, &[7, 1, 0])
    );
}

#[test]
fn status_frame_golden_bytes() {
    // The worked example of the README: LPS25H (1) did not acknowledge (0).
    let status = NodeMessage::from(Status {
        sensor: Sensor::Lps25h,
        error: SensorError::NoAcknowledge,
    });
    assert_eq!(
        frame(&status),
        [
            0x00, 0x05, 0xd5, 0x01, 0x03, 0x01, 0x05, 0x49, 0xef, 0xd6, 0x24, 0x00
        ]
    );
}

#[test]
fn encoder_refuses_a_short_buffer_and_fills_an_exact_one() {
    let message = NodeMessage::from(hello());
    let expected = frame(&message);
    for len in 0..expected.len() {
        let mut buf = vec![0xaa; len];
        assert_eq!(
            Encoder::new().encode(&message, &mut buf),
            Err(EncodeError::BufferTooSmall {
                needed: expected.len()
            }),
            "{len}"
        );
    }
    let mut buf = vec![0xaa; expected.len()];
    assert_eq!(
        Encoder::new().encode(&message, &mut buf),
        Ok(expected.len())
    );
    assert_eq!(buf, expected);
}

#[test]
fn no_zero_inside_a_frame() {
    // Zero-heavy content: readings of 0.0 and a zero seq.
    let mut zeros = Readings::new(0);
    while zeros.push(Reading::new(Quantity::Temperature, 0.0)).is_ok() {}
    let bytes = frame(&NodeMessage::from(zeros));
    assert_eq!(bytes[0], 0);
    assert_eq!(*bytes.last().unwrap(), 0);
    assert!(bytes[1..bytes.len() - 1].iter().all(|b| *b != 0));
}

// ---------------------------------------------------------------------------------------------
// Damage on the line

/// `bad` then a good Readings frame: the decoder reports `bad` as errors only, then decodes the
/// good frame.
fn then_good_frame_decodes(bad: &[u8]) -> Vec<FrameError> {
    let mut bytes = bad.to_vec();
    bytes.extend(frame(&NodeMessage::from(readings())));
    let mut results = decode::<NodeMessage>(&bytes);
    assert_eq!(results.pop(), Some(Ok(readings().into())), "{bad:02x?}");
    results.into_iter().map(|r| r.unwrap_err()).collect()
}

#[test]
fn flipped_byte_is_a_crc_error_and_the_next_frame_decodes() {
    let mut bytes = frame(&NodeMessage::from(hello()));
    bytes[10] ^= 0x04; // a character of the node id
    assert_ne!(bytes[10], 0);
    assert_eq!(then_good_frame_decodes(&bytes), [FrameError::Crc]);
}

#[test]
fn any_flipped_bit_of_a_frame_is_reported_never_decoded() {
    let good = frame(&NodeMessage::from(hello()));
    for at in 1..good.len() - 1 {
        for bit in 0..8 {
            let mut bytes = good.clone();
            bytes[at] ^= 1 << bit;
            let errors = then_good_frame_decodes(&bytes);
            // A byte turned to 0x00 splits the frame in two; either way nothing decodes.
            assert!(
                !errors.is_empty() && errors.len() <= 2,
                "{at} {bit}: {errors:?}"
            );
            assert!(
                errors.iter().all(FrameError::is_corruption),
                "{at} {bit}: {errors:?}"
            );
        }
    }
}

#[test]
fn truncated_frame_is_an_error_and_the_next_frame_decodes() {
    let good = frame(&NodeMessage::from(hello()));
    // Cut after the leading delimiter and k more bytes, then a delimiter (a line that dropped
    // the rest of the frame): always exactly one error, whatever k.
    for k in 1..good.len() - 2 {
        let mut cut = good[..1 + k].to_vec();
        cut.push(0);
        let errors = then_good_frame_decodes(&cut);
        assert_eq!(errors.len(), 1, "{k}: {errors:?}");
        assert!(errors[0].is_corruption(), "{k}: {errors:?}");
    }
    // Cut without a delimiter of its own: the next frame's leading delimiter ends it.
    let errors = then_good_frame_decodes(&good[..good.len() - 3]);
    assert!(errors.len() == 1 && errors[0].is_corruption(), "{errors:?}");
}

#[test]
fn node_reset_mid_frame_loses_only_the_cut_frame() {
    // The node resets partway through a frame, then starts afresh with its Hello: the fresh
    // frame's leading delimiter ends the cut one, wherever the cut.
    let cut = frame(&NodeMessage::from(readings()));
    for at in 2..cut.len() - 1 {
        let mut bytes = cut[..at].to_vec();
        bytes.extend(frame(&NodeMessage::from(hello())));
        bytes.extend(frame(&NodeMessage::from(readings())));
        let results = decode::<NodeMessage>(&bytes);
        assert_eq!(results.len(), 3, "{at}: {results:?}");
        assert!(
            results[0].as_ref().is_err_and(FrameError::is_corruption),
            "{at}: {results:?}"
        );
        assert_eq!(results[1..], [Ok(hello().into()), Ok(readings().into())]);
    }
}

#[test]
fn over_long_frame_overflows_then_the_decoder_recovers() {
    let mut bytes = vec![0x55; 1000];
    bytes.push(0);
    assert_eq!(then_good_frame_decodes(&bytes), [FrameError::Overflow]);
    // Even without a delimiter of its own: the good frame's leading delimiter ends it.
    assert_eq!(
        then_good_frame_decodes(&[0x55; 1000]),
        [FrameError::Overflow]
    );
}

#[test]
fn longest_frame_fits_the_default_decoder_exactly() {
    // 0x01 0x01 ... is valid COBS (for zeros), so the decoder gets as far as the CRC.
    let mut bytes = vec![0x01; MAX_ENCODED_LEN];
    bytes.push(0);
    assert_eq!(decode::<NodeMessage>(&bytes), [Err(FrameError::Crc)]);
    bytes.insert(0, 0x01);
    assert_eq!(decode::<NodeMessage>(&bytes), [Err(FrameError::Overflow)]);
}

#[test]
fn small_decoder_overflows_on_a_frame_too_big_for_it() {
    let mut decoder = Decoder::<NodeMessage, 16>::new();
    let mut bytes = frame(&NodeMessage::from(hello()));
    bytes.extend(frame(&NodeMessage::from(Status {
        sensor: Sensor::Hts221,
        error: SensorError::Bus,
    })));
    let results: Vec<_> = decoder.feed(&bytes).collect();
    assert_eq!(
        results,
        [
            Err(FrameError::Overflow),
            Ok(Status {
                sensor: Sensor::Hts221,
                error: SensorError::Bus
            }
            .into())
        ]
    );
}

#[test]
fn garbage_before_the_first_frame_is_one_error() {
    assert_eq!(
        then_good_frame_decodes(b"Booting Pico...\r\n"),
        [FrameError::Cobs]
    );
    assert_eq!(
        then_good_frame_decodes(&[0x01]),
        [FrameError::TooShort { len: 0 }]
    );
}

#[test]
fn lone_delimiters_are_skipped() {
    assert_eq!(then_good_frame_decodes(&[0, 0, 0, 0]), []);
    assert_eq!(decode::<NodeMessage>(&[0; 10]), []);
}

#[test]
fn wrong_crc_is_rejected() {
    let mut raw = vec![MAGIC, 1, kind::STATUS, 0, 0];
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&raw);
    raw.extend_from_slice(&(crc ^ 0x8000_0000).to_le_bytes());
    assert_eq!(then_good_frame_decodes(&wire(&raw)), [FrameError::Crc]);
}

#[test]
fn another_protocol_with_a_valid_crc_is_not_ours() {
    let other = handmade_frame(0x7e, 1, kind::STATUS, &[0, 0]);
    assert_eq!(
        then_good_frame_decodes(&other),
        [FrameError::Magic { found: 0x7e }]
    );
}

#[test]
fn an_echoed_frame_is_reported_as_going_the_wrong_way() {
    // The host hears its own command (a serial port left in cooked mode with echo).
    let echo = frame(&command(1, CommandKind::Clear));
    assert_eq!(
        decode::<NodeMessage>(&echo),
        [Err(FrameError::WrongDirection { kind: 0x81 })]
    );
    let echo = frame(&NodeMessage::from(hello()));
    assert_eq!(
        decode::<HostMessage>(&echo),
        [Err(FrameError::WrongDirection { kind: 0x01 })]
    );
}

#[test]
fn a_body_that_does_not_decode_is_malformed() {
    // Rotation by 45 degrees, and a readings list cut short.
    assert_eq!(
        decode::<HostMessage>(&handmade_frame(MAGIC, 1, kind::COMMAND, &[9, 1, 45])),
        [Err(FrameError::Malformed {
            kind: kind::COMMAND
        })]
    );
    assert_eq!(
        decode::<NodeMessage>(&handmade_frame(
            MAGIC,
            1,
            kind::READINGS,
            &[1, 2, 0, 0, 0, 0, 0]
        )),
        [Err(FrameError::Malformed {
            kind: kind::READINGS
        })]
    );
}

#[test]
fn feeding_in_any_chunks_equals_feeding_byte_by_byte() {
    let messages: Vec<NodeMessage> = vec![
        hello().into(),
        readings().into(),
        Reply {
            id: 3,
            result: Ok(()),
        }
        .into(),
    ];
    let bytes = frames(&messages);
    for chunk in 1..bytes.len() {
        let mut decoder = Decoder::<NodeMessage>::new();
        let got: Vec<_> = bytes
            .chunks(chunk)
            .flat_map(|c| decoder.feed(c).collect::<Vec<_>>())
            .collect();
        assert_eq!(oks(got), messages, "{chunk}");
    }
    let mut decoder = Decoder::<NodeMessage>::new();
    let got: Vec<_> = bytes.iter().filter_map(|b| decoder.push(*b)).collect();
    assert_eq!(oks(got), messages);
}

#[test]
fn reset_drops_a_partial_frame() {
    let good = frame(&NodeMessage::from(readings()));
    let mut decoder = Decoder::<NodeMessage>::new();
    assert_eq!(decoder.feed(&good[..10]).count(), 0);
    assert_eq!(decoder.buffered(), 9);
    decoder.reset();
    assert_eq!(decoder.buffered(), 0);
    // The rest of the cut frame, then a whole one: the rest alone is an error.
    let results: Vec<_> = decoder.feed(&good[10..]).collect();
    assert_eq!(results.len(), 1);
    assert!(results[0].is_err());
}

// ---------------------------------------------------------------------------------------------
// sense-hal's values

#[test]
fn readings_become_the_measurements_of_the_sense_hat_source() {
    let measurements: Vec<Measurement<String>> = readings()
        .readings
        .iter()
        .filter_map(Reading::to_measurement)
        .collect();
    assert_eq!(
        measurements,
        [
            Measurement::new("temperature".to_owned(), 23.5, Some(Unit::CELSIUS)),
            // 41.2 as f32 is 41.200000762939453: rounded as the source rounds it.
            Measurement::new("humidity".to_owned(), 41.2, Some(Unit::PERCENT)),
            Measurement::new("pressure".to_owned(), 1013.3, Some(Unit::MILLIBAR)),
        ]
    );
    for m in &measurements {
        let back = Reading::from_measurement(m).unwrap();
        assert_eq!(back.quantity.sensor_id(), Some(m.sensor.as_str()));
    }
}

#[test]
fn unknown_or_odd_readings_do_not_become_measurements() {
    assert_eq!(
        Reading::new(Quantity::Unknown(9), 1.0).to_measurement::<&str>(),
        None
    );
    let nan = Reading::new(Quantity::Temperature, f32::NAN)
        .to_measurement::<&str>()
        .unwrap();
    assert_eq!(nan.value, Value::Null);
    // Another sensor, another unit, or no number: no reading.
    assert_eq!(
        Reading::from_measurement(&Measurement::new("cpu_temp", 50.0, Some(Unit::CELSIUS))),
        None
    );
    assert_eq!(
        Reading::from_measurement(&Measurement::new(
            "pressure",
            1000.0,
            Some(Unit::MILLIBAR_SHORT)
        )),
        None
    );
    assert_eq!(
        Reading::from_measurement(&Measurement::new(
            "humidity",
            Value::Null,
            Some(Unit::PERCENT)
        )),
        None
    );
    assert_eq!(
        Reading::from_measurement(&Measurement::new("humidity", 40_i64, Some(Unit::PERCENT))),
        Some(Reading::new(Quantity::Humidity, 40.0))
    );
}

#[test]
fn capabilities_keep_unknown_bits() {
    let caps = Capabilities::TEMPERATURE | Capabilities::from_bits_retain(0x100);
    assert!(caps.contains(Capabilities::TEMPERATURE));
    assert!(!caps.contains(Capabilities::HUMIDITY));
    assert_eq!(caps.bits(), 0x101);
    assert_eq!(format!("{caps:?}"), "Capabilities(TEMPERATURE | 0x100)");
    assert_eq!(format!("{:?}", Capabilities::empty()), "Capabilities()");
    assert_eq!(
        Capabilities::for_quantity(Quantity::Pressure),
        Some(Capabilities::PRESSURE)
    );
    assert_eq!(Capabilities::for_quantity(Quantity::Unknown(3)), None);
}

#[test]
fn i2c_errors_become_sensor_errors() {
    use sense_hal::i2c::{ErrorKind, NoAcknowledgeSource};
    assert_eq!(
        SensorError::from(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)),
        SensorError::NoAcknowledge
    );
    assert_eq!(
        SensorError::from(ErrorKind::ArbitrationLoss),
        SensorError::Bus
    );
}

#[test]
fn fuzz_seeds_are_the_frames_they_are_named_after() {
    // Written by fuzz/make_seeds.py from the README's description, not by this encoder.
    let seed = |name: &str| {
        std::fs::read(format!(
            "{}/fuzz/seeds/decoder/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    assert_eq!(decode::<NodeMessage>(&seed("hello")), [Ok(hello().into())]);
    assert_eq!(
        decode::<NodeMessage>(&seed("readings")),
        [Ok(readings().into())]
    );
    assert_eq!(
        decode::<HostMessage>(&seed("command_rotate")),
        [Ok(command(7, CommandKind::Rotate(Rotation::Deg180)))]
    );
    assert_eq!(
        decode::<HostMessage>(&seed("command_text")),
        [Ok(command(1, CommandKind::text("hello").unwrap()))]
    );
    let stream = decode::<NodeMessage>(&seed("stream_with_noise"));
    assert_eq!(oks(stream), [NodeMessage::from(hello()), readings().into()]);
    let [Ok(NodeMessage::Hello(h))] = &decode::<NodeMessage>(&seed("hello_major_2"))[..] else {
        panic!("no hello");
    };
    assert_eq!(h.protocol_version.major, 2);
}
