//! `sense-pulse source <id>`: one poll (`--once`), a scan, or a resident source, on the bus of
//! this Pi's scope (`--node`).

use sense_bus::{NodeName, Scope, SourceId};
use sense_runtime::shutdown;
use sense_runtime::sources::{self, Mode, SourceError, SourceOptions};

use super::failure::Writes;
use super::{EXIT_NOT_YET, Failure, LOG_FLUSH, connect, exit, say, wait_for_bus};
use crate::cli::NodeArg;
use crate::logs;

/// Scans (co2) or discovers (camera) once, writes the result to `scan:{id}` and prints it.
pub(super) async fn scan(
    id: SourceId,
    at: &Endpoint,
    options: &SourceOptions,
) -> Result<u8, Failure> {
    let url = &at.url;
    let bus = connect(url, Writes::Something)
        .await?
        .with_scope(at.scope.clone());
    logs::attach(bus.clone(), id.as_str());
    let result = match sources::scan(id, &bus, options).await {
        Ok(result) => {
            say(&serde_json::to_string_pretty(&result).unwrap_or_default());
            Ok(0)
        }
        Err(e) => Err(source_failure(&e, url)),
    };
    // Told before the last log entries are flushed to the bus, so that they include it.
    let code = exit(result);
    logs::flush(LOG_FLUSH).await;
    Ok(code)
}

/// How a source's error is told.
fn source_failure(e: &SourceError, url: &str) -> Failure {
    match e {
        SourceError::Bus(e) => Failure::bus(e, url, Writes::Something),
        SourceError::NotYet { .. } => Failure::new(
            EXIT_NOT_YET,
            format!("{e}; the other sources work meanwhile"),
        ),
        SourceError::Failed(_) => Failure::failed(e.to_string()),
    }
}

pub(super) async fn source(
    id: SourceId,
    once: bool,
    at: &Endpoint,
    options: &SourceOptions,
) -> Result<u8, Failure> {
    let url = &at.url;
    if once {
        let bus = connect(url, Writes::Something)
            .await?
            .with_scope(at.scope.clone());
        logs::attach(bus.clone(), id.as_str());
        let result = match sources::run(id, bus, options, Mode::Once).await {
            Ok(Some(report)) if report.failed() => {
                let error = report.status.last_error.unwrap_or_default();
                Err(Failure::failed(format!(
                    "the {id} poll failed: {error} (written to status:{id}, where the dashboard \
                     shows it)"
                )))
            }
            Ok(report) => {
                let readings = report.as_ref().map_or(0, |r| r.readings);
                // Partial (one Aranet4 of three not heard): the readings are written, exit 0; the
                // source warned when it started failing that way, and the status says what.
                if report.as_ref().is_some_and(|r| r.partial()) {
                    tracing::info!(
                        "{id}: {readings} readings written; part of the poll failed (see status:{id})"
                    );
                } else {
                    tracing::info!("{id}: {readings} readings written");
                }
                Ok(0)
            }
            Err(e) => Err(source_failure(&e, url)),
        };
        // Told before the last log entries are flushed to the bus, so that they include it.
        let code = exit(result);
        logs::flush(LOG_FLUSH).await;
        return Ok(code);
    }
    let stop = shutdown::on_signals();
    let Some(bus) = wait_for_bus(url, &stop).await? else {
        return Ok(0);
    };
    let bus = bus.with_scope(at.scope.clone());
    logs::attach(bus.clone(), id.as_str());
    sources::run(id, bus, options, Mode::Resident(stop))
        .await
        .map_err(|e| source_failure(&e, url))?;
    Ok(0)
}

/// Where a source writes: the bus's URL, and whose keys (`--node`).
pub(super) struct Endpoint {
    pub(super) url: String,
    pub(super) scope: Scope,
}

/// The scope `--node` / `NODE_NAME` gives: a named node's, or the hub's when it is unset or
/// empty. A name that cannot be used is invalid input.
pub(crate) fn scope_of(node: &NodeArg) -> Result<Scope, Failure> {
    match node
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        None => Ok(Scope::HUB),
        Some(name) => NodeName::parse(name)
            .map(Scope::node)
            .map_err(|e| Failure::invalid(format!("--node / NODE_NAME: {e}"))),
    }
}
