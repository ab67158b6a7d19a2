//! IP address ranges in config (`auth.trusted_proxies`): one address or a CIDR range.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One address (`127.0.0.1`, `::1`) or a CIDR range (`172.30.0.0/16`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a dual-stack socket reports an
/// IPv4 peer) turned into the IPv4 address it is, so ranges match it either way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// The mask of a `prefix`-bit network in a `width`-bit address.
fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (width - prefix)) & (u128::MAX >> (128 - width))
    }
}

impl IpRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if ip.is_ipv4() != self.network.is_ipv4() {
            return false;
        }
        let (net, width) = bits(self.network);
        let (ip, _) = bits(ip);
        let m = mask(self.prefix, width);
        ip & m == net & m
    }
}

impl FromStr for IpRange {
    type Err = String;

    /// Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`, with a message for people: it says what
    /// was expected and, for a range with host bits set, which range was probably meant.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let expected = "an IP address or a CIDR range, e.g. 192.168.1.10 or 172.30.0.0/16";
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("must be {expected} (got {s:?})"))?;
        let network = canonical(network);
        let width = bits(network).1;
        let prefix = match prefix {
            None => width,
            Some(p) => {
                let n: u8 = p.parse().map_err(|_| {
                    format!("must be {expected} (got {s:?}: the prefix after / is not a number)")
                })?;
                if n > width {
                    return Err(format!(
                        "must be {expected} (got {s:?}: an IPv{} prefix is at most /{width})",
                        if width == 32 { 4 } else { 6 }
                    ));
                }
                n
            }
        };
        let (b, _) = bits(network);
        let m = mask(prefix, width);
        if b & !m != 0 {
            let base = IpRange { network, prefix }.base();
            return Err(format!(
                "has bits set after its /{prefix} prefix (got {s:?}; did you mean {base}/{prefix}?)"
            ));
        }
        Ok(IpRange { network, prefix })
    }
}

impl IpRange {
    /// The range's first address.
    fn base(&self) -> IpAddr {
        let (b, width) = bits(self.network);
        let b = b & mask(self.prefix, width);
        match self.network {
            // The value came from a 32-bit address and was only masked: it fits.
            IpAddr::V4(_) => IpAddr::V4(u32::try_from(b).unwrap_or_default().into()),
            IpAddr::V6(_) => IpAddr::V6(b.into()),
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = bits(self.network).1;
        if self.prefix == width {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_match_what_they_cover() {
        let one: IpRange = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(one.contains(ip("::ffff:127.0.0.1")), "IPv4-mapped");
        assert!(!one.contains(ip("127.0.0.2")));
        let net: IpRange = "172.30.0.0/16".parse().unwrap();
        assert!(net.contains(ip("172.30.0.2")));
        assert!(net.contains(ip("172.30.255.255")));
        assert!(!net.contains(ip("172.31.0.1")));
        assert!(!net.contains(ip("::1")));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert_eq!(net.to_string(), "172.30.0.0/16");
        assert_eq!(one.to_string(), "127.0.0.1");
    }

    #[test]
    fn bad_ranges_say_what_was_expected() {
        let e = "traefik".parse::<IpRange>().unwrap_err();
        assert!(e.contains("an IP address or a CIDR range"), "{e}");
        assert!(e.contains("\"traefik\""), "{e}");
        let e = "10.0.0.0/33".parse::<IpRange>().unwrap_err();
        assert!(e.contains("at most /32"), "{e}");
        let e = "10.0.0.0/x".parse::<IpRange>().unwrap_err();
        assert!(e.contains("not a number"), "{e}");
        let e = "172.30.5.1/16".parse::<IpRange>().unwrap_err();
        assert!(e.contains("did you mean 172.30.0.0/16?"), "{e}");
        let e = "fd00::1/8".parse::<IpRange>().unwrap_err();
        assert!(e.contains("did you mean fd00::/8?"), "{e}");
    }
}
