//! The `source-*` services, and docker/README.md's "Privileges" table, against what
//! [`ContainerSpec::for_job`] creates.

use std::collections::{BTreeMap, BTreeSet};

use sense_bus::SourceId;
use sense_orchestrator::Job;
use sense_orchestrator::docker::{
    ContainerSpec, MountKind, NO_NEW_PRIVILEGES, TMP_TMPFS, service_name,
};
use serde_json::Value as Json;

use crate::parse::{
    compose, environment, is_manual, read, service, services, strings, text, volume_entry,
};
use crate::{CORE, PROJECT};

#[test]
fn source_services_declare_what_the_orchestrator_creates() {
    let compose = compose();
    let image = text(&service(&compose, "gateway")["image"]);
    for id in SourceId::ALL {
        let name = service_name(id);
        let s = service(&compose, name);
        assert!(
            is_manual(s),
            "{name}: profile `manual`, never started by `up`"
        );
        assert_eq!(text(&s["restart"]), "no", "{name}");
        let spec = spec_of(id, &image);
        assert_eq!(strings(&s["command"]), spec.cmd, "{name}: command");
        let mounts = mounts_of(&spec);
        let volumes = s["volumes"].as_array().cloned().unwrap_or_default();
        let declared: Vec<_> = volumes.iter().map(volume_entry).collect();
        assert_eq!(declared, mounts, "{name}: volumes");
        for entry in &volumes {
            if volume_entry(entry).0 == "bind" {
                // The short syntax (and `bind: create_host_path`, which compose v1 does not
                // know) makes compose create a missing host path as root's directory.
                assert!(
                    entry.is_object() && entry.get("bind").is_none(),
                    "{name}: host path {entry} in the long syntax, without `bind:`"
                );
            }
        }
        assert_eq!(
            s["privileged"].as_bool().unwrap_or(false),
            spec.privileged,
            "{name}: privileged"
        );
        assert_eq!(text(&s["user"]), spec.user, "{name}: user");
        // The hardening: all three, or none (the privileged Sense HAT).
        assert_eq!(
            s["read_only"].as_bool().unwrap_or(false),
            spec.hardened,
            "{name}: read_only"
        );
        let (cap_drop, security_opt) = if spec.hardened {
            (vec!["ALL".to_owned()], vec![NO_NEW_PRIVILEGES.to_owned()])
        } else {
            (Vec::new(), Vec::new())
        };
        assert_eq!(strings(&s["cap_drop"]), cap_drop, "{name}: cap_drop");
        assert_eq!(
            strings(&s["security_opt"]),
            security_opt,
            "{name}: security_opt"
        );
        assert!(s.get("cap_add").is_none(), "{name}: cap_add");
        let tmpfs = if spec.hardened {
            vec![format!("{}:{}", TMP_TMPFS.0, TMP_TMPFS.1)]
        } else {
            Vec::new()
        };
        assert_eq!(strings(&s["tmpfs"]), tmpfs, "{name}: tmpfs");
        assert_eq!(
            text(&s["mem_limit"]),
            format!("{}m", spec.memory >> 20),
            "{name}: memory limit"
        );
        let env: Vec<String> = environment(s)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut expected = spec.env.clone();
        expected.sort();
        assert_eq!(env, expected, "{name}: environment");
    }
    // Nothing else: the core services and the sources.
    for (name, s) in services(&compose) {
        let known = CORE.contains(&name.as_str())
            || SourceId::ALL.into_iter().any(|id| service_name(id) == name);
        assert!(known, "unexpected service `{name}`");
        assert_eq!(
            is_manual(s),
            name.starts_with("source-"),
            "{name}: only sources are manual"
        );
    }
}

/// The spec the orchestrator creates for `id`'s container (a poll, or its service).
fn spec_of(id: SourceId, image: &str) -> ContainerSpec {
    let job = match id.lifecycle() {
        sense_bus::ids::Lifecycle::Scheduled => Job::poll(id),
        _ => Job::service(id),
    };
    ContainerSpec::for_job(job, PROJECT, image, "net", &[], service_name(id).to_owned())
}

