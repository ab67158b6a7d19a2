//! What each role does.

use std::time::Duration;

use sense_bus::{Bus, BusError, ConnectOptions, SectionName, SourceId, store};
use sense_linux::HostFs;
use sense_orchestrator::{LauncherChoice, OrchestratorError, OrchestratorOptions};
use sense_runtime::camera::CameraOptions;
use sense_runtime::sources::{self, Mode, SourceError, SourceOptions};
use sense_runtime::{Env, legacy, shutdown};

use crate::cli::{Aranet4Command, Command, ConfigCommand};

/// The poll or the service failed (for `--once`: the error status was written).
pub const EXIT_FAILURE: u8 = 1;
/// The input is invalid (a config file, a value); nothing was written.
pub const EXIT_INVALID: u8 = 2;
/// Redis could not be reached; nothing was written.
pub const EXIT_NO_BUS: u8 = 3;
/// The role is not built yet.
pub const EXIT_NOT_YET: u8 = 4;

/// How long one-shot commands wait for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a role and returns the process exit code.
pub async fn run(command: Command) -> u8 {
    match command {
        Command::Run { .. } => not_yet("run", "the gateway and the dashboard arrive with issue #8"),
        Command::Gateway { .. } => not_yet("gateway", "it arrives with issue #8"),
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
    let bus = tokio::select! {
        bus = Bus::connect(url, ConnectOptions::WaitForever) => match bus {
            Ok(bus) => bus,
            Err(e) => return bus_error(&e),
        },
        () = stop.cancelled() => return 0,
    };
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
    match sources::scan(id, &bus, options).await {
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
    }
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

fn not_yet(role: &str, why: &str) -> u8 {
    tracing::error!("`sense-pulse {role}` is not available yet: {why}");
    EXIT_NOT_YET
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
        return match sources::run(id, bus, options, Mode::Once).await {
            Ok(Some(report)) if report.failed() => {
                let error = report.status.last_error.unwrap_or_default();
                tracing::error!(source = %id, %error, "poll failed; error status written");
                EXIT_FAILURE
            }
            Ok(report) => {
                let readings = report.map_or(0, |r| r.readings);
                tracing::info!(source = %id, readings, "poll written");
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
    }
    let stop = shutdown::on_signals();
    let bus = tokio::select! {
        bus = Bus::connect(url, ConnectOptions::WaitForever) => match bus {
            Ok(bus) => bus,
            Err(e) => return bus_error(&e),
        },
        () = stop.cancelled() => return 0,
    };
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
