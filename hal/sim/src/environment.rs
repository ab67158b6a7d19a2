//! A deterministic indoor room for the sensor models to measure.
//!
//! [`Environment::at`] is a pure function of Unix time in milliseconds, so every process and every
//! test that asks about the same instant sees the same room:
//!
//! | quantity | mean | swing | shape |
//! |---|---|---|---|
//! | temperature | 21.0 °C | ±1.5 °C | one cosine per UTC day, warmest at 15:00 UTC, coolest at 03:00 |
//! | relative humidity | 45 % | ±8 % | the same day cycle, inverted: driest when the room is warmest |
//! | pressure | 1013 hPa | ±8 hPa | three slow "weather" waves (4.7, 2.9 and 1.3 days) plus the 12-hour atmospheric tide |
//!
//! Humidity moving against temperature is what a closed room does: the water content of the air
//! barely changes, so relative humidity falls as the air warms. The weather periods are not
//! multiples of each other or of a day, so the pressure trace does not visibly repeat; the tide
//! (±0.8 hPa, highest near 10:00 and 22:00) is the small twice-daily ripple real barometers show.
//! The swings add up to at most the amounts in the table, so the values always stay plausible.
//!
//! Every phase is reduced with integer arithmetic on the millisecond count before it meets floating
//! point, so precision does not decay with the size of Unix time.

use core::f64::consts::TAU;

/// Milliseconds in a day.
const DAY_MS: u64 = 24 * 3600 * 1000;
/// Milliseconds in an hour.
const HOUR_MS: u64 = 3600 * 1000;

/// Temperature swing around the mean, °C.
const TEMPERATURE_SWING_C: f64 = 1.5;
/// Time of day (UTC) of the warmest point.
const WARMEST_AT_MS: u64 = 15 * HOUR_MS;
/// Humidity swing around the mean, percentage points.
const HUMIDITY_SWING_PERCENT: f64 = 8.0;

/// The weather waves: (amplitude in hPa, period in ms, time of the first peak in ms after the
/// epoch). The amplitudes plus [`TIDE_HPA`] add up to 8 hPa.
const WEATHER: [(f64, u64, u64); 3] = [
    (3.5, 4_700 * DAY_MS / 1000, 31 * HOUR_MS),
    (2.5, 2_900 * DAY_MS / 1000, 7 * HOUR_MS),
    (1.2, 1_300 * DAY_MS / 1000, 19 * HOUR_MS),
];
/// Amplitude of the semidiurnal atmospheric tide, hPa.
const TIDE_HPA: f64 = 0.8;
/// The tide's peak (and again 12 hours later), time of day UTC.
const TIDE_PEAK_AT_MS: u64 = 10 * HOUR_MS;

/// What the room is like at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conditions {
    /// Air temperature, °C.
    pub temperature_c: f32,
    /// Relative humidity, % (0 to 100).
    pub humidity_percent: f32,
    /// Barometric pressure (absolute, at the sensor), hPa.
    pub pressure_hpa: f32,
}

/// A deterministic indoor room (see the [module documentation](self) for the model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    mean: Conditions,
}

impl Default for Environment {
    fn default() -> Self {
        Self::new()
    }
}

/// The angle (radians, in `0..TAU`) of a wave with period `period_ms` that peaks at `peak_at_ms`
/// (and every period after), at `unix_ms`.
fn phase(unix_ms: u64, period_ms: u64, peak_at_ms: u64) -> f64 {
    let since_peak = (unix_ms % period_ms + period_ms - peak_at_ms % period_ms) % period_ms;
    // Precision: both values are below a week in milliseconds, exact in f64.
    let fraction = since_peak as f64 / period_ms as f64;
    TAU * fraction
}

impl Environment {
    /// The room with its default means: 21 °C, 45 % and 1013 hPa.
    pub const fn new() -> Self {
        Self::with_mean(Conditions {
            temperature_c: 21.0,
            humidity_percent: 45.0,
            pressure_hpa: 1013.0,
        })
    }

    /// A room whose cycles swing around `mean` instead (a cold shed, a mountain hut). Humidity is
    /// still kept within 0 to 100 %.
    pub const fn with_mean(mean: Conditions) -> Self {
        Environment { mean }
    }

