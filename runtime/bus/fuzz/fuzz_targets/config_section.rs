//! Any bytes as a config section's stored text, a JSON patch written to it and the environment,
//! through the checks every reader and writer of `config:{section}` uses.
//!
//! The input is text, line by line (each part may be anything):
//!
//! ```text
//! camera                                   the section (else one is picked from the first byte)
//! {"cameras":[...],"reconnect_delay":5}    what Redis holds at config:{section}; `-` for nothing
//! {"reconnect_delay":10}                   the patch a client writes (checked when a JSON object)
//! CAMERA_CONFIG=[...]                      the environment, one VAR=value a line, to the end
//! ```
//!
//! Properties, for every section:
//!
//! - nothing panics;
//! - `resolve_by_name`, `Config::resolve` and the environment's layer agree, and the resolved
//!   section written back whole resolves to itself with no problem of its own;
//! - redacted, every secret is empty or `********`, and nothing else changes;
//! - `restore_redacted_by_name` never sends a saved password to another address (Pi-hole: host,
//!   also as the HTTP client reads it; cameras: host, ports, user);
//! - a write `check_update_by_name` accepts stores the stored fields with the patch's over them,
//!   and resolving what it stores uses every written field as written, with a problem for each
//!   warning it gave and no other (besides the environment's);
//! - errors name a field of the section;
//! - with every secret (and every URL password) in the input marked, no problem, warning or error
//!   quotes a mark.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_bus::config::{
    self, CameraConfig, CameraEntry, Config, EnvField, FieldError, PiholeConfig, REDACTED, Section,
};
use sense_bus::{SectionName, with_section};
use serde_json::{Map, Value as Json};

/// Put in front of (or into) every secret of the second pass: no message may quote it.
const MARK: &str = "Zx9SeCrEtQ";
/// What a secret given as a number becomes in the second pass.
const MAGIC: u64 = 9_081_726_354_123;
const MAGIC_DIGITS: &str = "9081726354123";

struct Input {
    name: SectionName,
    stored: Option<String>,
    patch: Option<Map<String, Json>>,
    env: Vec<(String, String)>,
}

fn parse(data: &[u8]) -> Input {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let name = first.trim().parse().unwrap_or_else(|_| {
        SectionName::ALL[usize::from(data.first().copied().unwrap_or(0)) % SectionName::ALL.len()]
    });
    let stored = lines.next().filter(|s| *s != "-").map(str::to_owned);
    let patch = match lines.next().map(serde_json::from_str::<Json>) {
        Some(Ok(Json::Object(map))) => Some(map),
        _ => None,
    };
    let env = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Input {
        name,
        stored,
        patch,
        env,
    }
}

fn secret_paths(name: SectionName) -> &'static [&'static str] {
    with_section!(name, S => S::SECRET_PATHS)
}

fn env_fields(name: SectionName) -> &'static [EnvField] {
    with_section!(name, S => S::ENV)
}

fn checked_whole(name: SectionName) -> bool {
    with_section!(name, S => S::CHECKED_WHOLE)
}

fn holds_secret(name: SectionName, path: &str) -> bool {
    with_section!(name, S => config::is_secret_path::<S>(path))
}

/// `value` as the section's field `key` deserializes and serializes it, alone over the defaults.
fn canonical(name: SectionName, key: &str, value: &Json) -> Option<Json> {
    with_section!(name, S => {
        let Ok(Json::Object(mut fields)) = serde_json::to_value(S::default()) else {
            return None;
        };
        fields.insert(key.to_owned(), value.clone());
        let section: S = serde_json::from_value(Json::Object(fields)).ok()?;
        serde_json::to_value(section).ok()?.get(key).cloned()
    })
}

/// An error (or warning) of section `name` names it: `name`, `name.field` or `name[...]`.
fn assert_within(name: SectionName, e: &FieldError) {
    let field = e.field.strip_prefix(name.as_str());
    assert!(
        field.is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')),
        "{name}: an error outside the section: {e:?}"
    );
}

