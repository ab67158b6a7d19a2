//! A simulated I2C bus.
//!
//! [`SimBus`] holds devices at 7-bit addresses. Every `&SimBus` is an
//! [`embedded_hal_async::i2c::I2c`], so several drivers can share one bus exactly as they share
//! `/dev/i2c-1` on a Pi. A transaction runs atomically: operations are delivered to the addressed
//! device in order (writes through [`I2cTarget::write`], reads through [`I2cTarget::read`]) and
//! the device sees [`I2cTarget::stop`] at the end.
//!
//! Faults are injected per address with [`SimBus::inject`]: an address NACK (no device answering,
//! a loose HAT) or `Busy` (Linux `EBUSY`: a kernel driver owns the address).

use core::cell::RefCell;
use core::fmt;

use critical_section::Mutex;
use embedded_hal::i2c::{ErrorKind, ErrorType, NoAcknowledgeSource, Operation, SevenBitAddress};

/// A device on the simulated bus.
pub trait I2cTarget: Send {
    /// The bytes of one write operation, in order. By convention the first byte of the first write
    /// in a transaction is a register address.
    fn write(&mut self, bytes: &[u8]);
    /// Fills `buf` for one read operation.
    fn read(&mut self, buf: &mut [u8]);
    /// The transaction ended (I2C STOP). Chips start conversions or latch state here.
    fn stop(&mut self) {}
    /// The device as `Any`, so a test can reach its model through [`SimBus::with_chip`] (e.g. to
    /// inject a fault or read its registers). Chip models return `Some(self)`.
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        None
    }
}

/// How a register file advances its pointer during multi-byte transfers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoIncrement {
    /// Every byte advances the pointer (the Sense HAT's ATtiny88).
    Always,
    /// The pointer advances only when bit 7 of the sub-address was set, and bit 7 is not part of
    /// the address (ST's HTS221 and LPS25H: "register | 0x80").
    WhenMsbSet,
    /// The pointer never advances.
    Never,
}

/// A bank of 8-bit registers behind a register pointer: the common shape of I2C chips.
///
/// Registers past the end read `0xFF` and ignore writes. A write's first byte sets the pointer;
/// further bytes store into registers. Reads start at the pointer.
#[derive(Clone, Debug)]
pub struct RegisterFile<const N: usize> {
    regs: [u8; N],
    pointer: u8,
    increment: bool,
    mode: AutoIncrement,
}

impl<const N: usize> RegisterFile<N> {
    /// A register file of zeroes.
    pub const fn new(mode: AutoIncrement) -> Self {
        RegisterFile {
            regs: [0; N],
            pointer: 0,
            increment: false,
            mode,
        }
    }

    /// Reads register `reg` (`0xFF` past the end).
    pub fn get(&self, reg: u8) -> u8 {
        self.regs.get(usize::from(reg)).copied().unwrap_or(0xFF)
    }

    /// Sets register `reg` (ignored past the end).
    pub fn set(&mut self, reg: u8, value: u8) {
        if let Some(r) = self.regs.get_mut(usize::from(reg)) {
            *r = value;
        }
    }

    /// Stores `bytes` from register `start` on, as consecutive registers.
    pub fn set_block(&mut self, start: u8, bytes: &[u8]) {
        for (reg, b) in (start..=u8::MAX).zip(bytes) {
            self.set(reg, *b);
        }
    }

    /// The current register pointer.
    pub fn pointer(&self) -> u8 {
        self.pointer
    }

    /// The register the pointer selects before `write_bytes` stores data: decodes the sub-address
    /// byte as the chip does.
    fn select(&mut self, sub_address: u8) {
        match self.mode {
            AutoIncrement::WhenMsbSet => {
                self.pointer = sub_address & 0x7F;
                self.increment = sub_address & 0x80 != 0;
            }
            AutoIncrement::Always => {
                self.pointer = sub_address;
                self.increment = true;
            }
            AutoIncrement::Never => {
                self.pointer = sub_address;
                self.increment = false;
            }
        }
    }

    fn advance(&mut self) {
        if self.increment {
            self.pointer = self.pointer.wrapping_add(1);
        }
    }

