//! Raw HTTP over TCP: requests written byte for byte (no client library tidies them up) and the
//! answers parsed back.

use std::net::SocketAddr;

pub(crate) use sense_testkit::raw_http::Answer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::PATIENCE;

/// What a connection got: its answers, whether the gateway closed it, and bytes that were no
/// complete answer.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) answers: Vec<Answer>,
    pub(crate) closed: bool,
    pub(crate) leftover: usize,
}

/// Connects from `local` (a loopback address) or from 127.0.0.1.
pub(crate) async fn connect(address: SocketAddr, local: Option<&str>) -> TcpStream {
    match local {
        Some(local) => {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
            socket.connect(address).await.unwrap()
        }
        None => TcpStream::connect(address).await.unwrap(),
    }
}

/// Sends `bytes` (half-closing afterwards when `half_close`) and reads until the gateway closes
/// the connection or `PATIENCE` runs out.
pub(crate) async fn exchange(address: SocketAddr, bytes: &[u8], half_close: bool) -> Exchange {
    exchange_from(address, None, bytes, half_close).await
}

pub(crate) async fn exchange_from(
    address: SocketAddr,
    local: Option<&str>,
    bytes: &[u8],
    half_close: bool,
) -> Exchange {
    let mut stream = connect(address, local).await;
    // The gateway may refuse (and close) before it has read everything: a failed write is fine.
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut read = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    let mut answers = Vec::new();
    let mut rest: &[u8] = &read;
    while let Some((answer, n)) = Answer::parse(rest) {
        answers.push(answer);
        rest = &rest[n..];
    }
    Exchange {
        answers,
        closed,
        leftover: rest.len(),
    }
}

/// A request with `Connection: close`; `Host: 127.0.0.1` unless `headers` name one.
pub(crate) fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        r.push_str("Host: 127.0.0.1\r\n");
    }
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("Connection: close\r\n\r\n");
    r.push_str(body);
    r
}

/// One answer to one request (status 0 when there was none).
pub(crate) async fn call(
    address: SocketAddr,
    local: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let e = exchange_from(
        address,
        local,
        request(method, path, headers, body).as_bytes(),
        false,
    )
    .await;
    e.answers.into_iter().next().unwrap_or_else(Answer::none)
}

/// The status of a WebSocket upgrade of `path` with `headers` (0 when no answer came).
pub(crate) async fn upgrade(
    address: SocketAddr,
    local: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> u16 {
    upgrade_held(address, local, path, headers).await.0
}

/// [`upgrade`], and the connection, to hold the WebSocket open.
pub(crate) async fn upgrade_held(
    address: SocketAddr,
    local: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, TcpStream) {
    let mut r = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        r.push_str("Host: 127.0.0.1\r\n");
    }
    r.push_str(
        "Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut stream = connect(address, local).await;
    let _ = stream.write_all(r.as_bytes()).await;
    let mut head = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
    })
    .await;
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, stream)
}
