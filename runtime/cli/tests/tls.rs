//! `rediss://` from the command line: `REDIS_CA_FILE` (and `REDIS_CLIENT_CERT` with
//! `REDIS_CLIENT_KEY`) against a real `redis-server` with a TLS port, and what a user is told when
//! a file or the server's certificate is wrong.

use std::process::{Command, Output, Stdio};

use sense_testkit::{RedisServer, TestCerts};

/// `sense-pulse` with nothing of this process's environment but what is given.
fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sense-pulse"))
        .args(args)
        .env_clear()
        .env("LOG_LEVEL", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run sense-pulse")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `o` exited with `code` having said one line, `error: …`, which it returns.
fn the_error(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let message = err
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("not an `error: …`: {err}"));
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {err}");
    message.trim_end().to_owned()
}

fn path(p: &std::path::Path) -> String {
    p.to_str().expect("utf-8 temp dir").to_owned()
}

/// Every role that connects to Redis, one-shot or long-running.
const ROLES: &[&[&str]] = &[
    &["source", "system", "--once"],
    &["config", "show"],
    &["config", "seed"],
    &["gateway", "--listen", "127.0.0.1:0"],
    &["orchestrator"],
    &["notify"],
    &["run", "--listen", "127.0.0.1:0"],
];

#[test]
fn a_ca_file_that_cannot_be_used_is_invalid_input_naming_it() {
    let certs = TestCerts::generate();
    let missing = certs.dir().join("missing.pem");
    let url = "rediss://:hunter2@127.0.0.1:1";
    for args in ROLES {
        let out = run(
            &[("REDIS_URL", url), ("REDIS_CA_FILE", &path(&missing))],
            args,
        );
        let message = the_error(&out, 2);
        assert!(
            message.starts_with(&format!(
                "REDIS_CA_FILE {} cannot be used: cannot read it (No such file or directory)",
                missing.display()
            )),
            "{args:?}: {message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }

    // A key where the CA should be; a client certificate without its key.
    let out = run(
        &[
            ("REDIS_URL", url),
            ("REDIS_CA_FILE", &path(&certs.server_key())),
        ],
        &["config", "show"],
    );
    assert!(
        the_error(&out, 2).contains("holds no certificate"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            ("REDIS_URL", url),
            ("REDIS_CLIENT_CERT", &path(&certs.client_cert())),
        ],
        &["config", "show"],
    );
    assert!(
        the_error(&out, 2).contains("REDIS_CLIENT_KEY"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn with_its_ca_file_every_command_works_over_tls() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let url = server.tls_url();
    let ca = &path(&certs.ca());
    let out = run(
        &[
            ("REDIS_URL", &url),
            ("REDIS_CA_FILE", ca),
            ("SCHEDULE_SYSTEM", "15"),
        ],
        &["config", "seed"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.command(&["GET", "config:schedule"]).as_deref(),
        Some(r#"{"system":15}"#)
    );
    let out = run(
        &[("REDIS_URL", &url), ("REDIS_CA_FILE", ca)],
        &["source", "system", "--once", "--sim"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.command(&["EXISTS", "status:system"]).as_deref(),
        Some(":1")
    );
}

#[test]
fn a_server_certificate_that_does_not_verify_is_said() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let url = server.tls_url();
    // One-shot, and long-running (which would otherwise wait for ever).
    for args in [&["config", "show"][..], &["orchestrator"]] {
        for env in [
            vec![("REDIS_URL", url.as_str())],
            vec![
                ("REDIS_URL", url.as_str()),
                ("REDIS_CA_FILE", &path(&certs.other_ca())),
            ],
        ] {
            let message = the_error(&run(&env, args), 3);
            assert!(
                message.starts_with(&format!(
                    "cannot use Redis at {url}: the Redis server's TLS certificate does not \
                     verify: it is not signed by a trusted CA"
                )),
                "{args:?}: {message}"
            );
            assert!(message.ends_with("Set REDIS_CA_FILE to the PEM file of the CA that signed the server's certificate."), "{message}");
        }
    }
}

#[test]
fn a_redis_asking_for_a_client_certificate_gets_the_one_given() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_mutual_tls(&certs);
    let url = server.tls_url();
    let ca = &path(&certs.ca());
    let message = the_error(
        &run(
            &[("REDIS_URL", &url), ("REDIS_CA_FILE", ca)],
            &["config", "show"],
        ),
        3,
    );
    assert!(
        message.contains("asks for a client certificate"),
        "{message}"
    );
    assert!(
        message.contains("Set REDIS_CLIENT_CERT and REDIS_CLIENT_KEY"),
        "{message}"
    );

    let out = run(
        &[
            ("REDIS_URL", &url),
            ("REDIS_CA_FILE", ca),
            ("REDIS_CLIENT_CERT", &path(&certs.client_cert())),
            ("REDIS_CLIENT_KEY", &path(&certs.client_key())),
        ],
        &["config", "show"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_ca_file_with_a_plain_redis_url_is_warned_about() {
    let certs = TestCerts::generate();
    let server = RedisServer::start();
    let out = run(
        &[
            ("REDIS_URL", &server.url()),
            ("REDIS_CA_FILE", &path(&certs.ca())),
        ],
        &["config", "show"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "warning: the Redis URL {} does not use TLS, so REDIS_CA_FILE",
            server.url()
        )),
        "{}",
        stderr(&out)
    );
}
