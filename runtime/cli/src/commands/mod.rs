//! What each role does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sense_bus::{Bus, ConnectOptions, Scope, SourceId, TlsOptions};
use sense_linux::HostFs;
use sense_orchestrator::{LauncherChoice, OrchestratorError, OrchestratorOptions};
use sense_runtime::camera::CameraOptions;
use sense_runtime::sources::SourceOptions;
use sense_runtime::{Env, shutdown};

use crate::cli::{Aranet4Command, Command, SourceArg};
use crate::in_process::InProcessLauncher;
use crate::logs;

mod config;
mod failure;
mod health;
mod node;
mod nodes;
mod notify;
mod source;
mod tls;

use config::config;
pub use failure::Failure;
use failure::{Writes, exit, fail};
use sense_gateway::{BusSpec, GatewayOptions};
use sense_orchestrator::CancellationToken;
use source::{Endpoint, scan, scope_of, source};

/// The poll or the service failed (for `--once`: the error status was written). A partial poll
/// (some readings written, the status naming what failed: `outcome: partial`) exits 0.
pub const EXIT_FAILURE: u8 = 1;
/// The input is invalid (a config file, a value); nothing was written.
pub const EXIT_INVALID: u8 = 2;
/// Redis could not be reached; nothing was written.
pub const EXIT_NO_BUS: u8 = 3;
/// The role is not built yet.
pub const EXIT_NOT_YET: u8 = 4;

/// Where the roles look for Redis unless told (`--redis`, `REDIS_URL`): its address inside the
/// compose stack.
pub const DEFAULT_REDIS_URL: &str = "redis://redis:6379";

/// What to run instead of [`DEFAULT_REDIS_URL`] outside Docker.
const LOCAL_REDIS: &str = "redis://127.0.0.1:6379";

/// How long a long-running role waits for Redis at [`DEFAULT_REDIS_URL`] before it says how to
/// point it elsewhere (it goes on waiting).
const DOCKER_HINT_AFTER: Duration = Duration::from_secs(3);

/// How long a one-shot run waits for its last log entries to reach the bus.
const LOG_FLUSH: Duration = Duration::from_millis(500);

/// How long one-shot commands wait for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a role and returns the process exit code.
pub async fn run(command: Command) -> u8 {
    match command {
        Command::Run {
            sim,
            redis,
            listen,
            sim_node,
        } => exit(run_all(sim, sim_node, redis, &listen).await),
        Command::Gateway { redis, listen } => exit(gateway(&redis.url, &listen).await),
        Command::Orchestrator { redis, node, sim } => match scope_of(&node) {
            Ok(scope) => exit(orchestrator(&redis.url, scope, sim).await),
            Err(refused) => exit(Err(refused)),
        },
        Command::Notify { redis, sim } => exit(notify::role(&redis.url, sim).await),
        Command::Source {
            id: SourceArg::Node,
            port,
            once,
            sim,
            redis,
            node,
            mode,
            ..
        } => match scope_of(&node) {
            Ok(scope) => exit(node::source(port, once, sim, mode, &redis.url, scope).await),
            Err(refused) => exit(Err(refused)),
        },
        Command::Source {
            id: SourceArg::Id(id),
            port: _,
            once,
            sim,
            redis,
            node,
            proc_root,
            sys_root,
            disk_path,
            i2c_bus,
            mode,
        } => {
            let scope = match scope_of(&node) {
                Ok(scope) => scope,
                Err(refused) => return fail(&refused),
            };
            let url = &Endpoint {
                url: redis.url,
                scope,
            };
            let env = Env::process();
            let detected = HostFs::detect(|v| env.get(v));
            let host = HostFs::new(
                proc_root.unwrap_or_else(|| detected.proc_root().to_owned()),
                sys_root.unwrap_or_else(|| detected.sys_root().to_owned()),
            );
            if sim {
                sense_runtime::sim_web::announce();
            }
            let options = SourceOptions {
                sim,
                host,
                disk_path,
                i2c_bus,
                dev_root: "/dev".into(),
                hls_dir: CameraOptions::hls_dir_from(&env),
                env,
            };
            // A scan or discovery is one-off anyway; a stream has no single poll.
            if once && id == SourceId::NetworkCamera && mode.as_deref() != Some("discover") {
                return fail(&Failure::invalid(
                    "the camera streams until it is stopped, so it has no single poll: run \
                     `source network_camera` without --once (or with --mode discover to look for \
                     cameras)",
                ));
            }
            exit(match mode.as_deref() {
                None | Some("poll") => source(id, once, url, &options).await,
                Some("stream") if id == SourceId::NetworkCamera => {
                    source(id, once, url, &options).await
                }
                Some("scan") if id == SourceId::Co2 => scan(id, url, &options).await,
                Some("discover") if id == SourceId::NetworkCamera => scan(id, url, &options).await,
                Some(other) => Err(Failure::invalid(format!(
                    "`{other}` is not a mode of the {id} source: give --mode {}, or leave --mode \
                     out to poll",
                    match id {
                        SourceId::Co2 => "poll or scan",
                        SourceId::NetworkCamera => "stream or discover",
                        _ => "poll",
                    }
                ))),
            })
        }
        Command::Config { command } => exit(config(command).await),
        Command::Node { command } => exit(nodes::node(command).await),
        Command::Aranet4 {
            command: Aranet4Command::Decode { hex },
        } => exit(aranet4_decode(&hex)),
        Command::Health { url } => exit(health::check(url).await),
    }
}

