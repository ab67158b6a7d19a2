//! The host's [`Command`] and its [`CommandKind`], whose wire form is written by hand (a code,
//! then the kind's argument) so that a kind this version does not know still decodes.

use core::fmt;

use heapless::String;
use sense_hal::led::Rotation;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::LED_TEXT_CAPACITY;

/// Host → node: do something. The node answers every command with a [`Reply`](super::Reply) carrying its `id`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Command {
    /// Chosen by the host (e.g. counting up); the reply carries it back.
    pub id: u32,
    /// What to do. Last in the body: a node that does not know a kind still reads the `id`.
    pub kind: CommandKind,
}

/// What a [`Command`] asks for.
///
/// On the wire: the kind's code (one byte) then its argument. A code this version does not know
/// decodes as [`CommandKind::Unknown`], whatever follows it, so the node can reply
/// [`ReplyError::Unsupported`](super::ReplyError::Unsupported).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CommandKind {
    /// Scroll this text across the LED matrix. Code 0, then the text (postcard string).
    Text(String<LED_TEXT_CAPACITY>),
    /// Turn the LED matrix. Code 1, then the degrees (0, 90, 180 or 270; postcard `u16`).
    Rotate(Rotation),
    /// Switch every LED off. Code 2.
    Clear,
    /// Say [`Hello`](super::Hello) again, then reply. Code 3. The host sends it when it opens the line: a
    /// node that started before (a UART has no connect signal; a host that restarted) is
    /// otherwise unknown to it until the node restarts.
    Identify,
    /// A kind this version does not know (sent by a newer host); its argument is skipped.
    Unknown(u8),
}

impl CommandKind {
    /// Code of [`CommandKind::Text`].
    pub const TEXT: u8 = 0;
    /// Code of [`CommandKind::Rotate`].
    pub const ROTATE: u8 = 1;
    /// Code of [`CommandKind::Clear`].
    pub const CLEAR: u8 = 2;
    /// Code of [`CommandKind::Identify`].
    pub const IDENTIFY: u8 = 3;

    /// A `Text` command; `None` when `text` exceeds [`LED_TEXT_CAPACITY`] bytes.
    pub fn text(text: &str) -> Option<CommandKind> {
        String::try_from(text).ok().map(CommandKind::Text)
    }

    /// The code on the wire.
    pub const fn code(&self) -> u8 {
        match self {
            CommandKind::Text(_) => CommandKind::TEXT,
            CommandKind::Rotate(_) => CommandKind::ROTATE,
            CommandKind::Clear => CommandKind::CLEAR,
            CommandKind::Identify => CommandKind::IDENTIFY,
            CommandKind::Unknown(code) => *code,
        }
    }
}

impl Serialize for CommandKind {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        // A tuple: postcard writes its elements one after the other, with no length.
        let mut t = match self {
            CommandKind::Text(_) | CommandKind::Rotate(_) => serializer.serialize_tuple(2)?,
            CommandKind::Clear | CommandKind::Identify | CommandKind::Unknown(_) => {
                serializer.serialize_tuple(1)?
            }
        };
        t.serialize_element(&self.code())?;
        match self {
            CommandKind::Text(text) => t.serialize_element(text.as_str())?,
            CommandKind::Rotate(rotation) => t.serialize_element(&rotation.degrees())?,
            CommandKind::Clear | CommandKind::Identify | CommandKind::Unknown(_) => {}
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for CommandKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(2, CommandKindVisitor)
    }
}

struct CommandKindVisitor;

impl<'de> Visitor<'de> for CommandKindVisitor {
    type Value = CommandKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command kind: its code, then its argument")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandKind, A::Error> {
        let code: u8 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        Ok(match code {
            CommandKind::TEXT => CommandKind::Text(
                seq.next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?,
            ),
            CommandKind::ROTATE => {
                let degrees: u16 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                CommandKind::Rotate(Rotation::from_degrees(degrees).ok_or_else(|| {
                    de::Error::invalid_value(
                        de::Unexpected::Unsigned(u64::from(degrees)),
                        &"0, 90, 180 or 270",
                    )
                })?)
            }
            CommandKind::CLEAR => CommandKind::Clear,
            CommandKind::IDENTIFY => CommandKind::Identify,
            // Whatever argument a newer kind has is left unread: the kind is last in `Command`,
            // and the body's remaining bytes are ignored.
            other => CommandKind::Unknown(other),
        })
    }
}
