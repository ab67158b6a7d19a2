//! A simulated Bluetooth LE radio.
//!
//! [`SimRadio`] is a [`BleCentral`] that hears [`SimAdvertiser`]s: simulated devices that
//! broadcast an [`Advertisement`] every [`interval_ms`](SimAdvertiser::interval_ms) and may answer
//! GATT reads. `sense-aranet4`'s `sim` feature provides a simulated Aranet4; [`GarbageAdvertiser`]
//! here is everybody else in the room (phones, headphones, malformed payloads), so a client can
//! be shown to ignore what is not for it.
//!
//! # Timing
//!
//! Each advertiser broadcasts at the instants `phase + k × interval_ms`, where the phase (less than
//! one interval) is derived from its address, so devices with the same interval do not all speak
//! at once. Between [`start_scan`](BleCentral::start_scan) and
//! [`stop_scan`](BleCentral::stop_scan), [`next_advertisement`](BleCentral::next_advertisement)
//! returns the in-range advertisers' advertisements in time order (ties in the order the
//! advertisers were [added](SimRadio::add)). It computes the next instant from the clock
//! ([`SimClock::now_ms`]) and waits for it with the radio's `DelayNs`, then asks the advertiser for
//! its advertisement *at that instant*. So:
//!
//! - On the wall clock with a real delay (the runtime: tokio), advertisements arrive in real time.
//! - With a [`ManualClock`] and a [`ManualDelay`], the delay moves the clock to each instant:
//!   tests see exact, deterministic times.
//! - With a [`ManualClock`] and a delay that returns at once (`NoopDelay`), the radio does not wait
//!   at all: it hands out the advertisements of the coming instants immediately, in order, while the
//!   clock stays where the test put it.
//!
//! Broadcasts are not queued: when the clock has moved past instants nobody was listening at
//! (the caller was busy, or a test advanced the clock), those advertisements are missed, as on air.
//!
//! When no advertiser is in range, `next_advertisement` waits (polling every
//! [`IDLE_POLL_MS`] with the delay) like a real radio that hears nothing, and never returns on its
//! own: race it against a timeout, as [`BleCentral`] asks of every caller. With a delay that does
//! not move time, an empty radio therefore spins: give such tests something in range.
//!
//! A GATT read ([`read_characteristic`](BleCentral::read_characteristic)) needs no scan; it goes
//! to the in-range advertiser with that address, after an optional connection delay
//! ([`SimRadio::set_connect_delay_ms`]).

use core::fmt;

use embedded_hal_async::delay::DelayNs;
use sense_hal::ble::{Address, Advertisement, BleCentral, Uuid};

use crate::clock::{ManualClock, SimClock};

/// How often `next_advertisement` looks again when no advertiser is in range, in milliseconds.
pub const IDLE_POLL_MS: u32 = 1000;

/// Something that broadcasts on the simulated radio.
pub trait SimAdvertiser: Send {
    /// Its address. The radio reads it once, when the advertiser is [added](SimRadio::add).
    fn address(&self) -> Address;

    /// Milliseconds between advertisements (0 is taken as 1).
    fn interval_ms(&self) -> u32;

    /// Whether the radio can hear it at all (out of range: never heard, no GATT reads).
    fn in_range(&self) -> bool {
        true
    }

    /// The advertisement it sends at `unix_ms`. The radio sets the `address` field to
    /// [`address`](Self::address) whatever is returned.
    fn advertise(&mut self, unix_ms: u64) -> Advertisement;

    /// A GATT read of `characteristic` in `service` at `unix_ms`: fills the start of `buf` and
    /// returns the value's full length (the radio reports at most `buf.len()`). `None`: no such
    /// characteristic, or the device does not accept connections.
    fn read_characteristic(
        &mut self,
        service: Uuid,
        characteristic: Uuid,
        unix_ms: u64,
        buf: &mut [u8],
    ) -> Option<usize> {
        let _ = (service, characteristic, unix_ms, buf);
        None
    }
}

