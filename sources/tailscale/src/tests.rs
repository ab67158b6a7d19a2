//! The source against a fake tailscaled on a unix socket and a fake CLI.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sense_bus::config::Config;
use sense_http::replay::{ReplayServer, Reply};

use super::*;

const RUNNING: &str = include_str!("../fixtures/status_running.json");
const NEEDS_LOGIN: &str = include_str!("../fixtures/status_needs_login.json");

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sense-ts-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// An executable shell script `name` with `body` after the shebang.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A fake `tailscale` printing `fixture` for `status --json`, complaining otherwise.
    fn cli_printing(&self, fixture: &str) -> PathBuf {
        let file = self.join("status.json");
        std::fs::write(&file, fixture).unwrap();
        self.script(
            "tailscale",
            &format!(
                "[ \"$*\" = 'status --json' ] || {{ echo \"unexpected arguments: $*\" >&2; exit 2; }}\n\
                 cat '{}'",
                file.display()
            ),
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tailscaled answering the status endpoint with `reply`.
async fn tailscaled(dir: &TempDir, reply: Reply) -> (ReplayServer, PathBuf) {
    let socket = dir.join("tailscaled.sock");
    let server = ReplayServer::start_unix(&socket, move |r| {
        if r.method == "GET" && r.path_only() == STATUS_PATH {
            reply.clone()
        } else {
            Reply::Status(404)
        }
    })
    .await;
    (server, socket)
}

async fn poll(source: &mut TailscaleSource) -> Result<PollOutput, PollError> {
    source
        .poll(PollContext::config_only(&Config::default()), &mut ())
        .await
}

fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
    &out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor}"))
        .value
}

fn unit(out: &PollOutput, sensor: &str) -> Option<&'static str> {
    out.measurements
        .iter()
        .find(|m| m.sensor == sensor)
        .unwrap()
        .unit
        .map(Unit::as_str)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[tokio::test]
async fn the_localapi_gives_every_reading() {
    let dir = TempDir::new("localapi");
    let (server, socket) = tailscaled(&dir, Reply::ok(RUNNING)).await;
    let mut source = TailscaleSource::new(&socket, dir.join("no-cli"));
    let out = poll(&mut source).await.unwrap();

    assert_eq!(out.error, None);
    assert_eq!(value(&out, "connected"), &Value::Bool(true));
    assert_eq!(unit(&out, "connected"), None);
    assert_eq!(value(&out, "device_count"), &Value::Int(3));
    assert_eq!(unit(&out, "device_count"), Some("devices"));
    assert_eq!(value(&out, "peers_total"), &Value::Int(4));
    assert_eq!(unit(&out, "peers_total"), Some("devices"));
    assert_eq!(value(&out, "backend_state"), &text("Running"));
    assert_eq!(value(&out, "hostname"), &text("sensepi"));
    assert_eq!(value(&out, "dns_name"), &text("sensepi.tail4c2d9e.ts.net"));
    assert_eq!(value(&out, "tailnet"), &text("alex@example.com"));
    assert_eq!(value(&out, "tailscale_ip"), &text("100.101.102.103"));
    assert_eq!(value(&out, "exit_node"), &text("vps-exit"));
    assert_eq!(value(&out, "health_issues"), &Value::Int(0));
    assert_eq!(
        value(&out, "version"),
        &text("1.78.1-t5d7ab2f8c-g0cb2e1a6d")
    );
    assert_eq!(out.measurements.len(), 11);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, STATUS_PATH);
    assert_eq!(requests[0].header("host"), Some("local-tailscaled.sock"));
    assert_eq!(requests[0].header("origin"), None);
    assert_eq!(requests[0].header("referer"), None);
}

