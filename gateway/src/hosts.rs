//! Which `Host` names the gateway answers to: a guard against DNS rebinding.
//!
//! A web page on `http://rebind.evil:8080` can point its DNS name at this machine's address; the
//! browser then sends the page's requests here with `Host: rebind.evil:8080` and
//! `Origin: http://rebind.evil:8080`, which the `Origin` check alone takes for same-site. So every
//! request (API, files, HLS, `/health`, `/metrics`, WebSockets) is refused before routing unless
//! its `Host` is one of:
//!
//! - an IP literal (`192.168.1.20`, `[::1]`): a rebinding attack needs a DNS name;
//! - `localhost` and `*.localhost`;
//! - this machine's host name (`/proc/sys/kernel/hostname`) and `<hostname>.local` (mDNS);
//! - its tailnet names, learned from the `tailscale` source's readings ([`AllowedHosts::learn`]);
//! - the names in `ALLOWED_HOSTS` (comma-separated) and in `config:auth`'s `allowed_hosts`
//!   (`*.example.com` allows every name under `example.com`; `*` allows every name and turns the
//!   guard off).
//!
//! Names are compared case-insensitively, without port and trailing dot. A request without `Host`
//! (HTTP/1.0 scripts) is let in: browsers always send one.

use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr};

use sense_bus::model::Value;
use sense_bus::store::SourceSnapshot;

/// A `Host` header's name: lowercase, without port, brackets or trailing dot. `None` for a header
/// that names nothing (empty).
///
/// `"Pi.Local.:8080"` → `"pi.local"`, `"[::1]:8080"` → `"::1"`.
pub fn host_name(header: &str) -> Option<String> {
    let header = header.trim();
    let port = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    // Anything malformed (`[::1]x`, `127.0.0.1:80@evil`) is kept whole: it then matches nothing.
    let name = if let Some(rest) = header.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        match rest.split_once(']') {
            Some((inside, "")) => inside,
            Some((inside, tail)) if tail.strip_prefix(':').is_some_and(port) => inside,
            _ => header,
        }
    } else if header.parse::<Ipv6Addr>().is_ok() {
        // Not a valid `Host` (unbracketed), but it is an address, not a name.
        header
    } else {
        match header.rsplit_once(':') {
            Some((name, p)) if port(p) => name,
            _ => header,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// Whether `name` (as [`host_name`] gives it) is an IP address rather than a DNS name.
pub fn is_ip_literal(name: &str) -> bool {
    name.parse::<Ipv4Addr>().is_ok() || name.parse::<Ipv6Addr>().is_ok()
}

/// An `ALLOWED_HOSTS` entry, normalised: `Exact("pi.example.com")`, `Under("example.com")` for
/// `*.example.com`, or `Any` for `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One name.
    Exact(String),
    /// Every name ending in `.{domain}` (not the domain itself).
    Under(String),
    /// Every name.
    Any,
}

impl Pattern {
    /// Reads an entry: a host name, with or without port or `http://`; `*.domain`; or `*`.
    /// `None` for an empty entry.
    pub fn parse(entry: &str) -> Option<Pattern> {
        let entry = entry.trim();
        let entry = entry.split_once("://").map_or(entry, |(_, rest)| rest);
        let entry = entry.trim_end_matches('/');
        if entry == "*" {
            return Some(Pattern::Any);
        }
        match entry.strip_prefix("*.") {
            Some(domain) => host_name(domain).map(Pattern::Under),
            None => host_name(entry).map(Pattern::Exact),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Exact(n) => n == name,
            Pattern::Under(domain) => name
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            Pattern::Any => true,
        }
    }
}

/// This machine's names: its host name (in a container, the container's) and `<hostname>.local`.
pub fn machine_names() -> Vec<String> {
    let hostname = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|h| host_name(&h))
        });
    hostname.map(|h| with_mdns(&h)).unwrap_or_default()
}

/// `name` and `name.local`, for a single-label host name; a dotted name alone.
fn with_mdns(name: &str) -> Vec<String> {
    if name.contains('.') {
        vec![name.to_owned()]
    } else {
        vec![name.to_owned(), format!("{name}.local")]
    }
}

/// A refused `Host`: its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl Refused {
    /// What the refusal says, naming the host and how to allow it.
    pub fn message(&self) -> String {
        let name = &self.0;
        format!(
            "This gateway does not answer to the host name `{name}` (a guard against DNS \
             rebinding).\nOpen it by its IP address, localhost, this machine's name or its \
             tailnet name, or allow the name: add it to \"Allowed host names\" in the dashboard's \
             sign-in settings (opened by one of those), or to ALLOWED_HOSTS in the gateway's \
             environment (comma-separated, e.g. ALLOWED_HOSTS={name}) and restart the gateway.\n"
        )
    }
}

