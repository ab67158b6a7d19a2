//! Request framing and connection caps over raw TCP: what picoserve cannot refuse by itself
//! (`Transfer-Encoding`, ambiguous `Content-Length`) is answered and closed before it is read as a
//! request; one address cannot take every connection; slow connections make room first.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{no_env, start_with};
use sense_testkit::raw_http::{Answer, read_ws_frame};
use sense_testkit::ws::WsClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A hang guard only: every exchange here ends long before.
const PATIENCE: Duration = Duration::from_secs(30);

/// Every answer in `bytes`; panics on anything left over.
fn answers(mut bytes: &[u8]) -> Vec<Answer> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let (answer, n) = Answer::parse(bytes)
            .unwrap_or_else(|| panic!("not an answer: {}", String::from_utf8_lossy(bytes)));
        all.push(answer);
        bytes = &bytes[n..];
    }
    all
}

/// Reads until the gateway closes the connection.
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("the gateway keeps the connection open");
    bytes
}

/// Sends `bytes` on a new connection and reads every answer until the gateway closes it.
async fn exchange(address: SocketAddr, bytes: &[u8]) -> Vec<Answer> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    answers(&read_to_end(&mut stream).await)
}

/// Reads exactly one answer on a kept-alive connection.
async fn one_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((answer, n)) = Answer::parse(&bytes) {
                assert_eq!(n, bytes.len(), "one answer only");
                return answer;
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed before an answer: {}",
                String::from_utf8_lossy(&bytes)
            );
            bytes.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("no answer")
}

/// A connection from `local` (a loopback address of its own).
async fn connect_from(local: &str, address: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(address).await.unwrap()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn post(path: &str, body: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_chunked_body_smuggling_a_request_gets_one_answer_and_the_connection_closes() {
    let g = start_with("smuggle", no_env);
    let inner = "GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let attack = format!(
        "POST /api/command/sensors HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{inner}\r\n0\r\n\r\n",
        inner.len()
    );
    let answers = exchange(g.address, attack.as_bytes()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 411);
    assert_eq!(answers[0].header("connection"), Some("close"));
    assert!(
        answers[0].json()["error"]
            .as_str()
            .unwrap()
            .contains("Content-Length"),
        "{answers:?}"
    );
}

#[tokio::test]
async fn ambiguous_lengths_and_transfer_codings_are_refused_and_closed() {
    let g = start_with("ambiguous", no_env);
    let follow = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (head, status) in [
        ("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", 400),
        ("Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", 400),
        ("Content-Length: 2\r\nContent-Length: 40\r\n", 400),
        ("Content-Length: 2, 40\r\n", 400),
        ("Content-Length: 2, 2\r\n", 400),
        ("Content-Length: two\r\n", 400),
        ("Content-Length: +2\r\n", 400),
        ("Transfer-Encoding: gzip\r\n", 501),
        (" Content-Length: 2\r\n", 400),
        ("Content-Length : 2\r\n", 400),
    ] {
        let request = format!(
            "POST /api/command/sensors HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n{{}}{follow}"
        );
        let answers = exchange(g.address, request.as_bytes()).await;
        assert_eq!(answers.len(), 1, "{head:?}: {answers:?}");
        assert_eq!(answers[0].status, status, "{head:?}: {answers:?}");
        assert!(answers[0].json()["error"].is_string());
    }
    // A head larger than 16 KiB.
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17 * 1024)
    );
    let answers = exchange(g.address, big.as_bytes()).await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status, 431);
}

