//! tailscaled's status document (`ipnstate.Status`), as `GET /localapi/v0/status` and
//! `tailscale status --json` both write it, and what this source takes from it.
//!
//! Go writes nil slices and maps as `null` (`"Peer": null` when logged out), so every part is
//! optional; only `BackendState` is required.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusWire {
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "BackendState")]
    backend_state: Option<String>,
    #[serde(rename = "TailscaleIPs")]
    tailscale_ips: Option<Vec<String>>,
    #[serde(rename = "Self")]
    self_: Option<PeerWire>,
    #[serde(rename = "Peer")]
    peer: Option<BTreeMap<String, PeerWire>>,
    #[serde(rename = "CurrentTailnet")]
    current_tailnet: Option<TailnetWire>,
    #[serde(rename = "Health")]
    health: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PeerWire {
    #[serde(rename = "HostName")]
    host_name: Option<String>,
    #[serde(rename = "DNSName")]
    dns_name: Option<String>,
    #[serde(rename = "TailscaleIPs")]
    tailscale_ips: Option<Vec<String>>,
    #[serde(rename = "Online")]
    online: Option<bool>,
    #[serde(rename = "ExitNode")]
    exit_node: Option<bool>,
    #[serde(rename = "ShareeNode")]
    sharee_node: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TailnetWire {
    #[serde(rename = "Name")]
    name: Option<String>,
}

/// What this source reads from a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    /// `BackendState`: `Running`, `NeedsLogin`, `Stopped`, `Starting`, `NoState`, ...
    pub backend_state: String,
    /// Peers in the tailnet (shared-in nodes, which `tailscale status` hides, excluded).
    pub peers_total: i64,
    /// Of those, the ones online.
    pub peers_online: i64,
    /// tailscaled's version.
    pub version: Option<String>,
    /// This node's host name.
    pub hostname: Option<String>,
    /// This node's MagicDNS name, without the final dot.
    pub dns_name: Option<String>,
    /// The tailnet's name.
    pub tailnet: Option<String>,
    /// This node's Tailscale address, IPv4 preferred.
    pub tailscale_ip: Option<String>,
    /// The host name of the exit node in use.
    pub exit_node: Option<String>,
    /// Health problems tailscaled reports.
    pub health_issues: i64,
}

impl Status {
    /// Whether the node is connected to its tailnet.
    pub fn connected(&self) -> bool {
        self.backend_state == "Running"
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Parses a status document.
pub(crate) fn parse_status(body: &[u8]) -> Result<Status, String> {
    let wire: StatusWire = serde_json::from_slice(body)
        .map_err(|e| format!("the status is not the JSON expected: {e}"))?;
    let backend_state =
        non_empty(wire.backend_state).ok_or_else(|| "the status lacks BackendState".to_owned())?;
    let peers: Vec<PeerWire> = wire
        .peer
        .unwrap_or_default()
        .into_values()
        .filter(|p| p.sharee_node != Some(true))
        .collect();
    let peers_online = count(peers.iter().filter(|p| p.online == Some(true)).count());
    let exit_node = peers
        .iter()
        .find(|p| p.exit_node == Some(true))
        .and_then(|p| {
            non_empty(p.host_name.clone()).or_else(|| {
                non_empty(p.dns_name.clone()).map(|d| d.trim_end_matches('.').to_owned())
            })
        });
    let me = wire.self_.unwrap_or_default();
    let ips = wire
        .tailscale_ips
        .filter(|ips| !ips.is_empty())
        .or(me.tailscale_ips)
        .unwrap_or_default();
    let tailscale_ip = ips
        .iter()
        .find(|ip| ip.contains('.'))
        .or_else(|| ips.first())
        .cloned();
    Ok(Status {
        backend_state,
        peers_total: count(peers.len()),
        peers_online,
        version: non_empty(wire.version),
        hostname: non_empty(me.host_name),
        dns_name: non_empty(me.dns_name).map(|d| d.trim_end_matches('.').to_owned()),
        tailnet: non_empty(wire.current_tailnet.and_then(|t| t.name)),
        tailscale_ip,
        exit_node,
        health_issues: count(wire.health.map_or(0, |h| h.len())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_node() {
        let s = parse_status(include_bytes!("../fixtures/status_running.json")).unwrap();
        assert!(s.connected());
        assert_eq!(s.backend_state, "Running");
        assert_eq!(s.peers_total, 4, "the shared-in node is not counted");
        assert_eq!(s.peers_online, 3);
        assert_eq!(s.version.as_deref(), Some("1.78.1-t5d7ab2f8c-g0cb2e1a6d"));
        assert_eq!(s.hostname.as_deref(), Some("sensepi"));
        assert_eq!(s.dns_name.as_deref(), Some("sensepi.tail4c2d9e.ts.net"));
        assert_eq!(s.tailnet.as_deref(), Some("alex@example.com"));
        assert_eq!(s.tailscale_ip.as_deref(), Some("100.101.102.103"));
        assert_eq!(s.exit_node.as_deref(), Some("vps-exit"));
        assert_eq!(s.health_issues, 0);
    }

    #[test]
    fn a_logged_out_node_has_nulls_not_errors() {
        let s = parse_status(include_bytes!("../fixtures/status_needs_login.json")).unwrap();
        assert!(!s.connected());
        assert_eq!(s.backend_state, "NeedsLogin");
        assert_eq!((s.peers_total, s.peers_online), (0, 0));
        assert_eq!(s.tailnet, None);
        assert_eq!(s.tailscale_ip, None);
        assert_eq!(s.dns_name, None);
        assert_eq!(s.hostname.as_deref(), Some("sensepi"));
        assert_eq!(s.health_issues, 1);
    }

    #[test]
    fn a_stopped_node() {
        let s = parse_status(include_bytes!("../fixtures/status_stopped.json")).unwrap();
        assert!(!s.connected());
        assert_eq!(s.peers_total, 1);
    }

    #[test]
    fn the_minimum_is_a_backend_state() {
        let s = parse_status(br#"{"BackendState": "Starting"}"#).unwrap();
        assert_eq!(s.backend_state, "Starting");
        assert_eq!(s.hostname, None);
        let e = parse_status(br#"{"Version": "1.2", "Peer": {}}"#).unwrap_err();
        assert!(e.contains("BackendState"), "{e}");
        let e = parse_status(br#"{"BackendState": ""}"#).unwrap_err();
        assert!(e.contains("BackendState"), "{e}");
    }

    #[test]
    fn an_ipv6_only_node_reports_its_ipv6_address() {
        let s =
            parse_status(br#"{"BackendState": "Running", "TailscaleIPs": ["fd7a::1"]}"#).unwrap();
        assert_eq!(s.tailscale_ip.as_deref(), Some("fd7a::1"));
    }

    #[test]
    fn malformed_documents_are_errors() {
        for body in [
            &b""[..],
            b"{\"BackendState\": \"Runn",
            b"<html>",
            b"null",
            b"42",
        ] {
            let e = parse_status(body).unwrap_err();
            assert!(e.contains("JSON") || e.contains("BackendState"), "{e}");
        }
        let e = parse_status(br#"{"BackendState": 3}"#).unwrap_err();
        assert!(e.contains("JSON"), "{e}");
        let e = parse_status(br#"{"BackendState": "Running", "Peer": []}"#).unwrap_err();
        assert!(e.contains("JSON"), "{e}");
    }
}
