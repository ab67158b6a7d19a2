//! `GET /health` (public: Docker's and Traefik's check) and `GET /metrics` (Prometheus).

use picoserve::extract::State;

use crate::api::{self, BusHealth};
use crate::guard::Ctx;
use crate::metrics;
use crate::reply::Reply;

/// Healthy while the bus answers; the sign-in settings' problem, if any, as a warning.
pub async fn health(State(ctx): State<Ctx>) -> Reply {
    let shared = &ctx.shared;
    let warnings: Vec<String> = shared.auth_config.borrow().problem().into_iter().collect();
    let bus = shared.hub.bus();
    match bus.state {
        BusHealth::Up => Reply::json(
            200,
            &api::Health {
                status: "healthy",
                error: None,
                cause: None,
                warnings,
            },
        ),
        BusHealth::Down => Reply::json(
            503,
            &api::Health {
                status: "unhealthy",
                error: Some("the data bus is unavailable"),
                cause: bus.error,
                warnings,
            },
        ),
    }
}

/// Every numeric reading as a gauge, the sources' health and the gateway's counters.
pub async fn metrics(State(ctx): State<Ctx>) -> Reply {
    let shared = &ctx.shared;
    let text = shared
        .hub
        .read(|s| metrics::render(s.sources(), &shared.counters, shared.hub.bus_up()));
    Reply::text(200, "text/plain; version=0.0.4", text)
}