    /// The means the room swings around.
    pub const fn mean(&self) -> Conditions {
        self.mean
    }

    /// The room at Unix time `unix_ms` (milliseconds).
    pub fn at(&self, unix_ms: u64) -> Conditions {
        let day = libm::cos(phase(unix_ms, DAY_MS, WARMEST_AT_MS));
        let temperature = f64::from(self.mean.temperature_c) + TEMPERATURE_SWING_C * day;
        let humidity = (f64::from(self.mean.humidity_percent) - HUMIDITY_SWING_PERCENT * day)
            .clamp(0.0, 100.0);

        let weather: f64 = WEATHER
            .iter()
            .map(|&(amplitude, period, peak)| amplitude * libm::cos(phase(unix_ms, period, peak)))
            .sum();
        let tide = TIDE_HPA * libm::cos(phase(unix_ms, DAY_MS / 2, TIDE_PEAK_AT_MS));
        let pressure = f64::from(self.mean.pressure_hpa) + weather + tide;

        // Narrowing to f32 keeps ~7 significant digits: far finer than either sensor resolves.
        Conditions {
            temperature_c: temperature as f32,
            humidity_percent: humidity as f32,
            pressure_hpa: pressure as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14 00:00:00 UTC.
    const MIDNIGHT: u64 = 1_699_920_000_000;

    #[test]
    fn the_same_instant_gives_the_same_room() {
        let env = Environment::new();
        assert_eq!(env.at(MIDNIGHT + 12_345), env.at(MIDNIGHT + 12_345));
        assert_eq!(Environment::default(), env);
    }

    #[test]
    fn warmest_mid_afternoon_and_driest_then() {
        let env = Environment::new();
        let afternoon = env.at(MIDNIGHT + 15 * HOUR_MS);
        let night = env.at(MIDNIGHT + 3 * HOUR_MS);
        assert!((afternoon.temperature_c - 22.5).abs() < 1e-4);
        assert!((night.temperature_c - 19.5).abs() < 1e-4);
        assert!((afternoon.humidity_percent - 37.0).abs() < 1e-4);
        assert!((night.humidity_percent - 53.0).abs() < 1e-4);
    }

    #[test]
    fn a_month_every_ten_minutes_stays_plausible_and_moves() {
        let env = Environment::new();
        let (mut p_min, mut p_max) = (f32::MAX, f32::MIN);
        for step in 0..(30 * 24 * 6) {
            let c = env.at(MIDNIGHT + step * 600_000);
            assert!((19.5 - 1e-3..=22.5 + 1e-3).contains(&c.temperature_c));
            assert!((37.0 - 1e-3..=53.0 + 1e-3).contains(&c.humidity_percent));
            assert!((1005.0 - 1e-3..=1021.0 + 1e-3).contains(&c.pressure_hpa));
            p_min = p_min.min(c.pressure_hpa);
            p_max = p_max.max(c.pressure_hpa);
        }
        assert!(p_max - p_min > 8.0, "weather moves: {p_min}..{p_max}");
    }

    #[test]
    fn pressure_drifts_slowly() {
        // A barometer never sees more than a fraction of a hPa per minute indoors.
        let env = Environment::new();
        for step in 0..(3 * 24 * 60) {
            let t = MIDNIGHT + step * 60_000;
            let dp = env.at(t + 60_000).pressure_hpa - env.at(t).pressure_hpa;
            assert!(dp.abs() < 0.05, "{dp} hPa in a minute at {t}");
        }
    }

    #[test]
    fn a_different_mean_shifts_the_room_and_humidity_stays_in_range() {
        let env = Environment::with_mean(Conditions {
            temperature_c: -10.0,
            humidity_percent: 97.0,
            pressure_hpa: 850.0,
        });
        let night = env.at(MIDNIGHT + 3 * HOUR_MS);
        assert!((night.temperature_c + 11.5).abs() < 1e-4);
        assert!((night.humidity_percent - 100.0).abs() < 1e-6);
        assert!((night.pressure_hpa - 850.0).abs() <= 8.0);
        assert_eq!(env.mean().pressure_hpa, 850.0);
    }
}
