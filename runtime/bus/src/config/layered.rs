//! Layering (Redis → environment → default) and strict checking of config sections.

use std::fmt;

use serde_json::{Map, Value as Json};

use super::Section;
use crate::ids::SectionName;

/// A config value that is not acceptable, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's path within its section, e.g. `rotation` or `sensors[0].mac`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix` (a section name or list element) put before the field path.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// How an environment variable's text becomes a field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvKind {
    /// Taken as it is.
    Text,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    Bool,
    /// JSON (lists such as `ARANET4_SENSORS`).
    Json,
    /// A list of strings: a JSON list, or comma-separated (`a, b`); empty is an empty list.
    List,
}

impl EnvKind {
    fn parse(self, raw: &str) -> Result<Json, String> {
        let t = raw.trim();
        match self {
            EnvKind::Text => Ok(Json::String(raw.to_owned())),
            EnvKind::Integer => t
                .parse::<i64>()
                .map(Json::from)
                .map_err(|_| "is not a whole number".to_owned()),
            EnvKind::Number => t
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or_else(|| "is not a number".to_owned()),
            EnvKind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Json::Bool(true)),
                "false" | "0" | "no" | "off" | "" => Ok(Json::Bool(false)),
                _ => Err("is not a boolean (use true or false)".to_owned()),
            },
            EnvKind::Json => {
                serde_json::from_str(t).map_err(|e| format!("is not valid JSON ({e})"))
            }
            EnvKind::List if t.starts_with('[') => match serde_json::from_str(t) {
                Ok(list @ Json::Array(_)) => Ok(list),
                Ok(_) => Err("is not a list".to_owned()),
                Err(e) => Err(format!("is not a valid JSON list ({e})")),
            },
            EnvKind::List => Ok(Json::Array(
                t.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Json::String(item.to_owned()))
                    .collect(),
            )),
        }
    }
}

/// An environment variable that sets one field of a section.
#[derive(Clone, Copy, Debug)]
pub struct EnvField {
    /// The variable, e.g. `DISPLAY_ROTATION`.
    pub var: &'static str,
    /// The field it sets, e.g. `rotation`.
    pub field: &'static str,
    /// How its text is read.
    pub kind: EnvKind,
    /// Whether its value is a secret (never echoed in a problem).
    pub secret: bool,
}

impl EnvField {
    /// A variable setting `field`.
    pub const fn new(var: &'static str, field: &'static str, kind: EnvKind) -> Self {
        EnvField {
            var,
            field,
            kind,
            secret: false,
        }
    }

    /// A variable holding a secret.
    pub const fn secret(var: &'static str, field: &'static str) -> Self {
        EnvField {
            var,
            field,
            kind: EnvKind::Text,
            secret: true,
        }
    }
}

/// A section as resolved, with the problems met on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved<S> {
    /// The values to run with.
    pub value: S,
    /// Each value that was refused and why, naming where it came from; empty when all is well.
    pub problems: Vec<String>,
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// What serde calls a type (`u32`, `a sequence`, `struct Aranet4Sensor`), in words.
fn type_in_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "an object".to_owned(),
        other if other.starts_with("struct ") => "an object of fields".to_owned(),
        other => other.to_owned(),
    }
}

/// What serde calls a value it got (``integer `5` ``, `string "x"`), in words.
fn value_in_words(got: &str) -> String {
    for prefix in [
        "integer ",
        "floating point ",
        "boolean ",
        "string ",
        "character ",
    ] {
        if let Some(value) = got.strip_prefix(prefix) {
            return value.trim_matches('`').to_owned();
        }
    }
    match got {
        "sequence" => "a list".to_owned(),
        "map" => "an object".to_owned(),
        "unit value" | "null" => "null".to_owned(),
        other => other.to_owned(),
    }
}

/// Rewords serde's messages about values of the wrong type (`invalid type: string "x", expected
/// u16`) and numbers that do not fit their field's type, without Rust's type names.
fn friendlier(message: String) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((got, expected)) = rest.rsplit_once(", expected ")
    {
        return format!(
            "must be {} (got {})",
            type_in_words(expected),
            value_in_words(got)
        );
    }
    let Some(rest) = message.strip_prefix("invalid value: integer `") else {
        return message;
    };
    let Some((value, expected)) = rest.split_once("`, expected ") else {
        return message;
    };
    let unsigned = ["u8", "u16", "u32", "u64", "usize"].contains(&expected);
    match value.parse::<i128>() {
        Ok(v) if unsigned && v < 0 => format!("must not be negative (got {v})"),
        Ok(v) => format!("is too large for this setting (got {v})"),
        Err(_) => message,
    }
}

