//! `GET /api/history/{source}/{sensor}?hours=24&points=288`: the last hours of a numeric reading,
//! as averages over equal buckets.

use picoserve::extract::State;
use sense_bus::{keys, store};
use serde::Deserialize;

use super::{ApiQuery, Id, SensorId, bus_unavailable};
use crate::api;
use crate::guard::Ctx;
use crate::reply::Reply;

/// The query: how far back, in how many points.
#[derive(Debug, Default, Deserialize)]
pub struct Range {
    /// Hours back (at most 24, the history kept).
    pub hours: Option<f64>,
    /// Buckets (at most 2880).
    pub points: Option<f64>,
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The history of `source`'s `sensor`.
pub async fn get(
    (source, sensor): (Id, SensorId),
    State(ctx): State<Ctx>,
    ApiQuery(range): ApiQuery<Range>,
) -> Reply {
    let (source, sensor) = (source.0, sensor.0);
    let clamp = |v: Option<f64>, default: f64, max: f64| {
        v.filter(|v| *v > 0.0).map_or(default, |v| v.min(max))
    };
    let hours = clamp(range.hours, 24.0, 24.0);
    let points = clamp(range.points, 288.0, 2880.0);
    let bus = &ctx.shared.bus;
    let entries = match bus.list(&keys::history(&source, &sensor)).await {
        Ok(e) => e,
        Err(e) => return bus_unavailable(&e),
    };
    let unit = ctx
        .shared
        .hub
        .read(|s| s.source(&source)?.readings.get(&sensor)?.unit.clone());
    let since = sense_bus::unix_now() - hours * 3600.0;
    let raw: Vec<(f64, f64)> = entries
        .iter()
        .filter_map(|e| store::parse_history_entry(e))
        .filter(|(t, _)| *t >= since)
        .collect();
    if raw.is_empty() && entries.is_empty() {
        return Reply::error(404, format!("no history for {source}:{sensor}"));
    }
    let span = (hours * 3600.0) / points;
    let mut buckets: Vec<(f64, f64, u32)> = Vec::new();
    for (t, v) in raw {
        let bucket = ((t - since) / span).floor();
        match buckets.last_mut() {
            Some((b, sum, n)) if *b == bucket => {
                *sum += v;
                *n += 1;
            }
            _ => buckets.push((bucket, v, 1)),
        }
    }
    let points: Vec<[f64; 2]> = buckets
        .iter()
        .map(|(b, sum, n)| {
            let t = since + (b + 0.5) * span;
            [round(t, 1), round(sum / f64::from(*n), 3)]
        })
        .collect();
    Reply::json(
        200,
        &api::History {
            source: &source,
            sensor: &sensor,
            unit,
            points,
        },
    )
}
