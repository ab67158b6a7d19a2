//! `source node`: a microcontroller node on a serial port, bound to the bus; and the simulated
//! node of `run --sim --sim-node` and `source node --sim`.

use std::path::{Path, PathBuf};

use sense_bus::Bus;
use sense_linux::serial::SerialPort;
use sense_orchestrator::CancellationToken;
use sense_runtime::node::service;
use sense_runtime::node::sim::{SimNode, SimNodeOptions};
use sense_runtime::shutdown;

use super::{Failure, wait_for_bus};
use crate::logs;

/// The simulated node's name: its source is `node-sim-pico`.
pub const SIM_NODE_ID: &str = "sim-pico";

/// Starts a simulated node (a Pico with the Sense HAT's sensors and LED matrix, running the
/// real firmware logic against simulated chips) on a pseudo-terminal; the slave's path is the
/// "serial port" to read it on.
fn spawn_simulated() -> Result<(SimNode, PathBuf), Failure> {
    let options = SimNodeOptions {
        id: SIM_NODE_ID,
        ..SimNodeOptions::default()
    };
    SimNode::spawn_on_pty(options).map_err(|e| {
        Failure::failed(format!(
            "cannot start the simulated node: no pseudo-terminal ({e}); is /dev/pts mounted?"
        ))
    })
}

/// The node service on `port` until `stop`.
async fn serve(bus: Bus, port: PathBuf, stop: CancellationToken) {
    let name = port.display().to_string();
    service::run(bus, &name, || open(&port), stop).await;
}

async fn open(port: &Path) -> std::io::Result<SerialPort> {
    SerialPort::open(port)
}

/// `source node [--port PATH] [--sim]`: resident, until SIGTERM.
pub async fn source(
    port: Option<PathBuf>,
    once: bool,
    sim: bool,
    mode: Option<String>,
    url: &str,
    scope: sense_bus::Scope,
) -> Result<u8, Failure> {
    if once {
        return Err(Failure::invalid(
            "a node sends its readings as it measures, so it has no single poll: run `source \
             node` without --once",
        ));
    }
    if let Some(mode) = mode.filter(|m| m != "poll") {
        return Err(Failure::invalid(format!(
            "`{mode}` is not a mode of a node: leave --mode out"
        )));
    }
    // With --sim, no real port is touched, whatever --port says.
    let simulated = sim.then(spawn_simulated).transpose()?;
    let port = match (&simulated, port) {
        (Some((_, pty)), _) => pty.clone(),
        (None, Some(port)) => port,
        (None, None) => {
            return Err(Failure::invalid(
                "`source node` needs the node's serial port: --port /dev/ttyACM0 (or NODE_PORT); \
                 or --sim for a simulated node",
            ));
        }
    };
    let stop = shutdown::on_signals();
    let Some(bus) = wait_for_bus(url, &stop).await? else {
        return Ok(0);
    };
    let bus = bus.with_scope(scope);
    logs::attach(bus.clone(), "node");
    serve(bus, port, stop).await;
    drop(simulated);
    Ok(0)
}

/// `run --sim --sim-node`: the simulated node and its source, in this process, until `stop`.
/// The node runs as long as the returned handle lives.
pub fn start_simulated(bus: Bus, stop: CancellationToken) -> Result<SimNode, Failure> {
    let (node, pty) = spawn_simulated()?;
    tokio::spawn(serve(bus, pty, stop));
    Ok(node)
}
