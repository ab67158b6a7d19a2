//! What the display shows ([`Snapshot`]) and how it turns into items ([`items`]).

use core::fmt::{self, Write as _};

use heapless::{String, Vec};
use sense_hal::led::Rgb;
use sense_hal::value::{Text, round_to};

use crate::icons::{self, Icon};

/// Tailscale's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tailscale {
    /// Whether this machine is connected to the tailnet.
    pub connected: bool,
    /// Peers online, if known.
    pub online_peers: Option<i64>,
}

/// Pi-hole's counters for today.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pihole {
    /// DNS queries.
    pub queries: Option<i64>,
    /// Queries blocked.
    pub blocked: Option<i64>,
    /// Share of queries blocked, in percent.
    pub blocked_percent: Option<f64>,
}

/// The Sense HAT's own sensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SenseHat {
    /// Temperature in °C (the CPU-heat-compensated one when there is one).
    pub temperature_c: Option<f64>,
    /// Relative humidity in percent.
    pub humidity_percent: Option<f64>,
    /// Air pressure in hPa (= mbar).
    pub pressure_hpa: Option<f64>,
}

/// The weather outside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weather {
    /// Temperature in °C.
    pub temperature_c: Option<f64>,
    /// Conditions as text, e.g. "Partly cloudy"; also picks the icon
    /// ([`icons::weather_icon`]).
    pub conditions: Option<Text>,
}

/// One Aranet4 CO2 monitor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Co2 {
    /// The monitor's name, e.g. "office".
    pub label: String<32>,
    /// CO2 in ppm.
    pub ppm: Option<i64>,
    /// Temperature in °C.
    pub temperature_c: Option<f64>,
    /// Relative humidity in percent.
    pub humidity_percent: Option<f64>,
}

/// The machine itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct System {
    /// CPU use in percent.
    pub cpu_percent: Option<f64>,
    /// Memory use in percent.
    pub memory_percent: Option<f64>,
    /// CPU temperature in °C.
    pub cpu_temp_c: Option<f64>,
}

/// What the display shows, already reduced from bus readings. Every field is optional: a missing
/// source is skipped, and a missing value inside a present source is left out of its text (never
/// shown as 0). Non-finite floats count as missing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Tailscale.
    pub tailscale: Option<Tailscale>,
    /// Pi-hole.
    pub pihole: Option<Pihole>,
    /// The Sense HAT's sensors.
    pub sensehat: Option<SenseHat>,
    /// The weather.
    pub weather: Option<Weather>,
    /// The CO2 monitors, shown in this order.
    pub co2: Vec<Co2, 8>,
    /// The system.
    pub system: Option<System>,
}

/// CO2 from this level (ppm) on is shown in [`colours::CO2_WARN`]: ventilate soon.
pub const CO2_WARN: i64 = 1000;
/// CO2 from this level (ppm) on is shown in [`colours::CO2_ALERT`]: ventilate now.
pub const CO2_ALERT: i64 = 1500;

/// The colour of a CO2 reading: green below [`CO2_WARN`], amber from [`CO2_WARN`] up to
/// [`CO2_ALERT`], red from [`CO2_ALERT`] on.
pub fn co2_colour(ppm: i64) -> Rgb {
    if ppm >= CO2_ALERT {
        colours::CO2_ALERT
    } else if ppm >= CO2_WARN {
        colours::CO2_WARN
    } else {
        colours::CO2_GOOD
    }
}

/// The text colour of each item.
pub mod colours {
    use sense_hal::led::Rgb;

    /// Tailscale connected: blue.
    pub const TAILSCALE: Rgb = Rgb::new(64, 128, 255);
    /// Tailscale offline: red.
    pub const TAILSCALE_OFFLINE: Rgb = Rgb::new(255, 0, 0);
    /// Pi-hole: pink.
    pub const PIHOLE: Rgb = Rgb::new(255, 64, 160);
    /// The Sense HAT's readings: orange.
    pub const SENSEHAT: Rgb = Rgb::new(255, 140, 0);
    /// The weather: sky blue.
    pub const WEATHER: Rgb = Rgb::new(64, 224, 255);
    /// CO2 below [`CO2_WARN`](crate::CO2_WARN): green.
    pub const CO2_GOOD: Rgb = Rgb::new(0, 255, 0);
    /// CO2 from [`CO2_WARN`](crate::CO2_WARN): amber.
    pub const CO2_WARN: Rgb = Rgb::new(255, 176, 0);
    /// CO2 from [`CO2_ALERT`](crate::CO2_ALERT): red.
    pub const CO2_ALERT: Rgb = Rgb::new(255, 0, 0);
    /// A CO2 monitor without a ppm value: white.
    pub const CO2_UNKNOWN: Rgb = Rgb::new(255, 255, 255);
    /// The system: violet.
    pub const SYSTEM: Rgb = Rgb::new(176, 96, 255);
}

/// Capacity of an item's text, in bytes.
pub const ITEM_TEXT_CAPACITY: usize = 96;

/// Most items in one cycle: five single sources and eight CO2 monitors.
pub const MAX_ITEMS: usize = 13;

/// An item's text.
pub type ItemText = String<ITEM_TEXT_CAPACITY>;

/// One step of the cycle: an optional icon, then a line of scrolling text.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The icon shown first (when the settings show icons).
    pub icon: Option<&'static Icon>,
    /// The text.
    pub text: ItemText,
    /// The text's colour.
    pub colour: Rgb,
}

