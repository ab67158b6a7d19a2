//! The config sections, their defaults, environment variables and validation.

use serde::{Deserialize, Serialize};

use super::layered::{EnvField, EnvKind, FieldError};
use super::{REDACTED, Section};
use crate::ids::{SectionName, SourceId};

fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
    unit: &str,
) -> Result<(), FieldError> {
    if value < min || value > max {
        return Err(FieldError::new(
            field,
            format!("must be between {min} and {max}{unit} (got {value})"),
        ));
    }
    Ok(())
}

fn finite_in_range(
    field: &str,
    value: f64,
    min: f64,
    max: f64,
    unit: &str,
) -> Result<(), FieldError> {
    if !value.is_finite() {
        return Err(FieldError::new(field, "must be a finite number"));
    }
    in_range(field, value, min, max, unit)
}

fn http_url(field: &str, url: &str, allow_empty: bool) -> Result<(), FieldError> {
    if url.is_empty() && allow_empty {
        return Ok(());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host)
            if !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(FieldError::new(
            field,
            format!("must be an http:// or https:// URL (got {url:?})"),
        )),
    }
}

fn no_control_chars(field: &str, text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters such as newlines",
        ));
    }
    Ok(())
}

fn redact(secret: &mut String) {
    if !secret.is_empty() {
        REDACTED.clone_into(secret);
    }
}

/// `config:global`: settings every service shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// The shortest life of a reading in Redis, in seconds (60–86400). Readings live at least
    /// twice their source's poll interval in any case.
    pub cache_ttl: u32,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig { cache_ttl: 60 }
    }
}

impl Section for GlobalConfig {
    const NAME: SectionName = SectionName::Global;
    const ENV: &'static [EnvField] = &[EnvField::new("CACHE_TTL", "cache_ttl", EnvKind::Integer)];
    fn validate(&self) -> Result<(), FieldError> {
        in_range("cache_ttl", self.cache_ttl, 60, 86_400, " s")
    }
}

/// `config:display`: the Sense HAT's LED matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Rotation in degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Show an 8×8 icon before each item's text.
    pub show_icons: bool,
    /// Seconds per one-pixel scroll step (0.01–1; lower is faster).
    pub scroll_speed: f64,
    /// Seconds an icon stays up (0–30).
    pub icon_duration: f64,
    /// Seconds between display cycles (0–3600).
    pub cycle_interval: u32,
    /// Dim the LEDs (the low-light gamma table).
    pub low_light: bool,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            rotation: 0,
            show_icons: true,
            scroll_speed: 0.08,
            icon_duration: 1.5,
            cycle_interval: 60,
            low_light: false,
        }
    }
}

impl Section for DisplayConfig {
    const NAME: SectionName = SectionName::Display;
    const ENV: &'static [EnvField] = &[
        EnvField::new("DISPLAY_ROTATION", "rotation", EnvKind::Integer),
        EnvField::new("SCROLL_SPEED", "scroll_speed", EnvKind::Number),
        EnvField::new("ICON_DURATION", "icon_duration", EnvKind::Number),
        EnvField::new("SHOW_ICONS", "show_icons", EnvKind::Bool),
        EnvField::new("DISPLAY_CYCLE_INTERVAL", "cycle_interval", EnvKind::Integer),
        EnvField::new("DISPLAY_LOW_LIGHT", "low_light", EnvKind::Bool),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        if ![0, 90, 180, 270].contains(&self.rotation) {
            return Err(FieldError::new(
                "rotation",
                format!("must be one of 0, 90, 180, 270 (got {})", self.rotation),
            ));
        }
        finite_in_range("scroll_speed", self.scroll_speed, 0.01, 1.0, " s")?;
        finite_in_range("icon_duration", self.icon_duration, 0.0, 30.0, " s")?;
        in_range("cycle_interval", self.cycle_interval, 0, 3600, " s")
    }
}

/// `config:sleep`: hours when the display is dark.
///
/// The display sleeps from `start_hour` (inclusive) to `end_hour` (exclusive), local time,
/// wrapping past midnight when `start_hour > end_hour` (23 → 7). `start_hour == end_hour` means
/// no sleep at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SleepConfig {
    /// Hour (0–23) the display goes dark.
    pub start_hour: u8,
    /// Hour (0–23) it comes back.
    pub end_hour: u8,
    /// Also switch off the Pi's own power and activity LEDs while asleep.
    pub disable_pi_leds: bool,
}

impl Default for SleepConfig {
    fn default() -> Self {
        SleepConfig {
            start_hour: 23,
            end_hour: 7,
            disable_pi_leds: false,
        }
    }
}

