//! A plausible wttr.in answer for the simulation (`--sim` serves it from a replay server).

use std::f64::consts::PI;

use serde_json::{Value as Json, json};

use crate::time::{civil_from_days, date};

/// The recorded answer the simulated ones are made from.
const FIXTURE: &str = include_str!("../fixtures/london.j1.json");

/// Conditions the simulation cycles through: wttr.in's daytime text, night-time text, weather
/// code and cloud cover.
const SKIES: [(&str, &str, u32, u32); 7] = [
    ("Sunny", "Clear", 113, 5),
    ("Partly cloudy", "Partly cloudy", 116, 45),
    ("Partly cloudy", "Partly cloudy", 116, 60),
    ("Cloudy", "Cloudy", 119, 75),
    ("Overcast", "Overcast", 122, 100),
    ("Patchy rain nearby", "Patchy rain nearby", 176, 85),
    ("Light rain", "Light rain", 296, 95),
];

const DIRECTIONS: [&str; 16] = [
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW",
    "NNW",
];

/// SplitMix64: a well-mixed number from `key`, for deterministic "weather".
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `-1.0..1.0` from `key`.
fn jitter(key: u64) -> f64 {
    // The top 53 bits convert exactly.
    #[allow(clippy::cast_precision_loss)]
    let unit = (mix(key) >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

/// The sky of the 3-hour slot `slot` (Unix seconds / 10800): it changes every few hours.
fn sky(slot: u64) -> (&'static str, &'static str, u32, u32) {
    // Slots of 6 hours share a sky, so the weather does not flicker.
    let index = mix(slot / 2) % SKIES.len() as u64;
    // In range: index < 7.
    #[allow(clippy::cast_possible_truncation)]
    SKIES[index as usize]
}

/// The mean temperature of day `day` (days since the epoch): a temperate seasonal swing, from
/// about 4 °C in January to 18 °C in July, plus a little day-to-day variation.
fn seasonal_mean(day: i64) -> f64 {
    // Days since the epoch fit f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let phase = 2.0 * PI * ((day as f64) - 20.0) / 365.25;
    #[allow(clippy::cast_sign_loss)]
    let noise = jitter(day as u64 ^ 0xDA7);
    11.0 - 7.0 * phase.cos() + 1.5 * noise
}

/// Degrees away from the day's mean at `hour` (0..24): coolest before dawn, warmest mid-afternoon.
fn diurnal(hour: f64) -> f64 {
    (2.0 * PI * (hour - 9.0) / 24.0).sin()
}

fn int(x: f64) -> String {
    // `+ 0.0` turns -0 into 0: wttr.in writes "0", never "-0".
    format!("{}", x.round() + 0.0)
}

fn clock12(hour: u64, minute: u64) -> String {
    let (h, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{h:02}:{minute:02} {half}")
}

/// A plausible wttr.in `?format=j1` answer at Unix time `unix_secs` for `location`.
///
/// It is the recorded fixture (`fixtures/london.j1.json`) with the current conditions and the
/// three forecast days varied deterministically with the time: a seasonal and daily temperature
/// cycle, skies that change every six hours, slowly turning wind and drifting pressure; the
/// forecast dates are the given day (UTC) and the two after it. `location` becomes
/// `nearest_area[0].areaName[0].value` (an empty one leaves the fixture's `London`, as if wttr.in
/// had guessed it). The same arguments always give the same document, and [`crate::parse_j1`]
/// reads every one of the 26 readings from it.
pub fn simulated_j1(unix_secs: u64, location: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Json>(FIXTURE) else {
        // The fixture is part of the crate and tested; this cannot happen.
        return FIXTURE.to_owned();
    };
    // Days since the epoch fit i64, and seconds of the day fit f64 exactly.
    #[allow(clippy::cast_possible_wrap)]
    let day = (unix_secs / 86_400) as i64;
    let second_of_day = unix_secs % 86_400;
    #[allow(clippy::cast_precision_loss)]
    let hour = second_of_day as f64 / 3600.0;
    #[allow(clippy::cast_precision_loss)]
    let t = unix_secs as f64;
    let slot = unix_secs / 10_800;

    let daylight = (6.0..19.0).contains(&hour);
    let (day_text, night_text, code, cloud) = sky(slot);
    let temp = seasonal_mean(day) + 4.0 * diurnal(hour);
    let wind = (12.0 + 8.0 * (2.0 * PI * t / (2.3 * 86_400.0)).sin()).max(0.0);
    let humidity = (75.0 - 15.0 * diurnal(hour) + 10.0 * jitter(slot)).clamp(20.0, 100.0);
    let pressure = 1013.0 + 12.0 * (2.0 * PI * t / (4.7 * 86_400.0)).sin();
    let direction = DIRECTIONS[usize::try_from((unix_secs / 21_600) % 16).unwrap_or(0)];
    let uv = if daylight {
        ((PI * (hour - 6.0) / 13.0).sin() * (seasonal_mean(day) / 3.0)).max(0.0)
    } else {
        0.0
    };
    let visibility = if code >= 176 { 6.0 } else { 10.0 };
    let minute = second_of_day / 60 % 60;
    let (y, m, d) = civil_from_days(day);

    if let Some(current) = doc.pointer_mut("/current_condition/0") {
        let set = |c: &mut Json, k: &str, v: Json| c[k] = v;
        set(current, "temp_C", json!(int(temp)));
        set(current, "temp_F", json!(int(temp * 9.0 / 5.0 + 32.0)));
        let feels = temp - wind / 8.0;
        set(current, "FeelsLikeC", json!(int(feels)));
        set(current, "FeelsLikeF", json!(int(feels * 9.0 / 5.0 + 32.0)));
        set(current, "humidity", json!(int(humidity)));
        set(current, "cloudcover", json!(cloud.to_string()));
        set(current, "pressure", json!(int(pressure)));
        set(current, "uvIndex", json!(int(uv)));
        set(current, "visibility", json!(int(visibility)));
        set(current, "windspeedKmph", json!(int(wind)));
        set(current, "windspeedMiles", json!(int(wind / 1.609)));
        set(current, "winddir16Point", json!(direction));
        set(current, "weatherCode", json!(code.to_string()));
        let text = if daylight { day_text } else { night_text };
        set(current, "weatherDesc", json!([{ "value": text }]));
        let clock = clock12(second_of_day / 3600, minute);
        set(
            current,
            "localObsDateTime",
            json!(format!("{y:04}-{m:02}-{d:02} {clock}")),
        );
        set(current, "observation_time", json!(clock));
    }

    let location = location.trim();
    if !location.is_empty() {
        if let Some(area) = doc.pointer_mut("/nearest_area/0/areaName/0/value") {
            *area = json!(location);
        }
        if let Some(query) = doc.pointer_mut("/request/0/query") {
            *query = json!(location);
        }
    }

    if let Some(Json::Array(days)) = doc.get_mut("weather") {
        for (offset, forecast) in (0i64..).zip(days.iter_mut()) {
            let n = day + offset;
            let mean = seasonal_mean(n);
            #[allow(clippy::cast_sign_loss)]
            let key = n as u64;
            let max = (mean + 4.0 + jitter(key ^ 0x3A7)).round();
            let min = (mean - 4.0 + jitter(key ^ 0x319)).round();
            forecast["date"] = json!(date(n));
            forecast["maxtempC"] = json!(int(max));
            forecast["maxtempF"] = json!(int(max * 9.0 / 5.0 + 32.0));
            forecast["mintempC"] = json!(int(min));
            forecast["mintempF"] = json!(int(min * 9.0 / 5.0 + 32.0));
            let avg = (max + min) / 2.0;
            forecast["avgtempC"] = json!(int(avg));
            forecast["avgtempF"] = json!(int(avg * 9.0 / 5.0 + 32.0));
            if let Some(Json::Array(hours)) = forecast.get_mut("hourly") {
                for (i, entry) in (0u64..).zip(hours.iter_mut()) {
                    #[allow(clippy::cast_sign_loss)]
                    let slot = (n as u64) * 8 + i;
                    #[allow(clippy::cast_precision_loss)]
                    let h = (i * 3) as f64;
                    let (day_text, night_text, code, cloud) = sky(slot);
                    let text = if (6.0..19.0).contains(&h) {
                        day_text
                    } else {
                        night_text
                    };
                    let temp = (mean + 4.0 * diurnal(h)).clamp(min, max);
                    entry["time"] = json!((i * 300).to_string());
                    entry["tempC"] = json!(int(temp));
                    entry["tempF"] = json!(int(temp * 9.0 / 5.0 + 32.0));
                    entry["cloudcover"] = json!(cloud.to_string());
                    entry["weatherCode"] = json!(code.to_string());
                    entry["weatherDesc"] = json!([{ "value": format!("{text} ") }]);
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| FIXTURE.to_owned())
}