#[tokio::test]
async fn not_connected_is_a_reading_not_an_error() {
    let dir = TempDir::new("needs-login");
    let (_server, socket) = tailscaled(&dir, Reply::ok(NEEDS_LOGIN)).await;
    let mut source = TailscaleSource::new(&socket, dir.join("no-cli"));
    let out = poll(&mut source).await.unwrap();
    assert_eq!(out.error, None);
    assert_eq!(value(&out, "connected"), &Value::Bool(false));
    assert_eq!(value(&out, "device_count"), &Value::Int(0));
    assert_eq!(value(&out, "backend_state"), &text("NeedsLogin"));
    assert_eq!(value(&out, "tailnet"), &Value::Null);
    assert_eq!(value(&out, "tailscale_ip"), &Value::Null);
    assert_eq!(value(&out, "health_issues"), &Value::Int(1));
}

#[tokio::test]
async fn a_stopped_node_counts_no_devices() {
    let dir = TempDir::new("stopped");
    let (_server, socket) = tailscaled(
        &dir,
        Reply::ok(include_str!("../fixtures/status_stopped.json")),
    )
    .await;
    let out = poll(&mut TailscaleSource::new(&socket, dir.join("no-cli")))
        .await
        .unwrap();
    assert_eq!(value(&out, "connected"), &Value::Bool(false));
    assert_eq!(value(&out, "device_count"), &Value::Int(0));
    assert_eq!(value(&out, "peers_total"), &Value::Int(1));
}

#[tokio::test]
async fn without_the_socket_the_cli_answers() {
    let dir = TempDir::new("cli");
    // A name a shell would mangle: the CLI must be executed directly.
    let cli_dir = TempDir::new("odd $(name); x");
    let cli = cli_dir.cli_printing(RUNNING);
    let mut source = TailscaleSource::new(dir.join("missing.sock"), &cli);
    let out = poll(&mut source).await.unwrap();
    assert_eq!(value(&out, "connected"), &Value::Bool(true));
    assert_eq!(value(&out, "device_count"), &Value::Int(3));
}

