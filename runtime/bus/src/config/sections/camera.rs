//! `config:camera`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::super::layered::{EnvField, EnvKind, FieldError};
use super::super::{Endpoint, REDACTED, Section};
use super::*;
use crate::ids::SectionName;

/// How FFmpeg talks RTSP to a camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection (works through NAT and lossy Wi-Fi).
    #[default]
    Tcp,
    /// Separate UDP streams.
    Udp,
}

/// One network camera.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    /// Its name in the dashboard.
    pub name: String,
    /// Host name or IP address (no scheme, no path).
    pub host: String,
    /// RTSP port.
    #[serde(default = "rtsp_port")]
    pub port: u16,
    /// The stream's path, e.g. `/Streaming/Channels/101`.
    #[serde(default)]
    pub stream_path: String,
    /// RTSP and ONVIF user name.
    #[serde(default)]
    pub username: String,
    /// RTSP and ONVIF password. Secret.
    #[serde(default)]
    pub password: String,
    /// Whether to stream it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether it takes ONVIF pan/tilt/zoom commands.
    #[serde(default)]
    pub ptz_enabled: bool,
    /// ONVIF service port.
    #[serde(default = "onvif_port")]
    pub onvif_port: u16,
    /// Pan/tilt step, 0–1.
    #[serde(default = "ptz_step")]
    pub ptz_step: f64,
    /// Zoom step, 0–1.
    #[serde(default = "ptz_zoom_step")]
    pub ptz_zoom_step: f64,
    /// The legacy Python client's WSDL folder: accepted so old configs load, otherwise unused.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub onvif_wsdl_dir: Option<String>,
}

fn rtsp_port() -> u16 {
    554
}
fn onvif_port() -> u16 {
    80
}
fn ptz_step() -> f64 {
    0.05
}
fn ptz_zoom_step() -> f64 {
    0.1
}

impl std::fmt::Debug for CameraEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraEntry")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("stream_path", &self.stream_path)
            .field("username", &self.username)
            .field("password", &debug_secret(&self.password))
            .field("enabled", &self.enabled)
            .field("ptz_enabled", &self.ptz_enabled)
            .finish_non_exhaustive()
    }
}

impl CameraEntry {
    /// What its password opens: the RTSP stream and the ONVIF service of one user on one host.
    fn endpoint(&self) -> (Endpoint, u16) {
        (
            Endpoint::new("rtsp", &self.host, Some(self.port), &self.username),
            self.onvif_port,
        )
    }

    fn validate(&self) -> Result<(), FieldError> {
        if self.name.trim().is_empty() || self.name.chars().count() > 64 {
            return Err(FieldError::new("name", "must be 1 to 64 characters"));
        }
        no_control_chars("name", &self.name)?;
        // A host is a name or an address: nothing that could smuggle a scheme, credentials,
        // a path or shell syntax into the RTSP URL.
        let host_ok = !self.host.is_empty()
            && self.host.len() <= 253
            && self.host.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']')
            });
        if !host_ok {
            return Err(FieldError::new(
                "host",
                "must be a host name or IP address (letters, digits, '.', '-', ':' only)",
            ));
        }
        ranges::PORT.check("port", self.port)?;
        ranges::PORT.check("onvif_port", self.onvif_port)?;
        if self
            .stream_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(FieldError::new(
                "stream_path",
                "must not contain spaces or control characters",
            ));
        }
        no_control_chars("username", &self.username)?;
        no_control_chars("password", &self.password)?;
        ranges::PTZ_STEP.check_finite("ptz_step", self.ptz_step)?;
        ranges::PTZ_STEP.check_finite("ptz_zoom_step", self.ptz_zoom_step)
    }
}

/// `config:camera`: network cameras and how their stream is kept up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// The cameras; the first enabled one is streamed.
    pub cameras: Vec<CameraEntry>,
    /// RTSP transport.
    pub transport: RtspTransport,
    /// Seconds before the first reconnect attempt (1–300); later attempts back off to 60 s.
    pub reconnect_delay: u32,
    /// Reconnect attempts before giving up; −1 tries forever.
    pub max_reconnect_attempts: i32,
    /// HLS segment length in seconds (1–10).
    pub hls_segment_duration: u32,
    /// Segments in the HLS playlist (2–20).
    pub hls_playlist_size: u32,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            cameras: Vec::new(),
            transport: RtspTransport::Tcp,
            reconnect_delay: 5,
            max_reconnect_attempts: -1,
            hls_segment_duration: 2,
            hls_playlist_size: 3,
        }
    }
}

impl Section for CameraConfig {
    const NAME: SectionName = SectionName::Camera;
    const ENV: &'static [EnvField] = &[EnvField::new("CAMERA_CONFIG", "cameras", EnvKind::Json)];
    const SECRET_PATHS: &'static [&'static str] = &["cameras[].password"];
    fn validate(&self) -> Result<(), FieldError> {
        for (i, c) in self.cameras.iter().enumerate() {
            c.validate()
                .map_err(|e| e.within(&format!("cameras[{i}]")))?;
        }
        ranges::RECONNECT_DELAY.check("reconnect_delay", self.reconnect_delay)?;
        ranges::RECONNECT_ATTEMPTS.check("max_reconnect_attempts", self.max_reconnect_attempts)?;
        ranges::HLS_SEGMENT.check("hls_segment_duration", self.hls_segment_duration)?;
        ranges::HLS_PLAYLIST.check("hls_playlist_size", self.hls_playlist_size)
    }
    fn redact(&mut self) {
        for c in &mut self.cameras {
            redact(&mut c.password);
        }
    }
    /// Cameras are matched by what their password opens (host, ports, user), not by name or
    /// place in the list: renamed, reordered, added or removed cameras keep their passwords,
    /// and a camera moved to another address must be given its password again.
    fn restore_redacted(patch: &mut Map<String, Json>, current: &Self) -> Result<(), FieldError> {
        let Some(Json::Array(cameras)) = patch.get_mut("cameras") else {
            return Ok(());
        };
        for (i, camera) in cameras.iter_mut().enumerate() {
            let Some(fields) = camera.as_object_mut() else {
                continue;
            };
            if fields.get("password").and_then(Json::as_str) != Some(REDACTED) {
                continue;
            }
            // A malformed entry is refused by the checks that follow; nothing to restore.
            let Ok(sent) = serde_json::from_value::<CameraEntry>(Json::Object(fields.clone()))
            else {
                continue;
            };
            let same: Vec<&CameraEntry> = current
                .cameras
                .iter()
                .filter(|c| c.endpoint() == sent.endpoint())
                .collect();
            let password = match same.as_slice() {
                [one] => Some(&one.password),
                [] => None,
                many => many
                    .iter()
                    .find(|c| c.name == sent.name)
                    .or_else(|| {
                        many.iter()
                            .all(|c| c.password == many[0].password)
                            .then(|| &many[0])
                    })
                    .map(|c| &c.password),
            };
            let Some(password) = password else {
                return Err(FieldError::new(
                    format!("cameras[{i}].password"),
                    format!(
                        "the address or user of camera {:?} changed, so its saved password will \
                         not be sent to it: enter its password again",
                        sent.name
                    ),
                ));
            };
            fields.insert("password".into(), Json::String(password.clone()));
        }
        Ok(())
    }
}
