//! Imports the monolith's `config.yaml` into the config sections.
//!
//! Every setting is mapped to its section and field, or listed as not imported with the reason.
//! The mapped sections are then checked as strictly as a dashboard write: an invalid value stops
//! the import, and nothing is written. Every invalid value is reported at once, each named as it
//! is stored (`aranet4.sensors[0].mac`) with its line in the file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use sense_bus::config::{self, FieldError, REDACTED};
use sense_bus::{Batch, Bus, BusError, SectionName, keys, store};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

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

/// A step on the way to a value in the YAML file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// The value of a key, under any of these names.
    Key(Vec<String>),
    /// An element of a list.
    Index(usize),
}

impl Step {
    fn key(name: &str) -> Step {
        Step::Key(vec![name.to_owned()])
    }
}

/// Keys of list elements the monolith wrote under another name, and the name they are stored
/// under: `aranet4.sensors[].mac_address` is stored as `mac`.
const RENAMED: &[(SectionName, &str, &str, &str)] =
    &[(SectionName::Aranet4, "sensors", "mac_address", "mac")];

/// The 1-based line of the value at `path` in `text` (of its key, when the path ends at a key),
/// or of the nearest enclosing value found.
fn find_line(text: &str, path: &[Step]) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|len| line_of(text, &path[..len]))
}

/// What a [`Seek`] raises where it arrives, so the YAML reader says where that is.
const HERE: &str = "\u{0}sense-pulse: here";

/// The line of exactly `path`, if it is in `text`: YAML's own reader walks to it and stops there
/// with an error, which carries the position.
fn line_of(text: &str, path: &[Step]) -> Option<usize> {
    let reader = serde_norway::Deserializer::from_str(text);
    match Seek(path).deserialize(reader) {
        // The message starts with the path of the value (`display.rotation: `).
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| l.line()),
        _ => None,
    }
}