    /// Handles a write operation: the first byte is the sub-address, the rest are stored. Returns
    /// the registers written as `(first, count)` so a chip model can react to them.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Option<(u8, usize)> {
        let (&sub, data) = bytes.split_first()?;
        self.select(sub);
        let first = self.pointer;
        for &b in data {
            self.set(self.pointer, b);
            self.advance();
        }
        Some((first, data.len()))
    }

    /// Like [`write_bytes`](Self::write_bytes), but a register for which `writable` is false
    /// keeps its value (a chip's read-only registers ignore writes).
    pub fn write_bytes_where(
        &mut self,
        bytes: &[u8],
        writable: impl Fn(u8) -> bool,
    ) -> Option<(u8, usize)> {
        let (&sub, data) = bytes.split_first()?;
        self.select(sub);
        let first = self.pointer;
        for &b in data {
            if writable(self.pointer) {
                self.set(self.pointer, b);
            }
            self.advance();
        }
        Some((first, data.len()))
    }

    /// Handles a read operation from the pointer on; says which registers it returned.
    pub fn read_bytes(&mut self, buf: &mut [u8]) -> ReadSpan {
        let start = self.pointer;
        for b in buf.iter_mut() {
            *b = self.get(self.pointer);
            self.advance();
        }
        ReadSpan {
            start,
            len: buf.len(),
            incremented: self.increment,
        }
    }
}

/// The registers one read operation returned: from `start` on when the pointer incremented,
/// else `start` over and over. Chip models clear their data-ready flags by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSpan {
    start: u8,
    len: usize,
    incremented: bool,
}

impl ReadSpan {
    /// Whether `register` was among the bytes returned.
    pub fn covers(&self, register: u8) -> bool {
        if self.incremented {
            usize::from(register.wrapping_sub(self.start)) < self.len
        } else {
            register == self.start && self.len > 0
        }
    }
}

impl<const N: usize> I2cTarget for RegisterFile<N> {
    fn write(&mut self, bytes: &[u8]) {
        self.write_bytes(bytes);
    }
    fn read(&mut self, buf: &mut [u8]) {
        let _ = self.read_bytes(buf);
    }
}

/// A fault injected at one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The address is not acknowledged: as if nothing were there.
    Nack,
    /// The bus refuses the address as busy (`EBUSY` on Linux: a kernel driver has bound it).
    Busy,
}

/// The error a [`SimBus`] transaction returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimError {
    /// Nothing acknowledged the address (no device, or an injected [`Fault::Nack`]).
    Nack(u8),
    /// An injected [`Fault::Busy`].
    Busy(u8),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Nack(a) => write!(f, "no acknowledge from I2C address {a:#04x}"),
            SimError::Busy(a) => write!(f, "I2C address {a:#04x} is busy (EBUSY)"),
        }
    }
}

impl embedded_hal::i2c::Error for SimError {
    fn kind(&self) -> ErrorKind {
        match self {
            SimError::Nack(_) => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            SimError::Busy(_) => ErrorKind::Other,
        }
    }
}

/// Counters of traffic on a [`SimBus`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Transactions attempted (including failed ones).
    pub transactions: u32,
    /// Transactions that failed.
    pub failed: u32,
    /// Data bytes written (register addresses included, I2C address bytes not).
    pub bytes_written: u32,
    /// Data bytes read.
    pub bytes_read: u32,
}

struct Injected {
    address: u8,
    fault: Fault,
    /// Transactions left before the fault clears by itself; `None` = until cleared.
    remaining: Option<u32>,
}

struct Inner<'d, const N: usize> {
    devices: heapless::Vec<(u8, &'d mut dyn I2cTarget), N>,
    faults: heapless::Vec<Injected, N>,
    stats: BusStats,
}

/// A simulated I2C bus with up to `N` devices.
pub struct SimBus<'d, const N: usize = 8> {
    inner: Mutex<RefCell<Inner<'d, N>>>,
}

impl<const N: usize> fmt::Debug for SimBus<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimBus")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<const N: usize> Default for SimBus<'_, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`SimBus::attach`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// A device already answers at this address.
    AddressInUse(u8),
    /// The bus holds its maximum number of devices.
    Full,
}

