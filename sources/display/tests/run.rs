//! `run` on a fake matrix, in real time through embassy-time's std driver (well under a second).

use core::fmt;
use std::vec::Vec;

use embassy_time::{Duration, Instant};
use sense_display::{Display, DisplayInputs, SenseHat, Settings, Snapshot, icons, run};
use sense_hal::led::{Action, Direction, Frame, JoystickEvent, LedMatrix, Rotation};

#[derive(Debug, PartialEq)]
struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("enough frames")
    }
}

/// Records frames and fails after `limit` of them, which ends `run`.
struct Recorder {
    shown: Vec<(Instant, Frame, Rotation)>,
    limit: usize,
}

impl LedMatrix for Recorder {
    type Error = Full;

    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> Result<(), Full> {
        self.shown.push((Instant::now(), *frame, rotation));
        if self.shown.len() >= self.limit {
            Err(Full)
        } else {
            Ok(())
        }
    }
}

struct Inputs {
    snapshots: usize,
    /// Joystick events still to deliver, one per call.
    events: Vec<JoystickEvent>,
}

impl DisplayInputs for Inputs {
    async fn snapshot(&mut self) -> Snapshot {
        self.snapshots += 1;
        Snapshot {
            sensehat: Some(SenseHat {
                temperature_c: Some(20.0),
                ..SenseHat::default()
            }),
            ..Snapshot::default()
        }
    }

    fn asleep(&mut self) -> bool {
        false
    }

    async fn joystick(&mut self) -> JoystickEvent {
        match self.events.pop() {
            Some(e) => e,
            None => core::future::pending().await,
        }
    }
}

fn settings() -> Settings {
    Settings {
        rotation: Rotation::Deg90,
        scroll_step: Duration::from_millis(10),
        icon_duration: Duration::from_millis(50),
        ..Settings::default()
    }
}

#[test]
fn run_shows_the_icon_then_scrolls_on_time() {
    let mut display = Display::new(settings());
    let mut matrix = Recorder {
        shown: Vec::new(),
        limit: 6,
    };
    let mut inputs = Inputs {
        snapshots: 0,
        events: Vec::new(),
    };
    let start = Instant::now();
    let result = futures_executor::block_on(run(&mut display, &mut matrix, &mut inputs));
    assert_eq!(result, Err(Full));
    assert_eq!(inputs.snapshots, 1);
    let shown = &matrix.shown;
    assert_eq!(shown[0].1, icons::THERMOMETER);
    assert!(shown.iter().all(|&(_, _, r)| r == Rotation::Deg90));
    // The icon stays up for its duration, then one step per scroll step (deadlines are
    // anchored, so a late frame makes the next gap shorter: check the totals).
    for (k, &(when, _, _)) in shown.iter().enumerate().skip(1) {
        let due = 50 + 10 * (k as u64 - 1);
        assert!(when - start >= Duration::from_millis(due), "frame {k}");
    }
    for pair in shown.windows(2) {
        assert_ne!(pair[0].1, pair[1].1);
    }
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn run_feeds_the_joystick_in() {
    let mut display = Display::new(Settings {
        icon_duration: Duration::from_secs(30),
        ..settings()
    });
    let mut matrix = Recorder {
        shown: Vec::new(),
        limit: 2,
    };
    let mut inputs = Inputs {
        snapshots: 0,
        events: vec![JoystickEvent {
            direction: Direction::Right,
            action: Action::Pressed,
        }],
    };
    let start = Instant::now();
    let result = futures_executor::block_on(run(&mut display, &mut matrix, &mut inputs));
    assert_eq!(result, Err(Full));
    // Right skipped the 30 s icon: the only item is done, the cycle ends and the matrix goes
    // dark at once.
    assert_eq!(matrix.shown[0].1, icons::THERMOMETER);
    assert_eq!(matrix.shown[1].1, Frame::BLACK);
    assert!(start.elapsed() < Duration::from_secs(2));
}
