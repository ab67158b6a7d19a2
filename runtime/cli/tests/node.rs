//! A microcontroller node end to end, with no hardware: the node's firmware logic (`sense-node`,
//! everything but the embassy-rp binding) on simulated chips → a pseudo-terminal → the real
//! `sense-pulse source node` process → a real Redis → the gateway of `run` → `GET
//! /api/sources` and `POST /api/command/…`.
//!
//! Between the node and the pty master sits a relay the test controls, which damages the line
//! the way a real one is damaged: flipped bytes, frames cut short, the node reset in the middle
//! of a frame, the cable pulled and plugged in again (the port's path is a symlink the test
//! moves to a new pty, as udev's `/dev/serial/by-id/…` follows a replugged device).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Run;
use sense_linux::pty::PtyPair;
use sense_linux::serial::SerialPort;
use sense_runtime::node::sim::{SimNode, SimNodeOptions, SimSensor};
use sense_testkit::RedisServer;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

const NODE: &str = "node-pico-e2e";
/// Generous bounds for what happens within a second or two: a slow CI machine is not a failure.
const WITHIN: Duration = Duration::from_secs(30);

/// What the relay does to the node's next frames.
enum Damage {
    /// Flips a byte in the middle of each of the next `n` frames.
    Flip(u32),
    /// Sends only the first half of each of the next `n` frames (then the delimiter).
    Cut(u32),
    /// Sends the first half of the next frame, drops everything after it, and says so: the test
    /// then resets the node (a new one starts, as after a watchdog reset).
    ResetMidFrame(oneshot::Sender<()>),
}

enum Control {
    Damage(Damage),
    /// The link of a node started afresh.
    NewNode(DuplexStream),
    /// The cable is pulled: the pty master is closed (the port hangs up).
    Unplug,
    /// The cable is plugged in: a new pty's master.
    Plug(SerialPort),
}

/// Relays bytes between the node's link and the pty master, damaging frames as told.
async fn relay(mut node: DuplexStream, port: SerialPort, mut control: mpsc::Receiver<Control>) {
    let mut port = Some(port);
    // The host side closed its end (the source stopped): nothing to read until the next plug.
    let mut host_closed = false;
    let mut damage: Option<Damage> = None;
    // Bytes of the node's current frame (between two 0x00 delimiters).
    let mut frame: Vec<u8> = Vec::new();
    let mut dropping = false;
    let mut from_node = [0u8; 256];
    let mut from_port = [0u8; 256];
    loop {
        tokio::select! {
            ctl = control.recv() => match ctl {
                None => return,
                Some(Control::Damage(d)) => damage = Some(d),
                Some(Control::NewNode(link)) => {
                    node = link;
                    dropping = false;
                    frame.clear();
                }
                Some(Control::Unplug) => port = None,
                Some(Control::Plug(master)) => {
                    port = Some(master);
                    host_closed = false;
                }
            },
            read = node.read(&mut from_node), if !dropping => {
                let Ok(n) = read else { return };
                if n == 0 {
                    // This node stopped; wait for the next.
                    dropping = true;
                    continue;
                }
                let mut out = Vec::new();
                for &byte in &from_node[..n] {
                    if byte != 0 {
                        frame.push(byte);
                        continue;
                    }
                    if !frame.is_empty() {
                        match damage.take() {
                            Some(Damage::Flip(left)) => {
                                let mid = frame.len() / 2;
                                frame[mid] = if frame[mid] ^ 0x55 == 0 { 0x0f } else { frame[mid] ^ 0x55 };
                                damage = (left > 1).then(|| Damage::Flip(left - 1));
                            }
                            Some(Damage::Cut(left)) => {
                                frame.truncate(frame.len() / 2);
                                damage = (left > 1).then(|| Damage::Cut(left - 1));
                            }
                            Some(Damage::ResetMidFrame(told)) => {
                                out.extend(&frame[..frame.len() / 2]);
                                frame.clear();
                                dropping = true;
                                let _ = told.send(());
                                break;
                            }
                            None => {}
                        }
                        out.append(&mut frame);
                    }
                    out.push(0);
                }
                if let Some(p) = &port {
                    // A port nobody has open (between unplug and plug) takes nothing.
                    let _ = p.write_all(&out).await;
                }
            }
            read = read_port(&port, &mut from_port), if !host_closed => match read {
                Ok(n) if n > 0 => {
                    let _ = node.write_all(&from_port[..n]).await;
                }
                _ => host_closed = true,
            },
        }
    }
}

