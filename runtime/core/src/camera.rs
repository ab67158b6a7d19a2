//! The camera service (`source network_camera`, started on demand): streams the configured camera
//! (or, under `--sim`, always FFmpeg's test pattern) as HLS until told to stop.
//!
//! - On start it streams at once: the orchestrator starts this process when the dashboard asks
//!   for the stream.
//! - The stream's state is written as the `stream_*` readings and `status:network_camera` at
//!   every change and every [`WRITE_EVERY`], by the same runner as every other source.
//! - Commands on `cmd:network_camera`: `start`, `stop`, `restart`, `ptz_move {direction, step?}`
//!   and `thumbnail` (one JPEG, [`THUMBNAIL_FILE`] in the HLS folder, served by the gateway at
//!   `/api/stream/thumbnail.jpg`).
//! - It ends on `stop` (or SIGTERM), when the camera stays unreachable past
//!   `max_reconnect_attempts`, or when FFmpeg cannot run at all: the last state is written, the
//!   HLS folder emptied, and `stream:ended` published with the reason.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sense_bus::command::CommandServer;
use sense_bus::config::{CameraEntry, Config};
use sense_bus::keys::channels;
use sense_bus::model::{Command, CommandResponse, StreamEnded};
use sense_bus::store::{self, to_json};
use sense_bus::{Bus, SectionName, unix_now};
use sense_http::HttpClient;
use sense_source_camera::discovery::{self, DiscoveryOptions, Subnet};
use sense_source_camera::ptz::{Direction, Onvif};
use sense_source_camera::{
    CameraError, Control, EndReason, Input, StreamSource, StreamState, StreamStatus, Supervisor,
    SupervisorSettings, THUMBNAIL_CACHE, active_camera, ffmpeg, find_ffmpeg, thumbnail,
};
use serde_json::{Map, Value as Json, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::Env;
use crate::runner::Runner;

/// How often the stream's state is written while nothing changes.
pub const WRITE_EVERY: Duration = Duration::from_secs(5);
/// The HLS folder when `HLS_OUTPUT_DIR` is not set (the volume the gateway serves).
pub const DEFAULT_HLS_DIR: &str = "/hls";
/// The thumbnail's file name in the HLS folder.
pub const THUMBNAIL_FILE: &str = "thumbnail.jpg";
/// How long the last write and `stream:ended` are retried while Redis is away.
const FINAL_WRITE_PATIENCE: Duration = Duration::from_secs(10);

/// `cmd:network_camera`, `status:network_camera`, ...
const TARGET: &str = "network_camera";

/// What the camera service needs besides the bus.
#[derive(Clone, Debug)]
pub struct CameraOptions {
    /// Stream FFmpeg's test pattern, whatever camera is configured.
    pub sim: bool,
    /// Where the playlist, segments and thumbnail go.
    pub hls_dir: PathBuf,
    /// Environment lookup for config, `FFMPEG` and `PATH`.
    pub env: Env,
}

impl CameraOptions {
    /// The HLS folder `env` names in `HLS_OUTPUT_DIR`, else [`DEFAULT_HLS_DIR`].
    pub fn hls_dir_from(env: &Env) -> PathBuf {
        env.get("HLS_OUTPUT_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_HLS_DIR), PathBuf::from)
    }
}

/// What is streamed and with what.
struct Plan {
    ffmpeg: PathBuf,
    input: Input,
    /// The camera behind the input; `None` for the simulation's test pattern.
    camera: Option<CameraEntry>,
    config: Config,
}

/// Runs the camera until it ends; returns why. Survives Redis going away (the stream goes on; the
/// state is written again once Redis is back).
pub async fn run(bus: Bus, options: &CameraOptions, shutdown: CancellationToken) -> EndReason {
    let (state_tx, state_rx) = watch::channel(StreamState::default());
    let wake = Arc::new(Notify::new());
    let runner = Runner::new(
        bus.clone(),
        StreamSource::new(state_rx),
        options.env.clone(),
    )
    .every(WRITE_EVERY)
    .woken_by(Arc::clone(&wake));

    let plan = match plan(&bus, options).await {
        Ok(plan) => plan,
        Err(e) => {
            let message = e.to_string();
            tracing::error!(source = TARGET, "{message}");
            state_tx.send_replace(StreamState {
                status: StreamStatus::Error,
                error: Some(message.clone()),
                ..StreamState::default()
            });
            let reason = EndReason::Error(message);
            finish(&bus, runner, &reason).await;
            return reason;
        }
    };
    tracing::info!(
        source = TARGET,
        "streaming {} with {} into {}",
        plan.input.describe(),
        plan.ffmpeg.display(),
        options.hls_dir.display()
    );

    let (controls, control_rx) = mpsc::channel(8);
    // Started on demand: stream at once.
    let _ = controls.try_send(Control::Start);
    let settings = SupervisorSettings::new(
        plan.ffmpeg.clone(),
        options.hls_dir.clone(),
        plan.input.clone(),
        plan.config.camera.clone(),
    );
    let publish_wake = Arc::clone(&wake);
    let supervisor = Supervisor::new(settings).run(control_rx, move |state: &StreamState| {
        state_tx.send_replace(state.clone());
        publish_wake.notify_one();
    });

    let writes_stop = CancellationToken::new();
    let writer = runner.run_resident(writes_stop.clone());
    let service = Service {
        bus: bus.clone(),
        plan: Arc::new(plan),
        hls_dir: options.hls_dir.clone(),
        controls,
        onvif: None,
    };
    let control = async {
        let reason = service.serve(supervisor, shutdown).await;
        writes_stop.cancel();
        reason
    };
    let (runner, reason) = tokio::join!(writer, control);
    if let Err(e) = tokio::fs::remove_file(options.hls_dir.join(THUMBNAIL_FILE)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(source = TARGET, error = %e, "cannot remove the thumbnail");
    }
    finish(&bus, runner, &reason).await;
    reason
}

/// Scans for cameras on the RTSP ports: the networks `CAMERA_DISCOVERY_SUBNETS` lists
/// (comma-separated, e.g. `192.168.1.0/24`: a container on a bridge network sees only its own),
/// else this machine's; under `--sim`, the loopback address, where a simulated camera listens on
/// a port of its own beside the usual ones.
pub async fn discover(sim: bool, env: &Env) -> Vec<discovery::Found> {
    let mut options = DiscoveryOptions::default();
    if let Some(list) = env.get("CAMERA_DISCOVERY_SUBNETS") {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<Subnet>() {
                Ok(subnet) => options.subnets.push(subnet.narrowed()),
                Err(e) => tracing::warn!(source = TARGET, "CAMERA_DISCOVERY_SUBNETS: {e}"),
            }
        }
    }
    // Held until the scan is over.
    let mut _simulated = None;
    if sim {
        options.subnets = vec![Subnet::new(Ipv4Addr::LOCALHOST, 32)];
        match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
            Ok(listener) => {
                if let Ok(addr) = listener.local_addr() {
                    options.ports.push(addr.port());
                }
                _simulated = Some(listener);
            }
            Err(e) => tracing::warn!(error = %e, "cannot start the simulated camera"),
        }
    }
    discovery::discover(options).await
}

