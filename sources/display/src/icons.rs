//! 8×8 icons shown before each item's text.
//!
//! Original pixel art, written as eight rows of eight characters and turned into a [`Frame`] at
//! compile time. The characters name colours:
//!
//! | char | colour | | char | colour |
//! |---|---|---|---|---|
//! | `.` | off | | `G` | green |
//! | `W` | white | | `g` | dark green |
//! | `w` | grey | | `B` | blue |
//! | `d` | dark grey | | `C` | cyan |
//! | `R` | red | | `Y` | yellow |
//! | `r` | dark red | | `O` | orange |
//!
//! Dark shades stay above the level the Sense HAT's default gamma table turns off.

use sense_hal::led::{Frame, Rgb, SIZE};

/// An icon is a whole frame.
pub type Icon = Frame;

const fn colour(c: u8) -> Rgb {
    match c {
        b'.' => Rgb::BLACK,
        b'W' => Rgb::new(255, 255, 255),
        b'w' => Rgb::new(120, 120, 120),
        b'd' => Rgb::new(64, 64, 64),
        b'R' => Rgb::new(230, 0, 40),
        b'r' => Rgb::new(120, 0, 24),
        b'G' => Rgb::new(0, 210, 0),
        b'g' => Rgb::new(0, 110, 0),
        b'B' => Rgb::new(0, 90, 255),
        b'C' => Rgb::new(0, 200, 255),
        b'Y' => Rgb::new(255, 220, 0),
        b'O' => Rgb::new(255, 120, 0),
        _ => panic!("unknown icon colour character"),
    }
}

/// Builds an icon from eight rows of art at compile time; bad art is a compile error.
const fn icon(art: [&str; SIZE]) -> Icon {
    let mut rows = [[Rgb::BLACK; SIZE]; SIZE];
    let mut y = 0;
    while y < SIZE {
        let b = art[y].as_bytes();
        assert!(b.len() == SIZE, "an icon row has 8 pixels");
        let mut x = 0;
        while x < SIZE {
            rows[y][x] = colour(b[x]);
            x += 1;
        }
        y += 1;
    }
    Frame { rows }
}

/// Tailscale: a 3×3 grid of dots, the middle row and bottom centre bright.
pub const TAILSCALE: Icon = icon([
    "ww.ww.ww", //
    "ww.ww.ww", //
    "........", //
    "WW.WW.WW", //
    "WW.WW.WW", //
    "........", //
    "ww.WW.ww", //
    "ww.WW.ww", //
]);

/// Tailscale disconnected: the same grid, all dark red.
pub const TAILSCALE_OFFLINE: Icon = icon([
    "rr.rr.rr", //
    "rr.rr.rr", //
    "........", //
    "rr.rr.rr", //
    "rr.rr.rr", //
    "........", //
    "rr.rr.rr", //
    "rr.rr.rr", //
]);

/// Pi-hole: a raspberry with two leaves.
pub const PIHOLE: Icon = icon([
    ".GG..GG.", //
    "...GG...", //
    "..RrRr..", //
    ".RrRrRr.", //
    ".rRrRrR.", //
    ".RrRrRr.", //
    "..RrRr..", //
    "...rR...", //
]);

/// The Sense HAT's own readings: a thermometer with a red column and a bulb.
pub const THERMOMETER: Icon = icon([
    "...ww...", //
    "...ww.w.", //
    "...RR...", //
    "...RR.w.", //
    "...RR...", //
    "..RRRR..", //
    "..RRRR..", //
    "...RR...", //
]);

/// Sunny or clear.
pub const SUN: Icon = icon([
    "...OO...", //
    ".O....O.", //
    "..YYYY..", //
    "O.YYYY.O", //
    "O.YYYY.O", //
    "..YYYY..", //
    ".O....O.", //
    "...OO...", //
]);

/// Partly cloudy: the sun behind a cloud.
pub const PARTLY_CLOUDY: Icon = icon([
    "O.O.O...", //
    ".YYY....", //
    "OYYY.WW.", //
    ".YYWWWWW", //
    "O.WWWWWW", //
    ".WWWWWWW", //
    "..wwwww.", //
    "........", //
]);

/// Cloudy or overcast.
pub const CLOUD: Icon = icon([
    "........", //
    "........", //
    "....WW..", //
    ".WW.WWW.", //
    "WWWWWWWW", //
    "WWWWWWWW", //
    ".wwwwww.", //
    "........", //
]);

/// Rain, drizzle, showers.
pub const RAIN: Icon = icon([
    "....ww..", //
    ".ww.www.", //
    "wwwwwwww", //
    "wwwwwwww", //
    ".wwwwww.", //
    ".B..B..B", //
    "B..B..B.", //
    "........", //
]);

