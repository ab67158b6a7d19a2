//! One TCP connection: HTTP requests (and a WebSocket after an upgrade) served by picoserve,
//! under the connection caps ([`limits`]) and with request framing checked first ([`framing`]).
//!
//! A connection alternates between two states:
//!
//! - **waiting** for a request (new, or kept alive after an answer): the connection reads the
//!   request itself ([`socket::Framed`]), head and body, holding only the bytes that came (a slow
//!   client sending half a head holds 1 KiB, one announcing a large body and sending little of it
//!   not much more), for at most 10 s before the first byte and 5 s after it. A waiting
//!   connection is the first to be closed when the gateway is at its connection cap.
//! - **busy**: the request is complete and its framing accepted; picoserve serves it (or the
//!   WebSocket it upgrades to) with a buffer sized for it (the head and body, 1 to 32 KiB),
//!   freed as soon as it is answered.
//!
//! Memory bound: a waiting connection costs its task (about 1.5 KiB), the socket's registration
//! and the bytes it has sent (up to [`REQUEST_BUFFER`]); a busy one adds its request's buffer
//! (up to [`REQUEST_BUFFER`] again) and picoserve's future while it is served. With the caps,
//! connections hold at most `GATEWAY_MAX_CONNECTIONS` × about 70 KiB in the worst case (all of
//! them busy with 32 KiB requests), and about 3 KiB each when they are slow clients. When they
//! close, glibc keeps part of that as free heap it reuses for the next connections (the heap
//! does not shrink while a few small freed blocks, cached for reuse, sit near its top): measured
//! with `bench/gateway-load.sh`, 2,000 slow connections take RSS from 8.9 to 14.2 MiB and it stays
//! there (1.6× idle; 1.2× with the default cap of 512), and it does not grow with further
//! bursts.

pub mod framing;
pub mod limits;
pub mod socket;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use framing::Violation;
pub use limits::{Limits, Refusal, Registry, Slot, WebSocketPermit};
use socket::{Framed, Stopped};

use crate::guard::Conn;
use crate::router;
use crate::state::Shared;

/// picoserve's settings for one request: its answer written within 5 s (a stalled client is
/// dropped, it cannot hold the gateway); a body too large to hold first within 5 s. The wait
/// for a request is the connection's own ([`WAIT_FOR_REQUEST`], [`READ_REQUEST`]).
static CONFIG: picoserve::Config = picoserve::Config::new(picoserve::Timeouts {
    start_read_request: picoserve::time::Duration::from_secs(10),
    persistent_start_read_request: picoserve::time::Duration::from_secs(10),
    read_request: picoserve::time::Duration::from_secs(5),
    write: picoserve::time::Duration::from_secs(5),
})
.keep_connection_alive();

/// The largest buffer a request is served with: its head and a body read at once (a config
/// update). A larger body is refused (413).
pub const REQUEST_BUFFER: usize = 32 * 1024;

/// How long a connection waits for the first byte of a request (a new one, or kept alive).
pub const WAIT_FOR_REQUEST: Duration = Duration::from_secs(10);

/// How long a request (head and body) may take once its first byte has come.
pub const READ_REQUEST: Duration = Duration::from_secs(5);

/// How long an answer to a refused request may take to write, and how long the client's
/// remaining bytes are read afterwards (so closing does not reset the connection before the
/// client has read the answer).
const LINGER: Duration = Duration::from_secs(2);

/// Serves one accepted connection on a task of its own. Never inlined: the connection's future
/// (picoserve's router types) is laid out here, under this crate's recursion limit, not in every
/// crate that starts a gateway.
#[inline(never)]
pub fn spawn(shared: Rc<Shared>, slot: Slot, stream: tokio::net::TcpStream, peer: SocketAddr) {
    tokio::task::spawn_local(serve_connection(shared, slot, stream, peer));
}

/// Serves one accepted connection, holding `slot`, until it closes, is evicted or the gateway
/// stops ([`Slot::closed`]).
async fn serve_connection(
    shared: Rc<Shared>,
    slot: Slot,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    let app = router::app(Conn {
        shared,
        peer: peer.ip(),
        registry: slot.registry().clone(),
    });
    let mut framed = Framed::new(stream);
    let mut since = Instant::now();
    loop {
        match wait_for_request(&mut framed, &slot, since).await {
            Head::Ready => {}
            // Boxed, as below: rare, and kept out of every connection's task.
            Head::Refused(v) => return Box::pin(answer_violation(&mut framed, &v, peer)).await,
            Head::Gone => return,
        }
        slot.busy();
        let mut buffer = vec![0; framed.begin()];
        let server = picoserve::Server::new_tokio(&app, &CONFIG, &mut buffer);
        let result = tokio::select! {
            biased;
            () = slot.closed() => return,
            // Boxed: a waiting connection's task does not carry picoserve's future.
            result = Box::pin(server.serve(&mut framed)) => result,
        };
        drop(buffer);
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
        match framed.stopped() {
            Stopped::Parked => {
                since = Instant::now();
                slot.waiting(since);
            }
            Stopped::Violation(v) => {
                return Box::pin(answer_violation(&mut framed, &v, peer)).await;
            }
            Stopped::Closed => return,
        }
    }
}