/// Reads the camera config and finds FFmpeg.
async fn plan(bus: &Bus, options: &CameraOptions) -> Result<Plan, CameraError> {
    let env = &options.env;
    let sections = [SectionName::Global, SectionName::Camera];
    let config = match store::load_config(bus, &sections, &|v| env.get(v)).await {
        Ok((config, problems)) => {
            for p in &problems {
                tracing::warn!(source = TARGET, problem = %p, "config problem");
            }
            config
        }
        Err(e) => {
            tracing::warn!(source = TARGET, error = %e, "cannot read config:camera; using the environment");
            Config::resolve(&sections, |_| None, &|v| env.get(v)).0
        }
    };
    let (input, camera) = if options.sim {
        // Never the configured camera: a simulated run contacts no configured host.
        tracing::info!(
            source = TARGET,
            "--sim: the camera is FFmpeg's test pattern (no configured camera is contacted)"
        );
        (Input::TestPattern, None)
    } else {
        let camera = active_camera(&config.camera)?;
        (
            Input::camera(camera, config.camera.transport),
            Some(camera.clone()),
        )
    };
    let ffmpeg = find_ffmpeg(env.get("FFMPEG").as_deref(), env.get("PATH").as_deref())?;
    Ok(Plan {
        ffmpeg,
        input,
        camera,
        config,
    })
}

