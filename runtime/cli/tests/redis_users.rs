//! `sense-pulse node add|hub-users|remove|list` on a real redis-server: the users they set, and
//! what each may and may not do once services connect as them.

use std::process::{Command, Output};
use std::time::Duration;

use sense_bus::command::CommandServer;
use sense_bus::model::{CommandResponse, Measurement, Meta, NodeRecord, Status, Value};
use sense_bus::store::{self, PollWrite};
use sense_bus::{Batch, Bus, ConnectOptions, Guard, SectionName, Topic, keys};
use sense_testkit::RedisServer;

fn sense_pulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("REDIS_URL")
        .env("LOG_LEVEL", "info")
        .output()
        .expect("run sense-pulse")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a `node` command that must succeed; its standard output and error.
fn node(args: &[&str]) -> (String, String) {
    let mut all = vec!["node"];
    all.extend(args);
    let out = sense_pulse(&all);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all:?}: {stdout}{stderr}");
    (stdout, stderr)
}

/// The `REDIS_URL=` lines printed, in order.
fn urls(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("REDIS_URL="))
        .map(str::to_owned)
        .collect()
}

/// The password in `redis://user:password@host:port`.
fn password(url: &str) -> String {
    let (_, rest) = url.split_once("://").unwrap();
    let (credentials, _) = rest.rsplit_once('@').unwrap();
    credentials.split_once(':').unwrap().1.to_owned()
}

