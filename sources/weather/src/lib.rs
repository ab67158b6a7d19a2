//! # The `weather` source: current conditions and a three-day forecast from wttr.in
//!
//! One `GET {base_url}/{location}?format=j1` per `cache_duration`, turned into the contract's 26
//! readings by [`parse_j1`]:
//!
//! | sensor | unit | from the j1 answer |
//! |---|---|---|
//! | `weather_temp` | `C` | `current_condition[0].temp_C` |
//! | `weather_feels_like` | `C` | `current_condition[0].FeelsLikeC` |
//! | `weather_humidity` (int) | `%` | `current_condition[0].humidity` |
//! | `weather_conditions` | | `current_condition[0].weatherDesc[0].value` |
//! | `weather_wind` | `km/h` | `current_condition[0].windspeedKmph` |
//! | `weather_wind_dir` | | `current_condition[0].winddir16Point` (`SW`) |
//! | `weather_pressure` | `mb` | `current_condition[0].pressure` |
//! | `weather_uv_index` (int) | | `current_condition[0].uvIndex` |
//! | `weather_visibility` | `km` | `current_condition[0].visibility` |
//! | `weather_cloud_cover` (int) | `%` | `current_condition[0].cloudcover` |
//! | `weather_location` | | `nearest_area[0].areaName[0].value` (`London`) |
//! | `forecast_d{n}_date` | | `weather[n].date` (`2026-02-16`), n = 0, 1, 2 |
//! | `forecast_d{n}_max_temp`, `_min_temp`, `_avg_temp` | `C` | `weather[n].maxtempC`, `mintempC`, `avgtempC` |
//! | `forecast_d{n}_description` | | `weather[n].hourly[at 12:00].weatherDesc[0].value` |
//!
//! Floats are rounded to one decimal. A field that is missing or malformed gives a null reading
//! and a status error naming it; the other readings are kept. An answer that is not j1 at all is
//! a failed poll.
//!
//! ## Location
//!
//! The configured location is percent-encoded as one path segment (`New York` →
//! `/New%20York?format=j1`, `Zürich` → `/Z%C3%BCrich`; `~`, wttr.in's "search for a landmark"
//! prefix, is unreserved and stays as it is). An empty location asks `{base_url}/?format=j1`,
//! which wttr.in answers for the place it guesses from the caller's IP address.
//!
//! ## Cache, stale data and rate limits
//!
//! - A good answer (complete, or partial with some null readings) is remembered in the state with
//!   the URL and the time it was fetched. Within `cache_duration` seconds of that, for the same
//!   URL, a poll reuses it and sends nothing.
//! - A failed request (no connection, timeout, non-2xx status, a body over the client's cap, a
//!   truncated or non-j1 body) with a remembered answer for the same URL no older than
//!   [`MAX_STALE_SECS`] (or `cache_duration`, if longer) reports the remembered readings with the
//!   error `stale: <cause>; showing data fetched at <RFC 3339 time>`. Without one, the poll fails
//!   with the cause.
//! - HTTP 429 makes the source hold off for the answer's `Retry-After` (seconds or an HTTP date),
//!   or [`DEFAULT_HOLD_OFF_SECS`] without one, at most [`MAX_HOLD_OFF_SECS`]. Until then polls send
//!   nothing and report the remembered readings as stale (or fail, without any). Any other error
//!   status that carries `Retry-After` (a 503, typically) is honoured the same way.

#![warn(missing_docs)]

