//! The Sense HAT service (`sensors`): the HAT's sensors, its LED display and joystick.

pub mod hardware;
pub mod service;
pub mod snapshot;

pub use hardware::{Locations, SenseHat};
pub use service::{ServiceOptions, run};
