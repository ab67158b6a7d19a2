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

mod env;
mod limits;
mod parse;
mod services;
mod sources;

/// The compose project's name (`COMPOSE_PROJECT_NAME` in .env.example).
const PROJECT: &str = "sense-pulse";

/// The always-on services of the compose file.
const CORE: [&str; 5] = ["redis", "gateway", "orchestrator", "notifier", "traefik"];

/// The roles of the `sense-pulse` binary (runtime/cli/src/cli.rs).
const ROLES: [&str; 7] = [
    "run",
    "gateway",
    "orchestrator",
    "notify",
    "source",
    "config",
    "aranet4",
];

/// Variables read by the code that are not config fields (docs/CONTRACT.md §3, and the gateway's
/// FRONTEND_DIR, GATEWAY_LISTEN, CORS_ORIGINS, ALLOWED_HOSTS, STATE_DIR). Each must appear quoted in
/// the runtime's or the gateway's source, so this list cannot outlive the code.
const CODE_VARS: [&str; 28] = [
    "NODE_NAME",
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