use sense_bus::model::{Measurement, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{SectionName, SourceId, unix_now};
use sense_http::{HttpClient, Request, Response};
use serde::{Deserialize, Serialize};

mod j1;
mod sim;
mod time;

pub use j1::{DESCRIPTION_TIME, FORECAST_DAYS, Report, parse_j1, sensor_ids, unit_of};
pub use sim::simulated_j1;
pub use time::rfc3339;

/// How long to hold off after a 429 without `Retry-After`, in seconds.
pub const DEFAULT_HOLD_OFF_SECS: f64 = 300.0;
/// The longest hold-off a `Retry-After` can ask for, in seconds (a larger one is cut to this, so
/// a broken header cannot silence the source for days).
pub const MAX_HOLD_OFF_SECS: f64 = 3600.0;
/// The oldest remembered answer shown as stale data, in seconds (unless `cache_duration` is
/// longer). Older ones are not shown: a forecast for yesterday is worse than none.
pub const MAX_STALE_SECS: f64 = 6.0 * 3600.0;

/// A good answer, remembered between polls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fetched {
    /// The URL it answered.
    pub url: String,
    /// When it was fetched, in Unix seconds.
    pub fetched_at: f64,
    /// Its readings as `(sensor, value)`; units follow from the sensor ([`unit_of`]).
    pub readings: Vec<(String, Value)>,
    /// What was missing or malformed in it, if anything.
    pub problems: Option<String>,
}

impl Fetched {
    fn new(url: String, fetched_at: f64, report: Report) -> Self {
        let problems = report.error();
        Fetched {
            url,
            fetched_at,
            readings: report
                .measurements
                .into_iter()
                .map(|m| (m.sensor, m.value))
                .collect(),
            problems,
        }
    }

    /// The readings as measurements, taken at `fetched_at`, with `error` (and the answer's own
    /// problems) as the error; `stale` when they are shown because fresh data failed.
    fn output(&self, error: Option<String>, stale: bool) -> PollOutput {
        let measurements = self
            .readings
            .iter()
            .map(|(sensor, value)| Measurement::new(sensor.clone(), value.clone(), unit_of(sensor)))
            .collect();
        let error = match (error, &self.problems) {
            (Some(e), Some(p)) => Some(format!("{e}; {p}")),
            (e, p) => e.or_else(|| p.clone()),
        };
        PollOutput {
            measurements,
            error,
            measured_at: Some(self.fetched_at),
            stale,
            ..PollOutput::default()
        }
    }
}

/// What the source remembers from one poll to the next (kept by the runner in `state:weather`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeatherState {
    /// The last good answer.
    pub last_good: Option<Fetched>,
    /// After a 429 (or an error with `Retry-After`): no request before this.
    pub hold_off: Option<HoldOff>,
}

/// A pause in requests that wttr.in asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldOff {
    /// No request before this Unix time.
    pub until: f64,
    /// The answer that asked for it (`wttr.in answered HTTP 429 Too Many Requests`).
    pub cause: String,
}

/// The `weather` source.
#[derive(Clone, Debug)]
pub struct WeatherSource {
    client: HttpClient,
}

impl WeatherSource {
    /// A source asking wttr.in through `client` (whose timeouts and body cap apply).
    pub fn new(client: HttpClient) -> Self {
        WeatherSource { client }
    }

    /// Fetches and parses `url`.
    async fn fetch(&self, url: &str, now: f64) -> Result<Report, Failure> {
        let response = self
            .client
            .send(Request::get(url))
            .await
            .map_err(|e| Failure::new(format!("wttr.in request failed: {e}")))?;
        if !response.is_success() {
            let hold_off = hold_off(&response, now);
            let answer = format!(
                "wttr.in answered HTTP {}{}",
                response.status,
                reason(response.status)
            );
            let mut message = format!("{answer}{}", j1::excerpt(&response.body));
            if let Some(wait) = hold_off {
                message.push_str(&format!(
                    "; no request before {}",
                    rfc3339((now + wait).ceil())
                ));
            }
            return Err(Failure {
                message,
                answer,
                hold_off,
            });
        }
        parse_j1(&response.body).map_err(Failure::new)
    }
}

/// Why a fetch failed.
#[derive(Debug)]
struct Failure {
    /// The whole message, naming the cause.
    message: String,
    /// The status line, for a hold-off's message.
    answer: String,
    /// How long the server asked us to wait, in seconds.
    hold_off: Option<f64>,
}

impl Failure {
    fn new(message: String) -> Self {
        Failure {
            answer: message.clone(),
            message,
            hold_off: None,
        }
    }
}