/// An error of the simulated radio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimRadioError {
    /// `next_advertisement` was called outside a scan.
    NotScanning,
    /// The radio is switched off ([`SimRadio::set_powered`]).
    PoweredOff,
    /// No advertiser in range has this address.
    NoSuchDevice(Address),
    /// The device has no such characteristic (or refused the connection).
    NoSuchCharacteristic {
        /// The device.
        address: Address,
        /// The service asked for.
        service: Uuid,
        /// The characteristic asked for.
        characteristic: Uuid,
    },
}

impl fmt::Display for SimRadioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimRadioError::NotScanning => {
                f.write_str("the simulated radio is not scanning: call start_scan first")
            }
            SimRadioError::PoweredOff => {
                f.write_str("the simulated Bluetooth radio is powered off")
            }
            SimRadioError::NoSuchDevice(a) => {
                write!(f, "no simulated Bluetooth device {a} in range")
            }
            SimRadioError::NoSuchCharacteristic {
                address,
                service,
                characteristic,
            } => write!(
                f,
                "simulated Bluetooth device {address} has no characteristic {characteristic} in service {service}"
            ),
        }
    }
}

impl core::error::Error for SimRadioError {}

/// [`SimRadio::add`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// An advertiser with this address is already on the radio.
    AddressInUse(Address),
    /// The radio holds its maximum number of advertisers.
    Full,
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::AddressInUse(a) => {
                write!(
                    f,
                    "a simulated Bluetooth device {a} is already on the radio"
                )
            }
            AddError::Full => f.write_str("the simulated radio holds no more devices"),
        }
    }
}

impl core::error::Error for AddError {}

struct Slot<'a> {
    advertiser: &'a mut dyn SimAdvertiser,
    address: Address,
    /// The next broadcast instant, once computed during a scan.
    next_due_ms: Option<u64>,
}

/// A simulated Bluetooth LE radio with up to `N` advertisers (see the [module docs](self)).
///
/// `D` is the delay used to wait for the next advertisement: a real timer at run time, a
/// [`ManualDelay`] or a no-op delay in tests.
pub struct SimRadio<'a, D, const N: usize = 8> {
    clock: &'static dyn SimClock,
    delay: D,
    slots: heapless::Vec<Slot<'a>, N>,
    powered: bool,
    scanning: bool,
    /// Broadcast instants before this are past: the latest instant handed out, or scan start.
    cursor_ms: u64,
    connect_delay_ms: u32,
    sent: u32,
    reads: u32,
}

impl<D, const N: usize> fmt::Debug for SimRadio<'_, D, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimRadio")
            .field("advertisers", &self.slots.len())
            .field("powered", &self.powered)
            .field("scanning", &self.scanning)
            .field("advertisements_sent", &self.sent)
            .field("characteristic_reads", &self.reads)
            .finish_non_exhaustive()
    }
}

