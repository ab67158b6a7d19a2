//! Any bytes as the monolith's `config.yaml`, through `sense-pulse config import`'s
//! [`legacy::plan`].
//!
//! Properties: nothing panics, and
//!
//! - a plan's sections are in order, once each, and each passes the checks of a dashboard write
//!   (`check_update_by_name`, no warnings) and resolves with no problem, every imported field in
//!   force as imported;
//! - each setting carried over is in its section; a secret (`pihole.password`,
//!   `auth.password_hash`) is shown as `********` (or `""`), and nothing shown or reported holds
//!   a URL's password;
//! - an error names at least one problem, each a section field (or a section of the file that is
//!   not a mapping), and no message holds a URL password;
//! - a secret (those two, and the cameras' passwords) changed in the file changes nothing in the
//!   report or the error but the secret itself, which is never in either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_bus::config::{self, REDACTED, is_bcrypt_hash};
use sense_bus::redact::url_credentials;
use sense_bus::{SectionName, with_section};
use sense_legacy::{self as legacy, ImportError, ImportPlan};
use serde_json::Value as Json;

fn no_env(_: &str) -> Option<String> {
    None
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

fn check_plan(plan: &ImportPlan) {
    let names: Vec<SectionName> = plan.sections.iter().map(|(n, _)| *n).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    for (name, object) in &plan.sections {
        let update = config::check_update_by_name(*name, None, object, &no_env)
            .unwrap_or_else(|e| panic!("{name}: an imported section is refused: {e}"));
        assert!(update.warnings.is_empty(), "{name}: {:?}", update.warnings);
        assert_eq!(&update.to_store, object);
        let text = Json::Object(object.clone()).to_string();
        let resolved = config::resolve_by_name(*name, Some(&text), &no_env, false);
        assert!(
            resolved.problems.is_empty(),
            "{name}: an imported section resolves with {:?}",
            resolved.problems
        );
        for (key, value) in object {
            let imported = canonical(*name, key, value).expect("an imported field deserializes");
            assert_eq!(resolved.value[key], imported, "{name}.{key}");
        }
    }
    for m in &plan.mapped {
        let section = plan
            .sections
            .iter()
            .find(|(n, _)| *n == m.section)
            .map(|(_, o)| o);
        assert!(
            section.is_some_and(|o| o.contains_key(m.field)),
            "{}.{} is not in the plan",
            m.section,
            m.field
        );
        let secret = matches!(
            (m.section, m.field),
            (SectionName::Pihole, "password") | (SectionName::Auth, "password_hash")
        );
        if secret {
            assert!(m.shown == REDACTED || m.shown == "\"\"", "{m:?}");
        }
        assert_eq!(url_credentials(&m.shown), m.shown, "a URL password shown");
    }
}

fn check_error(e: &ImportError) {
    if let ImportError::Invalid(problems) = e {
        assert!(!problems.is_empty(), "an invalid file with no problem named");
        for p in problems {
            // A value is named as stored, in its section; a section of the file that is not a
            // mapping by its own name.
            if p.message != legacy::NOT_A_MAPPING {
                let section = p.field.split(['.', '[']).next().unwrap_or_default();
                assert!(
                    section.parse::<SectionName>().is_ok(),
                    "an error outside the sections: {p}"
                );
            }
            assert_eq!(url_credentials(&p.message), p.message, "a URL password in {p}");
        }
    }
}

/// What people see of an import.
fn shown(result: &Result<ImportPlan, ImportError>) -> String {
    match result {
        Ok(plan) => plan.to_string(),
        Err(e) => e.to_string(),
    }
}

fn yaml_json(text: &str) -> Option<Json> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).ok()?;
    serde_json::to_value(yaml).ok()
}

/// Where the secrets are in the file, as JSON pointers.
fn secret_pointers(json: &Json) -> Vec<String> {
    let mut pointers = vec![
        "/pihole/password".to_owned(),
        "/auth/password_hash".to_owned(),
    ];
    if let Some(cameras) = json
        .pointer("/network_camera/cameras")
        .and_then(Json::as_array)
    {
        pointers
            .extend((0..cameras.len()).map(|i| format!("/network_camera/cameras/{i}/password")));
    }
    pointers
}

/// `s` with its letters and digits moved on by one (a bcrypt hash keeps its `$2b$12$`; a number
/// keeps its first digit non-zero): the same shape, another value.
fn rotated(s: &str) -> String {
    let keep = if is_bcrypt_hash(s) { 7 } else { 0 };
    s.char_indices()
        .map(|(i, c)| match c {
            _ if i < keep => c,
            'a'..='y' | 'A'..='Y' => char::from(c as u8 + 1),
            'z' => 'a',
            'Z' => 'A',
            '1'..='8' => char::from(c as u8 + 1),
            '9' => '1',
            _ => c,
        })
        .collect()
}

/// Changes each secret of the file in turn: what people see changes only where it held the
/// secret, and never shows either value.
fn secrets_stay_hidden(text: &str, result: &Result<ImportPlan, ImportError>) {
    let Some(json) = yaml_json(text) else { return };
    let before = shown(result);
    for pointer in secret_pointers(&json) {
        let (secret, other) = match json.pointer(&pointer) {
            Some(Json::String(s)) => (s.clone(), Json::String(rotated(s))),
            Some(Json::Number(n)) => {
                let s = n.to_string();
                match serde_json::from_str::<Json>(&rotated(&s)) {
                    Ok(other @ Json::Number(_)) => (s, other),
                    _ => continue,
                }
            }
            _ => continue,
        };
        let replacement = match &other {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if secret.len() < 4
            || secret == REDACTED
            || replacement == secret
            || text.matches(secret.as_str()).count() != 1
        {
            continue;
        }
        let changed = text.replacen(secret.as_str(), &replacement, 1);
        if changed.matches(replacement.as_str()).count() != 1 {
            continue;
        }
        // Only the secret changed, as YAML reads it.
        let mut expected = json.clone();
        *expected.pointer_mut(&pointer).unwrap() = other;
        if yaml_json(&changed) != Some(expected) {
            continue;
        }
        let after = shown(&legacy::plan(&changed));
        let quoted = (after.contains(&replacement) && !before.contains(&replacement))
            || (before.contains(&secret) && !after.contains(&secret));
        assert!(
            !quoted,
            "the secret at {pointer} is shown:\n{before}\n-- changed to --\n{after}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let result = legacy::plan(&text);
    match &result {
        Ok(plan) => check_plan(plan),
        Err(e) => check_error(e),
    }
    let _ = shown(&result);
    secrets_stay_hidden(&text, &result);
});
