//! `GET /api/sources` and `GET /api/sources/{id}`: served from the hub's snapshot, never from
//! Redis, so they answer at once and keep answering (frozen, and saying so) while the bus is
//! away.

use picoserve::extract::State;
use sense_bus::{NodeSourceId, SourceId};

use super::Id;
use crate::api::BusHealth;
use crate::guard::Ctx;
use crate::reply::Reply;

/// `X-Sense-Bus`: `up`, or `down; since=<unix seconds>`.
pub(super) fn bus_header(ctx: &Ctx) -> String {
    let bus = ctx.shared.hub.bus();
    match bus.state {
        BusHealth::Up => "up".to_owned(),
        BusHealth::Down => format!("down; since={:.0}", bus.since),
    }
}

/// Every source, in the contract's shape.
pub async fn all(State(ctx): State<Ctx>) -> Reply {
    Reply::shared_json(200, ctx.shared.hub.contract_json())
        .with_header("X-Sense-Bus", bus_header(&ctx))
}

/// One source.
pub async fn one(id: Id, State(ctx): State<Ctx>) -> Reply {
    let id = id.0;
    match ctx.shared.hub.source_json(&id) {
        Some(json) => Reply::shared_json(200, json).with_header("X-Sense-Bus", bus_header(&ctx)),
        None if id.parse::<SourceId>().is_ok() || NodeSourceId::parse(&id).is_some() => {
            Reply::error(
                404,
                format!("no data from `{id}` (not running, or not run yet)"),
            )
        }
        None => Reply::error(404, format!("unknown source `{id}`")),
    }
}
