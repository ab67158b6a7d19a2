//! The WebSocket routes: `/ws/sources[?mode=delta]`, `/ws/grid`, `/ws/logs[?level=warn]`. The
//! guard has authorised them and checked their `Origin` like any API call (upstream left them
//! open); the feeds themselves are in `crate::ws`.

use std::rc::Rc;

use picoserve::extract::State;
use picoserve::response::ws::{
    CallbackNotUsingState, UnspecifiedProtocol, UpgradedWebSocket, WebSocketUpgrade,
};
use sense_bus::Scope;
use sense_bus::ids::NodeName;
use serde::Deserialize;

use super::ApiQuery;
use crate::guard::Ctx;
use crate::reply::Reply;
use crate::ws::{Feed, Socket};

/// An opened socket.
pub type Opened = UpgradedWebSocket<UnspecifiedProtocol, CallbackNotUsingState<Socket>>;

/// What an upgrade answers: the socket, or why not.
pub type Upgrade = Result<Opened, Reply>;

/// Opens the socket if the WebSocket caps allow one more (`GATEWAY_MAX_WEBSOCKETS`, and per
/// client); the permit is held for as long as the socket lives.
fn open(ctx: &Ctx, upgrade: WebSocketUpgrade, feed: Feed) -> Upgrade {
    let Some(permit) = ctx.registry.try_websocket(ctx.peer) else {
        return Err(Reply::error(
            503,
            "too many WebSockets are open: close one (another tab?) and try again",
        )
        .with_header("Retry-After", "5"));
    };
    Ok(upgrade.on_upgrade(Socket {
        shared: Rc::clone(&ctx.shared),
        feed,
        permit,
    }))
}

/// `/ws/sources`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct SourcesQuery {
    /// `delta` (ours): a full message, then only what changed. Default: the contract's shape.
    pub mode: Option<String>,
}

/// Live sources.
pub async fn sources(
    State(ctx): State<Ctx>,
    ApiQuery(query): ApiQuery<SourcesQuery>,
    upgrade: WebSocketUpgrade,
) -> Upgrade {
    let feed = match query.mode.as_deref() {
        None | Some("" | "full" | "contract") => Feed::Sources,
        Some("delta") => Feed::SourcesDelta,
        Some(other) => {
            return Err(Reply::error(
                400,
                format!(
                    "unknown mode `{other}` (expected `delta`, or none for the contract's shape)"
                ),
            ));
        }
    };
    open(&ctx, upgrade, feed)
}

/// `/ws/grid`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct GridQuery {
    /// A satellite Pi's name (`kitchen`): its LED matrix. Default: the hub's.
    pub node: Option<String>,
}

/// The LED matrix: the hub's, or a named node's (`?node=kitchen`).
pub async fn grid(
    State(ctx): State<Ctx>,
    ApiQuery(query): ApiQuery<GridQuery>,
    upgrade: WebSocketUpgrade,
) -> Upgrade {
    let scope = match query.node.as_deref() {
        None | Some("") => Scope::HUB,
        Some(name) => match NodeName::parse(name) {
            Ok(node) => Scope::node(node),
            Err(e) => return Err(Reply::error(400, format!("node: {e}"))),
        },
    };
    let Some(rx) = ctx.shared.hub.watch_grid(&scope) else {
        return Err(Reply::error(
            404,
            format!(
                "no Pi named {} has reported to this hub",
                query.node.unwrap_or_default()
            ),
        ));
    };
    open(&ctx, upgrade, Feed::Grid(rx))
}

/// `/ws/logs`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    /// The lowest level sent: `debug`, `info`, `warn` (default), `error`.
    pub level: Option<String>,
}

/// Log entries.
pub async fn logs(
    State(ctx): State<Ctx>,
    ApiQuery(query): ApiQuery<LogsQuery>,
    upgrade: WebSocketUpgrade,
) -> Upgrade {
    open(&ctx, upgrade, Feed::logs(query.level.as_deref()))
}
