//! Bluetooth LE through BlueZ (`bluetoothd` over D-Bus), as the HAL's [`BleCentral`].
//!
//! Scanning is active LE discovery with duplicate data on: BlueZ then reports a device again each
//! time its advertisement changes, which is how an Aranet4's new readings arrive. GATT reads
//! connect, read the characteristic by UUID, and disconnect.
//!
//! In a container this needs the host's D-Bus system socket (`/run/dbus/system_bus_socket`) and a
//! running `bluetoothd`; each missing piece is a [`BluezError`] that says what to fix.

use std::fmt;
use std::pin::Pin;

use bluer::{Adapter, AdapterEvent, DiscoveryFilter, DiscoveryTransport, Session};
use futures_util::{Stream, StreamExt};
use sense_hal::ble::{Address, Advertisement, BleCentral, Uuid};

/// What went wrong with Bluetooth, phrased so a user knows what to fix.
#[derive(Debug)]
pub enum BluezError {
    /// D-Bus or `bluetoothd` cannot be reached.
    NoDaemon(String),
    /// There is no Bluetooth adapter.
    NoAdapter(String),
    /// The adapter is off and could not be switched on.
    PoweredOff(String),
    /// `next_advertisement` before `start_scan`, or the discovery stream ended.
    NotScanning,
    /// The device is not known to BlueZ (never heard, or out of range).
    NoSuchDevice(Address),
    /// The device has no such GATT characteristic.
    NoSuchCharacteristic(Address, Uuid),
    /// Anything else BlueZ reported.
    Bluez(String),
}

impl fmt::Display for BluezError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BluezError::NoDaemon(e) => write!(
                f,
                "cannot reach bluetoothd over D-Bus ({e}); is bluetoothd running, and in a container \
                 is /run/dbus/system_bus_socket mounted?"
            ),
            BluezError::NoAdapter(e) => write!(f, "no Bluetooth adapter found ({e})"),
            BluezError::PoweredOff(name) => write!(
                f,
                "Bluetooth adapter {name} is powered off and could not be switched on \
                 (try `bluetoothctl power on`, and `rfkill unblock bluetooth`)"
            ),
            BluezError::NotScanning => f.write_str("not scanning"),
            BluezError::NoSuchDevice(a) => write!(f, "{a} has not been heard (out of range?)"),
            BluezError::NoSuchCharacteristic(a, u) => {
                write!(f, "{a} has no GATT characteristic {u}")
            }
            BluezError::Bluez(e) => write!(f, "Bluetooth: {e}"),
        }
    }
}

impl std::error::Error for BluezError {}

fn bluez(e: bluer::Error) -> BluezError {
    BluezError::Bluez(e.to_string())
}

type Events = Pin<Box<dyn Stream<Item = AdapterEvent> + Send>>;

/// The default Bluetooth adapter as a BLE central.
pub struct BluezCentral {
    // Keeps the D-Bus connection alive for the adapter's lifetime.
    _session: Session,
    adapter: Adapter,
    events: Option<Events>,
}

impl fmt::Debug for BluezCentral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluezCentral")
            .field("adapter", &self.adapter.name())
            .finish_non_exhaustive()
    }
}

impl BluezCentral {
    /// Connects to `bluetoothd` and takes the default adapter, switching it on if it is off.
    pub async fn open() -> Result<Self, BluezError> {
        let session = Session::new()
            .await
            .map_err(|e| BluezError::NoDaemon(e.to_string()))?;
        let adapter = session
            .default_adapter()
            .await
            .map_err(|e| BluezError::NoAdapter(e.to_string()))?;
        if !adapter.is_powered().await.map_err(bluez)? {
            adapter
                .set_powered(true)
                .await
                .map_err(|_| BluezError::PoweredOff(adapter.name().to_owned()))?;
        }
        Ok(BluezCentral {
            _session: session,
            adapter,
            events: None,
        })
    }

    /// The adapter's name, e.g. `hci0`.
    pub fn adapter_name(&self) -> &str {
        self.adapter.name()
    }

