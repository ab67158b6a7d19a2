//! Properties: any message survives the trip; noise, damage and cuts never panic the decoder,
//! never pass for a message, and never cost a good frame after them.

mod common;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use sense_hal::led::Rotation;
use sense_node_proto::frame::{CRC_LEN, HEADER_LEN, MAGIC};
use sense_node_proto::message::{
    FIRMWARE_VERSION_CAPACITY, LED_TEXT_CAPACITY, MAX_READINGS, NODE_ID_CAPACITY,
};
use sense_node_proto::*;

/// Any text, cut at a character boundary to fit `N` bytes.
fn text<const N: usize>() -> impl Strategy<Value = heapless::String<N>> {
    any::<String>().prop_map(|s| {
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        heapless::String::try_from(&s[..end]).unwrap()
    })
}

/// Any f32 but NaN (which is not equal to itself).
fn value() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("NaN", |x| !x.is_nan())
}

fn quantity() -> impl Strategy<Value = Quantity> {
    any::<u8>().prop_map(Quantity::from_code)
}

fn node_message() -> impl Strategy<Value = NodeMessage> {
    let hello = (
        any::<(u8, u8)>(),
        text::<NODE_ID_CAPACITY>(),
        text::<FIRMWARE_VERSION_CAPACITY>(),
        any::<u32>(),
    )
        .prop_map(|((major, minor), node_id, firmware_version, caps)| {
            NodeMessage::Hello(Hello {
                protocol_version: ProtocolVersion { major, minor },
                node_id,
                firmware_version,
                capabilities: Capabilities::from_bits_retain(caps),
            })
        });
    let readings =
        (any::<u32>(), vec((quantity(), value()), 0..=MAX_READINGS)).prop_map(|(seq, rs)| {
            let mut r = Readings::new(seq);
            for (q, v) in rs {
                r.push(Reading::new(q, v)).unwrap();
            }
            NodeMessage::Readings(r)
        });
    let status = any::<(u8, u8)>().prop_map(|(s, e)| {
        NodeMessage::Status(Status {
            sensor: Sensor::from_code(s),
            error: SensorError::from_code(e),
        })
    });
    let reply = (any::<u32>(), any::<Option<u8>>()).prop_map(|(id, err)| {
        NodeMessage::Reply(Reply {
            id,
            result: err.map_or(Ok(()), |e| Err(ReplyError::from_code(e))),
        })
    });
    prop_oneof![hello, readings, status, reply]
}

fn host_message() -> impl Strategy<Value = HostMessage> {
    let kind = prop_oneof![
        text::<LED_TEXT_CAPACITY>().prop_map(CommandKind::Text),
        prop_oneof![
            Just(Rotation::Deg0),
            Just(Rotation::Deg90),
            Just(Rotation::Deg180),
            Just(Rotation::Deg270)
        ]
        .prop_map(CommandKind::Rotate),
        Just(CommandKind::Clear),
        Just(CommandKind::Identify),
        (4_u8..).prop_map(CommandKind::Unknown),
    ];
    (any::<u32>(), kind).prop_map(|(id, kind)| HostMessage::Command(Command { id, kind }))
}

/// Runs of noise: any bytes, zeros included.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..300)
}

