//! # sense-legacy
//!
//! Imports the monolith's `config.yaml` (the Python Sense Pulse) into the config sections.
//!
//! Every setting is mapped to its section and field, or listed as not imported with the reason.
//! The mapped sections are then checked as strictly as a dashboard write: an invalid value stops
//! the import, and nothing is written. Every invalid value is reported at once, each named as it
//! is stored (`aranet4.sensors[0].mac`) with its line in the file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use sense_bus::SectionName;
use sense_bus::config::{self, FieldError, REDACTED};
#[cfg(feature = "apply")]
use sense_bus::{Batch, Bus, BusError, keys, store};
use serde_json::{Map, Value as Json};

mod lines;
use lines::{Step, find_line, steps_of};

/// Keys of list elements the monolith wrote under another name, and the name they are stored
/// under: `aranet4.sensors[].mac_address` is stored as `mac`.
pub(crate) const RENAMED: &[(SectionName, &str, &str, &str)] =
    &[(SectionName::Aranet4, "sensors", "mac_address", "mac")];

/// Where a legacy setting goes.
enum Target {
    /// To `section.field`.
    To(SectionName, &'static str),
    /// Nowhere, for this reason.
    Dropped(&'static str),
}

/// The monolith's settings, `section.key`, and where each goes.
fn target(section: &str, key: &str) -> Target {
    use SectionName as S;
    use Target::{Dropped, To};
    match (section, key) {
        ("pihole", "host") => To(S::Pihole, "host"),
        ("pihole", "password") => To(S::Pihole, "password"),
        ("tailscale", "cache_duration") => To(S::Schedule, "tailscale"),
        ("display", "rotation") => To(S::Display, "rotation"),
        ("display", "show_icons") => To(S::Display, "show_icons"),
        ("display", "scroll_speed") => To(S::Display, "scroll_speed"),
        ("display", "icon_duration") => To(S::Display, "icon_duration"),
        ("sleep", "start_hour") => To(S::Sleep, "start_hour"),
        ("sleep", "end_hour") => To(S::Sleep, "end_hour"),
        ("sleep", "disable_pi_leds") => To(S::Sleep, "disable_pi_leds"),
        ("update", "interval") => To(S::Display, "cycle_interval"),
        ("auth", "enabled") => To(S::Auth, "enabled"),
        ("auth", "username") => To(S::Auth, "username"),
        ("auth", "password_hash") => To(S::Auth, "password_hash"),
        ("aranet4", "timeout") => To(S::Aranet4, "timeout"),
        ("aranet4", "sensors") => To(S::Aranet4, "sensors"),
        ("aranet4", "cache_duration") => To(S::Schedule, "aranet4"),
        ("weather", "location") => To(S::Weather, "location"),
        ("weather", "cache_duration") => To(S::Weather, "cache_duration"),
        ("network_camera", "transport") => To(S::Camera, "transport"),
        ("network_camera", "reconnect_delay") => To(S::Camera, "reconnect_delay"),
        ("network_camera", "max_reconnect_attempts") => To(S::Camera, "max_reconnect_attempts"),
        ("network_camera", "hls_segment_duration") => To(S::Camera, "hls_segment_duration"),
        ("network_camera", "hls_playlist_size") => To(S::Camera, "hls_playlist_size"),
        ("network_camera", "cameras") => To(S::Camera, "cameras"),
        ("network_camera", "enabled") => Dropped("the stream starts on demand from the dashboard"),
        ("network_camera", "output_dir") => Dropped("a deployment setting: set HLS_OUTPUT_DIR"),
        ("logging", _) => Dropped("services log to stderr; set LOG_LEVEL (or RUST_LOG)"),
        ("web", _) => Dropped("a deployment setting: use `sense-pulse run --listen HOST:PORT`"),
        _ => Dropped("not a setting Sense Pulse knows"),
    }
}

fn is_secret(section: SectionName, field: &str) -> bool {
    matches!(
        (section, field),
        (SectionName::Pihole, "password") | (SectionName::Auth, "password_hash")
    )
}

/// One setting carried over.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    /// Where it was: `display.rotation`.
    pub from: String,
    /// Its line in the file.
    pub line: Option<usize>,
    /// The section it went to.
    pub section: SectionName,
    /// The field in that section.
    pub field: &'static str,
    /// Its value as shown to people (secrets replaced).
    pub shown: String,
}

/// One setting left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Where it was.
    pub from: String,
    /// Its line in the file.
    pub line: Option<usize>,
    /// Why it is not imported.
    pub reason: &'static str,
}

