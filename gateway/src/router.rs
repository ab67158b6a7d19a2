//! What exists: every route of the gateway, in one table, behind the one guard
//! (`crate::guard`: host, origin, sign-in, limits, security headers).
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/health` | bus alive (public) |
//! | GET, POST | `/api/session`, `/api/login`, `/api/logout` | the dashboard's sign-in (public) |
//! | GET | `/api/sources`, `/api/sources/{id}` | readings and status, from the hub |
//! | GET, POST | `/api/config` | config, secrets hidden; validated partial, atomic update |
//! | POST | `/api/command/{target}` | a command and its answer |
//! | GET | `/api/history/{source}/{sensor}` | 24 h of a reading, downsampled |
//! | GET | `/api/stream/{file}` | HLS playlist and segments |
//! | GET | `/metrics` | Prometheus |
//! | WS | `/ws/sources`, `/ws/grid`, `/ws/logs` | live updates |
//! | GET | anything else | the dashboard's files, `index.html` for its own routes (public) |

use picoserve::Router;
use picoserve::routing::{PathRouter, get, parse_path_segment, post};

use crate::files::{self, FileName};
use crate::guard::{Conn, Guard};
use crate::handlers::{Id, SensorId, command, config, history, session, sockets, sources, status};

/// The gateway's router for one connection. (No nested routers: a nested one would answer its
/// own plain-text 404s instead of [`files::Fallback`]'s JSON ones.)
pub fn app(conn: Conn) -> Router<impl PathRouter> {
    Router::from_service(files::Fallback)
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .route("/api/session", get(session::session))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/sources", get(sources::all))
        .route(
            ("/api/sources", parse_path_segment::<Id>()),
            get(sources::one),
        )
        .route("/api/config", get(config::get).post(config::post))
        .route(
            ("/api/command", parse_path_segment::<Id>()),
            post(command::post),
        )
        .route(
            (
                "/api/history",
                parse_path_segment::<Id>(),
                parse_path_segment::<SensorId>(),
            ),
            get(history::get),
        )
        .route(
            ("/api/stream", parse_path_segment::<FileName>()),
            get(files::hls),
        )
        .route("/ws/sources", get(sockets::sources))
        .route("/ws/grid", get(sockets::grid))
        .route("/ws/logs", get(sockets::logs))
        .layer(Guard)
        .with_state(conn)
}
