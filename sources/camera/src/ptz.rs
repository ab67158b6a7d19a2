//! Pan, tilt and zoom over ONVIF: SOAP 1.2 with a WS-Security UsernameToken digest.
//!
//! # Endpoints
//!
//! The usual fixed ONVIF paths on `http://host:onvif_port` (ONVIF Profile S cameras serve them;
//! `GetCapabilities` discovery is not done):
//!
//! - `/onvif/media_service`: `GetProfiles` (media ver10), once, to find the profile token: the
//!   first profile that has a `PTZConfiguration`, else the first profile. It is cached, and
//!   forgotten when a PTZ call fails with a SOAP fault.
//! - `/onvif/ptz_service`: `ContinuousMove` then `Stop` (PTZ ver20).
//!
//! # One step
//!
//! A step `s` (0 < s ≤ 1; the camera's `ptz_step`, or `ptz_zoom_step` for zooming, when not
//! given) is a `ContinuousMove` at speed `clamp(10 s, 0.1, 1)` in the direction asked (pan/tilt
//! `x`/`y` in −1..1, or zoom `x`), held for `clamp(6 s, 0.1, 1.5)` seconds, then a `Stop` of pan,
//! tilt and zoom. The default pan step 0.05 moves at half speed for 300 ms; the default zoom
//! step 0.1 zooms at full speed for 600 ms.
//!
//! The whole step is bounded by [`Onvif::timeout`] (5 s), except that once a `ContinuousMove` may
//! have reached the camera, the `Stop` always gets at least [`STOP_BUDGET`] (1 s) more, so a
//! slow camera is not left moving.
//!
//! # Authentication
//!
//! Every request carries a WS-Security `UsernameToken` with `PasswordDigest =
//! Base64(SHA1(nonce + created + password))`, a fresh 16-byte nonce (Base64) and `Created` in UTC
//! ISO 8601. Cameras check `Created` against their clock; one whose clock is far off refuses it
//! (`NotAuthorized`), which the error then says.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sense_bus::config::CameraEntry;
use sense_http::{HttpClient, HttpError, Request};
use sha1::{Digest, Sha1};
use tokio::time::Instant;

mod xml;

pub use xml::{Tag, fault_of, profile_token_of, tags, text_of, xml_escape, xml_unescape};

/// The media service path (`GetProfiles`).
pub const MEDIA_PATH: &str = "/onvif/media_service";
/// The PTZ service path (`ContinuousMove`, `Stop`).
pub const PTZ_PATH: &str = "/onvif/ptz_service";
/// The default bound on one step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time a `Stop` gets after a move, even past the timeout.
pub const STOP_BUDGET: Duration = Duration::from_secs(1);

const MEDIA_NS: &str = "http://www.onvif.org/ver10/media/wsdl";
const PTZ_NS: &str = "http://www.onvif.org/ver20/ptz/wsdl";
const SCHEMA_NS: &str = "http://www.onvif.org/ver10/schema";
const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// The `Type` of a digest password.
pub const PASSWORD_DIGEST_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const BASE64_ENCODING: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Which way to move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Tilt up.
    Up,
    /// Tilt down.
    Down,
    /// Pan left.
    Left,
    /// Pan right.
    Right,
    /// Zoom in.
    ZoomIn,
    /// Zoom out.
    ZoomOut,
}

impl Direction {
    /// `up`, `down`, `left`, `right`, `zoom_in` or `zoom_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::ZoomIn => "zoom_in",
            Direction::ZoomOut => "zoom_out",
        }
    }

    /// Whether it zooms rather than pans or tilts.
    pub fn is_zoom(self) -> bool {
        matches!(self, Direction::ZoomIn | Direction::ZoomOut)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = PtzError;
    /// `up`, `down`, `left`, `right`, `zoom_in`/`zoomin`, `zoom_out`/`zoomout` (any case).
    fn from_str(s: &str) -> Result<Self, PtzError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            "left" => Ok(Direction::Left),
            "right" => Ok(Direction::Right),
            "zoom_in" | "zoomin" => Ok(Direction::ZoomIn),
            "zoom_out" | "zoomout" => Ok(Direction::ZoomOut),
            _ => Err(PtzError::UnknownDirection(s.chars().take(32).collect())),
        }
    }
}