impl SleepConfig {
    /// Whether the display sleeps at `hour` (0–23).
    pub fn is_asleep(&self, hour: u8) -> bool {
        let (start, end) = (self.start_hour, self.end_hour);
        match start.cmp(&end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => (start..end).contains(&hour),
            std::cmp::Ordering::Greater => hour >= start || hour < end,
        }
    }
}

impl Section for SleepConfig {
    const NAME: SectionName = SectionName::Sleep;
    const ENV: &'static [EnvField] = &[
        EnvField::new("SLEEP_START", "start_hour", EnvKind::Integer),
        EnvField::new("SLEEP_END", "end_hour", EnvKind::Integer),
        EnvField::new("DISABLE_PI_LEDS", "disable_pi_leds", EnvKind::Bool),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        in_range("start_hour", self.start_hour, 0, 23, "")?;
        in_range("end_hour", self.end_hour, 0, 23, "")
    }
}

/// `config:weather`: wttr.in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct WeatherConfig {
    /// A place wttr.in understands ("London", "~Eiffel Tower", "SFO"); empty lets wttr.in guess
    /// from this machine's IP address.
    pub location: String,
    /// Seconds a good answer is reused before asking again (0–86400).
    pub cache_duration: u32,
    /// The wttr.in server.
    pub base_url: String,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            location: String::new(),
            cache_duration: 300,
            base_url: "https://wttr.in".to_owned(),
        }
    }
}

impl Section for WeatherConfig {
    const NAME: SectionName = SectionName::Weather;
    const ENV: &'static [EnvField] = &[
        EnvField::new("WEATHER_LOCATION", "location", EnvKind::Text),
        EnvField::new("WEATHER_CACHE_DURATION", "cache_duration", EnvKind::Integer),
        EnvField::new("WEATHER_BASE_URL", "base_url", EnvKind::Text),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        no_control_chars("location", &self.location)?;
        if self.location.len() > 100 {
            return Err(FieldError::new(
                "location",
                "must be at most 100 characters",
            ));
        }
        in_range("cache_duration", self.cache_duration, 0, 86_400, " s")?;
        http_url("base_url", &self.base_url, false)
    }
}

/// `config:pihole`: the Pi-hole v6 API.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PiholeConfig {
    /// Pi-hole's web address, e.g. `http://pi.hole`; empty when there is no Pi-hole.
    pub host: String,
    /// The app password (Settings → API → App password); empty when Pi-hole has none. Secret.
    pub password: String,
}

impl std::fmt::Debug for PiholeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiholeConfig")
            .field("host", &self.host)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    REDACTED
                },
            )
            .finish()
    }
}

impl Section for PiholeConfig {
    const NAME: SectionName = SectionName::Pihole;
    const ENV: &'static [EnvField] = &[
        EnvField::new("PIHOLE_HOST", "host", EnvKind::Text),
        EnvField::secret("PIHOLE_PASSWORD", "password"),
    ];
    const SECRET_FIELDS: &'static [&'static str] = &["password"];
    fn validate(&self) -> Result<(), FieldError> {
        http_url("host", &self.host, true)?;
        no_control_chars("password", &self.password)
    }
    fn redact(&mut self) {
        redact(&mut self.password);
    }
}

/// One Aranet4 monitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Aranet4Sensor {
    /// The name its readings go by (`{label}:co2`): 1–32 characters, no `:`, `*`, `?`, `[`, `]`.
    pub label: String,
    /// Its Bluetooth address, `AA:BB:CC:DD:EE:FF` (the legacy key `mac_address` is accepted).
    #[serde(alias = "mac_address")]
    pub mac: String,
    /// Whether to read it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `config:aranet4`: CO2 monitors over Bluetooth LE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct Aranet4Config {
    /// The monitors to read.
    pub sensors: Vec<Aranet4Sensor>,
    /// Seconds to listen for them (1–120).
    pub timeout: u32,
}

impl Default for Aranet4Config {
    fn default() -> Self {
        Aranet4Config {
            sensors: Vec::new(),
            timeout: 10,
        }
    }
}

