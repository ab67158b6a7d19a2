extern crate std;

use std::string::ToString;
use std::vec::Vec;

use futures_executor::block_on;

use super::*;

/// 2023-11-14 22:13:20 UTC.
const START_MS: u64 = 1_700_000_000_000;

fn addr(last: u8) -> Address {
    Address([0xC0, 0xFF, 0xEE, 0x00, 0x00, last])
}

/// A device that puts the instant it was asked about into its manufacturer data.
struct Beacon {
    address: Address,
    interval_ms: u32,
    in_range: bool,
}

impl Beacon {
    fn new(last: u8, interval_ms: u32) -> Self {
        Beacon {
            address: addr(last),
            interval_ms,
            in_range: true,
        }
    }
}

impl SimAdvertiser for Beacon {
    fn address(&self) -> Address {
        self.address
    }
    fn interval_ms(&self) -> u32 {
        self.interval_ms
    }
    fn in_range(&self) -> bool {
        self.in_range
    }
    fn advertise(&mut self, unix_ms: u64) -> Advertisement {
        let mut ad = Advertisement::default();
        ad.push_manufacturer(0xFFFF, &unix_ms.to_le_bytes());
        ad
    }
    fn read_characteristic(
        &mut self,
        _service: Uuid,
        characteristic: Uuid,
        unix_ms: u64,
        buf: &mut [u8],
    ) -> Option<usize> {
        if characteristic != Uuid::from_u16(0x2A2B) {
            return None;
        }
        let bytes = unix_ms.to_le_bytes();
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Some(bytes.len())
    }
}

fn sent_at(ad: &Advertisement) -> u64 {
    let data = &ad.manufacturer(0xFFFF).unwrap().data;
    u64::from_le_bytes(data[..8].try_into().unwrap())
}

struct NoopDelay;

impl DelayNs for NoopDelay {
    async fn delay_ns(&mut self, _ns: u32) {}
}

#[test]
fn advertisements_arrive_in_time_order_on_each_device_s_schedule() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let (mut a, mut b) = (Beacon::new(1, 1000), Beacon::new(2, 2500));
    let mut radio: SimRadio<'_, _> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut a).unwrap();
    radio.add(&mut b).unwrap();
    block_on(radio.start_scan()).unwrap();
    let mut seen: Vec<(Address, u64)> = Vec::new();
    for _ in 0..30 {
        let ad = block_on(radio.next_advertisement()).unwrap();
        let at = sent_at(&ad);
        // The delay moved the clock to the broadcast instant.
        assert_eq!(CLOCK.now_ms(), at);
        seen.push((ad.address, at));
    }
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
    for (address, interval) in [(addr(1), 1000), (addr(2), 2500)] {
        let times: Vec<u64> = seen
            .iter()
            .filter(|(a, _)| *a == address)
            .map(|(_, t)| *t)
            .collect();
        assert!(times.len() >= 5, "{address}: {times:?}");
        assert!(times.windows(2).all(|w| w[1] - w[0] == interval));
        assert!(times[0] >= START_MS && times[0] < START_MS + interval);
    }
    assert_eq!(radio.advertisements_sent(), 30);
    // Per-address phases differ: the two devices do not broadcast on the same millisecond grid.
    let phase = |address: Address, interval: u64| {
        seen.iter().find(|(a, _)| *a == address).unwrap().1 % interval
    };
    assert_ne!(phase(addr(1), 500), phase(addr(2), 500));
}

#[test]
fn a_noop_delay_hands_out_the_coming_advertisements_at_once() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut a = Beacon::new(1, 4000);
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, NoopDelay);
    radio.add(&mut a).unwrap();
    block_on(radio.start_scan()).unwrap();
    let times: Vec<u64> = (0..5)
        .map(|_| sent_at(&block_on(radio.next_advertisement()).unwrap()))
        .collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 4000), "{times:?}");
    assert_eq!(CLOCK.now_ms(), START_MS);
}