/// Runs `f` on every value at `path` (`cameras[].password`) within `value`.
fn at_path(value: &Json, path: &str, f: &mut dyn FnMut(&Json)) {
    fn walk(value: &Json, segments: &[&str], f: &mut dyn FnMut(&Json)) {
        let Some((first, rest)) = segments.split_first() else {
            return f(value);
        };
        let (key, each) = match first.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*first, false),
        };
        let Some(inner) = value.get(key) else { return };
        if each {
            if let Json::Array(items) = inner {
                for item in items {
                    walk(item, rest, f);
                }
            }
        } else {
            walk(inner, rest, f);
        }
    }
    walk(value, &path.split('.').collect::<Vec<_>>(), f);
}

/// The resolved section with each non-empty secret replaced as `redact` does.
fn redacted_copy(name: SectionName, value: &Json) -> Json {
    fn walk(value: &mut Json, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            if let Json::String(s) = value
                && !s.is_empty()
            {
                REDACTED.clone_into(s);
            }
            return;
        };
        let (key, each) = match first.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*first, false),
        };
        let Some(inner) = value.get_mut(key) else {
            return;
        };
        match (each, inner) {
            (true, Json::Array(items)) => items.iter_mut().for_each(|i| walk(i, rest)),
            (true, _) => {}
            (false, inner) => walk(inner, rest),
        }
    }
    let mut copy = value.clone();
    for path in secret_paths(name) {
        walk(&mut copy, &path.split('.').collect::<Vec<_>>());
    }
    copy
}

/// Where the Pi-hole source's requests for `host` go (scheme, host, port), as sense-http reads
/// the URL (`http::Uri`); `None` when it cannot send one.
fn destination(host: &str) -> Option<(String, String, u16)> {
    let base = host.trim().trim_end_matches('/');
    let uri: http::Uri = format!("{base}/api/auth").parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let name = uri.host()?.trim_end_matches('.').to_ascii_lowercase();
    Some((scheme, name, uri.port_u16().unwrap_or(default)))
}

