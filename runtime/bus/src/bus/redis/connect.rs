//! Connecting to Redis: the URL checked and explained, TLS set up, then either a few short
//! attempts (one-shot commands) or a wait as long as it takes (services), saying why it waits.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Client, ConnectionAddr, IntoConnectionInfo, ProtocolVersion, RedisError};

use super::{RedisBus, describe, manager_config, redact_url};
use crate::bus::login::login_problem;
use crate::bus::tls::{TlsOptions, tls_problem};
use crate::bus::{BusError, ConnectOptions};

/// How a Redis URL looks, for the messages about one that does not.
const URL_FORM: &str = "a Redis URL looks like redis://HOST:PORT, such as redis://127.0.0.1:6379";

/// What is wrong with `url` as a Redis URL, in words, or `None` when nothing is found wrong. Never
/// quotes the URL (it may hold a password), nor any part of it but the scheme and database.
pub(super) fn url_problem(url: &str) -> Option<String> {
    let unix = |scheme: &str| matches!(scheme, "unix" | "redis+unix" | "valkey+unix");
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Some(format!("it does not start with redis://: {URL_FORM}"));
        }
        Err(url::ParseError::InvalidPort) => {
            return Some("its port is not a number from 1 to 65535".to_owned());
        }
        Err(url::ParseError::EmptyHost) => return Some(format!("it names no host: {URL_FORM}")),
        Err(e) => return Some(format!("{e}: {URL_FORM}")),
    };
    let scheme = parsed.scheme();
    // `localhost:6379` parses as the scheme `localhost`.
    if !url.contains("://") && !unix(scheme) {
        return Some(format!("it does not start with redis://: {URL_FORM}"));
    }
    match scheme {
        "redis" | "valkey" | "rediss" | "valkeys" => {}
        s if unix(s) => return None,
        other => {
            return Some(format!(
                "{other}:// is not a Redis scheme (redis://, rediss:// or unix://): {URL_FORM}"
            ));
        }
    }
    // The redis crate's switch to skip certificate checks: not built in, and not wanted.
    if parsed.fragment() == Some("insecure") {
        return Some(
            "#insecure (no certificate check) is not supported: give the CA that signed the \
             server's certificate instead"
                .to_owned(),
        );
    }
    match parsed.host_str() {
        None | Some("") => return Some(format!("it names no host: {URL_FORM}")),
        Some("0.0.0.0" | "[::]") => {
            return Some(
                "0.0.0.0 and :: are addresses to listen on, not to connect to: use 127.0.0.1 \
                 for this machine, or the address of the machine Redis runs on"
                    .to_owned(),
            );
        }
        Some(_) => {}
    }
    let db = parsed.path().trim_matches('/');
    if !db.is_empty() && db.parse::<i64>().is_err() {
        return Some(format!(
            "the database after the host must be a number, such as /0 (got /{db})"
        ));
    }
    None
}

impl RedisBus {
    pub(in crate::bus) async fn connect(
        url: &str,
        options: ConnectOptions,
        tls: &TlsOptions,
    ) -> Result<Self, BusError> {
        let shown = redact_url(url);
        let invalid = |e: RedisError| BusError::InvalidUrl {
            url: crate::redact::any_url(url).into_owned(),
            reason: url_problem(url).unwrap_or_else(|| describe(&e)),
        };
        let info = url.into_connection_info().map_err(invalid)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3)
            .set_skip_set_lib_name();
        let info = info.set_redis_settings(settings);
        let is_tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        let client = if is_tls {
            // The redis crate builds its rustls config with the process's provider: ring, as
            // everywhere else in the workspace (an error only says one is installed already).
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::build_with_tls(info, tls.certificates()).map_err(invalid)?
        } else {
            Client::open(info).map_err(invalid)?
        };
        // A certificate that does not verify will not verify on the next try either; nor will
        // a login Redis refuses.
        let tls_failure = |e: &RedisError| {
            tls_problem(e).map(|reason| BusError::Tls {
                url: shown.clone(),
                reason,
            })
        };
        let refused = |e: &RedisError| {
            login_problem(e).map(|reason| BusError::Refused {
                url: shown.clone(),
                reason,
            })
        };

        let conn = match options {
            ConnectOptions::FailAfter(limit) => {
                // Short attempts in a loop rather than one long one, so that on failure the error
                // is the real one ("Connection refused") rather than a timeout.
                let deadline = tokio::time::Instant::now() + limit;
                let mut last_error = None;
                let mut silent = true;
                loop {
                    let attempt =
                        ConnectionManager::new_with_config(client.clone(), manager_config(1));
                    match tokio::time::timeout_at(deadline, attempt).await {
                        Ok(Ok(conn)) => break conn,
                        Ok(Err(e)) => {
                            if let Some(failure) = tls_failure(&e).or_else(|| refused(&e)) {
                                return Err(failure);
                            }
                            silent = e.is_timeout();
                            last_error = Some(describe(&e));
                        }
                        Err(_) => {}
                    }
                    if tokio::time::Instant::now() + Duration::from_millis(250) >= deadline {
                        let mut reason = last_error.unwrap_or_else(|| {
                            format!("no answer within {} s", limit.as_secs_f32())
                        });
                        // Redis's plain port does not answer a TLS greeting at all.
                        if is_tls && silent {
                            reason.push_str(
                                "; a rediss:// URL needs the port Redis speaks TLS on (its \
                                 tls-port)",
                            );
                        }
                        return Err(BusError::Unavailable { url: shown, reason });
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            ConnectOptions::WaitForever => {
                let conn = ConnectionManager::new_lazy_with_config(
                    client.clone(),
                    manager_config(usize::MAX),
                )
                .map_err(invalid)?;
                let started = std::time::Instant::now();
                let mut next_warning = Duration::ZERO;
                loop {
                    // The manager retries a certificate that does not verify without a word, for
                    // ever: one connection of our own says why.
                    if is_tls {
                        let attempt = client.get_multiplexed_async_connection();
                        if let Ok(Err(e)) =
                            tokio::time::timeout(Duration::from_secs(2), attempt).await
                            && let Some(failure) = tls_failure(&e)
                        {
                            return Err(failure);
                        }
                    }
                    let mut probe = conn.clone();
                    let ping_cmd = redis::cmd("PING");
                    let ping = ping_cmd.query_async::<String>(&mut probe);
                    let error = match tokio::time::timeout(Duration::from_secs(5), ping).await {
                        Ok(Ok(_)) => break,
                        Ok(Err(e)) => {
                            if let Some(failure) = tls_failure(&e) {
                                return Err(failure);
                            }
                            describe(&e)
                        }
                        // The manager retries a refused login in silence: one connection of our own
                        // says why (a satellite's user may be made on the hub later: wait on).
                        Err(_) => {
                            let attempt = client.get_multiplexed_async_connection();
                            match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                                Ok(Err(e)) => login_problem(&e).unwrap_or_else(|| describe(&e)),
                                _ => "no answer".to_owned(),
                            }
                        }
                    };
                    // Say so at once, then once a minute: a service waiting for Redis is normal at
                    // boot, but a long wait deserves a line in the log.
                    if started.elapsed() >= next_warning {
                        let waited = started.elapsed().as_secs();
                        tracing::warn!(
                            "waiting for Redis at {shown} ({error}); waited {waited} s so far"
                        );
                        next_warning += Duration::from_secs(60);
                    }
                }
                conn
            }
        };
        Ok(RedisBus {
            client,
            conn,
            url: shown,
        })
    }
}
