//! The certificates of a `rediss://` connection: a CA to trust (a home LAN's own) and, for a
//! Redis that asks for one, a client certificate. Files are read and checked when given, so a bad
//! one is told before any connection is tried.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Which file of [`TlsOptions`] a [`TlsFileError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFile {
    /// The CA certificates to trust ([`TlsOptions::with_ca_file`]).
    Ca,
    /// The client certificate ([`TlsOptions::with_client_files`]).
    ClientCert,
    /// The client certificate's private key.
    ClientKey,
}

impl fmt::Display for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFile::Ca => "the CA file",
            TlsFile::ClientCert => "the client certificate",
            TlsFile::ClientKey => "the client key",
        })
    }
}

/// A certificate or key file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file} {}: {reason}", path.display())]
pub struct TlsFileError {
    /// Which file.
    pub file: TlsFile,
    /// Its path, as given.
    pub path: PathBuf,
    /// What is wrong with it, in words.
    pub reason: String,
}

/// Certificates for `rediss://` URLs (see [`Bus::connect_with`](super::Bus::connect_with)). The
/// default trusts the public web's CAs and presents no client certificate. A `redis://` URL
/// ignores them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM: the CAs to trust instead of the public ones.
    ca: Option<Vec<u8>>,
    /// PEM: the client's certificate chain and its key.
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for TlsOptions {
    // Never the key: only whether each part is there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca", &self.ca.is_some())
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| TlsFileError {
        file,
        path: path.to_owned(),
        reason: format!("cannot read it ({})", io_words(&e)),
    })
}

/// An I/O error without the `(os error 2)` people do not need.
fn io_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The certificates of a PEM text; at least one, each well formed.
fn certificates(
    file: TlsFile,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let fail = |reason: String| TlsFileError {
        file,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("it is not a valid PEM file ({e})")))?;
    if certs.is_empty() {
        return Err(fail(
            "it holds no certificate (a PEM file with -----BEGIN CERTIFICATE----- blocks is \
             expected)"
                .to_owned(),
        ));
    }
    Ok(certs)
}

impl TlsOptions {
    /// The public web's CAs, no client certificate.
    pub fn new() -> TlsOptions {
        TlsOptions::default()
    }

    /// Trusts the CA certificates of the PEM file at `path` instead of the public web's: what a
    /// Redis whose certificate a home-made CA signed needs.
    pub fn with_ca_file(mut self, path: &Path) -> Result<TlsOptions, TlsFileError> {
        let pem = read(TlsFile::Ca, path)?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(TlsFile::Ca, path, &pem)? {
            roots.add(cert).map_err(|e| TlsFileError {
                file: TlsFile::Ca,
                path: path.to_owned(),
                reason: format!("it holds a certificate that cannot be a CA ({e})"),
            })?;
        }
        self.ca = Some(pem);
        Ok(self)
    }

    /// Presents the certificate (chain) of the PEM file `cert`, with the private key of the PEM
    /// file `key`, to a Redis that asks for one (`tls-auth-clients yes`).
    pub fn with_client_files(
        mut self,
        cert: &Path,
        key: &Path,
    ) -> Result<TlsOptions, TlsFileError> {
        let cert_pem = read(TlsFile::ClientCert, cert)?;
        let key_pem = read(TlsFile::ClientKey, key)?;
        let chain = certificates(TlsFile::ClientCert, cert, &cert_pem)?;
        let key_fail = |reason: String| TlsFileError {
            file: TlsFile::ClientKey,
            path: key.to_owned(),
            reason,
        };
        let private = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| key_fail(format!("it holds no private key in PEM ({e})")))?;
        // Loads the key as a connection would, and checks it belongs to the certificate.
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(chain, private, &provider).map_err(|e| {
            key_fail(match e {
                rustls::Error::InconsistentKeys(_) => format!(
                    "it is not the key of the client certificate {}",
                    cert.display()
                ),
                e => format!("it cannot be used ({e})"),
            })
        })?;
        self.client = Some((cert_pem, key_pem));
        Ok(self)
    }

    /// Whether nothing was given (the public CAs, no client certificate).
    pub fn is_default(&self) -> bool {
        self.ca.is_none() && self.client.is_none()
    }

    /// As the redis crate takes them.
    pub(super) fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.ca.clone(),
        }
    }
}

/// What a TLS failure of a connection to Redis means, in words, or `None` when `e` is not one.
pub(super) fn tls_problem(e: &redis::RedisError) -> Option<String> {
    use rustls::{AlertDescription, CertificateError, Error};
    let rustls_error = find_rustls_error(e)?;
    let cert = |why: &str| format!("the Redis server's TLS certificate does not verify: {why}");
    Some(match rustls_error {
        Error::InvalidCertificate(problem) => match problem {
            CertificateError::UnknownIssuer => {
                cert("it is not signed by a trusted CA (give the file of the CA that signed it)")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                cert("it is not issued for the host name or address in the URL")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                cert("it has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                cert("it is not valid yet (is this machine's clock right?)")
            }
            other => cert(&format!("{other}")),
        },
        Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure,
        ) => "the Redis server refused the TLS connection: it asks for a client certificate \
              (and key) it trusts"
            .to_owned(),
        Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired,
        ) => "the Redis server does not accept the client certificate given".to_owned(),
        Error::InvalidMessage(_) => {
            "what answers there does not speak TLS (a plain redis:// port?)".to_owned()
        }
        other => format!("TLS failed: {other}"),
    })
}

/// The rustls error behind a redis error: the redis crate keeps the `io::Error` tokio-rustls
/// wraps it in, behind an `Arc`.
fn find_rustls_error(e: &redis::RedisError) -> Option<&rustls::Error> {
    use std::error::Error as _;
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut next: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(shared) = err.downcast_ref::<Shared>() {
            let inner: &(dyn std::error::Error + 'static) = shared.as_ref();
            if let Some(found) = inner.downcast_ref::<rustls::Error>() {
                return Some(found);
            }
            if let Some(found) = inner
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|e| e.downcast_ref::<rustls::Error>())
            {
                return Some(found);
            }
        }
        if let Some(found) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        next = err.source();
    }
    None
}
