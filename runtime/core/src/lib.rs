//! # sense-runtime
//!
//! The Linux runtime that binds sources to the bus.
//!
//! - [`runner`]: runs a [`Source`](sense_bus::source::Source) once (the ephemeral container) or
//!   on its schedule (resident), writing readings, status, meta and `data:{id}` per the contract.
//! - [`sources`]: builds each source from real hardware or the simulation and runs it.
//! - [`sensehat`]: the Sense HAT service: sensors, LED display, joystick, commands.
//! - [`camera`]: the camera service: the HLS stream on demand, its commands.
//! - [`node`]: a microcontroller node's serial link bound to the bus (`source node`), and a
//!   simulated node ([`node::sim`]).
//! - [`shutdown`]: SIGTERM/SIGINT as a cancellation token.

pub mod camera;
pub mod co2;
pub mod node;
pub mod runner;
pub mod sensehat;
pub mod shutdown;
pub mod sim;
pub mod sim_web;
pub mod sources;

use std::sync::Arc;

/// Where config reads environment variables: the process environment in production, a map in
/// tests. Cheap to clone.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

/// A variable lookup.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env(Arc::new(sense_bus::config::process_env))
    }

    /// Variables answered by `lookup`.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Env {
        Env(Arc::new(lookup))
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}
