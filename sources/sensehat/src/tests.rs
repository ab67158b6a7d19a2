use std::cell::Cell;
use std::rc::Rc;

use futures_executor::block_on;
use sense_bus::config::Config;
use sense_bus::model::{Reading, Value};
use sense_bus::source::{Inputs, PollContext, Source};

use super::*;

/// A hygrometer reading fixed values, or failing with a message.
struct FakeHygrometer(Result<Humidity, &'static str>);

impl Hygrometer for FakeHygrometer {
    type Error = &'static str;
    async fn measure(&mut self) -> Result<Humidity, &'static str> {
        self.0
    }
}

/// A barometer that counts its calls.
struct FakeBarometer(f64, Rc<Cell<u32>>);

impl Barometer for FakeBarometer {
    type Error = &'static str;
    async fn measure(&mut self) -> Result<f64, &'static str> {
        self.1.set(self.1.get() + 1);
        Ok(self.0)
    }
}

const WARM: Humidity = Humidity {
    temperature_c: 30.0,
    humidity_percent: 40.0,
};

fn inputs_with_cpu(cpu: f64) -> Inputs {
    let mut inputs = Inputs::new();
    inputs.insert(
        SourceId::System,
        "cpu_temp",
        Reading {
            value: Value::Float(cpu),
            unit: Some("C".into()),
            timestamp: 0.0,
        },
    );
    inputs
}

fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
    &out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap()
        .value
}

#[test]
fn compensation_worked_by_hand() {
    // 30 °C at the sensor, CPU at 50 °C, factor 2: 30 − (50 − 30) / 2 = 20 °C.
    assert!((compensated_temperature(30.0, 50.0, 2.0) - 20.0).abs() < 1e-12);
    // 40 % at 30 °C is the same vapour as e_s(30)/e_s(20) × 40 % at 20 °C:
    // e_s(30) = 6.112·exp(17.62·30/273.12) = 42.337 hPa, e_s(20) = 23.326 hPa → 72.60 %.
    assert!((humidity_at(40.0, 30.0, 20.0) - 72.601).abs() < 1e-3);
    assert_eq!(humidity_at(90.0, 30.0, 10.0), 100.0, "clamped");
}

#[test]
fn readings_per_contract_with_compensation() {
    let calls = Rc::new(Cell::new(0));
    let mut source = SenseHatSource::new(
        Some(FakeHygrometer(Ok(WARM))),
        Some(FakeBarometer(1013.25, calls)),
    );
    let config = Config::default();
    let inputs = inputs_with_cpu(50.0);
    let out = block_on(source.poll(PollContext::new(&config, &inputs), &mut ())).unwrap();
    assert_eq!(out.error, None);
    assert_eq!(value(&out, "temperature"), &Value::Float(30.0));
    assert_eq!(value(&out, "humidity"), &Value::Float(40.0));
    assert_eq!(value(&out, "pressure"), &Value::Float(1013.3));
    assert_eq!(value(&out, "temperature_compensated"), &Value::Float(20.0));
    assert_eq!(value(&out, "humidity_compensated"), &Value::Float(72.6));
    let units: Vec<_> = out
        .measurements
        .iter()
        .map(|m| m.unit.unwrap().as_str())
        .collect();
    assert_eq!(units, ["C", "%", "mbar", "C", "%"]);
}

#[test]
fn no_cpu_temperature_or_factor_zero_means_null_compensation() {
    let calls = Rc::new(Cell::new(0));
    let mut source = SenseHatSource::new(
        Some(FakeHygrometer(Ok(WARM))),
        Some(FakeBarometer(1000.0, calls)),
    );
    let config = Config::default();
    let out = block_on(source.poll(PollContext::config_only(&config), &mut ())).unwrap();
    assert_eq!(value(&out, "temperature_compensated"), &Value::Null);
    assert_eq!(out.error, None, "a missing input is not an error");

    let mut off = Config::default();
    off.sensors.compensation_factor = 0.0;
    let inputs = inputs_with_cpu(50.0);
    let out = block_on(source.poll(PollContext::new(&off, &inputs), &mut ())).unwrap();
    assert_eq!(value(&out, "humidity_compensated"), &Value::Null);
}

#[test]
fn a_failing_sensor_is_null_and_named_while_the_other_still_reads() {
    let calls = Rc::new(Cell::new(0));
    let mut source = SenseHatSource::new(
        Some(FakeHygrometer(Err(
            "HTS221: I2C error: no acknowledge from I2C address 0x5f",
        ))),
        Some(FakeBarometer(1000.0, calls.clone())),
    );
    let config = Config::default();
    let out = block_on(source.poll(PollContext::config_only(&config), &mut ())).unwrap();
    assert_eq!(value(&out, "temperature"), &Value::Null);
    assert_eq!(value(&out, "pressure"), &Value::Float(1000.0));
    assert_eq!(
        out.error.as_deref(),
        Some("HTS221: I2C error: no acknowledge from I2C address 0x5f")
    );
    assert_eq!(calls.get(), 1);

    let mut none: SenseHatSource<FakeHygrometer, FakeBarometer> = SenseHatSource::new(None, None);
    let out = block_on(none.poll(PollContext::config_only(&config), &mut ())).unwrap();
    assert!(out.measurements.iter().all(|m| m.value.is_null()));
    assert_eq!(
        out.error.as_deref(),
        Some("no HTS221 humidity sensor found; no LPS25H pressure sensor found")
    );
}
