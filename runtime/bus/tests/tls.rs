//! `rediss://`: a real `redis-server` with a TLS port and certificates made for the test.

use std::time::Duration;

use sense_bus::{Bus, BusError, ConnectOptions, TlsFile, TlsOptions, Topic};
use sense_testkit::{RedisServer, TestCerts};

const SOON: ConnectOptions = ConnectOptions::FailAfter(Duration::from_secs(5));

fn trusting(ca: &std::path::Path) -> TlsOptions {
    TlsOptions::new().with_ca_file(ca).expect("a good CA file")
}

/// What a connection that should fail on TLS says.
async fn tls_failure(url: &str, options: ConnectOptions, tls: &TlsOptions) -> String {
    match Bus::connect_with(url, options, tls).await {
        Err(BusError::Tls { url: shown, reason }) => {
            assert_eq!(shown, url);
            reason
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// Sets, gets, publishes and receives: commands and a subscription's own connection both work.
async fn exercise(bus: &Bus, server: &RedisServer) {
    bus.set("tls:key", "over tls", None).await.unwrap();
    assert_eq!(
        bus.get("tls:key").await.unwrap().as_deref(),
        Some("over tls")
    );
    // The same server, seen through its plain port.
    assert_eq!(
        server.command(&["GET", "tls:key"]).as_deref(),
        Some("over tls")
    );
    let mut sub = bus
        .subscribe(&[Topic::channel("tls:news"), Topic::pattern("data:*")])
        .await
        .unwrap();
    assert_eq!(bus.publish("tls:news", "hello").await.unwrap(), 1);
    bus.publish("data:weather", "{}").await.unwrap();
    let first = sub.recv().await.unwrap();
    assert_eq!(
        (first.channel.as_str(), first.payload.as_str()),
        ("tls:news", "hello")
    );
    let second = sub.recv().await.unwrap();
    assert_eq!(second.channel, "data:weather");
    assert_eq!(second.pattern.as_deref(), Some("data:*"));
}

#[tokio::test]
async fn a_bus_over_tls_trusting_its_ca_does_everything_a_plain_one_does() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let bus = Bus::connect_with(&server.tls_url(), SOON, &trusting(&certs.ca()))
        .await
        .unwrap();
    assert_eq!(bus.describe(), server.tls_url());
    exercise(&bus, &server).await;

    // A service's way in (waiting for Redis) takes the same certificates.
    let waiting = Bus::connect_with(
        &server.tls_url(),
        ConnectOptions::WaitForever,
        &trusting(&certs.ca()),
    )
    .await
    .unwrap();
    assert_eq!(
        waiting.get("tls:key").await.unwrap().as_deref(),
        Some("over tls")
    );
}

#[tokio::test]
async fn a_server_certificate_that_does_not_verify_is_said_at_once() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let url = server.tls_url();

    // The public web's CAs did not sign a home-made certificate.
    let reason = tls_failure(&url, SOON, &TlsOptions::new()).await;
    assert!(reason.contains("certificate does not verify"), "{reason}");
    assert!(reason.contains("not signed by a trusted CA"), "{reason}");

    // Nor did another CA; a service waiting for Redis is told too rather than waiting forever.
    let other = trusting(&certs.other_ca());
    let reason = tls_failure(&url, SOON, &other).await;
    assert!(reason.contains("not signed by a trusted CA"), "{reason}");
    let reason = tls_failure(&url, ConnectOptions::WaitForever, &other).await;
    assert!(reason.contains("not signed by a trusted CA"), "{reason}");

    let message = Bus::connect_with(&url, SOON, &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("TLS with Redis at rediss://"),
        "{message}"
    );
}

#[tokio::test]
async fn rediss_to_a_plain_port_names_the_tls_port() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let plain_as_tls = format!("rediss://127.0.0.1:{}", server.port());
    // Redis's plain port waits for a command line that a TLS greeting never finishes.
    match Bus::connect_with(&plain_as_tls, SOON, &trusting(&certs.ca())).await {
        Err(BusError::Unavailable { reason, .. }) => {
            assert!(reason.contains("tls-port"), "{reason}");
        }
        other => panic!("expected Redis unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redis_url_ignores_the_tls_options() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs);
    let bus = Bus::connect_with(&server.url(), SOON, &trusting(&certs.ca()))
        .await
        .unwrap();
    exercise(&bus, &server).await;
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate_and_takes_it() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_mutual_tls(&certs);
    let url = server.tls_url();

    let reason = tls_failure(&url, SOON, &trusting(&certs.ca())).await;
    assert!(reason.contains("client certificate"), "{reason}");

    let tls = trusting(&certs.ca())
        .with_client_files(&certs.client_cert(), &certs.client_key())
        .unwrap();
    let bus = Bus::connect_with(&url, SOON, &tls).await.unwrap();
    exercise(&bus, &server).await;
}

#[test]
fn unusable_files_are_said_naming_them() {
    let certs = TestCerts::generate();
    let missing = certs.dir().join("missing.pem");
    let e = TlsOptions::new().with_ca_file(&missing).unwrap_err();
    assert_eq!((e.file, e.path.as_path()), (TlsFile::Ca, missing.as_path()));
    assert!(e.reason.contains("cannot read it"), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("the CA file {}:", missing.display())),
        "{e}"
    );

    // A key is not a certificate; text is not PEM.
    let e = TlsOptions::new()
        .with_ca_file(&certs.server_key())
        .unwrap_err();
    assert!(e.reason.contains("holds no certificate"), "{e}");
    let text = certs.dir().join("notes.txt");
    std::fs::write(&text, "not a certificate\n").unwrap();
    let e = TlsOptions::new().with_ca_file(&text).unwrap_err();
    assert!(e.reason.contains("holds no certificate"), "{e}");

    // A key that is not the certificate's.
    let e = TlsOptions::new()
        .with_client_files(&certs.client_cert(), &certs.server_key())
        .unwrap_err();
    assert_eq!(e.file, TlsFile::ClientKey);
    assert!(e.reason.contains("is not the key of"), "{e}");
    let e = TlsOptions::new()
        .with_client_files(&certs.client_cert(), &certs.client_cert())
        .unwrap_err();
    assert_eq!(e.file, TlsFile::ClientKey);
    assert!(e.reason.contains("no private key"), "{e}");
    let e = TlsOptions::new()
        .with_client_files(&missing, &certs.client_key())
        .unwrap_err();
    assert_eq!(e.file, TlsFile::ClientCert);

    // The key never shows in a debug print.
    let tls = TlsOptions::new()
        .with_client_files(&certs.client_cert(), &certs.client_key())
        .unwrap();
    assert_eq!(
        format!("{tls:?}"),
        "TlsOptions { ca: false, client_cert: true }"
    );
}

#[tokio::test]
async fn a_tls_bus_and_its_subscription_survive_a_redis_restart() {
    let certs = TestCerts::generate();
    let mut server = RedisServer::start_tls(&certs);
    let bus = Bus::connect_with(&server.tls_url(), SOON, &trusting(&certs.ca()))
        .await
        .unwrap();
    let mut sub = bus.subscribe(&[Topic::channel("tls:news")]).await.unwrap();
    server.restart();
    // Reconnection, over TLS again, is what is waited for; the pause only paces the retries.
    let guard = std::time::Instant::now() + Duration::from_secs(30);
    while bus.set("tls:key", "after", None).await.is_err() {
        assert!(std::time::Instant::now() < guard, "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while bus.publish("tls:news", "again").await.unwrap() == 0 {
        assert!(std::time::Instant::now() < guard, "never resubscribed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sub.recv().await.unwrap().payload, "again");
}
