//! The display's clockwork: the cycle, a command's text or picture and a pause moved on
//! through time, and scroll steps rendered; the public methods only change state, so this
//! is where the deadlines live.

use embassy_time::{Duration, Instant};
use heapless::Vec;
use sense_hal::led::{Frame, Rgb, SIZE};

use super::{
    Cycle, Display, EMPTY_RETRY, IDLE_POLL, MAX_COLUMNS, Overlay, PAUSE_TIMEOUT, Phase, SLEEP_POLL,
};
use crate::font;

impl Display {
    pub(super) fn advance(&mut self, now: Instant, sleep: bool) -> Instant {
        // The sleep hours end a pause of the cycle (not of a command's text).
        if sleep && self.overlay == Overlay::None {
            self.paused = None;
        }
        if let Some(since) = self.paused {
            let until = since.saturating_add(PAUSE_TIMEOUT);
            if now < until {
                return until;
            }
            self.resume(now);
        }
        match self.overlay {
            Overlay::None => {}
            Overlay::Manual { until } => {
                if now < until {
                    return until;
                }
                self.end_overlay(now);
            }
            Overlay::Text { step, due } => {
                if now < due {
                    return due;
                }
                if usize::from(step) < self.total_steps() {
                    let due = self.next_deadline(due, self.settings.step(), now);
                    self.overlay = Overlay::Text {
                        step: step + 1,
                        due,
                    };
                    self.put(self.render_scroll(step + 1));
                    return due;
                }
                self.end_overlay(now);
            }
        }
        if sleep {
            if !self.sleeping {
                self.sleeping = true;
                self.cycle = Cycle::Waiting;
                self.put(Frame::BLACK);
            }
            return now.saturating_add(SLEEP_POLL);
        }
        if self.sleeping {
            self.sleeping = false;
            self.cycle = Cycle::Waiting;
        }
        self.advance_cycle(now)
    }

    fn advance_cycle(&mut self, now: Instant) -> Instant {
        // Each pass renders at most one change; only the end of an item loops, once.
        loop {
            match self.cycle {
                Cycle::Waiting => {
                    self.put(Frame::BLACK);
                    return now.saturating_add(IDLE_POLL);
                }
                Cycle::Gap { since } => {
                    self.put(Frame::BLACK);
                    let until = since.saturating_add(self.gap());
                    return if now < until {
                        until
                    } else {
                        now.saturating_add(IDLE_POLL)
                    };
                }
                Cycle::Item { index, phase } => match phase {
                    Phase::Start { at } => {
                        if now < at {
                            return at;
                        }
                        return self.begin_item(index, at, now);
                    }
                    Phase::Icon { until } => {
                        if now < until {
                            return until;
                        }
                        return self.begin_scroll(index, until, now);
                    }
                    Phase::Scroll { step, due } => {
                        if now < due {
                            return due;
                        }
                        if usize::from(step) >= self.total_steps() {
                            self.cycle = Cycle::Item {
                                index: index + 1,
                                phase: Phase::Start { at: due },
                            };
                            continue;
                        }
                        let due = self.next_deadline(due, self.settings.step(), now);
                        self.cycle = Cycle::Item {
                            index,
                            phase: Phase::Scroll {
                                step: step + 1,
                                due,
                            },
                        };
                        self.put(self.render_scroll(step + 1));
                        return due;
                    }
                },
            }
        }
    }

    /// Begins item `index` (scheduled for `at`), or the gap after the last one.
    fn begin_item(&mut self, index: usize, at: Instant, now: Instant) -> Instant {
        let Some(item) = self.items.get(index) else {
            self.enter_gap(at);
            self.put(Frame::BLACK);
            return self.advance_cycle(now);
        };
        let (icon, colour) = (item.icon, item.colour);
        fill_columns(&mut self.columns, &item.text);
        self.colour = colour;
        let start = self.anchor(at, now);
        self.item_start = start;
        match icon {
            Some(icon)
                if self.settings.show_icons && self.settings.icon_duration.as_ticks() > 0 =>
            {
                let until = self.next_deadline(start, self.settings.icon_duration, now);
                self.cycle = Cycle::Item {
                    index,
                    phase: Phase::Icon { until },
                };
                self.put(*icon);
                until
            }
            _ => self.begin_scroll(index, start, now),
        }
    }