/// FNV-1a over the address: a stable per-device number for the broadcast phase.
fn address_hash(address: Address) -> u32 {
    address.0.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The first broadcast instant at or after `at_ms` of a device broadcasting every `interval_ms`
/// (non-zero) at `phase_ms` (less than the interval) past each multiple of it.
fn first_at_or_after(at_ms: u64, interval_ms: u64, phase_ms: u64) -> u64 {
    let base = at_ms - at_ms % interval_ms;
    let candidate = base + phase_ms;
    if candidate >= at_ms {
        candidate
    } else {
        candidate + interval_ms
    }
}

impl<'a, D: DelayNs, const N: usize> SimRadio<'a, D, N> {
    /// A powered, idle radio with no advertisers, on `clock`, waiting with `delay`.
    pub fn new(clock: &'static dyn SimClock, delay: D) -> Self {
        SimRadio {
            clock,
            delay,
            slots: heapless::Vec::new(),
            powered: true,
            scanning: false,
            cursor_ms: 0,
            connect_delay_ms: 0,
            sent: 0,
            reads: 0,
        }
    }

    /// Puts an advertiser on the air. Its address is read now and must be unique on the radio.
    pub fn add(&mut self, advertiser: &'a mut dyn SimAdvertiser) -> Result<(), AddError> {
        let address = advertiser.address();
        if self.slots.iter().any(|s| s.address == address) {
            return Err(AddError::AddressInUse(address));
        }
        self.slots
            .push(Slot {
                advertiser,
                address,
                next_due_ms: None,
            })
            .map_err(|_| AddError::Full)
    }

    /// Switches the radio on or off. Switching off ends a scan (as BlueZ does when the adapter
    /// powers down): after switching on again, call `start_scan` again.
    pub fn set_powered(&mut self, on: bool) {
        self.powered = on;
        if !on {
            self.scanning = false;
        }
    }

    /// Whether the radio is on.
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Whether a scan is running.
    pub fn is_scanning(&self) -> bool {
        self.scanning
    }

    /// Makes every GATT read wait `ms` milliseconds first (with the radio's delay), as connecting
    /// to a device takes time. 0 (the default) reads at once.
    pub fn set_connect_delay_ms(&mut self, ms: u32) {
        self.connect_delay_ms = ms;
    }

    /// Advertisements handed out by `next_advertisement` so far.
    pub fn advertisements_sent(&self) -> u32 {
        self.sent
    }

    /// GATT reads answered so far.
    pub fn characteristic_reads(&self) -> u32 {
        self.reads
    }

    fn check_scanning(&self) -> Result<(), SimRadioError> {
        if !self.powered {
            Err(SimRadioError::PoweredOff)
        } else if !self.scanning {
            Err(SimRadioError::NotScanning)
        } else {
            Ok(())
        }
    }

    /// The next broadcast among in-range advertisers at or after `from_ms`: `(instant, slot)`.
    fn next_due(&mut self, from_ms: u64) -> Option<(u64, usize)> {
        let mut best: Option<(u64, usize)> = None;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if !slot.advertiser.in_range() {
                continue;
            }
            let due = match slot.next_due_ms {
                Some(due) if due >= from_ms => due,
                _ => {
                    let interval = u64::from(slot.advertiser.interval_ms().max(1));
                    let phase = u64::from(address_hash(slot.address)) % interval;
                    first_at_or_after(from_ms, interval, phase)
                }
            };
            slot.next_due_ms = Some(due);
            if best.is_none_or(|(b, _)| due < b) {
                best = Some((due, i));
            }
        }
        best
    }
}

impl<D: DelayNs, const N: usize> BleCentral for SimRadio<'_, D, N> {
    type Error = SimRadioError;

    async fn start_scan(&mut self) -> Result<(), SimRadioError> {
        if !self.powered {
            return Err(SimRadioError::PoweredOff);
        }
        if !self.scanning {
            self.scanning = true;
            self.cursor_ms = self.clock.now_ms();
            for slot in &mut self.slots {
                slot.next_due_ms = None;
            }
        }
        Ok(())
    }

    async fn next_advertisement(&mut self) -> Result<Advertisement, SimRadioError> {
        loop {
            self.check_scanning()?;
            let now = self.clock.now_ms();
            // Instants before now were on air while nobody listened: missed.
            let from = self.cursor_ms.max(now);
            let Some((due, index)) = self.next_due(from) else {
                self.delay.delay_ms(IDLE_POLL_MS).await;
                continue;
            };
            if due > now {
                // Cancellation-safe: nothing is handed out or counted until the wait is over.
                let wait = u32::try_from(due - now).unwrap_or(u32::MAX);
                self.delay.delay_ms(wait).await;
            }
            let Some(slot) = self.slots.get_mut(index) else {
                continue;
            };
            let interval = u64::from(slot.advertiser.interval_ms().max(1));
            let mut advertisement = slot.advertiser.advertise(due);
            advertisement.address = slot.address;
            slot.next_due_ms = Some(due + interval);
            self.cursor_ms = due;
            self.sent = self.sent.wrapping_add(1);
            return Ok(advertisement);
        }
    }

    async fn stop_scan(&mut self) -> Result<(), SimRadioError> {
        self.scanning = false;
        Ok(())
    }

    async fn read_characteristic(
        &mut self,
        address: Address,
        service: Uuid,
        characteristic: Uuid,
        buf: &mut [u8],
    ) -> Result<usize, SimRadioError> {
        if !self.powered {
            return Err(SimRadioError::PoweredOff);
        }
        let reachable = |s: &Slot<'_>| s.address == address && s.advertiser.in_range();
        if !self.slots.iter().any(reachable) {
            return Err(SimRadioError::NoSuchDevice(address));
        }
        if self.connect_delay_ms > 0 {
            self.delay.delay_ms(self.connect_delay_ms).await;
        }
        let now = self.clock.now_ms();
        // Looked up again: the device may have left during the connection delay.
        let slot = self
            .slots
            .iter_mut()
            .find(|s| reachable(s))
            .ok_or(SimRadioError::NoSuchDevice(address))?;
        let n = slot
            .advertiser
            .read_characteristic(service, characteristic, now, buf)
            .ok_or(SimRadioError::NoSuchCharacteristic {
                address,
                service,
                characteristic,
            })?;
        self.reads = self.reads.wrapping_add(1);
        Ok(n.min(buf.len()))
    }
}

