//! # sense-display
//!
//! The Sense HAT's 8×8 LED display, firmware-style: `no_std`, no allocation, no clock of its own.
//!
//! The matrix shows a cycle of items, each an 8×8 icon then a line of scrolling text, in the
//! legacy order: Tailscale, Pi-hole, Sense HAT, weather, each Aranet4 CO2 monitor, system. Then
//! it is dark for the cycle interval, and the next cycle starts with fresh data. It is dark
//! during the sleep hours, a joystick steers it, and commands show text or pixels.
//!
//! - [`Display`]: the whole behaviour as a deterministic state machine with explicit time
//!   ([`embassy_time::Instant`] values passed in, never read). The Linux runtime drives it from
//!   tokio; see its docs for the loop, the sleep rules and the joystick mapping.
//! - [`Snapshot`] and [`items`]: what to show, already reduced from the bus, and the text and
//!   colour of each item ([`colours`], [`co2_colour`]).
//! - [`font`] and [`icons`]: the pixel font (5 rows plus a descender row, proportional) and the
//!   8×8 icons, original designs.
//! - [`run`]: a firmware loop on any [`LedMatrix`](sense_hal::led::LedMatrix) with
//!   embassy-time timers.
#![no_std]
#![warn(missing_docs)]
// `DisplayInputs` uses `async fn`: its futures carry no `Send` bound, like sense-hal's traits.
#![allow(async_fn_in_trait)]

mod display;
pub mod font;
pub mod icons;
mod run;
mod snapshot;

pub use display::{
    Display, EMPTY_RETRY, IDLE_POLL, MANUAL_TIMEOUT, MAX_COLUMNS, MIN_SCROLL_STEP, Mode,
    PAUSE_TIMEOUT, REPLAY_WINDOW, SLEEP_POLL, Settings, Tick,
};
pub use run::{DisplayInputs, run};
pub use snapshot::{
    CO2_ALERT, CO2_WARN, Co2, ITEM_TEXT_CAPACITY, Item, ItemText, MAX_ITEMS, Pihole, SenseHat,
    Snapshot, System, Tailscale, Weather, co2_colour, colours, items,
};
