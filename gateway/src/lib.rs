//! # sense-gateway
//!
//! The HTTP and WebSocket gateway: the dashboard's API over the bus (`docs/CONTRACT.md` §5), the
//! dashboard's files and the camera's HLS stream, on [picoserve].
//!
//! picoserve is single-threaded (its futures are not `Send`), so the gateway runs on a
//! current-thread runtime of its own ([`spawn`]), or inside a `LocalSet` ([`serve`]); it is fed by
//! the bus through one subscription per kind of event ([`hub::run::run`]).

// The router's future nests one level per layer of picoserve's types (`router::app`).
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod conn;
pub mod files;
pub mod guard;
pub mod handlers;
pub mod hosts;
pub mod hub;
pub mod keeper;
pub mod metrics;
pub mod reply;
pub mod router;
pub mod state;
pub mod ws;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use sense_bus::{Bus, BusError, ConnectOptions};
use tokio_util::sync::CancellationToken;

pub use state::GatewayOptions;

/// Serves on `listener` until `shutdown`. Must run inside a `tokio::task::LocalSet`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    bus: Bus,
    options: GatewayOptions,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let shared = state::Shared::new(bus, options).await?;
    let hub = tokio::task::spawn_local(hub::run::run(Rc::clone(&shared), shutdown.clone()));
    let address = listener.local_addr().ok();
    tracing::info!(?address, "gateway listening");
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        conn::spawn(Rc::clone(&shared), stream, peer, shutdown.clone());
    }
    hub.abort();
    Ok(())
}

/// Where the gateway's bus is.
#[derive(Clone, Debug)]
pub enum BusSpec {
    /// An existing bus to share (the in-memory bus of `sense-pulse run`).
    Shared(Bus),
    /// A Redis URL to connect to from the gateway's own thread.
    Redis(String),
}

/// Runs the gateway on a thread of its own with a current-thread runtime, binding `listen`.
/// Returns once the port is bound (or binding failed), so callers can print the address.
pub fn spawn(
    listen: SocketAddr,
    bus: BusSpec,
    options: GatewayOptions,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let handle = std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the gateway's runtime");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot use the gateway's socket");
                        return;
                    }
                };
                let bus = match bus {
                    BusSpec::Shared(bus) => bus,
                    BusSpec::Redis(url) => tokio::select! {
                        () = shutdown.cancelled() => return,
                        bus = Bus::connect(&url, ConnectOptions::WaitForever) => match bus {
                            Ok(bus) => bus,
                            Err(e) => {
                                tracing::error!(error = %e, "gateway cannot use the bus");
                                return;
                            }
                        },
                    },
                };
                if let Err(e) = serve(listener, bus, options, shutdown).await {
                    tracing::error!(error = %e, "gateway stopped");
                }
            });
        })?;
    Ok((address, handle))
}
