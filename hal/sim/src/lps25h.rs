//! A register-level model of ST's LPS25H barometer (Sense HAT address `0x5C`).
//!
//! The model answers like the chip: `WHO_AM_I` (0x0F) reads `0xBD`, the sub-address
//! auto-increments only when bit 7 is set, and the outputs encode the [`Environment`] at the
//! clock's time: `PRESS_OUT` (0x28..=0x2A, 24-bit two's complement) = hPa × 4096 and `TEMP_OUT`
//! (0x2B/0x2C, `i16`) = (°C − 42.5) × 480, both rounded to the nearest count.
//!
//! Behaviour:
//! - While `CTRL_REG1.PD` (bit 7) is clear the chip is powered down: nothing converts.
//! - Writing `CTRL_REG2.ONE_SHOT` (bit 0) while powered converts at once: outputs and
//!   `STATUS.P_DA`/`T_DA` are set and the bit clears. The model does not simulate conversion time.
//! - With `CTRL_REG1.ODR` (bits 6:4) at 1, 7, 12.5 or 25 Hz the outputs refresh whenever a read
//!   finds that a sample period has passed on the clock; the first sample is there as soon as
//!   continuous mode is entered. A sample that lands while the previous one is unread sets the
//!   overrun bit (`P_OR` bit 5, `T_OR` bit 4).
//! - Reading `PRESS_OUT_H` (0x2A) clears `P_DA`/`P_OR`; reading `TEMP_OUT_H` (0x2C) clears
//!   `T_DA`/`T_OR`.
//! - `CTRL_REG2.SWRESET` (bit 2) restores the power-on registers; `BOOT` (bit 7, reload the
//!   trimming) has nothing to reload in the model. Both clear themselves.
//! - Only the configuration registers are writable (`REF_P`, `RES_CONF`, `CTRL_REG1..4`,
//!   `INT_CFG`, `FIFO_CTRL`, `THS_P`, `RPDS`); writes elsewhere are ignored. The reference
//!   pressure, differential mode, averaging, the FIFO and interrupts are stored but not modelled.
//!
//! Fault: [`Lps25hSim::set_stuck_one_shot`] hangs the conversion engine: `ONE_SHOT` never clears and
//! no new data arrives in any mode, until the fault is cleared.

use core::fmt;

use crate::clock::{ContinuousSampling, SimClock};
use crate::environment::{Conditions, Environment};
use crate::i2c::{AutoIncrement, I2cTarget, RegisterFile};

/// The LPS25H's 7-bit I2C address on the Sense HAT (SA0 low).
pub const ADDRESS: u8 = 0x5C;
/// What `WHO_AM_I` reads.
pub const WHO_AM_I_VALUE: u8 = 0xBD;

/// Register addresses.
mod reg {
    pub const REF_P_XL: u8 = 0x08;
    pub const REF_P_H: u8 = 0x0A;
    pub const WHO_AM_I: u8 = 0x0F;
    pub const RES_CONF: u8 = 0x10;
    pub const CTRL_REG1: u8 = 0x20;
    pub const CTRL_REG2: u8 = 0x21;
    pub const INT_CFG: u8 = 0x24;
    pub const STATUS: u8 = 0x27;
    pub const PRESS_OUT_XL: u8 = 0x28;
    pub const PRESS_OUT_H: u8 = 0x2A;
    pub const TEMP_OUT_H: u8 = 0x2C;
    pub const FIFO_CTRL: u8 = 0x2E;
    pub const THS_P_L: u8 = 0x30;
    pub const THS_P_H: u8 = 0x31;
    pub const RPDS_L: u8 = 0x39;
    pub const RPDS_H: u8 = 0x3A;
}

const PD: u8 = 0x80;
const ODR_MASK: u8 = 0x70;
const ODR_SHIFT: u8 = 4;
const BOOT: u8 = 0x80;
const SWRESET: u8 = 0x04;
const ONE_SHOT: u8 = 0x01;
const P_OR: u8 = 0x20;
const T_OR: u8 = 0x10;
const P_DA: u8 = 0x02;
const T_DA: u8 = 0x01;
/// The model's power-on `RES_CONF`: 32 pressure and 16 temperature samples averaged (the value
/// RTIMULib writes).
const RES_CONF_DEFAULT: u8 = 0x05;

/// The raw `(PRESS_OUT, TEMP_OUT)` for `conditions`: hPa × 4096 saturated to 24-bit two's
/// complement, and (°C − 42.5) × 480 saturated to `i16`, both rounded to the nearest count.
pub fn raw_outputs(conditions: &Conditions) -> (i32, i16) {
    let pressure = libm::round(f64::from(conditions.pressure_hpa) * 4096.0)
        .clamp(-8_388_608.0, 8_388_607.0) as i32;
    let temperature = libm::round((f64::from(conditions.temperature_c) - 42.5) * 480.0)
        .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    (pressure, temperature)
}

