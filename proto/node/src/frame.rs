//! Frames: how a message travels over the serial link.
//!
//! ```text
//! raw frame:   MAGIC  major  kind  body (postcard) ...  CRC-32 (little-endian, over all before it)
//!              1 B    1 B    1 B   0..=MAX_BODY_LEN B    4 B
//! on the wire: 0x00  COBS(raw frame)  0x00
//! ```
//!
//! [`Encoder`] writes one frame into a caller's buffer; [`Decoder`] takes the bytes as they come
//! and yields a message (or the reason there is none) at each `0x00`. See the crate's README for
//! the whole format and the compatibility rules.

use core::fmt;
use core::marker::PhantomData;

use heapless::Vec;
use serde::{Serialize, Serializer};

use crate::message::kind::HELLO;

/// First byte of every raw frame: tells a frame of this protocol from other bytes on the line
/// (boot messages, a console) that happen to pass the CRC.
pub const MAGIC: u8 = 0xD5;
/// The byte between frames. COBS makes sure no other byte of a frame is zero.
pub const DELIMITER: u8 = 0x00;
/// Bytes before the body: magic, major version, kind.
pub const HEADER_LEN: usize = 3;
/// Bytes of the CRC after the body.
pub const CRC_LEN: usize = 4;
/// The longest raw frame (header, body and CRC) of protocol major version 1. Part of the major
/// version: a minor version may lengthen messages only within it.
pub const MAX_RAW_LEN: usize = 128;
/// The longest body.
pub const MAX_BODY_LEN: usize = MAX_RAW_LEN - HEADER_LEN - CRC_LEN;
/// The longest COBS-encoded frame, without its delimiters: what [`Decoder`] buffers.
pub const MAX_ENCODED_LEN: usize = cobs::max_encoding_length(MAX_RAW_LEN);
/// The longest frame on the wire, both delimiters included: a buffer of this size takes any
/// frame [`Encoder::encode`] writes.
pub const MAX_FRAME_LEN: usize = MAX_ENCODED_LEN + 2;

/// CRC-32/ISO-HDLC (the CRC of Ethernet, zlib and PNG; the RP2040's DMA sniffer computes it too).
static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Which way a message goes. The high bit of its kind code says it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// From the microcontroller node to the Linux host: kind codes `0x00..=0x7f`.
    NodeToHost,
    /// From the host to the node: kind codes `0x80..=0xff`.
    HostToNode,
}

impl Direction {
    /// The direction of a message of kind `kind`.
    pub const fn of_kind(kind: u8) -> Direction {
        if kind & 0x80 == 0 {
            Direction::NodeToHost
        } else {
            Direction::HostToNode
        }
    }
}

/// The messages one side sends: [`NodeMessage`](crate::NodeMessage) or
/// [`HostMessage`](crate::HostMessage).
///
/// Tests and tools may implement it to play a peer of another version: a message set of
/// another major version (`MAJOR`), or one with kinds or fields this version does not have.
pub trait Message: Sized {
    /// Which way these messages go; every [`kind`](Message::kind) must be in its range.
    const DIRECTION: Direction;
    /// The protocol major version written in each frame's header; a [`Decoder`] takes only
    /// frames of this major version (and any `Hello`).
    const MAJOR: u8;

    /// The message's kind code, the frame header's third byte.
    fn kind(&self) -> u8;

    /// Writes the body (without the kind) to `serializer`.
    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Reads the body of a frame of kind `kind`: `Ok(None)` for a kind this set does not know.
    /// Bytes after the body's known fields are ignored.
    fn decode_body(kind: u8, body: &[u8]) -> Result<Option<Self>, postcard::Error>;
}

/// Serializes a message's body, as [`Message::serialize_body`] writes it.
struct Body<'a, M>(&'a M);

impl<M: Message> Serialize for Body<'_, M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_body(serializer)
    }
}

