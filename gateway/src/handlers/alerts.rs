//! `GET /api/alerts` **[ours]**: the alerts firing now, the latest fired and cleared ones, and how
//! delivery to each channel is going, as the alerts service keeps them on the bus.

use picoserve::extract::State;
use sense_bus::keys;
use sense_bus::model::{AlertChannels, AlertEvent};

use super::bus_unavailable;
use crate::api;
use crate::guard::Ctx;
use crate::reply::Reply;

fn parse<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Option<T> {
    serde_json::from_str(text)
        .inspect_err(|e| tracing::warn!(key, error = %e, "ignoring an alert value not as expected"))
        .ok()
}

/// `{"active": [...], "history": [...], "channels": {...}}`; 503 while the bus is away.
pub async fn get(State(ctx): State<Ctx>) -> Reply {
    let bus = &ctx.shared.bus;
    let keys = [
        keys::ALERTS_ACTIVE.to_owned(),
        keys::ALERTS_CHANNELS.to_owned(),
    ];
    let values = match bus.mget(&keys).await {
        Ok(v) => v,
        Err(e) => return bus_unavailable(&e),
    };
    let history = match bus.list(keys::ALERTS_HISTORY).await {
        Ok(h) => h,
        Err(e) => return bus_unavailable(&e),
    };
    let active: Vec<AlertEvent> = values[0]
        .as_deref()
        .and_then(|t| parse(keys::ALERTS_ACTIVE, t))
        .unwrap_or_default();
    let channels: AlertChannels = values[1]
        .as_deref()
        .and_then(|t| parse(keys::ALERTS_CHANNELS, t))
        .unwrap_or_default();
    let history: Vec<AlertEvent> = history
        .iter()
        .filter_map(|t| parse(keys::ALERTS_HISTORY, t))
        .collect();
    Reply::json(
        200,
        &api::Alerts {
            active,
            history,
            channels,
        },
    )
}