/// Walks the YAML along a path and fails with [`HERE`] at its end.
struct Seek<'a>(&'a [Step]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seek<'_> {
    /// A value with nothing under it: here if the path ends, else the path is not in the file.
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (names, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(HERE)),
            Some((Step::Key(names), rest)) => (names, rest),
            Some((Step::Index(_), _)) => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        while let Some(found) = map.next_key_seed(KeySeed {
            names,
            here: rest.is_empty(),
        })? {
            if found {
                map.next_value_seed(Seek(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (index, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(HERE)),
            Some((Step::Index(index), rest)) => (*index, rest),
            Some((Step::Key(_), _)) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        let mut i = 0;
        loop {
            let more = if i == index {
                seq.next_element_seed(Seek(rest))?
            } else {
                seq.next_element::<IgnoredAny>()?.map(drop)
            };
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// A key of a mapping: whether it is one of `names` (and, when the path ends at it, [`HERE`]).
struct KeySeed<'a> {
    names: &'a [String],
    here: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let found = self.names.iter().any(|n| n == key);
        if found && self.here {
            Err(E::custom(HERE))
        } else {
            Ok(found)
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// `[0].mac` as steps, a key under its stored name or the name the monolith used.
fn steps_of(section: SectionName, list: &str, rest: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (digits, tail) = after.split_once(']').unwrap_or((after, ""));
            match digits.parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => break,
            }
            rest = tail;
        } else {
            let after = rest.strip_prefix('.').unwrap_or(rest);
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            let mut names = vec![key.to_owned()];
            names.extend(
                RENAMED
                    .iter()
                    .filter(|(s, l, _, to)| *s == section && *l == list && *to == key)
                    .map(|(_, _, from, _)| (*from).to_owned()),
            );
            steps.push(Step::Key(names));
            rest = &after[end..];
        }
    }
    steps
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
mod tests {
    use super::*;
    use sense_bus::config::Aranet4Config;

    const EXAMPLE: &str = include_str!("../tests/fixtures/legacy-config.example.yaml");

    #[test]
    fn the_example_config_maps_completely() {
        let plan = plan(EXAMPLE).unwrap();
        let names: Vec<_> = plan.sections.iter().map(|(n, _)| *n).collect();
        use SectionName as S;
        assert_eq!(
            names,
            [
                S::Display,
                S::Sleep,
                S::Pihole,
                S::Aranet4,
                S::Camera,
                S::Schedule,
                S::Auth
            ]
        );
        let section = |n: SectionName| &plan.sections.iter().find(|(x, _)| *x == n).unwrap().1;
        assert_eq!(section(S::Sleep)["start_hour"], 22);
        assert_eq!(section(S::Display)["cycle_interval"], 60);
        assert_eq!(section(S::Schedule)["tailscale"], 30);
        assert_eq!(section(S::Schedule)["aranet4"], 60);
        assert_eq!(section(S::Pihole)["host"], "http://localhost");

        let rotation = plan
            .mapped
            .iter()
            .find(|m| m.from == "display.rotation")
            .unwrap();
        assert_eq!(rotation.line, Some(15));
        let skipped: Vec<_> = plan.skipped.iter().map(|s| s.from.as_str()).collect();
        for s in [
            "logging.level",
            "logging.file",
            "web.enabled",
            "web.host",
            "web.port",
            "network_camera.enabled",
            "network_camera.output_dir",
        ] {
            assert!(
                skipped.contains(&s),
                "{s} should be listed as not imported: {skipped:?}"
            );
        }
        let report = plan.to_string();
        assert!(report.contains("display.rotation"), "{report}");
        assert!(
            report.contains("web.port (line 39): a deployment setting"),
            "{report}"
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let plan = plan("pihole:\n  host: http://pi.hole\n  password: hunter2\n").unwrap();
        let report = plan.to_string();
        assert!(!report.contains("hunter2"), "{report}");
        assert!(report.contains(REDACTED), "{report}");

        // Nor a password in a URL.
        let plan = super::plan("pihole:\n  host: http://admin:hunter2@pi.hole\n").unwrap();
        let report = plan.to_string();
        assert!(!report.contains("hunter2"), "{report}");
        assert!(report.contains("\"http://admin:***@pi.hole\""), "{report}");
        assert_eq!(plan.sections[0].1["host"], "http://admin:hunter2@pi.hole");
    }

    #[test]
    fn legacy_aranet4_sensors_are_accepted() {
        let yaml = "aranet4:\n  sensors:\n    - label: Office\n      mac_address: AA:BB:CC:DD:EE:FF\n      enabled: true\n";
        let plan = plan(yaml).unwrap();
        let c: Aranet4Config = config::check_section(&plan.sections[0].1).unwrap();
        assert_eq!(c.sensors[0].mac, "AA:BB:CC:DD:EE:FF");
        // Stored under the name the dashboard writes.
        let stored = &plan.sections[0].1["sensors"][0];
        assert_eq!(stored["mac"], "AA:BB:CC:DD:EE:FF");
        assert!(stored.get("mac_address").is_none(), "{stored}");
    }

    #[test]
    fn an_invalid_value_names_the_stored_setting_and_its_line() {
        let yaml = "display:\n  rotation: 45\n";
        let err = plan(yaml).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 invalid value:\n  line 2: display.rotation: must be one of 0, 90, 180, 270 (got 45)"
        );

        let yaml = "network_camera:\n  cameras:\n    - name: cam\n      host: \"cam; reboot\"\n";
        let ImportError::Invalid(problems) = plan(yaml).unwrap_err() else {
            panic!("not an invalid value")
        };
        assert_eq!(
            problems,
            [Problem {
                line: Some(4),
                field: "camera.cameras[0].host".into(),
                in_file: Some("network_camera.cameras[0].host".into()),
                message: "must be a host name or IP address (letters, digits, '.', '-', ':' only)"
                    .into(),
            }]
        );

        let err = plan("tailscale:\n  cache_duration: 2\n").unwrap_err();
        assert!(
            err.to_string().contains(
                "line 2: schedule.tailscale (tailscale.cache_duration in the file): must be"
            ),
            "{err}"
        );
    }

    #[test]
    fn every_invalid_value_is_reported_at_once_on_its_own_line() {
        let yaml = "\
display:
  rotation: 45
  scroll_speed: 0.08
aranet4:
  timeout: 500
  sensors:
    - label: Office
      mac_address: \"zz\"
    - label: \"a:b\"
      mac_address: AA:BB:CC:DD:EE:01
    - label: Office
      mac_address: AA:BB:CC:DD:EE:02
      colour: red
    - {label: Flow, mac_address: nope}
update:
  interval: -3
network_camera:
  cameras:
    - name: cam
      host: \"cam; reboot\"
      port: 99999
";
        let ImportError::Invalid(problems) = plan(yaml).unwrap_err() else {
            panic!("not an invalid value")
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 2: display.rotation: must be one of 0, 90, 180, 270 (got 45)",
                "line 5: aranet4.timeout: must be between 1 and 120 s (got 500)",
                "line 8: aranet4.sensors[0].mac: must be a Bluetooth address like \
                 AA:BB:CC:DD:EE:FF (got \"zz\")",
                "line 9: aranet4.sensors[1].label: must not contain : (none of : * ? [ ] \\ may \
                 be in a label)",
                "line 13: aranet4.sensors[2].colour: unknown field `colour`, expected one of \
                 `label`, `mac`, `enabled`",
                "line 14: aranet4.sensors[3].mac: must be a Bluetooth address like \
                 AA:BB:CC:DD:EE:FF (got \"nope\")",
                "line 16: display.cycle_interval (update.interval in the file): must not be \
                 negative (got -3)",
                "line 20: camera.cameras[0].host (network_camera.cameras[0].host in the file): \
                 must be a host name or IP address (letters, digits, '.', '-', ':' only)",
                "line 21: camera.cameras[0].port (network_camera.cameras[0].port in the file): \
                 is too large for this setting (got 99999)",
            ],
            "{}",
            shown.join("\n")
        );
        let report = plan(yaml).unwrap_err().to_string();
        assert!(
            report.starts_with("9 invalid values:\n  line 2: "),
            "{report}"
        );
        assert!(!report.contains("mac_address"), "{report}");
    }

    #[test]
    fn a_duplicate_is_named_by_its_index_in_the_file() {
        let yaml = "\
aranet4:
  sensors:
    - label: Broken
      mac_address: zz
    - label: Office
      mac_address: AA:BB:CC:DD:EE:01
    - label: Office
      mac_address: AA:BB:CC:DD:EE:02
";
        let err = plan(yaml).unwrap_err().to_string();
        assert!(
            err.contains("line 4: aranet4.sensors[0].mac: must be a Bluetooth address"),
            "{err}"
        );
        assert!(
            err.contains(
                "line 7: aranet4.sensors[2].label: \"Office\" is already used by sensors[1]"
            ),
            "{err}"
        );
    }

    #[test]
    fn lines_are_found_in_any_yaml_style() {
        let text = "# comment\na: {b: [1, {c: 2}]}\nd:\n  - x\n  -\n    e: 3\n";
        let at = |path: &[Step]| line_of(text, path);
        let k = Step::key;
        assert_eq!(at(&[k("a")]), Some(2));
        assert_eq!(at(&[k("a"), k("b"), Step::Index(1), k("c")]), Some(2));
        assert_eq!(at(&[k("d"), Step::Index(1), k("e")]), Some(6));
        assert_eq!(at(&[k("d"), Step::Index(1)]), Some(6));
        assert_eq!(at(&[k("d"), Step::Index(7)]), None);
        assert_eq!(at(&[k("zz")]), None);
        assert_eq!(find_line(text, &[k("d"), Step::Index(7)]), Some(3));
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let err = plan("display:\n  rotation: [0\n").unwrap_err();
        let ImportError::Yaml(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("line"), "{message}");
        assert_eq!(plan("- a\n- b\n").unwrap_err(), ImportError::NotAMapping);
        assert_eq!(
            plan("sleep:\n  start_hour: 22\ndisplay: 5\nweb: [1]\n")
                .unwrap_err()
                .to_string(),
            format!(
                "2 invalid values:\n  line 3: display: {NOT_A_MAPPING}\n  line 4: web: {NOT_A_MAPPING}"
            )
        );
        assert!(plan("").unwrap().sections.is_empty());
    }
}
