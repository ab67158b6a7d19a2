//! RTSP URLs: built from a [`CameraEntry`] with every part encoded, and redacted for messages.
//!
//! The URL is handed to FFmpeg as one argument (there is no shell anywhere), so encoding is about
//! keeping the URL's *structure* intact: a `@`, `:` or `/` in a password must not move the host, a
//! `#` in a path must not cut it, a space or newline must not end it.

use sense_bus::config::CameraEntry;

/// What stands in for a password in logs, status and errors.
pub const REDACTED: &str = sense_bus::redact::HIDDEN;

/// RFC 3986 `unreserved`: the only bytes left as they are in the user name and password.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes left as they are in the path and query: `unreserved`, the separators camera paths use
/// (`/?&=` as in Dahua's `/cam/realmonitor?channel=1&subtype=0`, `:@,+;!*`), and `%` when it
/// starts an escape that is already there. Everything else, quotes, `$()`, backticks, spaces,
/// `#`, control and non-ASCII bytes included, is percent-encoded.
fn is_path_safe(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'/' | b'?' | b'&' | b'=' | b':' | b'@' | b',' | b'+' | b';' | b'!' | b'*'
        )
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0F)]));
}

/// `s` with every byte outside RFC 3986 `unreserved` percent-encoded (UTF-8), as userinfo needs.
pub fn encode_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// The stream path with a leading `/`, unsafe bytes percent-encoded (existing `%XX` escapes kept).
pub fn encode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    for (i, &b) in bytes.iter().enumerate() {
        let escape_kept = b == b'%'
            && bytes.get(i + 1).copied().is_some_and(is_hex)
            && bytes.get(i + 2).copied().is_some_and(is_hex);
        if is_path_safe(b) || escape_kept {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// The host as it goes in a URL: IPv6 addresses bracketed, anything unexpected encoded.
///
/// The config already refuses hosts with characters other than letters, digits and `.-_:[]`;
/// this is the second line of defence.
pub fn url_host(host: &str) -> String {
    let host = host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let mut out = String::with_capacity(bare.len() + 2);
    let ipv6 = bare.contains(':');
    if ipv6 {
        out.push('[');
    }
    for &b in bare.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') || (ipv6 && b == b':') {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    if ipv6 {
        out.push(']');
    }
    out
}

/// `rtsp://user:pass@host:port/path` for `camera`.
///
/// User name and password are percent-encoded as RFC 3986 userinfo (everything outside
/// `unreserved`), the host bracketed when it is an IPv6 address, the path given a leading `/` and
/// its unsafe bytes encoded. Without a user name there is no credentials part; a user name without
/// password gives `user@`.
pub fn url(camera: &CameraEntry) -> String {
    let mut out = String::from("rtsp://");
    if !camera.username.is_empty() {
        out.push_str(&encode_userinfo(&camera.username));
        if !camera.password.is_empty() {
            out.push(':');
            out.push_str(&encode_userinfo(&camera.password));
        }
        out.push('@');
    }
    out.push_str(&url_host(&camera.host));
    out.push(':');
    out.push_str(&camera.port.to_string());
    out.push_str(&encode_path(&camera.stream_path));
    out
}

/// Where the authority of `url` starts and ends (after `scheme://`, up to `/`, `?` or `#`).
fn authority_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// `url` with its password replaced by `***` (`rtsp://user:***@host:554/path`), for logs and
/// status: the project's one redaction, [`sense_bus::redact::url_credentials`]. URLs without a
/// password come back unchanged.
pub fn redacted(url: &str) -> String {
    sense_bus::redact::url_credentials(url).into_owned()
}

/// The password in `url`'s userinfo: as written (percent-encoded) and decoded.
pub(crate) fn password_of(url: &str) -> Option<(String, String)> {
    let (start, end) = authority_span(url)?;
    let authority = &url[start..end];
    let userinfo = &authority[..authority.rfind('@')?];
    let encoded = &userinfo[userinfo.find(':')? + 1..];
    if encoded.is_empty() {
        return None;
    }
    Some((encoded.to_owned(), percent_decode(encoded)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits make one byte: cannot overflow.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` (an FFmpeg message, say) with any password that might be in it replaced by `***`: the
/// userinfo password of every `scheme://user:pass@` URL ([`sense_bus::redact::url_credentials`]),
/// and the given `url`'s password itself, encoded or decoded, wherever it appears (when at least 4
/// characters long: a shorter one would blank out ordinary words, and FFmpeg only ever prints it
/// inside the URL).
pub fn redact_text(text: &str, url: &str) -> String {
    let mut out = sense_bus::redact::url_credentials(text).into_owned();
    if let Some((encoded, decoded)) = password_of(url) {
        for secret in [encoded, decoded] {
            if secret.chars().count() >= 4 {
                out = out.replace(&secret, REDACTED);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(host: &str, user: &str, pass: &str, path: &str) -> CameraEntry {
        serde_json::from_value(serde_json::json!({
            "name": "Cam", "host": host, "port": 554, "stream_path": path,
            "username": user, "password": pass,
        }))
        .unwrap()
    }

    #[test]
    fn a_plain_camera_gives_the_usual_url() {
        let c = camera("192.168.1.111", "admin", "admin", "/Streaming/Channels/101");
        assert_eq!(
            url(&c),
            "rtsp://admin:admin@192.168.1.111:554/Streaming/Channels/101"
        );
    }

    #[test]
    fn no_user_name_means_no_credentials_part() {
        let c = camera("cam.local", "", "ignored", "live");
        assert_eq!(url(&c), "rtsp://cam.local:554/live");
        let c = camera("cam.local", "viewer", "", "");
        assert_eq!(url(&c), "rtsp://viewer@cam.local:554/");
    }

    #[test]
    fn ipv6_hosts_are_bracketed_once() {
        assert_eq!(
            url(&camera("fe80::1", "", "", "/x")),
            "rtsp://[fe80::1]:554/x"
        );
        assert_eq!(
            url(&camera("[2001:db8::2]", "", "", "/x")),
            "rtsp://[2001:db8::2]:554/x"
        );
    }

    #[test]
    fn userinfo_encodes_everything_outside_unreserved() {
        let c = camera("h", "us er@x:y", "p@ss:w/o#rd%?&=é", "/p");
        assert_eq!(
            url(&c),
            "rtsp://us%20er%40x%3Ay:p%40ss%3Aw%2Fo%23rd%25%3F%26%3D%C3%A9@h:554/p"
        );
        assert_eq!(encode_userinfo("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn camera_paths_with_queries_survive() {
        let c = camera("h", "", "", "/cam/realmonitor?channel=1&subtype=0");
        assert_eq!(url(&c), "rtsp://h:554/cam/realmonitor?channel=1&subtype=0");
        assert_eq!(encode_path("already%20encoded"), "/already%20encoded");
        assert_eq!(encode_path("100%"), "/100%25");
    }

    /// What every hostile URL must still be: one token, the right host and port, no shell syntax.
    fn assert_well_formed(u: &str, host: &str) {
        assert!(u.starts_with("rtsp://"), "{u}");
        assert!(
            !u.chars().any(|c| c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '\'' | '`' | '$' | '(' | ')' | '#' | '\\' | '<' | '>'
                )),
            "unsafe character in {u}"
        );
        let (start, end) = authority_span(u).unwrap();
        let authority = &u[start..end];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        assert_eq!(host_port, format!("{host}:554"), "{u}");
    }

    #[test]
    fn hostile_values_never_break_the_url() {
        let hostile = [
            "a b",
            "x;rm -rf /",
            "$(touch /tmp/pwned)",
            "`id`",
            "\"quoted\"",
            "'single'",
            "line\nbreak\r\n",
            "tab\there",
            "at@sign:colon/slash",
            "#frag?q=1",
            "back\\slash",
            "%zz%",
            "ünïcödé",
        ];
        for bad in hostile {
            let c = camera("10.0.0.5", bad, bad, bad);
            let u = url(&c);
            assert_well_formed(&u, "10.0.0.5");
            // The credentials round-trip exactly.
            let (encoded, decoded) = password_of(&u).unwrap();
            assert_eq!(decoded, bad, "{u}");
            assert_eq!(encoded, encode_userinfo(bad));
            assert!(redacted(&u).contains(":***@10.0.0.5:554/"), "{u}");
            // And the redacted URL has no form of the password.
            let r = redacted(&url(&camera("10.0.0.5", "user", bad, "/x")));
            assert_eq!(r, "rtsp://user:***@10.0.0.5:554/x");
        }
    }

    #[test]
    fn hostile_hosts_are_encoded_rather_than_trusted() {
        let u = url(&camera("evil.com/x y@z", "", "", "/p"));
        assert_eq!(u, "rtsp://evil.com%2Fx%20y%40z:554/p");
    }

    #[test]
    fn redacted_keeps_everything_but_the_password() {
        assert_eq!(
            redacted("rtsp://admin:s3cret@192.168.1.2:554/live?x=1"),
            "rtsp://admin:***@192.168.1.2:554/live?x=1"
        );
        assert_eq!(redacted("rtsp://admin@h:554/x"), "rtsp://admin@h:554/x");
        assert_eq!(redacted("rtsp://h:554/a@b:c"), "rtsp://h:554/a@b:c");
        assert_eq!(redacted("not a url"), "not a url");
        assert_eq!(redacted("rtsp://u:p@[::1]:554"), "rtsp://u:***@[::1]:554");
    }

    #[test]
    fn ffmpeg_messages_lose_the_password() {
        let u = url(&camera("h", "admin", "hunter2!", "/x"));
        let line = format!("[error] {u}: Connection refused");
        assert_eq!(
            redact_text(&line, &u),
            "[error] rtsp://admin:***@h:554/x: Connection refused"
        );
        let leaked = "401: wrong password hunter2! for user admin, url 'rtsp://a:b@c/d'";
        assert_eq!(
            redact_text(leaked, &u),
            "401: wrong password *** for user admin, url 'rtsp://a:***@c/d'"
        );
    }
}
