//! The display state machine, driven with made-up instants.

use embassy_time::{Duration, Instant};
use heapless::{String, Vec};
use sense_display::{
    CO2_ALERT, CO2_WARN, Co2, Display, EMPTY_RETRY, MANUAL_TIMEOUT, Mode, PAUSE_TIMEOUT, Pihole,
    SLEEP_POLL, SenseHat, Settings, Snapshot, System, Tailscale, Tick, Weather, co2_colour,
    colours, font, icons, items,
};
use sense_hal::led::{Action, Direction, Frame, JoystickEvent, Rgb, Rotation};
use sense_hal::value::truncated_text;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn press(direction: Direction) -> JoystickEvent {
    JoystickEvent {
        direction,
        action: Action::Pressed,
    }
}

fn label(s: &str) -> String<32> {
    String::try_from(s).unwrap()
}

fn full() -> Snapshot {
    let mut co2 = Vec::new();
    co2.push(Co2 {
        label: label("office"),
        ppm: Some(850),
        temperature_c: Some(21.46),
        humidity_percent: Some(40.4),
    })
    .unwrap();
    co2.push(Co2 {
        label: label("bedroom"),
        ppm: Some(1600),
        ..Co2::default()
    })
    .unwrap();
    Snapshot {
        tailscale: Some(Tailscale {
            connected: true,
            online_peers: Some(5),
        }),
        pihole: Some(Pihole {
            queries: Some(12345),
            blocked: Some(1296),
            blocked_percent: Some(10.4987),
        }),
        sensehat: Some(SenseHat {
            temperature_c: Some(21.34),
            humidity_percent: Some(45.2),
            pressure_hpa: Some(1013.25),
        }),
        weather: Some(Weather {
            temperature_c: Some(12.0),
            conditions: Some(truncated_text("Partly cloudy")),
        }),
        co2,
        system: Some(System {
            cpu_percent: Some(23.4),
            memory_percent: Some(61.2),
            cpu_temp_c: Some(52.3),
        }),
    }
}

fn sensehat_only(t: f64) -> Snapshot {
    Snapshot {
        sensehat: Some(SenseHat {
            temperature_c: Some(t),
            ..SenseHat::default()
        }),
        ..Snapshot::default()
    }
}

fn texts(snapshot: &Snapshot) -> std::vec::Vec<std::string::String> {
    items(snapshot)
        .iter()
        .map(|i| i.text.as_str().into())
        .collect()
}

/// Ticks exactly when asked, starting cycles with `snapshot` when wanted, until `end`.
fn drive(
    d: &mut Display,
    snapshot: &Snapshot,
    from: Instant,
    end: Instant,
) -> std::vec::Vec<(Instant, Tick)> {
    let mut out = std::vec::Vec::new();
    let mut now = from;
    while now < end {
        if d.wants_data(now) {
            d.start_cycle(snapshot, now);
        }
        let tick = d.tick(now, false);
        out.push((now, tick));
        assert!(tick.next > now, "next must move on");
        now = tick.next;
    }
    out
}

#[test]
fn items_come_in_the_legacy_order_with_readable_texts() {
    assert_eq!(
        texts(&full()),
        [
            "Tailscale 5 online",
            "12345 queries 10.5% blocked",
            "21.3°C 45% 1013hPa",
            "12°C Partly cloudy",
            "office 850ppm 21.5°C 40%",
            "bedroom 1600ppm",
            "CPU 23% mem 61% 52°C",
        ]
    );
    let colours: std::vec::Vec<Rgb> = items(&full()).iter().map(|i| i.colour).collect();
    assert_eq!(
        colours,
        [
            colours::TAILSCALE,
            colours::PIHOLE,
            colours::SENSEHAT,
            colours::WEATHER,
            colours::CO2_GOOD,
            colours::CO2_ALERT,
            colours::SYSTEM,
        ]
    );
    let icons: std::vec::Vec<Frame> = items(&full()).iter().map(|i| *i.icon.unwrap()).collect();
    assert_eq!(
        icons,
        [
            icons::TAILSCALE,
            icons::PIHOLE,
            icons::THERMOMETER,
            icons::PARTLY_CLOUDY,
            icons::CO2,
            icons::CO2,
            icons::SYSTEM,
        ]
    );
}