async fn connect(url: &str) -> Bus {
    Bus::connect(url, ConnectOptions::FailAfter(Duration::from_secs(5)))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// One poll of `source` with a temperature: reading, history, rollups (the Lua fold), status,
/// meta, state and the `data:` notice, in one atomic batch.
fn poll(source: &str) -> Batch {
    let measurements = [Measurement::new(
        "temperature".to_owned(),
        Value::Float(21.5),
        None,
    )];
    let meta = Meta {
        source_id: source.into(),
        name: "Sense HAT".into(),
        description: String::new(),
        refresh_interval: 30,
        enabled: true,
    };
    PollWrite {
        source,
        measurements: &measurements,
        timestamp: sense_bus::unix_now(),
        status: &Status::new(source),
        meta: &meta,
        state: Some("{}"),
        interval_s: 30,
        cache_ttl_s: 60,
    }
    .batch()
}

fn assert_refused(server: &RedisServer, user: &str, pw: &str, command: &[&str]) {
    let reply = server.command_as(user, pw, command);
    assert!(
        reply.as_deref().is_some_and(|r| r.starts_with("-NOPERM")),
        "{user} {command:?}: {reply:?}"
    );
}

fn assert_allowed(server: &RedisServer, user: &str, pw: &str, command: &[&str]) {
    let reply = server.command_as(user, pw, command);
    assert!(
        reply.as_deref().is_some_and(|r| !r.starts_with('-')),
        "{user} {command:?}: {reply:?}"
    );
}

#[tokio::test]
async fn a_satellite_writes_its_own_keys_and_nothing_else() {
    let server = RedisServer::start();
    let hub = format!("127.0.0.1:{}", server.port());
    let (stdout, stderr) = node(&[
        "add",
        "kitchen",
        "--hub",
        &hub,
        "--apply",
        "--redis",
        &server.url(),
    ]);
    assert!(stdout.contains("NODE_NAME=kitchen\n"), "{stdout}");
    assert!(stdout.contains("\nuser node-kitchen on #"), "{stdout}");
    assert!(stderr.contains("Redis has no aclfile"), "{stderr}");
    assert!(
        stderr.contains("default user needs no password"),
        "{stderr}"
    );
    let url = urls(&stdout).pop().unwrap();
    assert!(
        url.starts_with("redis://node-kitchen:") && url.ends_with(&hub),
        "{url}"
    );
    let pw = password(&url);
    assert!(pw.len() >= 64, "{pw}");
    assert_eq!(
        stdout.matches(&pw).count(),
        1,
        "the password once, in the URL"
    );
    assert!(!stderr.contains(&pw));

    let bus = connect(&url).await;
    let id = "sensors@kitchen";
    bus.apply(&poll(id)).await.unwrap();
    assert!(
        server
            .command(&["GET", "source:sensors@kitchen:temperature"])
            .unwrap()
            .contains("21.5")
    );
    assert_eq!(
        server
            .command(&["LLEN", "history:sensors@kitchen:temperature"])
            .unwrap(),
        ":1"
    );
    assert_eq!(
        server
            .command(&["KEYS", "rollup:sensors@kitchen:temperature:*"])
            .unwrap(),
        "*2"
    );
    for key in [
        "status:sensors@kitchen",
        "meta:sensors@kitchen",
        "state:sensors@kitchen",
    ] {
        assert_eq!(server.command(&["EXISTS", key]).unwrap(), ":1", "{key}");
    }
    // The guarded script (apply_if) on its own keys.
    let guard = [Guard::holds("state:sensors@kitchen", Some("{}"))];
    let mut batch = Batch::new();
    batch.set("state:sensors@kitchen", "{\"n\":1}", None);
    assert!(bus.apply_if(&guard, &batch).await.unwrap());
    let record = NodeRecord {
        name: "kitchen".into(),
        room: "Kitchen".into(),
        last_contact: sense_bus::unix_now(),
        interval_s: 30.0,
        sources: vec![id.into()],
        version: "test".into(),
    };
    bus.set("node:kitchen", &store::to_json(&record), None)
        .await
        .unwrap();
    let mut logs = Batch::new();
    logs.push_front_capped(keys::LOGS, "{}", keys::LOGS_KEPT, None)
        .publish(keys::channels::LOGS, "{}");
    bus.apply(&logs).await.unwrap();
    bus.publish("data:sensors@kitchen", "{}").await.unwrap();
    assert_eq!(bus.get("config:display").await.unwrap(), None);
    assert_eq!(bus.get("config:display@kitchen").await.unwrap(), None);
    store::read_config_texts(&bus, &[SectionName::Global, SectionName::Display])
        .await
        .unwrap();

    // Commands: it listens on its own channel and answers on the response channel.
    let mut commands = CommandServer::listen(&bus, id).await.unwrap();
    let admin = connect(&server.url()).await;
    let mut answers = admin
        .subscribe(&[Topic::channel("cmd:sensors@kitchen:response:r1")])
        .await
        .unwrap();
    let command = r#"{"action":"get_matrix","request_id":"r1","params":{},"timestamp":0}"#;
    assert_eq!(
        admin.publish("cmd:sensors@kitchen", command).await.unwrap(),
        1
    );
    let got = commands.next().await.unwrap();
    commands
        .respond(&CommandResponse::ok(&got.request_id, Default::default()))
        .await
        .unwrap();
    assert!(answers.recv().await.unwrap().payload.contains("\"r1\""));

    // Refused: the hub's keys, another node's, a glob look-alike, config and admin commands.
    let user = "node-kitchen";
    for command in [
        &["SET", "source:sensors:temperature", "1"][..],
        &["SET", "source:sensors@hall:temperature", "1"],
        &["SET", "status:co2@hall", "1"],
        &["SET", "source:sensors:x@kitchen:y", "1"],
        &["GET", "config:pihole"],
        &["GET", "config:auth"],
        &["GET", "config:display@hall"],
        &["SET", "config:display", "{}"],
        &["SET", "config:display@kitchen", "{}"],
        &["PUBLISH", "cmd:sensors", "{}"],
        &["PUBLISH", "data:sensors", "{}"],
        &["SUBSCRIBE", "cmd:sensors@hall"],
        &["SET", "node:hall", "{}"],
        &["GET", "source:sensors:temperature"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["CONFIG", "GET", "maxmemory"],
        &["FLUSHALL"],
        &["FLUSHDB"],
        &["KEYS", "*"],
        &["ACL", "LIST"],
        &["SHUTDOWN"],
        &["MODULE", "LIST"],
    ] {
        assert_refused(&server, user, &pw, command);
    }
    // Through the bus too, and a poll written as the hub's source fails whole: the script's
    // fold is checked as well (Redis 7), and MULTI drops the batch.
    assert!(
        bus.set("source:sensors:temperature", "1", None)
            .await
            .is_err()
    );
    let refused = bus.apply(&poll("sensors")).await.unwrap_err().to_string();
    assert!(refused.contains("no permissions"), "{refused}");
    let mut fold = Batch::new();
    fold.accumulate("rollup:sensors:temperature:300:0", "0", 1.0, 1e13);
    let refused = bus.apply(&fold).await.unwrap_err().to_string();
    assert!(refused.contains("script can't access"), "{refused}");
    assert_eq!(server.command(&["KEYS", "*:sensors:*"]).unwrap(), "*0");

    // The default user is untouched: the hub's own poll, as today.
    admin.apply(&poll("sensors")).await.unwrap();
    assert_eq!(
        server
            .command(&["EXISTS", "source:sensors:temperature"])
            .unwrap(),
        ":1"
    );

    // `node list` shows the record; `node remove` takes the user and the record away.
    let (listed, _) = node(&["list", "--redis", &server.url()]);
    assert!(
        listed.contains("kitchen") && listed.contains("Kitchen"),
        "{listed}"
    );
    let (_, said) = node(&["remove", "kitchen", "--apply", "--redis", &server.url()]);
    assert!(
        said.contains("removed the Redis user node-kitchen"),
        "{said}"
    );
    assert_eq!(server.command_as(user, &pw, &["PING"]), None);
    assert_eq!(server.command(&["EXISTS", "node:kitchen"]).unwrap(), ":0");
}

#[tokio::test]
async fn the_hubs_users_each_do_their_part() {
    let server = RedisServer::start();
    let (stdout, _) = node(&["hub-users", "--apply", "--redis", &server.url()]);
    let [gateway, hub, notify] = <[String; 3]>::try_from(urls(&stdout)).unwrap();
    assert!(
        gateway.starts_with("redis://gateway:")
            && gateway.ends_with(&format!("127.0.0.1:{}", server.port()))
    );
    let line_count = stdout.lines().filter(|l| l.starts_with("user ")).count();
    assert_eq!(line_count, 3, "{stdout}");
    server
        .command(&["SET", "status:sensors@kitchen", "{}"])
        .unwrap();

    // The gateway: reads everything (SCAN included), writes config, sends commands.
    let bus = connect(&gateway).await;
    assert_eq!(
        bus.keys(keys::ALL_STATUSES).await.unwrap(),
        ["status:sensors@kitchen"]
    );
    bus.get("config:pihole").await.unwrap();
    bus.get("node:kitchen").await.unwrap();
    store::read_all_sources(&bus).await.unwrap();
    let patch = serde_json::json!({"rotation": 90})
        .as_object()
        .unwrap()
        .clone();
    store::update_config(&bus, &[(SectionName::Display, patch)], &|_| None)
        .await
        .unwrap();
    bus.publish("cmd:sensors@kitchen", "{}").await.unwrap();
    let _client = sense_bus::command::CommandClient::new(bus.clone())
        .await
        .unwrap();
    bus.subscribe(&[
        Topic::pattern(keys::channels::ALL_DATA),
        Topic::channel(keys::channels::MATRIX_STATE),
        Topic::channel(keys::channels::CONFIG_CHANGED),
        Topic::channel(keys::channels::LOGS),
    ])
    .await
    .unwrap();
    let pw = password(&gateway);
    assert_allowed(&server, "gateway", &pw, &["SCAN", "0", "MATCH", "status:*"]);
    assert_allowed(
        &server,
        "gateway",
        &pw,
        &["SET", "config:display@kitchen", "{}"],
    );
    for command in [
        &["FLUSHALL"][..],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["SET", "source:sensors:temperature", "1"],
        &["SET", "node:kitchen", "{}"],
        &["SET", "alerts:active", "[]"],
    ] {
        assert_refused(&server, "gateway", &pw, command);
    }

    // The hub: every key, no admin command.
    let pw = password(&hub);
    assert_allowed(
        &server,
        "hub",
        &pw,
        &["SET", "source:weather:temperature", "1"],
    );
    assert_allowed(&server, "hub", &pw, &["PUBLISH", "stream:ended", "{}"]);
    assert_refused(&server, "hub", &pw, &["FLUSHALL"]);
    assert_refused(&server, "hub", &pw, &["ACL", "LIST"]);

    // The notifier: reads all, writes the alerts' keys only.
    let pw = password(&notify);
    assert_allowed(&server, "notify", &pw, &["SET", "alerts:active", "[]"]);
    assert_allowed(&server, "notify", &pw, &["GET", "config:alerts"]);
    assert_refused(&server, "notify", &pw, &["SET", "config:alerts", "{}"]);
    assert_refused(&server, "notify", &pw, &["CONFIG", "GET", "maxmemory"]);
}

#[test]
fn users_are_saved_to_the_aclfile_and_outlive_a_restart() {
    let dir = std::env::temp_dir().join(format!("sense-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.acl");
    std::fs::write(&file, "").unwrap();
    let mut server = RedisServer::start_with_args(&["--aclfile", file.to_str().unwrap()]);
    let (stdout, stderr) = node(&[
        "add",
        "hall",
        "--hub",
        "hub",
        "--apply",
        "--redis",
        &server.url(),
    ]);
    assert!(stderr.contains("Saved in Redis's aclfile"), "{stderr}");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("user node-hall on "), "{saved}");
    let pw = password(&urls(&stdout)[0]);
    server.restart();
    assert_allowed(&server, "node-hall", &pw, &["SET", "status:co2@hall", "{}"]);
    node(&["remove", "hall", "--apply", "--redis", &server.url()]);
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("node-hall")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_names_and_hubs_are_refused_in_words() {
    for args in [
        &["node", "add", "Kitchen"][..],
        &["node", "add", "a@b"],
        &["node", "remove", "x-"],
    ] {
        let out = sense_pulse(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: node name"), "{stderr}");
    }
    let out = sense_pulse(&["node", "add", "kitchen", "--hub", "hub:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a number from 1 to 65535"));
    // Without --apply nothing needs Redis: the settings alone.
    let (stdout, stderr) = node(&["add", "kitchen", "--hub", "hub.local"]);
    assert!(urls(&stdout)[0].ends_with("@hub.local:6379"), "{stdout}");
    assert!(stderr.contains("Nothing was set on Redis"), "{stderr}");
}