/// `{base_url}/{location}?format=j1`, the location percent-encoded as one path segment; an empty
/// location gives `{base_url}/?format=j1` (wttr.in then guesses the place from the IP address).
pub fn j1_url(base_url: &str, location: &str) -> String {
    format!(
        "{}/{}?format=j1",
        base_url.trim_end_matches('/'),
        encode_segment(location.trim())
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How long an error answer asks us to wait: `Retry-After` (clamped to 1 s ..
/// [`MAX_HOLD_OFF_SECS`]), or for a 429 without one [`DEFAULT_HOLD_OFF_SECS`].
fn hold_off(response: &Response, now: f64) -> Option<f64> {
    let asked = response.header("retry-after").and_then(|v| {
        let v = v.trim();
        v.parse::<u64>()
            // Precision loss is irrelevant: the result is clamped to an hour.
            .map(|s| s.min(1 << 32) as f64)
            .ok()
            .or_else(|| time::parse_http_date(v).map(|at| at - now))
    });
    match (asked, response.status) {
        (Some(wait), _) => Some(wait.clamp(1.0, MAX_HOLD_OFF_SECS)),
        (None, 429) => Some(DEFAULT_HOLD_OFF_SECS),
        (None, _) => None,
    }
}

/// ` Not Found` for 404, for messages.
fn reason(status: u16) -> &'static str {
    match status {
        400 => " Bad Request",
        401 => " Unauthorized",
        403 => " Forbidden",
        404 => " Not Found",
        429 => " Too Many Requests",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        504 => " Gateway Timeout",
        _ => "",
    }
}

/// The remembered readings for `url` with `cause` as a stale warning, or the cause as the poll's
/// error when there is nothing (recent enough) to show.
fn stale_or_fail(
    state: &WeatherState,
    url: &str,
    now: f64,
    cache_secs: f64,
    cause: String,
) -> Result<PollOutput, PollError> {
    let Some(good) = state.last_good.as_ref().filter(|g| g.url == url) else {
        return Err(PollError::new(cause));
    };
    let fetched = rfc3339(good.fetched_at);
    if now - good.fetched_at > MAX_STALE_SECS.max(cache_secs) {
        return Err(PollError::new(format!(
            "{cause}; the last good data, fetched at {fetched}, is too old to show"
        )));
    }
    Ok(good.output(
        Some(format!("stale: {cause}; showing data fetched at {fetched}")),
        true,
    ))
}

impl Source for WeatherSource {
    const ID: SourceId = SourceId::Weather;
    const SECTIONS: &'static [SectionName] = &[SectionName::Weather];
    type State = WeatherState;

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut WeatherState,
    ) -> Result<PollOutput, PollError> {
        let config = &context.config.weather;
        let url = j1_url(&config.base_url, &config.location);
        let cache_secs = f64::from(config.cache_duration);
        let now = unix_now();

        if let Some(good) = state.last_good.as_ref().filter(|g| g.url == url) {
            // A negative age means the clock went back: ask again rather than trust it.
            if (0.0..cache_secs).contains(&(now - good.fetched_at)) {
                return Ok(good.output(None, false));
            }
        }
        if let Some(hold) = &state.hold_off {
            // Beyond the longest hold-off, the clock went back: forget it.
            if now < hold.until && hold.until - now <= MAX_HOLD_OFF_SECS {
                let cause = format!(
                    "holding off: {}; no request before {}",
                    hold.cause,
                    rfc3339(hold.until.ceil())
                );
                return stale_or_fail(state, &url, now, cache_secs, cause);
            }
            state.hold_off = None;
        }

        match self.fetch(&url, now).await {
            Ok(report) => {
                let fetched = Fetched::new(url, now, report);
                let out = fetched.output(None, false);
                state.last_good = Some(fetched);
                Ok(out)
            }
            Err(failure) => {
                if let Some(wait) = failure.hold_off {
                    state.hold_off = Some(HoldOff {
                        until: now + wait,
                        cause: failure.answer.clone(),
                    });
                }
                stale_or_fail(state, &url, now, cache_secs, failure.message)
            }
        }
    }
}

#[cfg(test)]
mod tests;
