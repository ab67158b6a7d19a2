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
use std::time::{Duration, Instant};

use sense_bus::{Bus, BusError, ConnectOptions, TlsOptions};
use tokio_util::sync::CancellationToken;

pub use state::GatewayOptions;

/// Serves on `listener` until `shutdown`. Must run inside a `tokio::task::LocalSet`.
///
/// Connections are capped ([`conn::limits`]: per client, in total under the file-descriptor
/// limit, slow ones closed first); a connection over a cap is refused at once. When accepting
/// fails (no file descriptor left), the loop backs off (10 ms doubling to 1 s), closes the
/// longest-waiting connection, and logs the failure once, then once a minute with a count.
pub async fn serve(
    listener: tokio::net::TcpListener,
    bus: Bus,
    options: GatewayOptions,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let limits = conn::Limits::from_env(options.env, conn::limits::descriptor_limit());
    let shared = state::Shared::new(bus, options).await?;
    // The sign-in settings before the first request: until they are read, nobody is let in
    // (the settings in force start as "unread", or as the last valid ones kept on disk).
    shared.reconcile_config().await;
    let hub = tokio::task::spawn_local(hub::run::run(Rc::clone(&shared), shutdown.clone()));
    let address = listener
        .local_addr()
        .map_or_else(|_| "its socket".to_owned(), |a| a.to_string());
    tracing::info!(
        "gateway listening on {address}: at most {} connections ({} per client), {} WebSockets \
         ({} per client)",
        limits.connections,
        limits.per_client,
        limits.websockets,
        limits.websockets_per_client
    );
    let trusted = Rc::downgrade(&shared);
    // Everyone behind a trusted proxy comes from its address: it is not capped per client.
    let registry = conn::Registry::new(limits).exempting(move |ip| {
        trusted.upgrade().is_some_and(|shared| {
            shared
                .trusted_proxies
                .borrow()
                .iter()
                .any(|range| range.contains(ip))
        })
    });
    let refuser = conn::Refuser::new(limits.answered_refusals);
    let mut backoff = conn::limits::Backoff::default();
    let mut failures = conn::limits::Tally::new(Duration::from_secs(60));
    let mut refusals = conn::limits::Tally::new(Duration::from_secs(60));
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if per_connection(&e) => {
                    tracing::debug!(error = %e, "a connection failed before it was accepted");
                    continue;
                }
                Err(e) => {
                    // Out of file descriptors, most likely: a waiting connection gives one back.
                    registry.evict_longest_waiting();
                    if let Some(n) = failures.note(Instant::now()) {
                        tracing::warn!(
                            error = %e,
                            failures = n,
                            "accept failed (backing off; logged once a minute)"
                        );
                    }
                    let pause = backoff.next_pause();
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            },
        };
        backoff.reset();
        if let Some(n) = failures.due(Instant::now()) {
            tracing::warn!(
                failures = n,
                "accept failed (since the last line; it works now)"
            );
        }
        match registry.admit(peer.ip(), &shutdown) {
            Ok(slot) => {
                if let Some(n) = refusals.due(Instant::now()) {
                    tracing::warn!(
                        refused = n,
                        "connections refused over the caps (since the last line)"
                    );
                }
                conn::spawn(Rc::clone(&shared), slot, stream, peer);
            }
            Err(refusal) => {
                refuser.refuse(stream, refusal);
                if let Some(n) = refusals.note(Instant::now()) {
                    let limits = registry.limits();
                    tracing::warn!(
                        client = %peer.ip(),
                        refused = n,
                        per_client = limits.per_client,
                        total = limits.connections,
                        "connections refused over the caps (logged once a minute)"
                    );
                }
            }
        }
    }
    hub.abort();
    Ok(())
}

/// An accept error about one connection only (it went away before it was accepted): no reason
/// to pause.
fn per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

/// Where the gateway's bus is.
#[derive(Clone, Debug)]
pub enum BusSpec {
    /// An existing bus to share (the in-memory bus of `sense-pulse run`).
    Shared(Bus),
    /// A Redis URL to connect to from the gateway's own thread, with the certificates a
    /// `rediss://` one uses.
    Redis(String, TlsOptions),
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
                    BusSpec::Redis(url, tls) => tokio::select! {
                        () = shutdown.cancelled() => return,
                        bus = Bus::connect_with(&url, ConnectOptions::WaitForever, &tls) => match bus {
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