#[test]
fn missing_sources_are_skipped_and_missing_values_never_shown_as_zero() {
    let mut s = full();
    s.pihole = None;
    s.weather = None;
    assert_eq!(texts(&s).len(), 5);
    assert!(texts(&s)[1].starts_with("21.3"));

    let mut co2 = Vec::new();
    co2.push(Co2 {
        label: label("hall"),
        ..Co2::default()
    })
    .unwrap();
    co2.push(Co2 {
        label: label(""),
        temperature_c: Some(19.0),
        ..Co2::default()
    })
    .unwrap();
    let sparse = Snapshot {
        tailscale: Some(Tailscale {
            connected: true,
            online_peers: None,
        }),
        pihole: Some(Pihole {
            queries: None,
            blocked: Some(678),
            blocked_percent: Some(f64::NAN),
        }),
        sensehat: Some(SenseHat {
            humidity_percent: Some(45.0),
            ..SenseHat::default()
        }),
        weather: Some(Weather {
            temperature_c: None,
            conditions: None,
        }),
        co2,
        system: Some(System::default()),
    };
    assert_eq!(
        texts(&sparse),
        ["Tailscale connected", "678 blocked", "45%", "CO2 19.0°C"]
    );
    let offline = Snapshot {
        tailscale: Some(Tailscale {
            connected: false,
            online_peers: Some(3),
        }),
        ..Snapshot::default()
    };
    let item = &items(&offline)[0];
    assert_eq!(item.text.as_str(), "Tailscale offline");
    assert_eq!(item.colour, colours::TAILSCALE_OFFLINE);
    assert_eq!(*item.icon.unwrap(), icons::TAILSCALE_OFFLINE);
    // Rounding: half away from zero, and never "-0".
    assert_eq!(texts(&sensehat_only(-0.04)), ["0.0°C"]);
    assert_eq!(texts(&sensehat_only(-2.25)), ["-2.3°C"]);
}

#[test]
fn co2_colours_switch_at_the_documented_thresholds() {
    assert_eq!((CO2_WARN, CO2_ALERT), (1000, 1500));
    assert_eq!(co2_colour(999), colours::CO2_GOOD);
    assert_eq!(co2_colour(1000), colours::CO2_WARN);
    assert_eq!(co2_colour(1499), colours::CO2_WARN);
    assert_eq!(co2_colour(1500), colours::CO2_ALERT);
    assert_eq!(co2_colour(1500), Rgb::RED);
}

#[test]
fn a_known_glyph_renders_at_a_known_place() {
    let mut f = Frame::BLACK;
    font::draw(&mut f, "Hi", 1, Rgb::WHITE);
    let golden = "
........
.#.#.#..
.#.#....
.###.#..
.#.#.#..
.#.#.#..
........
........";
    assert_eq!(format!("{f:?}"), golden);
    // Clipped at both edges; descenders use row 6.
    let mut f = Frame::BLACK;
    font::draw(&mut f, "gy", -2, Rgb::WHITE);
    let golden = "
........
........
#.#.#...
#.#.#...
#..##...
#...#...
..##....
........";
    assert_eq!(format!("{f:?}"), golden);
}

