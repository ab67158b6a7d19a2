//! Builds each source from real hardware or the simulation, and runs it.

use std::path::PathBuf;

use sense_bus::source::Source;
use sense_bus::{Bus, BusError, SourceId};
use sense_linux::{HostFs, TokioDelay};
use sense_source_system::SystemSource;
use tokio_util::sync::CancellationToken;

use crate::Env;
use crate::camera::{self, CameraOptions};
use crate::co2;
use crate::runner::{PollReport, Runner};
use crate::sensehat::{self, SenseHat, ServiceOptions};
use crate::sim::SimulatedHost;
use crate::sim_web::{self, WithConfig};
use sense_http::HttpClient;
use sense_source_aranet4::Aranet4Source;
use sense_source_camera::{EndReason, discovery};
use sense_source_pihole::PiholeSource;
use sense_source_sensehat::SenseHatSource;
use sense_source_tailscale::TailscaleSource;
use sense_source_weather::WeatherSource;
use serde_json::Value as Json;

/// Where a source finds its hardware.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Use the simulation instead of hardware, and the simulated endpoints instead of every web
    /// service, whatever the config names: no configured host is ever contacted.
    pub sim: bool,
    /// The host's `/proc` and `/sys`.
    pub host: HostFs,
    /// The path whose file system `disk_percent` reports.
    pub disk_path: PathBuf,
    /// The I2C bus of the Sense HAT, e.g. `/dev/i2c-1`.
    pub i2c_bus: PathBuf,
    /// Where device nodes are (`/dev`).
    pub dev_root: PathBuf,
    /// Where the camera writes its HLS stream (`HLS_OUTPUT_DIR`).
    pub hls_dir: PathBuf,
    /// Environment lookup for config.
    pub env: Env,
}

/// How to run a source.
#[derive(Clone, Debug)]
pub enum Mode {
    /// One poll, then return (the ephemeral container).
    Once,
    /// Poll on the schedule until the token is cancelled.
    Resident(CancellationToken),
}

/// Why a source could not run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The bus failed, so nothing could be written.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The source failed in a way no status can carry (a scan).
    #[error("{0}")]
    Failed(String),
    /// The source is not built yet.
    #[error("the `{id}` source is not available yet: it arrives with issue #{issue}")]
    NotYet {
        /// The source.
        id: SourceId,
        /// The issue that builds it.
        issue: u32,
    },
}

