//! Camera discovery: a TCP connect scan of the local networks for RTSP ports.
//!
//! Which networks: by default the machine's own IPv4 networks, from `getifaddrs(3)` (address and
//! netmask of every interface that is up), leaving out loopback, link-local (169.254/16),
//! point-to-point /32 addresses (Tailscale, VPNs), container and VM bridges (`docker*`, `br-*`,
//! `veth*`, `virbr*`, `cni*`, `flannel*`, `lxc*`, and 172.17.0.0/16). A network wider than /24 is
//! narrowed to the /24 around the machine's address, so a default scan is never more than
//! 254 hosts × 3 ports per network. Explicit [`DiscoveryOptions::subnets`] are scanned as given,
//! except that they too are narrowed to at most a /24.
//!
//! How: one TCP connect per host and port, at most [`DiscoveryOptions::concurrency`] at a time,
//! each given [`DiscoveryOptions::connect_timeout`]. An open port is reported; nothing is sent.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The ports RTSP cameras listen on.
pub const RTSP_PORTS: [u16; 3] = [554, 8554, 10554];
/// The widest network scanned: larger ones are narrowed to a /24.
pub const WIDEST_PREFIX: u8 = 24;

/// An IPv4 network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    /// Any address in the network.
    pub addr: Ipv4Addr,
    /// The prefix length, 0–32.
    pub prefix: u8,
}

impl Subnet {
    /// `addr/prefix` (a prefix over 32 is taken as 32).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Subnet {
            addr,
            prefix: prefix.min(32),
        }
    }

    /// The network as scanned: narrowed to the /24 around `addr` when wider.
    pub fn narrowed(self) -> Subnet {
        Subnet::new(self.addr, self.prefix.max(WIDEST_PREFIX))
    }

    fn mask(self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p)),
        }
    }

    /// The network address (`addr` with the host bits cleared).
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The hosts of the [narrowed](Self::narrowed) network: every address but the network and
    /// broadcast ones (a /31 or /32 has no such addresses and gives all of its own).
    pub fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        let net = self.narrowed();
        let first = u32::from(net.network());
        let last = first | !net.mask();
        let (first, last) = if net.prefix <= 30 {
            (first + 1, last - 1)
        } else {
            (first, last)
        };
        (first..=last).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    /// `192.168.1.0/24`, or a bare address for a /32.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').unwrap_or((s, "32"));
        let addr: Ipv4Addr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 network (like 192.168.1.0/24)"))?;
        let prefix: u8 = prefix
            .trim()
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to 32"))?;
        Ok(Subnet::new(addr, prefix))
    }
}

/// What to scan and how hard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Ports to try on every host.
    pub ports: Vec<u16>,
    /// Connection attempts in flight at once.
    pub concurrency: usize,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// Networks to scan; empty means the machine's own ([`local_subnets`]).
    pub subnets: Vec<Subnet>,
}

impl Default for DiscoveryOptions {
    /// Ports 554, 8554 and 10554, 64 at a time, 500 ms each, on the machine's own networks.
    fn default() -> Self {
        DiscoveryOptions {
            ports: RTSP_PORTS.to_vec(),
            concurrency: 64,
            connect_timeout: Duration::from_millis(500),
            subnets: Vec::new(),
        }
    }
}

/// An open RTSP port: the contract's `{"name", "host", "port"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// `Camera 1`, `Camera 2`, ... in address order.
    pub name: String,
    /// The IPv4 address.
    pub host: String,
    /// The open port.
    pub port: u16,
}

/// The `discover_cameras` response data: `{"cameras": [{"name", "host", "port"}, ...]}`.
pub fn response_data(found: &[Found]) -> serde_json::Map<String, serde_json::Value> {
    let mut data = serde_json::Map::new();
    data.insert(
        "cameras".to_owned(),
        serde_json::to_value(found).unwrap_or_default(),
    );
    data
}

/// An IPv4 address of a network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// The interface, e.g. `wlan0`.
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// The network's prefix length.
    pub prefix: u8,
    /// Whether it is up.
    pub up: bool,
    /// Whether it is a loopback interface.
    pub loopback: bool,
}