#[tokio::test]
async fn equal_duplicate_lengths_and_pipelined_bodies_are_served_in_order() {
    let g = start_with("pipelined", no_env);
    let body = r#"{"display": {"rotation": 90}}"#;
    let duplicate = format!(
        "POST /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {0}\r\n\
         Content-Length: {0}\r\n\r\n{body}",
        body.len()
    );
    let mut all = duplicate;
    all.push_str(&post(
        "/api/config",
        r#"{"display": {"rotation": 180}}"#,
        "",
    ));
    all.push_str("GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    // Sent at once: every request waits for the one ahead of it.
    let answers = exchange(g.address, all.as_bytes()).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200], "{answers:?}");
    assert_eq!(answers[0].json()["status"], "ok");
    assert_eq!(answers[2].json()["display"]["rotation"], 180);

    // And byte by byte, kept alive between requests.
    let mut stream = TcpStream::connect(g.address).await.unwrap();
    for request in [
        post("/api/config", r#"{"display": {"rotation": 270}}"#, ""),
        "GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
    ] {
        for byte in request.as_bytes() {
            stream.write_all(&[*byte]).await.unwrap();
        }
        let answer = one_answer(&mut stream).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(one_answer(&mut stream).await.status, 200);
}

#[tokio::test]
async fn a_body_too_large_is_refused_and_skipped_and_the_next_request_served() {
    let g = start_with("large", no_env);
    let body = format!("{{\"x\": \"{}\"}}", "a".repeat(40_000));
    let mut all = post("/api/config", &body, "");
    all.push_str("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let answers = exchange(g.address, all.as_bytes()).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [413, 200], "{answers:?}");
}

#[tokio::test]
async fn websockets_still_upgrade_and_a_refused_upgrade_ends_the_connection() {
    let g = start_with("upgrade", no_env);
    let address = g.address.to_string();
    let snapshot = tokio::task::spawn_blocking(move || {
        let mut ws = WsClient::connect(&address, "/ws/sources", &[]).unwrap();
        let first = ws.next_text();
        ws.close();
        first
    })
    .await
    .unwrap();
    assert_eq!(snapshot.as_deref(), Some("{}"));

    // Not upgraded (a cross-site page): whatever follows is not read as a request.
    let refused = format!(
        "GET /ws/sources HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: https://evil.example\r\n\r\n{}",
        post("/api/config", r#"{"display": {"rotation": 90}}"#, "")
    );
    let answers = exchange(g.address, refused.as_bytes()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 403);
    let config = exchange(
        g.address,
        b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        config[0].json()["display"]["rotation"],
        0,
        "nothing written"
    );
}

fn three_per_client(name: &str) -> Option<String> {
    (name == "GATEWAY_MAX_CONNECTIONS_PER_CLIENT").then(|| "3".to_owned())
}

#[tokio::test]
async fn an_address_at_its_cap_is_refused_at_once_and_another_address_is_served() {
    let g = start_with("per-client", three_per_client);
    // Three connections from 127.0.0.1, each answered and kept alive.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from("127.0.0.1", g.address).await;
        stream.write_all(HEALTH).await.unwrap();
        assert_eq!(one_answer(&mut stream).await.status, 200);
        held.push(stream);
    }
    // The fourth is answered 429 as soon as it speaks, its request not read, and closed.
    let mut fourth = connect_from("127.0.0.1", g.address).await;
    fourth.write_all(HEALTH).await.unwrap();
    let refused = answers(&read_to_end(&mut fourth).await);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].status, 429);
    assert!(
        refused[0].json()["error"]
            .as_str()
            .unwrap()
            .contains("too many")
    );
    // Another address is served meanwhile.
    let mut other = connect_from("127.0.0.2", g.address).await;
    other.write_all(HEALTH).await.unwrap();
    assert_eq!(one_answer(&mut other).await.status, 200);
    // The held connections still work.
    for stream in &mut held {
        stream.write_all(HEALTH).await.unwrap();
        assert_eq!(one_answer(stream).await.status, 200);
    }
}

fn three_in_total(name: &str) -> Option<String> {
    (name == "GATEWAY_MAX_CONNECTIONS").then(|| "3".to_owned())
}

fn two_in_total(name: &str) -> Option<String> {
    (name == "GATEWAY_MAX_CONNECTIONS").then(|| "2".to_owned())
}

async fn open_websocket(address: SocketAddr) -> std::sync::mpsc::Sender<()> {
    let address = address.to_string();
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let (close, closing) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let mut ws = WsClient::connect(&address, "/ws/sources", &[]).unwrap();
        let _ = ws.next_text();
        let _ = opened_tx.send(());
        let _ = closing.recv();
        ws.close();
    });
    opened.await.unwrap();
    close
}