proptest! {
    #[test]
    fn any_node_message_survives_encode_decode(m in node_message()) {
        let bytes = frame(&m);
        prop_assert!(bytes.len() <= MAX_FRAME_LEN);
        prop_assert_eq!(decode::<NodeMessage>(&bytes), [Ok(m)]);
    }

    #[test]
    fn any_host_message_survives_encode_decode(m in host_message()) {
        let bytes = frame(&m);
        prop_assert!(bytes.len() <= MAX_FRAME_LEN);
        prop_assert_eq!(decode::<HostMessage>(&bytes), [Ok(m)]);
    }

    #[test]
    fn a_stream_fed_in_any_chunks_decodes_to_its_messages(
        messages in vec(node_message(), 0..8),
        cuts in vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let bytes = frames(&messages);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort_unstable();
        let mut decoder = Decoder::<NodeMessage>::new();
        let mut got = Vec::new();
        for w in at.windows(2) {
            got.extend(decoder.feed(&bytes[w[0]..w[1]]));
        }
        prop_assert_eq!(got, messages.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn noise_alone_never_panics_and_never_passes_for_a_message(bytes in vec(any::<u8>(), 0..2000)) {
        for result in Decoder::<NodeMessage>::new().feed(&bytes) {
            prop_assert!(result.is_err(), "{:?}", result);
        }
        for result in Decoder::<HostMessage>::new().feed(&bytes) {
            prop_assert!(result.is_err(), "{:?}", result);
        }
        // A small buffer overflows often.
        for result in Decoder::<NodeMessage, 8>::new().feed(&bytes) {
            prop_assert!(result.is_err(), "{:?}", result);
        }
    }

    #[test]
    fn noise_before_and_between_frames_costs_no_frame(
        items in vec((noise(), node_message()), 1..6),
        tail in noise(),
    ) {
        let mut bytes = Vec::new();
        for (noise, m) in &items {
            bytes.extend(noise);
            bytes.extend(frame(m));
        }
        bytes.extend(&tail);
        let messages: Vec<NodeMessage> = items.into_iter().map(|(_, m)| m).collect();
        prop_assert_eq!(oks(decode::<NodeMessage>(&bytes)), messages);
    }

    #[test]
    fn a_damaged_frame_never_passes_and_the_next_one_decodes(
        m in node_message(),
        at in any::<prop::sample::Index>(),
        flip in 1_u8..,
        next in node_message(),
    ) {
        let mut bytes = frame(&m);
        // Any byte but the delimiters, changed to any other value (0x00 included).
        let at = 1 + at.index(bytes.len() - 2);
        bytes[at] ^= flip;
        bytes.extend(frame(&next));
        let results = decode::<NodeMessage>(&bytes);
        prop_assert_eq!(oks(results.clone()), [next.clone()], "{:?}", results);
        let errors = results.iter().filter_map(|r| r.as_ref().err());
        prop_assert!(errors.clone().all(FrameError::is_corruption), "{:?}", results);
        // The damaged frame is one error, or two when the damage made a 0x00 inside it.
        prop_assert!((1..=2).contains(&errors.count()), "{:?}", results);
    }

    #[test]
    fn a_cut_frame_never_passes_and_the_next_one_decodes(
        m in node_message(),
        at in any::<prop::sample::Index>(),
        delimited in any::<bool>(),
        next in node_message(),
    ) {
        let whole = frame(&m);
        // Anything short of the whole frame (its bytes but the trailing delimiter).
        let mut bytes = whole[..at.index(whole.len() - 1)].to_vec();
        if delimited {
            bytes.push(0);
        }
        bytes.extend(frame(&next));
        prop_assert_eq!(oks(decode::<NodeMessage>(&bytes)), [next]);
    }

    #[test]
    fn a_wrong_crc_never_passes(m in host_message(), wrong in 1_u32..) {
        // The frame's raw bytes with the CRC changed, COBS-encoded again.
        let good = frame(&m);
        let mut raw = vec![0u8; good.len()];
        let n = cobs::decode(&good[1..good.len() - 1], &mut raw).unwrap();
        raw.truncate(n);
        prop_assert_eq!(&raw[..HEADER_LEN], &[MAGIC, 1, kind::COMMAND][..]);
        let crc_at = raw.len() - CRC_LEN;
        let crc = u32::from_le_bytes(raw[crc_at..].try_into().unwrap());
        raw[crc_at..].copy_from_slice(&(crc ^ wrong).to_le_bytes());
        prop_assert_eq!(decode::<HostMessage>(&wire(&raw)), [Err(FrameError::Crc)]);
    }
}
