//! The camera's containers: its image, on demand, adopted from a previous orchestrator.

use std::time::Duration;

use sense_bus::{SourceId, unix_now};
use sense_http::replay::Reply;
use sense_orchestrator::{CancellationToken, DockerLauncher, HEALTH_KEY, Job, Launcher, RunEnd};
use serde_json::{Value as Json, json};

use crate::fake::{Engine, Fixture, Orchestrator, created_images, listed, orchestrator_options};

#[tokio::test]
async fn the_camera_runs_its_own_image() {
    let fixture = Fixture::new("camera-image", Engine::default()).await;
    let discover = Job {
        source: SourceId::NetworkCamera,
        mode: sense_orchestrator::JobMode::Discover,
    };
    let mut options = fixture.options();
    options.image = Some("ghcr.io/x/sense-pulse:1.0".into());
    let launcher = DockerLauncher::new(options.clone());
    for job in [Job::poll(SourceId::Weather), discover] {
        let outcome = launcher
            .run_once(job, Duration::from_secs(5), CancellationToken::new())
            .await;
        assert_eq!(outcome.end, RunEnd::Exited(0), "{job}");
    }
    assert_eq!(
        created_images(&fixture),
        [
            "ghcr.io/x/sense-pulse:1.0",
            "ghcr.io/x/sense-pulse-camera:1.0"
        ]
    );

    // SENSE_CAMERA_IMAGE wins.
    options.camera_image = Some("registry.lan/camera:7".into());
    let outcome = DockerLauncher::new(options)
        .run_once(discover, Duration::from_secs(5), CancellationToken::new())
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    assert_eq!(created_images(&fixture)[2], "registry.lan/camera:7");
}

