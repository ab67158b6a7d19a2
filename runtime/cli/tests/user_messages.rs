//! The command line as a user meets it: what the one-shot commands and the start of the
//! long-running roles print, and their exit codes. Errors read `error: …` with what to do, not as
//! log lines; values say where they come from; nothing is shown in Rust's debug notation.

use std::io::{BufRead, BufReader};
use std::net::ToSocketAddrs;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sense_testkit::RedisServer;

/// `sense-pulse` with nothing of this process's environment but what is given (a config variable
/// or `REDIS_URL` set where the tests run must not change what they see).
fn sense_pulse(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sense-pulse"));
    cmd.args(args)
        .env_clear()
        .env("LOG_LEVEL", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    cmd
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    sense_pulse(env, args).output().expect("run sense-pulse")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `o` exited with `code` and said exactly one thing on standard error: `error: …`
/// (no log line with a timestamp and level), which it returns without `error: `.
fn the_error(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let message = err
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("not an `error: …`: {err}"));
    assert!(
        !err.contains(" ERROR ") && !err.contains(" WARN "),
        "a log line: {err}"
    );
    assert!(!err.contains("Some("), "debug notation: {err}");
    message.trim_end().to_owned()
}

/// Whether the host name `redis` means something here: then the default Redis URL might reach a
/// real host, which no test may (they talk to loopback only).
fn redis_resolves() -> bool {
    let resolves = ("redis", 6379)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some());
    if resolves {
        eprintln!("the host name `redis` resolves here: the default Redis URL is not tried");
    }
    resolves
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("sense-msg-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child writes to `pipe`, as they come.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lines from `lines` up to and including the first that `done` accepts (20 s at most).
fn lines_until(lines: &mpsc::Receiver<String>, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let last = done(&line);
                seen.push(line);
                if last {
                    return seen;
                }
            }
            Err(_) => panic!("not said within 20 s; said:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn the_default_redis_unreachable_says_to_pass_redis_or_set_redis_url() {
    if redis_resolves() {
        return;
    }
    // No REDIS_URL, no --redis: the address inside the Docker stack.
    let out = run(&[], &["config", "show"]);
    let message = the_error(&out, 3);
    assert!(
        message.starts_with("Redis at redis://redis:6379 is unreachable ("),
        "{message}"
    );
    assert!(
        message.ends_with(
            "That is the address inside the Docker stack: on this machine, pass --redis \
             redis://127.0.0.1:6379 or set REDIS_URL."
        ),
        "{message}"
    );
    // A read: nothing to say about writing.
    assert!(!message.contains("written"), "{message}");

    // A long-running role waits for it, and says after a while how to point it elsewhere.
    let mut gateway = sense_pulse(&[], &["gateway", "--listen", "127.0.0.1:0"]);
    let mut gateway = Killed(gateway.stderr(Stdio::piped()).spawn().unwrap());
    let lines = lines_of(gateway.0.stderr.take().unwrap());
    let said = lines_until(&lines, |l| l.starts_with("warning: "));
    assert_eq!(
        said.last().unwrap(),
        "warning: no answer yet from Redis at redis://redis:6379, the address inside the Docker \
         stack: on this machine, pass --redis redis://127.0.0.1:6379 or set REDIS_URL (waiting on \
         meanwhile)"
    );
    assert_eq!(gateway.0.try_wait().unwrap(), None, "it goes on waiting");
}

#[test]
fn an_unreachable_redis_exits_3_saying_what_to_do() {
    let url = format!("redis://127.0.0.1:{}", sense_testkit::free_port());
    let env = [("REDIS_URL", url.as_str())];
    let out = run(&env, &["source", "system", "--once"]);
    let message = the_error(&out, 3);
    assert!(
        message.starts_with(&format!("Redis at {url} is unreachable (")),
        "{message}"
    );
    assert!(
        message.ends_with(
            "; nothing was written. Start Redis there, or pass --redis (or set REDIS_URL) with \
             where it runs."
        ),
        "{message}"
    );
    let out = run(&env, &["config", "show"]);
    let message = the_error(&out, 3);
    assert!(
        !message.contains("nothing was written"),
        "a read: {message}"
    );
}

#[test]
fn a_login_redis_refuses_is_said_as_such_not_as_unreachable() {
    let server = RedisServer::start();
    let port = server.port();
    assert_eq!(
        server
            .command(&["CONFIG", "SET", "requirepass", "hub-secret"])
            .as_deref(),
        Some("+OK")
    );
    let wrong = format!("redis://node-kitchen:wrong-secret@127.0.0.1:{port}");
    let out = run(&[("REDIS_URL", wrong.as_str())], &["config", "show"]);
    let message = the_error(&out, 3);
    assert!(!message.contains("wrong-secret"), "{message}");
    assert!(!message.contains("unreachable"), "{message}");
    assert!(
        message.contains("refused the login") && message.contains("sense-pulse node add"),
        "{message}"
    );
    let none = format!("redis://127.0.0.1:{port}");
    let out = run(
        &[("REDIS_URL", none.as_str())],
        &["source", "system", "--once"],
    );
    let message = the_error(&out, 3);
    assert!(
        message.contains("it wants a password") && message.ends_with("nothing was written."),
        "{message}"
    );
    // A long-running role waits on (the user may be made on the hub later), saying why.
    let mut child = sense_pulse(
        &[("REDIS_URL", wrong.as_str()), ("NODE_NAME", "kitchen")],
        &["orchestrator", "--sim"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    let said = lines_until(&lines, |l| l.contains("waiting for Redis"));
    let _ = child.kill();
    let _ = child.wait();
    let waiting = said.last().unwrap();
    assert!(
        waiting.contains("refused the login") && !waiting.contains("wrong-secret"),
        "{waiting}"
    );
}

#[test]
fn an_unparsable_redis_url_is_invalid_input_named_without_its_password() {
    // From REDIS_URL, for every role that reads it; one-shot or long-running.
    let bad = "redis://:hunter2@127.0.0.1:notaport";
    for args in [
        &["source", "system", "--once"][..],
        &["config", "show"],
        &["config", "seed"],
        &["gateway", "--listen", "127.0.0.1:0"],
        &["orchestrator"],
        &["run", "--listen", "127.0.0.1:0"],
    ] {
        let out = run(&[("REDIS_URL", bad)], args);
        let message = the_error(&out, 2);
        assert!(
            message.starts_with(
                "the Redis URL redis://:***@127.0.0.1:notaport (from REDIS_URL) is not valid: \
                 its port is not a number from 1 to 65535"
            ),
            "{args:?}: {message}"
        );
        assert!(
            message.ends_with(
                "Set REDIS_URL to a URL such as redis://127.0.0.1:6379 (or pass --redis)."
            ),
            "{args:?}: {message}"
        );
        assert!(!stderr(&out).contains("hunter2"), "{args:?}: {message}");
        assert!(!message.contains("unreachable"), "{args:?}: {message}");
    }
    // From --redis: a URL that does not even parse as one still keeps its password hidden.
    let out = run(
        &[],
        &["config", "show", "--redis", "redis:/:hunter2@127.0.0.1"],
    );
    let message = the_error(&out, 2);
    assert_eq!(
        message,
        "the Redis URL redis:***@127.0.0.1 (from --redis) is not valid: it does not start with \
         redis://: a Redis URL looks like redis://HOST:PORT, such as redis://127.0.0.1:6379. \
         Pass --redis a valid one."
    );
    let out = run(&[], &["config", "show", "--redis", "http://127.0.0.1:6379"]);
    assert!(
        the_error(&out, 2).contains("http:// is not a Redis scheme"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_show_says_where_each_value_comes_from() {
    let server = RedisServer::start();
    server
        .command(&[
            "SET",
            "config:display",
            r#"{"rotation": 90, "show_icons": "yes"}"#,
        ])
        .unwrap();
    let url = server.url();
    let out = run(
        &[
            ("REDIS_URL", &url),
            ("WEATHER_LOCATION", "Oslo"),
            ("PIHOLE_PASSWORD", "hunter2"),
        ],
        &["config", "show"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    let line = |words: &[&str]| {
        shown
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == words)
    };
    assert!(
        shown.starts_with(&format!(
            "The configuration in force. Each value comes from Redis ({url}), else the \
             environment, else the default; secrets are shown as ********.\n"
        )),
        "{shown}"
    );
    assert!(line(&["config:display"]), "{shown}");
    assert!(line(&["rotation", "90", "from", "Redis"]), "{shown}");
    // Stored, but refused: the default is in force.
    assert!(line(&["show_icons", "true", "default"]), "{shown}");
    assert!(
        line(&[
            "location",
            "\"Oslo\"",
            "from",
            "the",
            "environment",
            "(WEATHER_LOCATION)"
        ]),
        "{shown}"
    );
    assert!(
        line(&[
            "password",
            "\"********\"",
            "from",
            "the",
            "environment",
            "(PIHOLE_PASSWORD)"
        ]),
        "{shown}"
    );
    assert!(line(&["timeout", "10", "default"]), "{shown}");
    assert!(
        shown.ends_with(
            "Problems (each value refused is replaced by the next one in line):\n  \
             config:display.show_icons: must be a boolean (got \"yes\"); using true\n"
        ),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("written"), "a read writes nothing: {shown}");
    assert_eq!(stderr(&out), "", "nothing else said");
}

#[test]
fn config_seed_says_what_it_did_in_sentences() {
    let server = RedisServer::start();
    server
        .command(&["SET", "config:weather", r#"{"location": "Bergen"}"#])
        .unwrap();
    let url = server.url();
    let out = run(
        &[
            ("REDIS_URL", &url),
            ("WEATHER_LOCATION", "Oslo"),
            ("SCHEDULE_SYSTEM", "15"),
            ("SCHEDULE_WEATHER", "600"),
            ("DISPLAY_ROTATION", "sideways"),
        ],
        &["config", "seed"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "config:weather: already in Redis, so left as it is (WEATHER_LOCATION not applied; \
         change it in the dashboard, or delete the key and seed again).\n\
         config:schedule: written from SCHEDULE_SYSTEM, SCHEDULE_WEATHER.\n\
         The environment sets nothing of global, display, sleep, pihole, aranet4, camera, auth, \
         sensors, alerts, mqtt: nothing written there.\n"
    );
    assert_eq!(
        stderr(&out),
        "warning: DISPLAY_ROTATION=\"sideways\" is not a whole number; ignored\n"
    );
    assert_eq!(
        server.command(&["GET", "config:schedule"]).as_deref(),
        Some(r#"{"system":15,"weather":600}"#)
    );

    let out = run(&[("REDIS_URL", &url)], &["config", "seed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "The environment sets no config variable, so there was nothing to seed (the variables \
         are listed in docs/CONTRACT.md, section 4).\n"
    );
}

#[test]
fn config_import_reports_every_bad_value_on_its_own_line() {
    let server = RedisServer::start();
    let url = server.url();
    let file = write_temp(
        "bad.yaml",
        "\
sleep:
  start_hour: 22
display:
  rotation: 45
aranet4:
  sensors:
    - label: Office
      mac_address: \"AA:BB:CC:DD:EE\"
    - label: Bedroom
      mac_address: AA:BB:CC:DD:EE:02
update:
  interval: -3
",
    );
    let path = file.to_str().unwrap();
    let out = run(&[("REDIS_URL", &url)], &["config", "import", path]);
    let message = the_error(&out, 2);
    assert_eq!(
        message,
        format!(
            "{path} has 3 values that cannot be imported, so nothing was written:\n  \
             line 4: display.rotation: must be one of 0, 90, 180, 270 (got 45)\n  \
             line 8: aranet4.sensors[0].mac: must be a Bluetooth address like \
             AA:BB:CC:DD:EE:FF (got \"AA:BB:CC:DD:EE\")\n  \
             line 12: display.cycle_interval (update.interval in the file): must not be \
             negative (got -3)\n\
             Fix them in {path} and run the import again (--dry-run checks without writing)."
        )
    );
    assert_eq!(
        stdout(&out),
        "",
        "no plan for a file that cannot be imported"
    );
    assert_eq!(
        server.command(&["KEYS", "*"]).as_deref(),
        Some("*0"),
        "something was written"
    );

    // One bad value, and a dry run says the same.
    std::fs::write(&file, "sleep:\n  start_hour: 25\n").unwrap();
    let out = run(
        &[("REDIS_URL", &url)],
        &["config", "import", path, "--dry-run"],
    );
    let message = the_error(&out, 2);
    assert_eq!(
        message,
        format!(
            "{path} has a value that cannot be imported, so nothing was written:\n  \
             line 2: sleep.start_hour: must be between 0 and 23 (got 25)\n\
             Fix it in {path} and run the import again (--dry-run checks without writing)."
        )
    );
    std::fs::remove_file(&file).unwrap();

    // The good example: the MAC is stored as `mac`, as the dashboard writes it.
    let file = write_temp(
        "good.yaml",
        "aranet4:\n  sensors:\n    - label: Office\n      mac_address: AA:BB:CC:DD:EE:01\n",
    );
    let out = run(
        &[("REDIS_URL", &url)],
        &["config", "import", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.command(&["GET", "config:aranet4"]).as_deref(),
        Some(r#"{"sensors":[{"label":"Office","mac":"AA:BB:CC:DD:EE:01"}]}"#)
    );
    std::fs::remove_file(&file).unwrap();

    let out = run(&[], &["config", "import", "/no/such/config.yaml"]);
    assert_eq!(
        the_error(&out, 2),
        "cannot read /no/such/config.yaml (No such file or directory (os error 2)): give the \
         path of the monolith's config.yaml"
    );
}

#[test]
fn aranet4_decode_says_when_the_hex_has_an_odd_length() {
    let out = run(&[], &["aranet4", "decode", "21 05 03 0"]);
    assert_eq!(
        the_error(&out, 2),
        "`21 05 03 0` has 7 hex digits, an odd number: every byte is two digits (21 05 03 …), \
         so one is missing or one too many; copy the bytes again"
    );
    let out = run(&[], &["aranet4", "decode", "hello"]);
    assert!(
        the_error(&out, 2).starts_with("no hex bytes found in `hello`: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn source_once_failures_read_as_errors_and_are_written_to_the_status() {
    let server = RedisServer::start();
    let url = server.url();
    let env = [("REDIS_URL", url.as_str())];
    let out = run(
        &env,
        &[
            "source",
            "system",
            "--once",
            "--proc-root",
            "/nonexistent",
            "--disk-path",
            "/nonexistent",
        ],
    );
    // The poll's own warnings may be logged; the last line is the error.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: the system poll failed: ") && last.contains("/nonexistent"),
        "{err}"
    );
    assert!(
        last.ends_with("(written to status:system, where the dashboard shows it)"),
        "{err}"
    );
    // Where it says it was written: the error status, counted once.
    let status: serde_json::Value = serde_json::from_str(
        &server
            .command(&["GET", "status:system"])
            .expect("status:system"),
    )
    .unwrap();
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("/nonexistent/stat"), "{error}");
    assert_eq!(status["error_count"], 1);

    let out = run(&env, &["source", "system", "--mode", "scan"]);
    assert_eq!(
        the_error(&out, 2),
        "`scan` is not a mode of the system source: give --mode poll, or leave --mode out to poll"
    );
    let out = run(&env, &["source", "network_camera", "--once"]);
    assert_eq!(
        the_error(&out, 2),
        "the camera streams until it is stopped, so it has no single poll: run `source \
         network_camera` without --once (or with --mode discover to look for cameras)"
    );
}

#[test]
fn start_up_failures_of_long_running_roles_read_as_errors() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let port = taken.local_addr().unwrap().port();
    for role in ["gateway", "run"] {
        let out = run(&[], &[role, "--listen", &address]);
        let message = the_error(&out, 1);
        assert!(
            message.starts_with(&format!("cannot listen on {address} (")),
            "{role}: {message}"
        );
        assert!(
            message.ends_with(&format!(
                "something else listens on port {port} already: stop it, or pass --listen with \
                 another port"
            )),
            "{role}: {message}"
        );
        let out = run(&[], &[role, "--listen", "localhost:8080"]);
        assert_eq!(
            the_error(&out, 2),
            "--listen `localhost:8080` is not an address and port (invalid socket address \
             syntax): give an IP address and port, such as 127.0.0.1:8080 (this machine only) \
             or 0.0.0.0:8080 (every network)",
            "{role}"
        );
    }
}

/// `run`, started on `env`, until it says where it listens: what it printed on standard output.
fn run_until_listening(env: &[(&str, &str)], args: &[&str]) -> (Killed, Vec<String>) {
    let hls = std::env::temp_dir().join(format!("sense-msg-hls-{}", std::process::id()));
    let hls = hls.to_str().unwrap().to_owned();
    let mut env = env.to_vec();
    env.push(("HLS_OUTPUT_DIR", &hls));
    let mut child = sense_pulse(&env, args);
    let mut child = Killed(
        child
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = lines_of(child.0.stdout.take().unwrap());
    let said = lines_until(&lines, |l| l.contains("open http://"));
    // Read on for as long as it runs: a closed pipe would make its next line fail.
    std::thread::spawn(move || while lines.recv().is_ok() {});
    (child, said)
}

#[test]
fn run_reads_redis_url_like_every_role_and_says_which_bus() {
    let server = RedisServer::start();
    let url = server.url();
    let listen = ["run", "--sim", "--listen", "127.0.0.1:0"];

    let (child, said) = run_until_listening(&[("REDIS_URL", &url)], &listen);
    assert_eq!(said[0], format!("Bus: Redis at {url} (from REDIS_URL)"));
    // And it is on that Redis: the orchestrator's status appears there.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server
        .command(&["EXISTS", "status:orchestrator"])
        .as_deref()
        != Some(":1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing written to REDIS_URL's Redis"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(child);

    // --redis wins over REDIS_URL.
    let elsewhere = format!("redis://127.0.0.1:{}", sense_testkit::free_port());
    let mut args = listen.to_vec();
    args.extend(["--redis", url.as_str()]);
    let (child, said) = run_until_listening(&[("REDIS_URL", &elsewhere)], &args);
    assert_eq!(said[0], format!("Bus: Redis at {url} (from --redis)"));
    drop(child);

    // Neither: the in-memory bus, and how to use Redis.
    let (child, said) = run_until_listening(&[], &listen);
    assert_eq!(
        said[0],
        "Bus: in memory, gone when this process ends (pass --redis URL or set REDIS_URL to use \
         Redis)"
    );
    assert!(
        said.iter().all(|l| !l.contains("Some(")),
        "{}",
        said.join("\n")
    );
    drop(child);
}

#[test]
fn health_is_the_gateways_answer_in_an_exit_code() {
    let mut server = RedisServer::start();
    let url = server.url();
    let (child, said) = run_until_listening(
        &[("REDIS_URL", &url)],
        &["run", "--sim", "--listen", "127.0.0.1:0"],
    );
    let address = said
        .iter()
        .find_map(|l| l.split("open http://").nth(1))
        .and_then(|rest| rest.split(['/', ' ']).next())
        .unwrap_or_else(|| panic!("no address in {said:?}"))
        .to_owned();
    let health = format!("http://{address}/health");

    let out = run(&[], &["health", "--url", &health]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{health}: healthy\n"));

    // The bus gone: the gateway answers 503, which is exit 1 (never 2: Docker reserves it).
    server.stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let message = loop {
        let out = run(&[], &["health", "--url", &health]);
        if out.status.code() != Some(0) {
            break the_error(&out, 1);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still healthy 20 s after Redis stopped"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        message.starts_with(&format!("{health} answered 503")),
        "{message}"
    );
    drop(child);

    // Nothing there.
    let nothing = format!("http://127.0.0.1:{}/health", sense_testkit::free_port());
    let message = the_error(&run(&[], &["health", "--url", &nothing]), 1);
    assert!(
        message.starts_with(&format!("{nothing} cannot be reached (")),
        "{message}"
    );
    assert!(message.ends_with("is the gateway running?"), "{message}");
}

#[test]
fn a_simulated_tailscale_without_a_writable_temp_folder_says_so() {
    let server = RedisServer::start();
    // A container's read-only root file system: nothing can listen in its temporary folder.
    let out = run(
        &[("TMPDIR", "/proc"), ("LOG_LEVEL", "warn")],
        &[
            "source",
            "tailscale",
            "--once",
            "--sim",
            "--redis",
            &server.url(),
        ],
    );
    let message = the_error(&out, 1);
    assert!(
        message.contains("the simulated tailscaled cannot listen in /proc (")
            && message.ends_with("set TMPDIR to a writable folder"),
        "{message}"
    );
}