/// Why [`Encoder::encode`] wrote no frame.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EncodeError {
    /// The output buffer is shorter than the frame, which needs `needed` bytes.
    BufferTooSmall {
        /// The frame's length, both delimiters included.
        needed: usize,
    },
    /// The body is longer than [`MAX_BODY_LEN`]. The messages of this crate never are.
    TooLong,
    /// postcard refused the body. The messages of this crate never make it.
    Serialize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "the output buffer is too small: the frame needs {needed} bytes"
                )
            }
            EncodeError::TooLong => write!(f, "the message exceeds {MAX_BODY_LEN} bytes"),
            EncodeError::Serialize => f.write_str("the message does not serialize"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Writes messages as frames: `0x00`, the COBS-encoded raw frame, `0x00`.
///
/// The leading `0x00` ends whatever the receiver had buffered (the tail of a frame cut by a
/// reset, line noise), so a frame is never lost to what came before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Encoder;

impl Encoder {
    /// An encoder.
    pub const fn new() -> Encoder {
        Encoder
    }

    /// Writes `message` as one frame at the start of `out` and returns the frame's length.
    /// Needs at most [`MAX_FRAME_LEN`] bytes; builds the raw frame in a 128-byte array on the
    /// stack.
    pub fn encode<M: Message>(&self, message: &M, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut raw = [0u8; MAX_RAW_LEN];
        raw[0] = MAGIC;
        raw[1] = M::MAJOR;
        raw[2] = message.kind();
        let body_len =
            match postcard::to_slice(&Body(message), &mut raw[HEADER_LEN..MAX_RAW_LEN - CRC_LEN]) {
                Ok(body) => body.len(),
                Err(postcard::Error::SerializeBufferFull) => return Err(EncodeError::TooLong),
                Err(_) => return Err(EncodeError::Serialize),
            };
        let crc_at = HEADER_LEN + body_len;
        let crc = CRC.checksum(&raw[..crc_at]);
        raw[crc_at..crc_at + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
        let raw = &raw[..crc_at + CRC_LEN];

        // Below 254 bytes COBS adds exactly one byte, so this is the frame's exact length.
        let needed = cobs::max_encoding_length(raw.len()) + 2;
        let too_small = EncodeError::BufferTooSmall { needed };
        let Some(out) = out.get_mut(..needed) else {
            return Err(too_small);
        };
        out[0] = DELIMITER;
        let encoded = cobs::try_encode(raw, &mut out[1..needed - 1]).map_err(|_| too_small)?;
        if encoded != needed - 2 {
            return Err(too_small);
        }
        out[needed - 1] = DELIMITER;
        Ok(needed)
    }
}

/// Why a [`Decoder`] yielded no message for a frame. The decoder goes on with the next frame
/// whatever the error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FrameError {
    /// More bytes than the decoder's buffer without a `0x00`: they are dropped up to the next
    /// `0x00`. Reported once, when the buffer fills.
    Overflow,
    /// Not valid COBS: a byte was corrupted, or the frame was cut.
    Cobs,
    /// Shorter than a header and a CRC: a frame was cut.
    TooShort {
        /// The length after COBS decoding.
        len: usize,
    },
    /// The CRC does not match: a byte was corrupted, or the frame was cut.
    Crc,
    /// A valid CRC but not this protocol's magic byte.
    Magic {
        /// The first byte.
        found: u8,
    },
    /// A message that goes the other way: the line echoes what this side sends (a tty not in
    /// raw mode, a loopback).
    WrongDirection {
        /// The kind code.
        kind: u8,
    },
    /// A frame of another protocol major version, other than a `Hello`: the peer needs a
    /// firmware or runtime of the same major version.
    IncompatibleVersion {
        /// The frame's major version.
        major: u8,
    },
    /// A message kind this version does not know: the peer is newer. Not an error of the link.
    Unsupported {
        /// The kind code.
        kind: u8,
    },
    /// A known kind whose body does not decode (a bug in the peer, as the CRC was valid).
    Malformed {
        /// The kind code.
        kind: u8,
    },
}

impl FrameError {
    /// Whether the bytes were damaged or cut on the way (as opposed to a valid frame this side
    /// cannot use).
    pub const fn is_corruption(&self) -> bool {
        matches!(
            self,
            FrameError::Overflow | FrameError::Cobs | FrameError::TooShort { .. } | FrameError::Crc
        )
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Overflow => f.write_str("frame longer than the buffer; dropped"),
            FrameError::Cobs => f.write_str("frame is not valid COBS"),
            FrameError::TooShort { len } => write!(f, "frame of {len} bytes is too short"),
            FrameError::Crc => f.write_str("frame CRC mismatch"),
            FrameError::Magic { found } => {
                write!(f, "not a Sense Pulse node frame (magic {found:#04x})")
            }
            FrameError::WrongDirection { kind } => {
                write!(
                    f,
                    "message kind {kind:#04x} goes the other way (is the line echoing?)"
                )
            }
            FrameError::IncompatibleVersion { major } => {
                write!(f, "frame of protocol major version {major}")
            }
            FrameError::Unsupported { kind } => write!(f, "unsupported message kind {kind:#04x}"),
            FrameError::Malformed { kind } => write!(f, "malformed message of kind {kind:#04x}"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Turns a stream of bytes into messages of type `M`, one frame at a time, in a fixed buffer of
/// `N` bytes (by default [`MAX_ENCODED_LEN`], the longest frame of this major version).
///
/// Every `0x00` ends a frame: whatever was buffered is decoded, or reported as the error it is,
/// and the next byte starts a new frame. Garbage therefore costs at most the frame it lands in.
/// Empty frames (consecutive `0x00`s) are skipped silently.
pub struct Decoder<M, const N: usize = MAX_ENCODED_LEN> {
    buf: Vec<u8, N>,
    /// Dropping bytes up to the next delimiter, after an overflow.
    discarding: bool,
    _message: PhantomData<fn() -> M>,
}

impl<M: Message, const N: usize> Decoder<M, N> {
    /// A decoder waiting for a frame.
    pub const fn new() -> Self {
        Decoder {
            buf: Vec::new(),
            discarding: false,
            _message: PhantomData,
        }
    }

    /// Takes one byte; returns what a frame it completes holds.
    pub fn push(&mut self, byte: u8) -> Option<Result<M, FrameError>> {
        if byte == DELIMITER {
            if core::mem::take(&mut self.discarding) || self.buf.is_empty() {
                return None;
            }
            let result = decode_frame::<M>(&mut self.buf);
            self.buf.clear();
            return Some(result);
        }
        if self.discarding {
            return None;
        }
        if self.buf.push(byte).is_err() {
            self.buf.clear();
            self.discarding = true;
            return Some(Err(FrameError::Overflow));
        }
        None
    }

    /// Takes `bytes`, e.g. what one `read` returned: iterates over what the frames they complete
    /// hold. Bytes the iterator has not reached when it is dropped are not taken.
    pub fn feed<'d, 'b>(&'d mut self, bytes: &'b [u8]) -> Feed<'d, 'b, M, N> {
        Feed {
            decoder: self,
            bytes: bytes.iter(),
        }
    }

    /// Drops a partly received frame, e.g. after reopening the port.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }

    /// Bytes of a frame received so far.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl<M: Message, const N: usize> Default for Decoder<M, N> {
    fn default() -> Self {
        Decoder::new()
    }
}

impl<M, const N: usize> fmt::Debug for Decoder<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("buffered", &self.buf.len())
            .field("capacity", &N)
            .field("discarding", &self.discarding)
            .finish()
    }
}

/// The messages of the frames that a slice of bytes completes: [`Decoder::feed`].
pub struct Feed<'d, 'b, M, const N: usize> {
    decoder: &'d mut Decoder<M, N>,
    bytes: core::slice::Iter<'b, u8>,
}

impl<M: Message, const N: usize> Iterator for Feed<'_, '_, M, N> {
    type Item = Result<M, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        for &byte in self.bytes.by_ref() {
            if let Some(result) = self.decoder.push(byte) {
                return Some(result);
            }
        }
        None
    }
}

impl<M, const N: usize> fmt::Debug for Feed<'_, '_, M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("decoder", &self.decoder)
            .field("remaining", &self.bytes.len())
            .finish()
    }
}

