//! A plausible tailscaled status for `--sim`: served on a unix socket by a replay server (or
//! printed by a fake CLI), it lets the real source run its real code path.

use serde_json::{Map, Value, json};

/// A simulated peer: name, OS, address, and when (UTC) it is online.
struct Peer {
    host: &'static str,
    os: &'static str,
    ip: &'static str,
    online: fn(u64) -> bool,
}

fn hour(t: u64) -> u64 {
    t % 86_400 / 3600
}

fn weekday(t: u64) -> bool {
    // 1970-01-01 was a Thursday: days 2 and 3 after it (mod 7) are Saturday and Sunday.
    !matches!((t / 86_400) % 7, 2 | 3)
}

const PEERS: [Peer; 6] = [
    Peer {
        host: "nas",
        os: "linux",
        ip: "100.88.12.4",
        online: |_| true,
    },
    Peer {
        host: "laptop",
        os: "macOS",
        ip: "100.71.200.33",
        online: |t| (7..23).contains(&hour(t)),
    },
    Peer {
        host: "phone",
        os: "iOS",
        ip: "100.96.41.7",
        // Asleep (and on Wi-Fi power saving) at night, briefly out of coverage twice a day.
        online: |t| {
            !(1..6).contains(&hour(t)) && !matches!(t % 86_400 / 60, 505..=520 | 1050..=1065)
        },
    },
    Peer {
        host: "desktop",
        os: "windows",
        ip: "100.80.9.21",
        online: |t| {
            if weekday(t) {
                hour(t) >= 17
            } else {
                hour(t) >= 10
            }
        },
    },
    Peer {
        host: "tv",
        os: "android",
        ip: "100.99.150.2",
        online: |t| (18..23).contains(&hour(t)),
    },
    Peer {
        host: "vps",
        os: "linux",
        ip: "100.115.3.90",
        // Ten minutes of maintenance every six hours.
        online: |t| t % 21_600 >= 600,
    },
];

/// A node key for `name`: 64 hex digits, the same every time.
fn node_key(name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut key = String::from("nodekey:");
    for round in 0..4u8 {
        for b in name.bytes().chain([round]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        key.push_str(&format!("{hash:016x}"));
    }
    key
}

const SUFFIX: &str = "tail4c2d9e.ts.net";

/// tailscaled's status at `unix_secs`: connected, six peers going online and offline on a
/// daily rhythm (a NAS always on, a laptop by day, a TV in the evening, a VPS with short
/// maintenance windows, ...). The same time always gives the same document.
pub fn simulated_status(unix_secs: u64) -> String {
    let mut peers = Map::new();
    for p in &PEERS {
        let online = (p.online)(unix_secs);
        peers.insert(
            node_key(p.host),
            json!({
                "ID": format!("n{}CNTRL", p.host),
                "PublicKey": node_key(p.host),
                "HostName": p.host,
                "DNSName": format!("{}.{SUFFIX}.", p.host),
                "OS": p.os,
                "UserID": 7_312_649_875_123_456_u64,
                "TailscaleIPs": [p.ip],
                "Addrs": if online { json!([format!("192.168.1.{}:41641", p.ip.len() * 7)]) } else { Value::Null },
                "CurAddr": "",
                "Relay": "ams",
                "RxBytes": 0,
                "TxBytes": 0,
                "Online": online,
                "ExitNode": false,
                "ExitNodeOption": p.host == "vps",
                "Active": online && p.host == "nas",
                "InNetworkMap": true,
                "InMagicSock": online,
                "InEngine": online
            }),
        );
    }
    json!({
        "Version": "1.78.1-t5d7ab2f8c-g0cb2e1a6d",
        "TUN": true,
        "BackendState": "Running",
        "HaveNodeKey": true,
        "AuthURL": "",
        "TailscaleIPs": ["100.101.102.103", "fd7a:115c:a1e0::6f01:6667"],
        "Self": {
            "ID": "nsensepiCNTRL",
            "PublicKey": node_key("sensepi"),
            "HostName": "sensepi",
            "DNSName": format!("sensepi.{SUFFIX}."),
            "OS": "linux",
            "UserID": 7_312_649_875_123_456_u64,
            "TailscaleIPs": ["100.101.102.103", "fd7a:115c:a1e0::6f01:6667"],
            "Online": true,
            "ExitNode": false,
            "Active": false,
            "InNetworkMap": true
        },
        "Health": [],
        "MagicDNSSuffix": SUFFIX,
        "CurrentTailnet": {
            "Name": "alex@example.com",
            "MagicDNSSuffix": SUFFIX,
            "MagicDNSEnabled": true
        },
        "CertDomains": [format!("sensepi.{SUFFIX}")],
        "Peer": peers,
        "User": {
            "7312649875123456": {
                "ID": 7_312_649_875_123_456_u64,
                "LoginName": "alex@example.com",
                "DisplayName": "Alex"
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::parse_status;

    #[test]
    fn the_simulated_status_parses_and_peers_come_and_go() {
        let midnight = 1_708_041_600; // Friday 2024-02-16 00:00 UTC
        let mut seen = std::collections::BTreeSet::new();
        for minute in (0..24 * 60).step_by(5) {
            let s = parse_status(simulated_status(midnight + minute * 60).as_bytes()).unwrap();
            assert!(s.connected());
            assert_eq!(s.peers_total, 6);
            seen.insert(s.peers_online);
        }
        assert!(seen.len() >= 4, "{seen:?}");
        assert!(
            seen.contains(&1) || seen.contains(&2),
            "quiet nights: {seen:?}"
        );
        assert!(seen.contains(&6), "busy evenings: {seen:?}");
        assert_eq!(simulated_status(midnight), simulated_status(midnight));
    }

    #[test]
    fn node_keys_are_distinct_and_well_formed() {
        let keys: std::collections::BTreeSet<_> = PEERS.iter().map(|p| node_key(p.host)).collect();
        assert_eq!(keys.len(), PEERS.len());
        assert!(keys.iter().all(|k| k.len() == 8 + 64));
    }
}