#[tokio::test]
async fn a_localapi_that_refuses_falls_back_to_the_cli() {
    for reply in [
        Reply::Json {
            status: 403,
            body: "invalid localapi request\n".into(),
        },
        Reply::ok("{\"BackendState\": "),
        Reply::Truncated(RUNNING[..300].to_owned()),
    ] {
        let dir = TempDir::new("refused");
        let (server, socket) = tailscaled(&dir, reply.clone()).await;
        let cli = dir.cli_printing(NEEDS_LOGIN);
        let out = poll(&mut TailscaleSource::new(&socket, &cli))
            .await
            .unwrap_or_else(|e| panic!("{reply:?}: {e}"));
        assert_eq!(
            value(&out, "backend_state"),
            &text("NeedsLogin"),
            "{reply:?}"
        );
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_hung_tailscaled_falls_back_to_the_cli_in_time() {
    let dir = TempDir::new("slow");
    let (_server, socket) = tailscaled(
        &dir,
        Reply::Delay(Duration::from_secs(10), Box::new(Reply::ok(RUNNING))),
    )
    .await;
    let cli = dir.cli_printing(RUNNING);
    let mut source =
        TailscaleSource::new(&socket, &cli).with_client(HttpClient::new(HttpOptions {
            request_timeout: Duration::from_millis(300),
            ..HttpOptions::default()
        }));
    let started = Instant::now();
    poll(&mut source).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn no_socket_and_no_cli_names_both_attempts() {
    let dir = TempDir::new("nothing");
    let socket = dir.join("missing.sock");
    let cli = dir.join("tailscale");
    let e = poll(&mut TailscaleSource::new(&socket, &cli))
        .await
        .unwrap_err();
    let socket = socket.display().to_string();
    let cli = cli.display().to_string();
    assert!(e.0.contains("LocalAPI") && e.0.contains(&socket), "{e}");
    assert!(e.0.contains("cannot connect"), "{e}");
    assert!(
        e.0.contains(&format!("`{cli} status --json`: not found")),
        "{e}"
    );
}

#[tokio::test]
async fn a_failing_cli_is_named_with_its_message() {
    let dir = TempDir::new("exit");
    let cli = dir.script(
        "tailscale",
        "echo 'failed to connect to local tailscaled; it doesn'\"'\"'t appear to be running' >&2\nexit 1",
    );
    let e = poll(&mut TailscaleSource::new(dir.join("missing.sock"), &cli))
        .await
        .unwrap_err();
    assert!(e.0.contains("exit status: 1"), "{e}");
    assert!(e.0.contains("doesn't appear to be running"), "{e}");
}

#[tokio::test]
async fn a_cli_that_cannot_run_is_named() {
    let dir = TempDir::new("noexec");
    let cli = dir.join("tailscale");
    std::fs::write(&cli, "not a program").unwrap();
    let e = poll(&mut TailscaleSource::new(dir.join("missing.sock"), &cli))
        .await
        .unwrap_err();
    assert!(e.0.contains("status --json`: "), "{e}");
    assert!(e.0.to_lowercase().contains("permission denied"), "{e}");
}

#[tokio::test]
async fn a_hanging_cli_is_killed_at_the_timeout() {
    let dir = TempDir::new("hang");
    let pid_file = dir.join("pid");
    let cli = dir.script(
        "tailscale",
        &format!("echo $$ > '{}'\nexec sleep 30", pid_file.display()),
    );
    let mut source = TailscaleSource::new(dir.join("missing.sock"), &cli)
        .with_cli_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let e = poll(&mut source).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{e}");
    assert!(
        e.0.contains("did not finish within 0.5 s and was killed"),
        "{e}"
    );

    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Gone, or a zombie waiting to be reaped: either way no longer running.
        match std::fs::read_to_string(&stat) {
            Err(_) => break,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                break;
            }
            Ok(s) => assert!(Instant::now() < deadline, "still running: {s}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn malformed_answers_from_both_are_errors_naming_both() {
    let dir = TempDir::new("malformed");
    let (_server, socket) = tailscaled(&dir, Reply::ok("<html>hi</html>")).await;
    let cli = dir.script(
        "tailscale",
        "echo '{\"BackendState\": \"Running\", \"Peer\": ['",
    );
    let e = poll(&mut TailscaleSource::new(&socket, &cli))
        .await
        .unwrap_err();
    assert_eq!(e.0.matches("is not the JSON expected").count(), 2, "{e}");
}

#[tokio::test]
async fn a_status_without_backend_state_is_an_error() {
    let dir = TempDir::new("missing-field");
    let (_server, socket) =
        tailscaled(&dir, Reply::ok(r#"{"Version": "1.78.1", "Peer": null}"#)).await;
    let e = poll(&mut TailscaleSource::new(&socket, dir.join("no-cli")))
        .await
        .unwrap_err();
    assert!(e.0.contains("lacks BackendState"), "{e}");
}

#[tokio::test]
async fn a_huge_status_is_refused() {
    let dir = TempDir::new("huge");
    let (_server, socket) = tailscaled(&dir, Reply::Huge(MAX_STATUS_BYTES + 1)).await;
    let e = poll(&mut TailscaleSource::new(&socket, dir.join("no-cli")))
        .await
        .unwrap_err();
    assert!(e.0.contains("more than"), "{e}");
}

#[tokio::test]
async fn the_simulated_status_serves_as_a_tailscaled() {
    let dir = TempDir::new("sim");
    let (_server, socket) = tailscaled(&dir, Reply::ok(simulated_status(1_708_110_000))).await;
    let out = poll(&mut TailscaleSource::new(&socket, dir.join("no-cli")))
        .await
        .unwrap();
    assert_eq!(value(&out, "connected"), &Value::Bool(true));
    assert_eq!(value(&out, "peers_total"), &Value::Int(6));
}

#[test]
fn the_poll_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut source = TailscaleSource::default();
    let config = Config::default();
    let mut state = ();
    let future = source.poll(PollContext::config_only(&config), &mut state);
    assert_send(&future);
}

#[test]
fn defaults() {
    let s = TailscaleSource::default();
    assert_eq!(s.socket(), Path::new("/var/run/tailscale/tailscaled.sock"));
    assert_eq!(s.cli(), Path::new("tailscale"));
}
