//! A Bluetooth LE central: scan for advertisements, read a GATT characteristic.
//!
//! This is what the Aranet4 client needs and no more. An [`Advertisement`] is an owned,
//! fixed-capacity value, so an implementation can hand one out without allocating and a caller can
//! keep it after asking for the next.

use core::fmt;

/// Longest manufacturer-data payload kept per company id. Legacy advertising carries at most 29
/// bytes; extended advertising more, and anything past this is cut (see
/// [`ManufacturerData::truncated`]).
pub const MANUFACTURER_DATA_CAPACITY: usize = 64;
/// Most manufacturer-data entries kept per advertisement.
pub const MANUFACTURER_ENTRIES: usize = 4;
/// Longest device name kept, in bytes.
pub const NAME_CAPACITY: usize = 32;

/// A Bluetooth device address, most significant byte first (as printed: `AA:BB:CC:DD:EE:FF`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// Parses `AA:BB:CC:DD:EE:FF` (either case; `-` also accepted as separator).
    pub fn parse(s: &str) -> Option<Address> {
        let bytes = s.as_bytes();
        if bytes.len() != 17 {
            return None;
        }
        let mut out = [0u8; 6];
        for (i, byte) in out.iter_mut().enumerate() {
            let at = i * 3;
            if i > 0 && !matches!(bytes[at - 1], b':' | b'-') {
                return None;
            }
            let hex = core::str::from_utf8(&bytes[at..at + 2]).ok()?;
            *byte = u8::from_str_radix(hex, 16).ok()?;
        }
        Some(Address(out))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A 128-bit UUID (a 16-bit SIG UUID `0xFCE0` is `0000fce0-0000-1000-8000-00805f9b34fb`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Uuid(pub u128);

impl Uuid {
    /// The Bluetooth base UUID with a 16-bit short UUID filled in.
    pub const fn from_u16(short: u16) -> Uuid {
        Uuid(0x0000_0000_0000_1000_8000_0080_5f9b_34fb | ((short as u128) << 96))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            v >> 96,
            (v >> 80) & 0xFFFF,
            (v >> 64) & 0xFFFF,
            (v >> 48) & 0xFFFF,
            v & 0xFFFF_FFFF_FFFF
        )
    }
}

/// Manufacturer-specific data from one advertisement: a company id and its payload.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ManufacturerData {
    /// Bluetooth SIG company identifier (0x0702 is SAF Tehnika, the maker of Aranet4).
    pub company_id: u16,
    /// The payload after the company id.
    pub data: heapless::Vec<u8, MANUFACTURER_DATA_CAPACITY>,
    /// Whether the payload was longer than [`MANUFACTURER_DATA_CAPACITY`] and was cut.
    pub truncated: bool,
}

impl ManufacturerData {
    /// Manufacturer data for `company_id`, cut to capacity if needed.
    pub fn new(company_id: u16, payload: &[u8]) -> Self {
        let n = payload.len().min(MANUFACTURER_DATA_CAPACITY);
        let mut data = heapless::Vec::new();
        // Cannot fail: `n` fits by construction.
        let _ = data.extend_from_slice(&payload[..n]);
        ManufacturerData {
            company_id,
            data,
            truncated: n < payload.len(),
        }
    }
}

/// One advertisement (merged with its scan response) as heard by the central.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Advertisement {
    /// The advertiser's address.
    pub address: Address,
    /// Received signal strength in dBm, when the radio reports it.
    pub rssi: Option<i16>,
    /// The advertised (or cached) device name, cut to [`NAME_CAPACITY`] bytes.
    pub name: Option<heapless::String<NAME_CAPACITY>>,
    /// Manufacturer-specific data entries, at most [`MANUFACTURER_ENTRIES`].
    pub manufacturer_data: heapless::Vec<ManufacturerData, MANUFACTURER_ENTRIES>,
}

impl Advertisement {
    /// The payload for `company_id`, if the advertisement carries one.
    pub fn manufacturer(&self, company_id: u16) -> Option<&ManufacturerData> {
        self.manufacturer_data
            .iter()
            .find(|m| m.company_id == company_id)
    }

    /// Sets the name, cutting it at a character boundary to fit.
    pub fn set_name(&mut self, name: &str) {
        let mut end = name.len().min(NAME_CAPACITY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut s = heapless::String::new();
        let _ = s.push_str(&name[..end]);
        self.name = Some(s);
    }

    /// Adds a manufacturer-data entry; entries past [`MANUFACTURER_ENTRIES`] are dropped.
    pub fn push_manufacturer(&mut self, company_id: u16, payload: &[u8]) {
        let _ = self
            .manufacturer_data
            .push(ManufacturerData::new(company_id, payload));
    }
}

/// A Bluetooth LE central (scanner and GATT client).
///
/// Scanning is active and reports duplicates, so a device's changing advertisement data (an
/// Aranet4 updates its reading every interval) arrives each time it changes. Timeouts belong to
/// the caller: race [`next_advertisement`](BleCentral::next_advertisement) against a timer.
pub trait BleCentral {
    /// The implementation's error.
    type Error: fmt::Debug + fmt::Display;

    /// Starts scanning.
    async fn start_scan(&mut self) -> Result<(), Self::Error>;

    /// Waits for the next advertisement. Only valid between `start_scan` and `stop_scan`.
    async fn next_advertisement(&mut self) -> Result<Advertisement, Self::Error>;

    /// Stops scanning.
    async fn stop_scan(&mut self) -> Result<(), Self::Error>;

    /// Connects to `address` if needed and reads the characteristic `characteristic` of service
    /// `service` into `buf`, returning the number of bytes read (cut to `buf.len()`).
    async fn read_characteristic(
        &mut self,
        address: Address,
        service: Uuid,
        characteristic: Uuid,
        buf: &mut [u8],
    ) -> Result<usize, Self::Error>;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn addresses_parse_and_print_upper_case() {
        let a = Address::parse("aa:bb:cc:0d:ee:ff").unwrap();
        assert_eq!(a.0, [0xAA, 0xBB, 0xCC, 0x0D, 0xEE, 0xFF]);
        assert_eq!(a.to_string(), "AA:BB:CC:0D:EE:FF");
        assert_eq!(Address::parse("AA-BB-CC-0D-EE-FF"), Some(a));
        for bad in [
            "",
            "AA:BB:CC:DD:EE",
            "AA:BB:CC:DD:EE:FG",
            "AABBCCDDEEFF12345",
            "AA:BB:CC:DD:EE:F",
        ] {
            assert_eq!(Address::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_uuids_expand_on_the_base_uuid() {
        assert_eq!(
            Uuid::from_u16(0xFCE0).to_string(),
            "0000fce0-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(
            Uuid(0xf0cd3001_95da_4f4b_9ac8_aa55d312af0c).to_string(),
            "f0cd3001-95da-4f4b-9ac8-aa55d312af0c"
        );
    }

    #[test]
    fn long_payloads_are_marked_truncated() {
        let mut ad = Advertisement::default();
        ad.push_manufacturer(0x0702, &[7u8; 80]);
        let m = ad.manufacturer(0x0702).unwrap();
        assert_eq!(m.data.len(), MANUFACTURER_DATA_CAPACITY);
        assert!(m.truncated);
        assert!(ad.manufacturer(0x004C).is_none());
    }
}
