//! The display cycle as a pure state machine with explicit time.

use embassy_time::{Duration, Instant};
use heapless::Vec;
use sense_hal::led::{Action, Direction, Frame, JoystickEvent, Rgb, Rotation};

use crate::snapshot::{Item, MAX_ITEMS, Snapshot, items};

mod cycle;

/// How long a [`Display::set_pixels`] picture stays up without a [`Display::clear`].
pub const MANUAL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a joystick pause lasts at most before the cycle resumes by itself.
pub const PAUSE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long [`Tick::next`] is while asleep: the display checks the sleep hours this often.
pub const SLEEP_POLL: Duration = Duration::from_secs(60);

/// How long [`Tick::next`] is while the display waits for a [`Snapshot`]
/// ([`Display::wants_data`] is true but [`Display::start_cycle`] has not been called).
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// The shortest gap after a cycle that had nothing to show, so that an empty [`Snapshot`] with
/// a zero cycle gap does not ask for data in a busy loop.
pub const EMPTY_RETRY: Duration = Duration::from_secs(5);

/// The shortest scroll step used, whatever [`Settings::scroll_step`] says.
pub const MIN_SCROLL_STEP: Duration = Duration::from_millis(10);

/// Within this time of an item's start, a Left press goes to the previous item instead of
/// replaying the current one.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(1);

/// Most columns of scrolling text: 128 characters of the widest glyphs. Longer text is cut.
pub const MAX_COLUMNS: usize = 768;

/// The display settings, mirroring the `display` config section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Settings {
    /// How the matrix is turned; passed to [`LedMatrix::show`](sense_hal::led::LedMatrix::show).
    /// The frames themselves are always upright.
    pub rotation: Rotation,
    /// Show each item's icon before its text.
    pub show_icons: bool,
    /// Time per one-column scroll step (config `scroll_speed`, seconds). At least
    /// [`MIN_SCROLL_STEP`] is used.
    pub scroll_step: Duration,
    /// How long an icon stays up.
    pub icon_duration: Duration,
    /// Pause between the end of one cycle and the start of the next (config `cycle_interval`).
    pub cycle_gap: Duration,
    /// Dim the LEDs. Frames are never dimmed by this crate: the output applies it (the Sense
    /// HAT's low-light gamma table). The joystick changes it (Up off, Down on).
    pub low_light: bool,
}

impl Default for Settings {
    /// The config defaults: upright, icons on, 80 ms per step, 1.5 s icons, 60 s gap, full
    /// brightness.
    fn default() -> Self {
        Settings {
            rotation: Rotation::Deg0,
            show_icons: true,
            scroll_step: Duration::from_millis(80),
            icon_duration: Duration::from_millis(1500),
            cycle_gap: Duration::from_secs(60),
            low_light: false,
        }
    }
}

impl Settings {
    /// Settings from the config's units: `rotation` in degrees (anything but 90, 180 or 270 is
    /// upright), `scroll_speed` and `icon_duration` in seconds (negative or NaN is 0),
    /// `cycle_interval` in whole seconds.
    pub fn from_config(
        rotation: u16,
        show_icons: bool,
        scroll_speed: f64,
        icon_duration: f64,
        cycle_interval: u32,
        low_light: bool,
    ) -> Settings {
        Settings {
            rotation: Rotation::from_degrees(rotation).unwrap_or_default(),
            show_icons,
            scroll_step: secs(scroll_speed),
            icon_duration: secs(icon_duration),
            cycle_gap: Duration::from_secs(u64::from(cycle_interval)),
            low_light,
        }
    }

    fn step(&self) -> Duration {
        if self.scroll_step < MIN_SCROLL_STEP {
            MIN_SCROLL_STEP
        } else {
            self.scroll_step
        }
    }
}

/// Seconds as a [`Duration`], to the microsecond; negative or NaN is 0, capped at a day.
fn secs(s: f64) -> Duration {
    let micros = (s * 1e6).clamp(0.0, 86_400e6);
    // In range and non-negative by the clamp (NaN becomes 0 through `as`).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Duration::from_micros(micros as u64)
}

