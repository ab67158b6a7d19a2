//! Writes the TypeScript declarations of the contract's payloads and config sections to the
//! dashboard (`frontend/src/lib/api/generated/`), so the frontend never restates a Rust type.
//! CI regenerates them and fails when the committed files differ (`.ci/run`).
//!
//! `cargo test -p sense-bus --features ts --test typescript`
#![cfg(feature = "ts")]

use std::path::PathBuf;

use sense_bus::config::Config;
use sense_bus::model::{
    CommandResponse, LogEntry, MatrixState, Meta, Reading, Status, StreamEnded,
};
use ts_rs::TS;

/// Where the dashboard keeps the generated declarations.
pub fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/src/lib/api/generated")
}

#[test]
fn export_typescript() {
    // Counters are u64 in Rust but stay far below 2^53: plain numbers in JSON and TypeScript.
    let cfg = ts_rs::Config::new()
        .with_out_dir(out_dir())
        .with_large_int("number");
    Reading::export_all(&cfg).unwrap();
    Meta::export_all(&cfg).unwrap();
    Status::export_all(&cfg).unwrap();
    CommandResponse::export_all(&cfg).unwrap();
    LogEntry::export_all(&cfg).unwrap();
    MatrixState::export_all(&cfg).unwrap();
    StreamEnded::export_all(&cfg).unwrap();
    Config::export_all(&cfg).unwrap();
}
