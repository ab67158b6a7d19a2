//! Several Pis, one installation, with nothing shared but the network: a hub (`run --sim` on a
//! real redis-server whose users are made by `sense-pulse node add` / `node hub-users`) and two
//! satellites, `kitchen` and `hall`, each in a network namespace of its own reached over a veth
//! pair, each running `sense-pulse orchestrator --sim --node <name>` with its own Redis user.
//!
//! What a user would check: the dashboard's API shows all three Pis' sources; a command reaches
//! the named Pi's Sense HAT and no other; a satellite whose link is cut for 30 s is one lost node
//! (its sources kept, frozen) and comes back by itself; and each satellite's Redis user is
//! refused another node's keys, the hub's keys, other sections' secrets and `CONFIG SET`.
//!
//! Needs root (`ip netns`). Only addresses the test creates are used: 10.213.{1,2}.0/30.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::Run;
use common::procs;
use sense_bus::{Bus, ConnectOptions, Topic};
use sense_testkit::RedisServer;
use serde_json::{Value as Json, json};

/// Bounds for what takes a poll or two: a slow CI machine is not a failure.
const WITHIN: Duration = Duration::from_secs(60);
/// How long the kitchen's link is cut.
const CUT: Duration = Duration::from_secs(30);

/// Runs a command that must succeed, and gives its standard output.
fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A satellite Pi: a network namespace joined to this one by a veth pair, and the orchestrator
/// that runs in it.
struct Satellite {
    name: &'static str,
    netns: String,
    /// This side of the veth pair: cutting it cuts the satellite off.
    host_if: String,
    /// The address of this side, where the satellite finds Redis.
    host_addr: String,
    orchestrator: Option<Child>,
    output: Arc<Mutex<Vec<String>>>,
}

impl Satellite {
    /// The namespace `sp-{name}-{pid}` with `10.213.{subnet}.2/30` inside, `.1` on this side.
    fn create(name: &'static str, subnet: u8) -> Satellite {
        let pid = std::process::id();
        let netns = format!("sp-{name}-{pid}");
        // Interface names are at most 15 bytes.
        let host_if = format!("sph{subnet}-{}", pid % 100_000);
        let peer_if = format!("spn{subnet}-{}", pid % 100_000);
        let host_addr = format!("10.213.{subnet}.1");
        let satellite = Satellite {
            name,
            netns: netns.clone(),
            host_if: host_if.clone(),
            host_addr: host_addr.clone(),
            orchestrator: None,
            output: Arc::default(),
        };
        sh("ip", &["netns", "add", &netns]);
        sh(
            "ip",
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if, "netns", &netns,
            ],
        );
        sh(
            "ip",
            &["addr", "add", &format!("{host_addr}/30"), "dev", &host_if],
        );
        sh("ip", &["link", "set", &host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &netns, "ip"];
            all.extend_from_slice(args);
            sh("ip", &all);
        };
        let peer_addr = format!("10.213.{subnet}.2/30");
        inside(&["addr", "add", &peer_addr, "dev", &peer_if]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        satellite
    }

    /// Starts `orchestrator --sim --node {name}` in the namespace, with the Sense HAT resident.
    fn start(&mut self, redis_url: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .arg(env!("CARGO_BIN_EXE_sense-pulse"))
            .args(["orchestrator", "--sim", "--node", self.name])
            .env_remove("RUST_LOG")
            .env_remove("NODE_NAME")
            .env("REDIS_URL", redis_url)
            .env("LOG_LEVEL", "info")
            .env("ORCHESTRATOR_LAUNCHER", "process")
            .env("ORCHESTRATOR_RESIDENT", "sensors")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&self.output);
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    output
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        self.orchestrator = Some(child);
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Cuts the link (as a pulled cable or a dropped Wi-Fi would): nothing passes either way.
    fn cut(&self) {
        sh("ip", &["link", "set", &self.host_if, "down"]);
    }

    fn restore(&self) {
        sh("ip", &["link", "set", &self.host_if, "up"]);
    }

