//! The Docker launcher against a fake Docker Engine API on a unix socket: every call it makes, in
//! order, with the negotiated prefix and the container spec, and how each failure ends up in the
//! source's status.

mod camera;
mod fake;

use std::time::Duration;

use sense_bus::SourceId;
use sense_http::replay::Reply;
use sense_orchestrator::{CancellationToken, DockerLauncher, HEALTH_KEY, Job, Launcher, RunEnd};
use serde_json::{Value as Json, json};

use fake::{Engine, Fixture, Orchestrator, frames, no_such_host_path, orchestrator_options};

#[tokio::test]
async fn a_poll_is_a_container_created_started_waited_read_and_removed() {
    let fixture = Fixture::new("poll", Engine::default()).await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(5))
        .await;
    assert_eq!(
        fixture.calls(),
        [
            "GET /version",
            "GET /v1.41/containers/orch-1/json",
            "GET /v1.41/containers/json",
            "POST /v1.41/containers/create",
            "POST /v1.41/containers/c1/start",
            "POST /v1.41/containers/c1/wait",
            "GET /v1.41/containers/c1/logs",
            "DELETE /v1.41/containers/c1",
        ]
    );
    let requests = fixture.requests();
    let create = &requests[3];
    assert!(
        create
            .path
            .starts_with("/v1.41/containers/create?name=sp-source-system-run-"),
        "{}",
        create.path
    );
    assert_eq!(create.header("content-type"), Some("application/json"));
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["Image"], "sense-pulse:latest",
        "the orchestrator's own image"
    );
    assert_eq!(body["Entrypoint"], json!(["sense-pulse"]));
    assert_eq!(body["Cmd"], json!(["source", "system", "--once"]));
    let env: Vec<&str> = body["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for var in [
        "REDIS_URL=redis://redis:6379",
        "WEATHER_LOCATION=London",
        "HOST_PROC=/host/proc",
        "HOST_SYS=/host/sys",
    ] {
        assert!(env.contains(&var), "{var} in {env:?}");
    }
    // Host paths as bind mounts: the Engine refuses a missing one instead of creating it.
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([
            {"Type": "bind", "Source": "/proc", "Target": "/host/proc", "ReadOnly": true},
            {"Type": "bind", "Source": "/sys", "Target": "/host/sys", "ReadOnly": true},
        ])
    );
    assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
    assert_eq!(body["HostConfig"]["Privileged"], false);
    // Hardened as the compose services are.
    assert_eq!(body["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(body["HostConfig"]["CapDrop"], json!(["ALL"]));
    assert_eq!(
        body["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges:true"])
    );
    // Not root, bounded, and quiet on the SD card.
    assert_eq!(body["User"], "10001:10001");
    assert_eq!(body["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(body["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert_eq!(body["HostConfig"]["LogConfig"]["Config"]["max-size"], "2m");
    // As the compose file's services.
    assert_eq!(body["HostConfig"]["LogConfig"]["Config"]["max-file"], "3");
    let labels = &body["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "sp");
    assert_eq!(labels["com.docker.compose.service"], "source-system");
    assert_eq!(labels["com.docker.compose.oneoff"], "True");
    assert_eq!(labels["io.sense-pulse.orchestrated"], "true");
    assert_eq!(
        requests[6].path,
        "/v1.41/containers/c1/logs?stdout=1&stderr=1&tail=20"
    );
    assert_eq!(requests[7].path, "/v1.41/containers/c1?force=1");
    // The leftovers query looks for our one-shot containers of this project.
    assert!(
        requests[2].path.contains("filters="),
        "{}",
        requests[2].path
    );

    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            h["sources"]["system"]["last_run"]["outcome"] == "ok"
        })
        .await;
    assert_eq!(health["launcher"], "docker");
    assert_eq!(health["sources"]["system"]["last_run"]["exit_code"], 0);
    orchestrator.stop().await;
}

#[tokio::test]
async fn the_api_version_is_negotiated() {
    let newer = Fixture::new(
        "newer",
        Engine {
            api: "1.50",
            ..Engine::default()
        },
    )
    .await;
    let launcher = DockerLauncher::new(newer.options());
    let outcome = launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    assert_eq!(outcome.log_tail, ["starting", "done"]);
    let calls = newer.calls();
    assert!(
        calls[1..].iter().all(|c| c.contains(" /v1.44/")),
        "{calls:?}"
    );
    // Negotiated once.
    launcher
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        newer
            .calls()
            .iter()
            .filter(|c| *c == "GET /version")
            .count(),
        1
    );

    let older = Fixture::new(
        "older",
        Engine {
            api: "1.30",
            ..Engine::default()
        },
    )
    .await;
    let outcome = DockerLauncher::new(older.options())
        .run_once(
            Job::poll(SourceId::Weather),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    let error = outcome.error().unwrap();
    assert!(
        error.contains("API 1.30") && error.contains("1.41"),
        "{error}"
    );
}

#[tokio::test]
async fn the_image_comes_from_sense_image_or_the_error_says_to_set_it() {
    let no_inspect = Engine {
        inspect: Reply::Json {
            status: 404,
            body: json!({"message": "No such container: orch-1"}).to_string(),
        },
        ..Engine::default()
    };
    let fixture = Fixture::new("image", no_inspect).await;
    let outcome = DockerLauncher::new(fixture.options())
        .run_once(
            Job::poll(SourceId::Pihole),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        outcome.error().as_deref(),
        Some(
            "docker: cannot tell which image to run: set SENSE_IMAGE (inspecting this container \
             `orch-1` failed: docker: No such container: orch-1)"
        )
    );
    let mut options = fixture.options();
    options.image = Some("ghcr.io/sense-pulse/sense-pulse:1.0".into());
    let outcome = DockerLauncher::new(options)
        .run_once(
            Job::poll(SourceId::Pihole),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.end, RunEnd::Exited(0));
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Image"], "ghcr.io/sense-pulse/sense-pulse:1.0");
    // Without our own container's networks, the compose default network.
    assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
}

#[tokio::test]
async fn a_missing_image_is_named_in_the_status() {
    let fixture = Fixture::new(
        "noimage",
        Engine {
            create: Reply::Json {
                status: 404,
                body: json!({"message": "No such image: sense-pulse:latest"}).to_string(),
            },
            ..Engine::default()
        },
    )
    .await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    let status = orchestrator
        .wait_json("status:system", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "docker: No such image: sense-pulse:latest"
    );
    assert_eq!(status["error_count"], 1);
    assert!(!fixture.calls().iter().any(|c| c.ends_with("/start")));
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            !h["sources"]["system"]["last_run"].is_null()
        })
        .await;
    assert_eq!(
        health["sources"]["system"]["last_run"]["outcome"],
        "launch_failed"
    );
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_daemon_that_is_down_is_named_and_the_orchestrator_carries_on() {
    let mut fixture = Fixture::new("down", Engine::default()).await;
    fixture.server = None; // the socket is gone
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::System])).await;
    let status = orchestrator
        .wait_json("status:system", |s| !s["last_error"].is_null())
        .await;
    let error = status["last_error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "docker: cannot reach the Docker daemon at {}:",
            fixture.socket().display()
        )),
        "{error}"
    );
    // The daemon comes back: the next run works.
    fixture.start().await;
    let answer = orchestrator
        .command("trigger", json!({"service": "source-system", "wait": true}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(answer.data["exit_code"], 0);
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_host_path_the_host_lacks_is_named_in_the_status_with_what_to_check() {
    let fixture = Fixture::new(
        "nodbus",
        Engine {
            create: no_such_host_path("/run/dbus/system_bus_socket"),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator =
        Orchestrator::start(orchestrator_options(fixture.options(), &[SourceId::Co2])).await;
    let status = orchestrator
        .wait_json("status:co2", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "the host has no /run/dbus/system_bus_socket: is D-Bus (and bluetoothd) running on the \
         host? (docker: invalid mount config for type \"bind\": bind source path does not exist: \
         /run/dbus/system_bus_socket)"
    );
    let create = fixture
        .requests()
        .into_iter()
        .find(|r| r.path_only().ends_with("/create"))
        .unwrap();
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["HostConfig"].get("Binds"), None);
    assert_eq!(
        body["HostConfig"]["Mounts"],
        json!([{
            "Type": "bind",
            "Source": "/run/dbus/system_bus_socket",
            "Target": "/run/dbus/system_bus_socket",
            "ReadOnly": true,
        }])
    );
    assert!(!fixture.calls().iter().any(|c| c.ends_with("/start")));
    orchestrator.stop().await;

    let fixture = Fixture::new(
        "notailscale",
        Engine {
            create: no_such_host_path("/var/run/tailscale"),
            ..Engine::default()
        },
    )
    .await;
    let outcome = DockerLauncher::new(fixture.options())
        .run_once(
            Job::poll(SourceId::Tailscale),
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        outcome.error().as_deref(),
        Some(
            "the host has no /var/run/tailscale: is tailscaled running? (docker: invalid mount \
             config for type \"bind\": bind source path does not exist: /var/run/tailscale)"
        )
    );
}

#[tokio::test]
async fn a_failing_container_reports_its_exit_code_and_log_tail() {
    let fixture = Fixture::new(
        "exit1",
        Engine {
            wait: Reply::ok(json!({"StatusCode": 3}).to_string()),
            logs: frames(&[
                (2, "2025-01-01T00:00:00.000000Z  INFO starting\n"),
                (
                    2,
                    "2025-01-01T00:00:01.000000Z ERROR Redis at redis://redis:6379 is unreachable\n",
                ),
            ]),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(
        fixture.options(),
        &[SourceId::Tailscale],
    ))
    .await;
    let status = orchestrator
        .wait_json("status:tailscale", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(
        status["last_error"],
        "exited with code 3: ERROR Redis at redis://redis:6379 is unreachable"
    );
    let health = orchestrator
        .wait_json(HEALTH_KEY, |h| {
            !h["sources"]["tailscale"]["last_run"].is_null()
        })
        .await;
    let run = &health["sources"]["tailscale"]["last_run"];
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["log_tail"].as_array().unwrap().len(), 2);
    // The container is removed all the same.
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(2))
        .await;
    orchestrator.stop().await;
}

#[tokio::test]
async fn a_hung_container_is_killed_at_the_timeout() {
    let fixture = Fixture::new(
        "hung",
        Engine {
            wait: Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::ok(json!({"StatusCode": 137}).to_string())),
            ),
            ..Engine::default()
        },
    )
    .await;
    let mut options = orchestrator_options(fixture.options(), &[SourceId::Weather]);
    options.run_timeout = Duration::from_secs(1);
    let orchestrator = Orchestrator::start(options).await;
    let status = orchestrator
        .wait_json("status:weather", |s| !s["last_error"].is_null())
        .await;
    assert_eq!(status["last_error"], "run killed after 1 s (timeout)");
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(2))
        .await;
    let calls = fixture.calls();
    let kill = calls
        .iter()
        .position(|c| c == "POST /v1.41/containers/c1/kill");
    let delete = calls
        .iter()
        .position(|c| c == "DELETE /v1.41/containers/c1");
    assert!(kill.is_some() && kill < delete, "{calls:?}");
    orchestrator.stop().await;
}

