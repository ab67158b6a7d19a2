//! wttr.in's `?format=j1` JSON, turned into the contract's 26 readings.
//!
//! j1 writes every number as a string (`"temp_C": "18"`) and wraps every text in a one-element
//! list of objects (`"weatherDesc": [{"value": "Partly cloudy"}]`). The parser accepts JSON numbers
//! too, trims text (wttr.in's hourly descriptions often end in a space), and never invents a value:
//! a field that is missing, empty or not a number gives a null reading and a problem naming the
//! field (`wttr.in answer has no current_condition[0].temp_C`). Only an answer that is not j1 at
//! all (not JSON, not an object, neither `current_condition` nor `weather`, or nothing usable in
//! it) is an error for the whole poll.

use sense_bus::model::{Measurement, Value};
use sense_hal::Unit;
use serde_json::Value as Json;

/// The forecast days the contract asks for (`forecast_d0` .. `forecast_d2`).
pub const FORECAST_DAYS: usize = 3;

/// The time (`hourly[].time`) of the hourly entry whose description is a day's
/// `forecast_d{n}_description`: midday, the part of the day people plan for. j1's hourly list is
/// 3-hourly (`"0"`, `"300"`, ..., `"2100"`), so this is `hourly[4]`. A day without a `"1200"`
/// entry uses its middle entry (`hourly[len / 2]`), which is the same one in a normal answer.
pub const DESCRIPTION_TIME: &str = "1200";

/// What a reading is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A number, rounded to one decimal.
    Float,
    /// A whole number.
    Int,
    /// Text, trimmed, not empty.
    Text,
    /// A `YYYY-MM-DD` date.
    Date,
}

/// The current-conditions readings: sensor id, path in `current_condition[0]`, kind, unit.
const CURRENT: [(&str, &str, Kind, Option<Unit>); 10] = [
    ("weather_temp", "temp_C", Kind::Float, Some(Unit::CELSIUS)),
    (
        "weather_feels_like",
        "FeelsLikeC",
        Kind::Float,
        Some(Unit::CELSIUS),
    ),
    (
        "weather_humidity",
        "humidity",
        Kind::Int,
        Some(Unit::PERCENT),
    ),
    (
        "weather_conditions",
        "weatherDesc[0].value",
        Kind::Text,
        None,
    ),
    (
        "weather_wind",
        "windspeedKmph",
        Kind::Float,
        Some(Unit::KILOMETRES_PER_HOUR),
    ),
    ("weather_wind_dir", "winddir16Point", Kind::Text, None),
    (
        "weather_pressure",
        "pressure",
        Kind::Float,
        Some(Unit::MILLIBAR_SHORT),
    ),
    ("weather_uv_index", "uvIndex", Kind::Int, None),
    (
        "weather_visibility",
        "visibility",
        Kind::Float,
        Some(Unit::KILOMETRES),
    ),
    (
        "weather_cloud_cover",
        "cloudcover",
        Kind::Int,
        Some(Unit::PERCENT),
    ),
];

/// The location reading and its path.
const LOCATION: (&str, &str) = ("weather_location", "nearest_area[0].areaName[0].value");

/// Per forecast day: sensor suffix, path in `weather[n]`, kind, unit (the description is apart).
const DAY: [(&str, &str, Kind, Option<Unit>); 4] = [
    ("date", "date", Kind::Date, None),
    ("max_temp", "maxtempC", Kind::Float, Some(Unit::CELSIUS)),
    ("min_temp", "mintempC", Kind::Float, Some(Unit::CELSIUS)),
    ("avg_temp", "avgtempC", Kind::Float, Some(Unit::CELSIUS)),
];

/// The 26 sensor ids, in the order a poll reports them.
pub fn sensor_ids() -> Vec<String> {
    let mut ids: Vec<String> = CURRENT.iter().map(|c| c.0.to_owned()).collect();
    ids.push(LOCATION.0.to_owned());
    for d in 0..FORECAST_DAYS {
        for (suffix, ..) in DAY {
            ids.push(format!("forecast_d{d}_{suffix}"));
        }
        ids.push(format!("forecast_d{d}_description"));
    }
    ids
}

/// The contract's unit of `sensor` (`None` for unitless readings and unknown sensors).
pub fn unit_of(sensor: &str) -> Option<Unit> {
    if let Some(c) = CURRENT.iter().find(|c| c.0 == sensor) {
        return c.3;
    }
    let suffix = sensor.strip_prefix("forecast_d")?.get(2..)?;
    DAY.iter().find(|d| d.0 == suffix).and_then(|d| d.3)
}

/// A parsed answer: always all 26 readings (null where the answer lacked the field), and what was
/// wrong with it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Report {
    /// The readings, in [`sensor_ids`] order.
    pub measurements: Vec<Measurement>,
    /// One message per missing or malformed field (or group of fields: a missing forecast day is
    /// one problem, not five), in reading order.
    pub problems: Vec<String>,
}

impl Report {
    /// The problems as one status message, or `None` when there are none.
    pub fn error(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| self.problems.join("; "))
    }
}

