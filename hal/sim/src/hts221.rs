//! A register-level model of ST's HTS221 humidity and temperature sensor (Sense HAT address
//! `0x5F`).
//!
//! The model answers like the chip: `WHO_AM_I` (0x0F) reads `0xBC`, the sub-address auto-increments
//! only when bit 7 is set, and registers 0x30..=0x3F hold a fixed factory calibration
//! ([`CALIBRATION`]). The raw outputs `H_OUT` (0x28/0x29) and `T_OUT` (0x2A/0x2B) are the
//! [`Environment`] at the clock's time pushed through the *inverse* of that calibration, so a
//! correct driver recovers the room to within half an output step (about 0.008 °C and 0.002 %RH).
//!
//! Behaviour:
//! - While `CTRL_REG1.PD` (bit 7) is clear the chip is powered down: nothing converts.
//! - Writing `CTRL_REG2.ONE_SHOT` (bit 0) while powered converts at once: the outputs and
//!   `STATUS.H_DA`/`T_DA` are set and the bit clears. The model does not simulate conversion time.
//! - With `CTRL_REG1.ODR` (bits 1:0) at 1 Hz, 7 Hz or 12.5 Hz the outputs refresh whenever a read
//!   finds that a sample period has passed on the clock. The first sample is there as soon as
//!   continuous mode is entered (the model skips the first conversion's latency).
//! - Reading `H_OUT_H` (0x29) clears `H_DA`; reading `T_OUT_H` (0x2B) clears `T_DA`.
//! - `CTRL_REG2.BOOT` (bit 7) reloads the calibration and clears itself.
//! - Only `AV_CONF` and `CTRL_REG1..3` are writable: writes to other registers are ignored, so no
//!   write can corrupt `WHO_AM_I` or the calibration.
//! - `BDU`, averaging, the heater and the DRDY pin are stored but not modelled.
//!
//! Fault: [`Hts221Sim::set_stuck_one_shot`] hangs the conversion engine: `ONE_SHOT` never clears and
//! no new data arrives in any mode, until the fault is cleared.

use core::fmt;

use crate::clock::{ContinuousSampling, SimClock};
use crate::environment::{Conditions, Environment};
use crate::i2c::{AutoIncrement, I2cTarget, RegisterFile};

/// The HTS221's 7-bit I2C address.
pub const ADDRESS: u8 = 0x5F;
/// What `WHO_AM_I` reads.
pub const WHO_AM_I_VALUE: u8 = 0xBC;

/// Register addresses.
mod reg {
    pub const WHO_AM_I: u8 = 0x0F;
    pub const AV_CONF: u8 = 0x10;
    pub const CTRL_REG1: u8 = 0x20;
    pub const CTRL_REG2: u8 = 0x21;
    pub const CTRL_REG3: u8 = 0x22;
    pub const STATUS: u8 = 0x27;
    pub const H_OUT_L: u8 = 0x28;
    pub const H_OUT_H: u8 = 0x29;
    pub const T_OUT_H: u8 = 0x2B;
    pub const CALIBRATION: u8 = 0x30;
}

const PD: u8 = 0x80;
const ODR_MASK: u8 = 0x03;
const BOOT: u8 = 0x80;
const ONE_SHOT: u8 = 0x01;
const H_DA: u8 = 0x02;
const T_DA: u8 = 0x01;
/// `AV_CONF` after power-on: 16 temperature and 32 humidity samples averaged.
const AV_CONF_DEFAULT: u8 = 0x1B;

/// `H0_rH_x2`: the low humidity calibration point, ×2 (0x34 = 52 → 26.0 %RH).
pub const H0_RH_X2: u8 = 0x34;
/// `H1_rH_x2`: the high humidity calibration point, ×2 (0x87 = 135 → 67.5 %RH).
pub const H1_RH_X2: u8 = 0x87;
/// `T0_degC_x8`, 10 bits: the low temperature calibration point, ×8 (168 → 21.0 °C).
pub const T0_DEGC_X8: u16 = 168;
/// `T1_degC_x8`, 10 bits: the high temperature calibration point, ×8 (292 → 36.5 °C). Above 255,
/// so its two top bits land in register 0x35 (bits 3:2).
pub const T1_DEGC_X8: u16 = 292;
/// `H0_T0_OUT`: raw `H_OUT` at 26.0 %RH.
pub const H0_T0_OUT: i16 = -4752;
/// `H1_T0_OUT`: raw `H_OUT` at 67.5 %RH. Span 10 372 counts for 41.5 %RH: 0.0040 %RH per count,
/// the datasheet's typical sensitivity.
pub const H1_T0_OUT: i16 = 5620;
/// `T0_OUT`: raw `T_OUT` at 21.0 °C.
pub const T0_OUT: i16 = -5;
/// `T1_OUT`: raw `T_OUT` at 36.5 °C. Span 968 counts for 15.5 °C: 0.016 °C per count, the
/// datasheet's typical sensitivity.
pub const T1_OUT: i16 = 963;
/// Bits 7:4 of register 0x35 are reserved; the model sets them so that a driver that forgets to
/// mask the `T0`/`T1` msb bits is caught.
const MSB_RESERVED_BITS: u8 = 0xC0;