/// What an import will write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportPlan {
    /// The sections to write, each a complete, validated JSON object.
    pub sections: Vec<(SectionName, Map<String, Json>)>,
    /// The settings carried over.
    pub mapped: Vec<Mapped>,
    /// The settings left behind.
    pub skipped: Vec<Skipped>,
}

/// Why a file cannot be imported. Nothing is written.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Not YAML; the message carries the line and column.
    #[error("not valid YAML: {0}")]
    Yaml(String),
    /// YAML, but not a mapping of sections.
    #[error("expected a mapping of sections (pihole:, display:, ...) at the top level")]
    NotAMapping,
    /// Values are invalid: every one found, in the order of the file.
    #[error("{}", invalid_report(.0))]
    Invalid(Vec<Problem>),
}

/// One value that cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its line in the file.
    pub line: Option<usize>,
    /// The setting as it is stored, e.g. `aranet4.sensors[0].mac` or `display.cycle_interval`;
    /// for a section of the file that is not a mapping, that section (`display`).
    pub field: String,
    /// The setting as the file names it, when its section or key differ from the stored ones
    /// (`update.interval` for `display.cycle_interval`).
    pub in_file: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The message of a section in the file that is not a mapping of settings.
pub const NOT_A_MAPPING: &str =
    "must be a mapping of settings (`key: value` lines indented under it)";

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        f.write_str(&self.field)?;
        if let Some(in_file) = &self.in_file {
            write!(f, " ({in_file} in the file)")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn invalid_report(problems: &[Problem]) -> String {
    let mut report = match problems.len() {
        1 => "1 invalid value:".to_owned(),
        n => format!("{n} invalid values:"),
    };
    for p in problems {
        report.push_str("\n  ");
        report.push_str(&p.to_string());
    }
    report
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

fn show(section: SectionName, field: &str, value: &Json) -> String {
    if is_secret(section, field) {
        return if value.as_str().is_some_and(str::is_empty) {
            "\"\"".into()
        } else {
            REDACTED.into()
        };
    }
    if let (SectionName::Camera, Json::Array(cameras)) = (section, value) {
        return format!("{} camera(s)", cameras.len());
    }
    // `pihole.host: http://admin:pass@pi.hole` is shown without its password.
    sense_bus::redact::url_credentials(&value.to_string()).into_owned()
}

/// Reads `text` (a monolith `config.yaml`) and works out what to write. Writes nothing.
pub fn plan(text: &str) -> Result<ImportPlan, ImportError> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| ImportError::Yaml(e.to_string()))?;
    // An empty file is an empty mapping.
    let json: Json = match yaml {
        serde_norway::Value::Null => Json::Object(Map::new()),
        other => serde_json::to_value(other).map_err(|e| ImportError::Yaml(e.to_string()))?,
    };
    let Json::Object(top) = json else {
        return Err(ImportError::NotAMapping);
    };

    let mut plan = ImportPlan::default();
    let mut problems = Vec::new();
    let mut objects: Vec<(SectionName, Map<String, Json>)> = Vec::new();
    // Where each (section, field) came from: the file's section and key.
    let mut origin: Vec<(SectionName, &'static str, String, String)> = Vec::new();

    for (section, settings) in &top {
        let settings = match settings {
            Json::Object(map) => map,
            Json::Null => continue,
            _ => {
                problems.push(Problem {
                    line: find_line(text, &[Step::key(section)]),
                    field: section.clone(),
                    in_file: None,
                    message: NOT_A_MAPPING.to_owned(),
                });
                continue;
            }
        };
        for (key, value) in settings {
            let from = format!("{section}.{key}");
            let line = find_line(text, &[Step::key(section), Step::key(key)]);
            if value.is_null() {
                plan.skipped.push(Skipped {
                    from,
                    line,
                    reason: "empty: the default applies",
                });
                continue;
            }
            match target(section, key) {
                Target::Dropped(reason) => plan.skipped.push(Skipped { from, line, reason }),
                Target::To(name, field) => {
                    let i = objects
                        .iter()
                        .position(|(n, _)| *n == name)
                        .unwrap_or_else(|| {
                            objects.push((name, Map::new()));
                            objects.len() - 1
                        });
                    objects[i]
                        .1
                        .insert(field.to_owned(), renamed(name, field, value.clone()));
                    plan.mapped.push(Mapped {
                        from,
                        line,
                        section: name,
                        field,
                        shown: show(name, field, value),
                    });
                    origin.push((name, field, section.clone(), key.clone()));
                }
            }
        }
    }

    for (name, object) in &objects {
        for e in every_problem(*name, object) {
            // e.field is `section.field[...]`: find the YAML setting behind the top-level field.
            let path = e
                .field
                .strip_prefix(name.as_str())
                .unwrap_or(&e.field)
                .trim_start_matches('.');
            let top_field = path.split(['.', '[']).next().unwrap_or_default();
            let rest = &path[top_field.len()..];
            let (line, in_file) = match origin
                .iter()
                .find(|(n, f, _, _)| n == name && *f == top_field)
            {
                Some((_, _, section, key)) => {
                    let mut steps = vec![Step::key(section), Step::key(key)];
                    steps.extend(steps_of(*name, top_field, rest));
                    let renamed = (section.as_str(), key.as_str()) != (name.as_str(), top_field);
                    (
                        find_line(text, &steps),
                        renamed.then(|| format!("{section}.{key}{rest}")),
                    )
                }
                None => (None, None),
            };
            // serde lists the legacy names among the fields it expects: only the stored ones.
            let mut message = e.message;
            if message.starts_with("unknown field") {
                for (_, _, from, _) in RENAMED.iter().filter(|(s, ..)| s == name) {
                    message = message.replace(&format!(", `{from}`"), "");
                }
            }
            problems.push(Problem {
                line,
                field: e.field,
                in_file,
                message,
            });
        }
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| {
            (a.line.is_none(), a.line, &a.field).cmp(&(b.line.is_none(), b.line, &b.field))
        });
        return Err(ImportError::Invalid(problems));
    }
    objects.sort_by_key(|(n, _)| *n);
    plan.sections = objects;
    Ok(plan)
}

