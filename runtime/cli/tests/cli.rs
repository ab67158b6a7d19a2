//! The `sense-pulse` binary as users and the orchestrator run it, against a real redis-server.

use std::process::{Command, Output};
use std::time::Duration;

use sense_testkit::RedisServer;

fn sense_pulse(server: Option<&RedisServer>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sense-pulse"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("LOG_LEVEL", "info");
    match server {
        Some(s) => cmd.env("REDIS_URL", s.url()),
        None => cmd.env(
            "REDIS_URL",
            format!("redis://127.0.0.1:{}", sense_testkit::free_port()),
        ),
    };
    cmd.output().expect("run sense-pulse")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(server: &RedisServer, key: &str) -> serde_json::Value {
    let text = server
        .command(&["GET", key])
        .unwrap_or_else(|| panic!("GET {key}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} = {text:?}: {e}"))
}

#[test]
fn source_system_once_writes_the_contract_and_counts_runs() {
    let server = RedisServer::start();
    // A subscriber, as the gateway would be, before the run.
    let bus_url = server.url();
    let (subscribed, is_subscribed) = std::sync::mpsc::channel();
    let received = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let bus = sense_bus::Bus::connect(
                &bus_url,
                sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
            )
            .await
            .unwrap();
            let mut sub = bus
                .subscribe(&[sense_bus::Topic::channel("data:system")])
                .await
                .unwrap();
            // `subscribe` returns once Redis confirmed the subscription.
            subscribed.send(()).unwrap();
            tokio::time::timeout(Duration::from_secs(10), sub.recv())
                .await
                .ok()
                .flatten()
        })
    });
    is_subscribed
        .recv_timeout(Duration::from_secs(10))
        .expect("the subscriber is in place within 10 s");

    let out = sense_pulse(Some(&server), &["source", "system", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let cpu = json(&server, "source:system:cpu_percent");
    assert!(cpu["value"].is_f64(), "{cpu}");
    assert_eq!(cpu["unit"], "%");
    assert!(cpu["timestamp"].as_f64().unwrap() > 1.7e9);
    assert_eq!(
        cpu.as_object().unwrap().len(),
        3,
        "exactly value, unit, timestamp: {cpu}"
    );
    let ttl: i64 = server
        .command(&["TTL", "source:system:cpu_percent"])
        .unwrap()[1..]
        .parse()
        .unwrap();
    assert!(ttl >= 59, "TTL {ttl}");
    assert_eq!(json(&server, "meta:system")["source_id"], "system");
    assert_eq!(json(&server, "status:system")["poll_count"], 1);

    let out = sense_pulse(Some(&server), &["source", "system", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = json(&server, "status:system");
    assert_eq!(status["poll_count"], 2, "{status}");
    assert_eq!(status["last_error"], serde_json::Value::Null);

    let message = received.join().unwrap().expect("a data:system message");
    let notice: serde_json::Value = serde_json::from_str(&message.payload).unwrap();
    assert_eq!(notice["source_id"], "system");
}

#[test]
fn bad_schedule_config_is_reported_and_the_default_used() {
    let server = RedisServer::start();
    server
        .command(&["SET", "config:schedule", "{\"system\": -5}"])
        .unwrap();
    let out = sense_pulse(Some(&server), &["source", "system", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = json(&server, "status:system");
    let warning = status["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("config:schedule.system:") && warning.ends_with("using 30"),
        "{warning}"
    );
    assert_eq!(json(&server, "meta:system")["refresh_interval"], 30);
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    let out = sense_pulse(None, &["source", "aranet4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected one of"), "{}", stderr(&out));
    for role in ["run", "gateway"] {
        let out = sense_pulse(None, &[role, "--listen", "localhost-ish"]);
        assert_eq!(out.status.code(), Some(2), "{role}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: --listen `localhost-ish` is not an address"),
            "{role}: {}",
            stderr(&out)
        );
    }
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("sense-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_import_migrates_the_legacy_file() {
    let server = RedisServer::start();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../legacy/tests/fixtures/legacy-config.example.yaml"
    );
    let out = sense_pulse(Some(&server), &["config", "import", file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("sleep.start_hour") && report.contains("web.port"),
        "{report}"
    );
    assert!(report.contains("Wrote config:display"), "{report}");
    assert_eq!(json(&server, "config:sleep")["start_hour"], 22);
    assert_eq!(json(&server, "config:schedule")["aranet4"], 60);
}

#[test]
fn an_invalid_import_names_the_problem_and_writes_nothing() {
    let server = RedisServer::start();
    for (name, text, expected) in [
        (
            "bad-yaml.yaml",
            "display:\n  rotation: [90\nsleep: {}\n",
            "not valid YAML",
        ),
        (
            "bad-value.yaml",
            "sleep:\n  start_hour: 22\ndisplay:\n  rotation: 45\n",
            "\n  line 4: display.rotation: ",
        ),
    ] {
        let path = write_temp(name, text);
        let out = sense_pulse(Some(&server), &["config", "import", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: ")
                && stderr(&out).to_lowercase().contains("nothing was written"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            server.command(&["KEYS", "*"]).as_deref(),
            Some("*0"),
            "{name} wrote something"
        );
        std::fs::remove_file(path).unwrap();
    }
    let out = sense_pulse(Some(&server), &["config", "import", "/no/such/config.yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_resident_source_stops_cleanly_on_sigterm() {
    let server = RedisServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(["source", "system", "--sim"])
        .env("REDIS_URL", server.url())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.command(&["EXISTS", "status:system"]).as_deref() != Some(":1") {
        assert!(std::time::Instant::now() < deadline, "no first poll");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `source sensors --sim` as a user runs it: readings, matrix:state, and commands, over Redis.
#[test]
fn sensors_sim_writes_readings_publishes_the_matrix_and_obeys_commands() {
    use sense_bus::command::CommandClient;
    use serde_json::json;

    let server = RedisServer::start();
    // Never asleep, whatever the hour CI runs at.
    server
        .command(&["SET", "config:sleep", r#"{"start_hour":0,"end_hour":0}"#])
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(["source", "sensors", "--sim"])
        .env("REDIS_URL", server.url())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let bus = sense_bus::Bus::connect(
            &server.url(),
            sense_bus::ConnectOptions::FailAfter(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let mut states = bus
            .subscribe(&[sense_bus::Topic::channel("matrix:state")])
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while bus.get("source:sensors:pressure").await.unwrap().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "no readings");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (sensor, unit, range) in [
            ("temperature", "C", 10.0..=45.0),
            ("humidity", "%", 10.0..=90.0),
            ("pressure", "mbar", 980.0..=1050.0),
        ] {
            let r: serde_json::Value = serde_json::from_str(
                &bus.get(&format!("source:sensors:{sensor}"))
                    .await
                    .unwrap()
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(r["unit"], unit, "{sensor}");
            let v = r["value"].as_f64().unwrap();
            assert!(range.contains(&v), "{sensor} = {v}");
        }
        let state = tokio::time::timeout(Duration::from_secs(5), states.recv())
            .await
            .unwrap()
            .unwrap();
        let state: serde_json::Value = serde_json::from_str(&state.payload).unwrap();
        assert_eq!(state["pixels"].as_array().unwrap().len(), 64);

        let client = CommandClient::new(bus.clone()).await.unwrap();
        let send = |action: &'static str, params: serde_json::Value| {
            let client = &client;
            async move {
                client
                    .send(
                        "sensors",
                        action,
                        params.as_object().unwrap().clone(),
                        Duration::from_secs(5),
                    )
                    .await
                    .unwrap()
            }
        };
        let matrix = send("get_matrix", json!({})).await;
        assert_eq!(matrix.data["pixels"].as_array().unwrap().len(), 64);
        let refused = send("set_rotation", json!({"rotation": 45})).await;
        assert_eq!(
            refused.error.as_deref(),
            Some("rotation must be one of 0, 90, 180, 270 (got 45)")
        );
        assert_eq!(send("get_matrix", json!({})).await.data["rotation"], 0);
        assert!(send("set_rotation", json!({"rotation": 90})).await.is_ok());
        send("get_matrix", json!({})).await.data["rotation"].as_u64()
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(outcome, Some(90));
    assert!(status.success(), "exit {status}");
}

#[test]
fn co2_sim_once_writes_each_heard_monitor_and_names_the_unheard_one() {
    let server = RedisServer::start();
    // Office advertises at least every 4 s: 5 s hears it every time.
    server
        .command(&["SET", "config:aranet4", r#"{"timeout": 5}"#])
        .unwrap();
    let out = sense_pulse(Some(&server), &["source", "co2", "--once", "--sim"]);
    // A monitor not heard makes a partial poll: the others are written, exit 0.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("poll partly failed"),
        "{}",
        stderr(&out)
    );
    for label in ["office", "bedroom"] {
        let co2 = json(&server, &format!("source:co2:{label}:co2"));
        assert_eq!(co2["unit"], "ppm");
        assert!(co2["value"].as_i64().is_some(), "{label}: {co2}");
        assert_eq!(
            json(&server, &format!("source:co2:{label}:pressure"))["unit"],
            "mbar"
        );
        assert_eq!(
            json(&server, &format!("source:co2:{label}:temperature"))["unit"],
            "C"
        );
    }
    let status = json(&server, "status:co2");
    assert_eq!(status["outcome"], "partial", "{status}");
    let error = status["last_error"].as_str().unwrap();
    assert!(
        error.contains("garage") && error.contains("not heard within 5 s"),
        "{error}"
    );
    let missing = status["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{status}");
    assert_eq!(missing[0]["name"], "garage");
    assert_eq!(
        missing[0]["last_seen"],
        serde_json::Value::Null,
        "never heard"
    );
    let since = missing[0]["since"].as_f64().unwrap();

    // The next run (a process of its own) remembers since when, and does not warn again.
    let out = sense_pulse(Some(&server), &["source", "co2", "--once", "--sim"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("poll partly failed"),
        "{}",
        stderr(&out)
    );
    let status = json(&server, "status:co2");
    assert_eq!(status["missing"][0]["since"].as_f64(), Some(since));
    assert_eq!(
        (&status["poll_count"], &status["error_count"]),
        (&2.into(), &2.into())
    );
}

#[test]
fn co2_sim_once_with_no_monitor_heard_fails_with_exit_1() {
    let server = RedisServer::start();
    server
        .command(&[
            "SET",
            "config:aranet4",
            r#"{"timeout": 2, "sensors": [{"label": "garage", "mac": "D4:7B:0C:4A:11:03", "enabled": true}]}"#,
        ])
        .unwrap();
    let out = sense_pulse(Some(&server), &["source", "co2", "--once", "--sim"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("poll failed"), "{}", stderr(&out));
    let status = json(&server, "status:co2");
    assert_eq!(status["outcome"], "failed", "{status}");
    assert_eq!(status["last_success"], serde_json::Value::Null);
    assert_eq!(status["missing"][0]["name"], "garage", "{status}");
    assert_eq!(
        server
            .command(&["EXISTS", "source:co2:garage:co2"])
            .as_deref(),
        Some(":0")
    );
}

#[test]
fn co2_scan_lists_the_simulated_monitors() {
    let server = RedisServer::start();
    server
        .command(&["SET", "config:aranet4", r#"{"timeout": 3}"#])
        .unwrap();
    let out = sense_pulse(Some(&server), &["source", "co2", "--sim", "--mode", "scan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored = json(&server, "scan:co2");
    assert_eq!(printed["devices"], stored["devices"]);
    let names: Vec<&str> = stored["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Aranet4 1A2B1") && names.contains(&"Aranet4 1A2B2"),
        "{names:?}"
    );
    let wrong = sense_pulse(Some(&server), &["source", "system", "--mode", "scan"]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn aranet4_decode_prints_json_or_says_why_not() {
    let vector = "21 05 03 01 00 05 00 01 43 04 9f 01 8b 27 35 0c 02 3c 00 10 00 55";
    let out = sense_pulse(None, &["aranet4", "decode", vector]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reading: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reading["co2_ppm"], 1091);
    assert_eq!(reading["temperature_c"], 20.75);

    let off = sense_pulse(None, &["aranet4", "decode", "01 0e 04 01 00 00 00"]);
    assert_eq!(off.status.code(), Some(2));
    assert!(
        stderr(&off).contains("turn them on in the Aranet Home app"),
        "{}",
        stderr(&off)
    );
    let junk = sense_pulse(None, &["aranet4", "decode", "zz"]);
    assert_eq!(junk.status.code(), Some(2));
    assert!(stderr(&junk).contains("no hex bytes"), "{}", stderr(&junk));
}

#[test]
fn web_sources_sim_once_write_their_full_contract_sets() {
    let server = RedisServer::start();
    for (source, expected) in [
        (
            "weather",
            &[
                "weather_temp",
                "weather_feels_like",
                "weather_humidity",
                "weather_conditions",
                "weather_wind",
                "weather_wind_dir",
                "weather_pressure",
                "weather_uv_index",
                "weather_visibility",
                "weather_cloud_cover",
                "weather_location",
                "forecast_d0_date",
                "forecast_d0_max_temp",
                "forecast_d0_min_temp",
                "forecast_d0_avg_temp",
                "forecast_d0_description",
                "forecast_d1_date",
                "forecast_d1_max_temp",
                "forecast_d1_min_temp",
                "forecast_d1_avg_temp",
                "forecast_d1_description",
                "forecast_d2_date",
                "forecast_d2_max_temp",
                "forecast_d2_min_temp",
                "forecast_d2_avg_temp",
                "forecast_d2_description",
            ][..],
        ),
        (
            "pihole",
            &["queries_today", "ads_blocked_today", "ads_percentage_today"][..],
        ),
        ("tailscale", &["connected", "device_count"][..]),
    ] {
        let out = sense_pulse(Some(&server), &["source", source, "--once", "--sim"]);
        assert!(out.status.success(), "{source}: {}", stderr(&out));
        for sensor in expected {
            let reading = json(&server, &format!("source:{source}:{sensor}"));
            assert!(
                !reading["value"].is_null(),
                "{source}:{sensor} is null: {reading}"
            );
        }
        assert_eq!(
            json(&server, &format!("status:{source}"))["last_error"],
            serde_json::Value::Null
        );
    }
    assert_eq!(json(&server, "source:weather:weather_temp")["unit"], "C");
    assert_eq!(
        json(&server, "source:weather:weather_pressure")["unit"],
        "mb"
    );
    assert_eq!(
        json(&server, "source:pihole:queries_today")["unit"],
        "queries"
    );
    assert_eq!(
        json(&server, "source:tailscale:device_count")["unit"],
        "devices"
    );
    assert_eq!(json(&server, "source:tailscale:connected")["value"], true);
}

#[test]
fn redis_url_file_wins_over_redis_url_and_a_missing_one_is_named() {
    let server = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("sense-cli-redis-url-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("redis-url");
    std::fs::write(&file, format!("{}\n", server.url())).unwrap();
    // REDIS_URL (the shared settings') names no Redis: the file's URL is the one used.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sense-pulse"));
    let out = cmd
        .args(["source", "system", "--once"])
        .env_remove("RUST_LOG")
        .env(
            "REDIS_URL",
            format!("redis://127.0.0.1:{}", sense_testkit::free_port()),
        )
        .env("REDIS_URL_FILE", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(json(&server, "source:system:cpu_percent")["value"].is_number());

    let missing = dir.join("none");
    let out = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(["source", "system", "--once"])
        .env("REDIS_URL_FILE", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let told = stderr(&out);
    assert!(
        told.starts_with("error: cannot read the Redis URL from REDIS_URL_FILE")
            && told.contains(&missing.display().to_string()),
        "{told}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
