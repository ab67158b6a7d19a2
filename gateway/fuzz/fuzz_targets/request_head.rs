//! Any bytes as the parts of a request head the gateway reads itself, before any handler: the
//! `Host` guard against DNS rebinding, who the client is behind trusted proxies
//! (`X-Forwarded-For`, `Forwarded`), the `Origin` check, the session cookie and HTTP Basic
//! credentials.
//!
//! The input is text, one part a line (each may be anything; a missing line is a missing
//! header):
//!
//! ```text
//! 172.30.0.2                         the TCP peer (else the first bytes make one)
//! 172.30.0.0/24, 127.0.0.1           trusted proxies (auth.trusted_proxies), comma-separated
//! pi.example.com:8080                Host
//! 203.0.113.7, 172.30.0.1            X-Forwarded-For
//! for="[2001:db8::1]:4711"           Forwarded
//! http://pi.example.com:8080         Origin
//! theme=dark; sense_session=ab12     Cookie
//! Basic YWRtaW46c2VjcmV0             Authorization
//! *.example.com, pi.lan              allowed host names (ALLOWED_HOSTS)
//! anything                           more text for the properties that need some
//! ```
//!
//! Properties: nothing panics, and
//!
//! - an IP literal `Host` (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:8080`) is always allowed,
//!   whatever is configured, and a refused one is named as `host_name` reads it, never an IP
//!   literal or `localhost`; an allowed-hosts entry lets in the `Host` it names, whether read at
//!   start or from the config;
//! - a request from a peer that is not a trusted proxy is that peer, whatever its headers say;
//!   from a trusted proxy it is a canonical address, and once a client that is no proxy is found,
//!   what stands to its left in the headers (written by the client) changes nothing;
//! - a trusted-proxy range reads back from its text, and covers an address the same way as that
//!   address IPv4-mapped;
//! - a session cookie is read back whatever stands beside it; a value found is non-empty, without
//!   `;`, and was in the header as `sense_session=value`;
//! - Basic credentials encoded are read back; a user read never holds `:`;
//! - no `Origin` is always fine.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use sense_bus::config::IpRange;
use sense_gateway::auth::{self, Caller, SESSION_COOKIE};
use sense_gateway::hosts::{AllowedHosts, Pattern, host_name, is_ip_literal};

/// The line, `None` when absent.
fn part<'a>(lines: &[&'a str], i: usize) -> Option<&'a str> {
    lines.get(i).copied()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

fn hosts(data: &[u8], lines: &[&str]) {
    let host = part(lines, 2);
    let entries: Vec<String> = part(lines, 8)
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let configured = AllowedHosts::new(&entries, Vec::new());
    let from_config = AllowedHosts::new(&[], Vec::new());
    from_config.configure(&entries);

    let name = host.and_then(host_name);
    if let Some(n) = &name {
        assert!(!n.is_empty() && !n.ends_with('.'), "{n:?}");
        assert_eq!(*n, n.to_ascii_lowercase());
    }
    let verdict = configured.check(host);
    assert_eq!(verdict, from_config.check(host), "{host:?}");
    match &verdict {
        Ok(()) => {}
        Err(refused) => {
            assert_eq!(Some(&refused.0), name.as_ref());
            assert!(
                !is_ip_literal(&refused.0),
                "an IP literal refused: {host:?}"
            );
            assert!(refused.0 != "localhost" && !refused.0.ends_with(".localhost"));
            let _ = refused.message();
        }
    }
    if name.as_deref().is_some_and(is_ip_literal) {
        assert_eq!(verdict, Ok(()), "{host:?}");
    }

    // Every IP literal, in every form a Host takes.
    let mut bytes = [0u8; 18];
    for (slot, b) in bytes.iter_mut().zip(data.iter().rev()) {
        *slot = *b;
    }
    let v4 = Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[..4]).unwrap());
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(&bytes[..16]).unwrap());
    let port = u16::from_be_bytes([bytes[16], bytes[17]]);
    for literal in [
        v4.to_string(),
        format!("{v4}:{port}"),
        format!("[{v6}]"),
        format!("[{v6}]:{port}"),
        format!("[{}]:{port}", v6.to_canonical()),
        v6.to_string(),
    ] {
        assert_eq!(configured.check(Some(&literal)), Ok(()), "{literal}");
    }

    // An entry lets in the Host it names.
    for entry in &entries {
        let e = entry.trim();
        if e.starts_with('*') || e.contains("://") || e.ends_with('/') {
            continue;
        }
        if let Some(Pattern::Exact(_)) = Pattern::parse(entry) {
            assert_eq!(configured.check(Some(entry)), Ok(()), "{entry:?}");
        }
    }
    if entries
        .iter()
        .any(|e| Pattern::parse(e) == Some(Pattern::Any))
    {
        assert_eq!(verdict, Ok(()));
    }
}

