//! Microcontroller nodes on a serial link: the service that binds one to the bus.

pub mod service;