/// What the display is doing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mode {
    /// Between cycles, or waiting for data: dark.
    Idle,
    /// Showing an item's icon.
    Icon,
    /// Scrolling text (an item's or a [`Display::show_text`] command's).
    Scrolling,
    /// Frozen by the joystick.
    Paused,
    /// Dark for the sleep hours.
    Sleeping,
    /// Showing a [`Display::set_pixels`] picture.
    Manual,
}

impl Mode {
    /// `idle`, `icon`, `scrolling`, `paused`, `sleeping` or `manual`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Idle => "idle",
            Mode::Icon => "icon",
            Mode::Scrolling => "scrolling",
            Mode::Paused => "paused",
            Mode::Sleeping => "sleeping",
            Mode::Manual => "manual",
        }
    }
}

/// The result of [`Display::tick`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tick {
    /// The new picture, upright: `Some` only when it changed (or the rotation or low-light
    /// setting changed, so the output must show it again).
    pub frame: Option<Frame>,
    /// When to call [`Display::tick`] again (sooner after any other call on the display).
    pub next: Instant,
    /// What the display is doing now.
    pub mode: Mode,
}

/// Where an item is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Starts at the first tick from `at` on.
    Start { at: Instant },
    /// The icon is up until `until`.
    Icon { until: Instant },
    /// Scroll step `step` (1..=width + 8) is up; the next is due at `due`.
    Scroll { step: u16, due: Instant },
}

/// Where the cycle is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cycle {
    /// No data yet (first start, after waking, or a new cycle was asked for).
    Waiting,
    /// Showing item `index`.
    Item { index: usize, phase: Phase },
    /// The cycle ended at `since`; dark until the gap is over.
    Gap { since: Instant },
}

/// A command's picture over the cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overlay {
    None,
    /// [`Display::show_text`]: step `step` of the text in the column buffer is up (0 before
    /// the first); the next is due at `due`.
    Text {
        step: u16,
        due: Instant,
    },
    /// [`Display::set_pixels`], up until `until`.
    Manual {
        until: Instant,
    },
}

/// The LED display: the cycle of items, sleep, joystick and commands, as a pure state machine.
///
/// Time is explicit: every call takes `now`, and [`tick`](Display::tick) says when it wants to
/// be called next. Nothing here reads a clock, sleeps or allocates, so the same code runs under
/// tokio, embassy or a test with made-up instants.
///
/// # Driving it
///
/// ```
/// use embassy_time::Instant;
/// use sense_display::{Display, Settings, Snapshot, SenseHat};
///
/// let mut display = Display::new(Settings::default());
/// let mut snapshot = Snapshot::default();
/// snapshot.sensehat = Some(SenseHat { temperature_c: Some(21.34), ..Default::default() });
/// let mut now = Instant::from_millis(0);
/// for _ in 0..100 {
///     if display.wants_data(now) {
///         display.start_cycle(&snapshot, now);
///     }
///     let tick = display.tick(now, false);
///     if let Some(_frame) = tick.frame {
///         // show it, turned by display.settings().rotation
///     }
///     now = tick.next; // or earlier, when a joystick event or command arrives
/// }
/// ```
///
/// Call [`tick`](Display::tick) again after any other method (joystick, command, settings):
/// they only change the state, and the next tick renders it and may ask to be called sooner.
///
/// # The cycle
///
/// Each item shows its icon for [`Settings::icon_duration`] (when [`Settings::show_icons`]),
/// then its text enters at the right edge and leaves at the left, one column per
/// [`Settings::scroll_step`]: `width + 8` steps, the last one dark. After the last item the
/// display is dark for [`Settings::cycle_gap`], then [`wants_data`](Display::wants_data)
/// turns true and the next [`start_cycle`](Display::start_cycle) begins a cycle with fresh data.
///
/// A late tick never bursts or skips: one step is rendered per tick, and the next deadline is
/// the previous one plus the period, or `now` plus the period when that is already past.
///
/// # Sleep
///
/// While `asleep` (the sleep hours, passed to [`tick`](Display::tick)) the matrix is dark, the
/// mode is [`Mode::Sleeping`], no data is wanted and the display ticks every [`SLEEP_POLL`].
/// A joystick press while asleep wakes it for one cycle (the press does nothing else); after
/// that cycle it sleeps again. Commands ([`show_text`](Display::show_text),
/// [`set_pixels`](Display::set_pixels)) are shown even while asleep, then it sleeps again.
/// When the sleep hours end a new cycle starts at once.
///
/// # Joystick (presses only; releases are ignored)
///
/// | direction | effect |
/// |---|---|
/// | Right | skip to the next item (between cycles: start a new cycle now); ends a command's text or picture |
/// | Left | replay the current item from its start, or go back to the previous item within [`REPLAY_WINDOW`] of its start; between cycles: replay the last item; ends a command's text or picture |
/// | Middle | pause or resume (up to [`PAUSE_TIMEOUT`]); ends a [`set_pixels`](Display::set_pixels) picture |
/// | Up | full brightness (`low_light` off) |
/// | Down | low light on |
#[derive(Debug)]
pub struct Display {
    settings: Settings,
    items: Vec<Item, MAX_ITEMS>,
    cycle: Cycle,
    overlay: Overlay,
    /// When the pause began.
    paused: Option<Instant>,
    sleeping: bool,
    /// Woken by the joystick during the sleep hours, until the end of the cycle.
    woken: bool,
    /// When the current item began (for Left).
    item_start: Instant,
    /// The columns of the text being scrolled (an item's or the command's), and its colour.
    columns: Vec<u8, MAX_COLUMNS>,
    colour: Rgb,
    frame: Frame,
    /// The next tick returns the frame.
    changed: bool,
}

