//! Worst-case Redis memory of the history (raw 24 h lists and the rollups of
//! `sense_bus::store::ROLLUPS`) for the default sources' numeric readings, fed for a simulated
//! 90 days through the real write path (`PollWrite::batch` → `Bus::apply`) into a real
//! `redis-server` set up as docker/redis.conf (maxmemory 50 MB, noeviction: a write past the
//! limit fails, so the run fails rather than evicting).
//!
//! The clock is simulated: polls are stamped from 90 days ago up to now, each source at its
//! default `config:schedule` interval, so rollup chunks older than their retention expire as
//! they would have (their expiry is absolute, from the poll's time). Values are full-precision
//! random floats: the longest text a number can take, so the most memory.
//!
//! `cargo bench -p sense-bus --bench history_memory [-- DAYS]` (or `bench/history-memory.sh`).
//! Prints `INFO memory`'s `used_memory`, the key count and a breakdown; exits non-zero above
//! 50 MB.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use sense_bus::model::{Measurement, Meta, Status, Value};
use sense_bus::store::{self, PollWrite};
use sense_bus::{Bus, ConnectOptions};
use sense_testkit::RedisServer;

/// The budget: docker/redis.conf's maxmemory.
const LIMIT_BYTES: u64 = 50 * 1024 * 1024;

/// A default source: id, poll interval (s, `config:schedule` defaults; the camera, polled on
/// demand, as often as the most frequent), numeric sensor ids.
fn sources() -> Vec<(&'static str, u32, Vec<String>)> {
    let names = |prefix: &str, n: usize| (0..n).map(|i| format!("{prefix}{i}")).collect();
    let co2 = ["office", "bedroom", "living"]
        .iter()
        .flat_map(|m| {
            ["co2", "temperature", "humidity", "pressure", "battery"]
                .iter()
                .map(move |s| format!("{m}:{s}"))
        })
        .collect();
    vec![
        ("sensors", 30, names("sensor_", 5)),
        ("system", 30, names("system_metric_", 9)),
        ("weather", 300, names("weather_metric_", 20)),
        ("co2", 60, co2),
        ("pihole", 30, names("pihole_metric_", 5)),
        ("tailscale", 30, names("tailscale_metric_", 3)),
        ("network_camera", 30, names("camera_metric_", 3)),
    ]
}

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn feed(
    bus: Bus,
    source: &'static str,
    interval: u32,
    sensors: Vec<String>,
    from: f64,
    to: f64,
    seed: u64,
) -> u64 {
    let mut rng = Rng(seed);
    let meta = Meta {
        source_id: source.into(),
        name: source.into(),
        description: String::new(),
        refresh_interval: interval,
        enabled: true,
    };
    let mut polls = 0;
    let mut t = from;
    while t <= to {
        let measurements: Vec<Measurement> = sensors
            .iter()
            .map(|s| Measurement::new(s.clone(), Value::Float(rng.next() * 1000.0 - 100.0), None))
            .collect();
        let mut status = Status::new(source);
        status.poll_count = polls;
        status.last_poll = Some(t);
        let write = PollWrite {
            source,
            measurements: &measurements,
            timestamp: t,
            status: &status,
            meta: &meta,
            state: None,
            interval_s: interval,
            cache_ttl_s: 60,
        };
        bus.apply(&write.batch())
            .await
            .unwrap_or_else(|e| panic!("{source} at {t}: {e}"));
        polls += 1;
        t += f64::from(interval);
    }
    polls
}

fn info_field(info: &str, field: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn integer(reply: Option<String>) -> u64 {
    reply
        .and_then(|r| r.strip_prefix(':').and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let days: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(90.0);
    let server =
        RedisServer::start_with_args(&["--maxmemory", "50mb", "--maxmemory-policy", "noeviction"]);
    let bus = Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .expect("connect to redis-server");
    let baseline = info_field(
        &server.command(&["INFO", "memory"]).unwrap_or_default(),
        "used_memory",
    );

    let to = sense_bus::unix_now();
    let from = to - days * 86_400.0;
    let started = Instant::now();
    let tasks: Vec<_> = sources()
        .into_iter()
        .enumerate()
        .map(|(i, (source, interval, sensors))| {
            let series = sensors.len();
            let handle = tokio::spawn(feed(
                bus.clone(),
                source,
                interval,
                sensors,
                from,
                to,
                0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            ));
            (source, interval, series, handle)
        })
        .collect();
    let mut total_polls = 0;
    let mut total_series = 0;
    for (source, interval, series, handle) in tasks {
        let polls = handle.await.expect("feeder panicked");
        println!(
            "{source:>15}: {series:>2} numeric readings every {interval:>3} s, {polls:>7} polls"
        );
        total_polls += polls;
        total_series += series;
    }
    let elapsed = started.elapsed();

    let info = server.command(&["INFO", "memory"]).unwrap_or_default();
    let used = info_field(&info, "used_memory");
    let dataset = info_field(&info, "used_memory_dataset");
    let keys = integer(server.command(&["DBSIZE"]));
    let rollup_keys = bus_keys(&server, "rollup:*");
    let rollup_5m = bus_keys(&server, "rollup:*:300:*");
    let history_keys = bus_keys(&server, "history:*");
    // A sample of each kind of key: its size and encoding.
    let sample = |key: String| {
        let usage = integer(server.command(&["MEMORY", "USAGE", &key]));
        let encoding = server
            .command(&["OBJECT", "ENCODING", &key])
            .unwrap_or_default();
        (key, usage, encoding)
    };
    let chunk5 = store::ROLLUPS[0].chunk_of(to - 86_400.0);
    let chunk60 = store::ROLLUPS[1].chunk_of(to - 30.0 * 86_400.0);
    let samples = [
        sample(sense_bus::keys::history("system", "system_metric_0")),
        sample(sense_bus::keys::rollup(
            "system",
            "system_metric_0",
            300,
            chunk5,
        )),
        sample(sense_bus::keys::rollup(
            "system",
            "system_metric_0",
            3600,
            chunk60,
        )),
    ];

    println!();
    println!(
        "simulated {days} days: {total_polls} polls of {total_series} numeric readings in {:.1} s ({:.0} polls/s)",
        elapsed.as_secs_f64(),
        total_polls as f64 / elapsed.as_secs_f64()
    );
    println!(
        "keys: {keys} ({history_keys} raw history lists, {rollup_keys} rollup chunks: {rollup_5m} of 5 min, {} hourly)",
        rollup_keys - rollup_5m
    );
    for (key, usage, encoding) in &samples {
        println!("  {key}: {usage} bytes ({encoding})");
    }
    println!(
        "used_memory: {used} bytes = {:.2} MiB (dataset {:.2} MiB; an empty server: {:.2} MiB); limit {} MiB",
        used as f64 / 1048576.0,
        dataset as f64 / 1048576.0,
        baseline as f64 / 1048576.0,
        LIMIT_BYTES / 1048576
    );
    if used > LIMIT_BYTES {
        println!("FAIL: above the limit");
        std::process::exit(1);
    }
    println!("OK: under the limit");
}

/// Keys matching `pattern`, counted with SCAN over a fresh connection per step.
fn bus_keys(server: &RedisServer, pattern: &str) -> u64 {
    // `command` returns the first line of an array reply only, so count with a Lua one-liner.
    let script = "local n, c = 0, '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1] n = n + #r[2] until c == '0' return n";
    integer(server.command(&["EVAL", script, "0", pattern]))
}
