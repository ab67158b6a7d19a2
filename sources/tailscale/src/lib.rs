//! # The `tailscale` source
//!
//! Whether this machine is on its tailnet, and how many of its devices are online:
//!
//! | sensor | unit | from the status document |
//! |---|---|---|
//! | `connected` | null | `BackendState == "Running"` |
//! | `device_count` | `devices` | peers with `Online: true` (0 when not connected) |
//! | `peers_total` | `devices` | all peers (shared-in nodes excluded, as `tailscale status` does) |
//! | `backend_state` | null | `BackendState`: `Running`, `NeedsLogin`, `Stopped`, ... |
//! | `hostname`, `dns_name` | null | `Self.HostName`, `Self.DNSName` |
//! | `tailnet` | null | `CurrentTailnet.Name` |
//! | `tailscale_ip` | null | this node's first IPv4 Tailscale address (else its first) |
//! | `exit_node` | null | the host name of the exit node in use |
//! | `health_issues` | null | how many problems `Health` lists |
//! | `version` | null | `Version` |
//!
//! The first two are the contract's; the others are extras. Text extras are null when tailscaled
//! does not know them (a logged-out node has no tailnet). Not being connected is not an error:
//! `connected` is false.
//!
//! ## Where the status comes from
//!
//! First tailscaled's LocalAPI, `GET /localapi/v0/status` over its unix socket (by default
//! [`DEFAULT_SOCKET`], which the container mounts), with `Host: local-tailscaled.sock` and no
//! `Origin` or `Referer` (tailscaled refuses requests that look like they come from a browser).
//! If that fails, the CLI: `tailscale status --json`, run directly (no shell), killed after
//! [`DEFAULT_CLI_TIMEOUT`]. Both print the same document. When both fail, the error names both.

mod sim;
mod status;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sense_bus::model::{Measurement, Value};
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_bus::{SectionName, SourceId};
use sense_hal::Unit;
use sense_http::{HttpClient, HttpOptions, Request};

pub use crate::sim::simulated_status;
use crate::status::{Status, parse_status};

/// Where tailscaled listens by default on Linux.
pub const DEFAULT_SOCKET: &str = "/var/run/tailscale/tailscaled.sock";

/// The CLI, looked up on `PATH`.
pub const DEFAULT_CLI: &str = "tailscale";