/// `value` of `section.field` with the keys of its list elements under their stored names
/// ([`RENAMED`]): `mac_address` becomes `mac` (unless the element has both).
fn renamed(section: SectionName, field: &str, mut value: Json) -> Json {
    for (_, _, from, to) in RENAMED
        .iter()
        .filter(|(s, list, _, _)| *s == section && *list == field)
    {
        for element in value.as_array_mut().into_iter().flatten() {
            if let Json::Object(keys) = element
                && !keys.contains_key(*to)
                && let Some(v) = keys.remove(*from)
            {
                keys.insert((*to).to_owned(), v);
            }
        }
    }
    value
}

/// Rounds of [`every_problem`] at most: each takes a value out, so a section has far fewer.
const MAX_ROUNDS: usize = 1000;

/// Every problem of `object`, a section as the import would write it, each named within the
/// section as `object` has it (`aranet4.sensors[2].mac`).
///
/// The check stops at the first problem, so this checks again and again, each time with the
/// value at fault taken out: a field of a list's element (then, if the element cannot do without
/// it, the element), or a top-level field (which then takes its default), until the rest passes.
fn every_problem(name: SectionName, object: &Map<String, Json>) -> Vec<FieldError> {
    let mut work = object.clone();
    // For each list, the index in `object` of each element still in `work`.
    let mut kept: HashMap<String, Vec<usize>> = object
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), (0..v.as_array()?.len()).collect())))
        .collect();
    // The fields taken out of elements: (list, index in `object`, field).
    let mut taken: HashSet<(String, usize, String)> = HashSet::new();
    let mut problems: Vec<FieldError> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Err(e) = check(name, &work) else { break };
        let path = e
            .field
            .strip_prefix(name.as_str())
            .unwrap_or(&e.field)
            .trim_start_matches('.')
            .to_owned();
        let top = path.split(['.', '[']).next().unwrap_or_default().to_owned();
        let element = path[top.len()..]
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, tail)| Some((i.parse::<usize>().ok()?, tail.to_owned())));
        let mut record = |field: String, message: String| {
            let problem = FieldError::new(field, message);
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        };
        match (element, kept.get_mut(&top)) {
            (Some((i, tail)), Some(origins)) if i < origins.len() => {
                let original = origins[i];
                let sub = tail
                    .trim_start_matches('.')
                    .split(['.', '['])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                // "missing field `mac`" after this very loop took `mac` out: not the file's fault.
                // (A problem with an element that holds a secret does not say which field.)
                let was_taken = |f: &str| taken.contains(&(top.clone(), original, f.to_owned()));
                let ours = sub.is_empty()
                    && match missing_field(&e.message) {
                        Some(field) => was_taken(field),
                        None => taken.iter().any(|(l, o, _)| *l == top && *o == original),
                    };
                if !ours {
                    record(
                        format!("{name}.{top}[{original}]{tail}"),
                        renumbered(&e.message, &top, origins),
                    );
                }
                let list = work.get_mut(&top).and_then(Json::as_array_mut);
                let fields = list
                    .and_then(|l| l.get_mut(i))
                    .and_then(Json::as_object_mut);
                if !sub.is_empty() && fields.and_then(|f| f.remove(&sub)).is_some() {
                    taken.insert((top.clone(), original, sub));
                } else {
                    if let Some(list) = work.get_mut(&top).and_then(Json::as_array_mut) {
                        list.remove(i);
                    }
                    origins.remove(i);
                }
            }
            _ => {
                record(e.field.clone(), e.message.clone());
                if work.remove(&top).is_none() {
                    // Not a field of the file's (a rule across fields): nothing more to take out.
                    break;
                }
            }
        }
    }
    problems
}