impl<'d, const N: usize> SimBus<'d, N> {
    /// An empty bus.
    pub const fn new() -> Self {
        SimBus {
            inner: Mutex::new(RefCell::new(Inner {
                devices: heapless::Vec::new(),
                faults: heapless::Vec::new(),
                stats: BusStats {
                    transactions: 0,
                    failed: 0,
                    bytes_written: 0,
                    bytes_read: 0,
                },
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner<'d, N>) -> R) -> R {
        critical_section::with(|cs| f(&mut self.inner.borrow_ref_mut(cs)))
    }

    /// Puts `device` on the bus at 7-bit `address`.
    pub fn attach(&self, address: u8, device: &'d mut dyn I2cTarget) -> Result<(), AttachError> {
        self.with(|inner| {
            if inner.devices.iter().any(|(a, _)| *a == address) {
                return Err(AttachError::AddressInUse(address));
            }
            inner
                .devices
                .push((address, device))
                .map_err(|_| AttachError::Full)
        })
    }

    /// Makes every transaction to `address` fail with `fault` until [`clear`](Self::clear)ed.
    pub fn inject(&self, address: u8, fault: Fault) {
        self.inject_inner(address, fault, None);
    }

    /// Makes the next `transactions` transactions to `address` fail with `fault`.
    pub fn inject_times(&self, address: u8, fault: Fault, transactions: u32) {
        self.inject_inner(address, fault, Some(transactions));
    }

    fn inject_inner(&self, address: u8, fault: Fault, remaining: Option<u32>) {
        self.with(|inner| {
            inner.faults.retain(|f| f.address != address);
            // When full, the oldest fault gives way: the newest injection is what a test means.
            if inner.faults.is_full() {
                inner.faults.remove(0);
            }
            let _ = inner.faults.push(Injected {
                address,
                fault,
                remaining,
            });
        });
    }

    /// Removes any fault injected at `address`.
    pub fn clear(&self, address: u8) {
        self.with(|inner| inner.faults.retain(|f| f.address != address));
    }

    /// Traffic so far.
    pub fn stats(&self) -> BusStats {
        self.with(|inner| inner.stats)
    }

    /// Sets the traffic counters back to zero.
    pub fn reset_stats(&self) {
        self.with(|inner| inner.stats = BusStats::default());
    }

    /// Runs `f` on the device at `address`, e.g. to inspect or change a chip model's registers.
    pub fn with_device<R>(
        &self,
        address: u8,
        f: impl FnOnce(&mut dyn I2cTarget) -> R,
    ) -> Option<R> {
        self.with(|inner| {
            let (_, dev) = inner.devices.iter_mut().find(|(a, _)| *a == address)?;
            Some(f(&mut **dev))
        })
    }

    /// Runs `f` on the chip model of type `T` at `address`; `None` if there is no such chip.
    pub fn with_chip<T: core::any::Any, R>(
        &self,
        address: u8,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        self.with(|inner| {
            let (_, dev) = inner.devices.iter_mut().find(|(a, _)| *a == address)?;
            let chip = dev.as_any_mut()?.downcast_mut::<T>()?;
            Some(f(chip))
        })
    }

    /// Runs one transaction, as `embedded-hal`'s `transaction` describes it.
    pub fn run(&self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), SimError> {
        self.with(|inner| {
            inner.stats.transactions += 1;
            if let Some(i) = inner.faults.iter().position(|f| f.address == address) {
                let injected = &mut inner.faults[i];
                let fault = injected.fault;
                if let Some(left) = injected.remaining.as_mut() {
                    *left -= 1;
                    if *left == 0 {
                        inner.faults.remove(i);
                    }
                }
                inner.stats.failed += 1;
                return Err(match fault {
                    Fault::Nack => SimError::Nack(address),
                    Fault::Busy => SimError::Busy(address),
                });
            }
            let Some((_, device)) = inner.devices.iter_mut().find(|(a, _)| *a == address) else {
                inner.stats.failed += 1;
                return Err(SimError::Nack(address));
            };
            let mut written = 0usize;
            let mut read = 0usize;
            for op in operations.iter_mut() {
                match op {
                    Operation::Write(bytes) => {
                        device.write(bytes);
                        written += bytes.len();
                    }
                    Operation::Read(buf) => {
                        device.read(buf);
                        read += buf.len();
                    }
                }
            }
            device.stop();
            let saturate = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            inner.stats.bytes_written = inner.stats.bytes_written.saturating_add(saturate(written));
            inner.stats.bytes_read = inner.stats.bytes_read.saturating_add(saturate(read));
            Ok(())
        })
    }
}

impl<const N: usize> ErrorType for &SimBus<'_, N> {
    type Error = SimError;
}

impl<const N: usize> embedded_hal_async::i2c::I2c<SevenBitAddress> for &SimBus<'_, N> {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        self.run(address, operations)
    }
}

impl<const N: usize> embedded_hal::i2c::I2c<SevenBitAddress> for &SimBus<'_, N> {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        self.run(address, operations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_async::i2c::I2c;
    use futures_executor::block_on;