/// The names the gateway answers to, besides IP literals and `localhost`.
#[derive(Debug, Default)]
pub struct AllowedHosts {
    /// From `ALLOWED_HOSTS`.
    configured: Vec<Pattern>,
    /// From `config:auth`'s `allowed_hosts`, as last read.
    from_config: RefCell<Vec<Pattern>>,
    /// This machine's names.
    machine: Vec<String>,
    /// Its tailnet names, as the `tailscale` source last reported them.
    tailnet: RefCell<Vec<String>>,
}

impl AllowedHosts {
    /// The configured entries (unreadable ones are skipped) and the machine's names.
    pub fn new(configured: &[String], machine: Vec<String>) -> AllowedHosts {
        AllowedHosts {
            configured: configured
                .iter()
                .filter_map(|e| Pattern::parse(e))
                .collect(),
            from_config: RefCell::default(),
            machine,
            tailnet: RefCell::default(),
        }
    }

    /// Lets a request with this `Host` header in, or names the host refused.
    pub fn check(&self, host: Option<&str>) -> Result<(), Refused> {
        let Some(name) = host.and_then(host_name) else {
            return Ok(());
        };
        let allowed = is_ip_literal(&name)
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.machine.contains(&name)
            || self.tailnet.borrow().contains(&name)
            || self.configured.iter().any(|p| p.matches(&name))
            || self.from_config.borrow().iter().any(|p| p.matches(&name));
        if allowed { Ok(()) } else { Err(Refused(name)) }
    }

    /// Takes `config:auth`'s `allowed_hosts` (read again whenever the section changes).
    pub fn configure(&self, entries: &[String]) {
        *self.from_config.borrow_mut() = entries.iter().filter_map(|e| Pattern::parse(e)).collect();
    }

