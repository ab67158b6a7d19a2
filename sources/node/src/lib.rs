//! The Linux end of a microcontroller node's serial link, without the I/O.
//!
//! A node (a Raspberry Pi Pico running `sense-node`) sends `sense-node-proto` frames: a Hello,
//! then a round of readings every period, each preceded by a Status for every sensor that
//! failed, and a Reply to every command. A [`Session`] takes the bytes as the port delivers them
//! and turns them into [`Event`]s: who the node is (its source id, `node-{name}`), each round's
//! measurements and failed sensors in words, and the replies. It counts what the link did
//! ([`LinkHealth`](sense_bus::model::LinkHealth), for the source's status) and translates the
//! bus's commands (`show_text`, `set_rotation`, `clear`) into frames.
//!
//! The runtime's node service owns the port, the bus and the clock; everything it decides with
//! is here, so it is tested byte by byte without a port.

mod commands;
mod session;

pub use commands::{ACTIONS, CommandError, reply_message};
pub use session::{Event, NodeInfo, Round, Session};