/// A `DelayNs` that moves a [`ManualClock`] forward instead of sleeping, so simulated devices see
/// the time pass and a test runs at full speed.
#[derive(Clone, Copy, Debug)]
pub struct ManualDelay(pub &'static ManualClock);

impl DelayNs for ManualDelay {
    async fn delay_ns(&mut self, ns: u32) {
        self.0.advance(u64::from(ns).div_ceil(1_000_000));
    }

    async fn delay_us(&mut self, us: u32) {
        self.0.advance(u64::from(us).div_ceil(1_000));
    }

    async fn delay_ms(&mut self, ms: u32) {
        self.0.advance(u64::from(ms));
    }
}

/// A tiny deterministic PRNG (xorshift32).
#[derive(Clone, Debug)]
struct XorShift(u32);

impl XorShift {
    fn new(seed: u32) -> Self {
        // Scramble so that nearby seeds diverge at once; the state must not be zero.
        XorShift(seed.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next() % (hi - lo + 1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next().to_le_bytes()[1];
        }
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        let n = u32::try_from(items.len()).unwrap_or(u32::MAX).max(1);
        let i = usize::try_from(self.next() % n).unwrap_or(0);
        &items[i.min(items.len() - 1)]
    }
}

/// Apple's Bluetooth SIG company identifier.
pub const APPLE_COMPANY_ID: u16 = 0x004C;
/// SAF Tehnika's (Aranet's) company identifier, which [`GarbageAdvertiser`] abuses.
pub const ARANET_COMPANY_ID: u16 = 0x0702;

/// Lengths of the malformed 0x0702 payloads: never 7 or 22, the Aranet4's own lengths.
pub const GARBAGE_ARANET_LENGTHS: [usize; 8] = [0, 1, 6, 8, 13, 21, 23, 29];

/// Everybody else in the room: a device whose advertisements a client must ignore or survive.
///
/// Every seventh advertisement repeats the cycle of kinds below, with contents from a
/// deterministic PRNG seeded by `seed`:
///
/// 0. An Apple iBeacon (company 0x004C, 23 bytes), no name.
/// 1. A short Apple "nearby" payload (0x004C, 2–12 random bytes), no name.
/// 2. Another vendor (a random company id, never 0x0702) with 0–31 random bytes and a gadget's
///    name.
/// 3. Malformed Aranet data: company 0x0702 with a length from [`GARBAGE_ARANET_LENGTHS`] (never 7
///    or 22) of random bytes.
/// 4. A crowded advertisement: four entries (Apple, 0x0702 of a wrong length, a random vendor,
///    and an 80-byte payload that arrives [`truncated`](sense_hal::ble::ManufacturerData::truncated)).
/// 5. No manufacturer data at all, named `Aranet4 00000`: a name that looks like an Aranet4's
///    without a reading (as a passive scan can report a real one).
/// 6. Nothing but a name: `[TV] Samsung`.
///
/// It answers no GATT reads. It is always in range unless built with
/// [`out_of_range`](Self::out_of_range).
#[derive(Clone, Debug)]
pub struct GarbageAdvertiser {
    address: Address,
    interval_ms: u32,
    in_range: bool,
    rng: XorShift,
    count: u32,
}

/// Names of other gadgets.
const GADGET_NAMES: [&str; 5] = [
    "Mi Smart Band 7",
    "JBL Flip 5",
    "LE-Bose QC35",
    "Tile",
    "a-name-that-is-longer-than-thirty-two-bytes",
];

impl GarbageAdvertiser {
    /// Number of advertisement kinds in the cycle.
    pub const KINDS: u32 = 7;

    /// A garbage advertiser at `address`, broadcasting every 100–700 ms (picked from the seed).
    pub fn new(address: Address, seed: u32) -> Self {
        let mut rng = XorShift::new(seed);
        let interval_ms = rng.range(100, 700);
        GarbageAdvertiser {
            address,
            interval_ms,
            in_range: true,
            rng,
            count: 0,
        }
    }

    /// The same, broadcasting every `ms` milliseconds.
    pub fn with_interval_ms(mut self, ms: u32) -> Self {
        self.interval_ms = ms;
        self
    }

    /// The same, out of range: never heard.
    pub fn out_of_range(mut self) -> Self {
        self.in_range = false;
        self
    }

    /// Advertisements sent so far.
    pub fn sent(&self) -> u32 {
        self.count
    }

    fn random_payload<'b>(&mut self, buf: &'b mut [u8; 96], len: usize) -> &'b [u8] {
        let len = len.min(buf.len());
        self.rng.fill(&mut buf[..len]);
        &buf[..len]
    }

    fn other_company(&mut self) -> u16 {
        loop {
            let id = self.rng.next().to_le_bytes();
            let id = u16::from_le_bytes([id[0], id[2]]);
            if id != ARANET_COMPANY_ID {
                return id;
            }
        }
    }
}

