//! `GET /api/history/{source}/{sensor}?hours=24&points=288`: the last hours of a numeric reading,
//! as averages over equal buckets.
//!
//! `GET /api/history?series=sensors:temperature,co2:office:co2&range=24h`: up to
//! [`MAX_SERIES`] series over one range, raw (`1h`, `24h`) or from the rollups (`7d`: 5-minute
//! buckets, `30d` and `90d`: hourly), read in one round trip to Redis.

use std::collections::BTreeMap;
use std::str::FromStr;

use picoserve::extract::State;
use sense_bus::store::{HistoryPoint, Rollup};
use sense_bus::{keys, store};
use serde::Deserialize;

use super::{ApiQuery, Id, SensorId, bus_unavailable};
use crate::api::{self, HistoryRange};
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

/// The most series one `GET /api/history` may ask for.
pub const MAX_SERIES: usize = 16;

/// The query of `GET /api/history`.
#[derive(Debug, Default, Deserialize)]
pub struct BatchQuery {
    /// Series ids `{source}:{sensor}`, comma-separated.
    pub series: Option<String>,
    /// `1h`, `24h` (the default), `7d`, `30d` or `90d`.
    pub range: Option<String>,
}

/// `x` to 10 significant digits: a mean without float noise (`21.299999999999997`).
fn tidy(x: f64) -> f64 {
    format!("{x:.9e}").parse().unwrap_or(x)
}

/// Splits a series id at its first `:` (source ids never hold one; sensor ids may) and checks
/// both halves as the path routes do, so nothing like a Redis pattern reaches the bus.
fn parse_series(id: &str) -> Option<(String, String)> {
    let (source, sensor) = id.split_once(':')?;
    Some((
        Id::from_str(source).ok()?.0,
        SensorId::from_str(sensor).ok()?.0,
    ))
}

/// The series and range of a `GET /api/history`, or the 400 that says what is wrong.
fn parse_batch(query: &BatchQuery) -> Result<(Vec<(String, String)>, HistoryRange), Reply> {
    let range = match query.range.as_deref().map(str::trim) {
        None | Some("") => HistoryRange::Day,
        Some(name) => HistoryRange::parse(name).ok_or_else(|| {
            let valid: Vec<&str> = HistoryRange::ALL.iter().map(|r| r.as_str()).collect();
            Reply::error(
                400,
                format!("unknown range `{name}`: use one of {}", valid.join(", ")),
            )
        })?,
    };
    let mut series: Vec<(String, String)> = Vec::new();
    for id in query.series.as_deref().unwrap_or_default().split(',') {
        let id = id.trim();
        if id.is_empty() {
            continue;
        }
        let parsed = parse_series(id).ok_or_else(|| {
            Reply::error(
                400,
                format!("`{id}` is not a series id: use {{source}}:{{sensor}}, such as sensors:temperature"),
            )
        })?;
        if !series.contains(&parsed) {
            series.push(parsed);
        }
    }
    if series.is_empty() {
        return Err(Reply::error(
            400,
            "name the series to show: ?series={source}:{sensor},… such as series=sensors:temperature",
        ));
    }
    if series.len() > MAX_SERIES {
        return Err(Reply::error(
            400,
            format!(
                "at most {MAX_SERIES} series per request (got {}): ask for the rest in another",
                series.len()
            ),
        ));
    }
    Ok((series, range))
}

/// Several series over one range.
pub async fn batch(State(ctx): State<Ctx>, ApiQuery(query): ApiQuery<BatchQuery>) -> Reply {
    let (series, range) = match parse_batch(&query) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let to = sense_bus::unix_now();
    let from = to - f64::from(range.seconds());
    let rollup = Rollup::of(range.resolution());
    let found = match store::read_history(&ctx.shared.bus, &series, from, to, rollup).await {
        Ok(found) => found,
        Err(e) => return bus_unavailable(&e),
    };
    let series: BTreeMap<String, api::HistorySeries> = series
        .into_iter()
        .zip(found)
        .map(|((source, sensor), history)| {
            let points = history
                .points
                .iter()
                .map(|p| match p {
                    HistoryPoint::Raw { timestamp, value } => {
                        api::HistoryPoint::Raw([*timestamp, *value])
                    }
                    HistoryPoint::Bucket { start, stats } => api::HistoryPoint::Bucket([
                        *start,
                        stats.min,
                        tidy(stats.mean()),
                        stats.max,
                    ]),
                })
                .collect();
            let summary = history.summary;
            (
                format!("{source}:{sensor}"),
                api::HistorySeries {
                    unit: history.unit,
                    points,
                    min: summary.map(|s| s.min),
                    mean: summary.map(|s| tidy(s.mean())),
                    max: summary.map(|s| s.max),
                    source,
                    sensor,
                },
            )
        })
        .collect();
    Reply::json(
        200,
        &api::HistoryBatch {
            range,
            resolution: range.resolution(),
            from: round(from, 1),
            to: round(to, 1),
            series,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(series: &str, range: Option<&str>) -> BatchQuery {
        BatchQuery {
            series: Some(series.to_owned()),
            range: range.map(str::to_owned),
        }
    }

    #[test]
    fn series_split_at_the_first_colon_and_ranges_are_named() {
        let (series, range) = parse_batch(&query(
            "sensors:temperature, co2:office:co2,sensors:temperature",
            None,
        ))
        .unwrap();
        assert_eq!(range, HistoryRange::Day);
        assert_eq!(
            series,
            [
                ("sensors".to_owned(), "temperature".to_owned()),
                ("co2".to_owned(), "office:co2".to_owned())
            ]
        );
        for (name, resolution) in [
            ("1h", 0),
            ("24h", 0),
            ("7d", 300),
            ("30d", 3600),
            ("90d", 3600),
        ] {
            let (_, range) = parse_batch(&query("a:b", Some(name))).unwrap();
            assert_eq!((range.as_str(), range.resolution()), (name, resolution));
            if resolution > 0 {
                assert!(Rollup::of(resolution).is_some(), "{name}");
            }
        }
        for bad in ["", "nocolon", "Bad:x", "a:*", "*:x"] {
            assert!(parse_batch(&query(bad, None)).is_err(), "{bad}");
        }
        assert_eq!(tidy(21.299999999999997), 21.3);
    }
}
