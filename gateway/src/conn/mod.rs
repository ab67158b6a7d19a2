//! One TCP connection: HTTP requests (and a WebSocket after an upgrade) served by picoserve.

pub mod framing;
pub mod limits;

use std::net::SocketAddr;
use std::rc::Rc;

use tokio_util::sync::CancellationToken;

use crate::service;
use crate::state::Shared;

/// picoserve's settings: connections kept alive; a stalled client is dropped after its write
/// timeout, so it cannot hold the gateway.
static CONFIG: picoserve::Config = picoserve::Config::new(picoserve::Timeouts {
    start_read_request: picoserve::time::Duration::from_secs(10),
    persistent_start_read_request: picoserve::time::Duration::from_secs(10),
    read_request: picoserve::time::Duration::from_secs(5),
    write: picoserve::time::Duration::from_secs(5),
})
.keep_connection_alive();

/// Bytes per connection for the request head and a body read at once (a config update).
const REQUEST_BUFFER: usize = 32 * 1024;

/// Serves one accepted connection until it closes or `stop`.
pub async fn serve_connection(
    shared: Rc<Shared>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let app = picoserve::Router::from_service(service::Gateway {
        shared,
        peer: peer.ip(),
    });
    let mut buffer = vec![0u8; REQUEST_BUFFER];
    let server = picoserve::Server::new_tokio(&app, &CONFIG, &mut buffer);
    tokio::select! {
        () = stop.cancelled() => {}
        result = server.serve(stream) => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
    }
}
