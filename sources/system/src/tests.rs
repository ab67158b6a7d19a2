use futures_executor::block_on;
use sense_bus::config::Config;
use sense_bus::model::Value;
use sense_bus::source::Source;
use sense_hal::files::{StaticFiles, Usage};
use sense_sim::host::SimHost;

use super::*;

/// A delay that only counts how long it was asked to wait.
#[derive(Default)]
struct CountingDelay {
    total_ns: u64,
}

impl DelayNs for CountingDelay {
    async fn delay_ns(&mut self, ns: u32) {
        self.total_ns += u64::from(ns);
    }
}

const PI: &[(&str, &str)] = &[
    (
        "/proc/stat",
        include_str!("../../../drivers/procfs/fixtures/raspberry-pi-3b-plus/stat"),
    ),
    (
        "/proc/meminfo",
        include_str!("../../../drivers/procfs/fixtures/raspberry-pi-3b-plus/meminfo"),
    ),
    (
        "/proc/loadavg",
        include_str!("../../../drivers/procfs/fixtures/raspberry-pi-3b-plus/loadavg"),
    ),
    (
        "/proc/uptime",
        include_str!("../../../drivers/procfs/fixtures/raspberry-pi-3b-plus/uptime"),
    ),
    ("/sys/class/thermal/thermal_zone0/type", "cpu-thermal\n"),
    ("/sys/class/thermal/thermal_zone0/temp", "51540\n"),
];

const DISK: Usage = Usage {
    total_bytes: 100,
    used_bytes: 40,
    available_bytes: 55,
};

fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
    &out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor}"))
        .value
}

fn unit(out: &PollOutput, sensor: &str) -> &'static str {
    out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap()
        .unit
        .unwrap()
        .as_str()
}

#[test]
fn a_pi_gives_every_reading_with_contract_units() {
    let files = StaticFiles::new(PI).with_usage(DISK);
    let mut source = SystemSource::new(files, files, "/", CountingDelay::default());
    // The previous run saw 1000 fewer busy and 1000 fewer idle ticks: 50 % busy since then.
    let mut earlier = sense_procfs::parse_cpu_times(PI[0].1).unwrap();
    earlier.user -= 1000;
    earlier.idle -= 1000;
    let mut state = SystemState {
        cpu: Some(earlier),
        cpu_at: Some(unix_now() - 30.0),
    };
    let out =
        block_on(source.poll(PollContext::config_only(&Config::default()), &mut state)).unwrap();

    assert_eq!(out.error, None);
    assert_eq!(value(&out, "cpu_percent"), &Value::Float(50.0));
    assert_eq!(
        source.delay.total_ns, 0,
        "a previous sample means no waiting"
    );
    assert_eq!(value(&out, "memory_percent"), &Value::Float(20.5));
    assert_eq!(value(&out, "swap_percent"), &Value::Float(0.0));
    assert_eq!(value(&out, "load_1min"), &Value::Float(0.52));
    assert_eq!(value(&out, "load_15min"), &Value::Float(0.59));
    assert_eq!(value(&out, "cpu_temp"), &Value::Float(51.5));
    assert_eq!(value(&out, "disk_percent"), &Value::Float(42.1));
    assert_eq!(value(&out, "uptime"), &Value::Int(133_771));
    for (sensor, u) in [
        ("cpu_percent", "%"),
        ("memory_percent", "%"),
        ("load_1min", "load"),
        ("cpu_temp", "C"),
        ("uptime", "seconds"),
    ] {
        assert_eq!(unit(&out, sensor), u, "{sensor}");
    }
    assert_eq!(
        state.cpu,
        Some(sense_procfs::parse_cpu_times(PI[0].1).unwrap()),
        "state moves on"
    );
}

#[test]
fn no_previous_sample_means_one_short_window() {
    let files = StaticFiles::new(PI).with_usage(DISK);
    let mut source = SystemSource::new(files, files, "/", CountingDelay::default());
    let mut state = SystemState::default();
    let out =
        block_on(source.poll(PollContext::config_only(&Config::default()), &mut state)).unwrap();
    assert_eq!(
        source.delay.total_ns,
        u64::from(FIRST_SAMPLE_WINDOW_MS) * 1_000_000
    );
    // Static files do not tick: the window saw no work.
    assert_eq!(value(&out, "cpu_percent"), &Value::Float(0.0));
    assert!(state.cpu.is_some());
}

