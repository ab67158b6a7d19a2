//! A firmware loop around [`Display`]: embassy-time timers, any [`LedMatrix`].

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embassy_time::{Instant, Timer};
use sense_hal::led::{JoystickEvent, LedMatrix};

use crate::display::Display;
use crate::snapshot::Snapshot;

/// What [`run`] needs from the rest of the firmware.
pub trait DisplayInputs {
    /// Fresh data for the next cycle.
    async fn snapshot(&mut self) -> Snapshot;

    /// Whether it is the sleep hours now.
    fn asleep(&mut self) -> bool;

    /// Waits for the next joystick event. The default never returns: no joystick.
    ///
    /// [`run`] drops this future whenever a frame is due and calls it again afterwards, so it
    /// must not lose an event when dropped (e.g. read from a channel).
    async fn joystick(&mut self) -> JoystickEvent {
        core::future::pending().await
    }
}

/// Runs `display` on `matrix` forever: fetches a [`Snapshot`] from `inputs` when the display
/// wants one, shows every changed frame turned by the settings' rotation, sleeps with an
/// embassy-time [`Timer`] until the next tick, and feeds joystick events in as they come.
///
/// Frames are shown as they are: low light is the matrix's business (for the Sense HAT, its
/// low-light gamma table). Commands, settings changes and custom input handling need a loop of
/// your own; this one is a dozen lines to copy. Returns only when the matrix fails.
pub async fn run<M: LedMatrix, I: DisplayInputs>(
    display: &mut Display,
    matrix: &mut M,
    inputs: &mut I,
) -> Result<(), M::Error> {
    loop {
        if display.wants_data(Instant::now()) {
            let snapshot = inputs.snapshot().await;
            display.start_cycle(&snapshot, Instant::now());
        }
        let asleep = inputs.asleep();
        let tick = display.tick(Instant::now(), asleep);
        if let Some(frame) = tick.frame {
            matrix.show(&frame, display.settings().rotation).await?;
        }
        if let Some(event) = wait(tick.next, inputs).await {
            display.joystick(event, Instant::now());
        }
    }
}

/// Waits until `until` or the next joystick event, whichever comes first.
async fn wait<I: DisplayInputs>(until: Instant, inputs: &mut I) -> Option<JoystickEvent> {
    let mut timer = pin!(Timer::at(until));
    let mut event = pin!(inputs.joystick());
    poll_fn(|cx| {
        if let Poll::Ready(e) = event.as_mut().poll(cx) {
            return Poll::Ready(Some(e));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
