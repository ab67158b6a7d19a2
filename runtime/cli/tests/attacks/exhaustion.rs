//! Exhaustion: a slowloris (1,000 connections that never finish their request head, from 40
//! loopback addresses) and 1,000 WebSocket upgrades (from 50), while a user at another address must
//! still be served. The slow connections must all be closed by the gateway (evicted, or timed out),
//! and the WebSockets held within the caps, their slots given back once they close; a user's own
//! WebSocket (the dashboard's live feed) still opens while they hold the total.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sense_gateway::conn::limits::{DEFAULT_WEBSOCKETS, DEFAULT_WEBSOCKETS_PER_CLIENT};
use sense_testkit::basic_auth;
use sense_testkit::raw_http::read_ws_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::Run;
use crate::wire::{call, connect, upgrade_held};
use crate::{PASSWORD, Tally};

/// Slow connections, and WebSocket upgrades, tried.
const ATTACKERS: usize = 1000;
/// A user's request must be answered within this while the attack goes on.
const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// Every slow connection must be closed within this: the gateway waits 10 s at most for a
/// request to begin and 5 s for its head, and evicts the longest waiting when it is full.
const SLOW_CLOSED_WITHIN: Duration = Duration::from_secs(30);

/// The loopback address of attacker `i`, `each` to an address, in the `127.0.{net}.0/24` block:
/// one address's connections come one after another, so that its own cap is met first.
fn attacker(net: u8, i: usize, each: usize) -> String {
    format!("127.0.{net}.{}", 1 + i / each)
}

pub(crate) async fn class(run: &mut Run) {
    let mut t = Tally::new("exhaustion");
    slowloris(run, &mut t).await;
    websockets(run, &mut t).await;
    println!(
        "attacks: exhaustion: {ATTACKERS} slow connections and {ATTACKERS} WebSocket upgrades"
    );
    t.finish(run);
}

/// A user's requests, from an address of their own, each answered 200 within the bound.
async fn user_is_served(run: &Run, t: &mut Tally, from: &str, what: &str) -> Duration {
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let asked = Instant::now();
        let a = call(
            address,
            Some(from),
            "GET",
            "/api/sources",
            &[("Authorization", &right)],
            "",
        )
        .await;
        let took = asked.elapsed();
        slowest = slowest.max(took);
        t.case(a.status == 200 && took < ANSWER_BOUND, || {
            format!("{what}: a user's request → {} after {took:?}", a.status)
        });
    }
    slowest
}

async fn slowloris(run: &Run, t: &mut Tally) {
    const EACH: usize = 25; // under the 32 connections one client may hold
    let address: SocketAddr = run.address.parse().unwrap();
    let mut slow = Vec::with_capacity(ATTACKERS);
    for i in 0..ATTACKERS {
        let mut stream = connect(address, Some(&attacker(1, i, EACH))).await;
        // A head begun and never finished.
        let _ = stream
            .write_all(b"GET /api/sources HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await;
        slow.push(stream);
    }
    let slowest = user_is_served(run, t, "127.0.2.1", "slowloris").await;

    // Each slow connection: read until the gateway closes it (an answer first, or not).
    let ends: Vec<_> = slow
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut answer = Vec::new();
                tokio::time::timeout(SLOW_CLOSED_WITHIN, stream.read_to_end(&mut answer))
                    .await
                    .is_ok()
                    .then(|| {
                        String::from_utf8_lossy(&answer)
                            .split_whitespace()
                            .nth(1)
                            .map(str::to_owned)
                    })
            })
        })
        .collect();
    let mut answered: HashMap<String, usize> = HashMap::new();
    for end in ends {
        let end = end.await.unwrap();
        if let Some(status) = &end {
            *answered
                .entry(status.clone().unwrap_or_else(|| "closed".into()))
                .or_default() += 1;
        }
        t.case(end.is_some(), || {
            format!("a slow connection still open after {SLOW_CLOSED_WITHIN:?}")
        });
    }
    user_is_served(run, t, "127.0.2.1", "after the slowloris").await;
    println!(
        "attacks: exhaustion: slowloris: a user's slowest answer {slowest:?}; slow connections ended: {answered:?}"
    );
}

async fn websockets(run: &Run, t: &mut Tally) {
    const EACH: usize = 20; // over the 16 WebSockets one client may hold
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let headers = [("Authorization", right.as_str())];
    let mut held = Vec::new();
    let mut per_client: HashMap<String, usize> = HashMap::new();
    let mut refused = 0;
    for i in 0..ATTACKERS {
        let from = attacker(3, i, EACH);
        let (status, stream) = upgrade_held(address, Some(&from), "/ws/sources", &headers).await;
        match status {
            101 => {
                *per_client.entry(from).or_default() += 1;
                held.push(stream);
            }
            429 | 503 => refused += 1,
            _ => {}
        }
        t.case(matches!(status, 101 | 429 | 503), || {
            format!(
                "WebSocket upgrade {i} from {}: {status}",
                attacker(3, i, EACH)
            )
        });
    }
    // Upgraded: some were closed since, to make room for other addresses' (the gateway holds at
    // most its total at any time).
    let opened = held.len();
    let most = per_client.values().copied().max().unwrap_or(0);
    let holding = websockets_held(address, &right).await;
    t.case(
        opened > 0 && holding <= DEFAULT_WEBSOCKETS && most <= DEFAULT_WEBSOCKETS_PER_CLIENT,
        || format!("{opened} WebSockets opened, {holding} held, {most} by one client"),
    );
    let slowest = user_is_served(run, t, "127.0.2.2", "1,000 WebSockets").await;
    // The user's dashboard opens its live feed while the attackers hold the total: it gets in,
    // and its first message comes.
    let (status, mut feed) =
        upgrade_held(address, Some("127.0.2.2"), "/ws/sources", &headers).await;
    let first = first_text(&mut feed).await;
    t.case(status == 101 && first.is_some(), || {
        format!("a user's WebSocket while the attackers hold the total: {status}, first message {first:?}")
    });
    drop(feed);
    println!(
        "attacks: exhaustion: WebSockets: {opened} opened, {holding} held at once, {refused} refused, at most {most} per client; a user's slowest answer {slowest:?}, the user's own WebSocket {status}"
    );

    // Closed by their clients: their slots are free again.
    drop(held);
    let start = Instant::now();
    let reopened = loop {
        let (status, mut stream) =
            upgrade_held(address, Some("127.0.2.3"), "/ws/sources", &headers).await;
        let _ = stream.shutdown().await;
        if status == 101 || start.elapsed() > Duration::from_secs(10) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    t.case(reopened == 101, || {
        format!("a WebSocket after the others closed: {reopened}")
    });
}

/// `sense_gateway_websocket_clients` from `/metrics`, once the gateway holds at most its total
/// (sockets closed to make room end a moment after); what it holds after a bounded wait.
async fn websockets_held(address: SocketAddr, authorization: &str) -> usize {
    let read = || async {
        let a = call(
            address,
            Some("127.0.2.4"),
            "GET",
            "/metrics",
            &[("Authorization", authorization)],
            "",
        )
        .await;
        a.text()
            .lines()
            .find_map(|l| l.strip_prefix("sense_gateway_websocket_clients "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let held = read().await;
        if held <= DEFAULT_WEBSOCKETS || Instant::now() > deadline {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first text frame of a WebSocket just upgraded, if one comes within a few seconds.
async fn first_text(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let frame = read_ws_frame(stream, &mut buffer).await?;
            if frame.text().is_some() || frame.close_code().is_some() {
                return frame.text();
            }
        }
    })
    .await
    .ok()
    .flatten()
}