    /// Shows the first scroll step of item `index`, scheduled for `at`.
    fn begin_scroll(&mut self, index: usize, at: Instant, now: Instant) -> Instant {
        let due = self.next_deadline(at, self.settings.step(), now);
        self.cycle = Cycle::Item {
            index,
            phase: Phase::Scroll { step: 1, due },
        };
        self.put(self.render_scroll(1));
        due
    }

    /// `at`, unless that is more than a period in the past: then `now` (no catching up).
    fn anchor(&self, at: Instant, now: Instant) -> Instant {
        if now.saturating_duration_since(at) > self.settings.step() {
            now
        } else {
            at
        }
    }

    /// `prev + period`, or `now + period` when that is already past.
    fn next_deadline(&self, prev: Instant, period: Duration, now: Instant) -> Instant {
        let next = prev.saturating_add(period);
        if next <= now {
            now.saturating_add(period)
        } else {
            next
        }
    }

    pub(super) fn enter_gap(&mut self, since: Instant) {
        self.cycle = Cycle::Gap { since };
        self.woken = false;
    }

    pub(super) fn gap(&self) -> Duration {
        if self.items.is_empty() && self.settings.cycle_gap < EMPTY_RETRY {
            EMPTY_RETRY
        } else {
            self.settings.cycle_gap
        }
    }

    /// Ends a command's text or picture; the interrupted item starts again.
    pub(super) fn end_overlay(&mut self, now: Instant) {
        self.overlay = Overlay::None;
        if let Cycle::Item { index, .. } = self.cycle {
            self.cycle = Cycle::Item {
                index,
                phase: Phase::Start { at: now },
            };
        }
        self.put(Frame::BLACK);
    }

    /// Whether something moves that a pause can freeze.
    pub(super) fn animating(&self) -> bool {
        matches!(self.overlay, Overlay::Text { .. })
            || (self.overlay == Overlay::None && matches!(self.cycle, Cycle::Item { .. }))
    }

    /// Ends a pause begun at `self.paused`, moving every deadline by its length.
    pub(super) fn resume(&mut self, now: Instant) {
        let Some(since) = self.paused.take() else {
            return;
        };
        let d = now.saturating_duration_since(since);
        if let Overlay::Text { step, due } = self.overlay {
            self.overlay = Overlay::Text {
                step,
                due: due.saturating_add(d),
            };
        }
        if let Cycle::Item { index, phase } = self.cycle {
            let phase = match phase {
                Phase::Start { at } => Phase::Start {
                    at: at.saturating_add(d),
                },
                Phase::Icon { until } => Phase::Icon {
                    until: until.saturating_add(d),
                },
                Phase::Scroll { step, due } => Phase::Scroll {
                    step,
                    due: due.saturating_add(d),
                },
            };
            self.cycle = Cycle::Item { index, phase };
        }
        self.item_start = self.item_start.saturating_add(d);
    }

    pub(super) fn set_low_light(&mut self, on: bool) {
        if self.settings.low_light != on {
            self.settings.low_light = on;
            self.changed = true;
        }
    }

    pub(super) fn load_text(&mut self, text: &str, colour: Rgb) {
        fill_columns(&mut self.columns, text);
        self.colour = colour;
    }

    /// Steps of the loaded text: it enters at the right edge and is gone after `width + 8`.
    fn total_steps(&self) -> usize {
        self.columns.len() + SIZE
    }

    /// Scroll step `step`: matrix column `x` shows text column `step + x - 8`.
    fn render_scroll(&self, step: u16) -> Frame {
        let mut frame = Frame::BLACK;
        for x in 0..SIZE {
            let Some(col) = (usize::from(step) + x).checked_sub(SIZE) else {
                continue;
            };
            if let Some(&bits) = self.columns.get(col) {
                font::draw_column(&mut frame, x, bits, self.colour);
            }
        }
        frame
    }

    pub(super) fn put(&mut self, frame: Frame) {
        if frame != self.frame {
            self.frame = frame;
            self.changed = true;
        }
    }
}

/// Replaces `columns` with the columns of `text`, cut at [`MAX_COLUMNS`].
fn fill_columns(columns: &mut Vec<u8, MAX_COLUMNS>, text: &str) {
    columns.clear();
    for bits in font::text_columns(text) {
        if columns.push(bits).is_err() {
            break;
        }
    }
}