/// Deserializes `map` (over the defaults, so absent fields default) and validates it.
fn check_map<S: Section>(map: &Map<String, Json>) -> Result<S, FieldError> {
    let value: Result<S, FieldError> = serde_path_to_error::deserialize(Json::Object(map.clone()))
        .map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // serde_path_to_error reports `.` or `?` when the error sits on the object itself (an
            // unknown field): name the field from serde's message instead.
            let field = if path == "." || path == "?" {
                message.split('`').nth(1).unwrap_or_default().to_owned()
            } else {
                path
            };
            FieldError::new(field, message)
        });
    let value = value.and_then(|v| v.validate().map(|()| v));
    value.map_err(|e| safe_error::<S>(e))
}

/// `e` made fit to show: a problem with a secret says what is wrong but never quotes the value;
/// serde's words are put in plain ones; a URL's password anywhere in the message is hidden.
fn safe_error<S: Section>(mut e: FieldError) -> FieldError {
    if super::is_secret_path::<S>(&e.field) {
        // serde says "invalid type: integer `31415926535`, expected a string": keep what was
        // expected, drop what was sent.
        let expected = e
            .message
            .rsplit_once(", expected ")
            .map(|(_, x)| x.to_owned());
        // A check's own words end with what it got: keep the words, drop the value.
        let without_value = e
            .message
            .rsplit_once(" (got ")
            .map(|(words, _)| words.to_owned());
        e.message = match (expected, without_value) {
            (Some(x), _) => format!(
                "must be {} (the value is not shown: it holds a secret)",
                type_in_words(&x)
            ),
            (None, Some(words)) if !words.contains('`') && !words.contains('"') => {
                format!("{words} (the value is not shown: it holds a secret)")
            }
            (None, _) if e.message.contains('`') || e.message.contains('"') => {
                "is not valid (the value is not shown: it holds a secret)".to_owned()
            }
            (None, _) => e.message,
        };
    }
    e.message = crate::redact::url_credentials(&friendlier(e.message)).into_owned();
    e
}

