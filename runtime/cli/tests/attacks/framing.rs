//! Malformed request lines, oversized heads and bodies, lying or duplicate `Content-Length`,
//! chunked bodies: each answered and closed, never read as another request.

use std::net::SocketAddr;

use sense_testkit::basic_auth;

use crate::common::Run;
use crate::wire::exchange;
use crate::{PASSWORD, Tally};

pub(crate) async fn class(run: &mut Run) {
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let auth = format!("Authorization: {right}\r\n");
    let inner = format!("GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n");
    let post = |extra: &str, body: &str| {
        format!(
            "POST /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\
             Content-Type: application/json\r\n{extra}\r\n{body}"
        )
    };
    // (name, bytes, half-close, statuses allowed for the one answer; empty: none or any ≥ 400)
    let big_head = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17 * 1024)
    );
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
        "X-A: a\r\n".repeat(3000)
    );
    let big_body = "[".to_owned() + &"1,".repeat(17 * 1024) + "1]";
    let cases: Vec<(&str, String, bool, Vec<u16>)> = vec![
        ("garbage line", "GARBAGE\r\n\r\n".into(), true, vec![]),
        ("no target", "GET\r\n\r\n".into(), true, vec![]),
        // Lenient on the version (answered as 1.1), which smuggles nothing.
        (
            "bad version",
            "GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n".into(),
            true,
            vec![200, 400, 505],
        ),
        (
            "binary",
            "\x16\x03\x01\x00\x25\x01\x00\x00\r\n\r\n".into(),
            true,
            vec![],
        ),
        (
            "NUL in target",
            "GET /he\0alth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            true,
            vec![],
        ),
        (
            "space in target",
            "GET /api/config x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            true,
            vec![],
        ),
        (
            "header without colon",
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColon\r\n\r\n".into(),
            true,
            vec![],
        ),
        ("17 KiB header", big_head, false, vec![431]),
        ("3000 headers", many_headers, false, vec![431, 400]),
        (
            "body over 32 KiB",
            post(
                &format!("Content-Length: {}\r\n", big_body.len()),
                &big_body,
            ),
            // Refused and skipped (the connection stays up for the next request): end it.
            true,
            vec![413],
        ),
        (
            "huge Content-Length",
            post("Content-Length: 99999999999\r\n", "{}"),
            false,
            vec![413, 400],
        ),
        (
            "Content-Length shorter, then a request",
            post(
                "Content-Length: 2\r\nConnection: close\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![200, 400],
        ),
        (
            "Content-Length longer, a request inside",
            post(
                &format!("Content-Length: {}\r\n", inner.len() + 200),
                &format!("{{}}{inner}"),
            ),
            true,
            vec![],
        ),
        (
            "differing Content-Lengths",
            post(
                "Content-Length: 2\r\nContent-Length: 60\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![400],
        ),
        (
            "Content-Length list",
            post("Content-Length: 2, 60\r\n", &format!("{{}}{inner}")),
            false,
            vec![400],
        ),
        (
            "negative Content-Length",
            post("Content-Length: -1\r\n", &format!("{{}}{inner}")),
            false,
            vec![400],
        ),
        (
            "chunked",
            post(
                "Transfer-Encoding: chunked\r\n",
                &format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len()),
            ),
            false,
            vec![411],
        ),
        (
            "Content-Length and chunked",
            post(
                "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![400],
        ),
        (
            "chunked and Content-Length",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![400],
        ),
        (
            "obfuscated Transfer-Encoding",
            post(
                "Content-Length: 2\r\nTransfer-Encoding : chunked\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![400],
        ),
        (
            "folded header",
            post(
                "Content-Length: 2\r\nX-Fold: a\r\n Transfer-Encoding: chunked\r\n",
                &format!("{{}}{inner}"),
            ),
            false,
            vec![400],
        ),
    ];
    let mut t = Tally::new("framing");
    for (name, bytes, half_close, allowed) in &cases {
        let e = exchange(address, bytes.as_bytes(), *half_close).await;
        let status = e.answers.first().map(|a| a.status);
        let held = e.answers.len() <= 1
            && e.closed
            && e.leftover == 0
            && match status {
                None => allowed.is_empty(),
                Some(s) if allowed.is_empty() => s >= 400,
                Some(s) => allowed.contains(&s),
            }
            // The smuggled GET /api/config was never answered (its JSON has `display`).
            && !e.answers.iter().any(|a| a.text().contains("\"display\""));
        t.case(held, || {
            format!(
                "{name}: {:?} closed {} leftover {}",
                e.answers
                    .iter()
                    .map(|a| (a.status, a.text().chars().take(120).collect::<String>()))
                    .collect::<Vec<_>>(),
                e.closed,
                e.leftover
            )
        });
    }
    t.finish(run);
}