#[test]
fn a_stale_previous_sample_is_not_used() {
    let files = StaticFiles::new(PI).with_usage(DISK);
    let mut source = SystemSource::new(files, files, "/", CountingDelay::default());
    let mut earlier = sense_procfs::parse_cpu_times(PI[0].1).unwrap();
    earlier.user -= 1000;
    // Three intervals of 30 s are 90 s; this sample is two hours old.
    let mut state = SystemState {
        cpu: Some(earlier),
        cpu_at: Some(unix_now() - 7200.0),
    };
    block_on(source.poll(PollContext::config_only(&Config::default()), &mut state)).unwrap();
    assert!(source.delay.total_ns > 0);
}

#[test]
fn no_thermal_zone_is_null_never_zero() {
    let files = StaticFiles::new(&PI[..4]).with_usage(DISK);
    let mut source = SystemSource::new(files, files, "/", CountingDelay::default());
    let out = block_on(source.poll(
        PollContext::config_only(&Config::default()),
        &mut SystemState::default(),
    ))
    .unwrap();
    assert_eq!(value(&out, "cpu_temp"), &Value::Null);
    assert_eq!(
        out.error, None,
        "a machine without a sensor is not an error"
    );
}

#[test]
fn a_broken_file_is_named_and_the_rest_still_measured() {
    let mut files: Vec<(&str, &str)> = PI.to_vec();
    files[1] = ("/proc/meminfo", "garbage\n");
    let files = StaticFiles::new(Box::leak(files.into_boxed_slice())).with_usage(DISK);
    let mut source = SystemSource::new(files, files, "/", CountingDelay::default());
    let out = block_on(source.poll(
        PollContext::config_only(&Config::default()),
        &mut SystemState::default(),
    ))
    .unwrap();
    assert_eq!(
        out.error.as_deref(),
        Some("parsing /proc/meminfo: MemTotal is missing")
    );
    assert!(
        out.measurements
            .iter()
            .all(|m| m.sensor != "memory_percent")
    );
    assert_eq!(value(&out, "load_1min"), &Value::Float(0.52));
}

#[test]
fn a_wrong_root_fails_the_poll_naming_the_files() {
    let files = StaticFiles::new(&[]);
    let mut source = SystemSource::new(files, files, "/data", CountingDelay::default());
    let err = block_on(source.poll(
        PollContext::config_only(&Config::default()),
        &mut SystemState::default(),
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("reading /proc/stat: not found"), "{text}");
    assert!(text.contains("disk usage of /data"), "{text}");
}

#[test]
fn the_simulated_pi_reports_its_load_between_two_runs() {
    let start = 1_764_000_000_000;
    let mut state = SystemState::default();
    let host = SimHost::new(start);
    let mut first = SystemSource::new(host.clone(), host, "/", CountingDelay::default());
    block_on(first.poll(PollContext::config_only(&Config::default()), &mut state)).unwrap();

    // The next run, thirty seconds later, in a new process: only the state carries over.
    let host = SimHost::new(start + 30_000);
    let mut second = SystemSource::new(host.clone(), host.clone(), "/", CountingDelay::default());
    state.cpu_at = Some(unix_now());
    let out =
        block_on(second.poll(PollContext::config_only(&Config::default()), &mut state)).unwrap();
    assert_eq!(second.delay.total_ns, 0);
    let Value::Float(cpu) = value(&out, "cpu_percent") else {
        panic!()
    };
    // The model's load averages 18 % give or take 17 points.
    assert!((1.0..=35.0).contains(cpu), "{cpu}");
    let Value::Float(temp) = value(&out, "cpu_temp") else {
        panic!()
    };
    assert!((44.0..=62.0).contains(temp), "{temp}");
    assert_eq!(out.measurements.len(), 9);
}