impl Section for Aranet4Config {
    const NAME: SectionName = SectionName::Aranet4;
    const ENV: &'static [EnvField] = &[
        EnvField::new("ARANET4_SENSORS", "sensors", EnvKind::Json),
        EnvField::new("ARANET4_TIMEOUT", "timeout", EnvKind::Integer),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        in_range("timeout", self.timeout, 1, 120, " s")?;
        for (i, s) in self.sensors.iter().enumerate() {
            let at = |field: &str| format!("sensors[{i}].{field}");
            let label = s.label.as_str();
            if label.trim().is_empty() || label.chars().count() > 32 {
                return Err(FieldError::new(at("label"), "must be 1 to 32 characters"));
            }
            if let Some(c) = label
                .chars()
                .find(|c| ":*?[]\\".contains(*c) || c.is_control())
            {
                return Err(FieldError::new(
                    at("label"),
                    format!("must not contain {c:?}"),
                ));
            }
            if sense_hal::ble::Address::parse(&s.mac).is_none() {
                return Err(FieldError::new(
                    at("mac"),
                    format!(
                        "must be a Bluetooth address like AA:BB:CC:DD:EE:FF (got {:?})",
                        s.mac
                    ),
                ));
            }
            if let Some(j) = self.sensors[..i].iter().position(|o| o.label == s.label) {
                return Err(FieldError::new(
                    at("label"),
                    format!("{label:?} is already used by sensors[{j}]"),
                ));
            }
            let address = sense_hal::ble::Address::parse(&s.mac);
            if let Some(j) = self.sensors[..i]
                .iter()
                .position(|o| sense_hal::ble::Address::parse(&o.mac) == address)
            {
                return Err(FieldError::new(
                    at("mac"),
                    format!("{} is already configured as sensors[{j}]", s.mac),
                ));
            }
        }
        Ok(())
    }
}

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
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    REDACTED
                },
            )
            .field("enabled", &self.enabled)
            .field("ptz_enabled", &self.ptz_enabled)
            .finish_non_exhaustive()
    }
}

impl CameraEntry {
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
        if self.port == 0 {
            return Err(FieldError::new("port", "must be between 1 and 65535"));
        }
        if self.onvif_port == 0 {
            return Err(FieldError::new("onvif_port", "must be between 1 and 65535"));
        }
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
        finite_in_range("ptz_step", self.ptz_step, 0.0, 1.0, "")?;
        finite_in_range("ptz_zoom_step", self.ptz_zoom_step, 0.0, 1.0, "")
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
    const SECRET_FIELDS: &'static [&'static str] = &["cameras"];
    fn validate(&self) -> Result<(), FieldError> {
        for (i, c) in self.cameras.iter().enumerate() {
            c.validate()
                .map_err(|e| e.within(&format!("cameras[{i}]")))?;
        }
        in_range("reconnect_delay", self.reconnect_delay, 1, 300, " s")?;
        in_range(
            "max_reconnect_attempts",
            self.max_reconnect_attempts,
            -1,
            10_000,
            "",
        )?;
        in_range(
            "hls_segment_duration",
            self.hls_segment_duration,
            1,
            10,
            " s",
        )?;
        in_range("hls_playlist_size", self.hls_playlist_size, 2, 20, "")
    }
    fn redact(&mut self) {
        for c in &mut self.cameras {
            redact(&mut c.password);
        }
    }
}

/// `config:schedule`: poll intervals in seconds (5–86400).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `tailscale`.
    pub tailscale: u32,
    /// `pihole`.
    pub pihole: u32,
    /// `system`.
    pub system: u32,
    /// `co2` (the contract names this key after the device).
    pub aranet4: u32,
    /// `weather`.
    pub weather: u32,
    /// `sensors` (the Sense HAT; it runs continuously and reads this often).
    pub sensors: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            tailscale: 30,
            pihole: 30,
            system: 30,
            aranet4: 60,
            weather: 300,
            sensors: 30,
        }
    }
}

impl ScheduleConfig {
    /// The poll interval of `source` in seconds; `None` for the camera, which runs on demand.
    pub fn interval(&self, source: SourceId) -> Option<u32> {
        match source {
            SourceId::Tailscale => Some(self.tailscale),
            SourceId::Pihole => Some(self.pihole),
            SourceId::System => Some(self.system),
            SourceId::Co2 => Some(self.aranet4),
            SourceId::Weather => Some(self.weather),
            SourceId::Sensors => Some(self.sensors),
            SourceId::NetworkCamera => None,
        }
    }
}

impl Section for ScheduleConfig {
    const NAME: SectionName = SectionName::Schedule;
    const ENV: &'static [EnvField] = &[
        EnvField::new("SCHEDULE_TAILSCALE", "tailscale", EnvKind::Integer),
        EnvField::new("SCHEDULE_PIHOLE", "pihole", EnvKind::Integer),
        EnvField::new("SCHEDULE_SYSTEM", "system", EnvKind::Integer),
        EnvField::new("SCHEDULE_ARANET4", "aranet4", EnvKind::Integer),
        EnvField::new("SCHEDULE_WEATHER", "weather", EnvKind::Integer),
        EnvField::new("SCHEDULE_SENSORS", "sensors", EnvKind::Integer),
    ];
    fn validate(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("tailscale", self.tailscale),
            ("pihole", self.pihole),
            ("system", self.system),
            ("aranet4", self.aranet4),
            ("weather", self.weather),
            ("sensors", self.sensors),
        ] {
            in_range(field, value, 5, 86_400, " s")?;
        }
        Ok(())
    }
}

