//! `POST /api/command/{target}` `{action, params?}`: published on `cmd:{target}`, answered by the
//! service. Every answer has the contract's `{"success", "message"}` (see [`CommandReply`]).

use std::time::Duration;

use picoserve::extract::State;
use sense_bus::command::CommandError;
use sense_bus::ids::split_scoped;
use sense_bus::{NodeName, NodeSourceId};
use serde_json::Value as Json;

use super::{Id, TryJson};
use crate::api::{CommandReply, CommandRequest};
use crate::guard::Ctx;
use crate::reply::Reply;
use crate::state::Counters;

/// The services that take commands, besides the microcontroller nodes (`node-{name}`).
pub const COMMAND_TARGETS: &[&str] = &["sensors", "network_camera", "orchestrator"];

/// Whether `target` takes commands: one of [`COMMAND_TARGETS`], or a microcontroller node's
/// source, on the hub or on a named Pi (`sensors@kitchen`, `node-pico@kitchen`).
fn takes_commands(target: &str) -> bool {
    let (base, node) = split_scoped(target);
    let known = COMMAND_TARGETS.contains(&base) || NodeSourceId::parse(base).is_some();
    known && node.is_none_or(|node| NodeName::parse(node).is_ok())
}

/// How long a command may take, by action: starting the camera container takes a while; scans
/// listen for their whole timeout.
pub fn command_timeout(action: &str) -> Duration {
    match action {
        "start_camera" => Duration::from_secs(10),
        "scan_aranet4" | "discover_cameras" => Duration::from_secs(30),
        _ => Duration::from_secs(5),
    }
}

/// Sends the command and waits for its answer.
pub async fn post(
    target: Id,
    State(ctx): State<Ctx>,
    TryJson(body): TryJson<CommandRequest>,
) -> Reply {
    let target = target.0;
    if !takes_commands(&target) {
        let known = COMMAND_TARGETS.join(", ");
        return Reply::json(
            404,
            &CommandReply::failed(format!(
                "unknown command target `{target}` (expected one of: {known}, or node-<name>; on a named Pi, with @<node> after it)"
            )),
        );
    }
    let request = match body {
        Ok(request) => request,
        Err(refused) if refused.status() == 413 => {
            return Reply::json(413, &CommandReply::failed("the request body is too large"));
        }
        Err(_) => {
            return Reply::json(
                400,
                &CommandReply::failed(
                    "the body must be a JSON object: {\"action\": \"…\", \"params\": {…}}",
                ),
            );
        }
    };
    let action = request.action;
    if action.is_empty() {
        return Reply::json(400, &CommandReply::failed("action is missing"));
    }
    let params = request.params.unwrap_or_default();
    Counters::bump(&ctx.shared.counters.commands);
    let answer = ctx
        .shared
        .commands
        .send(&target, &action, params, command_timeout(&action))
        .await;
    match answer {
        Ok(response) => {
            let done = response.is_ok();
            let message = response
                .data
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_owned)
                .or_else(|| response.error.clone())
                .unwrap_or_else(|| if done { "done" } else { "failed" }.to_owned());
            Reply::json(
                200,
                &CommandReply {
                    success: done,
                    message,
                    data: Some(response.data),
                    error: response.error,
                },
            )
        }
        Err(e @ CommandError::Timeout { .. }) => {
            Reply::json(504, &CommandReply::failed(e.to_string()))
        }
        Err(e @ CommandError::NoListener { .. }) => {
            Reply::json(503, &CommandReply::failed(e.to_string()))
        }
        Err(CommandError::Bus(e)) => Reply::json(
            503,
            &CommandReply::failed(format!("the data bus is unavailable: {e}")),
        ),
    }
}