/// `spec`'s mounts as compose and the README name them: (type, source, target, read-only), a
/// volume without the `{project}_` the Engine's name has.
fn mounts_of(spec: &ContainerSpec) -> Vec<(String, String, String, bool)> {
    spec.mounts
        .iter()
        .map(|m| {
            let source = match m.kind {
                MountKind::Volume => m
                    .source
                    .strip_prefix(&format!("{PROJECT}_"))
                    .unwrap_or_else(|| panic!("{} is not {PROJECT}'s", m.source))
                    .to_owned(),
                MountKind::Bind => m.source.clone(),
            };
            (
                m.kind.as_str().to_owned(),
                source,
                m.target.clone(),
                m.read_only,
            )
        })
        .collect()
}

/// The rows of the tables in docker/README.md's `## Privileges` section whose first cell is a
/// `source-*` container: each cell by its column's header.
fn readme_source_rows() -> BTreeMap<String, BTreeMap<String, String>> {
    let readme = read("docker/README.md");
    let section = readme
        .split("\n## Privileges\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docker/README.md has a `## Privileges` section");
    let cells = |line: &str| -> Vec<String> {
        let line = line.trim().trim_start_matches('|').trim_end_matches('|');
        line.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let mut rows = BTreeMap::new();
    let mut header: Vec<String> = Vec::new();
    let mut previous = "";
    for line in section.lines() {
        if !line.starts_with('|') {
            header.clear();
        } else if line.starts_with("|---") || line.starts_with("| ---") {
            header = cells(previous);
        } else if !header.is_empty() {
            let row = cells(line);
            let name = row[0].trim_matches('`').to_owned();
            if name.starts_with("source-") {
                assert_eq!(row.len(), header.len(), "README: the row of {name}");
                let row = header.iter().cloned().zip(row).collect();
                assert!(
                    rows.insert(name.clone(), row).is_none(),
                    "README: {name} twice"
                );
            }
        }
        previous = line;
    }
    rows
}

/// The `code` spans of a README cell.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_readme_privileges_table_says_what_the_orchestrator_creates() {
    let rows = readme_source_rows();
    let names: BTreeSet<&str> = SourceId::ALL.into_iter().map(service_name).collect();
    let listed: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        listed, names,
        "docker/README.md's Privileges table: one row per source container"
    );
    for id in SourceId::ALL {
        let name = service_name(id);
        let row = &rows[name];
        let cell = |column: &str| {
            row.get(column)
                .unwrap_or_else(|| panic!("README: the Privileges table has no `{column}` column"))
                .as_str()
        };
        let spec = spec_of(id, "sense-pulse:latest");
        // `10001:10001` (`sense`), `0` (root): the user first, as the create body's `User`.
        let user = code_spans(cell("runs as"));
        assert_eq!(
            user.first().copied(),
            Some(spec.user.as_str()),
            "README: {name} runs as"
        );
        // `64 MiB`.
        let memory = cell("memory limit");
        let mib: u64 = memory
            .strip_suffix(" MiB")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("README: {name}'s memory limit `{memory}` is not `N MiB`"));
        assert_eq!(mib << 20, spec.memory, "README: {name}'s memory limit");
        // `read-only, no capabilities, no new privileges`, or `none (privileged)`.
        let hardening = cell("hardening");
        let said =
            ["read-only", "no capabilities", "no new privileges"].map(|h| hardening.contains(h));
        if spec.hardened {
            assert!(
                said.iter().all(|s| *s),
                "README: {name} is hardened: {hardening}"
            );
        } else {
            assert!(
                said.iter().all(|s| !*s),
                "README: {name} is not hardened: {hardening}"
            );
        }
        assert_eq!(
            hardening.contains("privileged"),
            spec.privileged,
            "README: {name}: {hardening}"
        );
        // `/proc:/host/proc:ro`, `hls:/hls`: compose's short syntax, or `none`.
        let mounts = cell("mounts");
        let said: Vec<_> = code_spans(mounts)
            .into_iter()
            .map(|m| volume_entry(&Json::String(m.to_owned())))
            .collect();
        assert!(
            !said.is_empty() || mounts == "none",
            "README: {name}'s mounts `{mounts}`"
        );
        assert_eq!(said, mounts_of(&spec), "README: {name}'s mounts");
    }
}
