//! A small proportional pixel font for the 8×8 matrix.
//!
//! Every glyph is five rows high (capitals, digits, ascenders) plus one descender row for `g`,
//! `j`, `p`, `q`, `y` and `,`: six rows in all, drawn from row [`TOP`] so that capitals sit on rows
//! 1–5 of the matrix and descenders on row 6. Glyphs are 1 to [`MAX_WIDTH`] columns wide (digits
//! are 3, `M` and `W` are 5, `i` and `.` are 1) and text puts [`SPACING`] blank column between
//! them. The font covers printable ASCII (`' '..='~'`) and `°`; any other character is drawn as
//! [`PLACEHOLDER`], a solid 3×5 block, so that nothing silently disappears.
//!
//! The glyphs are written below as pixel art (`#` lit, `.` dark, rows separated by `/`, top row
//! first) and turned into column bitmasks at compile time.

use sense_hal::led::{Frame, Rgb, SIZE};

/// Rows a glyph may use: five above the baseline and one descender row.
pub const HEIGHT: usize = 6;

/// The widest glyph, in columns.
pub const MAX_WIDTH: usize = 5;

/// The matrix row a glyph's top row is drawn on: text is vertically centred on the 8×8 matrix.
pub const TOP: usize = 1;

/// Blank columns between two glyphs.
pub const SPACING: usize = 1;

/// One character's pixels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Glyph {
    /// Columns in use, 1 to [`MAX_WIDTH`].
    pub width: u8,
    /// The columns, left to right; bit `y` of a column is the glyph's row `y` (bit 0 the top).
    /// Columns from `width` on are 0.
    pub columns: [u8; MAX_WIDTH],
}

impl Glyph {
    /// The columns in use.
    pub fn used(&self) -> &[u8] {
        &self.columns[..usize::from(self.width)]
    }

    /// Whether the pixel at column `x`, row `y` of the glyph is lit.
    pub fn lit(&self, x: usize, y: usize) -> bool {
        x < usize::from(self.width) && y < HEIGHT && (self.columns[x] >> y) & 1 == 1
    }
}

/// Builds a glyph from pixel art at compile time; bad art is a compile error.
const fn g(art: &str) -> Glyph {
    let b = art.as_bytes();
    let mut width = 0;
    while width < b.len() && b[width] != b'/' {
        width += 1;
    }
    assert!(width >= 1 && width <= MAX_WIDTH, "glyph width out of range");
    let mut columns = [0u8; MAX_WIDTH];
    let (mut row, mut col, mut i) = (0, 0, 0);
    while i < b.len() {
        match b[i] {
            b'/' => {
                assert!(col == width, "glyph rows differ in width");
                row += 1;
                col = 0;
            }
            b'#' => {
                assert!(col < width, "glyph row too wide");
                columns[col] |= 1 << row;
                col += 1;
            }
            b'.' => {
                assert!(col < width, "glyph row too wide");
                col += 1;
            }
            _ => panic!("glyph art uses only '#', '.' and '/'"),
        }
        i += 1;
    }
    assert!(col == width, "glyph rows differ in width");
    assert!(
        row == 4 || row == 5,
        "a glyph has 5 rows, or 6 with a descender"
    );
    #[allow(clippy::cast_possible_truncation)] // width <= MAX_WIDTH
    Glyph {
        width: width as u8,
        columns,
    }
}

/// The glyph drawn for characters the font does not have: a solid 3×5 block.
pub const PLACEHOLDER: Glyph = g("###/###/###/###/###");

/// The degree sign, a small raised diamond.
pub const DEGREE: Glyph = g(".#./#.#/.#./.../...");