/// The calibration registers 0x30..=0x3F as the model holds them.
pub const CALIBRATION: [u8; 16] = {
    let h0 = H0_T0_OUT.to_le_bytes();
    let h1 = H1_T0_OUT.to_le_bytes();
    let t0 = T0_OUT.to_le_bytes();
    let t1 = T1_OUT.to_le_bytes();
    let t0_low = T0_DEGC_X8.to_le_bytes();
    let t1_low = T1_DEGC_X8.to_le_bytes();
    [
        H0_RH_X2,
        H1_RH_X2,
        t0_low[0],
        t1_low[0],
        0x00, // 0x34 reserved
        MSB_RESERVED_BITS | ((t1_low[1] & 0x03) << 2) | (t0_low[1] & 0x03),
        h0[0],
        h0[1],
        0x00, // 0x38, 0x39 reserved
        0x00,
        h1[0],
        h1[1],
        t0[0],
        t0[1],
        t1[0],
        t1[1],
    ]
};

/// The raw `(H_OUT, T_OUT)` the model's calibration gives for `conditions`: the inverse of the
/// datasheet's interpolation, rounded to the nearest count and saturated to `i16`.
pub fn raw_outputs(conditions: &Conditions) -> (i16, i16) {
    let inverse = |value: f32, low: f64, high: f64, out_low: i16, out_high: i16| {
        let counts = (f64::from(value) - low) * (f64::from(out_high) - f64::from(out_low))
            / (high - low)
            + f64::from(out_low);
        // Saturating by design: the clamp keeps the cast in range.
        libm::round(counts).clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
    };
    let h = inverse(
        conditions.humidity_percent,
        f64::from(H0_RH_X2) / 2.0,
        f64::from(H1_RH_X2) / 2.0,
        H0_T0_OUT,
        H1_T0_OUT,
    );
    let t = inverse(
        conditions.temperature_c,
        f64::from(T0_DEGC_X8) / 8.0,
        f64::from(T1_DEGC_X8) / 8.0,
        T0_OUT,
        T1_OUT,
    );
    (h, t)
}

/// How the board under the sensor warms it. On a Sense HAT the HTS221 sits a few millimetres above
/// the Pi's CPU and reads several degrees above the room.
#[derive(Clone, Copy, Debug)]
pub struct BoardHeat {
    /// The CPU's temperature in °C at a Unix time in ms (e.g. the simulated host's).
    pub cpu_temp_c: fn(u64) -> f32,
    /// The sensor sits at `room + (cpu − room) / (1 + factor)`: the inverse of the usual
    /// compensation `t − (t_cpu − t) / factor`, which therefore recovers the room exactly.
    pub factor: f32,
}

impl BoardHeat {
    /// What the warmed sensor measures of `room` at `unix_ms`: a higher temperature and, for the
    /// same water vapour, a lower relative humidity.
    pub fn apply(&self, room: Conditions, unix_ms: u64) -> Conditions {
        let cpu = (self.cpu_temp_c)(unix_ms);
        let t = room.temperature_c + (cpu - room.temperature_c) / (1.0 + self.factor);
        // Magnus formula for the saturation vapour pressure (hPa).
        let saturation = |t: f32| 6.112 * libm::expf(17.62 * t / (243.12 + t));
        let rh = room.humidity_percent * saturation(room.temperature_c) / saturation(t);
        Conditions {
            temperature_c: t,
            humidity_percent: rh.clamp(0.0, 100.0),
            ..room
        }
    }
}

