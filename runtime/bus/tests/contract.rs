//! The bus contract, run against both backends: the in-memory bus and a real `redis-server`
//! started on a free port for each test.

use std::time::Duration;

use sense_bus::command::{CommandClient, CommandError, CommandServer};
use sense_bus::keys::channels;
use sense_bus::model::{CommandResponse, Meta, Status, Value};
use sense_bus::store::{self, PollWrite, Seeded};
use sense_bus::{Batch, Bus, ConnectOptions, Guard, SectionName, SourceId, Topic, Ttl, keys};
use sense_hal::Unit;
use sense_testkit::RedisServer;
use serde_json::json;

/// A bus under test, keeping its Redis server (if any) alive.
struct Fixture {
    bus: Bus,
    _server: Option<RedisServer>,
}

async fn redis() -> Fixture {
    let server = RedisServer::start();
    let bus = Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .expect("connect to the test redis-server");
    Fixture {
        bus,
        _server: Some(server),
    }
}

fn memory() -> Fixture {
    Fixture {
        bus: Bus::memory(),
        _server: None,
    }
}

/// Each contract test runs once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_backend {
            $(#[tokio::test] async fn $name() { super::$name(super::memory().bus).await; })*
        }
        mod redis_backend {
            $(#[tokio::test] async fn $name() {
                let f = super::redis().await;
                super::$name(f.bus.clone()).await;
            })*
        }
    };
}

contract!(
    values_round_trip,
    keys_expire_after_their_ttl,
    values_are_read_with_their_remaining_life,
    set_nx_writes_only_once,
    keys_are_found_by_pattern,
    batches_land_before_their_notice,
    pattern_and_channel_subscriptions,
    dropped_subscriptions_stop_receiving,
    commands_round_trip,
    commands_without_listener_or_answer_fail_clearly,
    malformed_commands_with_an_id_are_answered,
    poll_writes_read_back_per_contract,
    config_seeding_never_overwrites,
    config_updates_are_all_or_nothing,
    capped_lists_keep_the_newest_entries,
    front_capped_lists_keep_the_newest_first,
    apply_if_writes_only_when_every_guard_holds,
    concurrent_partial_config_writes_lose_nothing,
    a_stale_revision_is_refused,
    a_node_override_stores_only_its_own_fields,
    a_null_in_an_override_follows_the_shared_value_again,
    a_node_reads_its_own_sources_by_bare_ids,
    a_partial_write_is_judged_on_the_fields_it_sets,
    a_partial_write_keeps_a_stored_list_with_a_bad_entry,
    accumulations_fold_count_sum_min_max_atomically,
    reads_see_texts_lists_and_hashes_in_one_go,
    rollups_are_right_across_bucket_boundaries,
    raw_history_is_read_with_the_unit_and_range,
    rollups_are_bounded_by_their_retention,
    concurrent_writers_lose_no_value_of_a_bucket,
);

// ---------------------------------------------------------------------------------------------
// History rollups.

use sense_bus::store::{HistoryPoint, ROLLUPS, Rollup};
use sense_bus::{Fetched, Read, Stats};

/// Writes one poll of `source` with `values` as `(sensor, value)` at `timestamp`.
async fn poll_at(bus: &Bus, source: &str, timestamp: f64, values: &[(&str, f64)]) {
    let measurements: Vec<_> = values
        .iter()
        .map(|(sensor, v)| {
            sense_bus::model::Measurement::new(
                (*sensor).to_owned(),
                Value::Float(*v),
                Some(Unit::CELSIUS),
            )
        })
        .collect();
    let status = Status::new(source);
    let meta = Meta {
        source_id: source.into(),
        name: source.into(),
        description: String::new(),
        refresh_interval: 30,
        enabled: true,
    };
    let write = PollWrite {
        source,
        measurements: &measurements,
        timestamp,
        status: &status,
        meta: &meta,
        state: None,
        interval_s: 30,
        cache_ttl_s: 60,
    };
    bus.apply(&write.batch()).await.unwrap();
}

/// The start of an hour two days ago: every bucket boundary of both rollups is an hour's.
fn two_days_ago_on_the_hour() -> f64 {
    let hour = Rollup::of(3600).unwrap();
    hour.bucket_start(sense_bus::unix_now() - 2.0 * 86_400.0) as f64
}

