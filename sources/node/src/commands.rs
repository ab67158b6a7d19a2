//! The bus's commands for a node (`cmd:node-{name}`), as protocol commands, and the node's
//! replies in words.

use sense_hal::led::Rotation;
use sense_node_proto::{CommandKind, ReplyError, message::LED_TEXT_CAPACITY};
use serde_json::{Map, Value as Json};

/// The actions a node takes, named as the Sense HAT service names them, so a client that drives
/// one matrix drives the other.
pub const ACTIONS: &[&str] = &["show_text", "set_rotation", "clear"];

/// Why a command was not sent to the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError(pub String);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

fn refuse(message: impl Into<String>) -> CommandError {
    CommandError(message.into())
}

/// The protocol command for `action` with `params`, or why there is none (in words for the
/// person who sent it).
pub fn to_kind(action: &str, params: &Map<String, Json>) -> Result<CommandKind, CommandError> {
    match action {
        "show_text" => {
            let text = params
                .get("text")
                .and_then(Json::as_str)
                .ok_or_else(|| refuse("show_text needs a `text` string"))?;
            if text.is_empty() {
                return Err(refuse("show_text needs a text that is not empty"));
            }
            CommandKind::text(text).ok_or_else(|| {
                refuse(format!(
                    "the text is {} bytes; a node shows at most {LED_TEXT_CAPACITY}",
                    text.len()
                ))
            })
        }
        "set_rotation" => {
            let rotation = params
                .get("rotation")
                .and_then(Json::as_u64)
                .and_then(|d| u16::try_from(d).ok())
                .and_then(Rotation::from_degrees)
                .ok_or_else(|| refuse("set_rotation needs `rotation`: 0, 90, 180 or 270"))?;
            Ok(CommandKind::Rotate(rotation))
        }
        "clear" => Ok(CommandKind::Clear),
        other => Err(refuse(format!(
            "a node does not know `{other}` (it takes: {})",
            ACTIONS.join(", ")
        ))),
    }
}

/// What the node's reply means, for the command's answer.
pub fn reply_message(result: Result<(), ReplyError>) -> Result<&'static str, &'static str> {
    match result {
        Ok(()) => Ok("done"),
        Err(ReplyError::Unsupported) => Err("the node has no LED matrix, or does not know this"),
        Err(ReplyError::InvalidArgument) => Err("the node cannot use this argument"),
        Err(ReplyError::Busy) => Err("the node is busy; try again"),
        Err(ReplyError::Hardware) => Err("the node's LED matrix did not answer"),
        Err(ReplyError::Unknown(_)) => {
            Err("the node refused, for a reason this runtime does not know")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn bus_actions_become_protocol_commands() {
        assert_eq!(
            to_kind("show_text", &params(json!({"text": "Hi"}))),
            Ok(CommandKind::text("Hi").unwrap())
        );
        assert_eq!(
            to_kind("set_rotation", &params(json!({"rotation": 180}))),
            Ok(CommandKind::Rotate(Rotation::Deg180))
        );
        assert_eq!(to_kind("clear", &Map::new()), Ok(CommandKind::Clear));
    }

    #[test]
    fn bad_commands_are_refused_in_words() {
        let err = |action, p| to_kind(action, &params(p)).unwrap_err().0;
        assert!(err("show_text", json!({})).contains("`text`"));
        assert!(err("show_text", json!({"text": ""})).contains("not empty"));
        assert!(err("show_text", json!({"text": "x".repeat(65)})).contains("at most 64"));
        assert!(err("set_rotation", json!({"rotation": 45})).contains("0, 90, 180 or 270"));
        let unknown = err("set_pixels", json!({}));
        assert!(
            unknown.contains("set_pixels") && unknown.contains("show_text"),
            "{unknown}"
        );
    }
}
