//! `sense-pulse config …`: show where each value comes from, seed from the environment, import
//! the monolith's `config.yaml`.

use sense_bus::config::{self as bus_config, Origin};
use sense_bus::{SectionName, store};
use sense_legacy as legacy;
use sense_runtime::Env;

use super::{Failure, Writes, connect, say};
use crate::cli::ConfigCommand;
use crate::logs;

pub(super) async fn config(command: ConfigCommand) -> Result<u8, Failure> {
    let env = Env::process();
    match command {
        ConfigCommand::Import {
            file,
            dry_run,
            redis,
        } => config_import(&file, dry_run, &redis.url).await,
        ConfigCommand::Show { redis } => {
            let bus = connect(&redis.url, Writes::Nothing).await?;
            let texts = store::read_config_texts(&bus, &SectionName::ALL)
                .await
                .map_err(|e| Failure::bus(&e, &redis.url, Writes::Nothing))?;
            let env = |v: &str| env.get(v);
            let explained: Vec<_> = SectionName::ALL
                .iter()
                .map(|&name| {
                    let stored = texts.get(&name).cloned().flatten();
                    (
                        name,
                        bus_config::explain_by_name(name, stored.as_deref(), &env, true),
                    )
                })
                .collect();
            say(&show_config(&bus.describe(), &explained));
            Ok(0)
        }
        ConfigCommand::Seed { redis } => {
            let bus = connect(&redis.url, Writes::Something).await?;
            let env = |v: &str| env.get(v);
            let (outcome, problems) = store::seed_config_from_env(&bus, &env)
                .await
                .map_err(|e| Failure::bus(&e, &redis.url, Writes::Something))?;
            for p in &problems {
                logs::warning(p);
            }
            say(&seed_report(&outcome, &env));
            Ok(0)
        }
    }
}

/// `config import`: the plan, then (unless a dry run) the write.
async fn config_import(file: &std::path::Path, dry_run: bool, url: &str) -> Result<u8, Failure> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| {
        Failure::invalid(format!(
            "cannot read {shown} ({e}): give the path of the monolith's config.yaml"
        ))
    })?;
    let plan = legacy::plan(&text).map_err(|e| {
        Failure::invalid(match e {
            legacy::ImportError::Invalid(problems) => {
                let mut message = format!(
                    "{shown} has {} that cannot be imported, so nothing was written:",
                    match problems.len() {
                        1 => "a value".to_owned(),
                        n => format!("{n} values"),
                    }
                );
                for p in &problems {
                    message.push_str(&format!("\n  {p}"));
                }
                message.push_str(&format!(
                    "\nFix {} in {shown} and run the import again (--dry-run checks without \
                     writing).",
                    if problems.len() == 1 { "it" } else { "them" }
                ));
                message
            }
            other => format!(
                "{shown}: {other}. Nothing was written: fix the file and run the import again."
            ),
        })
    })?;
    say(&plan.to_string());
    if dry_run {
        say("Dry run: nothing was written.");
        return Ok(0);
    }
    if plan.sections.is_empty() {
        return Ok(0);
    }
    let bus = connect(url, Writes::Something).await?;
    legacy::apply(&bus, &plan)
        .await
        .map_err(|e| Failure::bus(&e, url, Writes::Something))?;
    let keys: Vec<String> = plan
        .sections
        .iter()
        .map(|(n, _)| format!("config:{n}"))
        .collect();
    say(&format!(
        "Wrote {} to {} and announced them on config:changed.",
        keys.join(", "),
        bus.describe()
    ));
    Ok(0)
}

/// `config show`: each section's fields in force, with where each comes from, then the problems.
fn show_config(bus: &str, sections: &[(SectionName, bus_config::Explained)]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "The configuration in force. Each value comes from Redis ({bus}), else the environment, \
         else the default; secrets are shown as {}.\n",
        bus_config::REDACTED
    );
    for (name, explained) in sections {
        let _ = write!(out, "\nconfig:{name}\n");
        if explained.value.is_empty() {
            out.push_str("  (no fields)\n");
        }
        let width = explained.value.keys().map(String::len).max().unwrap_or(0);
        let values: Vec<String> = explained
            .value
            .values()
            .map(serde_json::Value::to_string)
            .collect();
        let value_width = values
            .iter()
            .map(|v| v.chars().count())
            .filter(|&w| w <= 40)
            .max()
            .unwrap_or(0);
        for ((field, origin), value) in explained.origins.iter().zip(&values) {
            let from = match origin {
                Origin::Stored => "from Redis".to_owned(),
                Origin::Env(var) => format!("from the environment ({var})"),
                Origin::Default => "default".to_owned(),
            };
            let _ = writeln!(out, "  {field:<width$}  {value:<value_width$}  {from}");
        }
    }
    let problems: Vec<&String> = sections.iter().flat_map(|(_, e)| &e.problems).collect();
    if problems.is_empty() {
        out.push_str("\nNo problems.");
    } else {
        out.push_str("\nProblems (each value refused is replaced by the next one in line):");
        for p in problems {
            let _ = write!(out, "\n  {p}");
        }
    }
    out
}

/// `config seed`'s report: what was written, what was left alone, in sentences.
fn seed_report(
    outcome: &[(SectionName, store::Seeded)],
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut untouched = Vec::new();
    for (name, seeded) in outcome {
        // The variables behind the fields the environment sets of this section.
        let vars = || {
            let (fields, _) = bus_config::env_layer_by_name(*name, env);
            let known: &[bus_config::EnvField] =
                sense_bus::with_section!(*name, S => <S as bus_config::Section>::ENV);
            let mut vars: Vec<&str> = known
                .iter()
                .filter(|f| fields.contains_key(f.field) && env(f.var).is_some())
                .map(|f| f.var)
                .collect();
            vars.dedup();
            vars.join(", ")
        };
        match seeded {
            store::Seeded::Written => {
                let _ = writeln!(out, "config:{name}: written from {}.", vars());
            }
            store::Seeded::AlreadyPresent => {
                let _ = writeln!(
                    out,
                    "config:{name}: already in Redis, so left as it is ({} not applied; change \
                     it in the dashboard, or delete the key and seed again).",
                    vars()
                );
            }
            store::Seeded::NothingToSeed => untouched.push(name.as_str()),
        }
    }
    if untouched.len() == outcome.len() {
        out.push_str(
            "The environment sets no config variable, so there was nothing to seed (the \
             variables are listed in docs/CONTRACT.md, section 4).",
        );
    } else if !untouched.is_empty() {
        let _ = write!(
            out,
            "The environment sets nothing of {}: nothing written there.",
            untouched.join(", ")
        );
    }
    out.trim_end().to_owned()
}
