//! Keeping secrets out of messages: the one place that hides the credentials of a URL.
//!
//! Config values, errors and log lines may quote URLs (`redis://:pass@host`, `rtsp://user:pass@cam`,
//! `http://user:pass@pi.hole`). Whatever is shown to people or written to the bus goes through
//! [`url_credentials`] first; section fields that are secrets are never quoted at all (see
//! `config::Section::SECRET_PATHS`).

use std::borrow::Cow;

/// What stands in for a hidden password.
pub const HIDDEN: &str = "***";

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`
/// (the user name stays: it helps and is not a secret).
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the path, query, fragment, or anything a URL does not hold.
        let mut end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        // ...or where another URL starts (`http://pi.hole\nhttp://u:p@h` shown escaped): its
        // `://` is looked at next.
        if after[..end].ends_with(':') && after[end..].starts_with("//") {
            end -= 1;
        }
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                out.push_str(user);
                if userinfo.contains(':') {
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                out.push_str(&authority[at_sign..]);
                changed |= userinfo.contains(':');
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// `url` as it may be shown even when it is not a valid URL (a mistyped `--redis`): what
/// [`url_credentials`] hides, and, when a `user:password@` is left that it did not recognise
/// (`redis:/:hunter2@host`), everything between the scheme and the last `@` too.
pub fn any_url(url: &str) -> Cow<'_, str> {
    let hidden = url_credentials(url);
    let Some(at) = hidden.rfind('@') else {
        return hidden;
    };
    // After a scheme (`redis:`), which helps and holds nothing secret.
    let start = hidden[..at]
        .find(':')
        .filter(|&colon| {
            colon > 0
                && hidden[..colon]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map_or(0, |colon| colon + 1);
    let userinfo = &hidden[start..at];
    if !userinfo.contains(':') || userinfo.ends_with(&format!(":{HIDDEN}")) {
        return hidden;
    }
    Cow::Owned(format!("{}{HIDDEN}{}", &hidden[..start], &hidden[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_url_hides_credentials_even_in_a_malformed_url() {
        assert_eq!(any_url("redis://:pw@h:x"), "redis://:***@h:x");
        assert_eq!(any_url("redis:/:hunter2@host:6379"), "redis:***@host:6379");
        assert_eq!(any_url(":hunter2@host"), "***@host");
        assert_eq!(any_url("nonsense"), "nonsense");
        assert_eq!(any_url("redis://user@host"), "redis://user@host");
    }

    #[test]
    fn passwords_in_urls_are_hidden_wherever_they_stand() {
        assert_eq!(
            url_credentials("cannot reach redis://:hunter2@redis:6379/0 (refused)"),
            "cannot reach redis://:***@redis:6379/0 (refused)"
        );
        assert_eq!(
            url_credentials("\"rtsp://admin:p@ss:w0rd@10.0.0.5:554/live\" and http://u:v@x"),
            "\"rtsp://admin:***@10.0.0.5:554/live\" and http://u:***@x"
        );
        assert_eq!(url_credentials("http://user@host/a"), "http://user@host/a");
        // A URL right after another's host, as a value with a newline reads once escaped.
        assert_eq!(
            url_credentials(r#"(got "http://pi.hole\nhttp://admin:hunter2@pi.hole")"#),
            r#"(got "http://pi.hole\nhttp://admin:***@pi.hole")"#
        );
        assert_eq!(url_credentials("x://yhttp://u:p@h"), "x://yhttp://u:***@h");
        assert!(matches!(url_credentials("no url here"), Cow::Borrowed(_)));
        assert!(matches!(
            url_credentials("http://pi.hole/admin"),
            Cow::Borrowed(_)
        ));
    }
}
