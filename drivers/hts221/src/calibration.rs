//! The factory calibration and the conversion from raw counts to °C and %RH.

use core::fmt;

use crate::register::{T0_MSB_MASK, T1_MSB_MASK};

/// The calibration registers cannot be used: a linear interpolation between two equal raw points
/// would divide by zero. A real chip never reads like this; a bus that returns all zeroes or all
/// ones, a different chip at the address or a mock does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalibrationError {
    /// `T0_OUT` equals `T1_OUT`.
    TemperatureOutputsEqual,
    /// `H0_T0_OUT` equals `H1_T0_OUT`.
    HumidityOutputsEqual,
}

impl fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibrationError::TemperatureOutputsEqual => {
                f.write_str("HTS221 calibration: T0_OUT equals T1_OUT")
            }
            CalibrationError::HumidityOutputsEqual => {
                f.write_str("HTS221 calibration: H0_T0_OUT equals H1_T0_OUT")
            }
        }
    }
}

impl core::error::Error for CalibrationError {}

/// The HTS221's two-point factory calibration (registers 30h..3Fh).
///
/// Each chip stores two reference points per quantity: a raw output and the value it stands for.
/// A reading is the straight line through them (datasheet, TN1218):
///
/// - T = T0 + (T_OUT − T0_OUT) · (T1 − T0) / (T1_OUT − T0_OUT), with T0 = `T0_degC_x8` / 8 and
///   T1 = `T1_degC_x8` / 8 (10-bit values whose bits 9:8 sit in register 35h);
/// - RH = H0 + (H_OUT − H0_T0_OUT) · (H1 − H0) / (H1_T0_OUT − H0_T0_OUT), with H0 = `H0_rH_x2` / 2
///   and H1 = `H1_rH_x2` / 2, clamped to 0..=100 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    h0_rh_x2: u8,
    h1_rh_x2: u8,
    t0_degc_x8: u16,
    t1_degc_x8: u16,
    h0_t0_out: i16,
    h1_t0_out: i16,
    t0_out: i16,
    t1_out: i16,
}

fn le_i16(regs: &[u8; 16], offset: usize) -> i16 {
    i16::from_le_bytes([regs[offset], regs[offset + 1]])
}

impl Calibration {
    /// Decodes the 16 calibration registers, 30h first.
    ///
    /// `T0_degC_x8` is `reg[32h] | (reg[35h] & 0x03) << 8` and `T1_degC_x8` is
    /// `reg[33h] | (reg[35h] & 0x0C) << 6`: bits 3:2 of 35h become bits 9:8, a shift of 6, not 8.
    pub fn from_registers(regs: &[u8; 16]) -> Result<Calibration, CalibrationError> {
        let msb = regs[0x05];
        let calibration = Calibration {
            h0_rh_x2: regs[0x00],
            h1_rh_x2: regs[0x01],
            t0_degc_x8: u16::from(regs[0x02]) | (u16::from(msb & T0_MSB_MASK) << 8),
            t1_degc_x8: u16::from(regs[0x03]) | (u16::from(msb & T1_MSB_MASK) << 6),
            h0_t0_out: le_i16(regs, 0x06),
            h1_t0_out: le_i16(regs, 0x0A),
            t0_out: le_i16(regs, 0x0C),
            t1_out: le_i16(regs, 0x0E),
        };
        if calibration.t0_out == calibration.t1_out {
            return Err(CalibrationError::TemperatureOutputsEqual);
        }
        if calibration.h0_t0_out == calibration.h1_t0_out {
            return Err(CalibrationError::HumidityOutputsEqual);
        }
        Ok(calibration)
    }

    /// The temperature in °C for a raw `T_OUT`. Not clamped: the chip is specified from −40 to
    /// +120 °C, and the line is extrapolated beyond the calibration points.
    pub fn temperature_c(&self, t_out: i16) -> f32 {
        let t0 = f32::from(self.t0_degc_x8) / 8.0;
        let t1 = f32::from(self.t1_degc_x8) / 8.0;
        // i16 → f32 is exact, and so is the difference of two of them (17 bits).
        let counts = f32::from(t_out) - f32::from(self.t0_out);
        let span = f32::from(self.t1_out) - f32::from(self.t0_out);
        t0 + counts * (t1 - t0) / span
    }

    /// The relative humidity in % for a raw `H_OUT`, clamped to 0..=100 (the datasheet's advice:
    /// the line overshoots near saturation and at very dry air).
    pub fn humidity_percent(&self, h_out: i16) -> f32 {
        let h0 = f32::from(self.h0_rh_x2) / 2.0;
        let h1 = f32::from(self.h1_rh_x2) / 2.0;
        let counts = f32::from(h_out) - f32::from(self.h0_t0_out);
        let span = f32::from(self.h1_t0_out) - f32::from(self.h0_t0_out);
        (h0 + counts * (h1 - h0) / span).clamp(0.0, 100.0)
    }

