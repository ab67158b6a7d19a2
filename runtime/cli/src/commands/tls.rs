//! The certificates of a `rediss://` bus, from the environment: `REDIS_CA_FILE` (the CA that
//! signed the Redis server's certificate, for a home LAN's own CA) and, for a Redis that asks for
//! client certificates, `REDIS_CLIENT_CERT` with `REDIS_CLIENT_KEY`.

use std::path::Path;

use sense_bus::{TlsFile, TlsFileError, TlsOptions};

use super::Failure;
use crate::logs;

/// The variable naming each file.
pub(super) fn variable(file: TlsFile) -> &'static str {
    match file {
        TlsFile::Ca => "REDIS_CA_FILE",
        TlsFile::ClientCert => "REDIS_CLIENT_CERT",
        TlsFile::ClientKey => "REDIS_CLIENT_KEY",
    }
}

/// Whether `url` asks for TLS.
pub(super) fn is_tls(url: &str) -> bool {
    let scheme = url.trim_start().split("://").next().unwrap_or_default();
    scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
}

/// The certificates the environment names for the bus at `url`, read and checked: a file that
/// cannot be used is invalid input (exit 2), whatever the URL.
pub(super) fn from_env(url: &str) -> Result<TlsOptions, Failure> {
    from(url, |name| {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    })
}

fn from(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<TlsOptions, Failure> {
    let mut tls = TlsOptions::new();
    if let Some(ca) = env(variable(TlsFile::Ca)) {
        tls = tls.with_ca_file(Path::new(&ca)).map_err(|e| unusable(&e))?;
    }
    let (cert, key) = (
        env(variable(TlsFile::ClientCert)),
        env(variable(TlsFile::ClientKey)),
    );
    match (cert, key) {
        (Some(cert), Some(key)) => {
            tls = tls
                .with_client_files(Path::new(&cert), Path::new(&key))
                .map_err(|e| unusable(&e))?;
        }
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(Failure::invalid(
                "REDIS_CLIENT_CERT and REDIS_CLIENT_KEY go together (a client certificate and \
                 its private key), but only one is set: set both, or neither",
            ));
        }
    }
    if !tls.is_default() && !is_tls(url) {
        logs::warning(&format!(
            "the Redis URL {} does not use TLS, so REDIS_CA_FILE, REDIS_CLIENT_CERT and \
             REDIS_CLIENT_KEY are not used: write rediss:// for TLS",
            sense_bus::redact::any_url(url)
        ));
    }
    Ok(tls)
}

fn unusable(e: &TlsFileError) -> Failure {
    let fix = match e.file {
        TlsFile::Ca => "give the PEM file of the CA that signed the Redis server's certificate",
        TlsFile::ClientCert => "give the PEM file of the client certificate",
        TlsFile::ClientKey => "give the PEM file of the client certificate's private key",
    };
    Failure::invalid(format!(
        "{} {} cannot be used: {}. Set {} to a readable file: {fix}.",
        variable(e.file),
        e.path.display(),
        e.reason,
        variable(e.file)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_schemes_are_told_apart() {
        assert!(is_tls("rediss://hub:6380"));
        assert!(is_tls("REDISS://hub:6380"));
        assert!(is_tls("valkeys://hub:6380"));
        assert!(!is_tls("redis://hub:6379"));
        assert!(!is_tls("nonsense"));
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let env = |name: &str| (name == "REDIS_CLIENT_CERT").then(|| "/x/client.crt".to_owned());
        let failure = from("rediss://hub:6380", env).unwrap_err();
        assert!(failure.message.contains("only one is set"), "{failure:?}");
        assert!(from("rediss://hub:6380", |_| None).unwrap().is_default());
    }
}