fn bucket(point: &HistoryPoint) -> (f64, Stats) {
    match point {
        HistoryPoint::Bucket { start, stats } => (*start, *stats),
        other => panic!("not a bucket: {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

async fn accumulations_fold_count_sum_min_max_atomically(bus: Bus) {
    let at = sense_bus::unix_now() + 3600.0;
    let mut batch = Batch::new();
    batch
        .accumulate("acc:h", "0", 2.5, at)
        .accumulate("acc:h", "0", -1.0, at)
        .set("acc:plain", "x", None)
        .accumulate("acc:h", "1", 0.1, at)
        .accumulate("acc:h", "1", f64::NAN, at)
        .accumulate("acc:h", "1", 0.2, at);
    bus.apply(&batch).await.unwrap();
    // Also inside a guarded batch (one script on Redis).
    let mut guarded = Batch::new();
    guarded.accumulate("acc:h", "0", 10.0, at);
    assert!(
        bus.apply_if(&[Guard::holds("acc:plain", Some("x"))], &guarded)
            .await
            .unwrap()
    );
    let hash = bus.read(&[Read::Hash("acc:h".into())]).await.unwrap();
    let [Fetched::Hash(fields)] = hash.as_slice() else {
        panic!("{hash:?}")
    };
    let stats: Vec<(String, Stats)> = fields
        .iter()
        .map(|(f, v)| (f.clone(), Stats::parse(v).unwrap()))
        .collect();
    assert_eq!(stats.len(), 2, "{fields:?}");
    assert_eq!(stats[0].0, "0");
    assert_eq!(stats[0].1.count, 3);
    assert!(close(stats[0].1.sum, 11.5));
    assert_eq!((stats[0].1.min, stats[0].1.max), (-1.0, 10.0));
    // The NaN is left out; 0.1 + 0.2 reads back as 0.3 (15 significant digits).
    assert_eq!(
        stats[1].1,
        Stats {
            count: 2,
            sum: 0.3,
            min: 0.1,
            max: 0.2
        }
    );
    match bus.ttl("acc:h").await.unwrap() {
        Ttl::Expires(t) => assert!(
            t > Duration::from_secs(3590) && t <= Duration::from_secs(3601),
            "{t:?}"
        ),
        other => panic!("{other:?}"),
    }
    // An expiry already past removes the hash, as PEXPIREAT does.
    let mut late = Batch::new();
    late.accumulate("acc:h", "0", 1.0, sense_bus::unix_now() - 1.0);
    bus.apply(&late).await.unwrap();
    assert_eq!(bus.ttl("acc:h").await.unwrap(), Ttl::Missing);
}

async fn reads_see_texts_lists_and_hashes_in_one_go(bus: Bus) {
    let mut batch = Batch::new();
    batch
        .set("r:text", "t", None)
        .push_capped("r:list", "a", 5, None)
        .push_capped("r:list", "b", 5, None)
        .accumulate("r:hash", "7", 1.0, sense_bus::unix_now() + 60.0);
    bus.apply(&batch).await.unwrap();
    let got = bus
        .read(&[
            Read::Get("r:text".into()),
            Read::Get("r:none".into()),
            Read::List("r:list".into()),
            Read::List("r:none".into()),
            Read::Hash("r:hash".into()),
            Read::Hash("r:none".into()),
        ])
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Fetched::Text(Some("t".into())),
            Fetched::Text(None),
            Fetched::List(vec!["a".into(), "b".into()]),
            Fetched::List(vec![]),
            Fetched::Hash(vec![("7".into(), "1 1 1 1".into())]),
            Fetched::Hash(vec![]),
        ]
    );
    assert!(bus.read(&[]).await.unwrap().is_empty());
}

/// Known values on both sides of 5-minute and hourly boundaries: each bucket holds exactly its
/// own, and the range's summary all of them.
async fn rollups_are_right_across_bucket_boundaries(bus: Bus) {
    let base = two_days_ago_on_the_hour();
    let sensor = "office:temp";
    for (dt, v) in [
        (100.0, 10.0),
        (200.0, 20.0),
        (299.9, 30.0), // still the first 5-minute bucket
        (300.0, 5.0),  // the second
        (3500.0, 40.0),
        (3600.0, 1.0), // the next hour
        (3601.0, 3.0),
    ] {
        poll_at(&bus, "sensors", base + dt, &[(sensor, v)]).await;
    }
    let series = [("sensors".to_owned(), sensor.to_owned())];
    let five = store::read_history(&bus, &series, base - 1.0, base + 7200.0, Rollup::of(300))
        .await
        .unwrap();
    let points: Vec<(f64, Stats)> = five[0].points.iter().map(bucket).collect();
    let expect = [
        (base, 3, 10.0, 20.0, 30.0),
        (base + 300.0, 1, 5.0, 5.0, 5.0),
        (base + 3300.0, 1, 40.0, 40.0, 40.0),
        (base + 3600.0, 2, 1.0, 2.0, 3.0),
    ];
    assert_eq!(points.len(), expect.len(), "{points:?}");
    for ((start, stats), (t, n, min, mean, max)) in points.iter().zip(expect) {
        assert_eq!(*start, t);
        assert_eq!(stats.count, n, "{start}");
        assert_eq!((stats.min, stats.max), (min, max), "{start}");
        assert!(close(stats.mean(), mean), "{start}: {}", stats.mean());
    }
    let all = five[0].summary.unwrap();
    assert_eq!((all.count, all.min, all.max), (7, 1.0, 40.0));
    assert!(close(all.mean(), 109.0 / 7.0));
    assert_eq!(five[0].unit.as_deref(), Some("C"));

    let hourly = store::read_history(&bus, &series, base - 1.0, base + 7200.0, Rollup::of(3600))
        .await
        .unwrap();
    let points: Vec<(f64, Stats)> = hourly[0].points.iter().map(bucket).collect();
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(points[0].0, base);
    assert_eq!(
        (points[0].1.count, points[0].1.min, points[0].1.max),
        (5, 5.0, 40.0)
    );
    assert!(close(points[0].1.mean(), 21.0));
    assert_eq!(points[1].0, base + 3600.0);
    assert_eq!(
        (points[1].1.count, points[1].1.min, points[1].1.max),
        (2, 1.0, 3.0)
    );

    // A range that starts inside a bucket still shows it; one after the data shows nothing.
    let inside = store::read_history(&bus, &series, base + 3599.0, base + 7200.0, Rollup::of(300))
        .await
        .unwrap();
    assert_eq!(bucket(&inside[0].points[0]).0, base + 3300.0);
    let empty = store::read_history(
        &bus,
        &[("sensors".to_owned(), "nothing".to_owned())],
        base,
        base + 7200.0,
        Rollup::of(300),
    )
    .await
    .unwrap();
    assert_eq!(empty[0], store::SeriesHistory::default());
}

async fn raw_history_is_read_with_the_unit_and_range(bus: Bus) {
    let now = sense_bus::unix_now();
    for (dt, v) in [(-7200.0, 1.0), (-1800.0, 2.0), (-60.0, 4.0)] {
        poll_at(&bus, "system", now + dt, &[("cpu_temp", v)]).await;
    }
    let series = [
        ("system".to_owned(), "cpu_temp".to_owned()),
        ("system".to_owned(), "missing".to_owned()),
    ];
    let got = store::read_history(&bus, &series, now - 3600.0, now, None)
        .await
        .unwrap();
    let values: Vec<f64> = got[0]
        .points
        .iter()
        .map(|p| match p {
            HistoryPoint::Raw { value, .. } => *value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, [2.0, 4.0]);
    assert_eq!(got[0].unit.as_deref(), Some("C"));
    let s = got[0].summary.unwrap();
    assert_eq!((s.count, s.min, s.mean(), s.max), (2, 2.0, 3.0, 4.0));
    assert_eq!(got[1], store::SeriesHistory::default());
}

/// Old buckets go: a chunk expires at its end plus the retention, computed from the poll's own
/// time, so data older than the retention is never kept.
async fn rollups_are_bounded_by_their_retention(bus: Bus) {
    let now = sense_bus::unix_now();
    let [five, hourly] = ROLLUPS;
    // Eight days ago: past the 5-minute rollup's week, within the hourly one's 90 days.
    let old = now - 8.0 * 86_400.0 - five.chunk_span() as f64;
    poll_at(&bus, "weather", old, &[("temp", 3.0)]).await;
    let five_key = keys::rollup("weather", "temp", 300, five.chunk_of(old));
    let hour_key = keys::rollup("weather", "temp", 3600, hourly.chunk_of(old));
    assert_eq!(bus.ttl(&five_key).await.unwrap(), Ttl::Missing);
    match bus.ttl(&hour_key).await.unwrap() {
        Ttl::Expires(t) => {
            let left = hourly.expire_at(hourly.chunk_of(old)) - now;
            assert!((t.as_secs_f64() - left).abs() < 60.0, "{t:?} vs {left}");
        }
        other => panic!("{other:?}"),
    }
    // Ninety-one days ago: nothing at all.
    let older = now - 91.0 * 86_400.0 - hourly.chunk_span() as f64;
    poll_at(&bus, "weather", older, &[("temp", 3.0)]).await;
    let rollups = bus.keys("rollup:weather:temp:*").await.unwrap();
    assert_eq!(rollups, [hour_key]);
    // Now: one chunk of each, each expiring after its retention.
    poll_at(&bus, "weather", now, &[("temp", 4.0)]).await;
    for r in ROLLUPS {
        let key = keys::rollup("weather", "temp", r.resolution_s, r.chunk_of(now));
        match bus.ttl(&key).await.unwrap() {
            Ttl::Expires(t) => {
                assert!(t > r.retention && t <= r.retention + Duration::from_secs(r.chunk_span()))
            }
            other => panic!("{key}: {other:?}"),
        }
    }
}

/// Many writers folding into the same bucket at once lose nothing (the fold is atomic).
async fn concurrent_writers_lose_no_value_of_a_bucket(bus: Bus) {
    let base = two_days_ago_on_the_hour();
    let writers = (0..40).map(|i| {
        let bus = bus.clone();
        async move {
            poll_at(
                &bus,
                "pihole",
                base + f64::from(i),
                &[("queries", f64::from(i))],
            )
            .await
        }
    });
    futures_join_all(writers).await;
    let series = [("pihole".to_owned(), "queries".to_owned())];
    for rollup in ROLLUPS {
        let got = store::read_history(&bus, &series, base, base + 60.0, Some(rollup))
            .await
            .unwrap();
        let (_, stats) = bucket(&got[0].points[0]);
        assert_eq!(
            (stats.count, stats.sum, stats.min, stats.max),
            (40, 780.0, 0.0, 39.0)
        );
    }
}

/// A source restarts (a new process, a new connection) and Redis itself restarts from its
/// append-only file: the same buckets carry on, nothing starts again from zero.
#[tokio::test]
async fn rollups_continue_across_writer_and_redis_restarts() {
    let mut server =
        RedisServer::start_with_args(&["--appendonly", "yes", "--appendfsync", "always"]);
    // The port stays the same across the restart.
    let url = server.url();
    let connect = || Bus::connect(&url, ConnectOptions::FailAfter(Duration::from_secs(5)));
    let base = two_days_ago_on_the_hour();
    let series = [("co2".to_owned(), "office:co2".to_owned())];
    {
        let first = connect().await.unwrap();
        poll_at(&first, "co2", base + 10.0, &[("office:co2", 600.0)]).await;
        poll_at(&first, "co2", base + 70.0, &[("office:co2", 800.0)]).await;
    }
    let second = connect().await.unwrap();
    poll_at(&second, "co2", base + 130.0, &[("office:co2", 700.0)]).await;
    let check = |got: Vec<store::SeriesHistory>, n: u64| {
        let (start, stats) = bucket(&got[0].points[0]);
        assert_eq!(start, base);
        assert_eq!((stats.count, stats.min, stats.max), (n, 600.0, 800.0));
        assert!(close(stats.mean(), 700.0));
    };
    for r in ROLLUPS {
        check(
            store::read_history(&second, &series, base, base + 300.0, Some(r))
                .await
                .unwrap(),
            3,
        );
    }
    drop(second);
    server.restart();
    let third = connect().await.unwrap();
    poll_at(&third, "co2", base + 190.0, &[("office:co2", 700.0)]).await;
    for r in ROLLUPS {
        check(
            store::read_history(&third, &series, base, base + 300.0, Some(r))
                .await
                .unwrap(),
            4,
        );
    }
}

async fn apply_if_writes_only_when_every_guard_holds(bus: Bus) {
    let mut batch = Batch::new();
    batch.set("cas:a", "2", None).publish("cas:done", "x");
    // The key is absent, the guard says it holds "1": nothing happens.
    let guard = [Guard::holds("cas:a", Some("1"))];
    assert!(!bus.apply_if(&guard, &batch).await.unwrap());
    assert_eq!(bus.get("cas:a").await.unwrap(), None);
    // Absent as expected: applied.
    assert!(
        bus.apply_if(&[Guard::holds("cas:a", None)], &batch)
            .await
            .unwrap()
    );
    assert_eq!(bus.get("cas:a").await.unwrap().as_deref(), Some("2"));
    // Holds "2" now; a guard on the old absence fails, one on "2" passes.
    let mut next = Batch::new();
    next.set("cas:a", "3", None).del("cas:b");
    assert!(
        !bus.apply_if(&[Guard::holds("cas:a", None)], &next)
            .await
            .unwrap()
    );
    assert!(
        bus.apply_if(&[Guard::holds("cas:a", Some("2"))], &next)
            .await
            .unwrap()
    );
    assert_eq!(bus.get("cas:a").await.unwrap().as_deref(), Some("3"));
}

/// 120 writers, each setting one field of its own in the same two sections at once: every
/// field is there at the end (a read-merge-write without compare-and-set lost about a quarter).
async fn concurrent_partial_config_writes_lose_nothing(bus: Bus) {
    let no_env = |_: &str| None;
    let writers = (0..120).map(|i| {
        let bus = bus.clone();
        async move {
            // Half write one of schedule's fields, half one of display's.
            let (section, field) = if i % 2 == 0 {
                (
                    SectionName::Schedule,
                    [
                        "tailscale",
                        "pihole",
                        "system",
                        "aranet4",
                        "weather",
                        "sensors",
                    ][i % 6],
                )
            } else {
                (
                    SectionName::Display,
                    ["scroll_speed", "icon_duration", "cycle_interval"][i % 3],
                )
            };
            let value = match field {
                "scroll_speed" => json!(0.01 + (i as f64) / 1000.0),
                "icon_duration" => json!((i % 30) as f64),
                _ => json!(100 + i),
            };
            let patch = json!({ field: value }).as_object().unwrap().clone();
            store::update_config(&bus, &[(section, patch)], &no_env)
                .await
                .map(|_| (section, field, value))
        }
    });
    let results = futures_join_all(writers).await;
    // Every field written is there, with one of the values written to it.
    let mut written: std::collections::BTreeMap<(SectionName, &str), Vec<serde_json::Value>> =
        Default::default();
    for r in results {
        let (section, field, value) = r.expect("every write lands");
        written.entry((section, field)).or_default().push(value);
    }
    for ((section, field), values) in written {
        let stored: serde_json::Value = serde_json::from_str(
            &bus.get(&format!("config:{section}"))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert!(
            values.contains(&stored[field]),
            "config:{section}.{field} lost: {stored}"
        );
    }
}

/// Runs `futures` concurrently on this thread (the writers borrow a non-`Sync` environment).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let handles: Vec<_> = futures.map(tokio::task::spawn_local).collect();
            let mut out = Vec::with_capacity(handles.len());
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        })
        .await
}