    /// `H0_rH_x2`: humidity calibration point 0, %RH × 2.
    pub fn h0_rh_x2(&self) -> u8 {
        self.h0_rh_x2
    }

    /// `H1_rH_x2`: humidity calibration point 1, %RH × 2.
    pub fn h1_rh_x2(&self) -> u8 {
        self.h1_rh_x2
    }

    /// `T0_degC_x8` (10 bits): temperature calibration point 0, °C × 8.
    pub fn t0_degc_x8(&self) -> u16 {
        self.t0_degc_x8
    }

    /// `T1_degC_x8` (10 bits): temperature calibration point 1, °C × 8.
    pub fn t1_degc_x8(&self) -> u16 {
        self.t1_degc_x8
    }

    /// `H0_T0_OUT`: raw humidity at point 0.
    pub fn h0_t0_out(&self) -> i16 {
        self.h0_t0_out
    }

    /// `H1_T0_OUT`: raw humidity at point 1.
    pub fn h1_t0_out(&self) -> i16 {
        self.h1_t0_out
    }

    /// `T0_OUT`: raw temperature at point 0.
    pub fn t0_out(&self) -> i16 {
        self.t0_out
    }

    /// `T1_OUT`: raw temperature at point 1.
    pub fn t1_out(&self) -> i16 {
        self.t1_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f32, expected: f32) -> bool {
        (actual - expected).abs() < 1e-4
    }

    /// A plausible chip (the one `sense-sim` models), registers 30h..3Fh:
    ///
    /// | reg | value | meaning |
    /// |---|---|---|
    /// | 30h | 0x34 = 52 | H0 = 52 / 2 = 26.0 %RH |
    /// | 31h | 0x87 = 135 | H1 = 135 / 2 = 67.5 %RH |
    /// | 32h | 0xA8 = 168 | T0 low byte |
    /// | 33h | 0x24 = 36 | T1 low byte |
    /// | 34h | 0x00 | reserved |
    /// | 35h | 0xC4 = 1100_0100b | T0 msb = bits 1:0 = 00; T1 msb = bits 3:2 = 01; 7:4 reserved |
    /// | 36h/37h | 0x70, 0xED | H0_T0_OUT = 0xED70 = −4752 |
    /// | 3Ah/3Bh | 0xF4, 0x15 | H1_T0_OUT = 0x15F4 = 5620 |
    /// | 3Ch/3Dh | 0xFB, 0xFF | T0_OUT = 0xFFFB = −5 |
    /// | 3Eh/3Fh | 0xC3, 0x03 | T1_OUT = 0x03C3 = 963 |
    ///
    /// T0_degC_x8 = 168 | (0xC4 & 0x03) << 8 = 168 | 0 = 168, T0 = 168 / 8 = 21.0 °C.
    /// T1_degC_x8 = 36 | (0xC4 & 0x0C) << 6 = 36 | 0x04 << 6 = 36 | 256 = 292, T1 = 292 / 8 = 36.5 °C.
    const PLAUSIBLE: [u8; 16] = [
        0x34, 0x87, 0xA8, 0x24, 0x00, 0xC4, 0x70, 0xED, 0x00, 0x00, 0xF4, 0x15, 0xFB, 0xFF, 0xC3,
        0x03,
    ];

    #[test]
    fn decodes_the_registers() {
        let c = Calibration::from_registers(&PLAUSIBLE).unwrap();
        assert_eq!((c.h0_rh_x2(), c.h1_rh_x2()), (52, 135));
        assert_eq!((c.t0_degc_x8(), c.t1_degc_x8()), (168, 292));
        assert_eq!((c.h0_t0_out(), c.h1_t0_out()), (-4752, 5620));
        assert_eq!((c.t0_out(), c.t1_out()), (-5, 963));
    }

    #[test]
    fn temperature_by_hand() {
        let c = Calibration::from_registers(&PLAUSIBLE).unwrap();
        // At the calibration points: T_OUT = T0_OUT = −5 → 21.0; T_OUT = T1_OUT = 963 → 36.5.
        assert!(close(c.temperature_c(-5), 21.0));
        assert!(close(c.temperature_c(963), 36.5));
        // Half-way: T_OUT = 479, (479 − (−5)) = 484 = 968 / 2 → 21.0 + 15.5 / 2 = 28.75.
        assert!(close(c.temperature_c(479), 28.75));
        // Below T0: T_OUT = −973, (−973 + 5) = −968 → 21.0 − 15.5 = 5.5.
        assert!(close(c.temperature_c(-973), 5.5));
        // Zero: 21.0 + 5 · 15.5 / 968 = 21.0 + 0.080 062 = 21.080 062.
        assert!(close(c.temperature_c(0), 21.080_062));
    }