/// A simulated HTS221 (see the [module documentation](self)).
pub struct Hts221Sim {
    regs: RegisterFile<0x40>,
    clock: &'static dyn SimClock,
    environment: Environment,
    heat: Option<BoardHeat>,
    stuck: bool,
    /// Continuous mode's sample grid.
    sampling: ContinuousSampling,
    conversions: u32,
}

impl fmt::Debug for Hts221Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hts221Sim")
            .field("regs", &self.regs)
            .field("environment", &self.environment)
            .field("stuck_one_shot", &self.stuck)
            .field("conversions", &self.conversions)
            .finish_non_exhaustive()
    }
}

/// Continuous sample rate as `samples = ms × numerator / denominator`, from `ODR`.
fn rate(ctrl_reg1: u8) -> Option<(u64, u64)> {
    match ctrl_reg1 & ODR_MASK {
        0b01 => Some((1, 1000)),
        0b10 => Some((7, 1000)),
        0b11 => Some((25, 2000)),
        _ => None,
    }
}

impl Hts221Sim {
    /// A powered-down HTS221 measuring the default [`Environment`] at `clock`'s time.
    pub fn new(clock: &'static dyn SimClock) -> Self {
        Self::with_environment(clock, Environment::new())
    }

    /// A powered-down HTS221 measuring `environment`.
    pub fn with_environment(clock: &'static dyn SimClock, environment: Environment) -> Self {
        let mut chip = Hts221Sim {
            regs: RegisterFile::new(AutoIncrement::WhenMsbSet),
            clock,
            environment,
            heat: None,
            stuck: false,
            sampling: ContinuousSampling::default(),
            conversions: 0,
        };
        chip.regs.set(reg::WHO_AM_I, WHO_AM_I_VALUE);
        chip.regs.set(reg::AV_CONF, AV_CONF_DEFAULT);
        chip.regs.set_block(reg::CALIBRATION, &CALIBRATION);
        chip
    }

    /// The same chip, warmed by the board under it.
    pub fn with_board_heat(mut self, heat: BoardHeat) -> Self {
        self.heat = Some(heat);
        self
    }

    /// Hangs (`true`) or frees (`false`) the conversion engine: while hung, `ONE_SHOT` never clears
    /// and no new data arrives.
    pub fn set_stuck_one_shot(&mut self, stuck: bool) {
        self.stuck = stuck;
    }

    /// Whether the conversion engine is hung.
    pub fn stuck_one_shot(&self) -> bool {
        self.stuck
    }

    /// The registers, for inspection.
    pub fn registers(&self) -> &RegisterFile<0x40> {
        &self.regs
    }

    /// The room being measured.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// Replaces the room being measured.
    pub fn set_environment(&mut self, environment: Environment) {
        self.environment = environment;
    }

    /// Conversions completed so far (one-shot and continuous).
    pub fn conversions(&self) -> u32 {
        self.conversions
    }

    fn is_writable(register: u8) -> bool {
        matches!(
            register,
            reg::AV_CONF | reg::CTRL_REG1 | reg::CTRL_REG2 | reg::CTRL_REG3
        )
    }

    fn convert(&mut self, at_ms: u64) {
        let room = self.environment.at(at_ms);
        let measured = self.heat.map_or(room, |heat| heat.apply(room, at_ms));
        let (h, t) = raw_outputs(&measured);
        let (h, t) = (h.to_le_bytes(), t.to_le_bytes());
        self.regs.set_block(reg::H_OUT_L, &[h[0], h[1], t[0], t[1]]);
        let status = self.regs.get(reg::STATUS);
        self.regs.set(reg::STATUS, status | H_DA | T_DA);
        self.conversions = self.conversions.wrapping_add(1);
    }

    /// Brings the chip up to date: boot, a pending one-shot, a due continuous sample.
    fn update(&mut self) {
        let ctrl2 = self.regs.get(reg::CTRL_REG2);
        if ctrl2 & BOOT != 0 {
            self.regs.set_block(reg::CALIBRATION, &CALIBRATION);
            self.regs.set(reg::CTRL_REG2, ctrl2 & !BOOT);
        }
        let ctrl1 = self.regs.get(reg::CTRL_REG1);
        if ctrl1 & PD == 0 || self.stuck {
            return;
        }
        let now = self.clock.now_ms();
        let ctrl2 = self.regs.get(reg::CTRL_REG2);
        if ctrl2 & ONE_SHOT != 0 {
            self.convert(now);
            self.regs.set(reg::CTRL_REG2, ctrl2 & !ONE_SHOT);
        }
        if let Some(at) = rate(ctrl1).and_then(|rate| self.sampling.due(now, rate)) {
            self.convert(at);
        }
    }
}

