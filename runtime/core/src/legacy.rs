//! Imports the monolith's `config.yaml` into the config sections.
//!
//! Every setting is mapped to its section and field, or listed as not imported with the reason.
//! The mapped sections are then checked as strictly as a dashboard write: one invalid value and
//! the import stops, naming the YAML field and its line, and nothing is written.

use std::fmt;

use sense_bus::config::{self, FieldError, REDACTED};
use sense_bus::{Batch, Bus, BusError, SectionName, keys, store};
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
    /// A section is not a mapping.
    #[error("`{section}`{} must be a mapping of settings", line_suffix(*line))]
    SectionNotAMapping {
        /// The section.
        section: String,
        /// Its line.
        line: Option<usize>,
    },
    /// A value is invalid.
    #[error("invalid value for `{from}`{} (→ {field}): {message}", line_suffix(*line))]
    Invalid {
        /// The YAML setting at fault, e.g. `network_camera.cameras[0].host`.
        from: String,
        /// Its line in the file.
        line: Option<usize>,
        /// The section field it maps to, e.g. `camera.cameras[0].host`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// The 1-based line of `key:` inside the top-level `section:` block of `text`.
fn find_line(text: &str, section: &str, key: Option<&str>) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        l.strip_prefix(section)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })?;
    let Some(key) = key else {
        return Some(start + 1);
    };
    lines[start + 1..]
        .iter()
        .take_while(|l| {
            l.trim().is_empty() || l.starts_with(' ') || l.starts_with('\t') || l.starts_with('#')
        })
        .position(|l| {
            let t = l.trim_start();
            !t.starts_with('#')
                && t.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| start + 1 + i + 1)
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
    let mut objects: Vec<(SectionName, Map<String, Json>)> = Vec::new();
    // Where each (section, field) came from, to name the YAML setting in errors.
    let mut origin: Vec<(SectionName, &'static str, String, Option<usize>)> = Vec::new();

    for (section, settings) in &top {
        let line = find_line(text, section, None);
        let settings = match settings {
            Json::Object(map) => map,
            Json::Null => continue,
            _ => {
                return Err(ImportError::SectionNotAMapping {
                    section: section.clone(),
                    line,
                });
            }
        };
        for (key, value) in settings {
            let from = format!("{section}.{key}");
            let line = find_line(text, section, Some(key));
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
                    objects[i].1.insert(field.to_owned(), value.clone());
                    plan.mapped.push(Mapped {
                        from: from.clone(),
                        line,
                        section: name,
                        field,
                        shown: show(name, field, value),
                    });
                    origin.push((name, field, from, line));
                }
            }
        }
    }

    for (name, object) in &objects {
        check(*name, object).map_err(|e| {
            // e.field is `section.field[...]`: find the YAML setting behind the top-level field.
            let path = e
                .field
                .strip_prefix(name.as_str())
                .unwrap_or(&e.field)
                .trim_start_matches('.');
            let top_field = path.split(['.', '[']).next().unwrap_or_default();
            let (from, line) = origin
                .iter()
                .find(|(n, f, _, _)| n == name && *f == top_field)
                .map(|(_, _, from, line)| (format!("{from}{}", &path[top_field.len()..]), *line))
                .unwrap_or_else(|| (e.field.clone(), None));
            ImportError::Invalid {
                from,
                line,
                field: e.field.clone(),
                message: e.message,
            }
        })?;
    }
    objects.sort_by_key(|(n, _)| *n);
    plan.sections = objects;
    Ok(plan)
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
    }

    #[test]
    fn an_invalid_value_names_the_yaml_setting_and_its_line() {
        let yaml = "display:\n  rotation: 45\n";
        let err = plan(yaml).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for `display.rotation` (line 2) (→ display.rotation): must be one of 0, 90, 180, 270 (got 45)"
        );

        let yaml = "network_camera:\n  cameras:\n    - name: cam\n      host: \"cam; reboot\"\n";
        let err = plan(yaml).unwrap_err();
        match err {
            ImportError::Invalid {
                from, field, line, ..
            } => {
                assert_eq!(from, "network_camera.cameras[0].host");
                assert_eq!(field, "camera.cameras[0].host");
                assert_eq!(line, Some(2));
            }
            other => panic!("{other:?}"),
        }

        let err = plan("tailscale:\n  cache_duration: 2\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("`tailscale.cache_duration` (line 2) (→ schedule.tailscale)"),
            "{err}"
        );
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let err = plan("display:\n  rotation: [0\n").unwrap_err();
        let ImportError::Yaml(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("line"), "{message}");
        assert_eq!(plan("- a\n- b\n").unwrap_err(), ImportError::NotAMapping);
        assert!(matches!(
            plan("display: 5\n").unwrap_err(),
            ImportError::SectionNotAMapping { .. }
        ));
        assert!(plan("").unwrap().sections.is_empty());
    }
}
