//! The services: one image and its roles, the orchestrator on Docker, the `hls` volume, Redis,
//! the gateway, Traefik.

use std::collections::{BTreeMap, BTreeSet};

use sense_bus::SourceId;
use sense_orchestrator::docker::{ContainerSpec, MountKind, camera_image_of, service_name};
use sense_orchestrator::{
    DOCKER_SOCKET, Job, LauncherChoice, OrchestratorOptions, choose_launcher_at,
};

use crate::parse::{
    EnvExample, compose, defaulted, environment, interpolate, labels, repo, sense_services,
    service, services, strings, text, volume_parts, yaml,
};
use crate::{CORE, PROJECT, ROLES};

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