    /// `redis-cli` as this satellite's user, from inside its namespace: the first line it says.
    fn redis_cli(&self, url: &str, args: &[&str]) -> String {
        let out: Output = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "redis-cli",
                "--no-auth-warning",
                "-u",
                url,
            ])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Satellite {
    fn drop(&mut self) {
        if let Some(mut child) = self.orchestrator.take() {
            // A graceful stop, so the orchestrator stops the sources it started; then whatever is
            // left of them, by PID.
            let family = procs::descendants(child.id());
            procs::signal(child.id(), rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            for pid in family.into_iter().filter(|&p| procs::alive(p)) {
                procs::signal(pid, rustix::process::Signal::KILL);
            }
        }
        // Deleting the namespace deletes its end of the veth pair, and so the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `sense-pulse` with `args` and gives what it printed; it must succeed.
fn sense_pulse(args: &[&str], redis_url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(args)
        .env("REDIS_URL", redis_url)
        .env_remove("NODE_NAME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sense-pulse {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `NAME=` in a printed `.env`.
fn env_value(printed: &str, name: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in:\n{printed}"))
        .trim()
        .to_owned()
}

/// `GET /api/nodes`' entry for `name`.
fn node<'a>(nodes: &'a Json, name: &str) -> Option<&'a Json> {
    nodes["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["name"] == name)
}

/// Waits for a `matrix:state@{node}` message for which `check` holds.
async fn wait_matrix(
    sub: &mut sense_bus::Subscription,
    node: &str,
    check: impl Fn(&Json) -> bool,
) -> Json {
    let channel = format!("matrix:state@{node}");
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let message = tokio::time::timeout_at(deadline, sub.recv())
            .await
            .unwrap_or_else(|_| panic!("no matching {channel} within {WITHIN:?}"))
            .expect("the subscription ended");
        if message.channel == channel {
            let state: Json = serde_json::from_str(&message.payload).unwrap();
            if check(&state) {
                return state;
            }
        }
    }
}

#[tokio::test]
async fn a_hub_and_two_satellites_in_network_namespaces_of_their_own() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test makes network namespaces: run it as root"
    );
    let mut kitchen = Satellite::create("kitchen", 1);
    let mut hall = Satellite::create("hall", 2);
    let server =
        RedisServer::start_with_args(&["--bind", "127.0.0.1", &kitchen.host_addr, &hall.host_addr]);
    let port = server.port();
    // An administrator for the set-up; then nobody without a user of their own gets in.
    assert_eq!(
        server
            .command(&[
                "ACL",
                "SETUSER",
                "admin",
                "on",
                ">admin-secret",
                "~*",
                "&*",
                "+@all"
            ])
            .as_deref(),
        Some("+OK")
    );
    assert_eq!(
        server
            // `resetpass`: no password at all, not "no password needed" (which would also keep
            // Redis's protected mode refusing every satellite).
            .command(&["ACL", "SETUSER", "default", "off", "resetpass"])
            .as_deref(),
        Some("+OK")
    );
    let admin = format!("redis://admin:admin-secret@127.0.0.1:{port}");

    // The users, as a person would make them.
    let hub_users = sense_pulse(&["node", "hub-users", "--apply"], &admin);
    // `run` is the hub's orchestrator, sources and gateway in one: the `hub` user.
    let hub_url = hub_users
        .lines()
        .filter_map(|l| l.strip_prefix("REDIS_URL="))
        .find(|url| url.starts_with("redis://hub:"))
        .unwrap_or_else(|| panic!("no hub user in:\n{hub_users}"))
        .to_owned();
    let mut satellite_urls = Vec::new();
    for satellite in [&kitchen, &hall] {
        let printed = sense_pulse(
            &[
                "node",
                "add",
                satellite.name,
                "--hub",
                &format!("{}:{port}", satellite.host_addr),
                "--apply",
            ],
            &admin,
        );
        assert_eq!(env_value(&printed, "NODE_NAME"), satellite.name);
        satellite_urls.push(env_value(&printed, "REDIS_URL"));
    }

    // Polls every 5 s, so the test sees several within its bounds.
    let admin_bus = Bus::connect(&admin, ConnectOptions::FailAfter(Duration::from_secs(5)))
        .await
        .unwrap();
    admin_bus
        .set(
            "config:schedule",
            &json!({"system": 5, "tailscale": 5, "aranet4": 10}).to_string(),
            None,
        )
        .await
        .unwrap();

    let hub = Run::start_on(&hub_url, "nodes", &[]).await;
    kitchen.start(&satellite_urls[0]);
    hall.start(&satellite_urls[1]);
    let said = |hub: &Run| {
        format!(
            "hub:\n{}\n\nkitchen:\n{}\n\nhall:\n{}",
            hub.output(),
            kitchen.output(),
            hall.output()
        )
    };

    // 1. Every Pi's sources, side by side; the installation's own (weather) only once.
    let wanted = [
        "sensors",
        "system",
        "orchestrator",
        "sensors@kitchen",
        "system@kitchen",
        "orchestrator@kitchen",
        "sensors@hall",
        "system@hall",
        "orchestrator@hall",
    ];
    let started = Instant::now();
    let sources = loop {
        let answer = hub.try_get("/api/sources").await;
        if let Some(v) = answer.and_then(|r| serde_json::from_slice::<Json>(&r.body).ok())
            && wanted.iter().all(|id| v[id]["status"].is_object())
            && v["system@kitchen"]["readings"]["cpu_percent"].is_object()
            && v["system@hall"]["readings"]["cpu_percent"].is_object()
        {
            break v;
        }
        assert!(
            started.elapsed() < WITHIN,
            "not every Pi's sources within {WITHIN:?}\n{}",
            said(&hub)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for shared in ["weather@kitchen", "pihole@kitchen", "weather@hall"] {
        assert!(
            sources.get(shared).is_none(),
            "{shared} should be the hub's alone"
        );
    }
    let nodes = hub
        .wait_for("/api/nodes", WITHIN, |v| {
            ["kitchen", "hall"]
                .iter()
                .all(|n| node(v, n).is_some_and(|n| n["contact"] == "ok"))
        })
        .await;
    assert_eq!(node(&nodes, "kitchen").unwrap()["room"], "Kitchen");

    // 2. A command reaches the named Pi's Sense HAT, and no other.
    let mut matrices = admin_bus
        .subscribe(&[Topic::pattern("matrix:state@*")])
        .await
        .unwrap();
    let reply = hub
        .command("sensors@kitchen", "set_rotation", json!({"rotation": 180}))
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    wait_matrix(&mut matrices, "kitchen", |m| m["rotation"] == 180).await;
    let hall_matrix = wait_matrix(&mut matrices, "hall", |_| true).await;
    assert_eq!(
        hall_matrix["rotation"], 0,
        "the hall's display was turned too"
    );
    let reply = hub
        .command("sensors@hall", "show_text", json!({"text": "HALL"}))
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    assert!(
        reply["message"].as_str().unwrap_or("").contains("HALL"),
        "{reply}"
    );
    let unknown = hub.command("sensors@attic", "clear", json!({})).await;
    assert_eq!(
        unknown["success"], false,
        "nobody is in the attic: {unknown}"
    );

    // 3. Least privilege: each satellite may write its own keys and nothing else.
    for (satellite, url, other) in [
        (&kitchen, &satellite_urls[0], "hall"),
        (&hall, &satellite_urls[1], "kitchen"),
    ] {
        let own = format!("source:system@{}:probe", satellite.name);
        assert_eq!(
            satellite.redis_cli(url, &["SET", &own, "1", "PX", "60000"]),
            "OK"
        );
        for refused in [
            vec![
                "SET".to_owned(),
                format!("source:sensors@{other}:temperature"),
                "1".into(),
            ],
            vec![
                "SET".to_owned(),
                format!("status:system@{other}"),
                "{}".into(),
            ],
            vec![
                "SET".to_owned(),
                "source:sensors:temperature".into(),
                "1".into(),
            ],
            vec![
                "SET".to_owned(),
                format!("source:sensors:x@{}:y", satellite.name),
                "1".into(),
            ],
            vec!["SET".to_owned(), "config:display".into(), "{}".into()],
            vec!["GET".to_owned(), "config:pihole".into()],
            vec!["GET".to_owned(), format!("config:display@{other}")],
            vec![
                "PUBLISH".to_owned(),
                format!("cmd:sensors@{other}"),
                "{}".into(),
            ],
            vec![
                "CONFIG".to_owned(),
                "SET".into(),
                "maxmemory".into(),
                "1".into(),
            ],
            vec!["FLUSHALL".to_owned()],
        ] {
            let args: Vec<&str> = refused.iter().map(String::as_str).collect();
            let said = satellite.redis_cli(url, &args);
            assert!(
                said.starts_with("NOPERM") || said.contains("NOPERM"),
                "{} was not refused `{}`: {said}",
                satellite.name,
                args.join(" ")
            );
        }
        // Read the shared config it runs with.
        assert!(
            !satellite
                .redis_cli(url, &["GET", "config:schedule"])
                .contains("NOPERM")
        );
    }

    // 4. The kitchen's link is cut for 30 s: one lost node, its sources kept, the hall unharmed.
    let cut_at = tokio::time::Instant::now();
    kitchen.cut();
    let nodes = hub
        .wait_for("/api/nodes", CUT, |v| {
            node(v, "kitchen").is_some_and(|n| n["contact"] == "lost")
        })
        .await;
    assert_eq!(node(&nodes, "hall").unwrap()["contact"], "ok", "{nodes}");
    let lost_after = cut_at.elapsed();
    let during = serde_json::from_slice::<Json>(&hub.get("/api/sources").await.body).unwrap();
    assert!(
        during["sensors@kitchen"]["readings"]["temperature"].is_object(),
        "the kitchen's last readings should stay on the dashboard: {}",
        during["sensors@kitchen"]
    );
    // The rest of the 30 s: the scenario's length, not a wait for something to happen.
    tokio::time::sleep_until(cut_at + CUT).await;
    let restored_at = sense_bus::unix_now();
    kitchen.restore();

    // Back by itself: in contact, fresh readings, commands answered.
    hub.wait_for("/api/nodes", WITHIN, |v| {
        node(v, "kitchen").is_some_and(|n| n["contact"] == "ok")
    })
    .await;
    hub.wait_for("/api/sources/system@kitchen", WITHIN, |v| {
        v["readings"]["cpu_percent"]["timestamp"]
            .as_f64()
            .is_some_and(|t| t > restored_at)
    })
    .await;
    let started = Instant::now();
    loop {
        let reply = hub
            .command("sensors@kitchen", "set_rotation", json!({"rotation": 90}))
            .await;
        if reply["success"] == true {
            break;
        }
        assert!(
            started.elapsed() < WITHIN,
            "the kitchen's Sense HAT does not answer after the link came back: {reply}\n{}",
            said(&hub)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "kitchen lost after {:.1} s of a {} s cut; back and answering {:.1} s after it ended",
        lost_after.as_secs_f64(),
        CUT.as_secs(),
        sense_bus::unix_now() - restored_at
    );
}
