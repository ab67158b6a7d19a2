//! The Sense HAT service: sensor readings on the schedule, the LED display cycle, the joystick,
//! commands on `cmd:sensors`, and `matrix:state` for the dashboard's preview.
//!
//! Everything runs on the calling task (a thread of its own in production): the I2C transfers
//! block for a millisecond or two and must not stall anybody else's executor.

use std::time::Duration;

use embassy_time::Instant as DisplayInstant;
use sense_bus::command::CommandServer;
use sense_bus::config::{Config, DisplayConfig, SleepConfig};
use sense_bus::keys::channels;
use sense_bus::model::{Command, CommandResponse, ConfigChanged, MatrixState};
use sense_bus::store::{self, to_json};
use sense_bus::{Bus, Scope, SectionName, SourceId, Subscription, Topic, unix_now};
use sense_display::{Display, Mode, Settings};
use sense_hal::led::{Frame, Joystick, JoystickEvent, LedMatrix, Rgb, Rotation};
use sense_linux::sensehat_kernel::PiLeds;
use sense_source_sensehat::SenseHatSource;
use serde_json::{Map, Value as Json, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::hardware::{MatrixHw, SenseHat, StickHw};
use super::snapshot;
use crate::Env;
use crate::runner::Runner;

/// The channel joystick events are published on (ours).
pub const JOYSTICK_CHANNEL: &str = "sensors:joystick";

/// `matrix:state` is published on every change, and at least this often as a keep-alive.
pub const MATRIX_KEEPALIVE: Duration = Duration::from_secs(10);

/// Longest text `show_text` accepts, in characters.
pub const MAX_TEXT: usize = 200;

/// The actions `cmd:sensors` understands.
pub const ACTIONS: &[&str] = &[
    "clear",
    "set_rotation",
    "get_matrix",
    "show_text",
    "set_pixels",
    "set_low_light",
    "wake",
];

/// Display settings from the config section.
fn settings_from(display: &DisplayConfig) -> Settings {
    Settings::from_config(
        display.rotation,
        display.show_icons,
        display.scroll_speed,
        display.icon_duration,
        display.cycle_interval,
        display.low_light,
    )
}

/// Time for the display, which counts from the service's start.
#[derive(Clone, Copy, Debug)]
struct Clock {
    start: Instant,
}

impl Clock {
    fn display_now(&self) -> DisplayInstant {
        DisplayInstant::from_micros(
            u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
        )
    }

    fn tokio_at(&self, at: DisplayInstant) -> Instant {
        self.start + Duration::from_micros(at.as_micros())
    }
}

/// The display side of the service.
struct Panel {
    bus: Bus,
    env: Env,
    display: Display,
    matrix: Option<MatrixHw>,
    sleep: SleepConfig,
    leds: PiLeds,
    sys_root: std::path::PathBuf,
    /// The last frame, mode, rotation and brightness published, to publish only changes.
    published: Option<(Frame, Mode, Rotation, bool)>,
    /// What the matrix shows now, to write only changes (`None`: unknown, write the next frame).
    shown: Option<(Frame, Rotation)>,
    /// The gamma table in use (low light or not).
    low_light: bool,
    last_publish: Instant,
    /// The last error showing a frame, to log it once rather than per frame.
    matrix_error: Option<String>,
    clock: Clock,
}

impl Panel {
    async fn load_config(&mut self) {
        let sections = [SectionName::Display, SectionName::Sleep];
        match store::load_config(&self.bus, &sections, &|v| self.env.get(v)).await {
            Ok((config, problems)) => {
                for p in problems {
                    tracing::warn!(source = "sensors", problem = %p, "config problem");
                }
                self.apply_config(&config);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the display config; keeping the last");
            }
        }
    }

    fn apply_config(&mut self, config: &Config) {
        self.display.set_settings(settings_from(&config.display));
        self.sleep = config.sleep.clone();
    }

    /// Applies the display's low-light setting (changed by config, command or joystick) to the
    /// matrix's gamma table.
    fn apply_low_light(&mut self) {
        let on = self.display.settings().low_light;
        if on == self.low_light {
            return;
        }
        self.low_light = on;
        if let Some(m) = &mut self.matrix
            && let Err(e) = m.set_low_light(on)
        {
            tracing::warn!(error = %e, "cannot change the LED brightness");
        }
        // The gamma table applies from the next write: write the current frame again.
        self.shown = None;
    }

    fn asleep(&self) -> bool {
        self.sleep.is_asleep(sense_linux::local_hour())
    }

    /// The state for `matrix:state` and `get_matrix`.
    fn state(&self) -> MatrixState {
        MatrixState {
            pixels: self.display.frame().pixels().map(Rgb::to_array).collect(),
            mode: self.display.mode().as_str().to_owned(),
            rotation: self.display.settings().rotation.degrees(),
            available: self.matrix.is_some(),
            low_light: self.display.settings().low_light,
        }
    }

    /// Advances the display, shows a changed frame, publishes `matrix:state` when something
    /// changed or the keep-alive is due. Returns when to come back.
    async fn step(&mut self) -> Instant {
        let now = self.clock.display_now();
        if self.display.wants_data(now) {
            // This Pi's own sources: a satellite's display shows its room, by bare ids.
            match store::read_own_sources(&self.bus).await {
                Ok(all) => self.display.start_cycle(&snapshot::from_bus(&all), now),
                // Without the bus there is nothing new to show: run the cycle on what we have.
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read sources for the display");
                    self.display
                        .start_cycle(&sense_display::Snapshot::default(), now);
                }
            }
        }
        let asleep = self.asleep();
        self.pi_leds(asleep);
        let tick = self.display.tick(now, asleep);
        self.apply_low_light();
        let rotation = self.display.settings().rotation;
        let wanted = (*self.display.frame(), rotation);
        if self.shown != Some(wanted) {
            self.show(&wanted.0, rotation).await;
        }
        let current = (
            *self.display.frame(),
            tick.mode,
            rotation,
            self.display.settings().low_light,
        );
        if self.published != Some(current) || self.last_publish.elapsed() >= MATRIX_KEEPALIVE {
            self.publish_state().await;
            self.published = Some(current);
        }
        self.clock
            .tokio_at(tick.next)
            .min(self.last_publish + MATRIX_KEEPALIVE)
    }

    async fn show(&mut self, frame: &Frame, rotation: Rotation) {
        let Some(matrix) = &mut self.matrix else {
            return;
        };
        match matrix.show(frame, rotation).await {
            Ok(()) => {
                self.shown = Some((*frame, rotation));
                if self.matrix_error.take().is_some() {
                    tracing::info!("LED matrix answers again");
                }
            }
            Err(e) if self.matrix_error.as_deref() != Some(e.as_str()) => {
                tracing::warn!(error = %e, "cannot show a frame on the LED matrix");
                self.matrix_error = Some(e);
            }
            Err(_) => {}
        }
    }

    async fn publish_state(&mut self) {
        self.last_publish = Instant::now();
        if let Err(e) = self
            .bus
            .publish(
                &channels::matrix_state(self.bus.scope()),
                &to_json(&self.state()),
            )
            .await
        {
            tracing::debug!(error = %e, "cannot publish matrix:state");
        }
    }

    /// The Pi's LEDs follow the display's sleep when `disable_pi_leds` is set.
    fn pi_leds(&mut self, asleep: bool) {
        let want_off = asleep && self.sleep.disable_pi_leds;
        let result = if want_off && !self.leds.are_off() {
            self.leds.switch_off(&self.sys_root).map(drop)
        } else if !want_off && self.leds.are_off() {
            self.leds.restore()
        } else {
            Ok(())
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot switch the Pi's LEDs");
        }
    }

    async fn joystick(&mut self, event: JoystickEvent) {
        self.display.joystick(event, self.clock.display_now());
        let payload = json!({
            "source_id": self.bus.scope().source(SourceId::Sensors),
            "direction": event.direction.as_str(),
            "action": event.action.as_str(),
            "timestamp": unix_now(),
        });
        if let Err(e) = self
            .bus
            .publish(&self.bus.scope().id(JOYSTICK_CHANNEL), &payload.to_string())
            .await
        {
            tracing::debug!(error = %e, "cannot publish a joystick event");
        }
    }

    /// Carries out a `cmd:sensors` command. Bad parameters change nothing and are named.
    async fn command(&mut self, cmd: &Command) -> CommandResponse {
        let now = self.clock.display_now();
        let id = cmd.request_id.as_str();
        let ok =
            |data: Json| CommandResponse::ok(id, data.as_object().cloned().unwrap_or_default());
        match cmd.action.as_str() {
            "clear" => {
                self.display.clear(now);
                ok(json!({"message": "Display cleared"}))
            }
            "set_rotation" => match cmd.params.get("rotation").and_then(Json::as_u64) {
                Some(d) => match u16::try_from(d).ok().and_then(Rotation::from_degrees) {
                    Some(rotation) => {
                        let mut settings = *self.display.settings();
                        settings.rotation = rotation;
                        self.display.set_settings(settings);
                        ok(
                            json!({"rotation": rotation.degrees(), "message": format!("Rotation set to {d}")}),
                        )
                    }
                    None => CommandResponse::error(
                        id,
                        format!("rotation must be one of 0, 90, 180, 270 (got {d})"),
                    ),
                },
                None => CommandResponse::error(
                    id,
                    match cmd.params.get("rotation") {
                        Some(v) => format!("rotation must be one of 0, 90, 180, 270 (got {v})"),
                        None => "rotation is missing (0, 90, 180 or 270)".to_owned(),
                    },
                ),
            },
            "get_matrix" => ok(serde_json::to_value(self.state()).unwrap_or_default()),
            "show_text" => match parse_text(&cmd.params) {
                Ok((text, colour)) => {
                    self.display.show_text(&text, colour, now);
                    ok(json!({"message": format!("Showing {text:?}")}))
                }
                Err(e) => CommandResponse::error(id, e),
            },
            "set_pixels" => match parse_pixels(&cmd.params) {
                Ok(frame) => {
                    self.display.set_pixels(frame, now);
                    ok(json!({"message": "Pixels set"}))
                }
                Err(e) => CommandResponse::error(id, e),
            },
            "set_low_light" => match cmd.params.get("enabled").and_then(Json::as_bool) {
                Some(on) => {
                    let mut settings = *self.display.settings();
                    settings.low_light = on;
                    self.display.set_settings(settings);
                    ok(json!({"low_light": on}))
                }
                None => CommandResponse::error(id, "enabled must be true or false"),
            },
            "wake" => {
                let woke = self.display.wake();
                ok(json!({
                    "woken": woke,
                    "message": if woke {
                        "Awake for one cycle; it sleeps again after it"
                    } else {
                        "The display is not sleeping"
                    },
                }))
            }
            other => CommandResponse::error(
                id,
                format!(
                    "unknown action `{other}` (expected one of: {})",
                    ACTIONS.join(", ")
                ),
            ),
        }
    }
}