enum Head {
    /// A complete request (or head, when its body is too large to hold), framing accepted.
    Ready,
    /// A request whose framing is refused.
    Refused(Violation),
    /// Closed, timed out, evicted or the gateway stops.
    Gone,
}

/// Waits for the next request, reading it (head and body) without picoserve: a slow client
/// holds only the bytes it sent, and stays first in line to be closed at the cap.
async fn wait_for_request(framed: &mut Framed, slot: &Slot, since: Instant) -> Head {
    let waited = since.elapsed();
    let mut deadline = tokio::time::Instant::now() + WAIT_FOR_REQUEST.saturating_sub(waited);
    let mut started = false;
    loop {
        match framed.next_request() {
            Some(Ok(())) => return Head::Ready,
            Some(Err(v)) => return Head::Refused(v),
            None => {}
        }
        if !started && framed.in_request() {
            started = true;
            deadline = tokio::time::Instant::now() + READ_REQUEST;
        }
        tokio::select! {
            biased;
            () = slot.closed() => return Head::Gone,
            () = tokio::time::sleep_until(deadline) => return Head::Gone,
            read = framed.fill() => match read {
                Ok(0) | Err(_) => return Head::Gone,
                Ok(_) => {}
            },
        }
    }
}

/// An error answer with a JSON body, closing the connection; `extra`: more header lines.
fn error_response(status: (u16, &str), message: &str, extra: &str) -> String {
    let body = serde_json::json!({ "error": message }).to_string();
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\n{extra}Connection: close\r\n\r\n{body}",
        status.0,
        status.1,
        body.len()
    )
}

/// Answers a request whose framing is refused, and closes: nothing after it is read as a request.
async fn answer_violation(framed: &mut Framed, violation: &Violation, peer: SocketAddr) {
    tracing::debug!(%peer, "refused a request's framing: {}", violation.message());
    let response = error_response(violation.status(), &violation.message(), "");
    let stream = framed.stream();
    let written = tokio::time::timeout(LINGER, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 512];
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// How long a refused connection is given to send its request, so that it can be answered.
const REFUSAL_PATIENCE: Duration = Duration::from_secs(1);

/// Refuses connections: answered when the client speaks (an answer before its request would be
/// unsolicited: HTTP clients drop it), at most [`Limits::answered_refusals`] at a time; beyond,
/// closed at once.
#[derive(Debug)]
pub struct Refuser {
    answering: Rc<std::cell::Cell<usize>>,
    max: usize,
}

impl Refuser {
    /// At most `max` refusals answered at a time.
    pub fn new(max: usize) -> Refuser {
        Refuser {
            answering: Rc::default(),
            max,
        }
    }

    /// Refuses `stream` for `refusal`. Must run inside a `LocalSet`.
    pub fn refuse(&self, stream: tokio::net::TcpStream, refusal: Refusal) {
        if self.answering.get() >= self.max {
            return; // dropped: closed
        }
        self.answering.set(self.answering.get() + 1);
        let answering = Rc::clone(&self.answering);
        tokio::task::spawn_local(async move {
            answer_refusal(stream, refusal).await;
            answering.set(answering.get() - 1);
        });
    }
}

/// Answers a refused connection once it sends something (its request discarded, not parsed), and
/// closes it.
async fn answer_refusal(mut stream: tokio::net::TcpStream, refusal: Refusal) {
    let response = error_response(refusal.status(), refusal.message(), "Retry-After: 1\r\n");
    let _ = tokio::time::timeout(REFUSAL_PATIENCE, async {
        let mut sink = [0u8; 1024];
        // What has come is read first: the answer goes after the request, not into it. (Readiness
        // may be reported with nothing to read yet.)
        let mut read = 0;
        while read == 0 {
            stream.readable().await?;
            loop {
                match stream.try_read(&mut sink) {
                    Ok(0) => return Ok(()),
                    Ok(n) => read += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        // What the client sends is read (until it closes), so the close is not a reset that
        // could make it lose the answer.
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}
