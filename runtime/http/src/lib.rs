//! # sense-http
//!
//! The one HTTP client of the workspace, small on purpose: HTTP/1.1 over TCP, TLS (rustls with the
//! `ring` provider and Mozilla's roots, so no system certificates are needed in a container) or a
//! unix socket (tailscaled's LocalAPI). Every request has a connect timeout, a whole-request
//! timeout and a cap on the response body, so a slow or hostile server can neither hang a source
//! nor fill the Pi's memory. One connection per request: sources poll every 30 s or more.
//!
//! [`replay`] is a local server that answers with recorded response formats, for tests and for
//! the simulated web services of `--sim`.

pub mod replay;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

pub use http::Method;

/// Limits and identity of a client.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// How long establishing the connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long the whole request may take, connection included.
    pub request_timeout: Duration,
    /// The largest response body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_body_bytes: 1 << 20,
            user_agent: concat!("sense-pulse/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be requested.
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    /// The connection could not be made.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// Where.
        target: String,
        /// Why.
        reason: String,
    },
    /// Too slow.
    #[error("{target} did not {stage} within {} s", .after.as_secs_f32())]
    Timeout {
        /// Where.
        target: String,
        /// `connect` or `answer`.
        stage: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The TLS handshake failed (a bad or self-signed certificate, say).
    #[error("TLS with {target} failed: {reason}")]
    Tls {
        /// Where.
        target: String,
        /// Why.
        reason: String,
    },
    /// The response body is larger than allowed.
    #[error("{target} sent more than {limit} bytes")]
    BodyTooLarge {
        /// Where.
        target: String,
        /// The cap.
        limit: usize,
    },
    /// The answer is not valid HTTP, or the connection broke mid-answer.
    #[error("{target}: {reason}")]
    Protocol {
        /// Where.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The body is not the JSON expected.
    #[error("{target} answered with unexpected JSON: {reason}")]
    Json {
        /// Where.
        target: String,
        /// The parser's message.
        reason: String,
    },
}

/// Where a request goes.
#[derive(Clone, Debug)]
enum Destination {
    /// `http://` or `https://`.
    Url(http::Uri),
    /// A unix socket, with the `Host` header to send.
    Unix {
        socket: PathBuf,
        host: String,
        path: String,
    },
}

/// A request to send.
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    destination: Result<Destination, String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Whether the URL's path is a secret ([`Request::secret_path`]).
    secret_path: bool,
}

impl Request {
    fn new(method: Method, url: String) -> Request {
        let destination = url
            .parse::<http::Uri>()
            .map_err(|e| format!("{url}: {e}"))
            .and_then(|uri| match (uri.scheme_str(), uri.host()) {
                (Some("http" | "https"), Some(_)) => Ok(Destination::Url(uri)),
                _ => Err(format!(
                    "{url}: only http:// and https:// URLs with a host can be requested"
                )),
            });
        Request {
            method,
            destination,
            headers: Vec::new(),
            body: Vec::new(),
            secret_path: false,
        }
    }

    /// Keeps the URL's path out of every message about this request (`POST
    /// https://hooks.example.com/…`): a webhook's path is its key.
    #[must_use]
    pub fn secret_path(mut self) -> Request {
        self.secret_path = true;
        if let Err(e) = &mut self.destination {
            "the URL is not valid (it is not shown: it holds a secret)".clone_into(e);
        }
        self
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::GET, url.into())
    }

    /// `POST url` with `body` as JSON.
    pub fn post_json(url: impl Into<String>, body: &impl Serialize) -> Request {
        let mut r = Request::new(Method::POST, url.into());
        r.body = serde_json::to_vec(body).unwrap_or_default();
        r.header("content-type", "application/json")
    }

    /// `POST url` with `body` of `content_type` (e.g. a SOAP envelope).
    pub fn post(url: impl Into<String>, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        let mut r = Request::new(Method::POST, url.into());
        r.body = body.into();
        r.header("content-type", content_type)
    }

    /// `GET path` over the unix socket `socket`, sending `Host: host`.
    pub fn unix_get(socket: impl Into<PathBuf>, host: &str, path: &str) -> Request {
        Request::unix(Method::GET, socket, host, path)
    }

    /// A request with `method` (`GET`, `POST`, `DELETE`, ...) over the unix socket `socket`, e.g.
    /// to the Docker Engine API.
    pub fn unix(method: Method, socket: impl Into<PathBuf>, host: &str, path: &str) -> Request {
        Request {
            method,
            destination: Ok(Destination::Unix {
                socket: socket.into(),
                host: host.to_owned(),
                path: path.to_owned(),
            }),
            headers: Vec::new(),
            body: Vec::new(),
            secret_path: false,
        }
    }

    /// Sets `body` as the JSON body.
    #[must_use]
    pub fn json(mut self, body: &impl Serialize) -> Request {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.header("content-type", "application/json")
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Where the request goes, for messages: scheme, host, port and path; never the query or
    /// headers (they may carry secrets).
    fn target(&self) -> String {
        match &self.destination {
            Ok(Destination::Url(uri)) => {
                let authority = uri.authority().map_or("", |a| a.as_str());
                // Credentials in the authority stay out of messages.
                let authority = authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host);
                let path = match uri.path() {
                    "" | "/" => uri.path(),
                    _ if self.secret_path => "/…",
                    path => path,
                };
                format!(
                    "{} {}://{}{}",
                    self.method,
                    uri.scheme_str().unwrap_or("http"),
                    authority,
                    path
                )
            }
            Ok(Destination::Unix { socket, path, .. }) => {
                format!(
                    "{} unix:{}{}",
                    self.method,
                    socket.display(),
                    path.split('?').next().unwrap_or("")
                )
            }
            Err(e) => e.clone(),
        }
    }
}