#[test]
fn icon_then_text_scrolls_width_plus_8_steps_one_step_apart() {
    let s = sensehat_only(21.34);
    let width = font::text_width("21.3°C");
    let settings = Settings::default();
    let mut d = Display::new(settings);
    assert!(d.wants_data(at(0)));
    d.start_cycle(&s, at(0));
    assert!(!d.wants_data(at(0)));

    let t = d.tick(at(0), false);
    assert_eq!(
        (t.mode, t.frame, t.next),
        (Mode::Icon, Some(icons::THERMOMETER), at(1500))
    );
    // Early calls change nothing.
    let t = d.tick(at(700), false);
    assert_eq!((t.mode, t.frame, t.next), (Mode::Icon, None, at(1500)));

    let mut now = at(1500);
    let mut steps = 0;
    loop {
        let t = d.tick(now, false);
        if t.mode != Mode::Scrolling {
            // The cycle is over: dark for the gap, then data is wanted again.
            assert_eq!(t.mode, Mode::Idle);
            assert_eq!(t.next, now + settings.cycle_gap);
            break;
        }
        steps += 1;
        assert!(t.frame.is_some(), "every step changes the picture");
        if steps == 1 {
            // The first column of '2' enters at the right edge, in the item's colour.
            let f = t.frame.unwrap();
            let lit: std::vec::Vec<(usize, usize)> = (0..8)
                .flat_map(|y| (0..8).map(move |x| (x, y)))
                .filter(|&(x, y)| !f.get(x, y).is_black())
                .collect();
            assert_eq!(lit, [(7, 1), (7, 4), (7, 5)]);
            assert_eq!(f.get(7, 1), colours::SENSEHAT);
        }
        assert_eq!(t.next - now, settings.scroll_step);
        now = t.next;
    }
    assert_eq!(steps, width + 8);
    assert_eq!(*d.frame(), Frame::BLACK);
    assert!(!d.wants_data(now + Duration::from_secs(59)));
    assert!(d.wants_data(now + Duration::from_secs(60)));
}

#[test]
fn the_cycle_shows_every_item_in_order_then_a_new_cycle_starts() {
    let mut d = Display::new(Settings::default());
    let ticks = drive(&mut d, &full(), at(0), at(200_000));
    let shown_icons: std::vec::Vec<Frame> = ticks
        .iter()
        .filter(|(_, t)| t.mode == Mode::Icon && t.frame.is_some())
        .map(|(_, t)| t.frame.unwrap())
        .collect();
    let one_cycle = [
        icons::TAILSCALE,
        icons::PIHOLE,
        icons::THERMOMETER,
        icons::PARTLY_CLOUDY,
        icons::CO2,
        icons::CO2,
        icons::SYSTEM,
    ];
    assert!(shown_icons.len() > one_cycle.len());
    assert_eq!(shown_icons[..7], one_cycle);
    assert_eq!(shown_icons[7], icons::TAILSCALE);
    // The second cycle starts exactly one gap after the first ends.
    let idle = ticks
        .iter()
        .position(|(_, t)| t.mode == Mode::Idle)
        .unwrap();
    let (end, _) = ticks[idle];
    let (second, _) = ticks[idle + 1];
    assert_eq!(second - end, Duration::from_secs(60));
}

#[test]
fn without_icons_text_starts_at_once() {
    let settings = Settings {
        show_icons: false,
        ..Settings::default()
    };
    let mut d = Display::new(settings);
    d.start_cycle(&sensehat_only(20.0), at(0));
    let t = d.tick(at(0), false);
    assert_eq!((t.mode, t.next), (Mode::Scrolling, at(80)));
}

#[test]
fn a_late_tick_renders_one_step_and_does_not_burst() {
    let mut d = Display::new(Settings {
        show_icons: false,
        ..Settings::default()
    });
    d.start_cycle(&sensehat_only(20.0), at(0));
    d.tick(at(0), false);
    let t = d.tick(at(1000), false);
    assert_eq!((t.mode, t.next), (Mode::Scrolling, at(1080)));
    let mut expected = Frame::BLACK;
    font::draw(&mut expected, "20.0°C", 6, colours::SENSEHAT); // step 2
    assert_eq!(t.frame, Some(expected));
}

#[test]
fn an_empty_snapshot_waits_before_asking_again() {
    let mut d = Display::new(Settings {
        cycle_gap: Duration::from_secs(0),
        ..Settings::default()
    });
    d.start_cycle(&Snapshot::default(), at(0));
    let t = d.tick(at(0), false);
    assert_eq!((t.mode, t.next), (Mode::Idle, at(0) + EMPTY_RETRY));
    assert!(!d.wants_data(at(1000)));
    assert!(d.wants_data(at(0) + EMPTY_RETRY));
}