/// `config:auth`: the dashboard's HTTP Basic login.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether a login is required. Off until a username and password hash are set: turning it
    /// on without them is refused rather than locking everyone out.
    pub enabled: bool,
    /// The user name.
    pub username: String,
    /// A bcrypt hash of the password (`$2b$12$…`, 60 characters). Secret.
    pub password_hash: String,
    /// Reverse proxies, as IP addresses or CIDR ranges (`127.0.0.1` for `tailscale serve` on the
    /// same host, `172.30.0.0/24` for a compose network with Traefik). A request from one of them
    /// may say who the client is (`X-Forwarded-For`, `Forwarded`: used for the login and command
    /// rate limits) and may log a user in with `Tailscale-User-Login`. Empty: those headers are
    /// ignored and the client is the TCP peer.
    pub trusted_proxies: Vec<String>,
    /// Tailnet logins (`alice@example.com`) let in by that header; empty lets in any.
    pub tailscale_users: Vec<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("enabled", &self.enabled)
            .field("username", &self.username)
            .field(
                "password_hash",
                &if self.password_hash.is_empty() {
                    ""
                } else {
                    REDACTED
                },
            )
            .finish()
    }
}

/// Whether `hash` has the shape of a bcrypt hash: `$2a$`/`$2b$`/`$2x$`/`$2y$`, a two-digit cost
/// (4–31), `$`, then 53 characters of bcrypt's base64.
pub fn is_bcrypt_hash(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && hash.starts_with("$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && hash[4..6]
            .parse::<u8>()
            .is_ok_and(|cost| (4..=31).contains(&cost))
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/'))
}

impl Section for AuthConfig {
    const NAME: SectionName = SectionName::Auth;
    const ENV: &'static [EnvField] = &[
        EnvField::new("AUTH_ENABLED", "enabled", EnvKind::Bool),
        EnvField::new("AUTH_USERNAME", "username", EnvKind::Text),
        EnvField::secret("AUTH_PASSWORD_HASH", "password_hash"),
        EnvField::new("TRUSTED_PROXIES", "trusted_proxies", EnvKind::List),
    ];
    const SECRET_FIELDS: &'static [&'static str] = &["password_hash"];
    fn validate(&self) -> Result<(), FieldError> {
        no_control_chars("username", &self.username)?;
        if self.username.contains(':') {
            return Err(FieldError::new(
                "username",
                "must not contain ':' (HTTP Basic forbids it)",
            ));
        }
        if !self.password_hash.is_empty() && !is_bcrypt_hash(&self.password_hash) {
            return Err(FieldError::new(
                "password_hash",
                "must be a bcrypt hash ($2b$12$ followed by 53 characters), not a password",
            ));
        }
        for (i, proxy) in self.trusted_proxies.iter().enumerate() {
            if let Err(why) = proxy.parse::<super::IpRange>() {
                return Err(FieldError::new(format!("trusted_proxies[{i}]"), why));
            }
        }
        let tailscale_login = !self.trusted_proxies.is_empty();
        if self.enabled
            && (self.username.is_empty() || self.password_hash.is_empty())
            && !tailscale_login
        {
            return Err(FieldError::new(
                "enabled",
                "cannot be true without a username and password_hash (or a trusted proxy for Tailscale logins)",
            ));
        }
        Ok(())
    }
    fn redact(&mut self) {
        redact(&mut self.password_hash);
    }
}

/// `config:sensors`: the Sense HAT's sensors (ours).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SensorsConfig {
    /// How strongly the CPU's heat is taken out of the Sense HAT's temperature: the compensated
    /// temperature is `t − (t_cpu − t) / factor`. The HAT sits on the Pi, so its sensor reads a few
    /// degrees high; 2 suits a bare Pi 3B with the HAT on its header. 0 turns compensation off;
    /// otherwise 0.5–20 (larger means a smaller correction).
    pub compensation_factor: f64,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        SensorsConfig {
            compensation_factor: 2.0,
        }
    }
}

impl Section for SensorsConfig {
    const NAME: SectionName = SectionName::Sensors;
    const ENV: &'static [EnvField] = &[EnvField::new(
        "SENSEHAT_COMPENSATION_FACTOR",
        "compensation_factor",
        EnvKind::Number,
    )];
    fn validate(&self) -> Result<(), FieldError> {
        if self.compensation_factor == 0.0 {
            return Ok(());
        }
        finite_in_range(
            "compensation_factor",
            self.compensation_factor,
            0.5,
            20.0,
            " (or 0 for off)",
        )
    }
}