impl I2cTarget for Hts221Sim {
    fn write(&mut self, bytes: &[u8]) {
        let ctrl1_before = self.regs.get(reg::CTRL_REG1);
        let Some((_, count)) = self.regs.write_bytes_where(bytes, Self::is_writable) else {
            return;
        };
        if count == 0 {
            return;
        }
        if self.regs.get(reg::CTRL_REG1) != ctrl1_before {
            // A new mode or rate: continuous sampling starts afresh.
            self.sampling.restart();
        }
        self.update();
    }

    fn read(&mut self, buf: &mut [u8]) {
        self.update();
        let span = self.regs.read_bytes(buf);
        let mut status = self.regs.get(reg::STATUS);
        if span.covers(reg::H_OUT_H) {
            status &= !H_DA;
        }
        if span.covers(reg::T_OUT_H) {
            status &= !T_DA;
        }
        self.regs.set(reg::STATUS, status);
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// 2023-11-14 22:13:20 UTC.
    const START_MS: u64 = 1_700_000_000_000;

    fn read_regs(chip: &mut Hts221Sim, sub_address: u8, buf: &mut [u8]) {
        chip.write(&[sub_address]);
        chip.read(buf);
        chip.stop();
    }

    fn write_reg(chip: &mut Hts221Sim, register: u8, value: u8) {
        chip.write(&[register, value]);
        chip.stop();
    }

    /// The datasheet's interpolation, written out independently of [`raw_outputs`].
    fn decode(h_out: i16, t_out: i16) -> (f64, f64) {
        let h = 26.0 + (f64::from(h_out) + 4752.0) * 41.5 / 10372.0;
        let t = 21.0 + (f64::from(t_out) + 5.0) * 15.5 / 968.0;
        (h, t)
    }

    #[test]
    fn calibration_registers_hold_the_documented_values() {
        assert_eq!(
            CALIBRATION,
            [
                0x34, 0x87, 0xA8, 0x24, 0x00, 0xC4, 0x70, 0xED, 0x00, 0x00, 0xF4, 0x15, 0xFB, 0xFF,
                0xC3, 0x03
            ]
        );
    }

    #[test]
    fn board_heat_is_undone_by_the_usual_compensation() {
        let heat = BoardHeat {
            cpu_temp_c: |_| 51.0,
            factor: 2.0,
        };
        let room = Conditions {
            temperature_c: 21.0,
            humidity_percent: 45.0,
            pressure_hpa: 1013.0,
        };
        let warm = heat.apply(room, 0);
        // 21 + (51 − 21) / 3 = 31 °C at the sensor; 31 − (51 − 31) / 2 = 21 °C again.
        assert!((warm.temperature_c - 31.0).abs() < 1e-4);
        assert!(warm.humidity_percent < 45.0 && warm.humidity_percent > 20.0);
        assert_eq!(warm.pressure_hpa, 1013.0);
    }

    #[test]
    fn raw_outputs_encode_the_room_within_half_a_count() {
        let env = Environment::new();
        for hour in 0..48 {
            let c = env.at(START_MS + hour * 3_600_000);
            let (h_out, t_out) = raw_outputs(&c);
            let (h, t) = decode(h_out, t_out);
            assert!(
                (h - f64::from(c.humidity_percent)).abs() <= 0.0021,
                "{h} vs {c:?}"
            );
            assert!(
                (t - f64::from(c.temperature_c)).abs() <= 0.0081,
                "{t} vs {c:?}"
            );
        }
    }

    #[test]
    fn who_am_i_and_calibration_read_with_auto_increment() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        let mut id = [0u8; 1];
        read_regs(&mut chip, 0x0F, &mut id);
        assert_eq!(id, [0xBC]);
        let mut cal = [0u8; 16];
        read_regs(&mut chip, 0x30 | 0x80, &mut cal);
        assert_eq!(cal, CALIBRATION);
    }