#[test]
fn sleep_blanks_idles_and_resumes_with_fresh_data() {
    let mut d = Display::new(Settings::default());
    d.start_cycle(&full(), at(0));
    assert_eq!(d.tick(at(0), false).frame, Some(icons::TAILSCALE));
    let t = d.tick(at(100), true);
    assert_eq!(
        (t.mode, t.frame, t.next),
        (Mode::Sleeping, Some(Frame::BLACK), at(100) + SLEEP_POLL)
    );
    assert_eq!(d.mode().as_str(), "sleeping");
    assert!(!d.wants_data(at(200)));
    let t = d.tick(at(60_100), true);
    assert_eq!((t.mode, t.frame), (Mode::Sleeping, None));
    // Sleep hours over: a new cycle from the first item with fresh data.
    let t = d.tick(at(120_100), false);
    assert_eq!(t.mode, Mode::Idle);
    assert!(d.wants_data(at(120_100)));
    d.start_cycle(&full(), at(120_100));
    assert_eq!(d.tick(at(120_100), false).frame, Some(icons::TAILSCALE));
}

#[test]
fn a_press_while_asleep_wakes_for_one_cycle() {
    let mut d = Display::new(Settings::default());
    d.tick(at(0), true);
    assert_eq!(d.mode(), Mode::Sleeping);
    d.joystick(press(Direction::Down), at(1000));
    assert!(
        !d.settings().low_light,
        "the waking press does nothing else"
    );
    assert!(d.wants_data(at(1000)));
    d.start_cycle(&sensehat_only(20.0), at(1000));
    let t = d.tick(at(1000), true);
    assert_eq!((t.mode, t.frame), (Mode::Icon, Some(icons::THERMOMETER)));
    let mut now = t.next;
    let mut t = d.tick(now, true);
    while t.mode == Mode::Scrolling {
        now = t.next;
        t = d.tick(now, true);
    }
    assert_eq!(t.mode, Mode::Sleeping);
    assert!(!d.wants_data(now));
}

#[test]
fn wake_shows_one_cycle_while_asleep_and_does_nothing_awake() {
    let mut d = Display::new(Settings::default());
    assert!(!d.wake(), "not asleep: nothing to do");
    d.tick(at(0), true);
    assert_eq!(d.mode(), Mode::Sleeping);
    assert!(d.wake());
    assert!(d.wants_data(at(1000)));
    d.start_cycle(&sensehat_only(20.0), at(1000));
    let t = d.tick(at(1000), true);
    assert_eq!((t.mode, t.frame), (Mode::Icon, Some(icons::THERMOMETER)));
    let mut now = t.next;
    let mut t = d.tick(now, true);
    while t.mode == Mode::Scrolling {
        now = t.next;
        t = d.tick(now, true);
    }
    assert_eq!(t.mode, Mode::Sleeping, "asleep again after the cycle");
}

