//! What each role does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sense_bus::{Bus, BusError, ConnectOptions, SectionName, SourceId, store};
use sense_linux::HostFs;
use sense_orchestrator::{LauncherChoice, OrchestratorError, OrchestratorOptions};
use sense_runtime::camera::CameraOptions;
use sense_runtime::sources::{self, Mode, SourceError, SourceOptions};
use sense_runtime::{Env, legacy, shutdown};

use crate::cli::{Aranet4Command, Command, ConfigCommand};
use crate::in_process::InProcessLauncher;
use crate::logs;
use sense_gateway::{BusSpec, GatewayOptions};
use sense_orchestrator::CancellationToken;

/// The poll or the service failed (for `--once`: the error status was written). A partial poll
/// (some readings written, the status naming what failed: `outcome: partial`) exits 0.
pub const EXIT_FAILURE: u8 = 1;
/// The input is invalid (a config file, a value); nothing was written.
pub const EXIT_INVALID: u8 = 2;
/// Redis could not be reached; nothing was written.
pub const EXIT_NO_BUS: u8 = 3;
/// The role is not built yet.
pub const EXIT_NOT_YET: u8 = 4;

/// How long a one-shot run waits for its last log entries to reach the bus.
const LOG_FLUSH: Duration = Duration::from_millis(500);

/// How long one-shot commands wait for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a role and returns the process exit code.
pub async fn run(command: Command) -> u8 {
    match command {
        Command::Run { sim, redis, listen } => run_all(sim, redis, &listen).await,
        Command::Gateway { redis, listen } => gateway(&redis.url, &listen).await,
        Command::Orchestrator { redis, sim } => orchestrator(&redis.url, sim).await,
        Command::Source {
            id,
            once,
            sim,
            redis,
            proc_root,
            sys_root,
            disk_path,
            i2c_bus,
            mode,
        } => {
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
                tracing::error!(
                    "the camera streams until it is stopped: run `source network_camera` without --once"
                );
                return EXIT_INVALID;
            }
            match mode.as_deref() {
                None | Some("poll") => source(id, once, &redis.url, &options).await,
                Some("stream") if id == SourceId::NetworkCamera => {
                    source(id, once, &redis.url, &options).await
                }
                Some("scan") if id == SourceId::Co2 => scan(id, &redis.url, &options).await,
                Some("discover") if id == SourceId::NetworkCamera => {
                    scan(id, &redis.url, &options).await
                }
                Some(other) => {
                    tracing::error!(
                        "mode `{other}` is not one of {id}'s modes: poll{}",
                        match id {
                            SourceId::Co2 => ", scan",
                            SourceId::NetworkCamera => ", stream, discover",
                            _ => "",
                        }
                    );
                    EXIT_INVALID
                }
            }
        }
        Command::Config { command } => config(command).await,
        Command::Aranet4 {
            command: Aranet4Command::Decode { hex },
        } => aranet4_decode(&hex),
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
    }
}

fn parse_listen(listen: &str) -> Result<SocketAddr, u8> {
    listen.parse().map_err(|e| {
        tracing::error!("--listen {listen:?} is not an address such as 127.0.0.1:8080: {e}");
        EXIT_INVALID
    })
}

/// The gateway until SIGTERM: waits for Redis, then serves on `listen`.
async fn gateway(url: &str, listen: &str) -> u8 {
    let env = Env::process();
    let address = match parse_listen(listen) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {address}: {e}");
            return EXIT_FAILURE;
        }
    };
    let stop = shutdown::on_signals();
    let bus = match wait_for_bus(url, &stop).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    logs::attach(bus.clone(), "gateway");
    let options = gateway_options(&env, CameraOptions::hls_dir_from(&env));
    let local = tokio::task::LocalSet::new();
    match local
        .run_until(sense_gateway::serve(listener, bus, options, stop))
        .await
    {
        Ok(()) => 0,
        Err(e) => bus_error(&e),
    }
}