/// The gateway's files, origins and host names from the environment: `FRONTEND_DIR` (default
/// `frontend/build`), `CORS_ORIGINS` and `ALLOWED_HOSTS` (comma-separated), `STATE_DIR` (the
/// settings backup).
fn gateway_options(env: &Env, hls_dir: PathBuf) -> GatewayOptions {
    let list = |name: &str| -> Vec<String> {
        env.get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect()
    };
    GatewayOptions {
        frontend_dir: Some(
            env.get("FRONTEND_DIR")
                .filter(|d| !d.is_empty())
                .map_or_else(|| PathBuf::from("frontend/build"), PathBuf::from),
        ),
        hls_dir,
        allowed_origins: list("CORS_ORIGINS"),
        allowed_hosts: list("ALLOWED_HOSTS"),
        env: sense_bus::config::process_env,
        // systemd's StateDirectory= sets STATE_DIRECTORY; the compose file sets STATE_DIR.
        state_dir: env
            .get("STATE_DIR")
            .or_else(|| env.get("STATE_DIRECTORY"))
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
        simulated: None,
    }
}

fn parse_listen(listen: &str) -> Result<SocketAddr, Failure> {
    listen.parse().map_err(|e| {
        Failure::invalid(format!(
            "--listen `{listen}` is not an address and port ({e}): give an IP address and port, \
             such as 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every network)"
        ))
    })
}

/// Why `address` cannot be listened on, and what to do.
fn cannot_listen(address: SocketAddr, e: &std::io::Error) -> Failure {
    let fix = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "something else listens on port {} already: stop it, or pass --listen with another \
             port",
            address.port()
        ),
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: pass --listen with a port such as 8080".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "that address is not one of this machine's: pass --listen 127.0.0.1:PORT or \
             0.0.0.0:PORT"
                .to_owned()
        }
        _ => "pass --listen with another address or port".to_owned(),
    };
    Failure::failed(format!("cannot listen on {address} ({e}): {fix}"))
}

/// The gateway until SIGTERM: waits for Redis, then serves on `listen`.
async fn gateway(url: &str, listen: &str) -> Result<u8, Failure> {
    let env = Env::process();
    let address = parse_listen(listen)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| cannot_listen(address, &e))?;
    let stop = shutdown::on_signals();
    let Some(bus) = wait_for_bus(url, &stop).await? else {
        return Ok(0);
    };
    logs::attach(bus.clone(), "gateway");
    let options = gateway_options(&env, CameraOptions::hls_dir_from(&env));
    let local = tokio::task::LocalSet::new();
    local
        .run_until(sense_gateway::serve(listener, bus, options, stop))
        .await
        .map_err(|e| Failure::bus(&e, url, Writes::Nothing))?;
    Ok(0)
}

