//! The little XML ONVIF's answers need: escaping, a tag scanner, and the few readings made of
//! them (profile token, fault); separate from the SOAP calls that use it, and testable alone.

/// `s` with XML's special characters escaped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` with XML's predefined and numeric entities decoded.
pub fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[end + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// One XML tag, as far as this module needs: enough for the few elements ONVIF answers carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The name without its namespace prefix.
    pub local: &'a str,
    /// The attributes' source text.
    pub attributes: &'a str,
    /// Whether it is a closing tag.
    pub closing: bool,
    /// Where the text after the tag starts.
    pub after: usize,
}

impl Tag<'_> {
    /// An attribute's value (by local name), entities decoded.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let mut rest = self.attributes;
        loop {
            rest = rest.trim_start();
            let eq = rest.find('=')?;
            let key = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let value_end = after[1..].find(quote)? + 1;
            let value = &after[1..value_end];
            let local = key.rsplit(':').next().unwrap_or(key);
            if local == name {
                return Some(xml_unescape(value));
            }
            rest = &after[value_end + 1..];
        }
    }
}

/// Every element tag of `xml` in order; declarations, comments and CDATA are skipped.
pub fn tags(xml: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = xml[i..].find('<').map(|o| i + o) {
        let rest = &xml[open..];
        let skip_to = |end: &str| rest.find(end).map_or(xml.len(), |e| open + e + end.len());
        if rest.starts_with("<!--") {
            i = skip_to("-->");
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            i = skip_to("]]>");
            continue;
        }
        let Some(close) = rest.find('>') else { break };
        let inner = &rest[1..close];
        i = open + close + 1;
        if inner.starts_with('?') || inner.starts_with('!') {
            continue;
        }
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/').trim_end_matches('/');
        let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
        let name = &inner[..name_end];
        out.push(Tag {
            local: name.rsplit(':').next().unwrap_or(name),
            attributes: &inner[name_end..],
            closing,
            after: i,
        });
    }
    out
}

/// The text right after the first opening tag named `local`, entities decoded and trimmed.
pub fn text_of(xml: &str, local: &str) -> Option<String> {
    let tag = tags(xml)
        .into_iter()
        .find(|t| !t.closing && t.local == local)?;
    let text = &xml[tag.after..];
    let end = text.find('<').unwrap_or(text.len());
    Some(xml_unescape(text[..end].trim()))
}

/// The token of the profile to move: the first with a `PTZConfiguration`, else the first.
pub fn profile_token_of(xml: &str) -> Option<String> {
    let all = tags(xml);
    let starts: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.closing && t.local == "Profiles")
        .map(|(i, _)| i)
        .collect();
    let mut first = None;
    for (n, &start) in starts.iter().enumerate() {
        let Some(token) = all[start].attribute("token") else {
            continue;
        };
        let end = starts.get(n + 1).copied().unwrap_or(all.len());
        if all[start..end]
            .iter()
            .any(|t| !t.closing && t.local == "PTZConfiguration")
        {
            return Some(token);
        }
        first.get_or_insert(token);
    }
    first
}

/// A SOAP fault's (sub)code and reason (SOAP 1.2 `Code/Subcode/Value` and `Reason/Text`, or
/// SOAP 1.1 `faultcode` and `faultstring`).
pub fn fault_of(xml: &str) -> Option<(String, String)> {
    let all = tags(xml);
    let fault = all.iter().position(|t| !t.closing && t.local == "Fault")?;
    let inner = &xml[all[fault].after..];
    let code = tags(inner)
        .iter()
        .filter(|t| !t.closing && t.local == "Value")
        .filter_map(|t| {
            let text = &inner[t.after..];
            let end = text.find('<')?;
            Some(xml_unescape(text[..end].trim()))
        })
        .next_back()
        .or_else(|| text_of(inner, "faultcode"))
        .unwrap_or_else(|| "no code".to_owned());
    let reason = text_of(inner, "Text")
        .or_else(|| text_of(inner, "faultstring"))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "no reason given".to_owned());
    Some((code, reason))
}
