//! Sense Pulse node firmware for the Raspberry Pi Pico (RP2040): the HTS221, the LPS25H and the
//! LED matrix of a Sense HAT on I2C0 (GP4 SDA, GP5 SCL, 100 kHz), driven by `sense_node::Node`,
//! which sends its readings as postcard frames (COBS framing, CRC) over USB CDC-ACM.

#![no_std]
#![no_main]

mod usb_link;

use embassy_embedded_hal::shared_bus::asynch::i2c::I2cDevice;
use embassy_executor::Spawner;
use embassy_futures::join::join;
use embassy_rp::bind_interrupts;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::i2c::{self, I2c};
use embassy_rp::peripherals::{FLASH, I2C0, USB};
use embassy_rp::usb::{self, Driver};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::Delay;
use embassy_usb::class::cdc_acm::{CdcAcmClass, State};
use panic_halt as _;
use sense_node::{Node, NodeConfig};

use crate::usb_link::{PACKET, UsbLink, wait_open};

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => usb::InterruptHandler<USB>;
    I2C0_IRQ => i2c::InterruptHandler<I2C0>;
});

/// The Pico's W25Q16JV: 2 MB.
const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Between two readings.
const PERIOD_MS: u32 = 1000;

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());

    // Before anything else runs: reading the flash's id stops execute-in-place for a moment.
    let id = unique_id(Flash::new_blocking(p.FLASH));

    // One I2C0 bus shared by the three chips; one task, so no lock across cores or interrupts.
    // The RP2040's internal pull-ups stay on (embassy-rp's default): enough for short wires to a
    // Sense HAT; breakouts bring their own (README: Wiring).
    let mut i2c_config = i2c::Config::default();
    i2c_config.frequency = 100_000;
    let bus =
        Mutex::<NoopRawMutex, _>::new(I2c::new_async(p.I2C0, p.PIN_5, p.PIN_4, Irqs, i2c_config));
    let config = NodeConfig {
        id,
        firmware_version: env!("CARGO_PKG_VERSION"),
        period_ms: PERIOD_MS,
    };
    // The matrix is always given: the node reports it missing if it does not answer.
    let mut node = Node::new(
        config,
        I2cDevice::new(&bus),
        I2cDevice::new(&bus),
        Some(I2cDevice::new(&bus)),
        Delay,
    );

    let driver = Driver::new(p.USB, Irqs);
    // Raspberry Pi's vendor id; 0x000a is the Pico SDK's CDC serial product id.
    let mut usb_config = embassy_usb::Config::new(0x2e8a, 0x000a);
    usb_config.manufacturer = Some("Sense Pulse");
    usb_config.product = Some("sense-node-pico");
    usb_config.serial_number = Some(id);
    usb_config.max_power = 100;
    usb_config.max_packet_size_0 = 64;

    let mut config_descriptor = [0; 256];
    let mut bos_descriptor = [0; 256];
    let mut control_buf = [0; 64];
    let mut state = State::new();
    let mut builder = embassy_usb::Builder::new(
        driver,
        usb_config,
        &mut config_descriptor,
        &mut bos_descriptor,
        &mut [],
        &mut control_buf,
    );
    let class = CdcAcmClass::new(&mut builder, &mut state, PACKET as u16);
    let mut usb = builder.build();
    let (mut tx, mut rx, control) = class.split_with_control();

    // Each time the host opens the port, a run of the node; it ends when the port is closed or
    // the device unplugged or reset, and the node waits for the host again.
    let serve = async {
        loop {
            wait_open(&mut tx, &control).await;
            let mut link = UsbLink::new(&mut tx, &mut rx, &control);
            let _stopped = node.run(&mut link).await;
        }
    };
    join(usb.run(), serve).await;
}

/// The flash chip's 64-bit unique id as 16 hex digits: the node's id and USB serial number.
fn unique_id(mut flash: Flash<'_, FLASH, Blocking, FLASH_SIZE>) -> &'static str {
    let mut raw = [0u8; 8];
    let hex = cortex_m::singleton!(: [u8; 16] = [0; 16]).expect("called once");
    if flash.blocking_unique_id(&mut raw).is_err() {
        return "pico";
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in raw.iter().enumerate() {
        hex[2 * i] = DIGITS[usize::from(byte >> 4)];
        hex[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
    core::str::from_utf8(hex).unwrap_or("pico")
}
