//! `cmd:orchestrator`: what the dashboard asks of the orchestrator.
//!
//! | action | params | answer `data` |
//! |---|---|---|
//! | `start_camera` | | `{"running": true, "already_running": bool}` |
//! | `stop_camera` | | `{"running": bool}` (whether a camera was running) |
//! | `trigger` | `service`, `wait` (ours, bool) | `{"source", "service", "started", "already_running"}`, with `wait`: plus `exit_code`, `outcome` |
//! | `scan_aranet4` | | `{"devices": [...]}` |
//! | `discover_cameras` | | `{"cameras": [...]}` |
//! | `restart_service` | `service` | `{"service", "restarted": true}` (or `"triggered"` for a scheduled source) |
//!
//! Services are named as upstream's compose services (`source-aranet4`, `source-camera`, ...) or
//! by source id (`co2`, `network_camera`, ...); `aranet4`, `sensehat` and `camera` work too.

use std::sync::Arc;
use std::time::Duration;

use sense_bus::command::new_request_id;
use sense_bus::ids::Lifecycle;
use sense_bus::keys::{self, channels};
use sense_bus::model::{Command, CommandResponse};
use sense_bus::store::to_json;
use sense_bus::{SourceId, unix_now};
use serde_json::{Map, Value as Json, json};

use crate::core::{Core, RunRecord};
use crate::docker::service_name;
use crate::launcher::{Job, JobMode, Launcher};

/// The actions, as error messages list them.
pub const ACTIONS: [&str; 6] = [
    "start_camera",
    "stop_camera",
    "trigger",
    "scan_aranet4",
    "discover_cameras",
    "restart_service",
];

/// The source a service name means: upstream's compose names (`source-aranet4`), source ids
/// (`co2`), and the device names (`aranet4`, `sensehat`, `camera`).
pub fn parse_service(name: &str) -> Option<SourceId> {
    let name = name.trim().to_ascii_lowercase();
    let bare = name.strip_prefix("source-").unwrap_or(&name);
    Some(match bare {
        "tailscale" => SourceId::Tailscale,
        "pihole" => SourceId::Pihole,
        "system" => SourceId::System,
        "weather" => SourceId::Weather,
        "co2" | "aranet4" => SourceId::Co2,
        "sensors" | "sensehat" => SourceId::Sensors,
        "network_camera" | "network-camera" | "camera" => SourceId::NetworkCamera,
        _ => return None,
    })
}

fn valid_services() -> String {
    let services: Vec<&str> = SourceId::ALL.into_iter().map(service_name).collect();
    let ids: Vec<&str> = SourceId::ALL.into_iter().map(SourceId::as_str).collect();
    format!(
        "{}; or a source id: {}",
        services.join(", "),
        ids.join(", ")
    )
}

fn unknown_service(name: &str) -> String {
    format!(
        "unknown service `{name}` (expected one of: {})",
        valid_services()
    )
}

/// `params.service`, or an error naming what is missing.
fn service_param(command: &Command) -> Result<&str, String> {
    match command.params.get("service") {
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(other) => Err(format!(
            "{}: params.service must be a service name (got {other})",
            command.action
        )),
        None => Err(format!(
            "{} needs params.service (one of: {})",
            command.action,
            valid_services()
        )),
    }
}