/// A colour given as `[r, g, b]` (0–255 each).
fn parse_colour(v: &Json, what: &str) -> Result<Rgb, String> {
    let bad = || format!("{what} must be [r, g, b] with each 0–255 (got {v})");
    let parts = v.as_array().filter(|a| a.len() == 3).ok_or_else(bad)?;
    let mut rgb = [0u8; 3];
    for (slot, part) in rgb.iter_mut().zip(parts) {
        *slot = part
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(bad)?;
    }
    Ok(Rgb::from(rgb))
}

/// `show_text {text, color?}`.
fn parse_text(params: &Map<String, Json>) -> Result<(String, Rgb), String> {
    let text = match params.get("text") {
        Some(Json::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Json::String(_)) | None => return Err("text is missing or empty".into()),
        Some(other) => return Err(format!("text must be a string (got {other})")),
    };
    if text.chars().count() > MAX_TEXT {
        return Err(format!(
            "text must be at most {MAX_TEXT} characters (got {})",
            text.chars().count()
        ));
    }
    if text.chars().any(char::is_control) {
        return Err("text must not contain control characters".into());
    }
    let colour = match params.get("color").or_else(|| params.get("colour")) {
        None | Some(Json::Null) => Rgb::WHITE,
        Some(c) => parse_colour(c, "color")?,
    };
    Ok((text, colour))
}