async fn a_stale_revision_is_refused(bus: Bus) {
    let no_env = |_: &str| None;
    let patch = |v: serde_json::Value| v.as_object().unwrap().clone();
    let first = store::update_sections(
        &bus,
        &[store::SectionUpdate::new(
            SectionName::Sleep,
            patch(json!({"start_hour": 22})),
        )],
        &no_env,
    )
    .await
    .unwrap();
    let loaded = sense_bus::config::revision(first[0].text.as_deref());
    // Someone else writes.
    store::update_config(
        &bus,
        &[(SectionName::Sleep, patch(json!({"end_hour": 6})))],
        &no_env,
    )
    .await
    .unwrap();
    // The form loaded before that is refused, and nothing changes.
    let stale = store::update_sections(
        &bus,
        &[store::SectionUpdate {
            section: SectionName::Sleep,
            patch: patch(json!({"start_hour": 21})),
            revision: Some(loaded),
            node: None,
        }],
        &no_env,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        stale,
        store::ConfigWriteError::Stale {
            section: SectionName::Sleep
        }
    ));
    let stored: serde_json::Value =
        serde_json::from_str(&bus.get("config:sleep").await.unwrap().unwrap()).unwrap();
    assert_eq!(stored, json!({"start_hour": 22, "end_hour": 6}));
}