fn defaults<S: Section>() -> Map<String, Json> {
    match serde_json::to_value(S::default()) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Short, safe rendering of a value for a problem message. URL passwords are hidden before the
/// value is cut short: cut first, a long one would lose its `@` and show its beginning.
fn show(v: Option<&Json>) -> String {
    use crate::redact::url_credentials;
    match v {
        None => "nothing".to_owned(),
        Some(Json::String(s)) => {
            let s = url_credentials(s);
            if s.len() > 40 {
                format!("{}…", Json::String(cut(&s, 40).to_owned()))
            } else {
                Json::String(s.into_owned()).to_string()
            }
        }
        Some(v) => {
            let s = v.to_string();
            let s = url_credentials(&s);
            if s.len() > 60 {
                format!("{}…", cut(&s, 60))
            } else {
                s.into_owned()
            }
        }
    }
}

/// Applies `layer`'s fields over `merged`, keeping each one that leaves the section valid.
///
/// All at once first (the common case, and the only way to pass a cross-field rule such as "auth
/// enabled needs a username"), then field by field until no more go in. Returns the fields that
/// were refused with their errors.
fn apply_layer<S: Section>(
    merged: &mut Map<String, Json>,
    layer: Vec<(String, Json)>,
) -> Vec<(String, Json, FieldError)> {
    let mut all = merged.clone();
    all.extend(layer.iter().cloned());
    if check_map::<S>(&all).is_ok() {
        *merged = all;
        return Vec::new();
    }
    let mut pending = layer;
    loop {
        let before = pending.len();
        let mut refused = Vec::new();
        for (key, value) in pending {
            let mut candidate = merged.clone();
            candidate.insert(key.clone(), value.clone());
            match check_map::<S>(&candidate) {
                Ok(_) => *merged = candidate,
                Err(e) => refused.push((key, value, e)),
            }
        }
        if refused.is_empty() || refused.len() == before {
            return refused;
        }
        pending = refused.into_iter().map(|(k, v, _)| (k, v)).collect();
    }
}

/// The environment's layer: the fields its variables set validly, and problems for the rest.
pub fn env_layer<S: Section>(
    env: &dyn Fn(&str) -> Option<String>,
) -> (Map<String, Json>, Vec<String>) {
    let mut problems = Vec::new();
    let mut layer = Vec::new();
    let mut var_of = std::collections::HashMap::new();
    for f in S::ENV {
        let Some(raw) = env(f.var) else { continue };
        let shown = if f.secret {
            "(secret)".to_owned()
        } else if super::is_secret_path::<S>(f.field) {
            // A variable for a field that holds secrets (`CAMERA_CONFIG`: the cameras and their
            // passwords) is not quoted either.
            "(not shown: it holds secrets)".to_owned()
        } else {
            Json::String(crate::redact::url_credentials(&raw).into_owned()).to_string()
        };
        match f.kind.parse(&raw) {
            Ok(v) => {
                layer.push((f.field.to_owned(), v));
                var_of.insert(f.field, (f.var, shown));
            }
            Err(why) => problems.push(format!("{}={shown} {why}; ignored", f.var)),
        }
    }
    let mut merged = defaults::<S>();
    let refused = apply_layer::<S>(&mut merged, layer.clone());
    for (field, _, e) in &refused {
        let (var, shown) = &var_of[field.as_str()];
        problems.push(format!("{var}={shown}: {}; ignored", e.message));
    }
    let applied = layer
        .into_iter()
        .filter(|(field, _)| !refused.iter().any(|(r, _, _)| r == field))
        .collect();
    (applied, problems)
}

/// Resolves a section from what Redis holds (`stored`, the raw text of `config:{section}`) and
/// the environment. Never fails; see [`Resolved::problems`].
pub fn resolve<S: Section>(
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Resolved<S> {
    resolve_traced(stored, env).0
}

/// Where the value in force of a field comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `config:{section}` in Redis (what the dashboard or an import wrote).
    Stored,
    /// This environment variable.
    Env(&'static str),
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Stored => f.write_str("Redis"),
            Origin::Env(var) => write!(f, "environment ({var})"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A section as resolved, as JSON, with where each field's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Explained {
    /// The section's fields in force (secrets redacted when asked), by name.
    pub value: Map<String, Json>,
    /// Where each field of `value` comes from, in `value`'s order.
    pub origins: Vec<(String, Origin)>,
    /// As [`Resolved::problems`].
    pub problems: Vec<String>,
}

/// [`resolve`], saying where each field's value comes from: Redis (a stored field that was
/// accepted), the environment (naming the variable), or the default.
pub fn explain<S: Section>(
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    redact: bool,
) -> Explained {
    let (mut resolved, from_redis, from_env) = resolve_traced::<S>(stored, env);
    if redact {
        resolved.value.redact();
    }
    let value = match serde_json::to_value(&resolved.value) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    };
    let origins = value
        .keys()
        .map(|key| {
            let origin = if from_redis.contains(key) {
                Origin::Stored
            } else if let Some(var) = from_env
                .iter()
                .rev()
                .find(|(field, _)| field == key)
                .map(|(_, var)| *var)
            {
                Origin::Env(var)
            } else {
                Origin::Default
            };
            (key.clone(), origin)
        })
        .collect();
    Explained {
        value,
        origins,
        problems: resolved.problems,
    }
}

/// [`explain`] for a section known by name.
pub fn explain_by_name(
    name: SectionName,
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    redact: bool,
) -> Explained {
    crate::with_section!(name, S => explain::<S>(stored, env, redact))
}

/// [`resolve`], with the stored fields that went in and the environment's (field, variable) pairs
/// that went in.
fn resolve_traced<S: Section>(
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Resolved<S>, Vec<String>, Vec<(String, &'static str)>) {
    let name = S::NAME;
    let mut merged = defaults::<S>();
    let (env_values, mut problems) = env_layer::<S>(env);
    // The variable behind each field the environment set: the last one set, as in `env_layer`.
    let from_env = env_values
        .keys()
        .filter_map(|field| {
            S::ENV
                .iter()
                .rev()
                .find(|f| f.field == field && env(f.var).is_some())
                .map(|f| (field.clone(), f.var))
        })
        .collect();
    merged.extend(env_values);
    let mut from_redis = Vec::new();

    if let Some(text) = stored {
        match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(stored)) => {
                let fallback = merged.clone();
                let keys: Vec<String> = stored.keys().cloned().collect();
                let refused = apply_layer::<S>(&mut merged, stored.into_iter().collect());
                from_redis = keys
                    .into_iter()
                    .filter(|k| !refused.iter().any(|(r, _, _)| r == k))
                    .collect();
                for (key, _, e) in refused {
                    let using = if super::is_secret_path::<S>(&key) {
                        "the previous value".to_owned()
                    } else {
                        show(fallback.get(&key))
                    };
                    problems.push(format!("config:{name}.{e}; using {using}"));
                }
            }
            Ok(other) => problems.push(format!(
                "config:{name} is {}, not a JSON object; using environment and defaults",
                json_kind(&other)
            )),
            Err(e) => problems.push(format!(
                "config:{name} is not valid JSON ({e}); using environment and defaults"
            )),
        }
    }
    // Every field in `merged` passed `check_map` when it went in, so this succeeds.
    let value = check_map::<S>(&merged).unwrap_or_default();
    (Resolved { value, problems }, from_redis, from_env)
}

/// Checks a complete section given as a JSON object (fields left out take their defaults): the
/// strict check for imports.
pub fn check_section<S: Section>(object: &Map<String, Json>) -> Result<S, FieldError> {
    let mut merged = defaults::<S>();
    merged.extend(object.clone());
    check_map::<S>(&merged).map_err(|e| e.within(S::NAME.as_str()))
}

/// A partial update that may be written: see [`check_update`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedUpdate {
    /// The object to store at `config:{section}`: the stored fields with the patch's over them.
    pub to_store: Map<String, Json>,
    /// Stored fields the patch does not set that are invalid, each named within its section
    /// (`display.rotation`) in the words a refused write of it would use. They stay stored as
    /// they are, for the user to fix; readers go on using the next layer's value instead, as
    /// [`resolve`] reports. Empty when the section is valid as a whole.
    pub warnings: Vec<FieldError>,
}