    async fn advertisement(&self, address: bluer::Address) -> Result<Advertisement, BluezError> {
        let device = self.adapter.device(address).map_err(bluez)?;
        let mut ad = Advertisement {
            address: Address(address.0),
            ..Advertisement::default()
        };
        ad.rssi = device.rssi().await.map_err(bluez)?;
        if let Some(name) = device.name().await.map_err(bluez)? {
            ad.set_name(&name);
        }
        if let Some(data) = device.manufacturer_data().await.map_err(bluez)? {
            let mut entries: Vec<_> = data.into_iter().collect();
            entries.sort_by_key(|(id, _)| *id);
            for (company, payload) in entries {
                ad.push_manufacturer(company, &payload);
            }
        }
        Ok(ad)
    }
}

impl BleCentral for BluezCentral {
    type Error = BluezError;

    async fn start_scan(&mut self) -> Result<(), BluezError> {
        let filter = DiscoveryFilter {
            transport: DiscoveryTransport::Le,
            duplicate_data: true,
            ..DiscoveryFilter::default()
        };
        self.adapter
            .set_discovery_filter(filter)
            .await
            .map_err(bluez)?;
        let events = self
            .adapter
            .discover_devices_with_changes()
            .await
            .map_err(bluez)?;
        self.events = Some(Box::pin(events));
        Ok(())
    }

    async fn next_advertisement(&mut self) -> Result<Advertisement, BluezError> {
        loop {
            let events = self.events.as_mut().ok_or(BluezError::NotScanning)?;
            match events.next().await {
                Some(AdapterEvent::DeviceAdded(address)) => match self.advertisement(address).await
                {
                    Ok(ad) => return Ok(ad),
                    // The device went away between the event and the property reads: skip it.
                    Err(e) => tracing::debug!(%address, error = %e, "skipping a device"),
                },
                Some(_) => {}
                None => {
                    self.events = None;
                    return Err(BluezError::NotScanning);
                }
            }
        }
    }

    async fn stop_scan(&mut self) -> Result<(), BluezError> {
        // Discovery runs while its stream lives.
        self.events = None;
        Ok(())
    }

    async fn read_characteristic(
        &mut self,
        address: Address,
        service: Uuid,
        characteristic: Uuid,
        buf: &mut [u8],
    ) -> Result<usize, BluezError> {
        let device = self
            .adapter
            .device(bluer::Address(address.0))
            .map_err(|_| BluezError::NoSuchDevice(address))?;
        let was_connected = device.is_connected().await.map_err(bluez)?;
        if !was_connected {
            device.connect().await.map_err(bluez)?;
        }
        let result = async {
            let wanted_service = bluer::Uuid::from_u128(service.0);
            let wanted = bluer::Uuid::from_u128(characteristic.0);
            for s in device.services().await.map_err(bluez)? {
                if s.uuid().await.map_err(bluez)? != wanted_service {
                    continue;
                }
                for c in s.characteristics().await.map_err(bluez)? {
                    if c.uuid().await.map_err(bluez)? == wanted {
                        let value = c.read().await.map_err(bluez)?;
                        let n = value.len().min(buf.len());
                        buf[..n].copy_from_slice(&value[..n]);
                        return Ok(n);
                    }
                }
            }
            Err(BluezError::NoSuchCharacteristic(address, characteristic))
        }
        .await;
        if !was_connected {
            let _ = device.disconnect().await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_fix() {
        let e = BluezError::NoDaemon("org.freedesktop.DBus.Error.FileNotFound".into());
        assert!(e.to_string().contains("is bluetoothd running"), "{e}");
        let e = BluezError::PoweredOff("hci0".into());
        assert!(e.to_string().contains("bluetoothctl power on"), "{e}");
    }

    /// Without a D-Bus system bus (as on this build machine) opening fails with a clear error,
    /// never a panic or a hang.
    #[tokio::test]
    async fn no_bluetoothd_is_a_clear_error() {
        if std::path::Path::new("/run/dbus/system_bus_socket").exists() {
            return; // a machine with D-Bus: nothing to show here
        }
        let err = tokio::time::timeout(std::time::Duration::from_secs(10), BluezCentral::open())
            .await
            .expect("no hang")
            .unwrap_err();
        assert!(matches!(err, BluezError::NoDaemon(_)), "{err}");
    }
}