/// Writes `patch` (JSON) to `section` through [`store::update_sections`], without an environment.
async fn write(
    bus: &Bus,
    section: SectionName,
    patch: serde_json::Value,
) -> Result<store::WrittenSection, store::ConfigWriteError> {
    let update = store::SectionUpdate::new(section, patch.as_object().unwrap().clone());
    let mut written = store::update_sections(bus, &[update], &|_| None).await?;
    Ok(written.remove(0))
}

async fn stored_json(bus: &Bus, section: SectionName) -> serde_json::Value {
    serde_json::from_str(&bus.get(&keys::config(section)).await.unwrap().unwrap()).unwrap()
}

async fn a_partial_write_is_judged_on_the_fields_it_sets(bus: Bus) {
    // Upstream's gateway stores `rotation: 45` without checking it.
    bus.set(
        "config:display",
        r#"{"rotation":45,"scroll_speed":0.05}"#,
        None,
    )
    .await
    .unwrap();

    // Another field is written; the bad one is named, and kept as it was.
    let written = write(&bus, SectionName::Display, json!({"low_light": true}))
        .await
        .expect("a bad stored field does not block the write");
    let warnings: Vec<String> = written.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["display.rotation: must be one of 0, 90, 180, 270 (got 45)"]
    );
    assert_eq!(
        stored_json(&bus, SectionName::Display).await,
        json!({"rotation": 45, "scroll_speed": 0.05, "low_light": true})
    );
    assert_eq!(
        bus.get("config:display").await.unwrap().as_deref(),
        written.text.as_deref()
    );
    // Readers use the default for it, and say so.
    let (config, problems) = store::load_config(&bus, &[SectionName::Display], &|_| None)
        .await
        .unwrap();
    assert_eq!(
        (config.display.rotation, config.display.low_light),
        (0, true)
    );
    assert_eq!(
        problems,
        ["config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0"]
    );

    // A written field that is invalid is still refused, naming it, and nothing changes.
    let before = bus.get("config:display").await.unwrap();
    for (patch, field) in [
        (json!({"rotation": 45}), "display.rotation"),
        (json!({"cycle_interval": -1}), "display.cycle_interval"),
    ] {
        match write(&bus, SectionName::Display, patch.clone()).await {
            Err(store::ConfigWriteError::Invalid(e)) => assert_eq!(e.field, field, "{patch}"),
            other => panic!("{patch}: {other:?}"),
        }
    }
    assert_eq!(bus.get("config:display").await.unwrap(), before);

    // Writing the field fixes it: no warning left, nor a problem for readers.
    let written = write(&bus, SectionName::Display, json!({"rotation": 90}))
        .await
        .unwrap();
    assert!(written.warnings.is_empty(), "{:?}", written.warnings);
    assert_eq!(
        stored_json(&bus, SectionName::Display).await["rotation"],
        90
    );
    let (_, problems) = store::load_config(&bus, &[SectionName::Display], &|_| None)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