impl Display {
    /// A dark display that wants data at once.
    pub fn new(settings: Settings) -> Display {
        Display {
            settings,
            items: Vec::new(),
            cycle: Cycle::Waiting,
            overlay: Overlay::None,
            paused: None,
            sleeping: false,
            woken: false,
            item_start: Instant::from_ticks(0),
            columns: Vec::new(),
            colour: Rgb::BLACK,
            frame: Frame::BLACK,
            changed: false,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Replaces the settings. A new scroll step applies from the next step, a new icon duration
    /// from the next icon, a new cycle gap at once (also to a gap under way). A new rotation or
    /// low-light setting makes the next tick return the frame again.
    pub fn set_settings(&mut self, settings: Settings) {
        if settings.rotation != self.settings.rotation
            || settings.low_light != self.settings.low_light
        {
            self.changed = true;
        }
        self.settings = settings;
    }

    /// Starts a new cycle with fresh data: the first item begins at the next tick. Call it when
    /// [`wants_data`](Display::wants_data) is true. A cycle with nothing to show goes straight
    /// to the gap (at least [`EMPTY_RETRY`]).
    pub fn start_cycle(&mut self, snapshot: &Snapshot, now: Instant) {
        self.items = items(snapshot);
        self.paused = None;
        self.cycle = Cycle::Item {
            index: 0,
            phase: Phase::Start { at: now },
        };
    }

    /// Whether the display needs a new [`Snapshot`]: at first start, after waking, when asked
    /// for by the joystick, and when the gap after a cycle is over. Never while asleep, paused
    /// or showing a command.
    pub fn wants_data(&self, now: Instant) -> bool {
        if self.sleeping || self.paused.is_some() || self.overlay != Overlay::None {
            return false;
        }
        match self.cycle {
            Cycle::Waiting => true,
            Cycle::Gap { since } => now >= since.saturating_add(self.gap()),
            Cycle::Item { .. } => false,
        }
    }

    /// Advances to `now`; `asleep` says whether it is the sleep hours. Returns the new picture
    /// if it changed, when to call again, and the mode.
    pub fn tick(&mut self, now: Instant, asleep: bool) -> Tick {
        if !asleep {
            self.woken = false;
        }
        let woken = self.woken;
        let mut next = self.advance(now, asleep && !woken);
        if asleep && woken && !self.woken {
            // The wake-up cycle just ended: back to sleep at once.
            next = self.advance(now, true);
        }
        let frame = core::mem::take(&mut self.changed).then_some(self.frame);
        Tick {
            frame,
            next,
            mode: self.mode(),
        }
    }

    /// A joystick event; see the table in [`Display`].
    pub fn joystick(&mut self, event: JoystickEvent, now: Instant) {
        if event.action != Action::Pressed {
            return;
        }
        if self.wake() {
            return;
        }
        match event.direction {
            Direction::Up => self.set_low_light(false),
            Direction::Down => self.set_low_light(true),
            Direction::Middle => {
                if let Overlay::Manual { .. } = self.overlay {
                    self.end_overlay(now);
                } else if self.paused.is_some() {
                    self.resume(now);
                } else if self.animating() {
                    self.paused = Some(now);
                }
            }
            Direction::Right => {
                self.paused = None;
                if self.overlay != Overlay::None {
                    self.end_overlay(now);
                    return;
                }
                self.cycle = match self.cycle {
                    Cycle::Item { index, .. } => Cycle::Item {
                        index: index + 1,
                        phase: Phase::Start { at: now },
                    },
                    Cycle::Gap { .. } | Cycle::Waiting => Cycle::Waiting,
                };
            }
            Direction::Left => {
                self.paused = None;
                if self.overlay != Overlay::None {
                    self.end_overlay(now);
                    return;
                }
                let index = match self.cycle {
                    Cycle::Item { index, phase } => {
                        let fresh = matches!(phase, Phase::Start { .. })
                            || now.saturating_duration_since(self.item_start) < REPLAY_WINDOW;
                        if fresh {
                            index.saturating_sub(1)
                        } else {
                            index
                        }
                    }
                    Cycle::Gap { .. } if !self.items.is_empty() => self.items.len() - 1,
                    Cycle::Gap { .. } | Cycle::Waiting => return,
                };
                self.cycle = Cycle::Item {
                    index,
                    phase: Phase::Start { at: now },
                };
            }
        }
    }

    /// Command (and any joystick press): while asleep, wakes for one cycle with fresh data,
    /// then sleeps again until the sleep hours end. Whether it was asleep.
    pub fn wake(&mut self) -> bool {
        if !self.sleeping {
            return false;
        }
        self.sleeping = false;
        self.woken = true;
        self.cycle = Cycle::Waiting;
        true
    }

    /// Command: scrolls `text` once in `colour`, interrupting the cycle; afterwards the
    /// interrupted item starts again from its beginning (a gap just goes on). Shown even while
    /// asleep. Text beyond [`MAX_COLUMNS`] columns is cut; empty text does nothing.
    pub fn show_text(&mut self, text: &str, colour: Rgb, now: Instant) {
        if text.is_empty() {
            return;
        }
        self.paused = None;
        self.sleeping = false;
        self.load_text(text, colour);
        self.overlay = Overlay::Text { step: 0, due: now };
    }

    /// Command: shows `frame` (upright) until [`clear`](Display::clear), a Middle or Right
    /// press, another command, or [`MANUAL_TIMEOUT`]; then the cycle goes on as after
    /// [`show_text`](Display::show_text). Shown even while asleep.
    pub fn set_pixels(&mut self, frame: Frame, now: Instant) {
        self.paused = None;
        self.sleeping = false;
        self.overlay = Overlay::Manual {
            until: now.saturating_add(MANUAL_TIMEOUT),
        };
        self.put(frame);
    }

    /// Command: dark now. Ends any command picture or text and the cycle under way; the next
    /// cycle starts after the gap, counted from now (a gap under way just goes on).
    pub fn clear(&mut self, now: Instant) {
        self.paused = None;
        self.overlay = Overlay::None;
        if !matches!(self.cycle, Cycle::Gap { .. }) {
            self.enter_gap(now);
        }
        self.put(Frame::BLACK);
    }

    /// What is on the matrix now, upright (before rotation; never dimmed).
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// What the display is doing.
    pub fn mode(&self) -> Mode {
        if self.sleeping {
            return Mode::Sleeping;
        }
        if self.paused.is_some() {
            return Mode::Paused;
        }
        match self.overlay {
            Overlay::Manual { .. } => return Mode::Manual,
            Overlay::Text { .. } => return Mode::Scrolling,
            Overlay::None => {}
        }
        match self.cycle {
            Cycle::Item {
                phase: Phase::Icon { .. },
                ..
            } => Mode::Icon,
            Cycle::Item {
                phase: Phase::Scroll { .. },
                ..
            } => Mode::Scrolling,
            _ => Mode::Idle,
        }
    }
}