/// `sense-pulse run`: the orchestrator (running every source in this process), the Sense HAT
/// service and the gateway, on the in-memory bus or `redis`.
async fn run_all(sim: bool, redis: Option<String>, listen: &str) -> u8 {
    let env = Env::process();
    let address = match parse_listen(listen) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let stop = shutdown::on_signals();
    let (bus, gateway_bus) = match redis {
        Some(url) => {
            let bus = match wait_for_bus(&url, &stop).await {
                Ok(bus) => bus,
                Err(code) => return code,
            };
            (bus, BusSpec::Redis(url))
        }
        None => {
            let bus = Bus::memory();
            (bus.clone(), BusSpec::Shared(bus))
        }
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
    let gateway_options = gateway_options(&env, hls_dir.clone());
    let built = gateway_options
        .frontend_dir
        .as_deref()
        .is_some_and(|d| d.join("index.html").is_file());
    let (address, gateway) =
        match sense_gateway::spawn(address, gateway_bus, gateway_options, stop.clone()) {
            Ok(started) => started,
            Err(e) => {
                tracing::error!("cannot listen on {address}: {e}");
                return EXIT_FAILURE;
            }
        };
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
    let launcher = match InProcessLauncher::start(bus.clone(), sources) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot start the sources' thread: {e}");
            return EXIT_FAILURE;
        }
    };
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
    match result {
        Ok(()) => 0,
        Err(OrchestratorError::Bus(e)) => bus_error(&e),
        Err(e) => {
            tracing::error!("{e}");
            EXIT_NO_BUS
        }
    }
}

/// The orchestrator until SIGTERM: waits for Redis, then schedules the sources as child
/// processes of this binary, or as containers when it runs in the compose project.
async fn orchestrator(url: &str, sim: bool) -> u8 {
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
        LauncherChoice::Docker(_) if sim => {
            tracing::error!(
                "--sim runs the sources as child processes; unset COMPOSE_PROJECT_NAME or set \
                 ORCHESTRATOR_LAUNCHER=process"
            );
            return EXIT_INVALID;
        }
        LauncherChoice::Docker(_) => {}
    }
    let stop = shutdown::on_signals();
    let bus = match wait_for_bus(url, &stop).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    logs::attach(bus.clone(), "orchestrator");
    match sense_orchestrator::run(bus, options, stop).await {
        Ok(()) => 0,
        Err(OrchestratorError::Bus(e)) => bus_error(&e),
        Err(e) => {
            tracing::error!("{e}");
            EXIT_NO_BUS
        }
    }
}

/// Scans (co2) or discovers (camera) once, writes the result to `scan:{id}` and prints it.
async fn scan(id: SourceId, url: &str, options: &SourceOptions) -> u8 {
    let bus = match connect(url).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    logs::attach(bus.clone(), id.as_str());
    let code = match sources::scan(id, &bus, options).await {
        Ok(result) => {
            say(&serde_json::to_string_pretty(&result).unwrap_or_default());
            0
        }
        Err(SourceError::Bus(e)) => bus_error(&e),
        Err(e @ SourceError::NotYet { .. }) => {
            tracing::error!("{e}");
            EXIT_NOT_YET
        }
        Err(e) => {
            tracing::error!("{e}");
            EXIT_FAILURE
        }
    };
    logs::flush(LOG_FLUSH).await;
    code
}

/// `aranet4 decode`: bytes from the arguments, or standard input when there are none.
fn aranet4_decode(hex: &[String]) -> u8 {
    let text = if hex.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            tracing::error!("cannot read standard input: {e}");
            return EXIT_INVALID;
        }
        text
    } else {
        hex.join(" ")
    };
    match sense_source_aranet4::tool::decode(&text) {
        Ok(json) => {
            say(&serde_json::to_string_pretty(&json).unwrap_or_default());
            0
        }
        Err(e) => {
            tracing::error!("{e}");
            EXIT_INVALID
        }
    }
}

fn bus_error(e: &BusError) -> u8 {
    tracing::error!(error = %e, "nothing was written");
    EXIT_NO_BUS
}