    #[test]
    fn powered_down_chip_does_not_convert() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        write_reg(&mut chip, 0x21, ONE_SHOT);
        let mut ctrl2_status = [0u8; 1];
        read_regs(&mut chip, 0x21, &mut ctrl2_status);
        assert_eq!(
            ctrl2_status,
            [ONE_SHOT],
            "ONE_SHOT pending while powered down"
        );
        read_regs(&mut chip, 0x27, &mut ctrl2_status);
        assert_eq!(ctrl2_status, [0]);
        assert_eq!(chip.conversions(), 0);

        // Powering up completes the pending request.
        write_reg(&mut chip, 0x20, PD | 0x04);
        assert_eq!(chip.registers().get(0x21), 0);
        assert_eq!(chip.conversions(), 1);
    }

    #[test]
    fn one_shot_converts_clears_itself_and_reading_outputs_clears_status() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        write_reg(&mut chip, 0x20, PD | 0x04);
        write_reg(&mut chip, 0x21, ONE_SHOT);
        assert_eq!(chip.registers().get(0x21), 0);
        assert_eq!(chip.registers().get(0x27), H_DA | T_DA);

        let mut out = [0u8; 4];
        read_regs(&mut chip, 0x28 | 0x80, &mut out);
        let h = i16::from_le_bytes([out[0], out[1]]);
        let t = i16::from_le_bytes([out[2], out[3]]);
        assert_eq!((h, t), raw_outputs(&Environment::new().at(START_MS)));
        assert_eq!(chip.registers().get(0x27), 0);
    }

    #[test]
    fn reading_only_h_out_clears_only_h_da() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        write_reg(&mut chip, 0x20, PD);
        write_reg(&mut chip, 0x21, ONE_SHOT);
        let mut out = [0u8; 2];
        read_regs(&mut chip, 0x28 | 0x80, &mut out);
        assert_eq!(chip.registers().get(0x27), T_DA);
        // Without bit 7 the pointer stays on T_OUT_L: T_OUT_H is never read.
        read_regs(&mut chip, 0x2A, &mut out);
        assert_eq!(chip.registers().get(0x27), T_DA);
        read_regs(&mut chip, 0x2B, &mut out[..1]);
        assert_eq!(chip.registers().get(0x27), 0);
    }

    #[test]
    fn stuck_one_shot_stays_set_until_freed() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        write_reg(&mut chip, 0x20, PD | 0x04);
        chip.set_stuck_one_shot(true);
        assert!(chip.stuck_one_shot());
        write_reg(&mut chip, 0x21, ONE_SHOT);
        let mut b = [0u8; 1];
        for _ in 0..10 {
            read_regs(&mut chip, 0x21, &mut b);
            assert_eq!(b, [ONE_SHOT]);
        }
        assert_eq!(chip.registers().get(0x27), 0);
        chip.set_stuck_one_shot(false);
        read_regs(&mut chip, 0x21, &mut b);
        assert_eq!(b, [0]);
        assert_eq!(chip.conversions(), 1);
    }

    #[test]
    fn continuous_mode_samples_at_the_output_rate() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        write_reg(&mut chip, 0x20, PD | 0x04 | 0x01); // 1 Hz
        let mut status = [0u8; 1];
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [H_DA | T_DA], "first sample at once");
        let mut out = [0u8; 4];
        read_regs(&mut chip, 0xA8, &mut out);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [0]);

        CLOCK.advance(999);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(
            status,
            [0],
            "START_MS is on a second boundary: the next is 1 s later"
        );
        CLOCK.advance(1);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [H_DA | T_DA]);
        CLOCK.advance(5_000);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(chip.conversions(), 3, "missed samples are not queued");
    }

    #[test]
    fn writes_to_read_only_registers_are_ignored() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Hts221Sim::new(&CLOCK);
        chip.write(&[0x0F, 0x00]);
        chip.write(&[0x30 | 0x80, 1, 2, 3, 4, 5, 6, 7, 8]);
        // A burst that runs from CTRL_REG3 into reserved registers keeps CTRL_REG3 only.
        chip.write(&[0x22 | 0x80, 0x04, 0xAA, 0xAA]);
        assert_eq!(chip.registers().get(0x0F), 0xBC);
        assert_eq!(chip.registers().get(0x22), 0x04);
        assert_eq!(chip.registers().get(0x23), 0x00);
        let mut cal = [0u8; 16];
        read_regs(&mut chip, 0xB0, &mut cal);
        assert_eq!(cal, CALIBRATION);
    }
}
