//! Microcontroller nodes on a serial line (sense-node-proto), and a simulated one.

pub mod sim;
