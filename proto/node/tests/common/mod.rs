//! Helpers shared by the integration tests.
#![allow(dead_code)]

use sense_node_proto::frame::{CRC_LEN, MAGIC};
use sense_node_proto::{
    Capabilities, Decoder, Encoder, FrameError, Hello, MAX_FRAME_LEN, Message, Quantity, Reading,
    Readings,
};

/// `message` as a frame on the wire.
pub fn frame<M: Message>(message: &M) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = Encoder::new().encode(message, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// The frames of `messages`, one after the other.
pub fn frames<M: Message>(messages: &[M]) -> Vec<u8> {
    messages.iter().flat_map(frame).collect()
}

/// Everything a fresh decoder yields for `bytes`.
pub fn decode<M: Message>(bytes: &[u8]) -> Vec<Result<M, FrameError>> {
    Decoder::<M>::new().feed(bytes).collect()
}

/// The messages among `results`.
pub fn oks<M>(results: Vec<Result<M, FrameError>>) -> Vec<M> {
    results.into_iter().filter_map(Result::ok).collect()
}

/// A frame built by hand from the README's description, not with the crate's encoder: `0x00`,
/// COBS(magic, major, kind, body, CRC-32/ISO-HDLC little-endian), `0x00`.
pub fn handmade_frame(magic: u8, major: u8, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut raw = vec![magic, major, kind];
    raw.extend_from_slice(body);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(raw.len(), 3 + body.len() + CRC_LEN);
    wire(&raw)
}

/// A raw frame COBS-encoded between delimiters.
pub fn wire(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; cobs::max_encoding_length(raw.len()) + 2];
    let n = cobs::try_encode(raw, &mut out[1..]).unwrap();
    out.truncate(n + 2);
    out[n + 1] = 0;
    out
}

/// A frame of this protocol with `body` as postcard writes it.
pub fn body_frame(major: u8, kind: u8, body: &impl serde::Serialize) -> Vec<u8> {
    handmade_frame(MAGIC, major, kind, &postcard::to_stdvec(body).unwrap())
}

pub fn hello() -> Hello {
    Hello::new(
        "pico-kitchen",
        "0.1.0",
        Capabilities::TEMPERATURE
            | Capabilities::HUMIDITY
            | Capabilities::PRESSURE
            | Capabilities::LED_MATRIX,
    )
    .unwrap()
}

pub fn readings() -> Readings {
    let mut r = Readings::new(42);
    r.push(Reading::new(Quantity::Temperature, 23.5)).unwrap();
    r.push(Reading::new(Quantity::Humidity, 41.2)).unwrap();
    r.push(Reading::new(Quantity::Pressure, 1013.25)).unwrap();
    r
}