/// The first pass: the properties, on the input as it is. Returns the messages it saw.
fn check(input: &Input) -> Vec<String> {
    let name = input.name;
    let env = |var: &str| {
        input
            .env
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
    };
    let stored = input.stored.as_deref();
    let mut messages = Vec::new();

    // Reading.
    let (_, env_problems) = config::env_layer_by_name(name, &env);
    let resolved = config::resolve_by_name(name, stored, &env, false);
    assert!(
        resolved.problems.starts_with(&env_problems),
        "{name}: {:?} does not start with the environment's {env_problems:?}",
        resolved.problems
    );
    let (all, problems) = Config::resolve(&[name], |_| input.stored.clone(), &env);
    assert_eq!(problems, resolved.problems, "{name}");
    assert_eq!(
        serde_json::to_value(&all).unwrap()[name.as_str()],
        resolved.value,
        "{name}"
    );
    let again = config::resolve_by_name(name, Some(&resolved.value.to_string()), &env, false);
    assert_eq!(
        again.value, resolved.value,
        "{name}: the resolved section written back resolves otherwise"
    );
    assert_eq!(
        again.problems, env_problems,
        "{name}: the resolved section written back has problems"
    );
    let redacted = config::resolve_by_name(name, stored, &env, true);
    assert_eq!(redacted.problems, resolved.problems);
    for path in secret_paths(name) {
        at_path(&redacted.value, path, &mut |v| {
            assert!(
                v.as_str().is_some_and(|s| s.is_empty() || s == REDACTED),
                "{name}.{path} shown as {v}"
            );
        });
    }
    assert_eq!(
        redacted.value,
        redacted_copy(name, &resolved.value),
        "{name}"
    );
    messages.extend(resolved.problems);

    // Writing.
    let Some(patch) = &input.patch else {
        return messages;
    };
    let mut restored = patch.clone();
    if let Err(e) = config::restore_redacted_by_name(name, &mut restored, stored, &env) {
        assert_within(name, &e);
        messages.push(e.to_string());
        return messages;
    }
    let update = match config::check_update_by_name(name, stored, &restored, &env) {
        Ok(update) => update,
        Err(e) => {
            assert_within(name, &e);
            messages.push(e.to_string());
            return messages;
        }
    };
    let mut expected = match stored.map(serde_json::from_str::<Json>) {
        Some(Ok(Json::Object(map))) => map,
        _ => Map::new(),
    };
    expected.extend(restored.clone());
    assert_eq!(update.to_store, expected, "{name}: not what a write stores");
    if checked_whole(name) {
        assert!(update.warnings.is_empty(), "{name}: {:?}", update.warnings);
    }
    for w in &update.warnings {
        assert_within(name, w);
        assert!(
            !restored.contains_key(w.field[name.as_str().len()..].trim_start_matches('.')),
            "{name}: a warning about a written field: {w}"
        );
        messages.push(w.to_string());
    }
    let text = Json::Object(update.to_store.clone()).to_string();
    let after = config::resolve_by_name(name, Some(&text), &env, false);
    let own = &after.problems[env_problems.len().min(after.problems.len())..];
    assert_eq!(
        own.len(),
        update.warnings.len(),
        "{name}: an accepted write resolves with problems {:?}, warnings {:?}",
        after.problems,
        update.warnings
    );
    for (problem, warning) in own.iter().zip(&update.warnings) {
        assert!(problem.contains(&warning.message), "{problem} / {warning}");
    }
    for (key, value) in &restored {
        let written = canonical(name, key, value).expect("an accepted field deserializes");
        assert_eq!(
            after.value[key], written,
            "{name}.{key}: written {value}, in force {}",
            after.value[key]
        );
    }
    messages.extend(after.problems);

    // A saved password never goes to another address.
    match name {
        SectionName::Pihole => {
            let before = config::resolve::<PiholeConfig>(stored, &env).value;
            let after = config::resolve::<PiholeConfig>(Some(&text), &env).value;
            let given = patch.get("password").and_then(Json::as_str);
            if !after.password.is_empty()
                && after.password == before.password
                && given.is_none_or(|g| g == REDACTED)
            {
                assert_eq!(
                    config::Endpoint::of_url(&after.host),
                    config::Endpoint::of_url(&before.host),
                    "the saved Pi-hole password goes to a new address"
                );
                // ...as the HTTP client reads the two addresses, too.
                if let (Some(a), Some(b)) = (destination(&after.host), destination(&before.host)) {
                    assert_eq!(
                        a, b,
                        "the saved Pi-hole password goes to a new address: {:?} after {:?}",
                        after.host, before.host
                    );
                }
            }
        }
        SectionName::Camera => {
            let before = config::resolve::<CameraConfig>(stored, &env).value;
            let after = config::resolve::<CameraConfig>(Some(&text), &env).value;
            let sent = patch.get("cameras").and_then(Json::as_array);
            let endpoint = |c: &CameraEntry| {
                (
                    config::Endpoint::new("rtsp", &c.host, Some(c.port), &c.username),
                    c.onvif_port,
                )
            };
            for (i, camera) in after.cameras.iter().enumerate() {
                let given = sent
                    .and_then(|list| list.get(i))
                    .and_then(|c| c.get("password"))
                    .and_then(Json::as_str);
                if camera.password.is_empty()
                    || sent.is_some_and(|_| given.is_some_and(|g| g != REDACTED))
                {
                    continue;
                }
                assert!(
                    before
                        .cameras
                        .iter()
                        .any(|b| endpoint(b) == endpoint(camera) && b.password == camera.password),
                    "camera {i}'s saved password goes to a new address"
                );
            }
        }
        _ => {}
    }
    messages
}

/// `s` marked as a secret.
fn mark_secret(s: &str) -> String {
    if s.is_empty() || s == REDACTED {
        s.to_owned()
    } else if config::is_bcrypt_hash(s) {
        // Still a bcrypt hash: the mark is of its alphabet.
        format!("{}{MARK}{}", &s[..7], &s[7 + MARK.len()..])
    } else {
        format!("{MARK}{s}")
    }
}

