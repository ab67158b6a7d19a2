//! Golden bytes for the frame encoding and decoding, and the joystick's `KEYS` bits: pure
//! functions, no bus.

use sense_ledmatrix::*;

/// Byte index of colour `colour` (0 R, 1 G, 2 B) of pixel (`x`, `y`), by the reference layout.
fn at(x: usize, y: usize, colour: usize) -> usize {
    y * 24 + colour * 8 + x
}

fn event(direction: Direction, action: Action) -> JoystickEvent {
    JoystickEvent { direction, action }
}

// ---------------------------------------------------------------------------------------------
// Encoding: golden bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn one_red_pixel_is_one_full_byte() {
    let mut frame = Frame::BLACK;
    frame.set(1, 0, Rgb::new(255, 0, 0));
    let mut want = [0u8; FRAME_BYTES];
    want[1] = 0x1F; // 255 >> 3 = 31, DEFAULT[31] = 0x1F, at 0*24 + 0*8 + 1
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
}

#[test]
fn mid_grey_goes_through_the_gamma_table() {
    let mut frame = Frame::BLACK;
    frame.set(0, 0, Rgb::new(128, 128, 128));
    let mut want = [0u8; FRAME_BYTES];
    // 128 >> 3 = 16, DEFAULT[16] = 0x08, in the R, G and B blocks of row 0.
    want[0] = 0x08;
    want[8] = 0x08;
    want[16] = 0x08;
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
    // LOW_LIGHT[16] = 0x03.
    want[0] = 0x03;
    want[8] = 0x03;
    want[16] = 0x03;
    assert_eq!(encode(&frame, &gamma::LOW_LIGHT), want);
}

#[test]
fn green_and_blue_land_in_their_blocks_of_later_rows() {
    let mut frame = Frame::BLACK;
    frame.set(2, 5, Rgb::new(0, 200, 0)); // 200 >> 3 = 25 -> DEFAULT 0x14
    frame.set(7, 7, Rgb::new(0, 0, 255)); // 31 -> 0x1F
    frame.set(4, 3, Rgb::new(64, 96, 160)); // 8 -> 0x02, 12 -> 0x04, 20 -> 0x0C
    let mut want = [0u8; FRAME_BYTES];
    want[130] = 0x14; // 5*24 + 1*8 + 2
    want[191] = 0x1F; // 7*24 + 2*8 + 7: the last byte
    want[76] = 0x02; // 3*24 + 0*8 + 4
    want[84] = 0x04; // 3*24 + 1*8 + 4
    want[92] = 0x0C; // 3*24 + 2*8 + 4
    assert_eq!(encode(&frame, &gamma::DEFAULT), want);
    assert_eq!(
        [
            at(2, 5, 1),
            at(7, 7, 2),
            at(4, 3, 0),
            at(4, 3, 1),
            at(4, 3, 2)
        ],
        [130, 191, 76, 84, 92]
    );
}

#[test]
fn low_light_keeps_dim_colours_lit_and_caps_brightness() {
    let mut frame = Frame::BLACK;
    frame.set(0, 1, Rgb::new(8, 0, 0)); // level 1: DEFAULT 0x00, LOW_LIGHT 0x01
    frame.set(1, 1, Rgb::new(255, 255, 255)); // level 31: LOW_LIGHT 0x0A
    let low = encode(&frame, &gamma::LOW_LIGHT);
    let mut want = [0u8; FRAME_BYTES];
    want[24] = 0x01;
    want[25] = 0x0A;
    want[33] = 0x0A;
    want[41] = 0x0A;
    assert_eq!(low, want);
    assert_eq!(encode(&frame, &gamma::DEFAULT)[24], 0x00);
}

#[test]
fn channels_keep_their_top_five_bits() {
    let table = gamma::LINEAR;
    for (value, level) in [
        (0u8, 0u8),
        (7, 0),
        (8, 1),
        (127, 15),
        (128, 16),
        (247, 30),
        (248, 31),
    ] {
        let frame = Frame::filled(Rgb::new(value, value, value));
        assert!(
            encode(&frame, &table).iter().all(|&b| b == level),
            "{value} -> {level}"
        );
    }
    assert_eq!(
        encode(&Frame::filled(Rgb::WHITE), &gamma::DEFAULT),
        [0x1F; 192]
    );
    assert_eq!(encode(&Frame::BLACK, &gamma::LOW_LIGHT), [0; 192]);
}