#[tokio::test]
async fn leftovers_are_removed_and_compose_services_can_be_restarted() {
    let fixture = Fixture::new(
        "leftovers",
        Engine {
            leftovers: json!([{"Id": "old1"}]),
            services: json!([{"Id": "gw1"}]),
            ..Engine::default()
        },
    )
    .await;
    let orchestrator = Orchestrator::start(orchestrator_options(fixture.options(), &[])).await;
    let answer = orchestrator
        .command("restart_service", json!({"service": "web-gateway"}))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    let calls = fixture.calls();
    assert!(
        calls.contains(&"DELETE /v1.41/containers/old1".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"POST /v1.41/containers/gw1/restart".to_owned()),
        "{calls:?}"
    );
    let lookup = fixture
        .requests()
        .into_iter()
        .rfind(|r| r.path_only() == "/v1.41/containers/json")
        .unwrap();
    assert!(lookup.path.contains("web-gateway"), "{}", lookup.path);
    orchestrator.stop().await;
}

/// compose v1 has no `name:`: a stack started without COMPOSE_PROJECT_NAME is named after its
/// folder. The containers, the network and the camera's volume follow the project compose put the
/// orchestrator in (its own container's label), whatever COMPOSE_PROJECT_NAME says; `--sim`
/// reaches every container.
#[tokio::test]
async fn the_project_is_the_one_compose_runs_us_in_and_sim_reaches_the_containers() {
    let engine = Engine {
        inspect: Reply::ok(
            json!({
                "Id": "orch-1",
                "Config": {
                    "Image": "sense-pulse:latest",
                    "Labels": {"com.docker.compose.project": "docker"},
                },
                "NetworkSettings": {"Networks": {"docker_default": {}}},
            })
            .to_string(),
        ),
        ..Engine::default()
    };
    let fixture = Fixture::new("project", engine).await;
    let mut options = fixture.options();
    options.sim = true;
    let orchestrator = Orchestrator::start(orchestrator_options(options, &[SourceId::Co2])).await;
    fixture
        .wait_for_call("DELETE /v1.41/containers/c1", Duration::from_secs(5))
        .await;
    let requests = fixture.requests();
    let create = requests
        .iter()
        .find(|r| r.path.starts_with("/v1.41/containers/create"))
        .expect("a create");
    assert!(
        create
            .path
            .starts_with("/v1.41/containers/create?name=docker-source-aranet4-run-"),
        "{}",
        create.path
    );
    let body: Json = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Labels"]["com.docker.compose.project"], "docker");
    assert_eq!(body["HostConfig"]["NetworkMode"], "docker_default");
    assert_eq!(body["Cmd"], json!(["source", "co2", "--once", "--sim"]));
    // Simulated: no D-Bus socket from the host, no root.
    assert_eq!(body["HostConfig"]["Mounts"], json!([]), "{body}");
    assert_eq!(body["User"], "10001:10001");
    let leftovers = requests
        .iter()
        .find(|r| r.path.starts_with("/v1.41/containers/json"))
        .expect("the leftovers asked for");
    assert!(
        leftovers
            .path
            .contains("com.docker.compose.project%3Ddocker"),
        "{}",
        leftovers.path
    );
    orchestrator.stop().await;
}