async fn a_partial_write_keeps_a_stored_list_with_a_bad_entry(bus: Bus) {
    let office = json!({"label": "office", "mac": "AA:BB:CC:DD:EE:FF", "enabled": true});
    let bad = json!({"label": "bedroom", "mac": "not-a-mac", "enabled": true});
    let stored = json!({"sensors": [office.clone(), bad.clone()], "timeout": 10});
    bus.set("config:aranet4", &stored.to_string(), None)
        .await
        .unwrap();

    let written = write(&bus, SectionName::Aranet4, json!({"timeout": 30}))
        .await
        .unwrap();
    assert_eq!(written.warnings.len(), 1, "{:?}", written.warnings);
    assert_eq!(written.warnings[0].field, "aranet4.sensors[1].mac");
    let now = stored_json(&bus, SectionName::Aranet4).await;
    assert_eq!(
        now["sensors"], stored["sensors"],
        "the list is kept as stored"
    );
    assert_eq!(now["timeout"], 30);

    // A write of the list is judged on the list written: the bad entry sent back is refused.
    match write(
        &bus,
        SectionName::Aranet4,
        json!({"sensors": [office.clone(), bad]}),
    )
    .await
    {
        Err(store::ConfigWriteError::Invalid(e)) => {
            assert_eq!(e.field, "aranet4.sensors[1].mac");
        }
        other => panic!("{other:?}"),
    }
    // Fixed, it goes in and the warning is gone.
    let fixed = json!({"label": "bedroom", "mac": "11:22:33:44:55:66", "enabled": true});
    let written = write(
        &bus,
        SectionName::Aranet4,
        json!({"sensors": [office, fixed]}),
    )
    .await
    .unwrap();
    assert!(written.warnings.is_empty(), "{:?}", written.warnings);
}

async fn capped_lists_keep_the_newest_entries(bus: Bus) {
    assert!(
        bus.list("history:system:cpu_percent")
            .await
            .unwrap()
            .is_empty()
    );
    for i in 0..5 {
        let mut batch = Batch::new();
        batch.push_capped(
            "history:system:cpu_percent",
            format!("{i} {i}.5"),
            3,
            Some(Duration::from_secs(60)),
        );
        bus.apply(&batch).await.unwrap();
    }
    assert_eq!(
        bus.list("history:system:cpu_percent").await.unwrap(),
        ["2 2.5", "3 3.5", "4 4.5"]
    );
    assert!(matches!(
        bus.ttl("history:system:cpu_percent").await.unwrap(),
        Ttl::Expires(_)
    ));
}

async fn front_capped_lists_keep_the_newest_first(bus: Bus) {
    for i in 0..4 {
        let mut batch = Batch::new();
        batch.push_front_capped("alerts:history", format!("e{i}"), 3, None);
        bus.apply(&batch).await.unwrap();
    }
    assert_eq!(
        bus.list("alerts:history").await.unwrap(),
        ["e3", "e2", "e1"]
    );
    assert_eq!(bus.ttl("alerts:history").await.unwrap(), Ttl::Persistent);
    // The same through the guarded path (one script on Redis).
    let mut batch = Batch::new();
    batch.push_front_capped("alerts:history", "e4", 3, Some(Duration::from_secs(60)));
    assert!(bus.apply_if(&[], &batch).await.unwrap());
    assert_eq!(
        bus.list("alerts:history").await.unwrap(),
        ["e4", "e3", "e2"]
    );
    assert!(matches!(
        bus.ttl("alerts:history").await.unwrap(),
        Ttl::Expires(_)
    ));
}

