//! `sense_node::Link` over a USB CDC-ACM serial port: the host opens the port (DTR set), the node
//! sends its COBS frames as bulk packets of at most 64 bytes and reads the host's bytes.

use embassy_futures::select::{Either, select};
use embassy_rp::peripherals::USB;
use embassy_rp::usb::Driver;
use embassy_usb::class::cdc_acm::{ControlChanged, Receiver, Sender};
use embassy_usb::driver::EndpointError;

/// Full-speed bulk endpoints: 64-byte packets.
pub const PACKET: usize = 64;

type UsbDriver<'d> = Driver<'d, USB>;

/// Why the link stopped: the host closed the port (DTR cleared) or the device was reset or
/// unplugged (endpoints disabled).
#[derive(Debug)]
pub enum LinkError {
    /// The host cleared DTR: the port is closed.
    Closed,
    /// The endpoints were disabled: bus reset, unplugged, or deconfigured.
    Disabled,
}

impl From<EndpointError> for LinkError {
    fn from(error: EndpointError) -> Self {
        match error {
            // The receive buffer is a full packet, so only a disabled endpoint is left.
            EndpointError::BufferOverflow | EndpointError::Disabled => LinkError::Disabled,
        }
    }
}

/// One connection: made once the host has opened the port, dropped when it fails.
pub struct UsbLink<'a, 'd> {
    tx: &'a mut Sender<'d, UsbDriver<'d>>,
    rx: &'a mut Receiver<'d, UsbDriver<'d>>,
    control: &'a ControlChanged<'d>,
    /// The bytes of the last packet not yet handed to `receive`'s caller.
    pending: [u8; PACKET],
    start: usize,
    end: usize,
}

impl<'a, 'd> UsbLink<'a, 'd> {
    pub fn new(
        tx: &'a mut Sender<'d, UsbDriver<'d>>,
        rx: &'a mut Receiver<'d, UsbDriver<'d>>,
        control: &'a ControlChanged<'d>,
    ) -> Self {
        Self {
            tx,
            rx,
            control,
            pending: [0; PACKET],
            start: 0,
            end: 0,
        }
    }
}

/// Until the host has configured the device and opened the port.
pub async fn wait_open<'d>(tx: &mut Sender<'d, UsbDriver<'d>>, control: &ControlChanged<'d>) {
    loop {
        tx.wait_connection().await;
        if control.dtr() {
            return;
        }
        control.control_changed().await;
    }
}

impl sense_node::Link for UsbLink<'_, '_> {
    type Error = LinkError;

    async fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let control = self.control;
        let tx = &mut *self.tx;
        let write = async {
            for packet in bytes.chunks(PACKET) {
                tx.write_packet(packet).await?;
            }
            // A full last packet: a zero-length one ends the transfer, so the host's read
            // returns now rather than with the next frame.
            if !bytes.is_empty() && bytes.len().is_multiple_of(PACKET) {
                tx.write_packet(&[]).await?;
            }
            Ok::<(), EndpointError>(())
        };
        // A closed port is not read: the write would wait for it to be opened again.
        let closed = async {
            while control.dtr() {
                control.control_changed().await;
            }
        };
        match select(write, closed).await {
            Either::First(result) => Ok(result?),
            Either::Second(()) => Err(LinkError::Closed),
        }
    }

    async fn receive(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        if self.start == self.end {
            let control = self.control;
            let read = self.rx.read_packet(&mut self.pending);
            let closed = async {
                while control.dtr() {
                    control.control_changed().await;
                }
            };
            self.end = match select(read, closed).await {
                Either::First(n) => n?,
                Either::Second(()) => return Err(LinkError::Closed),
            };
            self.start = 0;
        }
        let n = buf.len().min(self.end - self.start);
        buf[..n].copy_from_slice(&self.pending[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}