#[test]
fn the_gamma_tables_are_the_kernels() {
    assert_eq!(gamma::DEFAULT[16], 0x08);
    assert_eq!(
        gamma::DEFAULT,
        [
            0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 17, 18, 20,
            21, 23, 25, 27, 29, 31
        ]
    );
    assert_eq!(
        gamma::LOW_LIGHT,
        [
            0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
            9, 10, 10
        ]
    );
    for table in [gamma::DEFAULT, gamma::LOW_LIGHT, gamma::LINEAR] {
        assert!(table.windows(2).all(|w| w[0] <= w[1]) && table[31] <= 31);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

#[test]
fn decode_widens_the_lowest_matching_level() {
    let mut bytes = [0u8; FRAME_BYTES];
    bytes[0] = 0x1F; // level 31 -> 255
    bytes[8] = 0x08; // level 16 -> 128 | 4 = 132
    bytes[16] = 0x01; // DEFAULT levels 6 and 7 -> 6 -> 48 | 1 = 49
    bytes[1] = 0x0D; // not a DEFAULT output: first level reaching it is 21 (0x0E) -> 168 | 5
    bytes[2] = 0xFF; // beyond every output: level 31
    let frame = decode(&bytes, &gamma::DEFAULT);
    assert_eq!(frame.get(0, 0), Rgb::new(255, 132, 49));
    assert_eq!(frame.get(1, 0), Rgb::new(173, 0, 0));
    assert_eq!(frame.get(2, 0), Rgb::new(255, 0, 0));
    assert_eq!(frame.get(7, 7), Rgb::BLACK);
}

#[test]
fn encode_after_decode_gives_the_bytes_back() {
    for table in [gamma::DEFAULT, gamma::LOW_LIGHT, gamma::LINEAR] {
        let mut bytes = [0u8; FRAME_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = table[(i * 7) % 32];
        }
        assert_eq!(encode(&decode(&bytes, &table), &table), bytes);
    }
}

#[test]
fn decode_after_encode_keeps_each_level_under_a_linear_table() {
    for value in 0..=255u8 {
        let frame = Frame::filled(Rgb::new(value, 255 - value, value / 2));
        let back = decode(&encode(&frame, &gamma::LINEAR), &gamma::LINEAR);
        let p = back.get(3, 4);
        assert_eq!(
            [p.r >> 3, p.g >> 3, p.b >> 3],
            [value >> 3, (255 - value) >> 3, (value / 2) >> 3]
        );
    }
    // Black and white survive the default table. Low light sends levels 30 and 31 alike
    // (0x0A), so white comes back as level 30.
    for f in [Frame::BLACK, Frame::filled(Rgb::WHITE)] {
        assert_eq!(decode(&encode(&f, &gamma::DEFAULT), &gamma::DEFAULT), f);
    }
    let low = decode(
        &encode(&Frame::filled(Rgb::WHITE), &gamma::LOW_LIGHT),
        &gamma::LOW_LIGHT,
    );
    assert_eq!(low, Frame::filled(Rgb::new(247, 247, 247)));
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_bits_follow_the_kernel_keymap() {
    assert_eq!(
        Keys::DIRECTIONS.map(Keys::bit),
        [Keys::DOWN, Keys::RIGHT, Keys::UP, Keys::ENTER, Keys::LEFT]
    );
    assert_eq!(
        [Keys::DOWN, Keys::RIGHT, Keys::UP, Keys::ENTER, Keys::LEFT],
        [1, 2, 4, 8, 16]
    );
    let k = Keys(Keys::UP | Keys::ENTER | 0x80);
    assert!(k.is_pressed(Direction::Up) && k.is_pressed(Direction::Middle));
    assert!(!k.is_pressed(Direction::Down));
    assert_eq!(
        k.pressed().collect::<Vec<_>>(),
        [Direction::Up, Direction::Middle]
    );
    assert!(Keys(0x80).is_empty() && !k.is_empty());
    assert_eq!(u8::from(k), 0x8C);
}

#[test]
fn changes_come_in_bit_order() {
    let before = Keys(Keys::DOWN | Keys::LEFT);
    let now = Keys(Keys::RIGHT | Keys::LEFT | Keys::ENTER);
    let events: Vec<_> = now.changes_since(before).collect();
    assert_eq!(
        events,
        [
            event(Direction::Down, Action::Released),
            event(Direction::Right, Action::Pressed),
            event(Direction::Middle, Action::Pressed),
        ]
    );
    assert_eq!(now.changes_since(now).count(), 0);
    // Applying the events gets from one state to the other.
    let reached = events.iter().fold(before, |k, e| k.after(*e));
    assert_eq!(reached, now);
}

// ---------------------------------------------------------------------------------------------