/// The IPv4 addresses of this machine's interfaces, from `getifaddrs(3)`.
pub fn interface_addresses() -> Vec<InterfaceAddress> {
    use nix::net::if_::InterfaceFlags;
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|ifa| {
        let addr = ifa.address.as_ref()?.as_sockaddr_in()?.ip();
        let mask = ifa.netmask.as_ref()?.as_sockaddr_in()?.ip();
        Some(InterfaceAddress {
            // A netmask's ones count is at most 32.
            prefix: u8::try_from(mask.to_bits().count_ones()).unwrap_or(32),
            addr,
            up: ifa.flags.contains(InterfaceFlags::IFF_UP),
            loopback: ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK),
            name: ifa.interface_name,
        })
    })
    .collect()
}

const BRIDGE_PREFIXES: [&str; 7] = ["docker", "br-", "veth", "virbr", "cni", "flannel", "lxc"];

/// The networks worth scanning among `interfaces` (see the [module docs](self) for the rules),
/// each narrowed to at most a /24, without duplicates.
pub fn scan_subnets(interfaces: &[InterfaceAddress]) -> Vec<Subnet> {
    let docker = Subnet::new(Ipv4Addr::new(172, 17, 0, 0), 16);
    let mut out = BTreeSet::new();
    for i in interfaces {
        let skip = !i.up
            || i.loopback
            || i.addr.is_loopback()
            || i.addr.is_link_local()
            || i.addr.is_unspecified()
            || i.prefix >= 32
            || BRIDGE_PREFIXES.iter().any(|p| i.name.starts_with(p))
            || Subnet::new(i.addr, 16).network() == docker.network();
        if !skip {
            let subnet = Subnet::new(i.addr, i.prefix).narrowed();
            out.insert(Subnet::new(subnet.network(), subnet.prefix));
        }
    }
    out.into_iter().collect()
}

/// This machine's networks to scan: [`scan_subnets`] of [`interface_addresses`].
pub fn local_subnets() -> Vec<Subnet> {
    scan_subnets(&interface_addresses())
}