/// Every string and number in `value` marked.
fn mark_all(value: &mut Json) {
    match value {
        Json::String(s) => *s = mark_secret(s),
        Json::Number(_) => *value = Json::from(MAGIC),
        Json::Array(items) => items.iter_mut().for_each(mark_all),
        Json::Object(map) => map.values_mut().for_each(mark_all),
        Json::Bool(_) | Json::Null => {}
    }
}

/// The secrets at `segments` within `value` marked, and a field on the way that holds them but
/// has the wrong shape marked whole.
fn mark_path(value: &mut Json, segments: &[&str]) {
    let Some((first, rest)) = segments.split_first() else {
        return mark_all(value);
    };
    let (key, each) = match first.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*first, false),
    };
    let Json::Object(map) = value else {
        return mark_all(value);
    };
    let Some(inner) = map.get_mut(key) else {
        return;
    };
    match (each, inner) {
        (true, Json::Array(items)) => items.iter_mut().for_each(|i| mark_path(i, rest)),
        (true, other) => mark_all(other),
        (false, inner) => mark_path(inner, rest),
    }
}

/// The password of every `scheme://user:password@host` in `s` marked.
fn mark_url_passwords(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':'))
        {
            Some(colon) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MARK);
                out.push_str(&authority[colon + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn mark_urls(value: &mut Json) {
    match value {
        Json::String(s) => *s = mark_url_passwords(s),
        Json::Array(items) => items.iter_mut().for_each(mark_urls),
        Json::Object(map) => map.values_mut().for_each(mark_urls),
        _ => {}
    }
}

/// A section object (or any JSON) with its secrets and URL passwords marked.
fn mark_section(name: SectionName, value: &mut Json) {
    mark_urls(value);
    for path in secret_paths(name) {
        mark_path(value, &path.split('.').collect::<Vec<_>>());
    }
}

/// The input with every secret marked: the section's secret fields (and fields holding them,
/// given in the wrong shape) in the stored text, the patch and the environment, and every URL
/// password anywhere.
fn marked(input: &Input) -> Input {
    let name = input.name;
    let stored = input
        .stored
        .as_deref()
        .map(|text| match serde_json::from_str::<Json>(text) {
            Ok(mut value) => {
                mark_section(name, &mut value);
                value.to_string()
            }
            Err(_) => text.to_owned(),
        });
    let patch = input.patch.clone().map(|patch| {
        let mut value = Json::Object(patch);
        mark_section(name, &mut value);
        match value {
            Json::Object(map) => map,
            _ => unreachable!(),
        }
    });
    let env = input
        .env
        .iter()
        .map(|(var, raw)| {
            let field = env_fields(name).iter().find(|f| f.var == var);
            let value = match field {
                Some(f) if f.secret => mark_secret(raw),
                Some(f) if holds_secret(name, f.field) => {
                    match serde_json::from_str::<Json>(raw) {
                        Ok(value) => {
                            let mut object =
                                Json::Object(Map::from_iter([(f.field.to_owned(), value)]));
                            mark_section(name, &mut object);
                            object[f.field].to_string()
                        }
                        // Not JSON: all of it is the field's value.
                        Err(_) => mark_secret(raw),
                    }
                }
                _ => mark_url_passwords(raw),
            };
            (var.clone(), value)
        })
        .collect();
    Input {
        name,
        stored,
        patch,
        env,
    }
}

fuzz_target!(|data: &[u8]| {
    let input = parse(data);
    check(&input);
    // The marks must be new: not in the input, nor in a number of it written out.
    let seen = format!(
        "{:?} {:?} {:?} {:?}",
        input.stored,
        input
            .stored
            .as_deref()
            .and_then(|s| serde_json::from_str::<Json>(s).ok())
            .map(|v| v.to_string()),
        input
            .patch
            .as_ref()
            .map(|p| Json::Object(p.clone()).to_string()),
        input.env
    );
    if seen.contains(MARK) || seen.contains(&MAGIC_DIGITS[..10]) {
        return;
    }
    for message in check(&marked(&input)) {
        assert!(
            !message.contains(MARK) && !message.contains(MAGIC_DIGITS),
            "{}: a secret is quoted: {message}",
            input.name
        );
    }
});