#[test]
fn broadcasts_nobody_listened_to_are_missed() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut a = Beacon::new(1, 1000);
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut a).unwrap();
    block_on(radio.start_scan()).unwrap();
    let first = sent_at(&block_on(radio.next_advertisement()).unwrap());
    CLOCK.advance(60_000);
    let next = sent_at(&block_on(radio.next_advertisement()).unwrap());
    assert_eq!(next, first + 60_000);
}

#[test]
fn out_of_range_devices_are_never_heard_nor_read() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut near = Beacon::new(1, 3000);
    let mut far = Beacon {
        in_range: false,
        ..Beacon::new(2, 100)
    };
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut near).unwrap();
    radio.add(&mut far).unwrap();
    block_on(radio.start_scan()).unwrap();
    for _ in 0..10 {
        assert_eq!(
            block_on(radio.next_advertisement()).unwrap().address,
            addr(1)
        );
    }
    let mut buf = [0u8; 8];
    let read = |radio: &mut SimRadio<'_, _, 2>, a, buf: &mut [u8]| {
        block_on(radio.read_characteristic(a, Uuid::from_u16(0x1805), Uuid::from_u16(0x2A2B), buf))
    };
    assert_eq!(
        read(&mut radio, addr(2), &mut buf),
        Err(SimRadioError::NoSuchDevice(addr(2)))
    );
    assert_eq!(
        read(&mut radio, addr(9), &mut buf),
        Err(SimRadioError::NoSuchDevice(addr(9)))
    );
}

#[test]
fn gatt_reads_go_to_the_device_and_are_cut_to_the_buffer() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut a = Beacon::new(1, 1000);
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut a).unwrap();
    let service = Uuid::from_u16(0x1805);
    let mut buf = [0u8; 16];
    let n = block_on(radio.read_characteristic(addr(1), service, Uuid::from_u16(0x2A2B), &mut buf))
        .unwrap();
    assert_eq!(n, 8);
    assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), START_MS);

    radio.set_connect_delay_ms(1500);
    let mut short = [0u8; 3];
    let n =
        block_on(radio.read_characteristic(addr(1), service, Uuid::from_u16(0x2A2B), &mut short))
            .unwrap();
    assert_eq!(n, 3);
    assert_eq!(short, (START_MS + 1500).to_le_bytes()[..3]);
    assert_eq!(CLOCK.now_ms(), START_MS + 1500);

    let err =
        block_on(radio.read_characteristic(addr(1), service, Uuid::from_u16(0x2A00), &mut buf))
            .unwrap_err();
    assert!(matches!(err, SimRadioError::NoSuchCharacteristic { .. }));
    assert!(
        err.to_string()
            .contains("00002a00-0000-1000-8000-00805f9b34fb")
    );
    assert_eq!(radio.characteristic_reads(), 2);
}

#[test]
fn scanning_and_power_states() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut a = Beacon::new(1, 1000);
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut a).unwrap();
    assert_eq!(
        block_on(radio.next_advertisement()),
        Err(SimRadioError::NotScanning)
    );
    block_on(radio.start_scan()).unwrap();
    block_on(radio.start_scan()).unwrap();
    assert!(radio.is_scanning());
    assert!(block_on(radio.next_advertisement()).is_ok());
    block_on(radio.stop_scan()).unwrap();
    assert_eq!(
        block_on(radio.next_advertisement()),
        Err(SimRadioError::NotScanning)
    );

    block_on(radio.start_scan()).unwrap();
    radio.set_powered(false);
    assert!(!radio.is_powered());
    assert_eq!(
        block_on(radio.next_advertisement()),
        Err(SimRadioError::PoweredOff)
    );
    assert_eq!(block_on(radio.start_scan()), Err(SimRadioError::PoweredOff));
    let mut buf = [0u8; 8];
    assert_eq!(
        block_on(radio.read_characteristic(addr(1), Uuid(0), Uuid(0), &mut buf)),
        Err(SimRadioError::PoweredOff)
    );
    radio.set_powered(true);
    assert_eq!(
        block_on(radio.next_advertisement()),
        Err(SimRadioError::NotScanning)
    );
    assert!(
        SimRadioError::PoweredOff
            .to_string()
            .contains("powered off")
    );
}