async fn source(id: SourceId, once: bool, url: &str, options: &SourceOptions) -> u8 {
    if once {
        let bus = match Bus::connect(url, ConnectOptions::FailAfter(CONNECT_TIMEOUT)).await {
            Ok(bus) => bus,
            Err(e) => return bus_error(&e),
        };
        logs::attach(bus.clone(), id.as_str());
        let code = match sources::run(id, bus, options, Mode::Once).await {
            Ok(Some(report)) if report.failed() => {
                let error = report.status.last_error.unwrap_or_default();
                tracing::error!(source = %id, %error, "poll failed; error status written");
                EXIT_FAILURE
            }
            Ok(report) => {
                let readings = report.as_ref().map_or(0, |r| r.readings);
                let outcome = report.as_ref().map_or("ok", |r| r.outcome().as_str());
                tracing::info!(source = %id, readings, outcome, "poll written");
                0
            }
            Err(SourceError::Bus(e)) => bus_error(&e),
            Err(e @ SourceError::NotYet { .. }) => {
                tracing::error!("{e}");
                EXIT_NOT_YET
            }
            Err(e) => {
                tracing::error!("{e}");
                EXIT_FAILURE
            }
        };
        logs::flush(LOG_FLUSH).await;
        return code;
    }
    let stop = shutdown::on_signals();
    let bus = match wait_for_bus(url, &stop).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    logs::attach(bus.clone(), id.as_str());
    match sources::run(id, bus, options, Mode::Resident(stop)).await {
        Ok(_) => 0,
        Err(SourceError::Bus(e)) => bus_error(&e),
        Err(e @ SourceError::NotYet { .. }) => {
            tracing::error!("{e}");
            EXIT_NOT_YET
        }
        Err(e) => {
            tracing::error!("{e}");
            EXIT_FAILURE
        }
    }
}

/// Connects to the bus of a long-running role, waiting for Redis as long as it takes. `Err` holds
/// the exit code: 0 when `stop` came first, [`EXIT_NO_BUS`] when the URL is unusable.
async fn wait_for_bus(url: &str, stop: &CancellationToken) -> Result<Bus, u8> {
    tokio::select! {
        bus = Bus::connect(url, ConnectOptions::WaitForever) => bus.map_err(|e| bus_error(&e)),
        () = stop.cancelled() => Err(0),
    }
}

/// Output for people at a terminal (reports, not logs).
#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

async fn connect(url: &str) -> Result<Bus, u8> {
    Bus::connect(url, ConnectOptions::FailAfter(CONNECT_TIMEOUT))
        .await
        .map_err(|e| bus_error(&e))
}

async fn config(command: ConfigCommand) -> u8 {
    let env = Env::process();
    match command {
        ConfigCommand::Import {
            file,
            dry_run,
            redis,
        } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!("cannot read {}: {e}", file.display());
                    return EXIT_INVALID;
                }
            };
            let plan = match legacy::plan(&text) {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::error!("{}: {e}. Nothing was written.", file.display());
                    return EXIT_INVALID;
                }
            };
            say(&plan.to_string());
            if dry_run {
                say("Dry run: nothing was written.");
                return 0;
            }
            if plan.sections.is_empty() {
                return 0;
            }
            let bus = match connect(&redis.url).await {
                Ok(bus) => bus,
                Err(code) => return code,
            };
            if let Err(e) = legacy::apply(&bus, &plan).await {
                return bus_error(&e);
            }
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
            0
        }
        ConfigCommand::Show { redis } => {
            let bus = match connect(&redis.url).await {
                Ok(bus) => bus,
                Err(code) => return code,
            };
            let loaded = store::load_config(&bus, &SectionName::ALL, &|v| env.get(v)).await;
            match loaded {
                Ok((config, problems)) => {
                    let shown =
                        serde_json::to_string_pretty(&config.redacted_json()).unwrap_or_default();
                    say(&shown);
                    for p in &problems {
                        tracing::warn!("{p}");
                    }
                    0
                }
                Err(e) => bus_error(&e),
            }
        }
        ConfigCommand::Seed { redis } => {
            let bus = match connect(&redis.url).await {
                Ok(bus) => bus,
                Err(code) => return code,
            };
            match store::seed_config_from_env(&bus, &|v| env.get(v)).await {
                Ok((outcome, problems)) => {
                    for (name, seeded) in outcome {
                        say(&format!("config:{name}: {seeded:?}"));
                    }
                    for p in &problems {
                        tracing::warn!("{p}");
                    }
                    0
                }
                Err(e) => bus_error(&e),
            }
        }
    }
}
