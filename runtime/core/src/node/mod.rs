//! Microcontroller nodes on a serial line (sense-node-proto): the service that binds one to the
//! bus ([`service`], `source node`), and a simulated one on the host ([`sim`]).

pub mod service;
pub mod sim;
