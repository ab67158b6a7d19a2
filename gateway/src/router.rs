//! What exists: every route of the gateway, in one table, behind the one guard
//! (`crate::guard`: host, origin, sign-in, limits, security headers).
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/health` | bus alive (public) |
//! | GET, POST | `/api/session`, `/api/login`, `/api/logout` | the dashboard's sign-in (public) |
//! | GET | `/api/sources`, `/api/sources/{id}` | readings and status, from the hub |
//! | GET | `/api/nodes` | the named nodes (satellite Pis), each in or out of contact, from the hub |
//! | GET, POST | `/api/config` | config, secrets hidden; validated partial, atomic update |
//! | POST | `/api/command/{target}` | a command and its answer |
//! | GET | `/api/alerts` | active alerts, their history, delivery health |
//! | GET | `/api/history/{source}/{sensor}` | 24 h of a reading, downsampled |
//! | GET | `/api/history?series=…&range=…` | several readings over 1 h … 90 d, raw or rolled up |
//! | GET | `/api/stream/{file}` | HLS playlist and segments |
//! | GET | `/metrics` | Prometheus |
//! | WS | `/ws/sources`, `/ws/grid`, `/ws/logs` | live updates |
//! | GET | anything else | the dashboard's files, `index.html` for its own routes (public) |

use picoserve::Router;
use picoserve::routing::{PathRouter, get, parse_path_segment, post};

use crate::files::{self, FileName, NoEndpoint};
use crate::guard::{Conn, Ctx, Guard};
use crate::handlers::{
    Id, SensorId, alerts, command, config, history, nodes, session, sockets, sources, status,
};

/// `/api/…`: the REST API. A path under it that no route claims gets a JSON 404.
fn api() -> Router<impl PathRouter<Ctx>, Ctx> {
    Router::from_service(NoEndpoint)
        .route("/session", get(session::session))
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/sources", get(sources::all))
        .route(("/sources", parse_path_segment::<Id>()), get(sources::one))
        .route("/nodes", get(nodes::all))
        .route("/config", get(config::get).post(config::post))
        .route("/alerts", get(alerts::get))
        .route(
            ("/command", parse_path_segment::<Id>()),
            post(command::post),
        )
        .route("/history", get(history::batch))
        .route(
            (
                "/history",
                parse_path_segment::<Id>(),
                parse_path_segment::<SensorId>(),
            ),
            get(history::get),
        )
        .route(
            ("/stream", parse_path_segment::<FileName>()),
            get(files::hls),
        )
}

/// `/ws/…`: the WebSockets.
fn sockets() -> Router<impl PathRouter<Ctx>, Ctx> {
    Router::from_service(NoEndpoint)
        .route("/sources", get(sockets::sources))
        .route("/grid", get(sockets::grid))
        .route("/logs", get(sockets::logs))
}

/// The gateway's router for one connection: the routes above, the dashboard's files for every
/// other path, all behind the guard.
pub fn app(conn: Conn) -> Router<impl PathRouter> {
    Router::from_service(files::Fallback)
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .nest("/api", api())
        .nest("/ws", sockets())
        .layer(Guard)
        .with_state(conn)
}
