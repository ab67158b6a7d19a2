//! Listening for Aranet4 monitors through any [`BleCentral`].

use std::collections::BTreeMap;
use std::time::Duration;

use sense_aranet4::{AdvertisedReading, DecodeError, MANUFACTURER_ID, Measurement, Version};
use sense_hal::ble::{Address, Advertisement, BleCentral, Uuid};

/// What was heard from one monitor.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// A reading from its advertisement.
    Reading(AdvertisedReading),
    /// It advertises with Smart Home integrations off: read it over GATT.
    IntegrationsOff {
        /// Its firmware, when the short advertisement carries it.
        version: Option<Version>,
    },
    /// Its manufacturer data did not decode.
    Undecodable(DecodeError),
}

impl Heard {
    /// Whether there is nothing more to wait for from this monitor.
    fn is_final(&self) -> bool {
        !matches!(self, Heard::Undecodable(_))
    }

    fn from_data(data: &[u8]) -> Heard {
        match sense_aranet4::decode_advertisement(data) {
            Ok(r) => Heard::Reading(r),
            Err(DecodeError::IntegrationsOff { version }) => Heard::IntegrationsOff { version },
            Err(e) => Heard::Undecodable(e),
        }
    }
}

/// Scans until every monitor in `wanted` has been heard, or `timeout` passes. Advertisements from
/// anything else, and malformed ones, are skipped: nothing stops the scan but the radio failing.
pub async fn listen<C: BleCentral>(
    central: &mut C,
    wanted: &[Address],
    timeout: Duration,
) -> Result<BTreeMap<Address, Heard>, C::Error> {
    let mut heard: BTreeMap<Address, Heard> = BTreeMap::new();
    let done = |heard: &BTreeMap<Address, Heard>| {
        wanted
            .iter()
            .all(|a| heard.get(a).is_some_and(Heard::is_final))
    };
    scan_until(central, timeout, |ad| {
        if !wanted.contains(&ad.address) {
            return false;
        }
        if let Some(m) = ad.manufacturer(MANUFACTURER_ID) {
            let new = Heard::from_data(&m.data);
            // A good reading is never replaced by a later garbled one.
            let keep_old = heard.get(&ad.address).is_some_and(Heard::is_final) && !new.is_final();
            if !keep_old {
                heard.insert(ad.address, new);
            }
        }
        done(&heard)
    })
    .await?;
    Ok(heard)
}

/// Scans for `timeout` and returns every Aranet device heard (by manufacturer id or name), with
/// its latest advertisement.
pub async fn listen_all<C: BleCentral>(
    central: &mut C,
    timeout: Duration,
) -> Result<BTreeMap<Address, (Advertisement, Heard)>, C::Error> {
    let mut seen = BTreeMap::new();
    scan_until(central, timeout, |ad| {
        let heard = match ad.manufacturer(MANUFACTURER_ID) {
            Some(m) => Heard::from_data(&m.data),
            None if ad
                .name
                .as_deref()
                .is_some_and(sense_aranet4::is_aranet4_name) =>
            {
                Heard::IntegrationsOff { version: None }
            }
            None => return false,
        };
        seen.insert(ad.address, (ad.clone(), heard));
        false
    })
    .await?;
    Ok(seen)
}

/// Runs a scan, handing each advertisement to `on_advertisement` until it returns true or
/// `timeout` passes; always stops the scan.
async fn scan_until<C: BleCentral>(
    central: &mut C,
    timeout: Duration,
    mut on_advertisement: impl FnMut(&Advertisement) -> bool,
) -> Result<(), C::Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    central.start_scan().await?;
    let result = loop {
        match tokio::time::timeout_at(deadline, central.next_advertisement()).await {
            Err(_elapsed) => break Ok(()),
            Ok(Err(e)) => break Err(e),
            Ok(Ok(ad)) => {
                if on_advertisement(&ad) {
                    break Ok(());
                }
            }
        }
    };
    // A failure to stop is not worth failing the poll for: the next scan starts afresh.
    let _ = central.stop_scan().await;
    result
}

/// Why a GATT read gave no measurement.
#[derive(Debug)]
pub enum GattError<E> {
    /// The radio or the connection failed.
    Radio(E),
    /// The value did not decode.
    Decode(DecodeError),
}

impl<E: std::fmt::Display> std::fmt::Display for GattError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GattError::Radio(e) => write!(
                f,
                "Smart Home integrations are off and reading it over GATT failed ({e}); turn \
                 integrations on in the Aranet Home app, or pair the monitor with this Pi"
            ),
            GattError::Decode(e) => write!(f, "GATT reading did not decode: {e}"),
        }
    }
}

/// Reads the current measurement over GATT (`f0cd3001`, falling back to `f0cd1503`).
pub async fn read_over_gatt<C: BleCentral>(
    central: &mut C,
    address: Address,
) -> Result<Measurement, GattError<C::Error>> {
    use sense_aranet4::uuid;
    let mut buf = [0u8; 32];
    let mut last_error = None;
    for service in [Uuid(uuid::SERVICE), Uuid(uuid::SERVICE_OLD)] {
        match central
            .read_characteristic(
                address,
                service,
                Uuid(uuid::CURRENT_READINGS_DETAILED),
                &mut buf,
            )
            .await
        {
            Ok(n) => return sense_aranet4::decode_detailed(&buf[..n]).map_err(GattError::Decode),
            Err(e) => last_error = Some(e),
        }
        if let Ok(n) = central
            .read_characteristic(address, service, Uuid(uuid::CURRENT_READINGS), &mut buf)
            .await
        {
            return sense_aranet4::decode_current(&buf[..n]).map_err(GattError::Decode);
        }
    }
    Err(GattError::Radio(last_error.expect("two services tried")))
}