async fn read_port(port: &Option<SerialPort>, buf: &mut [u8]) -> std::io::Result<usize> {
    match port {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

fn node_options() -> SimNodeOptions {
    SimNodeOptions {
        id: "pico-e2e",
        period: Duration::from_millis(200),
        led_matrix: true,
        ..SimNodeOptions::default()
    }
}

/// A new node on a duplex link: the node's end and the relay's.
fn new_node() -> (SimNode, DuplexStream) {
    let (ours, its) = tokio::io::duplex(4096);
    (SimNode::spawn(node_options(), its).unwrap(), ours)
}

/// A pty whose slave the symlink `link` points at.
fn plug(link: &Path) -> SerialPort {
    let (master, slave) = PtyPair::open().unwrap().into_parts();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&slave, link).unwrap();
    master
}

struct NodeSource(Child);

impl Drop for NodeSource {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_source(port: &Path, redis: &str) -> NodeSource {
    NodeSource(
        Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
            .args(["source", "node", "--port"])
            .arg(port)
            .args(["--redis", redis])
            .env_remove("RUST_LOG")
            .env("LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    )
}

fn link(v: &Json) -> &Json {
    &v[NODE]["status"]["link"]
}

fn count(v: &Json, field: &str) -> u64 {
    link(v)[field].as_u64().unwrap_or(0)
}

fn polls(v: &Json) -> u64 {
    v[NODE]["status"]["poll_count"].as_u64().unwrap_or(0)
}

/// Waits until the node's readings have moved on by `rounds` polls from `v`, connected, with
/// plausible values: the stream goes on.
async fn stream_goes_on(run: &Run, v: &Json, rounds: u64) -> Json {
    let from = polls(v);
    run.wait_for("/api/sources", WITHIN, |v| {
        polls(v) >= from + rounds
            && link(v)["connected"] == true
            && v[NODE]["status"]["outcome"] == "ok"
            && v[NODE]["readings"]["temperature"]["value"]
                .as_f64()
                .is_some_and(|t| (-40.0..=85.0).contains(&t))
    })
    .await
}

#[tokio::test]
async fn a_node_reaches_the_dashboard_through_damage_resets_and_unplugging() {
    let server = RedisServer::start();
    let run = Run::start(&server, "node").await;
    let dir = PathBuf::from(&run.dir).join("dev");
    std::fs::create_dir_all(&dir).unwrap();
    let port_link = dir.join("ttyACM-pico");

    let master = plug(&port_link);
    let (mut node, link_end) = new_node();
    let (control, controls) = mpsc::channel(8);
    let relay = tokio::spawn(relay(link_end, master, controls));
    let _source = start_source(&port_link, &server.url());

    // The node appears with its readings, its meta and a healthy link.
    let v = run
        .wait_for("/api/sources", WITHIN, |v| {
            link(v)["connected"] == true && polls(v) >= 2
        })
        .await;
    let l = link(&v);
    assert_eq!(l["port"], port_link.display().to_string());
    assert_eq!(l["protocol"], "1.0");
    assert_eq!(
        l["measures"],
        json!(["temperature", "humidity", "pressure"])
    );
    assert_eq!(l["led_matrix"], true);
    assert_eq!(count(&v, "bad_frames"), 0, "{l}");
    for sensor in ["temperature", "humidity", "pressure"] {
        assert!(
            v[NODE]["readings"][sensor]["value"].is_number(),
            "{sensor}: {v}"
        );
    }
    let meta = server.command(&["GET", &format!("meta:{NODE}")]).unwrap();
    assert!(meta.contains("Node pico-e2e"), "{meta}");

    // Flipped bytes: exactly the damaged frames are skipped, and the stream goes on.
    let before = count(&v, "bad_frames");
    control
        .send(Control::Damage(Damage::Flip(3)))
        .await
        .unwrap();
    let v = run
        .wait_for("/api/sources", WITHIN, |v| {
            count(v, "bad_frames") >= before + 3
        })
        .await;
    let v = stream_goes_on(&run, &v, 3).await;
    assert_eq!(count(&v, "bad_frames"), before + 3, "{}", link(&v));

    // Frames cut short: the same.
    let before = count(&v, "bad_frames");
    control.send(Control::Damage(Damage::Cut(3))).await.unwrap();
    let v = run
        .wait_for("/api/sources", WITHIN, |v| {
            count(v, "bad_frames") >= before + 3
        })
        .await;
    let v = stream_goes_on(&run, &v, 3).await;
    assert_eq!(count(&v, "bad_frames"), before + 3, "{}", link(&v));

    // The node resets in the middle of a frame: the cut frame is skipped, the new node's hello
    // is heard, and its restart is counted.
    let (reset, told) = oneshot::channel();
    control
        .send(Control::Damage(Damage::ResetMidFrame(reset)))
        .await
        .unwrap();
    told.await.unwrap();
    node.stop();
    let (fresh, link_end) = new_node();
    node = fresh;
    control.send(Control::NewNode(link_end)).await.unwrap();
    let v = run
        .wait_for("/api/sources", WITHIN, |v| count(v, "restarts") == 1)
        .await;
    stream_goes_on(&run, &v, 3).await;

    // A sensor that stops answering on the node's I2C bus is reported, not fatal: the rounds go
    // on with the other readings, partial, naming the chip; and it comes back.
    node.fail_sensor(SimSensor::Lps25h, true);
    let v = run
        .wait_for("/api/sources", WITHIN, |v| {
            v[NODE]["status"]["outcome"] == "partial"
        })
        .await;
    let status = &v[NODE]["status"];
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .starts_with("LPS25H (pressure)"),
        "{status}"
    );
    assert!(v[NODE]["readings"]["temperature"]["value"].is_number());
    node.fail_sensor(SimSensor::Lps25h, false);
    stream_goes_on(&run, &v, 2).await;

    // A command reaches the node's LED matrix and the node's reply is the answer.
    let answer = run.command(NODE, "show_text", json!({"text": "Hi"})).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert!(
        node.matrix_frame().unwrap().iter().any(|&b| b != 0),
        "the matrix shows the text"
    );
    let refused = run
        .command(NODE, "set_rotation", json!({"rotation": 45}))
        .await;
    assert_eq!(refused["success"], false);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("0, 90, 180 or 270"),
        "{refused}"
    );

    // The cable is pulled: the dashboard says the link is lost, and the source stays listed.
    control.send(Control::Unplug).await.unwrap();
    let _ = std::fs::remove_file(&port_link);
    let v = run
        .wait_for("/api/sources", WITHIN, |v| link(v)["connected"] == false)
        .await;
    // "…link on {port} is lost…", then "cannot open {port}…" once the device is gone.
    let status = &v[NODE]["status"];
    assert_eq!(status["outcome"], "failed", "{status}");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains(&port_link.display().to_string()),
        "{status}"
    );
    let offline = run.command(NODE, "clear", json!({})).await;
    assert_eq!(offline["success"], false, "{offline}");

    // Plugged in again (a new pty at the same path): the node is heard again, by itself.
    control.send(Control::Plug(plug(&port_link))).await.unwrap();
    let v = run
        .wait_for("/api/sources", WITHIN, |v| link(v)["connected"] == true)
        .await;
    stream_goes_on(&run, &v, 3).await;

    drop(control);
    relay.await.unwrap();
    node.stop();
}