/// A simulated LPS25H (see the [module documentation](self)).
pub struct Lps25hSim {
    regs: RegisterFile<0x40>,
    clock: &'static dyn SimClock,
    environment: Environment,
    stuck: bool,
    /// Continuous mode's sample grid.
    sampling: ContinuousSampling,
    conversions: u32,
}

impl fmt::Debug for Lps25hSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lps25hSim")
            .field("regs", &self.regs)
            .field("environment", &self.environment)
            .field("stuck_one_shot", &self.stuck)
            .field("conversions", &self.conversions)
            .finish_non_exhaustive()
    }
}

/// Continuous sample rate as `samples = ms × numerator / denominator`, from `ODR`.
fn rate(ctrl_reg1: u8) -> Option<(u64, u64)> {
    match (ctrl_reg1 & ODR_MASK) >> ODR_SHIFT {
        0b001 => Some((1, 1000)),
        0b010 => Some((7, 1000)),
        0b011 => Some((25, 2000)),
        0b100 => Some((25, 1000)),
        _ => None,
    }
}

impl Lps25hSim {
    /// A powered-down LPS25H measuring the default [`Environment`] at `clock`'s time.
    pub fn new(clock: &'static dyn SimClock) -> Self {
        Self::with_environment(clock, Environment::new())
    }

    /// A powered-down LPS25H measuring `environment`.
    pub fn with_environment(clock: &'static dyn SimClock, environment: Environment) -> Self {
        let mut chip = Lps25hSim {
            regs: RegisterFile::new(AutoIncrement::WhenMsbSet),
            clock,
            environment,
            stuck: false,
            sampling: ContinuousSampling::default(),
            conversions: 0,
        };
        chip.power_on_reset();
        chip
    }