#[tokio::test]
async fn an_image_given_by_id_needs_sense_camera_image_for_the_camera() {
    let by_id = format!("sha256:{}", "0a".repeat(32));
    let fixture = Fixture::new(
        "camera-id",
        Engine {
            inspect: Reply::ok(
                json!({
                    "Id": "orch-1",
                    "Config": {"Image": by_id},
                    "NetworkSettings": {"Networks": {"sp_default": {}}},
                })
                .to_string(),
            ),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator.command("start_camera", json!({})).await;
    let error = answer.error.clone().unwrap_or_default();
    assert!(!answer.is_ok(), "{answer:?}");
    assert!(
        error.contains("SENSE_CAMERA_IMAGE") && error.contains(&by_id),
        "{error}"
    );
    let status = orchestrator
        .wait_json("status:network_camera", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(status["last_error"], error.as_str());
    assert!(created_images(&fixture).is_empty(), "nothing created");
    // The other sources run that image.
    let answer = orchestrator
        .command("trigger", json!({"service": "weather", "wait": true}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(created_images(&fixture), [by_id.as_str()]);
    orchestrator.stop().await;
}

#[tokio::test]
async fn the_camera_runs_on_demand_and_is_removed_after_stream_ended() {
    let fixture = Fixture::new(
        "camera",
        Engine {
            // A camera runs until stopped.
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 0}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator.command("start_camera", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    assert_eq!(
        create.path,
        "/v1.41/containers/create?name=sp-source-camera"
    );
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Cmd"], json!(["source", "network_camera"]));
    // The camera's own image (FFmpeg), named after the orchestrator's.
    assert_eq!(body["Image"], "sense-pulse-camera:latest");
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([{"Type": "volume", "Source": "sp_hls", "Target": "/hls", "ReadOnly": false}])
    );
    assert_eq!(
        body["Labels"]["com.docker.compose.service"],
        "source-camera"
    );
    // FFmpeg writes only to /hls: the root file system stays read-only.
    assert_eq!(body["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(body["HostConfig"]["CapDrop"], json!(["ALL"]));
    assert_eq!(
        body["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges:true"])
    );
    assert_eq!(body["Labels"]["com.docker.compose.oneoff"], "False");
    assert!(
        body["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("HLS_OUTPUT_DIR=/hls"))
    );
    orchestrator
        .bus
        .publish(
            "stream:ended",
            &json!({"source_id": "network_camera", "reason": "user_stopped", "timestamp": unix_now()})
                .to_string(),
        )
        .await
        .unwrap();
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    let stop = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only() == "/v1.41/containers/c1/stop")
        .expect("stopped");
    assert_eq!(stop.path, "/v1.41/containers/c1/stop?t=10");
    assert!(calls.contains(&"GET /v1.41/containers/c1/logs".to_owned()));
    let status = orchestrator
        .wait_json("status:network_camera", |s| !s["stream_ended"].is_null())
        .await;
    assert_eq!(status["stream_ended"]["reason"], "user_stopped");
    assert_eq!(status["last_error"], Json::Null);
    orchestrator.stop().await;
}

#[tokio::test]
async fn at_start_a_streaming_camera_is_adopted_and_the_rest_cleared() {
    let fixture = Fixture::new(
        "adopt",
        Engine {
            leftovers: json!([
                listed(
                    "poll0",
                    SourceId::System,
                    "poll",
                    "exited",
                    "sense-pulse:latest"
                ),
                listed(
                    "cam0",
                    SourceId::NetworkCamera,
                    "service",
                    "running",
                    "sense-pulse-camera:latest"
                ),
                listed(
                    "hat0",
                    SourceId::Sensors,
                    "service",
                    "running",
                    "sense-pulse:latest"
                ),
                listed(
                    "hat1",
                    SourceId::Sensors,
                    "service",
                    "exited",
                    "sense-pulse:latest"
                ),
            ]),
            // The camera streams until stopped.
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 0}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    // Nothing scheduled, no command: what happens is the start's doing.
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["network_camera"]["stream"]["running"] == true
        })
        .await;
    let stream = &health["sources"]["network_camera"]["stream"];
    assert_eq!(stream["adopted"], true);
    assert_eq!(stream["starts"], 0, "adopted, not started");
    fixture
        .wait_for_call("DELETE /v1.41/containers/hat1", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    // The one-shot run is removed; the Sense HAT service is stopped, then removed.
    assert!(
        calls.contains(&"DELETE /v1.41/containers/poll0".to_owned()),
        "{calls:?}"
    );
    let stop = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/hat0/stop");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/hat0");
    assert!(stop.is_some() && stop < delete, "{calls:?}");
    assert!(
        !calls.contains(&"POST /v1.41/containers/hat1/stop".to_owned()),
        "{calls:?}"
    );
    // The camera is followed, not touched.
    fixture
        .wait_for_call("POST /v1.41/containers/cam0/wait", Duration::from_secs(5))
        .await;
    let calls = fixture.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("cam0") && !c.ends_with("/wait")),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.ends_with("/create")), "{calls:?}");

    // stop_camera stops it (nothing listens on cmd:network_camera here: directly).
    let answer = orchestrator.command("stop_camera", json!({})).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["running"], true);
    fixture
        .wait_for_call("DELETE /v1.41/containers/cam0", Duration::from_secs(5))
        .await;
    assert!(
        fixture
            .calls()
            .contains(&"POST /v1.41/containers/cam0/stop".to_owned())
    );
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["network_camera"]["stream"]["running"] == false
        })
        .await;
    let stream = &health["sources"]["network_camera"]["stream"];
    assert_eq!(stream["adopted"], false);
    assert_eq!(stream["last_run"]["outcome"], "stopped");
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_camera_left_running_from_another_image_is_replaced() {
    let fixture = Fixture::new(
        "adopt-old",
        Engine {
            // After `docker compose build` the old container's image shows as its id.
            leftovers: json!([listed(
                "cam0",
                SourceId::NetworkCamera,
                "service",
                "running",
                "sha256:0123"
            )]),
            ..Engine::default()
        },
    )
    .await;
    let launcher = DockerLauncher::new(fixture.options());
    let adopted = launcher
        .recover(vec![(SourceId::NetworkCamera, CancellationToken::new())])
        .await;
    assert!(adopted.is_empty());
    let calls = fixture.calls();
    let stop = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/cam0/stop");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/cam0");
    assert!(stop.is_some() && stop < delete, "{calls:?}");
    // Once: the first job does not look again.
    let outcome = launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    let lists = fixture
        .calls()
        .iter()
        .filter(|c| *c == "GET /v1.41/containers/json")
        .count();
    assert_eq!(lists, 1);
}