async fn values_round_trip(bus: Bus) {
    assert_eq!(bus.get("nope").await.unwrap(), None);
    bus.set("k", "v", None).await.unwrap();
    assert_eq!(bus.get("k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(bus.ttl("k").await.unwrap(), Ttl::Persistent);
    let got = bus.mget(&["k".into(), "nope".into()]).await.unwrap();
    assert_eq!(got, [Some("v".to_owned()), None]);
    assert!(bus.del("k").await.unwrap());
    assert!(!bus.del("k").await.unwrap());
    assert_eq!(bus.ttl("k").await.unwrap(), Ttl::Missing);
}

async fn keys_expire_after_their_ttl(bus: Bus) {
    bus.set("short", "1", Some(Duration::from_millis(150)))
        .await
        .unwrap();
    bus.set("long", "1", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    match bus.ttl("short").await.unwrap() {
        Ttl::Expires(left) => assert!(left <= Duration::from_millis(150), "{left:?}"),
        other => panic!("expected an expiry, got {other:?}"),
    }
    // Gone once its 150 ms are up; nothing announces an expiry, so ask until it is.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while bus.get("short").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a 150 ms key still there after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bus.ttl("short").await.unwrap(), Ttl::Missing);
    assert_eq!(bus.keys("*").await.unwrap(), ["long"]);
}

async fn values_are_read_with_their_remaining_life(bus: Bus) {
    bus.set("life:short", "1", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    bus.set("life:forever", "2", None).await.unwrap();
    let mut batch = Batch::new();
    batch.push_capped("life:list", "x", 10, None);
    bus.apply(&batch).await.unwrap();
    let keys = ["life:short", "life:forever", "life:none", "life:list"].map(String::from);
    let got = bus.mget_ttl(&keys).await.unwrap();
    match &got[0] {
        Some((v, Ttl::Expires(left))) => {
            assert_eq!(v, "1");
            assert!(
                *left <= Duration::from_secs(30) && *left > Duration::from_secs(20),
                "{left:?}"
            );
        }
        other => panic!("expected a value with an expiry, got {other:?}"),
    }
    assert_eq!(got[1], Some(("2".to_owned(), Ttl::Persistent)));
    assert_eq!(got[2], None);
    // A list is not a text value (Redis's MGET answers nil for it).
    assert_eq!(got[3], None);
    assert!(bus.mget_ttl(&[]).await.unwrap().is_empty());
}

async fn set_nx_writes_only_once(bus: Bus) {
    assert!(
        bus.set_nx("config:weather", "{\"location\":\"London\"}")
            .await
            .unwrap()
    );
    assert!(
        !bus.set_nx("config:weather", "{\"location\":\"Paris\"}")
            .await
            .unwrap()
    );
    assert_eq!(
        bus.get("config:weather").await.unwrap().as_deref(),
        Some("{\"location\":\"London\"}")
    );
}

async fn keys_are_found_by_pattern(bus: Bus) {
    for k in [
        "source:co2:office:co2",
        "source:co2:office:battery",
        "source:system:cpu_percent",
        "status:co2",
    ] {
        bus.set(k, "1", None).await.unwrap();
    }
    assert_eq!(
        bus.keys("source:co2:*").await.unwrap(),
        ["source:co2:office:battery", "source:co2:office:co2"]
    );
    assert_eq!(bus.keys("source:*").await.unwrap().len(), 3);
    assert!(bus.keys("meta:*").await.unwrap().is_empty());
}

async fn batches_land_before_their_notice(bus: Bus) {
    let mut sub = bus
        .subscribe(&[Topic::channel("data:system")])
        .await
        .unwrap();
    let mut batch = Batch::new();
    batch
        .set(
            "source:system:cpu_percent",
            "{}",
            Some(Duration::from_secs(60)),
        )
        .set("meta:system", "{}", None)
        .publish("data:system", "hello");
    bus.apply(&batch).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(2), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (msg.channel.as_str(), msg.payload.as_str()),
        ("data:system", "hello")
    );
    // By the time the notice arrives the data is there.
    assert!(
        bus.get("source:system:cpu_percent")
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        bus.ttl("source:system:cpu_percent").await.unwrap(),
        Ttl::Expires(_)
    ));
}

async fn pattern_and_channel_subscriptions(bus: Bus) {
    let mut sub = bus
        .subscribe(&[Topic::pattern("data:*"), Topic::channel("config:changed")])
        .await
        .unwrap();
    assert_eq!(bus.publish("data:weather", "w").await.unwrap(), 1);
    assert_eq!(bus.publish("config:changed", "c").await.unwrap(), 1);
    assert_eq!(bus.publish("matrix:state", "m").await.unwrap(), 0);
    let first = tokio::time::timeout(Duration::from_secs(2), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.channel, "data:weather");
    assert_eq!(first.pattern.as_deref(), Some("data:*"));
    let second = tokio::time::timeout(Duration::from_secs(2), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (second.channel.as_str(), second.pattern),
        ("config:changed", None)
    );
}

async fn dropped_subscriptions_stop_receiving(bus: Bus) {
    let sub = bus.subscribe(&[Topic::channel("c")]).await.unwrap();
    assert_eq!(bus.publish("c", "1").await.unwrap(), 1);
    drop(sub);
    // Redis notices the closed connection asynchronously.
    for _ in 0..100 {
        if bus.publish("c", "2").await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a dropped subscription still receives");
}

async fn commands_round_trip(bus: Bus) {
    let mut server = CommandServer::listen(&bus, "sensors").await.unwrap();
    let serving = tokio::spawn(async move {
        let cmd = server.next().await.unwrap();
        assert_eq!(cmd.action, "set_rotation");
        let rotation = cmd.params["rotation"].as_u64().unwrap();
        let mut data = serde_json::Map::new();
        data.insert("rotation".into(), json!(rotation));
        server
            .respond(&CommandResponse::ok(&cmd.request_id, data))
            .await
            .unwrap();
    });
    let client = CommandClient::new(bus.clone()).await.unwrap();
    let params = json!({"rotation": 90}).as_object().unwrap().clone();
    let response = client
        .send("sensors", "set_rotation", params, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(response.is_ok());
    assert_eq!(response.data["rotation"], 90);
    serving.await.unwrap();
}

async fn commands_without_listener_or_answer_fail_clearly(bus: Bus) {
    let client = CommandClient::new(bus.clone()).await.unwrap();
    let err = client
        .send(
            "nobody",
            "clear",
            Default::default(),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CommandError::NoListener {
            target: "nobody".into()
        }
    );
    assert!(
        err.to_string()
            .contains("no service is listening for `nobody`")
    );

    let _silent = CommandServer::listen(&bus, "silent").await.unwrap();
    let err = client
        .send(
            "silent",
            "clear",
            Default::default(),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::Timeout { .. }), "{err:?}");
}

async fn malformed_commands_with_an_id_are_answered(bus: Bus) {
    let mut server = CommandServer::listen(&bus, "sensors").await.unwrap();
    let mut answers = bus
        .subscribe(&[Topic::channel("cmd:sensors:response:r1")])
        .await
        .unwrap();
    // `action` missing: the server answers with an error instead of going quiet.
    bus.publish("cmd:sensors", r#"{"request_id":"r1"}"#)
        .await
        .unwrap();
    bus.publish("cmd:sensors", r#"not json"#).await.unwrap();
    bus.publish("cmd:sensors", r#"{"action":"clear","request_id":"r2"}"#)
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(2), server.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.request_id, "r2", "malformed commands are skipped");
    let answer = tokio::time::timeout(Duration::from_secs(2), answers.recv())
        .await
        .unwrap()
        .unwrap();
    let answer: CommandResponse = serde_json::from_str(&answer.payload).unwrap();
    assert!(!answer.is_ok());
    assert!(answer.error.unwrap().contains("malformed command"));
}

async fn poll_writes_read_back_per_contract(bus: Bus) {
    let mut data = bus
        .subscribe(&[Topic::pattern(channels::ALL_DATA)])
        .await
        .unwrap();
    let measurements = vec![
        sense_bus::model::Measurement::new(
            "cpu_percent".into(),
            Value::Float(12.5),
            Some(Unit::PERCENT),
        ),
        sense_bus::model::Measurement::new("cpu_temp".into(), Value::Null, Some(Unit::CELSIUS)),
    ];
    let mut status = Status::new("system");
    status.poll_count = 1;
    status.last_poll = Some(1.0);
    let meta = Meta {
        source_id: "system".into(),
        name: "System".into(),
        description: "d".into(),
        refresh_interval: 300,
        enabled: true,
    };
    let write = PollWrite {
        source: SourceId::System.as_str(),
        measurements: &measurements,
        timestamp: 1_708_000_000.0,
        status: &status,
        meta: &meta,
        state: Some("{}"),
        interval_s: 300,
        cache_ttl_s: 60,
    };
    bus.apply(&write.batch()).await.unwrap();

    let raw = bus.get("source:system:cpu_percent").await.unwrap().unwrap();
    assert_eq!(raw, r#"{"value":12.5,"unit":"%","timestamp":1708000000.0}"#);
    match bus.ttl("source:system:cpu_percent").await.unwrap() {
        Ttl::Expires(t) => assert!(t > Duration::from_secs(590), "2 × 300 s: {t:?}"),
        other => panic!("{other:?}"),
    }
    match bus.ttl("status:system").await.unwrap() {
        Ttl::Expires(t) => assert!(t > Duration::from_secs(890), "3 × 300 s: {t:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(bus.ttl("meta:system").await.unwrap(), Ttl::Persistent);

    let snapshot = store::read_source(&bus, "system").await.unwrap();
    assert_eq!(snapshot.readings.len(), 2);
    // Numeric readings also go to their history; null ones do not.
    assert_eq!(
        bus.list("history:system:cpu_percent").await.unwrap(),
        ["1708000000.0 12.5"]
    );
    assert!(
        bus.list("history:system:cpu_temp")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(snapshot.readings["cpu_temp"].value, Value::Null);
    assert_eq!(snapshot.status.unwrap().poll_count, 1);
    let all = store::read_all_sources(&bus).await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["system"]);

    let notice = tokio::time::timeout(Duration::from_secs(2), data.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.channel, "data:system");
    let notice: serde_json::Value = serde_json::from_str(&notice.payload).unwrap();
    assert_eq!(
        notice,
        json!({"source_id": "system", "timestamp": 1_708_000_000.0})
    );
}

async fn config_seeding_never_overwrites(bus: Bus) {
    bus.set("config:weather", r#"{"location":"Paris"}"#, None)
        .await
        .unwrap();
    let env = |name: &str| match name {
        "WEATHER_LOCATION" => Some("London".to_owned()),
        "SCHEDULE_SYSTEM" => Some("15".to_owned()),
        "SCHEDULE_PIHOLE" => Some("-1".to_owned()),
        _ => None,
    };
    let (outcome, problems) = store::seed_config_from_env(&bus, &env).await.unwrap();
    let of = |s: SectionName| outcome.iter().find(|(n, _)| *n == s).unwrap().1.clone();
    assert_eq!(of(SectionName::Weather), Seeded::AlreadyPresent);
    assert_eq!(of(SectionName::Schedule), Seeded::Written);
    assert_eq!(of(SectionName::Display), Seeded::NothingToSeed);
    assert_eq!(
        bus.get("config:weather").await.unwrap().as_deref(),
        Some(r#"{"location":"Paris"}"#)
    );
    assert_eq!(
        bus.get("config:schedule").await.unwrap().as_deref(),
        Some(r#"{"system":15}"#)
    );
    assert!(
        problems[0].starts_with("SCHEDULE_PIHOLE=\"-1\""),
        "{problems:?}"
    );

    let (config, problems) =
        store::load_config(&bus, &[SectionName::Weather, SectionName::Schedule], &env)
            .await
            .unwrap();
    assert_eq!(
        config.weather.location, "Paris",
        "Redis wins over the environment"
    );
    assert_eq!(config.schedule.system, 15);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

async fn config_updates_are_all_or_nothing(bus: Bus) {
    let mut changed = bus
        .subscribe(&[Topic::channel("config:changed")])
        .await
        .unwrap();
    bus.set("config:display", r#"{"scroll_speed":0.05}"#, None)
        .await
        .unwrap();
    let object = |v: serde_json::Value| v.as_object().unwrap().clone();
    let no_env = |_: &str| None;

    let err = store::update_config(
        &bus,
        &[
            (SectionName::Weather, object(json!({"location": "Paris"}))),
            (SectionName::Display, object(json!({"rotation": 45}))),
        ],
        &no_env,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "display.rotation: must be one of 0, 90, 180, 270 (got 45)"
    );
    assert_eq!(
        bus.get("config:weather").await.unwrap(),
        None,
        "nothing written"
    );

    let written = store::update_config(
        &bus,
        &[
            (SectionName::Weather, object(json!({"location": "Paris"}))),
            (SectionName::Display, object(json!({"rotation": 90}))),
        ],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(written, [SectionName::Weather, SectionName::Display]);
    let display: serde_json::Value =
        serde_json::from_str(&bus.get("config:display").await.unwrap().unwrap()).unwrap();
    assert_eq!(display, json!({"scroll_speed": 0.05, "rotation": 90}));
    let mut sections = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(2), changed.recv())
            .await
            .unwrap()
            .unwrap();
        let notice: serde_json::Value = serde_json::from_str(&m.payload).unwrap();
        sections.push(notice["section"].as_str().unwrap().to_owned());
    }
    assert_eq!(sections, ["weather", "display"]);
}

/// Redis goes away and comes back: reads, writes and subscriptions resume without a new Bus.
#[tokio::test]
async fn redis_restart_is_survived_without_reconnecting_by_hand() {
    let mut server = RedisServer::start();
    let bus = Bus::connect(
        &server.url(),
        ConnectOptions::FailAfter(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let mut sub = bus
        .subscribe(&[Topic::channel("config:changed")])
        .await
        .unwrap();
    bus.set("k", "before", None).await.unwrap();

    server.stop();
    let err = bus.get("k").await.unwrap_err();
    assert!(
        matches!(
            err,
            sense_bus::BusError::Unavailable { .. } | sense_bus::BusError::Timeout(_)
        ),
        "{err}"
    );

    server.restart();
    let back = std::time::Instant::now();
    loop {
        if bus.set("k", "after", None).await.is_ok() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "no write within 5 s of Redis returning"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bus.get("k").await.unwrap().as_deref(), Some("after"));

    // The subscription was renewed on the new server.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while bus.publish("config:changed", "x").await.unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "subscription not renewed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let msg = tokio::time::timeout(Duration::from_secs(2), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload, "x");
}

#[tokio::test]
async fn an_unreachable_redis_is_named_in_the_error() {
    let port = sense_testkit::free_port();
    let url = format!("redis://:topsecret@127.0.0.1:{port}");
    let err = Bus::connect(&url, ConnectOptions::FailAfter(Duration::from_millis(500)))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port} is unreachable")),
        "{text}"
    );
    assert!(!text.contains("topsecret"), "{text}");
    let err = Bus::connect(
        "http://x",
        ConnectOptions::FailAfter(Duration::from_millis(100)),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("invalid Redis URL"), "{err}");
}

async fn a_node_override_stores_only_its_own_fields(bus: Bus) {
    let no_env = |_: &str| None;
    let kitchen: sense_bus::NodeName = "kitchen".parse().unwrap();
    bus.set(
        "config:display",
        r#"{"rotation": 90, "low_light": true}"#,
        None,
    )
    .await
    .unwrap();
    let mut notices = bus
        .subscribe(&[Topic::channel(channels::CONFIG_CHANGED)])
        .await
        .unwrap();
    let update = |v: serde_json::Value| store::SectionUpdate {
        node: Some(kitchen.clone()),
        ..store::SectionUpdate::new(SectionName::Display, v.as_object().unwrap().clone())
    };
    store::update_sections(&bus, &[update(json!({"rotation": 180}))], &no_env)
        .await
        .unwrap();
    // Only the field the node sets is its own; the shared section is untouched.
    let own: serde_json::Value =
        serde_json::from_str(&bus.get("config:display@kitchen").await.unwrap().unwrap()).unwrap();
    assert_eq!(own, json!({"rotation": 180}));
    let shared: serde_json::Value =
        serde_json::from_str(&bus.get("config:display").await.unwrap().unwrap()).unwrap();
    assert_eq!(shared["rotation"], 90);
    let notice = notices.recv().await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&notice.payload).unwrap()["section"],
        "display@kitchen"
    );
    // Checked as the node reads it: a bad value is refused, naming the field.
    let refused = store::update_sections(&bus, &[update(json!({"rotation": 45}))], &no_env)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("rotation"), "{refused}");
    // The kitchen reads its own over the shared; the hall the shared alone.
    let scoped = |name: &str| {
        bus.clone()
            .with_scope(sense_bus::Scope::node(name.parse().unwrap()))
    };
    let (kitchen_config, _) =
        store::load_config(&scoped("kitchen"), &[SectionName::Display], &no_env)
            .await
            .unwrap();
    assert_eq!(kitchen_config.display.rotation, 180);
    assert!(kitchen_config.display.low_light);
    let (hall_config, _) = store::load_config(&scoped("hall"), &[SectionName::Display], &no_env)
        .await
        .unwrap();
    assert_eq!(hall_config.display.rotation, 90);
}

async fn a_null_in_an_override_follows_the_shared_value_again(bus: Bus) {
    let no_env = |_: &str| None;
    let kitchen: sense_bus::NodeName = "kitchen".parse().unwrap();
    bus.set("config:display", r#"{"rotation": 90}"#, None)
        .await
        .unwrap();
    let update = |v: serde_json::Value, revision: Option<String>| store::SectionUpdate {
        node: Some(kitchen.clone()),
        revision,
        ..store::SectionUpdate::new(SectionName::Display, v.as_object().unwrap().clone())
    };
    let own = || async {
        bus.get("config:display@kitchen")
            .await
            .unwrap()
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap())
    };
    // No override yet: its revision is that of nothing stored.
    let written = store::update_sections(
        &bus,
        &[update(
            json!({"rotation": 180, "low_light": true}),
            Some(sense_bus::config::revision(None)),
        )],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(
        own().await,
        Some(json!({"rotation": 180, "low_light": true}))
    );
    let loaded = sense_bus::config::revision(written[0].text.as_deref());

    // `null`: that field is the shared one again; the others stay the node's own.
    store::update_sections(
        &bus,
        &[update(json!({"rotation": null}), Some(loaded))],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(own().await, Some(json!({"low_light": true})));
    let (config, _) = store::load_config(
        &bus.clone()
            .with_scope(sense_bus::Scope::node(kitchen.clone())),
        &[SectionName::Display],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(
        (config.display.rotation, config.display.low_light),
        (90, true)
    );

    // A field reset and another set in one write; a `null` for a field it does not set is no
    // change.
    store::update_sections(
        &bus,
        &[update(
            json!({"low_light": null, "scroll_speed": 0.2, "show_icons": null}),
            None,
        )],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(own().await, Some(json!({"scroll_speed": 0.2})));
    let loaded =
        sense_bus::config::revision(bus.get("config:display@kitchen").await.unwrap().as_deref());

    // The last field reset: nothing of its own is left, so the override is gone.
    let written = store::update_sections(
        &bus,
        &[update(json!({"scroll_speed": null}), Some(loaded))],
        &no_env,
    )
    .await
    .unwrap();
    assert_eq!(written[0].text, None);
    assert_eq!(own().await, None);
    assert_eq!(
        bus.get("config:display").await.unwrap().as_deref(),
        Some(r#"{"rotation": 90}"#),
        "the shared section is untouched"
    );
    // Gone, its revision is that of nothing stored: a form loaded now sets it anew.
    assert_eq!(loaded_of(&written), sense_bus::config::revision(None));
    store::update_sections(
        &bus,
        &[update(json!({"rotation": 270}), Some(loaded_of(&written)))],
        &no_env,
    )
    .await
    .unwrap();
    // A value is still checked over the shared section, naming the field; a form loaded
    // before the override came back is refused.
    let refused = store::update_sections(&bus, &[update(json!({"rotation": 45}), None)], &no_env)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, store::ConfigWriteError::Invalid(ref e) if e.field == "display.rotation")
    );
    let refused = store::update_sections(
        &bus,
        &[update(
            json!({"rotation": null}),
            Some(sense_bus::config::revision(None)),
        )],
        &no_env,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, store::ConfigWriteError::Stale { .. }),
        "{refused:?}"
    );
    assert_eq!(own().await, Some(json!({"rotation": 270})));

    // A `null` in a shared section is not a reset: refused, naming the field.
    let refused = write(&bus, SectionName::Display, json!({"rotation": null}))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, store::ConfigWriteError::Invalid(ref e) if e.field == "display.rotation")
    );
}

fn loaded_of(written: &[store::WrittenSection]) -> String {
    sense_bus::config::revision(written[0].text.as_deref())
}

async fn a_node_reads_its_own_sources_by_bare_ids(bus: Bus) {
    let reading = json!({"value": 21.5, "unit": "C", "timestamp": 1.0}).to_string();
    for key in [
        "source:sensors@kitchen:temperature",
        "source:sensors@hall:temperature",
        "source:sensors:temperature",
        // A hub key whose sensor holds `@kitchen:`: the pattern matches it, the node does not own it.
        "source:sensors:x@kitchen:y",
    ] {
        bus.set(key, &reading, None).await.unwrap();
    }
    let kitchen = bus
        .clone()
        .with_scope(sense_bus::Scope::node("kitchen".parse().unwrap()));
    let own = store::read_own_sources(&kitchen).await.unwrap();
    assert_eq!(own.keys().collect::<Vec<_>>(), ["sensors"]);
    assert_eq!(
        own["sensors"].readings.keys().collect::<Vec<_>>(),
        ["temperature"]
    );
    // The hub's are every source, as ever.
    let all = store::read_own_sources(&bus).await.unwrap();
    assert!(all.contains_key("sensors") && all.contains_key("sensors@hall"));
}