/// Checks a partial update of a section: `patch`'s fields over what Redis holds (`stored`) over
/// the environment and defaults.
///
/// The update is judged on what it writes: each field of `patch` must be valid (types, ranges,
/// enums, and rules across fields that involve it), taken over the values in force (the valid
/// stored fields, then the environment and defaults). A stored field that is invalid and not in
/// `patch` does not refuse the update: it is kept as stored (never silently dropped) and
/// reported in [`CheckedUpdate::warnings`]. A list is one field: a patch that changes one
/// camera sends, and is judged on, the whole list. Sections used only when valid as a whole
/// ([`Section::CHECKED_WHOLE`]: `auth`) are checked whole, so an invalid stored field refuses
/// the update there.
///
/// On failure the first field at fault, and nothing is to be written.
pub fn check_update<S: Section>(
    stored: Option<&str>,
    patch: &Map<String, Json>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CheckedUpdate, FieldError> {
    let within = |e: FieldError| e.within(S::NAME.as_str());
    // A stored value that is not a JSON object is replaced by the update: it has no fields to keep.
    let stored = match stored.map(serde_json::from_str::<Json>) {
        Some(Ok(Json::Object(map))) => map,
        _ => Map::new(),
    };
    let mut to_store = stored.clone();
    to_store.extend(patch.clone());
    let mut in_force = defaults::<S>();
    in_force.extend(env_layer::<S>(env).0);
    if S::CHECKED_WHOLE {
        in_force.extend(to_store.clone());
        check_map::<S>(&in_force).map_err(within)?;
        return Ok(CheckedUpdate {
            to_store,
            warnings: Vec::new(),
        });
    }
    let fallback = in_force.clone();
    // What readers use now: the valid stored fields over the environment and defaults.
    apply_layer::<S>(&mut in_force, stored.into_iter().collect());
    // The patch over it: a written field that is invalid, alone or with what is in force,
    // refuses the update.
    in_force.extend(patch.clone());
    check_map::<S>(&in_force).map_err(within)?;
    // What stays wrong once written, as readers will see it.
    let mut resolved = fallback;
    let mut warnings = Vec::new();
    for (key, _, e) in apply_layer::<S>(&mut resolved, to_store.clone().into_iter().collect()) {
        if patch.contains_key(&key) {
            // A written field readers would not use (it conflicts with a stored one kept).
            return Err(within(e));
        }
        warnings.push(within(e));
    }
    Ok(CheckedUpdate { to_store, warnings })
}

/// [`check_update`] for a section known by name, e.g. from `POST /api/config`.
pub fn check_update_by_name(
    name: SectionName,
    stored: Option<&str>,
    patch: &Map<String, Json>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CheckedUpdate, FieldError> {
    crate::with_section!(name, S => check_update::<S>(stored, patch, env))
}

/// [`env_layer`] for a section known by name: what the environment sets of it (what seeding
/// writes), and the environment's problems.
pub fn env_layer_by_name(
    name: SectionName,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Map<String, Json>, Vec<String>) {
    crate::with_section!(name, S => env_layer::<S>(env))
}

/// [`resolve`] for a section known by name, giving its JSON (secrets redacted when `redact`).
pub fn resolve_by_name(
    name: SectionName,
    stored: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    redact: bool,
) -> Resolved<Json> {
    crate::with_section!(name, S => {
        let mut r = resolve::<S>(stored, env);
        if redact {
            r.value.redact();
        }
        Resolved { value: serde_json::to_value(&r.value).unwrap_or_default(), problems: r.problems }
    })
}

impl fmt::Display for EnvKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvKind::Text => "text",
            EnvKind::Integer => "whole number",
            EnvKind::Number => "number",
            EnvKind::Bool => "boolean",
            EnvKind::Json => "JSON",
            EnvKind::List => "list",
        })
    }
}