/// Printable ASCII, `' '` (0x20) to `'~'` (0x7E).
const ASCII: [Glyph; 95] = [
    g("../../../../.."),                // ' '
    g("#/#/#/./#"),                     // !
    g("#.#/#.#/.../.../..."),           // "
    g(".#.#./#####/.#.#./#####/.#.#."), // #
    g(".###/##../.##./..##/###."),      // $
    g("#.#/..#/.#./#../#.#"),           // %
    g(".#../#.#./.#../#.##/.##."),      // &
    g("#/#/././."),                     // '
    g(".#/#./#./#./.#"),                // (
    g("#./.#/.#/.#/#."),                // )
    g(".../#.#/.#./#.#/..."),           // *
    g(".../.#./###/.#./..."),           // +
    g("../../../../.#/#."),             // ,
    g(".../.../###/.../..."),           // -
    g("././././#"),                     // .
    g("..#/..#/.#./#../#.."),           // /
    g("###/#.#/#.#/#.#/###"),           // 0
    g(".#./##./.#./.#./###"),           // 1
    g("##./..#/.#./#../###"),           // 2
    g("##./..#/.#./..#/##."),           // 3
    g("#.#/#.#/###/..#/..#"),           // 4
    g("###/#../##./..#/##."),           // 5
    g(".##/#../###/#.#/###"),           // 6
    g("###/..#/.#./.#./.#."),           // 7
    g("###/#.#/###/#.#/###"),           // 8
    g("###/#.#/###/..#/##."),           // 9
    g("./#/./#/."),                     // :
    g("../.#/../.#/#."),                // ;
    g("..#/.#./#../.#./..#"),           // <
    g(".../###/.../###/..."),           // =
    g("#../.#./..#/.#./#.."),           // >
    g("##./..#/.#./.../.#."),           // ?
    g(".##./#..#/#.##/#.../.##."),      // @
    g(".#./#.#/###/#.#/#.#"),           // A
    g("##./#.#/##./#.#/##."),           // B
    g(".##/#../#../#../.##"),           // C
    g("##./#.#/#.#/#.#/##."),           // D
    g("###/#../##./#../###"),           // E
    g("###/#../##./#../#.."),           // F
    g(".##./#.../#.##/#..#/.###"),      // G
    g("#.#/#.#/###/#.#/#.#"),           // H
    g("###/.#./.#./.#./###"),           // I
    g("..#/..#/..#/#.#/.#."),           // J
    g("#.#/#.#/##./#.#/#.#"),           // K
    g("#../#../#../#../###"),           // L
    g("#...#/##.##/#.#.#/#...#/#...#"), // M
    g("#..#/##.#/#.##/#..#/#..#"),      // N
    g(".##./#..#/#..#/#..#/.##."),      // O
    g("##./#.#/##./#../#.."),           // P
    g(".##./#..#/#..#/#.#./.#.#"),      // Q
    g("##./#.#/##./#.#/#.#"),           // R
    g(".##/#../.#./..#/##."),           // S
    g("###/.#./.#./.#./.#."),           // T
    g("#..#/#..#/#..#/#..#/.##."),      // U
    g("#.#/#.#/#.#/#.#/.#."),           // V
    g("#...#/#...#/#.#.#/##.##/#...#"), // W
    g("#.#/#.#/.#./#.#/#.#"),           // X
    g("#.#/#.#/.#./.#./.#."),           // Y
    g("###/..#/.#./#../###"),           // Z
    g("##/#./#./#./##"),                // [
    g("#../#../.#./..#/..#"),           // \
    g("##/.#/.#/.#/##"),                // ]
    g(".#./#.#/.../.../..."),           // ^
    g(".../.../.../.../###"),           // _
    g("#./.#/../../.."),                // `
    g(".../.##/#.#/#.#/.##"),           // a
    g("#../##./#.#/#.#/##."),           // b
    g(".../.##/#../#../.##"),           // c
    g("..#/.##/#.#/#.#/.##"),           // d
    g(".../.#./###/#../.##"),           // e
    g(".##/.#./###/.#./.#."),           // f
    g(".../.##/#.#/.##/..#/##."),       // g
    g("#../#../##./#.#/#.#"),           // h
    g("#/./#/#/#"),                     // i
    g(".#/../.#/.#/.#/#."),             // j
    g("#../#../#.#/##./#.#"),           // k
    g("#./#./#./#./.#"),                // l
    g("...../##.#./#.#.#/#.#.#/#.#.#"), // m
    g(".../##./#.#/#.#/#.#"),           // n
    g(".../.#./#.#/#.#/.#."),           // o
    g(".../##./#.#/##./#../#.."),       // p
    g(".../.##/#.#/.##/..#/..#"),       // q
    g(".../#.#/##./#../#.."),           // r
    g(".../.##/#../..#/##."),           // s
    g(".#./###/.#./.#./..#"),           // t
    g(".../#.#/#.#/#.#/.##"),           // u
    g(".../#.#/#.#/#.#/.#."),           // v
    g("...../#...#/#...#/#.#.#/.#.#."), // w
    g(".../#.#/.#./.#./#.#"),           // x
    g(".../#.#/#.#/.##/..#/##."),       // y
    g(".../###/.#./#../###"),           // z
    g(".##/.#./#../.#./.##"),           // {
    g("#/#/#/#/#/#"),                   // |
    g("##./.#./..#/.#./##."),           // }
    g("..../.#.#/#.#./..../...."),      // ~
];