/// Parses a `?format=j1` answer.
///
/// `Err` (naming the cause) when the body is not j1 at all or holds no usable reading; otherwise
/// a [`Report`] whose [`problems`](Report::problems) name any field that was missing or malformed.
pub fn parse_j1(body: &[u8]) -> Result<Report, String> {
    let root: Json = serde_json::from_slice(body)
        .map_err(|e| format!("wttr.in answer is not JSON ({e}){}", excerpt(body)))?;
    let Json::Object(object) = &root else {
        return Err(format!(
            "wttr.in answer is not a j1 document: a JSON {} instead of an object",
            kind_name(&root)
        ));
    };
    if !object.contains_key("current_condition") && !object.contains_key("weather") {
        return Err(
            "wttr.in answer is not a j1 document: it has neither current_condition nor \
                    weather"
                .to_owned(),
        );
    }

    let mut report = Report::default();

    for (sensor, field, kind, unit) in CURRENT {
        let path = format!("current_condition[0].{field}");
        push(
            &mut report,
            sensor.to_owned(),
            unit,
            read(&root, &path, kind),
        );
    }
    push(
        &mut report,
        LOCATION.0.to_owned(),
        None,
        read(&root, LOCATION.1, Kind::Text),
    );
    for d in 0..FORECAST_DAYS {
        for (suffix, field, kind, unit) in DAY {
            let path = format!("weather[{d}].{field}");
            push(
                &mut report,
                format!("forecast_d{d}_{suffix}"),
                unit,
                read(&root, &path, kind),
            );
        }
        push(
            &mut report,
            format!("forecast_d{d}_description"),
            None,
            day_description(&root, d),
        );
    }

    if report.measurements.iter().all(|m| m.value.is_null()) {
        return Err(format!(
            "wttr.in answer holds no usable reading: {}",
            report.problems.join("; ")
        ));
    }
    Ok(report)
}

/// Adds `sensor`'s reading: the value found, or null and the problem (once).
fn push(report: &mut Report, sensor: String, unit: Option<Unit>, found: Result<Value, String>) {
    let value = found.unwrap_or_else(|problem| {
        if !report.problems.contains(&problem) {
            report.problems.push(problem);
        }
        Value::Null
    });
    report
        .measurements
        .push(Measurement::new(sensor, value, unit));
}

/// The midday description of forecast day `d` (see [`DESCRIPTION_TIME`]).
fn day_description(root: &Json, d: usize) -> Result<Value, String> {
    let hourly_path = format!("weather[{d}].hourly");
    let hourly = lookup(root, &hourly_path)?;
    let Json::Array(hours) = hourly else {
        return Err(format!(
            "wttr.in answer's {hourly_path} is a JSON {}, not a list",
            kind_name(hourly)
        ));
    };
    if hours.is_empty() {
        return Err(format!("wttr.in answer's {hourly_path} is empty"));
    }
    let at_noon = hours.iter().position(|h| match h.get("time") {
        Some(Json::String(t)) => t.trim() == DESCRIPTION_TIME,
        Some(Json::Number(n)) => n.to_string() == DESCRIPTION_TIME,
        _ => false,
    });
    let index = at_noon.unwrap_or(hours.len() / 2);
    read(
        root,
        &format!("{hourly_path}[{index}].weatherDesc[0].value"),
        Kind::Text,
    )
}

/// Reads the field at `path` as `kind`.
fn read(root: &Json, path: &str, kind: Kind) -> Result<Value, String> {
    let json = lookup(root, path)?;
    let bad = |what: &str| {
        format!(
            "wttr.in answer's {path} is {what}: {}",
            shorten(&json.to_string())
        )
    };
    match kind {
        Kind::Float | Kind::Int => {
            let x = match json {
                Json::Number(n) => n.as_f64(),
                Json::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad("not a number"))?;
            if kind == Kind::Float {
                Ok(Value::rounded(x, 1))
            } else if x.abs() < 1e15 {
                // Whole by construction after rounding, and far inside i64.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Value::Int(x.round() as i64))
            } else {
                Err(bad("out of range"))
            }
        }
        Kind::Text | Kind::Date => {
            let Json::String(s) = json else {
                return Err(bad("not text"));
            };
            let s = s.trim();
            if s.is_empty() {
                return Err(format!("wttr.in answer's {path} is empty"));
            }
            if kind == Kind::Date && !is_date(s) {
                return Err(bad("not a YYYY-MM-DD date"));
            }
            Ok(Value::Text(s.to_owned()))
        }
    }
}

/// Whether `s` looks like `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// Follows `path` (`a[0].b[1].c`) from `root`. The error names the first step that is missing:
/// `wttr.in answer has no current_condition[0]` when the whole list is absent.
fn lookup<'a>(root: &'a Json, path: &str) -> Result<&'a Json, String> {
    let mut here = root;
    let mut walked = String::new();
    for segment in path.split('.') {
        let (key, indices) = segment
            .find('[')
            .map_or((segment, ""), |i| (&segment[..i], &segment[i..]));
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(key);
        here = match here.get(key) {
            Some(Json::Null) | None => return Err(format!("wttr.in answer has no {walked}")),
            Some(v) => v,
        };
        for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            let Json::Array(items) = here else {
                return Err(format!(
                    "wttr.in answer's {walked} is a JSON {}, not a list",
                    kind_name(here)
                ));
            };
            walked.push_str(&format!("[{index}]"));
            here = match index.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(Json::Null) | None => return Err(format!("wttr.in answer has no {walked}")),
                Some(v) => v,
            };
        }
    }
    Ok(here)
}

/// `object`, `list`, `string`, ... for messages.
fn kind_name(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "object",
    }
}

/// At most 40 characters of `s`, for a message.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{}…", cut.trim_end())
    }
}

/// `: starts with "Sorry, we are running out…"` for a message about a body that is not JSON
/// (wttr.in answers its rate-limit notice as text with status 200), or nothing for an empty or
/// binary one.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        Some(l) if l.chars().all(|c| !c.is_control() && c != '\u{FFFD}') => {
            format!(": starts with \"{}\"", shorten(l))
        }
        _ => String::new(),
    }
}
