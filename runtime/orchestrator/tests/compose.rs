//! The Docker deployment (docker/) against the code that runs in it. No Docker engine is needed:
//! the compose file, .env.example, Traefik's configuration and the Dockerfile are parsed and
//! checked for what the orchestrator, the gateway and the sources expect of them:
//!
//! - every Sense Pulse service runs the one image with a role the binary has;
//! - the orchestrator has the Docker socket, `COMPOSE_PROJECT_NAME` (the project's own name) and
//!   `SENSE_IMAGE` (the services' image), and [`choose_launcher_at`] picks Docker from them;
//! - the `hls` volume is the one the orchestrator mounts in the camera (`{project}_hls:/hls`), and
//!   the gateway mounts it read-only at the `HLS_OUTPUT_DIR` it serves;
//! - the `source-*` services declare exactly what [`ContainerSpec::for_job`] creates (command,
//!   user, memory, mounts in the long syntax for host paths, hardening), and so does the table of
//!   source containers in docker/README.md's "Privileges";
//! - every environment variable named in the compose file or .env.example is one the code reads
//!   (or a deployment variable of the compose file itself), .env.example names every config
//!   variable, and its values are valid config;
//! - Redis is not published, the gateway's healthcheck asks /health on the port it listens on,
//!   Traefik routes only the gateway and has no dashboard;
//! - logs and memory are bounded (an SD card, 1 GB of RAM), logs as the orchestrator's own
//!   containers' ([`LOG_MAX_FILES`], [`LOG_MAX_SIZE`]);
//! - the file is one compose v1 (Debian's docker-compose 1.29) reads as well as v2: no `name:`,
//!   `env_file` as plain paths (docker/test.sh runs it on both for real).
//!
//! The Dockerfile has its own checks: tests/dockerfile.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sense_bus::config::Section;
use sense_bus::{SectionName, SourceId, with_section};
use sense_orchestrator::docker::{
    ContainerSpec, LOG_MAX_FILES, LOG_MAX_SIZE, MountKind, NO_NEW_PRIVILEGES, camera_image_of,
    service_name,
};
use sense_orchestrator::{
    DOCKER_SOCKET, Job, LauncherChoice, OrchestratorOptions, choose_launcher_at, passthrough_env,
};
use serde_json::Value as Json;

/// The compose project's name (`COMPOSE_PROJECT_NAME` in .env.example).
const PROJECT: &str = "sense-pulse";

/// The always-on services of the compose file.
const CORE: [&str; 4] = ["redis", "gateway", "orchestrator", "traefik"];

/// The roles of the `sense-pulse` binary (runtime/cli/src/cli.rs).
const ROLES: [&str; 6] = [
    "run",
    "gateway",
    "orchestrator",
    "source",
    "config",
    "aranet4",
];

/// Variables read by the code that are not config fields (docs/CONTRACT.md §3, and the gateway's
/// FRONTEND_DIR, GATEWAY_LISTEN, CORS_ORIGINS, ALLOWED_HOSTS, STATE_DIR). Each must appear quoted in
/// the runtime's or the gateway's source, so this list cannot outlive the code.
const CODE_VARS: [&str; 27] = [
    "REDIS_URL",
    "LOG_LEVEL",
    "RUST_LOG",
    "TZ",
    "HOST_PROC",
    "HOST_SYS",
    "DISK_PATH",
    "I2C_BUS",
    "MODE",
    "HLS_OUTPUT_DIR",
    "FFMPEG",
    "COMPOSE_PROJECT_NAME",
    "ORCHESTRATOR_LAUNCHER",
    "SENSE_IMAGE",
    "SENSE_CAMERA_IMAGE",
    "ORCHESTRATOR_RESIDENT",
    "HOSTNAME",
    "GATEWAY_LISTEN",
    "FRONTEND_DIR",
    "CORS_ORIGINS",
    "ALLOWED_HOSTS",
    "STATE_DIR",
    "CAMERA_DISCOVERY_SUBNETS",
    "GATEWAY_MAX_CONNECTIONS",
    "GATEWAY_MAX_CONNECTIONS_PER_CLIENT",
    "GATEWAY_MAX_WEBSOCKETS",
    "GATEWAY_MAX_WEBSOCKETS_PER_CLIENT",
];