/// A response, its body read in full.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    headers: Vec<(String, String)>,
    target: String,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Json {
            target: self.target.clone(),
            reason: e.to_string(),
        })
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Retry-After` in seconds, when given as a number.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")?
            .trim()
            .parse()
            .ok()
            .map(Duration::from_secs)
    }
}

/// The HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    options: HttpOptions,
    tls: tokio_rustls::TlsConnector,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new(HttpOptions::default())
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

impl HttpClient {
    /// A client with `options`.
    pub fn new(options: HttpOptions) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // The ring provider supports the default protocol versions: this cannot fail.
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"));
        HttpClient {
            options,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// The client's limits.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Sends `request` and reads the whole response, within the limits.
    pub async fn send(&self, request: Request) -> Result<Response, HttpError> {
        let target = request.target();
        let limit = self.options.request_timeout;
        match tokio::time::timeout(limit, self.exchange(request, &target)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                target,
                stage: "answer",
                after: limit,
            }),
        }
    }

    async fn connect(
        &self,
        destination: &Destination,
        target: &str,
    ) -> Result<Box<dyn Io>, HttpError> {
        let connect_error = |e: std::io::Error| HttpError::Connect {
            target: target.to_owned(),
            reason: e.to_string(),
        };
        let stream: Box<dyn Io> = match destination {
            Destination::Unix { socket, .. } => Box::new(
                tokio::net::UnixStream::connect(socket)
                    .await
                    .map_err(connect_error)?,
            ),
            Destination::Url(uri) => {
                let host = uri
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let https = uri.scheme_str() == Some("https");
                let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
                let tcp = tokio::net::TcpStream::connect((host, port))
                    .await
                    .map_err(connect_error)?;
                let _ = tcp.set_nodelay(true);
                if https {
                    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                        .map_err(|e| HttpError::InvalidUrl(format!("{target}: {e}")))?;
                    let tls = self
                        .tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| HttpError::Tls {
                            target: target.to_owned(),
                            reason: e.to_string(),
                        })?;
                    Box::new(tls)
                } else {
                    Box::new(tcp)
                }
            }
        };
        Ok(stream)
    }

    async fn exchange(&self, request: Request, target: &str) -> Result<Response, HttpError> {
        let destination = request.destination.clone().map_err(HttpError::InvalidUrl)?;
        let connect = self.options.connect_timeout;
        let io = tokio::time::timeout(connect, self.connect(&destination, target))
            .await
            .map_err(|_| HttpError::Timeout {
                target: target.to_owned(),
                stage: "connect",
                after: connect,
            })??;
        let protocol = |e: hyper::Error| HttpError::Protocol {
            target: target.to_owned(),
            reason: e.to_string(),
        };
        let (mut sender, connection) =
            http1::handshake(TokioIo::new(io)).await.map_err(protocol)?;
        // The connection is driven by its own task; it ends when the exchange is over.
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });

        let (path, host) = match &destination {
            Destination::Url(uri) => (
                uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
                uri.authority().map(|a| {
                    a.as_str()
                        .rsplit_once('@')
                        .map_or(a.as_str(), |(_, h)| h)
                        .to_owned()
                }),
            ),
            Destination::Unix { host, path, .. } => (path.clone(), Some(host.clone())),
        };
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(path)
            .header("user-agent", &self.options.user_agent)
            .header("accept", "application/json");
        // A `Host` the caller set replaces the one from the URL (one `Host`, never two).
        let host_set = request
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"));
        if let Some(host) = host.filter(|_| !host_set) {
            builder = builder.header("host", host);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http_request = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| HttpError::InvalidUrl(format!("{target}: {e}")))?;

        let response = sender.send_request(http_request).await.map_err(protocol)?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let too_large = || HttpError::BodyTooLarge {
            target: target.to_owned(),
            limit: self.options.max_body_bytes,
        };
        let announced = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        if announced.is_some_and(|n| n > self.options.max_body_bytes) {
            driver.abort();
            return Err(too_large());
        }
        let mut body = response.into_body();
        let mut bytes = Vec::with_capacity(announced.unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(protocol)?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > self.options.max_body_bytes {
                    driver.abort();
                    return Err(too_large());
                }
                bytes.extend_from_slice(data);
            }
        }
        driver.abort();
        Ok(Response {
            status,
            body: bytes,
            headers,
            target: target.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