/// `set_pixels {pixels}`: 64 `[r, g, b]`, row-major.
fn parse_pixels(params: &Map<String, Json>) -> Result<Frame, String> {
    let pixels = params
        .get("pixels")
        .and_then(Json::as_array)
        .ok_or("pixels is missing (64 [r, g, b] values, row-major)")?;
    if pixels.len() != 64 {
        return Err(format!(
            "pixels must have 64 entries (got {})",
            pixels.len()
        ));
    }
    let mut frame = Frame::BLACK;
    for (i, p) in pixels.iter().enumerate() {
        frame.set(i % 8, i / 8, parse_colour(p, &format!("pixels[{i}]"))?);
    }
    Ok(frame)
}

/// Whether a `config:changed` payload names the display or sleep section.
fn display_config_changed(payload: &str, scope: &Scope) -> bool {
    serde_json::from_str::<ConfigChanged>(payload)
        .is_ok_and(|c| c.concerns(scope, &[SectionName::Display, SectionName::Sleep]))
}

async fn next_payload(sub: &mut Option<Subscription>) -> Option<String> {
    match sub {
        Some(s) => s.recv().await.map(|m| m.payload),
        None => std::future::pending().await,
    }
}

async fn next_command(server: &mut Option<CommandServer>) -> Option<Command> {
    match server {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn next_stick_event(stick: &mut Option<StickHw>) -> Result<JoystickEvent, String> {
    match stick {
        Some(s) => s.next_event().await,
        None => std::future::pending().await,
    }
}

/// Where the service finds what it needs besides the hardware.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Environment lookup for config.
    pub env: Env,
    /// Where `/sys` is (for the Pi's LEDs).
    pub sys_root: std::path::PathBuf,
}

/// Runs the Sense HAT service until `shutdown`.
pub async fn run(bus: Bus, hat: SenseHat, options: ServiceOptions, shutdown: CancellationToken) {
    for note in &hat.notes {
        tracing::info!(source = "sensors", "{note}");
    }
    let SenseHat {
        hygrometer,
        barometer,
        mut matrix,
        mut stick,
        ..
    } = hat;
    if let Some(m) = &mut matrix {
        // The matrix starts dark: whatever the last process left is stale.
        let _ = m.show(&Frame::BLACK, Rotation::Deg0).await;
    }
    let source = SenseHatSource::new(hygrometer, barometer);
    let readings =
        Runner::new(bus.clone(), source, options.env.clone()).run_resident(shutdown.clone());

    let mut panel = Panel {
        bus: bus.clone(),
        env: options.env,
        display: Display::new(Settings::default()),
        matrix,
        sleep: SleepConfig::default(),
        leds: PiLeds::default(),
        sys_root: options.sys_root,
        published: None,
        shown: None,
        low_light: false,
        last_publish: Instant::now(),
        matrix_error: None,
        clock: Clock {
            start: Instant::now(),
        },
    };
    let display = async {
        panel.load_config().await;
        let mut commands = None;
        let mut changes = None;
        let mut stick_failed = false;
        while !shutdown.is_cancelled() {
            // (Re)subscribe while the bus lets us; a failure is retried on the next turn.
            if commands.is_none() {
                commands = CommandServer::listen(&bus, &bus.scope().source(SourceId::Sensors))
                    .await
                    .ok();
            }
            if changes.is_none() {
                changes = bus
                    .subscribe(&[Topic::channel(channels::CONFIG_CHANGED)])
                    .await
                    .ok();
            }
            let wake = panel.step().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(wake) => {}
                command = next_command(&mut commands) => match command {
                    Some(cmd) => {
                        let response = panel.command(&cmd).await;
                        if let Some(server) = &commands
                            && let Err(e) = server.respond(&response).await
                        {
                            tracing::warn!(error = %e, "cannot answer a command");
                        }
                    }
                    None => commands = None,
                },
                payload = next_payload(&mut changes) => match payload {
                    Some(p) if display_config_changed(&p, bus.scope()) => panel.load_config().await,
                    Some(_) => {}
                    None => changes = None,
                },
                event = next_stick_event(&mut stick) => match event {
                    Ok(event) => {
                        stick_failed = false;
                        panel.joystick(event).await;
                    }
                    Err(e) => {
                        if !stick_failed {
                            tracing::warn!(error = %e, "joystick read failed; retrying");
                            stick_failed = true;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
        }
        // Leave the matrix dark and the Pi's LEDs as they were.
        panel.show(&Frame::BLACK, Rotation::Deg0).await;
        if panel.leds.are_off()
            && let Err(e) = panel.leds.restore()
        {
            tracing::warn!(error = %e, "cannot restore the Pi's LEDs");
        }
    };
    tokio::join!(readings, display);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn show_text_parameters_are_checked() {
        assert_eq!(
            parse_text(&params(json!({"text": "hi"}))).unwrap(),
            ("hi".to_owned(), Rgb::WHITE)
        );
        let (_, c) = parse_text(&params(json!({"text": "hi", "color": [255, 0, 10]}))).unwrap();
        assert_eq!(c, Rgb::new(255, 0, 10));
        assert_eq!(
            parse_text(&params(json!({}))).unwrap_err(),
            "text is missing or empty"
        );
        assert_eq!(
            parse_text(&params(json!({"text": 5}))).unwrap_err(),
            "text must be a string (got 5)"
        );
        let err = parse_text(&params(json!({"text": "x", "color": [300, 0, 0]}))).unwrap_err();
        assert_eq!(
            err,
            "color must be [r, g, b] with each 0–255 (got [300,0,0])"
        );
        assert!(parse_text(&params(json!({"text": "a\nb"}))).is_err());
        assert!(parse_text(&params(json!({"text": "x".repeat(201)}))).is_err());
    }

    #[test]
    fn set_pixels_needs_64_colours() {
        let mut pixels = vec![json!([0, 0, 0]); 64];
        pixels[9] = json!([1, 2, 3]);
        let frame = parse_pixels(&params(json!({ "pixels": pixels }))).unwrap();
        assert_eq!(frame.get(1, 1), Rgb::new(1, 2, 3));
        assert_eq!(
            parse_pixels(&params(json!({"pixels": [[0, 0, 0]]}))).unwrap_err(),
            "pixels must have 64 entries (got 1)"
        );
        let mut bad = vec![json!([0, 0, 0]); 64];
        bad[63] = json!("red");
        assert!(
            parse_pixels(&params(json!({ "pixels": bad })))
                .unwrap_err()
                .starts_with("pixels[63]")
        );
    }

    #[test]
    fn display_settings_follow_the_config() {
        let config = DisplayConfig {
            rotation: 270,
            scroll_speed: 0.05,
            cycle_interval: 30,
            ..DisplayConfig::default()
        };
        let s = settings_from(&config);
        assert_eq!(s.rotation, Rotation::Deg270);
        assert_eq!(s.scroll_step, embassy_time::Duration::from_millis(50));
        assert_eq!(s.cycle_gap, embassy_time::Duration::from_secs(30));
    }
}