    fn power_on_reset(&mut self) {
        for register in 0..0x40 {
            self.regs.set(register, 0);
        }
        self.regs.set(reg::WHO_AM_I, WHO_AM_I_VALUE);
        self.regs.set(reg::RES_CONF, RES_CONF_DEFAULT);
        self.sampling.restart();
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
            reg::REF_P_XL..=reg::REF_P_H
                | reg::RES_CONF
                | reg::CTRL_REG1..=reg::INT_CFG
                | reg::FIFO_CTRL
                | reg::THS_P_L
                | reg::THS_P_H
                | reg::RPDS_L
                | reg::RPDS_H
        )
    }

    fn convert(&mut self, at_ms: u64) {
        let (p, t) = raw_outputs(&self.environment.at(at_ms));
        let (p, t) = (p.to_le_bytes(), t.to_le_bytes());
        self.regs
            .set_block(reg::PRESS_OUT_XL, &[p[0], p[1], p[2], t[0], t[1]]);
        let mut status = self.regs.get(reg::STATUS);
        if status & P_DA != 0 {
            status |= P_OR;
        }
        if status & T_DA != 0 {
            status |= T_OR;
        }
        self.regs.set(reg::STATUS, status | P_DA | T_DA);
        self.conversions = self.conversions.wrapping_add(1);
    }

    /// Brings the chip up to date: boot or reset, a pending one-shot, a due continuous sample.
    fn update(&mut self) {
        let ctrl2 = self.regs.get(reg::CTRL_REG2);
        if ctrl2 & SWRESET != 0 {
            self.power_on_reset();
            return;
        }
        if ctrl2 & BOOT != 0 {
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

impl I2cTarget for Lps25hSim {
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
        if span.covers(reg::PRESS_OUT_H) {
            status &= !(P_DA | P_OR);
        }
        if span.covers(reg::TEMP_OUT_H) {
            status &= !(T_DA | T_OR);
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

    fn read_regs(chip: &mut Lps25hSim, sub_address: u8, buf: &mut [u8]) {
        chip.write(&[sub_address]);
        chip.read(buf);
        chip.stop();
    }

    fn write_reg(chip: &mut Lps25hSim, register: u8, value: u8) {
        chip.write(&[register, value]);
        chip.stop();
    }

    fn outputs(chip: &mut Lps25hSim) -> (i32, i16) {
        let mut out = [0u8; 5];
        read_regs(chip, 0x28 | 0x80, &mut out);
        let pressure = i32::from_le_bytes([0, out[0], out[1], out[2]]) >> 8;
        (pressure, i16::from_le_bytes([out[3], out[4]]))
    }

    #[test]
    fn raw_outputs_encode_the_room_within_half_a_count() {
        let env = Environment::new();
        for hour in 0..72 {
            let c = env.at(START_MS + hour * 3_600_000);
            let (p, t) = raw_outputs(&c);
            let hpa = f64::from(p) / 4096.0;
            let celsius = 42.5 + f64::from(t) / 480.0;
            assert!((hpa - f64::from(c.pressure_hpa)).abs() <= 0.5 / 4096.0 + 1e-6);
            assert!((celsius - f64::from(c.temperature_c)).abs() <= 0.5 / 480.0 + 1e-6);
        }
    }

    #[test]
    fn hand_worked_encodings() {
        let c = Conditions {
            temperature_c: 20.0,
            humidity_percent: 50.0,
            pressure_hpa: 1013.25,
        };
        // 1013.25 × 4096 = 4 150 272 = 0x3F5400; (20 − 42.5) × 480 = −10 800.
        assert_eq!(raw_outputs(&c), (0x3F_5400, -10_800));
        let cold = Conditions {
            temperature_c: -5.0,
            ..c
        };
        // (−5 − 42.5) × 480 = −22 800.
        assert_eq!(raw_outputs(&cold).1, -22_800);
    }

    #[test]
    fn who_am_i_reads_bd() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Lps25hSim::new(&CLOCK);
        let mut id = [0u8; 1];
        read_regs(&mut chip, 0x0F, &mut id);
        assert_eq!(id, [0xBD]);
        chip.write(&[0x0F, 0x00]);
        read_regs(&mut chip, 0x0F, &mut id);
        assert_eq!(id, [0xBD], "read-only");
    }

    #[test]
    fn one_shot_converts_only_when_powered_and_reading_clears_status() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Lps25hSim::new(&CLOCK);
        write_reg(&mut chip, 0x21, ONE_SHOT);
        assert_eq!(chip.registers().get(0x21), ONE_SHOT, "powered down");
        assert_eq!(chip.conversions(), 0);

        write_reg(&mut chip, 0x20, PD | 0x04);
        assert_eq!(chip.registers().get(0x21), 0);
        assert_eq!(chip.registers().get(0x27), P_DA | T_DA);
        assert_eq!(
            outputs(&mut chip),
            raw_outputs(&Environment::new().at(START_MS))
        );
        assert_eq!(chip.registers().get(0x27), 0);
    }

    #[test]
    fn stuck_one_shot_stays_set_until_freed() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Lps25hSim::new(&CLOCK);
        write_reg(&mut chip, 0x20, PD | 0x04);
        chip.set_stuck_one_shot(true);
        write_reg(&mut chip, 0x21, ONE_SHOT);
        let mut b = [0u8; 1];
        for _ in 0..10 {
            read_regs(&mut chip, 0x21, &mut b);
            assert_eq!(b, [ONE_SHOT]);
        }
        assert_eq!(chip.registers().get(0x27), 0);
        chip.set_stuck_one_shot(false);
        assert!(!chip.stuck_one_shot());
        read_regs(&mut chip, 0x21, &mut b);
        assert_eq!(b, [0]);
    }

    #[test]
    fn continuous_mode_samples_at_25_hz_and_flags_overrun() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Lps25hSim::new(&CLOCK);
        write_reg(&mut chip, 0x20, 0xC4); // PD, 25 Hz, BDU
        assert_eq!(chip.registers().get(0x27), P_DA | T_DA);
        CLOCK.advance(39);
        let mut status = [0u8; 1];
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [P_DA | T_DA], "no new sample within 40 ms");
        CLOCK.advance(1);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [P_OR | T_OR | P_DA | T_DA], "unread sample overrun");
        outputs(&mut chip);
        read_regs(&mut chip, 0x27, &mut status);
        assert_eq!(status, [0]);
        assert_eq!(chip.conversions(), 2);
    }

    #[test]
    fn software_reset_restores_power_on_registers() {
        static CLOCK: ManualClock = ManualClock::new(START_MS);
        let mut chip = Lps25hSim::new(&CLOCK);
        write_reg(&mut chip, 0x20, 0xC4);
        write_reg(&mut chip, 0x10, 0x0F);
        write_reg(&mut chip, 0x21, SWRESET);
        assert_eq!(chip.registers().get(0x20), 0);
        assert_eq!(chip.registers().get(0x21), 0);
        assert_eq!(chip.registers().get(0x10), RES_CONF_DEFAULT);
        assert_eq!(chip.registers().get(0x0F), 0xBD);
    }
}
