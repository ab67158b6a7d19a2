//! The LPS25H register map.
//!
//! Addresses and bit positions as in ST's LPS25H datasheet, chapters "Register
//! mapping" and "Register description", where each register has a section titled by its name and
//! address, e.g. "CTRL_REG1 (20h)". The Linux `st_pressure` IIO driver uses the same masks (ODR
//! 0x70, power-down 0x80, BDU 0x04, multi-byte reads with the auto-increment bit).

/// Sub-address bit 7: advance the register pointer after each byte of a multi-byte transfer.
/// Without it the chip reads the same register again and again.
pub const AUTO_INCREMENT: u8 = 0x80;

/// `REF_P_XL (08h)`: reference pressure, 24 bits with `REF_P_L (09h)` and `REF_P_H (0Ah)`
/// (not used by this driver).
pub const REF_P_XL: u8 = 0x08;

/// `WHO_AM_I (0Fh)`: device identification, read-only.
pub const WHO_AM_I: u8 = 0x0F;
/// What [`WHO_AM_I`] reads on an LPS25H (and on its successor, the LPS25HB).
pub const WHO_AM_I_VALUE: u8 = 0xBD;

/// `RES_CONF (10h)`: internal averaging.
pub const RES_CONF: u8 = 0x10;
/// `RES_CONF.AVGT` (bits 3:2): temperature averages, 8 × 2^AVGT (8 to 64).
pub const RES_CONF_AVGT_MASK: u8 = 0x0C;
/// `RES_CONF.AVGP` (bits 1:0): pressure averages, 8 × 4^AVGP (8 to 512).
pub const RES_CONF_AVGP_MASK: u8 = 0x03;
/// The averaging the driver writes: `AVGT` = 01 (16) and `AVGP` = 01 (32), RTIMULib's setting.
pub const RES_CONF_DRIVER: u8 = 0x05;

/// `CTRL_REG1 (20h)`: power, output data rate, block data update.
pub const CTRL_REG1: u8 = 0x20;
/// `CTRL_REG1.PD` (bit 7): 1 = active, 0 = power-down (the power-on state).
pub const CTRL_REG1_PD: u8 = 0x80;
/// `CTRL_REG1.ODR` (bits 6:4): output data rate.
pub const CTRL_REG1_ODR_MASK: u8 = 0x70;
/// Position of `CTRL_REG1.ODR`.
pub const CTRL_REG1_ODR_SHIFT: u8 = 4;
/// `CTRL_REG1.DIFF_EN` (bit 3): differential pressure against `REF_P` (not used).
pub const CTRL_REG1_DIFF_EN: u8 = 0x08;
/// `CTRL_REG1.BDU` (bit 2): block data update; the output registers are not updated until all of
/// a sample's bytes have been read.
pub const CTRL_REG1_BDU: u8 = 0x04;
/// `ODR` = one-shot: convert only when [`CTRL_REG2_ONE_SHOT`] is written.
pub const ODR_ONE_SHOT: u8 = 0b000;
/// `ODR` = 1 Hz.
pub const ODR_1HZ: u8 = 0b001;
/// `ODR` = 7 Hz.
pub const ODR_7HZ: u8 = 0b010;
/// `ODR` = 12.5 Hz.
pub const ODR_12_5HZ: u8 = 0b011;
/// `ODR` = 25 Hz.
pub const ODR_25HZ: u8 = 0b100;

/// `CTRL_REG2 (21h)`: boot, FIFO, reset and one-shot trigger.
pub const CTRL_REG2: u8 = 0x21;
/// `CTRL_REG2.BOOT` (bit 7): reload the trimming from flash; clears itself.
pub const CTRL_REG2_BOOT: u8 = 0x80;
/// `CTRL_REG2.FIFO_EN` (bit 6): enable the FIFO (RTIMULib uses it in mean mode; this driver
/// turns it off).
pub const CTRL_REG2_FIFO_EN: u8 = 0x40;
/// `CTRL_REG2.SWRESET` (bit 2): software reset; clears itself.
pub const CTRL_REG2_SWRESET: u8 = 0x04;
/// `CTRL_REG2.ONE_SHOT` (bit 0): start one conversion; the chip clears it when the new data set
/// is in the output registers.
pub const CTRL_REG2_ONE_SHOT: u8 = 0x01;

/// `STATUS_REG (27h)`: data-available and overrun flags, read-only.
pub const STATUS: u8 = 0x27;
/// `STATUS_REG.P_OR` (bit 5): a pressure sample was overwritten before it was read.
pub const STATUS_P_OR: u8 = 0x20;
/// `STATUS_REG.T_OR` (bit 4): a temperature sample was overwritten before it was read.
pub const STATUS_T_OR: u8 = 0x10;
/// `STATUS_REG.P_DA` (bit 1): a new pressure sample is available.
pub const STATUS_P_DA: u8 = 0x02;
/// `STATUS_REG.T_DA` (bit 0): a new temperature sample is available.
pub const STATUS_T_DA: u8 = 0x01;

/// `PRESS_OUT_XL (28h)`: raw pressure, 24-bit two's complement little-endian with
/// `PRESS_OUT_L (29h)` and `PRESS_OUT_H (2Ah)`; hPa = raw / 4096.
pub const PRESS_OUT_XL: u8 = 0x28;
/// `TEMP_OUT_L (2Bh)`: raw temperature, `i16` little-endian with `TEMP_OUT_H (2Ch)`;
/// °C = 42.5 + raw / 480.
pub const TEMP_OUT_L: u8 = 0x2B;

/// `FIFO_CTRL (2Eh)`: FIFO mode and watermark (not used by this driver; the FIFO is off).
pub const FIFO_CTRL: u8 = 0x2E;