#[tokio::test]
async fn at_the_total_cap_the_longest_waiting_connection_makes_room() {
    let g = start_with("total", three_in_total);
    // A WebSocket (busy), then two clients that stall, each from an address of its own (the
    // per-client cap is the total here): one sent a head and a little of the body it announced,
    // the other half a head.
    let _ws = open_websocket(g.address).await;
    let mut slow1 = connect_from("127.0.0.2", g.address).await;
    slow1
        .write_all(b"POST /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9000\r\n\r\n{")
        .await
        .unwrap();
    let mut slow2 = connect_from("127.0.0.3", g.address).await;
    slow2
        .write_all(b"GET /health HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // A newcomer is served: the first slow client, waiting longest, is closed for it.
    let mut newcomer = connect_from("127.0.0.4", g.address).await;
    newcomer
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answers_of(&mut newcomer).await[0].status, 200);
    assert!(
        read_to_end(&mut slow1).await.is_empty(),
        "closed without an answer"
    );
    // The second is still there.
    slow2
        .write_all(b"st: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answers_of(&mut slow2).await[0].status, 200);
}

async fn answers_of(stream: &mut TcpStream) -> Vec<Answer> {
    answers(&read_to_end(stream).await)
}

#[tokio::test]
async fn at_the_total_cap_with_every_connection_busy_a_newcomer_is_refused_at_once() {
    let g = start_with("busy", two_in_total);
    let _ws1 = open_websocket(g.address).await;
    let _ws2 = open_websocket(g.address).await;
    let mut newcomer = connect_from("127.0.0.2", g.address).await;
    newcomer.write_all(HEALTH).await.unwrap();
    let refused = answers_of(&mut newcomer).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].status, 503);
    assert_eq!(refused[0].header("connection"), Some("close"));
}

fn small_websocket_caps(name: &str) -> Option<String> {
    match name {
        "GATEWAY_MAX_WEBSOCKETS" => Some("3".into()),
        "GATEWAY_MAX_WEBSOCKETS_PER_CLIENT" => Some("2".into()),
        _ => None,
    }
}

/// Asks for `/ws/sources` from `local`; the connection and the status of the answer.
async fn upgrade_from(local: &str, address: SocketAddr) -> (TcpStream, u16) {
    let mut stream = connect_from(local, address).await;
    stream
        .write_all(
            b"GET /ws/sources HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed early");
            head.push(byte[0]);
        }
    })
    .await
    .expect("no answer");
    let status = String::from_utf8_lossy(&head[9..12]).parse().unwrap();
    (stream, status)
}

/// Reads a WebSocket's frames until its close frame; the close code.
async fn close_code(stream: &mut TcpStream) -> u16 {
    let mut buffer = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        loop {
            let frame = read_ws_frame(stream, &mut buffer).await.expect("a frame");
            if let Some(code) = frame.close_code() {
                return code;
            }
        }
    })
    .await
    .expect("no close frame")
}

#[tokio::test]
async fn websockets_are_capped_per_client_and_in_total_and_given_back_when_closed() {
    let g = start_with("websocket-caps", small_websocket_caps);
    let (mut first, a) = upgrade_from("127.0.0.1", g.address).await;
    let (_second, b) = upgrade_from("127.0.0.1", g.address).await;
    assert_eq!((a, b), (101, 101));
    let (_, third) = upgrade_from("127.0.0.1", g.address).await;
    assert_eq!(third, 503, "a third from one address is over its cap");
    let (other, status) = upgrade_from("127.0.0.2", g.address).await;
    assert_eq!(status, 101, "another address still gets in");
    // At the total, a newcomer still gets in: the oldest socket of the address holding most
    // closes for it, with 1013 (try again later).
    let (_newcomer, status) = upgrade_from("127.0.0.3", g.address).await;
    assert_eq!(status, 101, "a newcomer, while one address holds two");
    assert_eq!(close_code(&mut first).await, 1013);
    // Each holds one now: nobody makes room for anyone.
    let (_, over) = upgrade_from("127.0.0.4", g.address).await;
    assert_eq!(over, 503, "over the total");
    // Closing one gives its place back (once the gateway sees the close).
    drop(other);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_again, status) = upgrade_from("127.0.0.4", g.address).await;
        if status == 101 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