/// The field serde says is missing: `mac` of "missing field `mac`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(f, _)| f)
}

/// `message` with each `list[j]` it names renumbered from the elements still checked to their
/// indexes in the file (`"Office" is already used by sensors[0]`).
fn renumbered(message: &str, list: &str, origins: &[usize]) -> String {
    let opening = format!("{list}[");
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(&opening) {
        let (before, after) = rest.split_at(at + opening.len());
        out.push_str(before);
        rest = after;
        if let Some((digits, tail)) = rest.split_once(']')
            && let Some(&original) = digits.parse::<usize>().ok().and_then(|j| origins.get(j))
        {
            out.push_str(&format!("{original}]"));
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn check(name: SectionName, object: &Map<String, Json>) -> Result<(), FieldError> {
    sense_bus::with_section!(name, S => config::check_section::<S>(object).map(drop))
}

/// Writes the plan's sections (replacing what is stored for them) in one atomic batch and
/// announces each on `config:changed`.
#[cfg(feature = "apply")]
pub async fn apply(bus: &Bus, plan: &ImportPlan) -> Result<(), BusError> {
    let mut batch = Batch::new();
    for (name, object) in &plan.sections {
        batch.set(
            keys::config(*name),
            Json::Object(object.clone()).to_string(),
            None,
        );
    }
    let names: Vec<SectionName> = plan.sections.iter().map(|(n, _)| *n).collect();
    store::replace_config(bus, &mut batch, &names).await
}

impl fmt::Display for ImportPlan {
    /// The report printed by `sense-pulse config import`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mapped.is_empty() {
            writeln!(f, "Nothing to import.")?;
        } else {
            writeln!(f, "Imported:")?;
            let width = self
                .mapped
                .iter()
                .map(|m| m.section.as_str().len() + m.field.len() + 1)
                .max()
                .unwrap_or(0);
            for m in &self.mapped {
                let to = format!("{}.{}", m.section, m.field);
                writeln!(
                    f,
                    "  {to:<width$} = {}   ← {}{}",
                    m.shown,
                    m.from,
                    line_suffix(m.line)
                )?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(f, "Not imported:")?;
            for s in &self.skipped {
                writeln!(f, "  {}{}: {}", s.from, line_suffix(s.line), s.reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
