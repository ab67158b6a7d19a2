//! Who the client is: the TCP peer, or, when the peer is a trusted reverse proxy, the address the
//! proxy says it forwarded for.
//!
//! Behind Traefik every request comes from Traefik's address; keyed on that, one client's failed
//! logins would lock out everyone. But `X-Forwarded-For` is only a header: anyone can send one, so
//! it counts only from a configured proxy, and only the entries that trusted proxies appended.

use std::net::IpAddr;

use sense_bus::config::{IpRange, canonical_ip};

/// Where a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The client the limits are kept for: the peer, or whom a trusted proxy forwarded for.
    pub address: IpAddr,
    /// Whether the peer is a trusted proxy (whose `Tailscale-User-Login` counts).
    pub via_trusted_proxy: bool,
}

impl Caller {
    /// A client connected directly, with no proxy in between.
    pub fn direct(peer: IpAddr) -> Caller {
        let peer = canonical_ip(peer);
        Caller {
            address: peer,
            via_trusted_proxy: false,
        }
    }

    /// Finds the client of a request from `peer` with these `X-Forwarded-For` and `Forwarded`
    /// header values (each header's lines joined with commas, in order).
    pub fn new(
        peer: IpAddr,
        trusted: &[IpRange],
        forwarded_for: Option<&str>,
        forwarded: Option<&str>,
    ) -> Caller {
        let peer = canonical_ip(peer);
        let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
        if !is_trusted(peer) {
            return Caller::direct(peer);
        }
        // X-Forwarded-For is what Traefik (and most proxies) send; `Forwarded` (RFC 7239) when
        // there is none.
        let hops: Vec<&str> = match (forwarded_for, forwarded) {
            (Some(xff), _) if !xff.trim().is_empty() => xff.split(',').map(str::trim).collect(),
            (_, Some(f)) => forwarded_for_nodes(f),
            _ => Vec::new(),
        };
        // Each proxy appends the address it got the request from: walking from the right, the
        // first entry not itself a trusted proxy is the client. Entries to its left were written
        // by the client or untrusted hops and mean nothing.
        let mut address = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_node(hop) else {
                // Unreadable (`unknown`, an obfuscated name): the nearest hop known is the client.
                break;
            };
            address = ip;
            if !is_trusted(ip) {
                break;
            }
        }
        Caller {
            address,
            via_trusted_proxy: true,
        }
    }
}

/// The `for=` values of a `Forwarded` header, in order.
fn forwarded_for_nodes(header: &str) -> Vec<&str> {
    header
        .split(',')
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim())
            })
        })
        .collect()
}

/// An address as `X-Forwarded-For` or `Forwarded: for=` write it: `1.2.3.4`, `1.2.3.4:5678`,
/// `2001:db8::1`, `[2001:db8::1]:5678`, possibly quoted.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok().map(canonical_ip);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical_ip(ip));
    }
    // IPv4 with a port.
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let trusted = ranges(&["172.30.0.0/24"]);
        let traefik = ip("172.30.0.2");
        let c = Caller::new(traefik, &trusted, Some("203.0.113.7"), None);
        assert_eq!(c.address, ip("203.0.113.7"));
        assert!(c.via_trusted_proxy);
        // The same header straight from a client is a spoof: the peer is the client.
        let mallory = ip("198.51.100.9");
        let c = Caller::new(mallory, &trusted, Some("203.0.113.7"), None);
        assert_eq!(c.address, mallory);
        assert!(!c.via_trusted_proxy);
        // No proxies configured: nobody's header counts.
        let c = Caller::new(traefik, &[], Some("203.0.113.7"), None);
        assert_eq!(c.address, traefik);
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = ranges(&["172.30.0.0/24", "127.0.0.1"]);
        let traefik = ip("172.30.0.2");
        // A client put its own guesses in front; tailscale serve on the host (172.30.0.1 as
        // Traefik sees it) added the real one.
        let c = Caller::new(
            traefik,
            &trusted,
            Some("1.1.1.1, 2.2.2.2, 100.64.0.5, 172.30.0.1"),
            None,
        );
        assert_eq!(c.address, ip("100.64.0.5"));
        // Only proxies in the chain: the left-most of them.
        let c = Caller::new(traefik, &trusted, Some("127.0.0.1, 172.30.0.1"), None);
        assert_eq!(c.address, ip("127.0.0.1"));
        // Garbage where the client should be: the nearest hop known.
        let c = Caller::new(traefik, &trusted, Some("nonsense, 172.30.0.1"), None);
        assert_eq!(c.address, ip("172.30.0.1"));
        // Ports and brackets.
        let c = Caller::new(traefik, &trusted, Some("[2001:db8::7]:443"), None);
        assert_eq!(c.address, ip("2001:db8::7"));
        let c = Caller::new(traefik, &trusted, Some("203.0.113.7:5555"), None);
        assert_eq!(c.address, ip("203.0.113.7"));
    }

    #[test]
    fn forwarded_header_when_there_is_no_x_forwarded_for() {
        let trusted = ranges(&["127.0.0.1"]);
        let proxy = ip("127.0.0.1");
        let c = Caller::new(
            proxy,
            &trusted,
            None,
            Some("for=198.51.100.1;proto=https, for=\"[2001:db8::1]:4711\";by=127.0.0.1"),
        );
        assert_eq!(c.address, ip("2001:db8::1"));
        let c = Caller::new(proxy, &trusted, None, Some("proto=https;For=192.0.2.60"));
        assert_eq!(c.address, ip("192.0.2.60"));
        // From an untrusted peer it means nothing either.
        let c = Caller::new(ip("192.0.2.1"), &trusted, None, Some("for=192.0.2.60"));
        assert_eq!(c.address, ip("192.0.2.1"));
    }

    #[test]
    fn ipv4_mapped_peers_are_ipv4() {
        let trusted = ranges(&["127.0.0.1"]);
        let c = Caller::new(ip("::ffff:127.0.0.1"), &trusted, Some("10.0.0.5"), None);
        assert_eq!(c.address, ip("10.0.0.5"));
    }
}