/// Writes the last state (retrying while Redis is away) and announces the end.
async fn finish(bus: &Bus, mut runner: Runner<StreamSource>, reason: &EndReason) {
    let ended = StreamEnded {
        source_id: bus.scope().id(TARGET),
        reason: reason.as_str().to_owned(),
        timestamp: unix_now(),
    };
    let deadline = tokio::time::Instant::now() + FINAL_WRITE_PATIENCE;
    let mut written = false;
    loop {
        if !written {
            written = runner.run_once().await.is_ok();
        }
        if written
            && bus
                .publish(&bus.scope().id(channels::STREAM_ENDED), &to_json(&ended))
                .await
                .is_ok()
        {
            tracing::info!(source = TARGET, reason = %reason, "stream:ended published");
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::error!(source = TARGET, reason = %reason, "Redis is away: the end of the stream could not be announced");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The command side of a running stream.
struct Service {
    bus: Bus,
    plan: Arc<Plan>,
    hls_dir: PathBuf,
    controls: mpsc::Sender<Control>,
    /// Made on the first `ptz_move`, then reused (it caches the camera's profile).
    onvif: Option<Arc<Onvif>>,
}

impl Service {
    /// Answers commands until the supervisor ends; a cancelled `shutdown` stops the stream.
    async fn serve(
        mut self,
        supervisor: impl Future<Output = EndReason>,
        shutdown: CancellationToken,
    ) -> EndReason {
        tokio::pin!(supervisor);
        let mut commands: Option<CommandServer> = None;
        let mut stopping = false;
        loop {
            if commands.is_none() {
                match CommandServer::listen(&self.bus, &self.bus.scope().id(TARGET)).await {
                    Ok(server) => commands = Some(server),
                    Err(e) => tracing::debug!(error = %e, "cannot listen for commands yet"),
                }
            }
            tokio::select! {
                reason = &mut supervisor => return reason,
                () = shutdown.cancelled(), if !stopping => {
                    tracing::info!(source = TARGET, "asked to shut down: stopping the stream");
                    stopping = true;
                    let _ = self.controls.send(Control::Stop).await;
                }
                command = next_command(&mut commands) => match command {
                    Some(command) => self.command(command).await,
                    None => commands = None,
                },
                // Without a subscription, try again in a second.
                () = tokio::time::sleep(Duration::from_secs(1)), if commands.is_none() => {}
            }
        }
    }

    /// Carries out one command. Quick ones are answered here; PTZ and thumbnails, which wait on
    /// the camera or FFmpeg, answer from their own task so a stop is never held up behind them.
    async fn command(&mut self, command: Command) {
        let request_id = command.request_id.clone();
        let answer = match command.action.as_str() {
            "start" => self.control(&request_id, Control::Start, "starting").await,
            "restart" => {
                self.control(&request_id, Control::Restart, "restarting")
                    .await
            }
            "stop" => self.control(&request_id, Control::Stop, "stopping").await,
            "ptz_move" => match self.ptz(&command.params) {
                Ok((onvif, direction, step)) => {
                    let bus = self.bus.clone();
                    tokio::spawn(async move {
                        let answer = match onvif.move_step(direction, step).await {
                            Ok(()) => CommandResponse::ok(
                                &request_id,
                                object(json!({ "direction": direction.as_str() })),
                            ),
                            Err(e) => CommandResponse::error(&request_id, e.to_string()),
                        };
                        respond(&bus, &answer).await;
                    });
                    return;
                }
                Err(e) => CommandResponse::error(&request_id, e),
            },
            "thumbnail" => {
                let bus = self.bus.clone();
                let plan = Arc::clone(&self.plan);
                let hls_dir = self.hls_dir.clone();
                tokio::spawn(async move {
                    let answer = match grab_thumbnail(&plan, &hls_dir).await {
                        Ok(data) => CommandResponse::ok(&request_id, data),
                        Err(e) => CommandResponse::error(&request_id, e.to_string()),
                    };
                    respond(&bus, &answer).await;
                });
                return;
            }
            other => CommandResponse::error(
                &request_id,
                format!(
                    "unknown action `{other}`: the camera knows start, stop, restart, ptz_move and thumbnail"
                ),
            ),
        };
        respond(&self.bus, &answer).await;
    }

    /// Passes `control` to the supervisor; the answer says what the stream is now `doing`.
    async fn control(&self, request_id: &str, control: Control, doing: &str) -> CommandResponse {
        match self.controls.send(control).await {
            Ok(()) => CommandResponse::ok(request_id, object(json!({ "stream": doing }))),
            Err(_) => CommandResponse::error(request_id, "the stream has already ended"),
        }
    }

    /// The PTZ client, direction and step of a `ptz_move`, or why it cannot be done.
    fn ptz(
        &mut self,
        params: &Map<String, Json>,
    ) -> Result<(Arc<Onvif>, Direction, Option<f64>), String> {
        const DIRECTIONS: &str = "up, down, left, right, zoomin or zoomout";
        let direction = match params.get("direction") {
            Some(Json::String(d)) => d
                .parse::<Direction>()
                .map_err(|_| format!("ptz_move: `direction` {d:?} is not one of {DIRECTIONS}"))?,
            _ => return Err(format!("ptz_move needs `direction`: {DIRECTIONS}")),
        };
        let step = match params.get("step") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|s| *s > 0.0 && *s <= 1.0)
                    .ok_or_else(|| {
                        format!("ptz_move: `step` must be a number above 0 and at most 1, not {v}")
                    })?,
            ),
        };
        let Some(camera) = &self.plan.camera else {
            return Err(
                "the simulated camera (FFmpeg's test pattern) cannot pan, tilt or zoom".into(),
            );
        };
        let onvif = self
            .onvif
            .get_or_insert_with(|| Arc::new(Onvif::new(HttpClient::default(), camera)));
        Ok((Arc::clone(onvif), direction, step))
    }
}