/// Scans for open RTSP ports; see the [module docs](self). Takes at most about
/// `hosts × ports / concurrency × connect_timeout`.
pub async fn discover(options: DiscoveryOptions) -> Vec<Found> {
    let subnets = if options.subnets.is_empty() {
        local_subnets()
    } else {
        options.subnets.clone()
    };
    let hosts: BTreeSet<Ipv4Addr> = subnets.iter().flat_map(|s| s.hosts()).collect();
    let ports: BTreeSet<u16> = options.ports.iter().copied().filter(|p| *p != 0).collect();
    tracing::info!(
        "scanning {} hosts on {} for RTSP ports {}",
        hosts.len(),
        subnets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ports
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut probes = JoinSet::new();
    let mut open = BTreeSet::new();
    for host in &hosts {
        for &port in &ports {
            // Waiting for a permit before spawning keeps the number of tasks bounded too.
            let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
                break;
            };
            let target = SocketAddrV4::new(*host, port);
            let timeout = options.connect_timeout;
            probes.spawn(async move {
                let _permit = permit;
                let connected =
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target))
                        .await
                        .is_ok_and(|r| r.is_ok());
                connected.then_some((*target.ip(), target.port()))
            });
            while let Some(done) = probes.try_join_next() {
                open.extend(done.ok().flatten());
            }
        }
    }
    while let Some(done) = probes.join_next().await {
        open.extend(done.ok().flatten());
    }
    open.into_iter()
        .enumerate()
        .map(|(i, (ip, port))| Found {
            name: format!("Camera {}", i + 1),
            host: ip.to_string(),
            port,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_enumerate() {
        let s: Subnet = "192.168.1.77/24".parse().unwrap();
        assert_eq!(s.to_string(), "192.168.1.0/24");
        let hosts: Vec<Ipv4Addr> = s.hosts().collect();
        assert_eq!(hosts.len(), 254);
        assert_eq!(hosts[0], Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(hosts[253], Ipv4Addr::new(192, 168, 1, 254));

        let tiny: Vec<Ipv4Addr> = "127.0.0.0/30".parse::<Subnet>().unwrap().hosts().collect();
        assert_eq!(
            tiny,
            [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)]
        );
        assert_eq!("10.0.0.4/31".parse::<Subnet>().unwrap().hosts().count(), 2);
        assert_eq!("10.0.0.4".parse::<Subnet>().unwrap().hosts().count(), 1);

        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert!("nonsense/24".parse::<Subnet>().is_err());
    }

    #[test]
    fn wide_networks_are_narrowed_to_a_slash_24() {
        let wide: Subnet = "10.20.30.40/8".parse().unwrap();
        assert_eq!(wide.narrowed().to_string(), "10.20.30.0/24");
        assert_eq!(wide.hosts().count(), 254);
        assert_eq!("0.0.0.0/0".parse::<Subnet>().unwrap().hosts().count(), 254);
    }

    fn iface(name: &str, addr: [u8; 4], prefix: u8) -> InterfaceAddress {
        InterfaceAddress {
            name: name.into(),
            addr: Ipv4Addr::from(addr),
            prefix,
            up: true,
            loopback: false,
        }
    }

    #[test]
    fn only_real_lans_are_scanned() {
        let mut down = iface("eth1", [192, 168, 7, 2], 24);
        down.up = false;
        let mut lo = iface("lo", [127, 0, 0, 1], 8);
        lo.loopback = true;
        let interfaces = [
            iface("wlan0", [192, 168, 1, 23], 24),
            iface("eth0", [10, 1, 200, 9], 16),
            iface("eth0", [10, 1, 200, 10], 16), // a second address, same network
            lo,
            down,
            iface("docker0", [172, 17, 0, 1], 16),
            iface("eth9", [172, 17, 5, 1], 24),
            iface("br-1234", [172, 18, 0, 1], 16),
            iface("veth0", [10, 99, 0, 1], 24),
            iface("tailscale0", [100, 101, 102, 103], 32),
            iface("eth2", [169, 254, 3, 4], 16),
        ];
        let subnets: Vec<String> = scan_subnets(&interfaces)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(subnets, ["10.1.200.0/24", "192.168.1.0/24"]);
    }

    #[test]
    fn this_machine_has_addresses() {
        // The loopback address is always there, and never scanned.
        let all = interface_addresses();
        assert!(
            all.iter()
                .any(|i| i.addr == Ipv4Addr::LOCALHOST && i.loopback),
            "{all:?}"
        );
        assert!(
            local_subnets()
                .iter()
                .all(|s| !s.addr.is_loopback() && s.prefix >= WIDEST_PREFIX)
        );
    }

    #[test]
    fn results_have_the_contract_shape() {
        let found = [Found {
            name: "Camera 1".into(),
            host: "192.168.1.100".into(),
            port: 554,
        }];
        assert_eq!(
            serde_json::Value::Object(response_data(&found)),
            serde_json::json!({"cameras": [{"name": "Camera 1", "host": "192.168.1.100", "port": 554}]})
        );
    }

    #[tokio::test]
    async fn open_ports_on_loopback_are_found() {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (pa, pb) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        let found = discover(DiscoveryOptions {
            ports: vec![pb, closed, pa],
            concurrency: 4,
            connect_timeout: Duration::from_millis(300),
            subnets: vec!["127.0.0.0/30".parse().unwrap()],
        })
        .await;
        let mut expected = [pa, pb];
        expected.sort_unstable();
        let got: Vec<(String, String, u16)> = found
            .into_iter()
            .map(|f| (f.name, f.host, f.port))
            .collect();
        assert_eq!(
            got,
            [
                ("Camera 1".into(), "127.0.0.1".into(), expected[0]),
                ("Camera 2".into(), "127.0.0.1".into(), expected[1]),
            ]
        );
    }

    #[tokio::test]
    async fn a_full_slash_24_scan_is_bounded() {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = open.local_addr().unwrap().port();
        let started = std::time::Instant::now();
        // 254 hosts × 3 ports on loopback: refused at once, so this is quick.
        let found = discover(DiscoveryOptions {
            ports: vec![
                port,
                port.wrapping_add(1).max(1),
                port.wrapping_add(2).max(1),
            ],
            concurrency: 16,
            connect_timeout: Duration::from_millis(200),
            subnets: vec!["127.0.0.0/24".parse().unwrap()],
        })
        .await;
        assert!(
            found
                .iter()
                .any(|f| f.host == "127.0.0.1" && f.port == port)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