#[test]
fn joystick_skips_replays_and_pauses() {
    let mut d = Display::new(Settings::default());
    d.start_cycle(&full(), at(0));
    assert_eq!(d.tick(at(0), false).frame, Some(icons::TAILSCALE));
    // Right: the next item at once.
    d.joystick(press(Direction::Right), at(100));
    assert_eq!(d.tick(at(100), false).frame, Some(icons::PIHOLE));
    // Releases do nothing.
    d.joystick(
        JoystickEvent {
            direction: Direction::Right,
            action: Action::Released,
        },
        at(150),
    );
    assert_eq!(d.tick(at(150), false).frame, None);
    // Left just after an item began: the previous item.
    d.joystick(press(Direction::Left), at(200));
    assert_eq!(d.tick(at(200), false).frame, Some(icons::TAILSCALE));
    // Left later on: the same item again from its icon.
    let t = d.tick(at(2000), false);
    assert_eq!(t.mode, Mode::Scrolling);
    d.joystick(press(Direction::Left), at(2000));
    let t = d.tick(at(2000), false);
    assert_eq!((t.frame, t.next), (Some(icons::TAILSCALE), at(3500)));

    // Middle: frozen until Middle again; deadlines move by the pause.
    d.joystick(press(Direction::Middle), at(2500));
    let t = d.tick(at(3500), false);
    assert_eq!(
        (t.mode, t.frame, t.next),
        (Mode::Paused, None, at(2500) + PAUSE_TIMEOUT)
    );
    assert!(!d.wants_data(at(3500)));
    d.joystick(press(Direction::Middle), at(12_500));
    let t = d.tick(at(12_500), false);
    assert_eq!((t.mode, t.next), (Mode::Icon, at(13_500)));

    // A forgotten pause ends by itself.
    d.joystick(press(Direction::Middle), at(13_000));
    let t = d.tick(at(13_000) + PAUSE_TIMEOUT, false);
    assert_eq!((t.mode, t.next), (Mode::Icon, at(13_500) + PAUSE_TIMEOUT));

    // Up and Down switch low light, and the frame is sent again.
    let now = at(14_000) + PAUSE_TIMEOUT;
    d.tick(now, false);
    d.joystick(press(Direction::Down), now);
    assert!(d.settings().low_light);
    assert!(d.tick(now, false).frame.is_some());
    d.joystick(press(Direction::Down), now);
    assert!(d.tick(now, false).frame.is_none());
    d.joystick(press(Direction::Up), now);
    assert!(!d.settings().low_light);
    assert!(d.tick(now, false).frame.is_some());
}

#[test]
fn right_between_cycles_asks_for_a_new_one_and_left_replays_the_last_item() {
    let mut d = Display::new(Settings {
        show_icons: false,
        ..Settings::default()
    });
    let ticks = drive(&mut d, &sensehat_only(1.0), at(0), at(5000));
    let (end, last) = *ticks.last().unwrap();
    assert_eq!(last.mode, Mode::Idle);
    assert!(!d.wants_data(end));
    d.joystick(press(Direction::Left), end);
    assert_eq!(d.tick(end, false).mode, Mode::Scrolling);
    d.joystick(press(Direction::Right), end);
    assert_eq!(d.tick(end, false).mode, Mode::Idle);
    d.joystick(press(Direction::Right), end);
    assert!(d.wants_data(end));
}

#[test]
fn show_text_interrupts_and_the_cycle_resumes() {
    let mut d = Display::new(Settings::default());
    d.start_cycle(&full(), at(0));
    d.tick(at(0), false);
    d.show_text("Hi", Rgb::RED, at(500));
    assert!(!d.wants_data(at(500)));
    let mut now = at(500);
    let mut frames = std::vec::Vec::new();
    loop {
        let t = d.tick(now, false);
        if t.mode != Mode::Scrolling {
            // The interrupted item starts again.
            assert_eq!((t.mode, t.frame), (Mode::Icon, Some(icons::TAILSCALE)));
            assert_eq!(t.next, now + Duration::from_millis(1500));
            break;
        }
        frames.push(t.frame.unwrap());
        assert_eq!(t.next - now, Duration::from_millis(80));
        now = t.next;
    }
    assert_eq!(frames.len(), font::text_width("Hi") + 8);
    let golden = "
........
#.#.#...
#.#.....
###.#...
#.#.#...
#.#.#...
........
........";
    assert_eq!(format!("{:?}", frames[7]), golden);
    assert_eq!(frames[7].get(0, 1), Rgb::RED);
    assert_eq!(*frames.last().unwrap(), Frame::BLACK);
}

#[test]
fn show_text_plays_even_while_asleep() {
    let mut d = Display::new(Settings::default());
    d.tick(at(0), true);
    d.show_text("x", Rgb::WHITE, at(10));
    let t = d.tick(at(10), true);
    assert_eq!(t.mode, Mode::Scrolling);
    let mut now = t.next;
    let mut t = d.tick(now, true);
    while t.mode == Mode::Scrolling {
        now = t.next;
        t = d.tick(now, true);
    }
    assert_eq!((t.mode, *d.frame()), (Mode::Sleeping, Frame::BLACK));
}