/// Decodes one COBS-encoded frame (without delimiters), in place.
fn decode_frame<M: Message>(encoded: &mut [u8]) -> Result<M, FrameError> {
    let len = cobs::decode_in_place(encoded).map_err(|_| FrameError::Cobs)?;
    let raw = &encoded[..len];
    let Some(content_len) = len.checked_sub(CRC_LEN).filter(|n| *n >= HEADER_LEN) else {
        return Err(FrameError::TooShort { len });
    };
    let (content, crc) = raw.split_at(content_len);
    let Ok(crc) = <[u8; CRC_LEN]>::try_from(crc) else {
        return Err(FrameError::TooShort { len });
    };
    if CRC.checksum(content) != u32::from_le_bytes(crc) {
        return Err(FrameError::Crc);
    }
    let &[magic, major, kind, ref body @ ..] = content else {
        return Err(FrameError::TooShort { len });
    };
    if magic != MAGIC {
        return Err(FrameError::Magic { found: magic });
    }
    if Direction::of_kind(kind) != M::DIRECTION {
        return Err(FrameError::WrongDirection { kind });
    }
    // A Hello's layout never changes: it is read whatever the major version, so the other side
    // learns which version the node speaks.
    if major != M::MAJOR && kind != HELLO {
        return Err(FrameError::IncompatibleVersion { major });
    }
    match M::decode_body(kind, body) {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(FrameError::Unsupported { kind }),
        Err(_) => Err(FrameError::Malformed { kind }),
    }
}
