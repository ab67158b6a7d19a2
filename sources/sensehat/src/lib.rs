//! # The `sensors` source: the Sense HAT's environment sensors
//!
//! | sensor | unit | from |
//! |---|---|---|
//! | `temperature` | `C` | HTS221, as measured (reads high: the HAT sits on the warm Pi) |
//! | `humidity` | `%` | HTS221, relative to the sensor's own temperature |
//! | `pressure` | `mbar` | LPS25H |
//! | `temperature_compensated` | `C` | `temperature − (cpu_temp − temperature) / factor` |
//! | `humidity_compensated` | `%` | `humidity` converted to the compensated temperature |
//!
//! The compensation takes the Pi's `cpu_temp` from the `system` source and the factor from
//! `config:sensors` (0 turns it off). Without a CPU temperature the compensated readings are null.
//! A sensor that does not answer gives null readings and a status error naming the chip and the
//! cause; its driver is set up again on the next poll, so it recovers by itself.

#![allow(async_fn_in_trait)]

use std::fmt::Display;

use sense_bus::SectionName;
use sense_bus::SourceId;
use sense_bus::model::{Measurement, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_hal::Unit;
use sense_hal::value::round_to;
use sense_hal::{DelayNs, I2c};

/// Temperature and relative humidity from one sensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Humidity {
    /// °C at the sensor.
    pub temperature_c: f64,
    /// % relative humidity at the sensor's temperature.
    pub humidity_percent: f64,
}

/// A temperature and humidity sensor (the HTS221, or the kernel's IIO device for it).
pub trait Hygrometer {
    /// Its error.
    type Error: Display;
    /// One measurement.
    async fn measure(&mut self) -> Result<Humidity, Self::Error>;
}

/// A pressure sensor (the LPS25H, or the kernel's IIO device for it).
pub trait Barometer {
    /// Its error.
    type Error: Display;
    /// One measurement in hPa (= mbar).
    async fn measure(&mut self) -> Result<f64, Self::Error>;
}

/// The HTS221 driver as a [`Hygrometer`]: set up on first use and again after any failure, so a
/// chip that was unplugged, busy or stuck comes back on its own.
#[derive(Debug)]
pub struct Hts221Hygrometer<I2C, D> {
    driver: sense_hts221::asynch::Hts221<I2C, D>,
    ready: bool,
}

impl<I2C: I2c, D: DelayNs> Hts221Hygrometer<I2C, D> {
    /// The HTS221 on `i2c`.
    pub fn new(i2c: I2C, delay: D) -> Self {
        Hts221Hygrometer {
            driver: sense_hts221::asynch::Hts221::new(i2c, delay),
            ready: false,
        }
    }
}

impl<I2C: I2c, D: DelayNs> Hygrometer for Hts221Hygrometer<I2C, D>
where
    I2C::Error: Display,
{
    type Error = sense_hts221::Error<I2C::Error>;
    async fn measure(&mut self) -> Result<Humidity, Self::Error> {
        if !self.ready {
            self.driver.init(sense_hts221::Mode::OneShot).await?;
            self.ready = true;
        }
        match self.driver.read().await {
            Ok(m) => Ok(Humidity {
                temperature_c: f64::from(m.temperature_c),
                humidity_percent: f64::from(m.humidity_percent),
            }),
            Err(e) => {
                self.ready = false;
                Err(e)
            }
        }
    }
}

/// The LPS25H driver as a [`Barometer`], set up again after failures like [`Hts221Hygrometer`].
#[derive(Debug)]
pub struct Lps25hBarometer<I2C, D> {
    driver: sense_lps25h::asynch::Lps25h<I2C, D>,
    ready: bool,
}

impl<I2C: I2c, D: DelayNs> Lps25hBarometer<I2C, D> {
    /// The LPS25H on `i2c`, at the Sense HAT's address (`0x5C`).
    pub fn new(i2c: I2C, delay: D) -> Self {
        Lps25hBarometer {
            driver: sense_lps25h::asynch::Lps25h::new(i2c, delay, sense_lps25h::Address::SENSE_HAT),
            ready: false,
        }
    }
}