/// The items for `snapshot`, in the legacy order: Tailscale, Pi-hole, Sense HAT, weather, each
/// CO2 monitor, system. A source that is missing, or present with nothing to say, gives no item.
///
/// | item | text | colour |
/// |---|---|---|
/// | Tailscale | `Tailscale 5 online`, `Tailscale connected`, `Tailscale offline` | blue; offline red |
/// | Pi-hole | `12345 queries 10.5% blocked` (or `678 blocked` without the share) | pink |
/// | Sense HAT | `21.3°C 45% 1013hPa` | orange |
/// | weather | `12°C Partly cloudy` | sky blue |
/// | CO2 | `office 850ppm 21.5°C 40%` | by [`co2_colour`]; white without ppm |
/// | system | `CPU 23% mem 61% 52°C` | violet |
///
/// Temperatures have one decimal (weather none, the CPU none), percentages none except Pi-hole's
/// blocked share (one), pressure none. Rounding is half away from zero.
pub fn items(snapshot: &Snapshot) -> Vec<Item, MAX_ITEMS> {
    let mut out = Vec::new();
    let mut push = |icon: &'static Icon, text: ItemText, colour: Rgb| {
        if !text.is_empty() {
            // Cannot overflow: at most 5 + 8 items by construction.
            let _ = out.push(Item {
                icon: Some(icon),
                text,
                colour,
            });
        }
    };
    if let Some(t) = &snapshot.tailscale {
        let mut w = Line::default();
        w.word(format_args!("Tailscale"));
        match (t.connected, t.online_peers) {
            (false, _) => w.word(format_args!("offline")),
            (true, Some(n)) => w.word(format_args!("{n} online")),
            (true, None) => w.word(format_args!("connected")),
        }
        if t.connected {
            push(&icons::TAILSCALE, w.0, colours::TAILSCALE);
        } else {
            push(&icons::TAILSCALE_OFFLINE, w.0, colours::TAILSCALE_OFFLINE);
        }
    }
    if let Some(p) = &snapshot.pihole {
        let mut w = Line::default();
        if let Some(q) = p.queries {
            w.word(format_args!("{q} queries"));
        }
        if let Some(pct) = finite(p.blocked_percent) {
            w.word(format_args!("{}% blocked", Fixed(pct, 1)));
        } else if let Some(b) = p.blocked {
            w.word(format_args!("{b} blocked"));
        }
        push(&icons::PIHOLE, w.0, colours::PIHOLE);
    }
    if let Some(s) = &snapshot.sensehat {
        let mut w = Line::default();
        if let Some(t) = finite(s.temperature_c) {
            w.word(format_args!("{}°C", Fixed(t, 1)));
        }
        if let Some(h) = finite(s.humidity_percent) {
            w.word(format_args!("{}%", Fixed(h, 0)));
        }
        if let Some(p) = finite(s.pressure_hpa) {
            w.word(format_args!("{}hPa", Fixed(p, 0)));
        }
        push(&icons::THERMOMETER, w.0, colours::SENSEHAT);
    }
    if let Some(weather) = &snapshot.weather {
        let mut w = Line::default();
        if let Some(t) = finite(weather.temperature_c) {
            w.word(format_args!("{}°C", Fixed(t, 0)));
        }
        let conditions = weather.conditions.as_deref().map_or("", str::trim);
        if !conditions.is_empty() {
            w.word(format_args!("{conditions}"));
        }
        push(icons::weather_icon(conditions), w.0, colours::WEATHER);
    }
    for c in &snapshot.co2 {
        let mut w = Line::default();
        if let Some(ppm) = c.ppm {
            w.word(format_args!("{ppm}ppm"));
        }
        if let Some(t) = finite(c.temperature_c) {
            w.word(format_args!("{}°C", Fixed(t, 1)));
        }
        if let Some(h) = finite(c.humidity_percent) {
            w.word(format_args!("{}%", Fixed(h, 0)));
        }
        if w.0.is_empty() {
            continue; // a label alone says nothing
        }
        let label = c.label.trim();
        let mut line = Line::default();
        line.word(format_args!(
            "{}",
            if label.is_empty() { "CO2" } else { label }
        ));
        line.word(format_args!("{}", w.0));
        let colour = c.ppm.map_or(colours::CO2_UNKNOWN, co2_colour);
        push(&icons::CO2, line.0, colour);
    }
    if let Some(s) = &snapshot.system {
        let mut w = Line::default();
        if let Some(cpu) = finite(s.cpu_percent) {
            w.word(format_args!("CPU {}%", Fixed(cpu, 0)));
        }
        if let Some(mem) = finite(s.memory_percent) {
            w.word(format_args!("mem {}%", Fixed(mem, 0)));
        }
        if let Some(t) = finite(s.cpu_temp_c) {
            w.word(format_args!("{}°C", Fixed(t, 0)));
        }
        push(&icons::SYSTEM, w.0, colours::SYSTEM);
    }
    out
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|x| x.is_finite())
}

/// A float rounded half away from zero to a fixed number of decimals, never `-0`.
struct Fixed(f64, u8);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `+ 0.0` turns -0.0 into 0.0.
        let x = round_to(self.0, self.1) + 0.0;
        write!(f, "{x:.*}", usize::from(self.1))
    }
}

/// A line of words separated by single spaces; what does not fit is cut at a character boundary.
#[derive(Default)]
struct Line(ItemText);

impl Line {
    fn word(&mut self, args: fmt::Arguments<'_>) {
        if !self.0.is_empty() {
            let _ = Cut(&mut self.0).write_str(" ");
        }
        let _ = Cut(&mut self.0).write_fmt(args);
    }
}

/// Writes into a fixed-capacity string, dropping what does not fit.
pub(crate) struct Cut<'a, const N: usize>(pub(crate) &'a mut String<N>);

impl<const N: usize> fmt::Write for Cut<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}