fn data(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// Answers one command.
pub(crate) async fn handle<L: Launcher>(core: &Arc<Core<L>>, command: &Command) -> CommandResponse {
    let id = &command.request_id;
    let result = match command.action.as_str() {
        "start_camera" => start_camera(core).await,
        "stop_camera" => stop_camera(core).await,
        "trigger" => match service_param(command) {
            Ok(service) => {
                let wait = command.params.get("wait").and_then(Json::as_bool) == Some(true);
                trigger(core, service, wait).await
            }
            Err(e) => Err(e),
        },
        "scan_aranet4" => scan(core, SourceId::Co2, JobMode::Scan, "devices").await,
        "discover_cameras" => {
            scan(core, SourceId::NetworkCamera, JobMode::Discover, "cameras").await
        }
        "restart_service" => match service_param(command) {
            Ok(service) => restart_service(core, service).await,
            Err(e) => Err(e),
        },
        other => Err(format!(
            "unknown action `{other}` (expected one of: {})",
            ACTIONS.join(", ")
        )),
    };
    match result {
        Ok(d) => CommandResponse::ok(id, d),
        Err(e) => {
            tracing::info!(action = %command.action, error = %e, "command refused or failed");
            CommandResponse::error(id, e)
        }
    }
}

async fn start_camera<L: Launcher>(core: &Arc<Core<L>>) -> Result<Map<String, Json>, String> {
    let already = core.start_camera().await?;
    Ok(data(json!({"running": true, "already_running": already})))
}

/// Asks the camera to stop (it publishes `stream:ended` and exits); when nothing listens on
/// `cmd:network_camera` although a camera runs, it is stopped directly.
async fn stop_camera<L: Launcher>(core: &Arc<Core<L>>) -> Result<Map<String, Json>, String> {
    let running = core.camera_running();
    let stop = Command {
        action: "stop".into(),
        request_id: new_request_id(),
        params: Map::new(),
        timestamp: unix_now(),
    };
    let listeners = core
        .bus
        .publish(
            &channels::command(&core.bus.scope().source(SourceId::NetworkCamera)),
            &to_json(&stop),
        )
        .await
        .map_err(|e| e.to_string())?;
    if listeners == 0 && running {
        tracing::info!("the camera does not listen for commands; stopping it directly");
        core.stop_camera_service();
    }
    Ok(data(json!({"running": running})))
}

fn run_data(source: SourceId, record: Option<&RunRecord>, started: bool) -> Map<String, Json> {
    let mut d = data(json!({
        "source": source.as_str(),
        "service": service_name(source),
        "started": started,
        "already_running": !started,
    }));
    if let Some(r) = record {
        d.insert("exit_code".into(), json!(r.exit_code));
        d.insert("outcome".into(), json!(r.outcome));
        if let Some(e) = &r.error {
            d.insert("error".into(), json!(e));
        }
    }
    d
}

/// Runs a poll of the service's source now (unless one is running). With `wait`, answers when
/// it has ended.
async fn trigger<L: Launcher>(
    core: &Arc<Core<L>>,
    service: &str,
    wait: bool,
) -> Result<Map<String, Json>, String> {
    let source = parse_service(service).ok_or_else(|| unknown_service(service))?;
    match source.lifecycle() {
        Lifecycle::OnDemand => {
            return Err(format!(
                "`{service}` is started on demand, not polled: use start_camera"
            ));
        }
        Lifecycle::Resident if core.is_resident(source) => {
            return Err(format!(
                "`{service}` runs continuously here: use restart_service"
            ));
        }
        _ => {}
    }
    let Some(run) = core.try_start(Job::poll(source)) else {
        return Ok(run_data(source, None, false));
    };
    if !wait {
        return Ok(run_data(source, None, true));
    }
    let record = run.await.map_err(|e| format!("the run was lost: {e}"))?;
    match &record.error {
        // A partial poll wrote readings: an answer, whose `outcome` and `error` say what failed.
        Some(e) if !record.wrote_readings() => Err(format!("{}: {e}", Job::poll(source))),
        _ => Ok(run_data(source, Some(&record), true)),
    }
}

/// Runs a scan (co2) or a discovery (camera) once the source is free, and answers with what it
/// wrote to `scan:{id}` under `field`.
async fn scan<L: Launcher>(
    core: &Arc<Core<L>>,
    source: SourceId,
    mode: JobMode,
    field: &str,
) -> Result<Map<String, Json>, String> {
    let job = Job { source, mode };
    let key = keys::scan(&core.bus.scope().source(source));
    let bus = core.bus.clone();
    let patience = core.options.run_timeout;
    // The previous result must not pass for this one's.
    let clear = async {
        let _ = bus.del(&key).await;
    };
    let run = core
        .start_when_free(job, patience, clear)
        .await
        .ok_or_else(|| {
            format!(
                "`{job}`: a run of {source} did not end within {} s",
                patience.as_secs()
            )
        })?;
    let record = run.await.map_err(|e| format!("the run was lost: {e}"))?;
    if record.outcome == "not_built" {
        return Err(format!(
            "`{job}` is not available in this build ({})",
            record.error.unwrap_or_default()
        ));
    }
    if let Some(e) = record.error.as_ref().filter(|_| !record.ok()) {
        return Err(format!("`{job}` failed: {e}"));
    }
    let text = core
        .bus
        .get(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("`{job}` ended without writing {key}"))?;
    let result: Json =
        serde_json::from_str(&text).map_err(|e| format!("{key} is not JSON: {e}"))?;
    let found = result
        .get(field)
        .filter(|v| v.is_array())
        .cloned()
        .ok_or_else(|| format!("{key} has no `{field}` list"))?;
    Ok(data(json!({ field: found })))
}

/// Restarts a service: the camera (stop, then start), a resident source, a scheduled source (a
/// poll now), or with Docker any other service of the compose project (the gateway).
async fn restart_service<L: Launcher>(
    core: &Arc<Core<L>>,
    service: &str,
) -> Result<Map<String, Json>, String> {
    match parse_service(service) {
        Some(SourceId::NetworkCamera) => {
            if core.stop_camera_service() && !core.camera_stopped(Duration::from_secs(20)).await {
                return Err("the camera did not stop within 20 s".into());
            }
            core.start_camera().await?;
            Ok(data(json!({"service": service, "restarted": true})))
        }
        Some(source) if core.is_resident(source) => {
            core.restart_resident(source);
            Ok(data(json!({"service": service, "restarted": true})))
        }
        Some(source) => {
            let started = core.try_start(Job::poll(source)).is_some();
            Ok(data(json!({
                "service": service,
                "source": source.as_str(),
                "triggered": started,
                "already_running": !started,
            })))
        }
        None => match core.launcher.restart_other(service).await {
            Ok(true) => Ok(data(json!({"service": service, "restarted": true}))),
            Ok(false) => Err(unknown_service(service)),
            Err(e) => Err(e.0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_service_names_and_source_ids_both_work() {
        for (name, id) in [
            ("source-aranet4", SourceId::Co2),
            ("aranet4", SourceId::Co2),
            ("co2", SourceId::Co2),
            ("source-co2", SourceId::Co2),
            ("source-tailscale", SourceId::Tailscale),
            ("source-pihole", SourceId::Pihole),
            ("system", SourceId::System),
            ("source-weather", SourceId::Weather),
            ("source-sensehat", SourceId::Sensors),
            ("sensors", SourceId::Sensors),
            ("source-camera", SourceId::NetworkCamera),
            ("network_camera", SourceId::NetworkCamera),
            (" Source-System ", SourceId::System),
        ] {
            assert_eq!(parse_service(name), Some(id), "{name}");
        }
        assert_eq!(parse_service("web-gateway"), None);
        let e = unknown_service("toaster");
        assert!(
            e.contains("`toaster`") && e.contains("source-aranet4") && e.contains("co2"),
            "{e}"
        );
    }
}
