//! The HTS221 register map.
//!
//! Addresses and bit positions as in ST's HTS221 datasheet, chapters "Register
//! mapping" and "Register description", where each register has a section titled by its name and
//! address, e.g. "CTRL_REG1 (20h)". The calibration layout follows the same chapter and ST's
//! technical note TN1218 ("Interpreting humidity and temperature readings in the HTS221").

/// Sub-address bit 7: advance the register pointer after each byte of a multi-byte transfer.
/// Without it the chip reads the same register again and again.
pub const AUTO_INCREMENT: u8 = 0x80;

/// `WHO_AM_I (0Fh)`: device identification, read-only.
pub const WHO_AM_I: u8 = 0x0F;
/// What [`WHO_AM_I`] reads on an HTS221.
pub const WHO_AM_I_VALUE: u8 = 0xBC;

/// `AV_CONF (10h)`: how many internal samples are averaged into one output.
pub const AV_CONF: u8 = 0x10;
/// `AV_CONF.AVGT` (bits 5:3): temperature averages, 2 × 2^AVGT (2 to 256).
pub const AV_CONF_AVGT_MASK: u8 = 0x38;
/// `AV_CONF.AVGH` (bits 2:0): humidity averages, 4 × 2^AVGH (4 to 512).
pub const AV_CONF_AVGH_MASK: u8 = 0x07;
/// The power-on value of [`AV_CONF`], which the driver writes: `AVGT` = 3 (16 temperature
/// samples) and `AVGH` = 3 (32 humidity samples) per output.
pub const AV_CONF_DEFAULT: u8 = 0x1B;

/// `CTRL_REG1 (20h)`: power, block data update and output data rate.
pub const CTRL_REG1: u8 = 0x20;
/// `CTRL_REG1.PD` (bit 7): 1 = active, 0 = power-down (the power-on state).
pub const CTRL_REG1_PD: u8 = 0x80;
/// `CTRL_REG1.BDU` (bit 2): block data update; the output registers are not updated between the
/// reads of their low and high bytes.
pub const CTRL_REG1_BDU: u8 = 0x04;
/// `CTRL_REG1.ODR` (bits 1:0): output data rate.
pub const CTRL_REG1_ODR_MASK: u8 = 0x03;
/// `ODR` = one-shot: convert only when [`CTRL_REG2_ONE_SHOT`] is written.
pub const ODR_ONE_SHOT: u8 = 0b00;
/// `ODR` = 1 Hz.
pub const ODR_1HZ: u8 = 0b01;
/// `ODR` = 7 Hz.
pub const ODR_7HZ: u8 = 0b10;
/// `ODR` = 12.5 Hz.
pub const ODR_12_5HZ: u8 = 0b11;

/// `CTRL_REG2 (21h)`: boot, heater and one-shot trigger.
pub const CTRL_REG2: u8 = 0x21;
/// `CTRL_REG2.BOOT` (bit 7): reload the calibration from flash; clears itself.
pub const CTRL_REG2_BOOT: u8 = 0x80;
/// `CTRL_REG2.HEATER` (bit 1): the on-chip heater (not used by this driver).
pub const CTRL_REG2_HEATER: u8 = 0x02;
/// `CTRL_REG2.ONE_SHOT` (bit 0): start one conversion; the chip clears it when the new data set is
/// in the output registers.
pub const CTRL_REG2_ONE_SHOT: u8 = 0x01;

/// `CTRL_REG3 (22h)`: data-ready pin configuration (not used by this driver).
pub const CTRL_REG3: u8 = 0x22;

/// `STATUS_REG (27h)`: data-available flags, read-only.
pub const STATUS: u8 = 0x27;
/// `STATUS_REG.H_DA` (bit 1): a new humidity sample is available; cleared by reading `H_OUT_H`.
pub const STATUS_H_DA: u8 = 0x02;
/// `STATUS_REG.T_DA` (bit 0): a new temperature sample is available; cleared by reading `T_OUT_H`.
pub const STATUS_T_DA: u8 = 0x01;

/// `HUMIDITY_OUT_L (28h)`: raw humidity, `i16` little-endian with `HUMIDITY_OUT_H (29h)`.
pub const H_OUT_L: u8 = 0x28;
/// `HUMIDITY_OUT_H (29h)`.
pub const H_OUT_H: u8 = 0x29;
/// `TEMP_OUT_L (2Ah)`: raw temperature, `i16` little-endian with `TEMP_OUT_H (2Bh)`.
pub const T_OUT_L: u8 = 0x2A;
/// `TEMP_OUT_H (2Bh)`.
pub const T_OUT_H: u8 = 0x2B;

/// First of the 16 calibration registers (30h..3Fh), factory-programmed and read-only.
pub const CALIBRATION_START: u8 = 0x30;
/// Number of calibration registers.
pub const CALIBRATION_LEN: usize = 16;
/// `H0_rH_x2 (30h)`: humidity calibration point 0, %RH × 2, `u8`.
pub const H0_RH_X2: u8 = 0x30;
/// `H1_rH_x2 (31h)`: humidity calibration point 1, %RH × 2, `u8`.
pub const H1_RH_X2: u8 = 0x31;
/// `T0_degC_x8 (32h)`: low 8 bits of temperature calibration point 0, °C × 8 (10 bits, unsigned).
pub const T0_DEGC_X8: u8 = 0x32;
/// `T1_degC_x8 (33h)`: low 8 bits of temperature calibration point 1, °C × 8 (10 bits, unsigned).
pub const T1_DEGC_X8: u8 = 0x33;
/// `T1/T0 msb (35h)`: bits 9:8 of `T0_degC_x8` in bits 1:0, of `T1_degC_x8` in bits 3:2; bits 7:4
/// are reserved.
pub const T1_T0_MSB: u8 = 0x35;
/// Mask of `T0_degC_x8` bits 9:8 in [`T1_T0_MSB`].
pub const T0_MSB_MASK: u8 = 0x03;
/// Mask of `T1_degC_x8` bits 9:8 in [`T1_T0_MSB`].
pub const T1_MSB_MASK: u8 = 0x0C;
/// `H0_T0_OUT (36h/37h)`: raw `H_OUT` at `H0_rH`, `i16` little-endian.
pub const H0_T0_OUT: u8 = 0x36;
/// `H1_T0_OUT (3Ah/3Bh)`: raw `H_OUT` at `H1_rH`, `i16` little-endian.
pub const H1_T0_OUT: u8 = 0x3A;
/// `T0_OUT (3Ch/3Dh)`: raw `T_OUT` at `T0_degC`, `i16` little-endian.
pub const T0_OUT: u8 = 0x3C;
/// `T1_OUT (3Eh/3Fh)`: raw `T_OUT` at `T1_degC`, `i16` little-endian.
pub const T1_OUT: u8 = 0x3E;