/// Variables of the deployment itself: read by compose (`${...}`), never by the code.
const DEPLOYMENT_VARS: [&str; 6] = [
    "TRAEFIK_BIND",
    "TRAEFIK_PORT",
    "SENSE_SUBNET",
    // The host's Docker socket (rootless Docker has it elsewhere), the settings file, Redis's image.
    "DOCKER_SOCKET",
    "SENSE_ENV_FILE",
    "REDIS_IMAGE",
];

/// What the core services may reserve together on a 1 GB Pi 3B.
const CORE_MEMORY_BUDGET: u64 = 384 << 20;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    let path = repo().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &str) -> Json {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn compose() -> Json {
    yaml("docker/docker-compose.yml")
}

fn services(compose: &Json) -> &serde_json::Map<String, Json> {
    compose["services"].as_object().expect("services")
}

fn service<'a>(compose: &'a Json, name: &str) -> &'a Json {
    services(compose)
        .get(name)
        .unwrap_or_else(|| panic!("no service `{name}`"))
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.iter().map(text).collect(),
        Json::Null => Vec::new(),
        other => vec![text(other)],
    }
}

/// A mapping that compose also takes as a list of `KEY=value` (`environment`, `labels`).
fn key_values(value: &Json) -> BTreeMap<String, String> {
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

fn environment(service: &Json) -> BTreeMap<String, String> {
    key_values(&service["environment"])
}

fn labels(service: &Json) -> BTreeMap<String, String> {
    key_values(&service["labels"])
}

/// Compose's interpolation of `text`: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`.
/// Calls `seen` with each variable's name.
fn interpolate(
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
fn defaulted(text: &str) -> String {
    interpolate(text, &|_| None, &mut |_| {})
}

/// Every variable `${...}` in the compose file.
fn interpolated_names() -> BTreeSet<String> {
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
struct EnvExample {
    set: BTreeMap<String, String>,
    commented: BTreeSet<String>,
}

impl EnvExample {
    fn load() -> EnvExample {
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

    fn get(&self, name: &str) -> Option<String> {
        self.set.get(name).cloned()
    }

    fn names(&self) -> BTreeSet<String> {
        self.set.keys().chain(&self.commented).cloned().collect()
    }
}

/// Every config variable of every section (`EnvField`s of `sense_bus::config`).
fn config_vars() -> BTreeSet<&'static str> {
    let mut vars = BTreeSet::new();
    for section in SectionName::ALL {
        let fields = with_section!(section, S => S::ENV);
        vars.extend(fields.iter().map(|f| f.var));
    }
    vars
}

/// Every `.rs` file under `dir`, except tests.
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
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
fn bytes(size: &str) -> u64 {
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
fn volume_parts(entry: &str) -> (String, String, String) {
    let mut parts = entry.splitn(3, ':');
    let source = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mode = parts.next().unwrap_or("rw").to_owned();
    (source, target, mode)
}

/// A service's `volumes:` entry, in the short syntax (`source:target[:ro]`) or the long one (`type`,
/// `source`, `target`, `read_only`): (type, source, target, read-only).
fn volume_entry(entry: &Json) -> (String, String, String, bool) {
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
fn sense_services(compose: &Json) -> Vec<(&String, &Json)> {
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

fn is_manual(service: &Json) -> bool {
    strings(&service["profiles"]) == ["manual"]
}

#[test]
fn compose_file_is_a_compose_spec_project() {
    let compose = compose();
    assert!(
        compose.get("version").is_none(),
        "the compose spec has no `version:`"
    );
    // compose v1 refuses `name:` and `env_file` entries with `required:`; the project is named
    // by COMPOSE_PROJECT_NAME in .env (or `-p`), and the orchestrator takes its project from its
    // own container's label anyway.
    assert!(compose.get("name").is_none(), "compose v1 refuses `name:`");
    for (name, s) in services(&compose) {
        for entry in s["env_file"].as_array().into_iter().flatten() {
            assert!(
                entry.is_string(),
                "{name}: env_file entries are plain paths (compose v1): {entry}"
            );
        }
    }
    for name in CORE {
        service(&compose, name);
    }
    for volume in ["hls", "redis-data"] {
        let spec = compose["volumes"]
            .as_object()
            .and_then(|v| v.get(volume))
            .unwrap_or_else(|| panic!("no volume `{volume}`"));
        // The orchestrator names it `{project}_hls`: compose's own naming, not overridden.
        assert!(
            spec.get("name").is_none() && spec.get("external").is_none(),
            "volume `{volume}` must keep compose's `{{project}}_{volume}` name"
        );
    }
    // One network, the default `{project}_default`: the orchestrator puts its containers on the
    // network of its own container that starts with `{project}_`, else `{project}_default`.
    for (name, s) in services(&compose) {
        assert!(s.get("network_mode").is_none(), "{name}: network_mode");
        assert!(s.get("networks").is_none(), "{name}: networks");
    }
    // The project's name, for `docker compose` run in docker/ (else named after the folder).
    assert_eq!(
        EnvExample::load().get("COMPOSE_PROJECT_NAME").as_deref(),
        Some(PROJECT)
    );
}

#[test]
fn sense_services_share_one_image_and_run_existing_roles() {
    let compose = compose();
    let sense = sense_services(&compose);
    assert!(sense.len() >= 2 + SourceId::ALL.len(), "{sense:?}");
    let image = text(&service(&compose, "gateway")["image"]);
    assert!(image.contains("${SENSE_IMAGE"), "gateway image {image}");
    let example = EnvExample::load();
    assert_eq!(
        Some(defaulted(&image)),
        example.get("SENSE_IMAGE"),
        "the image's default and .env.example's SENSE_IMAGE"
    );
    // The camera's own image, by default what the orchestrator derives from the core image's.
    let camera = text(&service(&compose, service_name(SourceId::NetworkCamera))["image"]);
    assert!(
        camera.contains("${SENSE_CAMERA_IMAGE"),
        "camera image {camera}"
    );
    assert_eq!(
        Some(defaulted(&camera)),
        camera_image_of(&defaulted(&image)),
        "the camera image's default is the core image's name with -camera"
    );
    for (name, s) in &sense {
        let expected = if *name == service_name(SourceId::NetworkCamera) {
            &camera
        } else {
            &image
        };
        assert_eq!(
            &text(&s["image"]),
            expected,
            "{name}: one image for every service but the camera"
        );
        let command = strings(&s["command"]);
        let role = command.first().map(String::as_str).unwrap_or_default();
        assert!(
            ROLES.contains(&role),
            "{name}: `{role}` is not a role of sense-pulse"
        );
        if role == "source" {
            let id = command.get(1).map(String::as_str).unwrap_or_default();
            assert!(
                id.parse::<SourceId>().is_ok(),
                "{name}: `{id}` is not a source"
            );
        }
        assert!(
            s.get("entrypoint").is_none(),
            "{name}: the image's entrypoint is sense-pulse"
        );
        if let Some(build) = s.get("build") {
            assert_eq!(
                build["context"], "..",
                "{name}: the context is the repository"
            );
            let dockerfile = text(&build["dockerfile"]);
            assert_eq!(dockerfile, "docker/Dockerfile", "{name}");
            assert!(repo().join(&dockerfile).is_file());
            let target = if *name == service_name(SourceId::NetworkCamera) {
                "camera"
            } else {
                "core"
            };
            assert_eq!(
                text(&build["target"]),
                target,
                "{name}: the Dockerfile's target"
            );
        }
    }
    for core in ["gateway", "orchestrator"] {
        let s = service(&compose, core);
        assert!(
            s.get("build").is_some(),
            "{core}: `docker compose build` builds it"
        );
        assert_eq!(strings(&s["command"]), [core]);
    }
}

#[test]
fn the_orchestrator_drives_docker_for_this_project() {
    let compose = compose();
    let orchestrator = service(&compose, "orchestrator");
    let volumes = strings(&orchestrator["volumes"]);
    assert!(
        volumes.iter().any(|v| {
            let (source, target, mode) = volume_parts(&defaulted(v));
            source == DOCKER_SOCKET && target == DOCKER_SOCKET && mode != "ro"
        }),
        "the orchestrator needs {DOCKER_SOCKET} (read-write): {volumes:?}"
    );
    assert!(
        orchestrator.get("hostname").is_none(),
        "HOSTNAME must stay the container id: the orchestrator inspects itself by it"
    );
    let user = text(&orchestrator["user"]);
    assert!(
        user.is_empty() || user == "root" || user.starts_with('0'),
        "the Docker socket is root's: {user}"
    );
    assert_eq!(
        orchestrator["depends_on"]["redis"]["condition"],
        "service_healthy"
    );
    let grace = text(&orchestrator["stop_grace_period"]);
    let grace: u64 = grace
        .strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("stop_grace_period {grace:?}"));
    assert!(
        grace >= 20,
        "time to stop the camera and the Sense HAT: {grace}s"
    );

    let env = environment(orchestrator);
    let project = defaulted(&env["COMPOSE_PROJECT_NAME"]);
    assert_eq!(
        project, PROJECT,
        "COMPOSE_PROJECT_NAME is the project's name"
    );
    assert_eq!(
        env["SENSE_IMAGE"],
        text(&orchestrator["image"]),
        "SENSE_IMAGE is the services' own image"
    );
    assert_eq!(env["ORCHESTRATOR_LAUNCHER"], "docker");
    let resident = defaulted(&env["ORCHESTRATOR_RESIDENT"]);
    assert_eq!(resident, "sensors");

    // The environment compose gives it (with .env.example as .env) makes the code pick Docker
    // for this project and image, and run the Sense HAT resident.
    let example = EnvExample::load();
    let given: BTreeMap<String, String> = example
        .set
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(env.iter().map(|(k, v)| {
            let value = interpolate(v, &|n| example.get(n), &mut |_| {});
            (k.clone(), value)
        }))
        .chain([("HOSTNAME".to_owned(), "0123456789ab".to_owned())])
        .collect();
    let lookup = |name: &str| given.get(name).cloned();
    let dir = std::env::temp_dir().join(format!("sense-compose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("docker.sock");
    std::fs::write(&socket, "").unwrap();
    let choice = choose_launcher_at(&lookup, &socket);
    std::fs::remove_dir_all(&dir).unwrap();
    let LauncherChoice::Docker(docker) = choice else {
        panic!("expected the Docker launcher, got {choice:?}");
    };
    assert_eq!(docker.project, PROJECT);
    assert_eq!(docker.image.as_deref(), Some("sense-pulse:latest"));
    // The camera's image follows from it (.env.example leaves SENSE_CAMERA_IMAGE unset).
    assert_eq!(docker.camera_image, None);
    assert_eq!(docker.self_container.as_deref(), Some("0123456789ab"));
    let options = OrchestratorOptions::from_env(&lookup);
    assert_eq!(options.resident, [SourceId::Sensors]);
    assert!(!options.scheduled.contains(&SourceId::Sensors));
}

#[test]
fn the_hls_volume_is_shared_by_the_camera_and_the_gateway() {
    let compose = compose();
    // What the orchestrator gives the camera container.
    let camera = ContainerSpec::for_job(
        Job::service(SourceId::NetworkCamera),
        PROJECT,
        "sense-pulse:latest",
        "sense-pulse_default",
        &[],
        "camera".to_owned(),
    );
    let (volume, camera_dir) = camera
        .mounts
        .iter()
        .find(|m| m.kind == MountKind::Volume)
        .map(|m| (m.source.clone(), m.target.clone()))
        .expect("the camera's named volume");
    let key = volume
        .strip_prefix(&format!("{PROJECT}_"))
        .unwrap_or_else(|| panic!("{volume} is not a volume of {PROJECT}"));
    assert_eq!(key, "hls");
    assert!(compose["volumes"].get(key).is_some());
    assert!(camera.env.contains(&format!("HLS_OUTPUT_DIR={camera_dir}")));

    let gateway = service(&compose, "gateway");
    let served = environment(gateway)
        .get("HLS_OUTPUT_DIR")
        .cloned()
        .expect("the gateway's HLS_OUTPUT_DIR is fixed in the compose file");
    assert_eq!(served, camera_dir);
    let mounts = strings(&gateway["volumes"]);
    assert!(
        mounts.contains(&format!("{key}:{served}:ro")),
        "the gateway mounts `{key}` read-only at {served}: {mounts:?}"
    );
}

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
        assert!(s.get("tmpfs").is_none(), "{name}: tmpfs");
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

#[test]
fn redis_is_private_and_healthchecked() {
    let compose = compose();
    let redis = service(&compose, "redis");
    // REDIS_IMAGE: where redis:7-alpine cannot be pulled (docker/test.sh builds Debian's).
    assert!(defaulted(&text(&redis["image"])).starts_with("redis:7"));
    assert!(redis.get("ports").is_none(), "Redis is never published");
    let volumes = strings(&redis["volumes"]);
    let (source, target, mode) = volumes
        .iter()
        .map(|v| volume_parts(v))
        .find(|(source, _, _)| source == "./redis.conf")
        .expect("docker/redis.conf is mounted");
    assert!(repo().join("docker").join(&source).is_file());
    assert_eq!(mode, "ro");
    let command = strings(&redis["command"]);
    assert_eq!(command.first().map(String::as_str), Some("redis-server"));
    assert_eq!(
        command.get(1),
        Some(&target),
        "redis-server reads the mounted redis.conf"
    );
    let test = strings(&redis["healthcheck"]["test"]).join(" ");
    assert!(test.contains("redis-cli ping"), "{test}");
    // Only Traefik is published.
    for (name, s) in services(&compose) {
        assert_eq!(s.get("ports").is_some(), name == "traefik", "{name}: ports");
    }
}

#[test]
fn the_gateway_is_healthchecked_on_its_port_and_not_root() {
    let compose = compose();
    let gateway = service(&compose, "gateway");
    let listen = environment(gateway)
        .get("GATEWAY_LISTEN")
        .cloned()
        .expect("GATEWAY_LISTEN fixed in the compose file");
    let port = listen.rsplit(':').next().unwrap_or_default().to_owned();
    assert_eq!(port, "8080");
    // `sense-pulse health` asks GET /health on GATEWAY_LISTEN's port (the image has no shell).
    assert_eq!(
        strings(&gateway["healthcheck"]["test"]),
        ["CMD", "sense-pulse", "health"]
    );
    assert_eq!(
        labels(gateway)
            .get("traefik.http.services.sense.loadbalancer.server.port")
            .map(String::as_str),
        Some(port.as_str())
    );
    let user = text(&gateway["user"]);
    assert!(
        !user.is_empty() && !user.starts_with('0') && user != "root",
        "the gateway runs as a user: {user:?}"
    );
    assert_eq!(
        environment(gateway).get("FRONTEND_DIR").map(String::as_str),
        Some("/app/frontend/build")
    );
}

#[test]
fn traefik_routes_only_the_gateway() {
    let compose = compose();
    for (name, s) in services(&compose) {
        let traefik: Vec<String> = labels(s)
            .keys()
            .filter(|k| k.starts_with("traefik."))
            .cloned()
            .collect();
        if name == "gateway" {
            assert_eq!(labels(s)["traefik.enable"], "true");
        } else {
            assert!(traefik.is_empty(), "{name} has Traefik labels: {traefik:?}");
        }
    }
    let traefik = service(&compose, "traefik");
    assert!(text(&traefik["image"]).starts_with("traefik:v3"));
    let ports = strings(&traefik["ports"]);
    assert_eq!(ports.len(), 1, "{ports:?}");
    let published = defaulted(&ports[0]);
    assert!(published.ends_with(":80"), "{published}");
    assert!(
        published.starts_with("127.0.0.1:"),
        "by default only `tailscale serve` (localhost) reaches it: {published}"
    );
    let volumes = strings(&traefik["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|v| defaulted(v) == format!("{DOCKER_SOCKET}:{DOCKER_SOCKET}:ro")),
        "{volumes:?}"
    );
    assert!(volumes.contains(&"./traefik:/etc/traefik:ro".to_owned()));

    let static_config = yaml("docker/traefik/traefik.yml");
    let docker = &static_config["providers"]["docker"];
    assert_eq!(docker["exposedByDefault"], false);
    let api = &static_config["api"];
    assert!(
        api.is_null() || (api["dashboard"] == false && api["insecure"] != true),
        "no Traefik dashboard: {api}"
    );
    assert_eq!(static_config["entryPoints"]["web"]["address"], ":80");
    let file = text(&static_config["providers"]["file"]["filename"]);
    let file = file
        .strip_prefix("/etc/traefik/")
        .unwrap_or_else(|| panic!("{file} is not in the mounted ./traefik"));
    let dynamic = yaml(&format!("docker/traefik/{file}"));
    let top: Vec<&String> = dynamic
        .as_object()
        .expect("dynamic config")
        .keys()
        .collect();
    assert_eq!(top, ["http"], "no tcp or udp routes");
    let http: Vec<&String> = dynamic["http"].as_object().unwrap().keys().collect();
    assert_eq!(
        http,
        ["middlewares"],
        "routes come from the gateway's labels only"
    );
    let middlewares = dynamic["http"]["middlewares"].as_object().unwrap();

    let gateway = labels(service(&compose, "gateway"));
    let routers: BTreeSet<&str> = gateway
        .keys()
        .filter_map(|k| k.strip_prefix("traefik.http.routers."))
        .filter_map(|k| k.split('.').next())
        .collect();
    assert!(!routers.is_empty());
    for router in routers {
        let get = |field: &str| gateway.get(&format!("traefik.http.routers.{router}.{field}"));
        assert_eq!(
            get("entrypoints").map(String::as_str),
            Some("web"),
            "{router}"
        );
        assert_eq!(
            get("service").map(String::as_str),
            Some("sense"),
            "{router}"
        );
        for m in get("middlewares")
            .map(|m| m.split(','))
            .into_iter()
            .flatten()
        {
            let m = m
                .trim()
                .strip_suffix("@file")
                .unwrap_or_else(|| panic!("{m}: @file"));
            assert!(middlewares.contains_key(m), "{router}: no middleware {m}");
        }
    }
    // HLS and WebSockets skip compression.
    let live = gateway["traefik.http.routers.sense-live.rule"].clone();
    assert!(
        live.contains("/ws/") && live.contains("/api/stream/"),
        "{live}"
    );
    assert!(!gateway["traefik.http.routers.sense-live.middlewares"].contains("compress"));
}

#[test]
fn logs_memory_and_restarts_are_bounded() {
    let compose = compose();
    let mut core_memory = 0;
    for (name, s) in services(&compose) {
        assert_eq!(s["logging"]["driver"], "json-file", "{name}: logging");
        let max = text(&s["logging"]["options"]["max-size"]);
        assert!(bytes(&max) <= 10 << 20, "{name}: log max-size {max}");
        let limit = bytes(&text(&s["mem_limit"]));
        assert!(limit >= 32 << 20, "{name}: mem_limit {limit}");
        // The same limits as the containers the orchestrator creates itself.
        let options = &s["logging"]["options"];
        assert_eq!(text(&options["max-size"]), LOG_MAX_SIZE, "{name}: max-size");
        assert_eq!(
            text(&options["max-file"]),
            LOG_MAX_FILES.to_string(),
            "{name}: max-file"
        );
        if CORE.contains(&name.as_str()) {
            core_memory += limit;
            assert_eq!(text(&s["restart"]), "unless-stopped", "{name}");
        }
    }
    assert!(
        core_memory <= CORE_MEMORY_BUDGET,
        "the core services reserve {} MiB",
        core_memory >> 20
    );
}