    /// Learns the machine's tailnet names from the `tailscale` source's readings (`dns_name`,
    /// e.g. `pi.tail1234.ts.net`, and `hostname`, the node's name as tailscaled knows it: on the
    /// host when the gateway runs in a container). The first label of the MagicDNS name is
    /// allowed too (`http://pi:8080/` through the tailnet's search domain), and the host name with
    /// `.local`. Names once learned are kept while the source reports none (not connected).
    pub fn learn(&self, tailscale: &SourceSnapshot) {
        let text = |sensor: &str| match tailscale.readings.get(sensor).map(|r| &r.value) {
            Some(Value::Text(t)) => host_name(t),
            _ => None,
        };
        let mut names = Vec::new();
        if let Some(dns) = text("dns_name") {
            if let Some((first, _)) = dns.split_once('.') {
                names.push(first.to_owned());
            }
            names.push(dns);
        }
        if let Some(host) = text("hostname") {
            names.extend(with_mdns(&host));
        }
        names.retain(|n| !is_ip_literal(n));
        if names.is_empty() {
            return;
        }
        names.sort();
        names.dedup();
        let mut tailnet = self.tailnet.borrow_mut();
        if *tailnet != names {
            tracing::info!("allowed host names from the tailnet: {}", names.join(", "));
            *tailnet = names;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sense_bus::model::Reading;

    fn hosts(configured: &[&str]) -> AllowedHosts {
        AllowedHosts::new(
            &configured
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
            with_mdns("sensepi"),
        )
    }

    #[test]
    fn host_names_lose_port_brackets_case_and_trailing_dot() {
        assert_eq!(host_name("Pi.Local.:8080").as_deref(), Some("pi.local"));
        assert_eq!(host_name("pi").as_deref(), Some("pi"));
        assert_eq!(host_name("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_name("[fe80::1]").as_deref(), Some("fe80::1"));
        assert_eq!(host_name("::1").as_deref(), Some("::1"));
        assert_eq!(host_name("127.0.0.1:80").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name(""), None);
        assert_eq!(host_name(":8080"), None);
        // Malformed: kept whole, so no address or name is read out of it.
        assert_eq!(
            host_name("127.0.0.1:80@evil").as_deref(),
            Some("127.0.0.1:80@evil")
        );
        assert_eq!(host_name("[::1]evil").as_deref(), Some("[::1]evil"));
        assert!(hosts(&[]).check(Some("127.0.0.1:80@evil")).is_err());
        assert!(hosts(&[]).check(Some("[::1]evil")).is_err());
    }

    #[test]
    fn rebinding_names_are_refused_naming_the_host() {
        let h = hosts(&[]);
        assert_eq!(
            h.check(Some("Rebind.Evil:8080")),
            Err(Refused("rebind.evil".into()))
        );
        assert!(h.check(Some("rebind.evil.")).is_err());
        // An address-looking name is still a name.
        assert!(h.check(Some("127.0.0.1.nip.io:8080")).is_err());
        assert!(h.check(Some("localhost.evil")).is_err());
        assert!(h.check(Some("sensepi.evil")).is_err());
        let message = Refused("rebind.evil".into()).message();
        assert!(message.contains("`rebind.evil`"), "{message}");
        assert!(message.contains("ALLOWED_HOSTS=rebind.evil"), "{message}");
    }

    #[test]
    fn ip_literals_localhost_and_the_machines_names_are_allowed() {
        let h = hosts(&[]);
        for host in [
            "127.0.0.1:8080",
            "192.168.1.20",
            "[::1]:8080",
            "[::1]",
            "localhost",
            "LOCALHOST:8080",
            "localhost.:8080",
            "app.localhost:5173",
            "sensepi:8080",
            "SensePi.local",
            "sensepi.local.:8080",
        ] {
            assert_eq!(h.check(Some(host)), Ok(()), "{host}");
        }
    }

    #[test]
    fn no_host_is_let_in() {
        assert_eq!(hosts(&[]).check(None), Ok(()));
        assert_eq!(hosts(&[]).check(Some("")), Ok(()));
    }

    #[test]
    fn configured_names_and_wildcards() {
        let h = hosts(&[
            " Dash.Example.com:443 ",
            "*.home.arpa",
            "http://pi.lan:8080/",
            "",
        ]);
        assert_eq!(h.check(Some("dash.example.com")), Ok(()));
        assert_eq!(h.check(Some("dash.example.com:8080")), Ok(()));
        assert!(h.check(Some("example.com")).is_err());
        assert!(h.check(Some("evil.dash.example.com")).is_err());
        assert_eq!(h.check(Some("pi.home.arpa")), Ok(()));
        assert_eq!(h.check(Some("a.b.home.arpa:80")), Ok(()));
        assert!(h.check(Some("home.arpa")).is_err());
        assert!(h.check(Some("evilhome.arpa")).is_err());
        assert_eq!(h.check(Some("pi.lan")), Ok(()));
        assert_eq!(hosts(&["*"]).check(Some("anything.evil")), Ok(()));
        assert_eq!(Pattern::parse("  "), None);
    }

    #[test]
    fn names_from_the_config_replace_the_last_ones() {
        let h = hosts(&[]);
        assert!(h.check(Some("cfg.example.org")).is_err());
        h.configure(&["cfg.example.org".into(), "*.lan".into()]);
        assert_eq!(h.check(Some("CFG.example.org:8080")), Ok(()));
        assert_eq!(h.check(Some("pi.lan")), Ok(()));
        h.configure(&[]);
        assert!(h.check(Some("cfg.example.org")).is_err());
        assert!(h.check(Some("pi.lan")).is_err());
    }

    fn tailscale(readings: &[(&str, Value)]) -> SourceSnapshot {
        SourceSnapshot {
            readings: readings
                .iter()
                .map(|(sensor, value)| {
                    (
                        (*sensor).to_owned(),
                        Reading {
                            value: value.clone(),
                            unit: None,
                            timestamp: 0.0,
                        },
                    )
                })
                .collect(),
            status: None,
        }
    }

    #[test]
    fn tailnet_names_are_learned_from_the_tailscale_readings() {
        let h = AllowedHosts::new(&[], Vec::new());
        assert!(h.check(Some("pi.tail1234.ts.net")).is_err());
        h.learn(&tailscale(&[
            ("dns_name", Value::Text("pi.tail1234.ts.net".into())),
            ("hostname", Value::Text("Raspberry".into())),
            ("tailscale_ip", Value::Text("100.64.0.1".into())),
        ]));
        for host in [
            "pi.tail1234.ts.net:8080",
            "PI.tail1234.ts.net.",
            "pi",
            "raspberry:8080",
            "raspberry.local",
        ] {
            assert_eq!(h.check(Some(host)), Ok(()), "{host}");
        }
        assert!(h.check(Some("other.tail1234.ts.net")).is_err());
        // Not connected: no names reported, the last ones are kept.
        h.learn(&tailscale(&[
            ("dns_name", Value::Null),
            ("hostname", Value::Null),
        ]));
        assert_eq!(h.check(Some("pi.tail1234.ts.net")), Ok(()));
    }
}
