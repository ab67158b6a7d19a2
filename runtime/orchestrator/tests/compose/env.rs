//! The environment variables: each one the compose file or .env.example names is read by the
//! code, .env.example names every config variable, and its values are valid config.

use std::collections::BTreeSet;

use sense_bus::config::Section;
use sense_bus::{SectionName, with_section};
use sense_orchestrator::passthrough_env;

use crate::parse::{
    EnvExample, compose, config_vars, environment, interpolated_names, read, repo, rust_sources,
    sense_services,
};
use crate::{CODE_VARS, DEPLOYMENT_VARS};

#[test]
fn every_environment_variable_is_read_by_the_code() {
    let config = config_vars();
    // CODE_VARS are really read: quoted in the runtime's or the gateway's source.
    let mut files = Vec::new();
    rust_sources(&repo().join("runtime"), &mut files);
    rust_sources(&repo().join("gateway/src"), &mut files);
    let code: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    for var in CODE_VARS {
        assert!(
            code.contains(&format!("\"{var}\"")),
            "{var} is listed as read by the code, but no source mentions it"
        );
    }
    let known = |name: &str| {
        config.contains(name) || CODE_VARS.contains(&name) || DEPLOYMENT_VARS.contains(&name)
    };

    let compose = compose();
    for (name, s) in sense_services(&compose) {
        for var in environment(s).keys() {
            assert!(
                config.contains(var.as_str()) || CODE_VARS.contains(&var.as_str()),
                "{name}: {var} is read by nothing"
            );
        }
    }
    for var in interpolated_names() {
        assert!(
            known(&var),
            "docker-compose.yml: ${{{var}}} is read by nothing"
        );
    }
    let example = EnvExample::load();
    for var in example.names() {
        assert!(known(&var), ".env.example: {var} is read by nothing");
    }
    // .env.example lists every config variable, and every deployment variable compose uses.
    for var in &config {
        assert!(
            example.set.contains_key(*var),
            ".env.example does not set {var}"
        );
    }
    for var in interpolated_names() {
        assert!(
            example.names().contains(&var),
            ".env.example does not mention {var}, which docker-compose.yml reads"
        );
    }
    // docs/CONTRACT.md §3 names nothing this test does not know.
    let contract = read("docs/CONTRACT.md");
    let section = contract
        .split("## 3. Environment variables")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("CONTRACT.md §3");
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for var in first.split('`').skip(1).step_by(2) {
            assert!(known(var), "CONTRACT.md §3 lists {var}, unknown here");
        }
    }
}

#[test]
fn env_example_values_are_valid_config() {
    let example = EnvExample::load();
    let env = |name: &str| example.get(name);
    for section in SectionName::ALL {
        let (_, problems) = with_section!(section, S => sense_bus::config::env_layer::<S>(&env));
        assert!(problems.is_empty(), "config:{section:?}: {problems:?}");
    }
    // The orchestrator hands every config variable but the login's on to the sources.
    let passed: BTreeSet<String> = passthrough_env(&env).into_iter().map(|(k, _)| k).collect();
    let auth_vars: Vec<&str> = sense_bus::config::AuthConfig::ENV
        .iter()
        .map(|f| f.var)
        .collect();
    for var in config_vars() {
        let auth = auth_vars.contains(&var);
        assert_eq!(passed.contains(var), !auth, "{var}");
    }
}