/// Why a PTZ command failed. Never holds the password.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PtzError {
    /// Not a direction.
    #[error("unknown PTZ direction {0:?} (expected up, down, left, right, zoom_in or zoom_out)")]
    UnknownDirection(String),
    /// A step outside (0, 1].
    #[error("PTZ step {0} is out of range (expected more than 0 and at most 1)")]
    InvalidStep(f64),
    /// The camera is not configured for PTZ.
    #[error("PTZ is not enabled for camera {0:?}")]
    Disabled(String),
    /// No answer from the camera.
    #[error("ONVIF {action}: {source}")]
    Http {
        /// The SOAP action.
        action: &'static str,
        /// The client's error.
        source: HttpError,
    },
    /// An HTTP error status without a SOAP fault.
    #[error("ONVIF {action} answered HTTP {status}{}", status_hint(*.status))]
    Status {
        /// The SOAP action.
        action: &'static str,
        /// The status code.
        status: u16,
    },
    /// A SOAP fault.
    #[error("ONVIF {action} failed: {reason} ({code})")]
    Fault {
        /// The SOAP action.
        action: &'static str,
        /// The fault's (sub)code, e.g. `ter:NotAuthorized`.
        code: String,
        /// Its reason text.
        reason: String,
    },
    /// The camera has no media profile.
    #[error("ONVIF GetProfiles returned no media profile")]
    NoProfile,
    /// The answer is not what the action returns.
    #[error("ONVIF {action} answered something unexpected: {detail}")]
    BadResponse {
        /// The SOAP action.
        action: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The step took too long.
    #[error("the PTZ command did not finish within {} s", .after.as_secs_f32())]
    Timeout {
        /// The limit.
        after: Duration,
    },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (the camera refused the credentials)",
        404 => " (no ONVIF service at this path: check onvif_port)",
        _ => "",
    }
}

/// What one step sends: a velocity and how long to hold it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Pan speed, −1 (left) to 1 (right).
    pub pan: f64,
    /// Tilt speed, −1 (down) to 1 (up).
    pub tilt: f64,
    /// Zoom speed, −1 (out) to 1 (in).
    pub zoom: f64,
    /// How long to move before `Stop`.
    pub duration: Duration,
}