/// How long the CLI may take before it is killed.
pub const DEFAULT_CLI_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Host` header tailscaled's LocalAPI requires.
pub const LOCALAPI_HOST: &str = "local-tailscaled.sock";

/// The LocalAPI's status endpoint.
pub const STATUS_PATH: &str = "/localapi/v0/status";

/// The largest status accepted, in bytes: a big tailnet's document runs to a few MB.
pub const MAX_STATUS_BYTES: usize = 8 << 20;

/// The `tailscale` source.
#[derive(Clone, Debug)]
pub struct TailscaleSource {
    client: HttpClient,
    socket: PathBuf,
    cli: PathBuf,
    cli_timeout: Duration,
}

impl Default for TailscaleSource {
    fn default() -> Self {
        TailscaleSource::new(DEFAULT_SOCKET, DEFAULT_CLI)
    }
}

impl TailscaleSource {
    /// A source asking tailscaled on `socket`, falling back to the CLI `cli` (a path, or a name
    /// looked up on `PATH`).
    pub fn new(socket: impl Into<PathBuf>, cli: impl Into<PathBuf>) -> Self {
        TailscaleSource {
            client: HttpClient::new(HttpOptions {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(5),
                max_body_bytes: MAX_STATUS_BYTES,
                ..HttpOptions::default()
            }),
            socket: socket.into(),
            cli: cli.into(),
            cli_timeout: DEFAULT_CLI_TIMEOUT,
        }
    }

    /// The same source with another HTTP client (its timeouts and body cap apply to the LocalAPI).
    #[must_use]
    pub fn with_client(mut self, client: HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The same source giving the CLI `timeout` instead of [`DEFAULT_CLI_TIMEOUT`].
    #[must_use]
    pub fn with_cli_timeout(mut self, timeout: Duration) -> Self {
        self.cli_timeout = timeout;
        self
    }

    /// The socket asked first.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The CLI run when the socket fails.
    pub fn cli(&self) -> &Path {
        &self.cli
    }

    /// The status from the LocalAPI.
    async fn ask_localapi(&self) -> Result<Status, String> {
        let response = self
            .client
            .send(Request::unix_get(&self.socket, LOCALAPI_HOST, STATUS_PATH))
            .await
            .map_err(|e| e.to_string())?;
        if !response.is_success() {
            let text = response.text();
            let first = text.lines().next().unwrap_or("").trim();
            return Err(format!(
                "HTTP {} from {STATUS_PATH}{}",
                response.status,
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clean(first, 160))
                }
            ));
        }
        parse_status(&response.body)
    }

    /// The status from `tailscale status --json`.
    async fn run_cli(&self) -> Result<Status, String> {
        let mut command = tokio::process::Command::new(&self.cli);
        command
            .args(["status", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = spawn(&mut command).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            _ => e.to_string(),
        })?;
        // On timeout the future, and with it the child, is dropped: `kill_on_drop` kills it.
        let output = tokio::time::timeout(self.cli_timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                format!(
                    "did not finish within {} s and was killed",
                    self.cli_timeout.as_secs_f32()
                )
            })?
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(format!(
                "{}{}",
                output.status,
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clean(first.trim(), 160))
                }
            ));
        }
        if output.stdout.len() > MAX_STATUS_BYTES {
            return Err(format!("printed more than {MAX_STATUS_BYTES} bytes"));
        }
        parse_status(&output.stdout)
    }

    /// The status, from the LocalAPI or else the CLI.
    async fn status(&self) -> Result<Status, String> {
        let localapi = match self.ask_localapi().await {
            Ok(status) => return Ok(status),
            Err(e) => e,
        };
        match self.run_cli().await {
            Ok(status) => Ok(status),
            Err(cli) => Err(format!(
                "tailscaled's LocalAPI at {}: {localapi}; `{} status --json`: {cli}",
                self.socket.display(),
                self.cli.display()
            )),
        }
    }
}

/// Spawns `command`, retrying briefly while the program file is busy (ETXTBSY: it was being
/// written, or another thread's fork still held it open for writing).
async fn spawn(command: &mut tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    /// `ETXTBSY` on Linux.
    const TEXT_FILE_BUSY: i32 = 26;
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && attempts < 5 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

/// `text` without control characters, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

fn text(sensor: &str, value: Option<String>) -> Measurement {
    Measurement::new(
        sensor.to_owned(),
        value.map_or(Value::Null, Value::Text),
        None,
    )
}

/// The readings of a status.
fn measurements(s: &Status) -> Vec<Measurement> {
    let connected = s.connected();
    vec![
        Measurement::new("connected".to_owned(), Value::Bool(connected), None),
        Measurement::new(
            "device_count".to_owned(),
            Value::Int(if connected { s.peers_online } else { 0 }),
            Some(Unit::DEVICES),
        ),
        Measurement::new(
            "peers_total".to_owned(),
            Value::Int(s.peers_total),
            Some(Unit::DEVICES),
        ),
        text("backend_state", Some(s.backend_state.clone())),
        text("hostname", s.hostname.clone()),
        text("dns_name", s.dns_name.clone()),
        text("tailnet", s.tailnet.clone()),
        text("tailscale_ip", s.tailscale_ip.clone()),
        text("exit_node", s.exit_node.clone()),
        Measurement::new(
            "health_issues".to_owned(),
            Value::Int(s.health_issues),
            None,
        ),
        text("version", s.version.clone()),
    ]
}

impl Source for TailscaleSource {
    const ID: SourceId = SourceId::Tailscale;
    const SECTIONS: &'static [SectionName] = &[];
    type State = ();

    async fn poll(
        &mut self,
        _context: PollContext<'_>,
        _state: &mut (),
    ) -> Result<PollOutput, PollError> {
        self.status()
            .await
            .map(|s| PollOutput::complete(measurements(&s)))
            .map_err(PollError::new)
    }
}

#[cfg(test)]
mod tests;