    #[test]
    fn humidity_by_hand() {
        let c = Calibration::from_registers(&PLAUSIBLE).unwrap();
        // Span: 5620 − (−4752) = 10 372 counts for 67.5 − 26.0 = 41.5 %RH.
        assert!(close(c.humidity_percent(-4752), 26.0));
        assert!(close(c.humidity_percent(5620), 67.5));
        // Half-way: H_OUT = 434, 434 + 4752 = 5186 = 10 372 / 2 → 26.0 + 20.75 = 46.75.
        assert!(close(c.humidity_percent(434), 46.75));
        // Zero: 26.0 + 4752 · 41.5 / 10 372 = 26.0 + 19.013 498 = 45.013 498.
        assert!(close(c.humidity_percent(0), 45.013_498));
    }

    #[test]
    fn humidity_is_clamped() {
        let c = Calibration::from_registers(&PLAUSIBLE).unwrap();
        // 26.0 + (32 767 + 4752) · 41.5 / 10 372 = 26.0 + 150.1 = 176.1 → 100.
        assert_eq!(c.humidity_percent(i16::MAX), 100.0);
        // 26.0 + (−32 768 + 4752) · 41.5 / 10 372 = 26.0 − 112.1 = −86.1 → 0.
        assert_eq!(c.humidity_percent(i16::MIN), 0.0);
    }

    #[test]
    fn msb_bits_shift_by_8_for_t0_and_by_6_for_t1() {
        // 35h = 0x09 = 0000_1001b: T0 msb (bits 1:0) = 01, T1 msb (bits 3:2) = 10.
        // T0_degC_x8 = 0x40 | (0x09 & 0x03) << 8 = 0x40 | 0x100 = 0x140 = 320 → 40.0 °C.
        // T1_degC_x8 = 0x80 | (0x09 & 0x0C) << 6 = 0x80 | 0x08 << 6 = 0x80 | 0x200 = 0x280 = 640
        //   → 80.0 °C.
        // (Shifting T1's bits by 8 would give 0x80 | 0x800 = 2176 → 272 °C.)
        let mut regs = PLAUSIBLE;
        regs[0x02] = 0x40;
        regs[0x03] = 0x80;
        regs[0x05] = 0x09;
        regs[0x0C..0x10].copy_from_slice(&[0x00, 0x00, 0x64, 0x00]); // T0_OUT = 0, T1_OUT = 100
        let c = Calibration::from_registers(&regs).unwrap();
        assert_eq!((c.t0_degc_x8(), c.t1_degc_x8()), (320, 640));
        // T = 40 + T_OUT · 40 / 100: 0 → 40.0, 100 → 80.0, 25 → 50.0, −150 → −20.0.
        assert!(close(c.temperature_c(0), 40.0));
        assert!(close(c.temperature_c(100), 80.0));
        assert!(close(c.temperature_c(25), 50.0));
        assert!(close(c.temperature_c(-150), -20.0));
    }

    #[test]
    fn both_msb_pairs_set_and_reserved_bits_ignored() {
        // 35h = 0xFF: T0 msb = 11, T1 msb = 11, reserved 7:4 = 1111 (must be masked off).
        // T0_degC_x8 = 0x10 | 0x300 = 784 → 98.0 °C; T1_degC_x8 = 0x20 | 0x0C << 6 = 0x20 | 0x300
        //   = 800 → 100.0 °C.
        let mut regs = PLAUSIBLE;
        regs[0x02] = 0x10;
        regs[0x03] = 0x20;
        regs[0x05] = 0xFF;
        let c = Calibration::from_registers(&regs).unwrap();
        assert_eq!((c.t0_degc_x8(), c.t1_degc_x8()), (784, 800));
        // T_OUT = T1_OUT = 963 → 100.0; T_OUT = 479 (half-way) → 99.0.
        assert!(close(c.temperature_c(963), 100.0));
        assert!(close(c.temperature_c(479), 99.0));
    }

    #[test]
    fn equal_raw_points_are_refused() {
        let mut regs = PLAUSIBLE;
        regs[0x0E..0x10].copy_from_slice(&[0xFB, 0xFF]); // T1_OUT = T0_OUT = −5
        assert_eq!(
            Calibration::from_registers(&regs),
            Err(CalibrationError::TemperatureOutputsEqual)
        );
        let mut regs = PLAUSIBLE;
        regs[0x0A..0x0C].copy_from_slice(&[0x70, 0xED]); // H1_T0_OUT = H0_T0_OUT = −4752
        assert_eq!(
            Calibration::from_registers(&regs),
            Err(CalibrationError::HumidityOutputsEqual)
        );
        // A bus that reads all zeroes.
        assert!(Calibration::from_registers(&[0; 16]).is_err());
    }
}
