//! Writes the TypeScript declarations of the gateway's replies to the dashboard
//! (`frontend/src/lib/api/generated/`), next to the contract's (`sense-bus`'s `typescript` test).
//! CI regenerates them and fails when the committed files differ (`.ci/run`).
//!
//! `cargo test -p sense-gateway --features ts --test typescript`
#![cfg(feature = "ts")]

use std::path::PathBuf;

use sense_gateway::api::{
    ApiError, BusHealth, BusState, CommandReply, CommandRequest, ConfigUpdated, Health, History,
    Login, Session, SourceView, SourcesDelta,
};
use ts_rs::TS;

#[test]
fn export_typescript() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend/src/lib/api/generated");
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    SourceView::export_all(&cfg).unwrap();
    ApiError::export_all(&cfg).unwrap();
    CommandReply::export_all(&cfg).unwrap();
    ConfigUpdated::export_all(&cfg).unwrap();
    History::export_all(&cfg).unwrap();
    Health::export_all(&cfg).unwrap();
    Login::export_all(&cfg).unwrap();
    Session::export_all(&cfg).unwrap();
    BusHealth::export_all(&cfg).unwrap();
    BusState::export_all(&cfg).unwrap();
    SourcesDelta::export_all(&cfg).unwrap();
    CommandRequest::export_all(&cfg).unwrap();
}
