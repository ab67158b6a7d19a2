//! The Sense HAT service on the simulated HAT: readings, the LED matrix, commands, and faults.

use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::{MatrixState, Status, Value};
use sense_bus::{Bus, SectionName, Topic, store};
use sense_runtime::Env;
use sense_runtime::sensehat::{self, SenseHat, ServiceOptions};
use sense_sim::i2c::Fault;
use serde_json::{Map, Value as Json, json};
use tokio_util::sync::CancellationToken;

struct Service {
    bus: Bus,
    sim: sensehat::hardware::SimI2c,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start() -> Service {
        let bus = Bus::memory();
        let hat = SenseHat::simulated();
        let sim = hat.sim_bus.expect("a simulated bus");
        let shutdown = CancellationToken::new();
        let options = ServiceOptions {
            env: Env::from_fn(|_| None),
            sys_root: "/nonexistent".into(),
        };
        let task =
            tokio::task::spawn_local(sensehat::run(bus.clone(), hat, options, shutdown.clone()));
        Service {
            bus,
            sim,
            shutdown,
            task,
        }
    }

    async fn status(&self) -> Option<Status> {
        store::read_status(&self.bus, "sensors").await.unwrap()
    }

    /// Makes the service poll now: a change to a section it reads.
    async fn poll_now(&self, factor: f64) {
        let patch = json!({"compensation_factor": factor})
            .as_object()
            .unwrap()
            .clone();
        store::update_config(&self.bus, &[(SectionName::Sensors, patch)], &|_| None)
            .await
            .unwrap();
    }

    /// Sets (`on`) or clears one of the faults the fault test injects.
    fn fault(&self, fault: Option<Fault>, on: bool) {
        match (fault, on) {
            // NACK on the humidity sensor, EBUSY on the pressure sensor: one of each chip.
            (Some(Fault::Nack), true) => self.sim.inject(0x5F, Fault::Nack),
            (Some(Fault::Nack), false) => self.sim.clear(0x5F),
            (Some(Fault::Busy), true) => self.sim.inject(0x5C, Fault::Busy),
            (Some(Fault::Busy), false) => self.sim.clear(0x5C),
            // No bus fault: the HTS221's one-shot bit that never clears.
            (None, on) => {
                self.sim
                    .with_chip(0x5F, |c: &mut sense_sim::hts221::Hts221Sim| {
                        c.set_stuck_one_shot(on)
                    });
            }
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stops")
            .unwrap();
    }
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn params(v: Json) -> Map<String, Json> {
    v.as_object().unwrap().clone()
}

#[tokio::test(flavor = "current_thread")]
async fn readings_matrix_state_and_commands() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let service = Service::start().await;
            let mut states = service
                .bus
                .subscribe(&[Topic::channel("matrix:state")])
                .await
                .unwrap();

            let snapshot = wait_for("readings", async || {
                let s = store::read_source(&service.bus, "sensors").await.unwrap();
                (s.readings.len() >= 3).then_some(s)
            })
            .await;
            let number = |sensor: &str| snapshot.readings[sensor].value.as_f64().unwrap();
            // The raw reading: the room (19.5–22.5 °C) plus the simulated CPU's heat.
            assert!(
                (19.0..=45.0).contains(&number("temperature")),
                "{}",
                number("temperature")
            );
            assert!((20.0..=80.0).contains(&number("humidity")));
            assert!((990.0..=1040.0).contains(&number("pressure")));
            assert_eq!(snapshot.readings["temperature"].unit.as_deref(), Some("C"));
            assert_eq!(snapshot.readings["humidity"].unit.as_deref(), Some("%"));
            assert_eq!(snapshot.readings["pressure"].unit.as_deref(), Some("mbar"));
            // No system source runs here: no CPU temperature, no compensation, and no error for it.
            assert_eq!(
                snapshot.readings["temperature_compensated"].value,
                Value::Null
            );
            assert_eq!(snapshot.status.unwrap().last_error, None);

            let message = tokio::time::timeout(Duration::from_secs(5), states.recv())
                .await
                .unwrap()
                .unwrap();
            let state: MatrixState = serde_json::from_str(&message.payload).unwrap();
            assert_eq!(state.pixels.len(), 64);
            assert!(state.available);

            let client = CommandClient::new(service.bus.clone()).await.unwrap();
            let timeout = Duration::from_secs(5);
            let got = client
                .send("sensors", "get_matrix", Map::new(), timeout)
                .await
                .unwrap();
            assert!(got.is_ok());
            assert_eq!(got.data["pixels"].as_array().unwrap().len(), 64);
            assert_eq!(got.data["rotation"], 0);

            let refused = client
                .send(
                    "sensors",
                    "set_rotation",
                    params(json!({"rotation": 45})),
                    timeout,
                )
                .await
                .unwrap();
            assert!(!refused.is_ok());
            assert_eq!(
                refused.error.as_deref(),
                Some("rotation must be one of 0, 90, 180, 270 (got 45)")
            );
            let still = client
                .send("sensors", "get_matrix", Map::new(), timeout)
                .await
                .unwrap();
            assert_eq!(
                still.data["rotation"], 0,
                "a refused command changes nothing"
            );

            let applied = client
                .send(
                    "sensors",
                    "set_rotation",
                    params(json!({"rotation": 90})),
                    timeout,
                )
                .await
                .unwrap();
            assert!(applied.is_ok(), "{:?}", applied.error);
            let now = client
                .send("sensors", "get_matrix", Map::new(), timeout)
                .await
                .unwrap();
            assert_eq!(now.data["rotation"], 90);
            // The physical matrix shows the picture turned for the rotated device.
            wait_for("a state with rotation 90", async || {
                let m = states.recv().await?;
                let s: MatrixState = serde_json::from_str(&m.payload).ok()?;
                (s.rotation == 90).then_some(())
            })
            .await;

            // Dimmed by a command: the state says so (the dashboard shows which is on).
            assert_eq!(now.data["low_light"], false);
            let dim = client
                .send(
                    "sensors",
                    "set_low_light",
                    params(json!({"enabled": true})),
                    timeout,
                )
                .await
                .unwrap();
            assert!(dim.is_ok(), "{:?}", dim.error);
            wait_for("a state with low light on", async || {
                let m = states.recv().await?;
                let s: MatrixState = serde_json::from_str(&m.payload).ok()?;
                s.low_light.then_some(())
            })
            .await;

            let mut pixels = vec![json!([0, 0, 0]); 64];
            pixels[0] = json!([255, 0, 0]);
            let set = client
                .send(
                    "sensors",
                    "set_pixels",
                    params(json!({ "pixels": pixels })),
                    timeout,
                )
                .await
                .unwrap();
            assert!(set.is_ok());
            let shown = client
                .send("sensors", "get_matrix", Map::new(), timeout)
                .await
                .unwrap();
            assert_eq!(shown.data["pixels"][0], json!([255, 0, 0]));
            assert_eq!(shown.data["mode"], "manual");
            let cleared = client
                .send("sensors", "clear", Map::new(), timeout)
                .await
                .unwrap();
            assert!(cleared.is_ok());
            let dark = client
                .send("sensors", "get_matrix", Map::new(), timeout)
                .await
                .unwrap();
            assert!(
                dark.data["pixels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p == &json!([0, 0, 0]))
            );

            let bad = client
                .send("sensors", "show_text", params(json!({"text": 7})), timeout)
                .await
                .unwrap();
            assert_eq!(bad.error.as_deref(), Some("text must be a string (got 7)"));
            let unknown = client
                .send("sensors", "dance", Map::new(), timeout)
                .await
                .unwrap();
            assert!(unknown.error.unwrap().starts_with("unknown action `dance`"));
            let text = client
                .send(
                    "sensors",
                    "show_text",
                    params(json!({"text": "Hi", "color": [0, 255, 0]})),
                    timeout,
                )
                .await
                .unwrap();
            assert!(text.is_ok());

            service.stop().await;
        })
        .await;
}