fn caller(data: &[u8], lines: &[&str]) {
    let peer = part(lines, 0)
        .and_then(|p| p.trim().parse::<IpAddr>().ok())
        .unwrap_or_else(|| {
            let mut b = [0u8; 4];
            for (slot, x) in b.iter_mut().zip(data) {
                *slot = *x;
            }
            IpAddr::from(b)
        });
    let mut trusted = Vec::new();
    for text in part(lines, 1).unwrap_or_default().split(',') {
        let Ok(range) = text.parse::<IpRange>() else {
            continue;
        };
        let again: IpRange = range.to_string().parse().expect("a range reads back");
        assert_eq!(again, range);
        for ip in [peer, peer.to_canonical()] {
            if let IpAddr::V4(v4) = ip {
                assert_eq!(
                    range.contains(ip),
                    range.contains(IpAddr::V6(v4.to_ipv6_mapped())),
                    "{range} {ip}"
                );
            }
        }
        trusted.push(range);
    }
    let xff = part(lines, 3);
    let forwarded = part(lines, 4);
    let c = Caller::new(peer, &trusted, xff, forwarded);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        assert_eq!(
            c,
            Caller::direct(peer),
            "the headers of an untrusted peer counted"
        );
        assert_eq!(c.address, peer.to_canonical());
        assert!(!c.via_trusted_proxy);
        return;
    }
    assert!(c.via_trusted_proxy);
    assert_eq!(c.address, c.address.to_canonical(), "{c:?}");
    if xff.is_none() && forwarded.is_none() {
        assert_eq!(c.address, peer.to_canonical());
    }
    // A client found (not a proxy): whatever the client wrote to its left means nothing.
    if !is_trusted(c.address) {
        let junk = part(lines, 9).unwrap_or("1.2.3.4");
        let (xff, forwarded) = match xff {
            Some(x) if !x.trim().is_empty() => (Some(format!("{junk},{x}")), None),
            _ => (
                xff.map(str::to_owned),
                forwarded.map(|f| format!("{junk},{f}")),
            ),
        };
        let again = Caller::new(peer, &trusted, xff.as_deref(), forwarded.as_deref());
        assert_eq!(again, c, "{xff:?} {forwarded:?}");
    }
}

fn credentials(lines: &[&str]) {
    if let Some(cookie) = part(lines, 6) {
        if let Some(value) = auth::session_cookie(cookie) {
            assert!(!value.is_empty() && !value.contains(';'));
            assert!(cookie.contains(&format!("{SESSION_COOKIE}={value}")));
        }
        let token: String = cookie.bytes().map(|b| format!("{b:02x}")).collect();
        if !token.is_empty() {
            for header in [
                format!("{SESSION_COOKIE}={token}; {cookie}"),
                format!("{SESSION_COOKIE}={token}"),
            ] {
                assert_eq!(
                    auth::session_cookie(&header),
                    Some(token.as_str()),
                    "{header}"
                );
            }
            if !cookie.contains(SESSION_COOKIE) {
                let header = format!("{cookie}; {SESSION_COOKIE}={token}");
                assert_eq!(
                    auth::session_cookie(&header),
                    Some(token.as_str()),
                    "{header}"
                );
            }
        }
    }
    if let Some(header) = part(lines, 7) {
        if let Some((user, _)) = auth::basic_credentials(header) {
            assert!(!user.contains(':'));
        }
        let (user, password) = header.split_once(':').unwrap_or((header, ""));
        let encoded = base64(format!("{user}:{password}").as_bytes());
        for scheme in ["Basic ", "basic "] {
            assert_eq!(
                auth::basic_credentials(&format!("{scheme}{encoded}")),
                Some((user.to_owned(), password.to_owned())),
                "{scheme}{encoded}"
            );
        }
    }
}

fn origin(lines: &[&str]) {
    let host = part(lines, 2);
    let allowed: Vec<String> = part(lines, 8)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    assert_eq!(auth::check_origin(None, host, &allowed), Ok(()));
    let verdict = auth::check_origin(part(lines, 5), host, &allowed);
    if let (Some(origin), Ok(())) = (part(lines, 5), &verdict)
        && !allowed.iter().any(|a| a == origin)
    {
        assert!(host.is_some(), "{origin:?} let in without a Host");
    }
    if let Some(host) = host.filter(|h| !h.contains('/')) {
        for origin in [format!("http://{host}"), format!("https://{host}/")] {
            assert_eq!(auth::check_origin(Some(&origin), Some(host), &[]), Ok(()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    hosts(data, &lines);
    caller(data, &lines);
    credentials(&lines);
    origin(&lines);
});