/// Runs `id` on `bus` in `mode`. Returns the report of the (last) poll for [`Mode::Once`], `None`
/// for a resident source once it stopped.
pub async fn run(
    id: SourceId,
    bus: Bus,
    options: &SourceOptions,
    mode: Mode,
) -> Result<Option<PollReport>, SourceError> {
    match id {
        SourceId::System if options.sim => {
            let host = SimulatedHost::default();
            let source = SystemSource::new(host.clone(), host, "/", TokioDelay);
            drive(Runner::new(bus, source, options.env.clone()), mode).await
        }
        SourceId::System => {
            let disk = options.disk_path.to_string_lossy().into_owned();
            let source =
                SystemSource::new(options.host.clone(), options.host.clone(), disk, TokioDelay);
            drive(Runner::new(bus, source, options.env.clone()), mode).await
        }
        SourceId::Sensors => {
            let hat = if options.sim {
                SenseHat::simulated()
            } else {
                SenseHat::detect(&options.i2c_bus, options.host.sys_root(), &options.dev_root).await
            };
            match mode {
                // One reading of the sensors, as any scheduled source; no display.
                Mode::Once => {
                    let source = SenseHatSource::new(hat.hygrometer, hat.barometer);
                    drive(Runner::new(bus, source, options.env.clone()), Mode::Once).await
                }
                Mode::Resident(shutdown) => {
                    let service = ServiceOptions {
                        env: options.env.clone(),
                        sys_root: options.host.sys_root().to_owned(),
                    };
                    sensehat::run(bus, hat, service, shutdown).await;
                    Ok(None)
                }
            }
        }
        SourceId::Co2 => {
            let (radio, fallback) = co2_radio(options).await;
            let source = Aranet4Source::new(radio).with_fallback_sensors(fallback);
            drive(Runner::new(bus, source, options.env.clone()), mode).await
        }
        SourceId::Weather => {
            let source = WeatherSource::new(HttpClient::default());
            if options.sim {
                let server = sim_web::weather().await;
                // The simulation stands in for wttr.in and for any server configured instead.
                let source = WithConfig::new(source, server.url(), "weather.base_url", |c| {
                    &mut c.weather.base_url
                });
                drive(Runner::new(bus, source, options.env.clone()), mode).await
            } else {
                drive(Runner::new(bus, source, options.env.clone()), mode).await
            }
        }
        SourceId::Pihole => {
            let source = PiholeSource::new(HttpClient::default());
            if options.sim {
                let server = sim_web::pihole().await;
                // The simulation stands in for the Pi-hole, configured or not.
                let source =
                    WithConfig::new(source, server.url(), "pihole.host", |c| &mut c.pihole.host);
                drive(Runner::new(bus, source, options.env.clone()), mode).await
            } else {
                drive(Runner::new(bus, source, options.env.clone()), mode).await
            }
        }
        SourceId::Tailscale => {
            if options.sim {
                let (_server, socket) = sim_web::tailscale().await.map_err(SourceError::Failed)?;
                // No CLI fallback in the simulation: the socket is the whole tailscaled.
                let source = TailscaleSource::new(socket, "/nonexistent/tailscale");
                drive(Runner::new(bus, source, options.env.clone()), mode).await
            } else {
                drive(
                    Runner::new(bus, TailscaleSource::default(), options.env.clone()),
                    mode,
                )
                .await
            }
        }
        SourceId::NetworkCamera => match mode {
            Mode::Once => Err(SourceError::Failed(
                "the camera streams until it is stopped: run it without --once".into(),
            )),
            Mode::Resident(shutdown) => {
                let camera = CameraOptions {
                    sim: options.sim,
                    hls_dir: options.hls_dir.clone(),
                    env: options.env.clone(),
                };
                match camera::run(bus, &camera, shutdown).await {
                    EndReason::UserStopped => Ok(None),
                    EndReason::MaxReconnects => Err(SourceError::Failed(
                        "the stream ended: it failed more often than config:camera's \
                         max_reconnect_attempts allows"
                            .into(),
                    )),
                    EndReason::Error(why) => {
                        Err(SourceError::Failed(format!("the stream ended: {why}")))
                    }
                }
            }
        },
    }
}

/// The co2 source's radio, and the monitors to read when none are configured (the simulated ones
/// under `--sim`, none otherwise).
async fn co2_radio(options: &SourceOptions) -> (co2::Radio, Vec<sense_bus::config::Aranet4Sensor>) {
    if options.sim {
        co2::simulated()
    } else {
        (co2::bluez().await, Vec::new())
    }
}

/// How long a scan listens, and how long its result stays in Redis.
const SCAN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// A one-off search: nearby Aranet4s (`co2`) or cameras on the network (`network_camera`). The
/// result is written to `scan:{id}` for whoever asked (the orchestrator) and returned.
pub async fn scan(
    id: SourceId,
    bus: &Bus,
    options: &SourceOptions,
) -> Result<serde_json::Value, SourceError> {
    let mut result = match id {
        SourceId::Co2 => {
            let (config, _) =
                sense_bus::store::load_config(bus, &[sense_bus::SectionName::Aranet4], &|v| {
                    options.env.get(v)
                })
                .await?;
            let timeout = std::time::Duration::from_secs(u64::from(config.aranet4.timeout));
            let (mut radio, _) = co2_radio(options).await;
            let devices = sense_source_aranet4::scan(&mut radio, timeout)
                .await
                .map_err(SourceError::Failed)?;
            serde_json::json!({ "devices": devices })
        }
        SourceId::NetworkCamera => {
            let found = camera::discover(options.sim, &options.env).await;
            Json::Object(discovery::response_data(&found))
        }
        _ => {
            return Err(SourceError::Failed(format!(
                "the `{id}` source has nothing to scan for"
            )));
        }
    };
    result["timestamp"] = Json::from(sense_bus::unix_now());
    bus.set(
        &sense_bus::keys::scan(&bus.scope().source(id)),
        &result.to_string(),
        Some(SCAN_TTL),
    )
    .await?;
    Ok(result)
}

async fn drive<S: Source>(
    mut runner: Runner<S>,
    mode: Mode,
) -> Result<Option<PollReport>, SourceError> {
    match mode {
        Mode::Once => {
            let report = runner.run_once().await?;
            report.log_partial(runner.id());
            Ok(Some(report))
        }
        Mode::Resident(shutdown) => {
            runner.run_resident(shutdown).await;
            Ok(None)
        }
    }
}