/// Each fault gives a status error naming the cause while the service runs on, and clears.
#[tokio::test(flavor = "current_thread")]
async fn faults_are_reported_and_recovered_from() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let service = Service::start().await;
            wait_for("the first poll", async || service.status().await).await;

            let cases = [
                (
                    Some(Fault::Nack),
                    "NACK at the HTS221",
                    "no acknowledge from I2C address 0x5f",
                ),
                (
                    Some(Fault::Busy),
                    "EBUSY at the LPS25H",
                    "I2C address 0x5c is busy (EBUSY)",
                ),
                (
                    None,
                    "a stuck one-shot bit",
                    "HTS221: conversion did not complete",
                ),
            ];
            let mut factor = 2.0;
            for (fault, name, expected) in cases {
                service.fault(fault, true);
                factor += 0.5;
                service.poll_now(factor).await;
                let status = wait_for(name, async || {
                    service.status().await.filter(|s| {
                        s.last_error
                            .as_deref()
                            .is_some_and(|e| e.contains(expected))
                    })
                })
                .await;
                assert!(
                    !service.task.is_finished(),
                    "{name}: the service keeps running"
                );
                let nulls = store::read_source(&service.bus, "sensors").await.unwrap();
                let any_null = nulls.readings.values().any(|r| r.value == Value::Null);
                assert!(
                    any_null,
                    "{name}: the failed sensor's readings are null, {status:?}"
                );

                service.fault(fault, false);
                factor += 0.5;
                service.poll_now(factor).await;
                wait_for("recovery", async || {
                    service
                        .status()
                        .await
                        .filter(|s| s.last_error.is_none() && s.poll_count > status.poll_count)
                })
                .await;
                let back = store::read_source(&service.bus, "sensors").await.unwrap();
                assert!(
                    back.readings["temperature"].value.as_f64().is_some(),
                    "{name}: values again"
                );
                assert!(
                    back.readings["pressure"].value.as_f64().is_some(),
                    "{name}: values again"
                );
            }
            service.stop().await;
        })
        .await;
}
