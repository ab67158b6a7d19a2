//! `notify`: what tells people and other systems about the readings, beside the dashboard:
//! alerts (ntfy, a webhook) and the MQTT bridge. `run` runs the same in its process.

use sense_alerts::AlertsOptions;
use sense_bus::Bus;
use sense_orchestrator::CancellationToken;
use sense_runtime::shutdown;

use super::{Failure, wait_for_bus};
use crate::logs;

/// Everything `notify` runs, on `bus`, until `stop`.
async fn serve(bus: Bus, sim: bool, stop: CancellationToken) {
    let alerts = AlertsOptions {
        simulated: sim,
        ..AlertsOptions::default()
    };
    // The bridge contacts the broker only when `config:mqtt` is enabled: a simulated run keeps
    // it off whatever the config says (it would reach a configured host).
    if sim {
        sense_alerts::run(bus, alerts, stop).await;
    } else {
        tokio::join!(
            sense_alerts::run(bus.clone(), alerts, stop.clone()),
            sense_mqtt::run(bus, stop),
        );
    }
}

/// `sense-pulse notify`: until SIGTERM.
pub async fn role(url: &str, sim: bool) -> Result<u8, Failure> {
    let stop = shutdown::on_signals();
    let Some(bus) = wait_for_bus(url, &stop).await? else {
        return Ok(0);
    };
    logs::attach(bus.clone(), "notify");
    serve(bus, sim, stop).await;
    Ok(0)
}

/// Starts it in this process (`run`).
pub fn spawn(bus: Bus, sim: bool, stop: CancellationToken) {
    tokio::spawn(serve(bus, sim, stop));
}