impl Motion {
    /// The motion of a step of `step` in `direction` (see the [module docs](self)).
    pub fn new(direction: Direction, step: f64) -> Motion {
        let speed = round3((step * 10.0).clamp(0.1, 1.0));
        let duration = Duration::from_secs_f64((step * 6.0).clamp(0.1, 1.5));
        let (pan, tilt, zoom) = match direction {
            Direction::Up => (0.0, speed, 0.0),
            Direction::Down => (0.0, -speed, 0.0),
            Direction::Left => (-speed, 0.0, 0.0),
            Direction::Right => (speed, 0.0, 0.0),
            Direction::ZoomIn => (0.0, 0.0, speed),
            Direction::ZoomOut => (0.0, 0.0, -speed),
        };
        Motion {
            pan,
            tilt,
            zoom,
            duration,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// An ONVIF PTZ client for one camera.
pub struct Onvif {
    http: HttpClient,
    camera: String,
    media_url: String,
    ptz_url: String,
    username: String,
    password: String,
    enabled: bool,
    pan_step: f64,
    zoom_step: f64,
    timeout: Duration,
    profile: tokio::sync::Mutex<Option<String>>,
}

impl fmt::Debug for Onvif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Onvif")
            .field("camera", &self.camera)
            .field("ptz_url", &self.ptz_url)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Onvif {
    /// A client for `camera`'s ONVIF services at `http://host:onvif_port` over `http`.
    pub fn new(http: HttpClient, camera: &CameraEntry) -> Self {
        let base = format!(
            "http://{}:{}",
            crate::rtsp::url_host(&camera.host),
            camera.onvif_port
        );
        Onvif {
            http,
            camera: camera.name.clone(),
            media_url: format!("{base}{MEDIA_PATH}"),
            ptz_url: format!("{base}{PTZ_PATH}"),
            username: camera.username.clone(),
            password: camera.password.clone(),
            enabled: camera.ptz_enabled,
            pan_step: camera.ptz_step,
            zoom_step: camera.ptz_zoom_step,
            timeout: DEFAULT_TIMEOUT,
            profile: tokio::sync::Mutex::new(None),
        }
    }

    /// The same client with another bound on a step.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on one step.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Moves one step in `direction`: `step` (0 < step ≤ 1), or the camera's configured step when
    /// `None`. See the [module docs](self) for what is sent.
    pub async fn move_step(&self, direction: Direction, step: Option<f64>) -> Result<(), PtzError> {
        if !self.enabled {
            return Err(PtzError::Disabled(self.camera.clone()));
        }
        let default = if direction.is_zoom() {
            self.zoom_step
        } else {
            self.pan_step
        };
        let step = step.unwrap_or(default);
        if !(step.is_finite() && step > 0.0 && step <= 1.0) {
            return Err(PtzError::InvalidStep(step));
        }
        let motion = Motion::new(direction, step);
        let deadline = Instant::now() + self.timeout;
        let timed_out = PtzError::Timeout {
            after: self.timeout,
        };

        let token = tokio::time::timeout_at(deadline, self.profile_token())
            .await
            .map_err(|_| timed_out.clone())??;
        let moved = tokio::time::timeout_at(deadline, self.continuous_move(&token, &motion))
            .await
            .unwrap_or_else(|_| Err(timed_out.clone()));
        if let Err(e) = moved {
            if matches!(e, PtzError::Fault { .. }) {
                // Perhaps the profile went away: look it up again next time.
                *self.profile.lock().await = None;
            }
            if matches!(e, PtzError::Http { .. } | PtzError::Timeout { .. }) {
                // The move may have reached the camera: make sure it does not keep going.
                let stop_by = Instant::now() + STOP_BUDGET;
                let _ = tokio::time::timeout_at(stop_by, self.stop(&token)).await;
            }
            return Err(e);
        }
        tokio::time::sleep_until((Instant::now() + motion.duration).min(deadline)).await;
        let stop_by = deadline.max(Instant::now() + STOP_BUDGET);
        tokio::time::timeout_at(stop_by, self.stop(&token))
            .await
            .unwrap_or(Err(timed_out))
    }

    /// The cached profile token, fetched with `GetProfiles` the first time.
    async fn profile_token(&self) -> Result<String, PtzError> {
        let mut cached = self.profile.lock().await;
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        let body = format!("<GetProfiles xmlns=\"{MEDIA_NS}\"/>");
        let answer = self
            .call("GetProfiles", &self.media_url, MEDIA_NS, &body)
            .await?;
        let token = profile_token_of(&answer).ok_or(PtzError::NoProfile)?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn continuous_move(&self, token: &str, motion: &Motion) -> Result<(), PtzError> {
        let mut velocity = String::new();
        if motion.pan != 0.0 || motion.tilt != 0.0 {
            velocity.push_str(&format!(
                "<PanTilt xmlns=\"{SCHEMA_NS}\" x=\"{}\" y=\"{}\"/>",
                motion.pan, motion.tilt
            ));
        }
        if motion.zoom != 0.0 {
            velocity.push_str(&format!(
                "<Zoom xmlns=\"{SCHEMA_NS}\" x=\"{}\"/>",
                motion.zoom
            ));
        }
        let body = format!(
            "<ContinuousMove xmlns=\"{PTZ_NS}\"><ProfileToken>{}</ProfileToken>\
             <Velocity>{velocity}</Velocity></ContinuousMove>",
            xml_escape(token)
        );
        self.call("ContinuousMove", &self.ptz_url, PTZ_NS, &body)
            .await
            .map(drop)
    }

    async fn stop(&self, token: &str) -> Result<(), PtzError> {
        let body = format!(
            "<Stop xmlns=\"{PTZ_NS}\"><ProfileToken>{}</ProfileToken>\
             <PanTilt>true</PanTilt><Zoom>true</Zoom></Stop>",
            xml_escape(token)
        );
        self.call("Stop", &self.ptz_url, PTZ_NS, &body)
            .await
            .map(drop)
    }

    /// Posts one SOAP request and returns the answer's body, or the fault.
    async fn call(
        &self,
        action: &'static str,
        url: &str,
        namespace: &str,
        body: &str,
    ) -> Result<String, PtzError> {
        let envelope = envelope(&self.username, &self.password, body);
        let content_type =
            format!("application/soap+xml; charset=utf-8; action=\"{namespace}/{action}\"");
        let response = self
            .http
            .send(Request::post(url, &content_type, envelope))
            .await
            .map_err(|source| PtzError::Http { action, source })?;
        let text = response.text();
        if let Some((code, reason)) = fault_of(&text) {
            return Err(PtzError::Fault {
                action,
                code,
                reason,
            });
        }
        if !response.is_success() {
            return Err(PtzError::Status {
                action,
                status: response.status,
            });
        }
        if tags(&text).iter().all(|t| t.local != "Envelope") {
            return Err(PtzError::BadResponse {
                action,
                detail: "no SOAP envelope".to_owned(),
            });
        }
        Ok(text)
    }
}

/// A SOAP 1.2 envelope around `body`, with a WS-Security header when `username` is not empty.
pub fn envelope(username: &str, password: &str, body: &str) -> String {
    let header = if username.is_empty() {
        String::new()
    } else {
        security_header(username, password, &nonce(), &format_utc(unix_seconds()))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">\
         <s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// The WS-Security header: a `UsernameToken` with the password digest of `nonce` and `created`.
pub fn security_header(username: &str, password: &str, nonce: &[u8], created: &str) -> String {
    format!(
        "<wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"{WSSE_NS}\" xmlns:wsu=\"{WSU_NS}\">\
         <wsse:UsernameToken>\
         <wsse:Username>{}</wsse:Username>\
         <wsse:Password Type=\"{PASSWORD_DIGEST_TYPE}\">{}</wsse:Password>\
         <wsse:Nonce EncodingType=\"{BASE64_ENCODING}\">{}</wsse:Nonce>\
         <wsu:Created>{}</wsu:Created>\
         </wsse:UsernameToken></wsse:Security>",
        xml_escape(username),
        password_digest(nonce, created, password),
        BASE64.encode(nonce),
        xml_escape(created),
    )
}

/// `Base64(SHA1(nonce + created + password))`.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    BASE64.encode(sha.finalize())
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the Unix epoch as UTC ISO 8601, e.g. `2024-02-15T12:26:40Z`.
pub fn format_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// 16 random bytes from the kernel; if that fails, a hash of the time, the process id and a
/// counter (a nonce must be unique, not secret).
fn nonce() -> Vec<u8> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok()
    {
        return bytes.to_vec();
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut sha = Sha1::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    sha.update(now.as_nanos().to_le_bytes());
    sha.update(std::process::id().to_le_bytes());
    sha.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    sha.finalize()[..16].to_vec()
}

#[cfg(test)]
mod tests;
