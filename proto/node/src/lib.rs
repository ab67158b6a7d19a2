#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod frame;
pub mod message;

pub use frame::{
    DELIMITER, Decoder, Direction, EncodeError, Encoder, Feed, FrameError, MAX_FRAME_LEN, Message,
};
pub use message::{
    Capabilities, Command, CommandKind, Hello, HostMessage, NodeMessage, ProtocolVersion, Quantity,
    Reading, Readings, Reply, ReplyError, Sensor, SensorError, Status, kind,
};