/// `sense-pulse run`: the orchestrator (running every source in this process), the Sense HAT
/// service and the gateway, on the in-memory bus or `redis`.
async fn run_all(
    sim: bool,
    sim_node: bool,
    redis: Option<String>,
    listen: &str,
) -> Result<u8, Failure> {
    let env = Env::process();
    let address = parse_listen(listen)?;
    let stop = shutdown::on_signals();
    // `--redis`, else `REDIS_URL` as every role reads it, else the in-memory bus.
    let redis = match redis {
        Some(url) => Some((url, "--redis")),
        None => env
            .get("REDIS_URL")
            .filter(|u| !u.trim().is_empty())
            .map(|url| (url, "REDIS_URL")),
    };
    let (bus, gateway_bus) = match redis {
        Some((url, from)) => {
            say(&format!(
                "Bus: Redis at {} (from {from})",
                sense_bus::redact::any_url(&url)
            ));
            let tls = tls::from_env(&url)?;
            let Some(bus) = wait_for_bus_with(&url, &tls, &stop).await? else {
                return Ok(0);
            };
            (bus, BusSpec::Redis(url, tls))
        }
        None => {
            say(
                "Bus: in memory, gone when this process ends (pass --redis URL or set REDIS_URL \
                 to use Redis)",
            );
            let bus = Bus::memory();
            (bus.clone(), BusSpec::Shared(bus))
        }
    };
    let redis_url = match &gateway_bus {
        BusSpec::Redis(url, _) => url.clone(),
        _ => String::new(),
    };
    logs::attach(bus.clone(), "run");

    // Not /hls: `run` is for machines without the containers' volumes.
    let hls_dir = env
        .get("HLS_OUTPUT_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || std::env::temp_dir().join("sense-pulse-hls"),
            PathBuf::from,
        );
    let mut gateway_options = gateway_options(&env, hls_dir.clone());
    // The dashboard says the stack is simulated, and what the settings do meanwhile.
    gateway_options.simulated = sim.then(|| sense_gateway::api::Simulation {
        aranet4: sense_runtime::co2::simulated_monitors(),
    });
    let built = gateway_options
        .frontend_dir
        .as_deref()
        .is_some_and(|d| d.join("index.html").is_file());
    let (address, gateway) =
        sense_gateway::spawn(address, gateway_bus, gateway_options, stop.clone())
            .map_err(|e| cannot_listen(address, &e))?;
    if !built {
        tracing::warn!(
            "the dashboard is not built (npm ci && npm run build in frontend/, or set FRONTEND_DIR); the API works without it"
        );
    }
    say(&format!(
        "Sense Pulse{} is running: open http://{address}/ (Ctrl-C stops it)",
        if sim { " (simulated)" } else { "" }
    ));

    if sim {
        sense_runtime::sim_web::announce();
    }
    let detected = HostFs::detect(|v| env.get(v));
    let sources = SourceOptions {
        sim,
        host: detected,
        disk_path: env.get("DISK_PATH").unwrap_or_else(|| "/".into()).into(),
        i2c_bus: env
            .get("I2C_BUS")
            .unwrap_or_else(|| "/dev/i2c-1".into())
            .into(),
        dev_root: "/dev".into(),
        hls_dir,
        env: env.clone(),
    };
    notify::spawn(bus.clone(), sim, stop.clone());
    let _node = if sim_node {
        Some(node::start_simulated(bus.clone(), stop.clone())?)
    } else {
        None
    };
    let launcher = InProcessLauncher::start(bus.clone(), sources).map_err(|e| {
        Failure::failed(format!(
            "cannot start the sources' thread ({e}): the machine may be out of memory or \
             threads; close something and try again"
        ))
    })?;
    let mut options = OrchestratorOptions::new(LauncherChoice::Process {
        binary: PathBuf::new(),
        extra_args: Vec::new(),
        env: Vec::new(),
    });
    // The Sense HAT drives its display continuously; the rest are polled on their schedules.
    options.resident = vec![SourceId::Sensors];
    options.scheduled.retain(|id| *id != SourceId::Sensors);
    let result = sense_orchestrator::run_with_launcher(bus, launcher, options, stop.clone()).await;
    stop.cancel();
    let _ = tokio::task::spawn_blocking(move || gateway.join()).await;
    result.map_err(|e| orchestrator_failure(&e, &redis_url))?;
    Ok(0)
}

/// How the orchestrator's end is told.
fn orchestrator_failure(e: &OrchestratorError, url: &str) -> Failure {
    match e {
        OrchestratorError::Bus(e) => Failure::bus(e, url, Writes::Nothing),
        OrchestratorError::BusClosed => Failure::new(
            EXIT_NO_BUS,
            format!("{e}: the bus went away for good; restart sense-pulse"),
        ),
    }
}