#[test]
fn add_refuses_duplicates_and_overflow() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let (mut a, mut a2, mut b, mut c) = (
        Beacon::new(1, 1000),
        Beacon::new(1, 1000),
        Beacon::new(2, 1000),
        Beacon::new(3, 1000),
    );
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, NoopDelay);
    radio.add(&mut a).unwrap();
    assert_eq!(radio.add(&mut a2), Err(AddError::AddressInUse(addr(1))));
    radio.add(&mut b).unwrap();
    assert_eq!(radio.add(&mut c), Err(AddError::Full));
    assert!(std::format!("{radio:?}").contains("advertisers: 2"));
}

#[test]
fn garbage_cycles_through_its_kinds_and_never_sends_aranet_lengths() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);
    let mut g = GarbageAdvertiser::new(addr(7), 42);
    let interval = g.interval_ms();
    assert!((100..=700).contains(&interval));
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut g).unwrap();
    block_on(radio.start_scan()).unwrap();
    let ads: Vec<Advertisement> = (0..70)
        .map(|_| block_on(radio.next_advertisement()).unwrap())
        .collect();
    let apple = ads
        .iter()
        .filter(|a| a.manufacturer(APPLE_COMPANY_ID).is_some())
        .count();
    assert!(apple >= 20, "{apple}");
    let aranet: Vec<usize> = ads
        .iter()
        .filter_map(|a| a.manufacturer(ARANET_COMPANY_ID))
        .map(|m| m.data.len())
        .collect();
    assert!(aranet.len() >= 20);
    assert!(aranet.iter().all(|n| *n != 7 && *n != 22), "{aranet:?}");
    assert!(
        ads.iter()
            .any(|a| a.manufacturer_data.iter().any(|m| m.truncated))
    );
    assert!(ads.iter().any(|a| a.manufacturer_data.len() == 4));
    assert!(
        ads.iter()
            .any(|a| a.name.as_deref() == Some("Aranet4 00000") && a.manufacturer_data.is_empty())
    );
    assert!(
        ads.iter()
            .all(|a| a.rssi.is_some_and(|r| (-100..=-40).contains(&r)))
    );

    // Deterministic: the same seed says the same things.
    let mut again = GarbageAdvertiser::new(addr(7), 42);
    let first = again.advertise(0);
    assert_eq!(first.manufacturer_data, ads[0].manufacturer_data);
    assert_eq!(first.rssi, ads[0].rssi);
    assert_ne!(
        GarbageAdvertiser::new(addr(7), 43)
            .advertise(0)
            .manufacturer_data,
        first.manufacturer_data
    );
}

#[test]
fn the_idle_radio_waits_for_a_device_to_come_in_range() {
    static CLOCK: ManualClock = ManualClock::new(START_MS);

    /// Comes in range after a while (decided by the test's clock).
    struct Walker;
    impl SimAdvertiser for Walker {
        fn address(&self) -> Address {
            addr(5)
        }
        fn interval_ms(&self) -> u32 {
            1000
        }
        fn in_range(&self) -> bool {
            CLOCK.now_ms() >= START_MS + 10_000
        }
        fn advertise(&mut self, _unix_ms: u64) -> Advertisement {
            Advertisement::default()
        }
    }

    let mut w = Walker;
    let mut radio: SimRadio<'_, _, 2> = SimRadio::new(&CLOCK, ManualDelay(&CLOCK));
    radio.add(&mut w).unwrap();
    block_on(radio.start_scan()).unwrap();
    let ad = block_on(radio.next_advertisement()).unwrap();
    assert_eq!(ad.address, addr(5));
    assert!(CLOCK.now_ms() >= START_MS + 10_000);
    assert!(CLOCK.now_ms() < START_MS + 12_000);
}

#[test]
fn schedule_arithmetic() {
    assert_eq!(first_at_or_after(1000, 1000, 0), 1000);
    assert_eq!(first_at_or_after(1001, 1000, 0), 2000);
    assert_eq!(first_at_or_after(1001, 1000, 1), 1001);
    assert_eq!(first_at_or_after(1002, 1000, 1), 2001);
    assert_eq!(first_at_or_after(0, 7, 6), 6);
    assert_ne!(address_hash(addr(1)), address_hash(addr(2)));
}
