//! The deployment's files as the tests read them: the compose file (services, environment,
//! labels, volumes, interpolation), .env.example, the config's variables, the code's sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sense_bus::config::Section;
use sense_bus::{SectionName, with_section};
use serde_json::Value as Json;

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn read(path: &str) -> String {
    let path = repo().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn yaml(path: &str) -> Json {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn compose() -> Json {
    yaml("docker/docker-compose.yml")
}

pub(crate) fn services(compose: &Json) -> &serde_json::Map<String, Json> {
    compose["services"].as_object().expect("services")
}

pub(crate) fn service<'a>(compose: &'a Json, name: &str) -> &'a Json {
    services(compose)
        .get(name)
        .unwrap_or_else(|| panic!("no service `{name}`"))
}

pub(crate) fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.iter().map(text).collect(),
        Json::Null => Vec::new(),
        other => vec![text(other)],
    }
}

/// A mapping that compose also takes as a list of `KEY=value` (`environment`, `labels`).
pub(crate) fn key_values(value: &Json) -> BTreeMap<String, String> {
    match value {
        Json::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Json::Array(items) => items
            .iter()
            .map(|item| {
                let item = text(item);
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

pub(crate) fn environment(service: &Json) -> BTreeMap<String, String> {
    key_values(&service["environment"])
}

pub(crate) fn labels(service: &Json) -> BTreeMap<String, String> {
    key_values(&service["labels"])
}

/// Compose's interpolation of `text`: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`.
/// Calls `seen` with each variable's name.
pub(crate) fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    seen: &mut dyn FnMut(&str),
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {text}"));
            let expr = &after[..end];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            seen(name);
            let value = env(name);
            let replaced = if let Some(default) = op.strip_prefix(":-") {
                value
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some(default) = op.strip_prefix('-') {
                value.unwrap_or_else(|| default.to_owned())
            } else {
                assert!(op.is_empty(), "unsupported interpolation ${{{expr}}}");
                value.unwrap_or_default()
            };
            out.push_str(&replaced);
            rest = &after[end + 1..];
        } else {
            let name_len = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1);
            let name = &rest[1..=name_len];
            assert!(!name.is_empty(), "a lone $ in {text}: write $$");
            seen(name);
            out.push_str(&env(name).unwrap_or_default());
            rest = &rest[1 + name_len..];
        }
    }
    out.push_str(rest);
    out
}

/// Compose's value of `text` with no .env: every default.
pub(crate) fn defaulted(text: &str) -> String {
    interpolate(text, &|_| None, &mut |_| {})
}

/// Every variable `${...}` in the compose file.
pub(crate) fn interpolated_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in read("docker/docker-compose.yml").lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        interpolate(line, &|_| None, &mut |n| {
            names.insert(n.to_owned());
        });
    }
    names
}

/// .env.example: the variables it sets (`NAME=value`, quotes removed) and those it only mentions
/// in a comment (`# NAME=value`).
pub(crate) struct EnvExample {
    pub(crate) set: BTreeMap<String, String>,
    pub(crate) commented: BTreeSet<String>,
}

impl EnvExample {
    pub(crate) fn load() -> EnvExample {
        let mut set = BTreeMap::new();
        let mut commented = BTreeSet::new();
        for line in read("docker/.env.example").lines() {
            let line = line.trim();
            let (is_comment, body) = match line.strip_prefix('#') {
                Some(body) => (true, body.trim_start()),
                None => (false, line),
            };
            let Some((name, value)) = body.split_once('=') else {
                continue;
            };
            let is_name = !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !is_name {
                assert!(is_comment, ".env.example: `{line}` is not NAME=value");
                continue;
            }
            if is_comment {
                commented.insert(name.to_owned());
                continue;
            }
            let value = value.trim();
            let unquoted = ['\'', '"']
                .into_iter()
                .find_map(|q| {
                    value
                        .strip_prefix(q)
                        .and_then(|v| v.strip_suffix(q))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| value.to_owned());
            assert!(
                set.insert(name.to_owned(), unquoted).is_none(),
                ".env.example sets {name} twice"
            );
        }
        EnvExample { set, commented }
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.set.get(name).cloned()
    }

    pub(crate) fn names(&self) -> BTreeSet<String> {
        self.set.keys().chain(&self.commented).cloned().collect()
    }
}

/// Every config variable of every section (`EnvField`s of `sense_bus::config`).
pub(crate) fn config_vars() -> BTreeSet<&'static str> {
    let mut vars = BTreeSet::new();
    for section in SectionName::ALL {
        let fields = with_section!(section, S => S::ENV);
        vars.extend(fields.iter().map(|f| f.var));
    }
    vars
}

/// Every `.rs` file under `dir`, except tests.
pub(crate) fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "tests" && name != "target" {
                rust_sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `80m` → bytes.
pub(crate) fn bytes(size: &str) -> u64 {
    let size = size.trim().to_ascii_lowercase();
    let size = size.strip_suffix('b').unwrap_or(&size);
    let (digits, unit) = size.split_at(
        size.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(size.len()),
    );
    let n: u64 = digits.parse().unwrap_or_else(|_| panic!("bad size {size}"));
    n << match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        other => panic!("bad unit {other}"),
    }
}

/// A volume entry `source:target[:mode]` of the short syntax.
pub(crate) fn volume_parts(entry: &str) -> (String, String, String) {
    let mut parts = entry.splitn(3, ':');
    let source = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mode = parts.next().unwrap_or("rw").to_owned();
    (source, target, mode)
}

/// A service's `volumes:` entry, in the short syntax (`source:target[:ro]`) or the long one (`type`,
/// `source`, `target`, `read_only`): (type, source, target, read-only).
pub(crate) fn volume_entry(entry: &Json) -> (String, String, String, bool) {
    match entry {
        Json::Object(long) => (
            text(&long["type"]),
            text(&long["source"]),
            text(&long["target"]),
            long["read_only"].as_bool().unwrap_or(false),
        ),
        short => {
            let (source, target, mode) = volume_parts(&text(short));
            let kind = if source.starts_with(['/', '.', '~']) {
                "bind"
            } else {
                "volume"
            };
            let read_only = mode.split(',').any(|m| m == "ro");
            (kind.to_owned(), source, target, read_only)
        }
    }
}

/// The services that run the Sense Pulse image.
pub(crate) fn sense_services(compose: &Json) -> Vec<(&String, &Json)> {
    services(compose)
        .iter()
        .filter(|(_, s)| {
            let image = text(&s["image"]);
            s.get("build").is_some()
                || image.contains("SENSE_IMAGE")
                || image.contains("SENSE_CAMERA_IMAGE")
        })
        .collect()
}

pub(crate) fn is_manual(service: &Json) -> bool {
    strings(&service["profiles"]) == ["manual"]
}
