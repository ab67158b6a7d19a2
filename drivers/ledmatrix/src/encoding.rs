//! Frames to the chip's bytes and back.

use crate::led::{Frame, Rgb, SIZE};

use crate::FRAME_BYTES;

/// Bytes per row: 8 red, 8 green, 8 blue.
const ROW_BYTES: usize = 3 * SIZE;

/// The 5-bit level of an 8-bit channel: its top five bits. This is what the kernel's RGB565
/// path keeps (`r >> 3`, `b >> 3`, and for green the top 5 of the 6 RGB565 bits, again `g >> 3`).
const fn level(channel: u8) -> usize {
    (channel >> 3) as usize
}

/// The byte offset of colour `colour` (0 red, 1 green, 2 blue) of the pixel at `col`, `row`.
const fn offset(row: usize, colour: usize, col: usize) -> usize {
    row * ROW_BYTES + colour * SIZE + col
}

/// The chip's 192 frame bytes for `frame`.
///
/// `frame` is in the matrix's physical orientation (turn it with
/// [`Frame::for_rotation`] first). Each 8-bit channel becomes a 5-bit level (`value >> 3`),
/// which `gamma` maps to the PWM level stored at byte `row * 24 + colour * 8 + col` (colour 0
/// red, 1 green, 2 blue). The result is the same as the Linux framebuffer driver's for the
/// RGB565 picture python-sense-hat would write.
pub fn encode(frame: &Frame, gamma: &[u8; 32]) -> [u8; FRAME_BYTES] {
    let mut out = [0u8; FRAME_BYTES];
    for (row, pixels) in frame.rows.iter().enumerate() {
        for (col, p) in pixels.iter().enumerate() {
            for (colour, channel) in p.to_array().into_iter().enumerate() {
                out[offset(row, colour, col)] = gamma[level(channel)];
            }
        }
    }
    out
}

/// The 8-bit channel value shown for PWM level `stored` under `gamma`.
///
/// The 5-bit level is the lowest level whose gamma output is at least `stored` (31 if none is),
/// and it is widened to 8 bits by repeating its top bits, `(l << 3) | (l >> 2)`, so 0 stays 0
/// and 31 becomes 255.
fn unlevel(stored: u8, gamma: &[u8; 32]) -> u8 {
    let l = gamma.iter().position(|&g| g >= stored).unwrap_or(31) as u8;
    (l << 3) | (l >> 2)
}

/// An approximate picture for the chip's 192 frame bytes: the inverse of [`encode`] as far as
/// one exists, for simulations and tests.
///
/// Each stored value is mapped back to the lowest 5-bit level whose `gamma` output reaches it
/// (31 when none does), and that level is widened to 8 bits as `(l << 3) | (l >> 2)`. So
/// `encode(&decode(&bytes, g), g) == bytes` whenever every byte is an output of `g` (as the bytes
/// of any encoded frame are), and `decode(&encode(&frame, g), g)` is `frame` with each channel
/// moved within its 5-bit step, except where `g` maps several levels to one value (the dark end
/// of [`gamma::DEFAULT`](crate::gamma::DEFAULT) and [`gamma::LOW_LIGHT`](crate::gamma::LOW_LIGHT)),
/// where the lowest level is chosen: under `DEFAULT` every level below 6 reads back as black,
/// and under `LOW_LIGHT` full white reads back as level 30 (247).
pub fn decode(bytes: &[u8; FRAME_BYTES], gamma: &[u8; 32]) -> Frame {
    let mut frame = Frame::BLACK;
    for (row, pixels) in frame.rows.iter_mut().enumerate() {
        for (col, p) in pixels.iter_mut().enumerate() {
            let [r, g, b] = [0, 1, 2].map(|colour| unlevel(bytes[offset(row, colour, col)], gamma));
            *p = Rgb::new(r, g, b);
        }
    }
    frame
}
