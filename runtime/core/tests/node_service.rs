//! The node service on a real Redis, reading a simulated node on a pseudo-terminal: Redis killed
//! and started again empty is survived with no restart, the node's data and its command server
//! coming back by themselves.

use std::path::PathBuf;
use std::time::Duration;

use sense_bus::command::CommandClient;
use sense_bus::model::{ResponseStatus, Status};
use sense_bus::{Bus, ConnectOptions, store};
use sense_linux::serial::SerialPort;
use sense_runtime::node::service;
use sense_runtime::node::sim::{SimNode, SimNodeOptions};
use sense_testkit::RedisServer;
use serde_json::{Map, json};
use tokio_util::sync::CancellationToken;

const ID: &str = "node-redis-test";
const WITHIN: Duration = Duration::from_secs(20);

async fn status(bus: &Bus) -> Option<Status> {
    store::read_status(bus, ID).await.ok().flatten()
}

/// Asks until `check` holds; the bound is a failure, not a pace.
async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn redis_going_away_and_coming_back_empty_is_survived() {
    let mut server = RedisServer::start();
    let url = server.url();
    let connect = async || {
        Bus::connect(&url, ConnectOptions::FailAfter(WITHIN))
            .await
            .unwrap()
    };
    let bus = connect().await;
    let options = SimNodeOptions {
        id: "redis-test",
        period: Duration::from_millis(200),
        ..SimNodeOptions::default()
    };
    let (node, pty): (SimNode, PathBuf) = SimNode::spawn_on_pty(options).unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let bus = bus.clone();
        let shutdown = shutdown.clone();
        async move {
            let name = pty.display().to_string();
            service::run(bus, &name, || async { SerialPort::open(&pty) }, shutdown).await;
        }
    });

    wait_until("the node's first rounds", async || {
        status(&bus).await.is_some_and(|s| s.poll_count >= 2)
    })
    .await;
    let before = status(&bus).await.unwrap().poll_count;

    server.stop();
    // The node goes on talking meanwhile (a round every 200 ms); the service must neither stop
    // nor block on the bus.
    wait_until("the bus to notice Redis is gone", async || {
        bus.ping().await.is_err()
    })
    .await;
    assert!(
        !task.is_finished(),
        "the service keeps running without Redis"
    );
    server.restart();

    wait_until("the node's data back in the empty Redis", async || {
        status(&bus)
            .await
            .is_some_and(|s| s.poll_count > before && s.link.as_ref().is_some_and(|l| l.connected))
    })
    .await;
    assert!(
        bus.get(&format!("source:{ID}:temperature"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(bus.get(&format!("meta:{ID}")).await.unwrap().is_some());

    // Commands are listened for again: a client on the new server gets the node's answer.
    let client = CommandClient::new(connect().await).await.unwrap();
    let mut params = Map::new();
    params.insert("text".into(), json!("Hi"));
    let mut answer = None;
    wait_until("an answer to show_text", async || {
        answer = client
            .send(ID, "show_text", params.clone(), Duration::from_secs(3))
            .await
            .ok();
        answer.is_some()
    })
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.status, ResponseStatus::Ok, "{answer:?}");
    assert!(node.matrix_frame().unwrap().iter().any(|&b| b != 0));

    shutdown.cancel();
    tokio::time::timeout(WITHIN, task)
        .await
        .expect("stops promptly")
        .unwrap();
    node.stop();
}