    /// Bit 7 of the sub-address asks an ST sensor to auto-increment.
    const AUTO_INCREMENT: u8 = 0x80;

    #[test]
    fn st_style_register_reads_increment_only_with_bit_7() {
        let mut chip = RegisterFile::<0x40>::new(AutoIncrement::WhenMsbSet);
        chip.set_block(0x28, &[0x11, 0x22, 0x33]);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(0x5F, &mut chip).unwrap();
        let mut i2c = &bus;

        let mut buf = [0u8; 3];
        block_on(i2c.write_read(0x5F, &[0x28 | AUTO_INCREMENT], &mut buf)).unwrap();
        assert_eq!(buf, [0x11, 0x22, 0x33]);

        block_on(i2c.write_read(0x5F, &[0x28], &mut buf)).unwrap();
        assert_eq!(buf, [0x11, 0x11, 0x11], "without bit 7 the pointer stays");
    }

    #[test]
    fn writes_store_registers_and_past_the_end_reads_ff() {
        let mut chip = RegisterFile::<4>::new(AutoIncrement::Always);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(0x46, &mut chip).unwrap();
        let mut i2c = &bus;
        block_on(i2c.write(0x46, &[0x02, 0xAA, 0xBB, 0xCC])).unwrap();
        let mut buf = [0u8; 4];
        block_on(i2c.write_read(0x46, &[0x01], &mut buf)).unwrap();
        assert_eq!(buf, [0x00, 0xAA, 0xBB, 0xFF]);
    }

    #[test]
    fn an_empty_address_nacks() {
        let bus: SimBus<'_, 4> = SimBus::new();
        let mut i2c = &bus;
        let err = block_on(i2c.write(0x10, &[0])).unwrap_err();
        assert_eq!(err, SimError::Nack(0x10));
        assert_eq!(
            embedded_hal::i2c::Error::kind(&err),
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
        );
        assert_eq!(bus.stats().failed, 1);
    }

    #[test]
    fn injected_faults_last_until_cleared_or_counted_out() {
        let mut chip = RegisterFile::<4>::new(AutoIncrement::Always);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(0x5C, &mut chip).unwrap();
        let mut i2c = &bus;

        bus.inject(0x5C, Fault::Busy);
        for _ in 0..3 {
            assert_eq!(block_on(i2c.write(0x5C, &[0])), Err(SimError::Busy(0x5C)));
        }
        bus.clear(0x5C);
        assert_eq!(block_on(i2c.write(0x5C, &[0])), Ok(()));

        bus.inject_times(0x5C, Fault::Nack, 2);
        assert_eq!(block_on(i2c.write(0x5C, &[0])), Err(SimError::Nack(0x5C)));
        assert_eq!(block_on(i2c.write(0x5C, &[0])), Err(SimError::Nack(0x5C)));
        assert_eq!(block_on(i2c.write(0x5C, &[0])), Ok(()));
    }

    #[test]
    fn stats_count_transactions_and_bytes() {
        let mut chip = RegisterFile::<8>::new(AutoIncrement::Always);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(0x46, &mut chip).unwrap();
        let mut i2c = &bus;
        let mut buf = [0u8; 5];
        block_on(i2c.write_read(0x46, &[0x00], &mut buf)).unwrap();
        block_on(i2c.write(0x46, &[0x00, 1, 2])).unwrap();
        assert_eq!(
            bus.stats(),
            BusStats {
                transactions: 2,
                failed: 0,
                bytes_written: 4,
                bytes_read: 5
            }
        );
    }

    #[test]
    fn two_devices_at_one_address_are_refused() {
        let mut a = RegisterFile::<1>::new(AutoIncrement::Never);
        let mut b = RegisterFile::<1>::new(AutoIncrement::Never);
        let bus: SimBus<'_, 4> = SimBus::new();
        bus.attach(0x20, &mut a).unwrap();
        assert_eq!(
            bus.attach(0x20, &mut b),
            Err(AttachError::AddressInUse(0x20))
        );
    }
}