/// The orchestrator until SIGTERM: waits for Redis, then schedules the sources as child
/// processes of this binary, or as containers when it runs in the compose project.
async fn orchestrator(url: &str, scope: Scope, sim: bool) -> Result<u8, Failure> {
    let env = Env::process();
    let mut options = OrchestratorOptions::from_env(&|v| env.get(v));
    match &mut options.launcher {
        LauncherChoice::Process {
            extra_args,
            env: vars,
            ..
        } => {
            // Children find the bus where the orchestrator did, even when it came from `--redis`.
            vars.push(("REDIS_URL".to_owned(), url.to_owned()));
            if sim {
                sense_runtime::sim_web::announce();
                extra_args.push("--sim".to_owned());
            }
        }
        LauncherChoice::Docker(docker) => {
            if sim {
                sense_runtime::sim_web::announce();
            }
            // Each container runs `source … --sim`.
            docker.sim = sim;
        }
    }
    let stop = shutdown::on_signals();
    let Some(bus) = wait_for_bus(url, &stop).await? else {
        return Ok(0);
    };
    if !scope.is_hub() {
        // The hub knows a satellite is there by its health writes: often enough to tell a lost
        // link within seconds.
        options.health_interval = sense_orchestrator::NODE_HEALTH_INTERVAL;
    }
    let bus = bus.with_scope(scope);
    logs::attach(bus.clone(), "orchestrator");
    sense_orchestrator::run(bus, options, stop)
        .await
        .map_err(|e| orchestrator_failure(&e, url))?;
    Ok(0)
}

/// `aranet4 decode`: bytes from the arguments, or standard input when there are none.
fn aranet4_decode(hex: &[String]) -> Result<u8, Failure> {
    let text = if hex.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
            Failure::invalid(format!(
                "cannot read standard input ({e}): give the bytes as arguments instead"
            ))
        })?;
        text
    } else {
        hex.join(" ")
    };
    let json = sense_source_aranet4::tool::decode(&text).map_err(Failure::invalid)?;
    say(&serde_json::to_string_pretty(&json).unwrap_or_default());
    Ok(0)
}

/// Connects to the bus of a long-running role, waiting for Redis as long as it takes: `None`
/// when `stop` came first. An unusable URL or certificate file (`REDIS_CA_FILE`…) fails at once,
/// as does a server certificate that does not verify. Waiting for the default Docker address, it
/// says after a while how to point the role elsewhere.
pub(crate) async fn wait_for_bus(
    url: &str,
    stop: &CancellationToken,
) -> Result<Option<Bus>, Failure> {
    wait_for_bus_with(url, &tls::from_env(url)?, stop).await
}

/// [`wait_for_bus`] with the certificates read already.
async fn wait_for_bus_with(
    url: &str,
    tls: &TlsOptions,
    stop: &CancellationToken,
) -> Result<Option<Bus>, Failure> {
    let connect = Bus::connect_with(url, ConnectOptions::WaitForever, tls);
    tokio::pin!(connect);
    let hint = tokio::time::sleep(DOCKER_HINT_AFTER);
    tokio::pin!(hint);
    let mut hinted = url != DEFAULT_REDIS_URL;
    loop {
        tokio::select! {
            bus = &mut connect => {
                return bus.map(Some).map_err(|e| Failure::bus(&e, url, Writes::Nothing));
            }
            () = stop.cancelled() => return Ok(None),
            () = &mut hint, if !hinted => {
                hinted = true;
                logs::warning(&format!(
                    "no answer yet from Redis at {DEFAULT_REDIS_URL}, the address inside the \
                     Docker stack: on this machine, pass --redis {LOCAL_REDIS} or set REDIS_URL \
                     (waiting on meanwhile)"
                ));
            }
        }
    }
}

/// Output for people at a terminal (reports, not logs).
#[allow(clippy::print_stdout)]
pub(super) fn say(text: &str) {
    println!("{text}");
}

/// Connects to the bus of a one-shot command, failing after [`CONNECT_TIMEOUT`].
async fn connect(url: &str, writes: Writes) -> Result<Bus, Failure> {
    let tls = tls::from_env(url)?;
    Bus::connect_with(url, ConnectOptions::FailAfter(CONNECT_TIMEOUT), &tls)
        .await
        .map_err(|e| Failure::bus(&e, url, writes))
}