#[test]
fn set_pixels_shows_until_clear_or_timeout() {
    let mut picture = Frame::BLACK;
    picture.set(3, 4, Rgb::BLUE);
    let mut d = Display::new(Settings::default());
    d.start_cycle(&full(), at(0));
    d.tick(at(0), false);

    d.set_pixels(picture, at(100));
    let t = d.tick(at(100), false);
    assert_eq!(
        (t.mode, t.frame, t.next),
        (Mode::Manual, Some(picture), at(100) + MANUAL_TIMEOUT)
    );
    assert_eq!(d.mode().as_str(), "manual");
    assert_eq!(*d.frame(), picture);
    assert!(!d.wants_data(at(200)));

    // clear: dark now, the next cycle after a full gap.
    d.clear(at(1000));
    let t = d.tick(at(1000), false);
    assert_eq!(
        (t.mode, t.frame, t.next),
        (Mode::Idle, Some(Frame::BLACK), at(61_000))
    );
    assert!(!d.wants_data(at(60_999)));
    assert!(d.wants_data(at(61_000)));

    // Without clear the picture times out and the cycle goes on.
    d.start_cycle(&full(), at(61_000));
    d.tick(at(61_000), false);
    d.set_pixels(picture, at(61_100));
    d.tick(at(61_100), false);
    let t = d.tick(at(61_100) + MANUAL_TIMEOUT, false);
    assert_eq!((t.mode, t.frame), (Mode::Icon, Some(icons::TAILSCALE)));

    // Middle dismisses a picture too.
    d.set_pixels(picture, at(200_000));
    d.tick(at(200_000), false);
    d.joystick(press(Direction::Middle), at(200_500));
    assert_eq!(d.tick(at(200_500), false).mode, Mode::Icon);
}

#[test]
fn settings_reload_hot() {
    let mut d = Display::new(Settings {
        show_icons: false,
        ..Settings::default()
    });
    d.start_cycle(&sensehat_only(20.0), at(0));
    assert_eq!(d.tick(at(0), false).next, at(80));
    // A new scroll speed applies from the next step: the one already due stays.
    let fast = Settings {
        scroll_step: Duration::from_millis(40),
        show_icons: false,
        ..Settings::default()
    };
    d.set_settings(fast);
    assert_eq!(d.settings(), &fast);
    let t = d.tick(at(80), false);
    assert_eq!(t.next, at(120));
    assert!(t.frame.is_some());

    // A new rotation re-sends the frame unchanged.
    d.set_settings(Settings {
        rotation: Rotation::Deg180,
        ..fast
    });
    let t = d.tick(at(100), false);
    assert_eq!(t.frame, Some(*d.frame()));
    assert_eq!(t.next, at(120));

    // A new gap applies to the gap under way.
    let mut now = at(120);
    let mut t = d.tick(now, false);
    while t.mode == Mode::Scrolling {
        now = t.next;
        t = d.tick(now, false);
    }
    assert_eq!(t.next, now + Duration::from_secs(60));
    d.set_settings(Settings {
        cycle_gap: Duration::from_secs(5),
        ..fast
    });
    assert!(d.wants_data(now + Duration::from_secs(5)));
    assert_eq!(d.tick(now, false).next, now + Duration::from_secs(5));
}

#[test]
fn settings_from_config_units() {
    assert_eq!(
        Settings::from_config(0, true, 0.08, 1.5, 60, false),
        Settings::default()
    );
    let s = Settings::from_config(270, false, 0.5, f64::NAN, 0, true);
    assert_eq!(s.rotation, Rotation::Deg270);
    assert_eq!(s.scroll_step, Duration::from_millis(500));
    assert_eq!(s.icon_duration, Duration::from_ticks(0));
    assert!(s.low_light && !s.show_icons);
}

#[test]
fn mode_names() {
    let names = [
        (Mode::Idle, "idle"),
        (Mode::Icon, "icon"),
        (Mode::Scrolling, "scrolling"),
        (Mode::Paused, "paused"),
        (Mode::Sleeping, "sleeping"),
        (Mode::Manual, "manual"),
    ];
    for (mode, name) in names {
        assert_eq!(mode.as_str(), name);
    }
}