/// Snow, sleet, hail.
pub const SNOW: Icon = icon([
    "....ww..", //
    ".ww.www.", //
    "wwwwwwww", //
    ".wwwwww.", //
    "........", //
    ".W...W..", //
    "...W...W", //
    ".W...W..", //
]);

/// Thunder: a cloud with a lightning bolt.
pub const THUNDER: Icon = icon([
    "...ww...", //
    ".wwwwww.", //
    "wwwwwwww", //
    "....Y...", //
    "...Y....", //
    "..YYYY..", //
    "....Y...", //
    "...Y....", //
]);

/// Fog, mist, haze.
pub const FOG: Icon = icon([
    "........", //
    "wwwwww..", //
    "........", //
    "..wwwwww", //
    "........", //
    "wwwwww..", //
    "........", //
    "..wwwwww", //
]);

/// An Aranet4 CO2 reading: "CO₂".
pub const CO2: Icon = icon([
    ".WW..W..", //
    "W...W.W.", //
    "W...W.W.", //
    "W...W.W.", //
    ".WW..W..", //
    ".....CC.", //
    "......C.", //
    "......CC", //
]);

/// The system: a chip with pins and a green die.
pub const SYSTEM: Icon = icon([
    "..W..W..", //
    ".wwwwww.", //
    "WwwwwwwW", //
    ".wwGGww.", //
    ".wwGGww.", //
    "WwwwwwwW", //
    ".wwwwww.", //
    "..W..W..", //
]);

/// Something went wrong: a red cross.
pub const ERROR: Icon = icon([
    "R......R", //
    ".R....R.", //
    "..R..R..", //
    "...RR...", //
    "...RR...", //
    "..R..R..", //
    ".R....R.", //
    "R......R", //
]);

/// The weather icon for a conditions text such as wttr.in's "Partly cloudy" or "Patchy light
/// rain with thunder", chosen by keyword, case-insensitively, first match wins:
///
/// 1. thunder, storm → [`THUNDER`]
/// 2. snow, sleet, blizzard, hail, ice → [`SNOW`]
/// 3. rain, drizzle, shower → [`RAIN`]
/// 4. fog, mist, haze, smoke → [`FOG`]
/// 5. partly, partial → [`PARTLY_CLOUDY`]
/// 6. cloud, overcast → [`CLOUD`]
/// 7. sun, clear, fair → [`SUN`]
///
/// Anything else (or no text at all) gets [`CLOUD`], the generic weather picture.
pub fn weather_icon(conditions: &str) -> &'static Icon {
    const TABLE: [(&[&str], &Icon); 7] = [
        (&["thunder", "storm"], &THUNDER),
        (&["snow", "sleet", "blizzard", "hail", "ice"], &SNOW),
        (&["rain", "drizzle", "shower"], &RAIN),
        (&["fog", "mist", "haze", "smoke"], &FOG),
        (&["partly", "partial"], &PARTLY_CLOUDY),
        (&["cloud", "overcast"], &CLOUD),
        (&["sun", "clear", "fair"], &SUN),
    ];
    TABLE
        .iter()
        .find(|(words, _)| words.iter().any(|w| contains_ignore_case(conditions, w)))
        .map_or(&CLOUD, |(_, icon)| icon)
}

/// Whether `hay` contains the ASCII `needle`, ignoring ASCII case.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weather_keywords_pick_the_picture() {
        let cases: [(&str, &Icon); 12] = [
            ("Sunny", &SUN),
            ("Clear", &SUN),
            ("Partly cloudy", &PARTLY_CLOUDY),
            ("Overcast", &CLOUD),
            ("Cloudy", &CLOUD),
            ("Patchy rain possible", &RAIN),
            ("Light drizzle", &RAIN),
            ("Light snow showers", &SNOW),
            ("Moderate or heavy sleet", &SNOW),
            ("Patchy light rain with thunder", &THUNDER),
            ("Freezing fog", &FOG),
            ("MIST", &FOG),
        ];
        for (text, icon) in cases {
            assert_eq!(weather_icon(text), icon, "{text}");
        }
        assert_eq!(weather_icon(""), &CLOUD);
        assert_eq!(weather_icon("Ça caille"), &CLOUD);
    }

    #[test]
    fn icons_are_distinct_and_not_blank() {
        let all = [
            TAILSCALE,
            TAILSCALE_OFFLINE,
            PIHOLE,
            THERMOMETER,
            SUN,
            PARTLY_CLOUDY,
            CLOUD,
            RAIN,
            SNOW,
            THUNDER,
            FOG,
            CO2,
            SYSTEM,
            ERROR,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.pixels().filter(|p| !p.is_black()).count() >= 10,
                "icon {i}"
            );
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
