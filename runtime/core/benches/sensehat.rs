//! Benchmarks of the Sense HAT service on the simulated HAT (`cargo bench -p sense-runtime --bench
//! sensehat`):
//!
//! 1. I2C traffic of one full sensor read cycle (both sensors, one-shot), from the simulated bus's
//!    counters: the first cycle (with driver set-up) and a steady-state one.
//! 2. CPU use of the whole service while the display scrolls without pause, measured with
//!    the process's CPU-time clock over real time.

use std::time::{Duration, Instant};

use sense_bus::config::Config;
use sense_bus::source::{PollContext, Source};
use sense_bus::{Bus, keys};
use sense_runtime::Env;
use sense_runtime::sensehat::{self, SenseHat, ServiceOptions};
use sense_source_sensehat::SenseHatSource;
use tokio_util::sync::CancellationToken;

/// CPU seconds (user + system) this process has used: its CPU-time clock, which counts the same
/// time `getrusage(RUSAGE_SELF)` does.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

#[allow(clippy::print_stdout)]
async fn i2c_per_cycle() {
    let hat = SenseHat::simulated();
    let bus = hat.sim_bus.unwrap();
    let mut source = SenseHatSource::new(hat.hygrometer, hat.barometer);
    let config = Config::default();
    for label in ["first cycle (with set-up)", "steady state"] {
        bus.reset_stats();
        source
            .poll(PollContext::config_only(&config), &mut ())
            .await
            .unwrap();
        let s = bus.stats();
        println!(
            "I2C per sensor read cycle, {label}: {} transactions, {} bytes written, {} bytes read",
            s.transactions, s.bytes_written, s.bytes_read
        );
    }
}

#[allow(clippy::print_stdout)]
async fn display_cpu(seconds: u64) {
    let bus = Bus::memory();
    // Scroll without a break: no sleep hours, no gap between cycles, no icons; some data to show.
    bus.set(
        &keys::config(sense_bus::SectionName::Sleep),
        r#"{"start_hour":0,"end_hour":0}"#,
        None,
    )
    .await
    .unwrap();
    bus.set(
        &keys::config(sense_bus::SectionName::Display),
        r#"{"cycle_interval":0,"show_icons":false,"scroll_speed":0.08}"#,
        None,
    )
    .await
    .unwrap();
    bus.set(
        &keys::reading("system", "cpu_percent"),
        r#"{"value":23.5,"unit":"%","timestamp":1}"#,
        None,
    )
    .await
    .unwrap();
    bus.set(
        &keys::reading("system", "memory_percent"),
        r#"{"value":61.2,"unit":"%","timestamp":1}"#,
        None,
    )
    .await
    .unwrap();
    bus.set(
        &keys::reading("tailscale", "connected"),
        r#"{"value":true,"unit":null,"timestamp":1}"#,
        None,
    )
    .await
    .unwrap();
    bus.set(
        &keys::reading("tailscale", "device_count"),
        r#"{"value":5,"unit":"devices","timestamp":1}"#,
        None,
    )
    .await
    .unwrap();

    let hat = SenseHat::simulated();
    let sim = hat.sim_bus.unwrap();
    let shutdown = CancellationToken::new();
    let options = ServiceOptions {
        env: Env::from_fn(|_| None),
        sys_root: "/nonexistent".into(),
    };
    let service =
        tokio::task::spawn_local(sensehat::run(bus.clone(), hat, options, shutdown.clone()));
    // Let it start, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.reset_stats();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    let s = sim.stats();
    shutdown.cancel();
    service.await.unwrap();
    println!(
        "service while scrolling for {wall:.1} s: CPU {:.3} s = {:.2} % of one core; {:.1} I2C transactions/s, {:.0} bytes/s written",
        cpu,
        cpu / wall * 100.0,
        f64::from(s.transactions) / wall,
        f64::from(s.bytes_written) / wall
    );
}

#[allow(clippy::print_stdout)] // a benchmark reports on stdout
fn main() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, async {
        i2c_per_cycle().await;
        display_cpu(seconds).await;
    });
}