impl<I2C: I2c, D: DelayNs> Barometer for Lps25hBarometer<I2C, D>
where
    I2C::Error: Display,
{
    type Error = sense_lps25h::Error<I2C::Error>;
    async fn measure(&mut self) -> Result<f64, Self::Error> {
        if !self.ready {
            self.driver.init(sense_lps25h::Mode::OneShot).await?;
            self.ready = true;
        }
        match self.driver.read().await {
            Ok(m) => Ok(f64::from(m.pressure_hpa)),
            Err(e) => {
                self.ready = false;
                Err(e)
            }
        }
    }
}

/// Saturation vapour pressure over water in hPa at `t` °C (Magnus formula, WMO coefficients).
fn saturation_vapour_hpa(t: f64) -> f64 {
    6.112 * (17.62 * t / (243.12 + t)).exp()
}

/// The CPU-heat compensated temperature: the sensor is warmed by the CPU in proportion to how much
/// hotter the CPU is, `t − (t_cpu − t) / factor`.
pub fn compensated_temperature(t: f64, t_cpu: f64, factor: f64) -> f64 {
    t - (t_cpu - t) / factor
}

/// Relative humidity measured at `t_sensor` expressed at `t_air`: the same water vapour, measured
/// against the saturation pressure of the cooler air. Clamped to 0–100 %.
pub fn humidity_at(rh: f64, t_sensor: f64, t_air: f64) -> f64 {
    (rh * saturation_vapour_hpa(t_sensor) / saturation_vapour_hpa(t_air)).clamp(0.0, 100.0)
}

/// The `sensors` source.
#[derive(Debug)]
pub struct SenseHatSource<H, B> {
    hygrometer: Option<H>,
    barometer: Option<B>,
}

impl<H: Hygrometer, B: Barometer> SenseHatSource<H, B> {
    /// A source reading `hygrometer` and `barometer`; `None` for one the machine does not have
    /// (its readings are then null with an error saying so).
    pub fn new(hygrometer: Option<H>, barometer: Option<B>) -> Self {
        SenseHatSource {
            hygrometer,
            barometer,
        }
    }
}

fn reading(sensor: &str, value: Option<f64>, decimals: u8, unit: Unit) -> Measurement {
    let value = value.map_or(Value::Null, |v| Value::float(round_to(v, decimals)));
    Measurement::new(sensor.to_owned(), value, Some(unit))
}

impl<H: Hygrometer, B: Barometer> Source for SenseHatSource<H, B> {
    const ID: SourceId = SourceId::Sensors;
    const SECTIONS: &'static [SectionName] = &[SectionName::Sensors];
    const INPUTS: &'static [(SourceId, &'static str)] = &[(SourceId::System, "cpu_temp")];
    type State = ();

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        _state: &mut (),
    ) -> Result<PollOutput, PollError> {
        let mut errors = Vec::new();
        let humidity = match &mut self.hygrometer {
            Some(h) => h
                .measure()
                .await
                .map_err(|e| errors.push(e.to_string()))
                .ok(),
            None => {
                errors.push("no HTS221 humidity sensor found".to_owned());
                None
            }
        };
        let pressure = match &mut self.barometer {
            Some(b) => b
                .measure()
                .await
                .map_err(|e| errors.push(e.to_string()))
                .ok(),
            None => {
                errors.push("no LPS25H pressure sensor found".to_owned());
                None
            }
        };

        let factor = context.config.sensors.compensation_factor;
        let cpu = context.inputs.number(SourceId::System, "cpu_temp");
        let compensated = match (humidity, cpu) {
            (Some(h), Some(cpu)) if factor > 0.0 => {
                let t = compensated_temperature(h.temperature_c, cpu, factor);
                Some((t, humidity_at(h.humidity_percent, h.temperature_c, t)))
            }
            _ => None,
        };

        let measurements = vec![
            reading(
                "temperature",
                humidity.map(|h| h.temperature_c),
                1,
                Unit::CELSIUS,
            ),
            reading(
                "humidity",
                humidity.map(|h| h.humidity_percent),
                1,
                Unit::PERCENT,
            ),
            reading("pressure", pressure, 1, Unit::MILLIBAR),
            reading(
                "temperature_compensated",
                compensated.map(|c| c.0),
                1,
                Unit::CELSIUS,
            ),
            reading(
                "humidity_compensated",
                compensated.map(|c| c.1),
                1,
                Unit::PERCENT,
            ),
        ];
        // Null readings are written even when everything failed: the dashboard then shows the
        // sensor as failed at once instead of showing the last values until they expire.
        Ok(PollOutput {
            measurements,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            ..PollOutput::default()
        })
    }
}

#[cfg(test)]
mod tests;