/// The glyph for `c`: printable ASCII and `°` have their own, anything else is [`PLACEHOLDER`].
pub fn glyph(c: char) -> Glyph {
    match c {
        ' '..='~' => ASCII[c as usize - 0x20],
        '°' => DEGREE,
        _ => PLACEHOLDER,
    }
}

/// Width of `text` in columns: the glyphs plus [`SPACING`] between neighbours (none at the ends).
pub fn text_width(text: &str) -> usize {
    text.chars()
        .map(|c| usize::from(glyph(c).width) + SPACING)
        .sum::<usize>()
        .saturating_sub(SPACING)
}

/// The columns of `text`, left to right, spacing included; bit `y` is the glyph's row `y`.
pub fn text_columns(text: &str) -> impl Iterator<Item = u8> + '_ {
    text.chars().enumerate().flat_map(|(i, c)| {
        let g = glyph(c);
        let gap = if i == 0 { 0 } else { SPACING };
        core::iter::repeat_n(0u8, gap).chain(g.columns.into_iter().take(usize::from(g.width)))
    })
}

/// Draws `text` into `frame` in `colour` with its first column at matrix column `x` (negative
/// or beyond the edge is fine: what falls outside is clipped). Glyph row 0 lands on row [`TOP`].
pub fn draw(frame: &mut Frame, text: &str, x: i32, colour: Rgb) {
    for (i, bits) in text_columns(text).enumerate() {
        let Ok(i) = i32::try_from(i) else { break };
        let col = x.saturating_add(i);
        if col >= SIZE as i32 {
            break;
        }
        if let Ok(col) = usize::try_from(col) {
            draw_column(frame, col, bits, colour);
        }
    }
}

/// Lights the bits of one text column at matrix column `x`.
pub(crate) fn draw_column(frame: &mut Frame, x: usize, bits: u8, colour: Rgb) {
    for y in 0..HEIGHT {
        if (bits >> y) & 1 == 1 {
            frame.set(x, TOP + y, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_character_has_a_glyph_of_its_own() {
        for c in ' '..='~' {
            let g = glyph(c);
            assert!(g.width >= 1, "{c:?}");
            if c != ' ' {
                assert!(g.used().iter().any(|&col| col != 0), "{c:?} is blank");
                assert_ne!(g, PLACEHOLDER, "{c:?}");
            }
            // Nothing is drawn outside the glyph's width or below the descender row.
            assert!(g.columns[usize::from(g.width)..].iter().all(|&c| c == 0));
            assert!(g.columns.iter().all(|&c| c < 1 << HEIGHT));
        }
        assert_eq!(glyph('°'), DEGREE);
        assert_eq!(glyph('é'), PLACEHOLDER);
        assert_eq!(glyph('\n'), PLACEHOLDER);
    }

    #[test]
    fn only_descenders_use_the_descender_row() {
        for c in ' '..='~' {
            let low = glyph(c).used().iter().any(|&col| col & (1 << 5) != 0);
            assert_eq!(low, "gjpqy,|".contains(c), "{c:?}");
        }
    }

    #[test]
    fn widths_add_spacing_between_glyphs() {
        assert_eq!(text_width(""), 0);
        assert_eq!(text_width("1"), 3);
        assert_eq!(text_width("11"), 7);
        assert_eq!(text_width("i."), 3);
        assert_eq!(text_columns("1i").count(), text_width("1i"));
    }

    #[test]
    fn lit_reads_the_art() {
        let a = glyph('A');
        assert!(a.lit(1, 0) && !a.lit(0, 0) && a.lit(0, 4) && !a.lit(1, 4));
        assert!(!a.lit(3, 0));
    }
}