impl SimAdvertiser for GarbageAdvertiser {
    fn address(&self) -> Address {
        self.address
    }

    fn interval_ms(&self) -> u32 {
        self.interval_ms
    }

    fn in_range(&self) -> bool {
        self.in_range
    }

    fn advertise(&mut self, _unix_ms: u64) -> Advertisement {
        let kind = self.count % Self::KINDS;
        self.count = self.count.wrapping_add(1);
        let mut ad = Advertisement {
            address: self.address,
            rssi: i16::try_from(self.rng.range(40, 100)).ok().map(|r: i16| -r),
            ..Advertisement::default()
        };
        let mut buf = [0u8; 96];
        match kind {
            0 => {
                let mut beacon = [0u8; 23];
                beacon[0] = 0x02; // iBeacon type
                beacon[1] = 0x15; // 21 bytes follow
                self.rng.fill(&mut beacon[2..22]); // UUID, major, minor
                beacon[22] = 0xC5; // measured power, -59 dBm
                ad.push_manufacturer(APPLE_COMPANY_ID, &beacon);
            }
            1 => {
                let len = self.rng.range(2, 12) as usize;
                let payload = self.random_payload(&mut buf, len);
                ad.push_manufacturer(APPLE_COMPANY_ID, payload);
            }
            2 => {
                let company = self.other_company();
                let len = self.rng.range(0, 31) as usize;
                let name = *self.rng.pick(&GADGET_NAMES);
                ad.set_name(name);
                let payload = self.random_payload(&mut buf, len);
                ad.push_manufacturer(company, payload);
            }
            3 => {
                let len = *self.rng.pick(&GARBAGE_ARANET_LENGTHS);
                let payload = self.random_payload(&mut buf, len);
                ad.push_manufacturer(ARANET_COMPANY_ID, payload);
            }
            4 => {
                let len = self.rng.range(2, 12) as usize;
                ad.push_manufacturer(APPLE_COMPANY_ID, self.random_payload(&mut buf, len));
                let len = *self.rng.pick(&GARBAGE_ARANET_LENGTHS);
                ad.push_manufacturer(ARANET_COMPANY_ID, self.random_payload(&mut buf, len));
                let company = self.other_company();
                let len = self.rng.range(0, 31) as usize;
                ad.push_manufacturer(company, self.random_payload(&mut buf, len));
                let company = self.other_company();
                ad.push_manufacturer(company, self.random_payload(&mut buf, 80));
            }
            5 => ad.set_name("Aranet4 00000"),
            _ => ad.set_name("[TV] Samsung"),
        }
        ad
    }
}

#[cfg(test)]
mod tests;
