//! Where a secret goes: the endpoint a password authenticates to.

/// Scheme, host, port and user name of a service a secret is sent to. A redacted secret sent
/// back by a client is restored only while its endpoint is unchanged
/// ([`Section::restore_redacted`](super::Section::restore_redacted)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    host: String,
    port: Option<u16>,
    username: String,
}

impl Endpoint {
    /// An endpoint from its parts; scheme and host compare without regard to case.
    pub fn new(scheme: &str, host: &str, port: Option<u16>, username: &str) -> Endpoint {
        Endpoint {
            scheme: scheme.to_ascii_lowercase(),
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port: port.or_else(|| default_port(scheme)),
            username: username.to_owned(),
        }
    }

    /// The endpoint of `url` (`http://user@pi.hole:8080/admin`): the path does not count, a
    /// missing port is the scheme's own. Text that is not a URL is taken as a host name.
    pub fn of_url(url: &str) -> Endpoint {
        let (scheme, rest) = url.trim().split_once("://").unwrap_or(("", url.trim()));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
        let username = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
        // `[v6]:port`, `host:port`, or a bare host (a v6 address without brackets has colons).
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && (h.ends_with(']') || !h.contains(':')) => {
                match p.parse::<u16>() {
                    Ok(port) => (h, Some(port)),
                    Err(_) => (host_port, None),
                }
            }
            _ => (host_port, None),
        };
        Endpoint::new(scheme, host, port, username)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        "rtsp" => Some(554),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn only_scheme_host_port_and_user_make_an_endpoint() {
        let pihole = Endpoint::of_url("http://pi.hole");
        assert_eq!(pihole, Endpoint::of_url("HTTP://Pi.Hole:80/admin/"));
        assert_eq!(pihole, Endpoint::of_url("http://pi.hole./api"));
        assert_ne!(pihole, Endpoint::of_url("https://pi.hole"));
        assert_ne!(pihole, Endpoint::of_url("http://pi.hole:8080"));
        assert_ne!(pihole, Endpoint::of_url("http://attacker"));
        assert_ne!(pihole, Endpoint::of_url("http://admin@pi.hole"));
        assert_eq!(
            Endpoint::of_url("http://[fd00::1]:8080/x"),
            Endpoint::new("http", "[FD00::1]", Some(8080), "")
        );
        assert_eq!(
            Endpoint::new("rtsp", "cam.local", None, "admin"),
            Endpoint::new("rtsp", "cam.local", Some(554), "admin")
        );
    }
}