/// One JPEG of the stream in the HLS folder: from the stream's own playlist while it streams
/// (the camera sees no second client), from the camera otherwise; reused for 30 s.
async fn grab_thumbnail(plan: &Plan, hls_dir: &Path) -> Result<Map<String, Json>, CameraError> {
    let playlist = hls_dir.join(ffmpeg::PLAYLIST);
    let input = if tokio::fs::metadata(&playlist).await.is_ok() {
        Input::Local(playlist)
    } else {
        plan.input.clone()
    };
    let out = hls_dir.join(THUMBNAIL_FILE);
    let path = thumbnail(&plan.ffmpeg, &input, &out, THUMBNAIL_CACHE).await?;
    let taken = tokio::fs::metadata(&path)
        .await
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    Ok(object(json!({
        "file": THUMBNAIL_FILE,
        "url": format!("/api/stream/{THUMBNAIL_FILE}"),
        "taken_at": taken,
    })))
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

async fn respond(bus: &Bus, answer: &CommandResponse) {
    let channel = channels::command_response(&bus.scope().id(TARGET), &answer.request_id);
    if let Err(e) = bus.publish(&channel, &to_json(answer)).await {
        tracing::warn!(source = TARGET, error = %e, "cannot answer a command");
    }
}

async fn next_command(server: &mut Option<CommandServer>) -> Option<Command> {
    match server {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}
