//! The radio the `co2` source listens with: BlueZ on a Pi, or the simulated radio with a few
//! Aranet4s and other vendors' gadgets.

use sense_bus::config::Aranet4Sensor;
use sense_hal::ble::{Address, Advertisement, BleCentral, Uuid};
use sense_linux::{BluezCentral, TokioDelay};
use sense_sim::aranet4::SimAranet4;
use sense_sim::ble::{GarbageAdvertiser, SimRadio};

use crate::sim::WALL_CLOCK;

/// A radio, wherever it came from.
#[derive(Debug)]
pub enum Radio {
    /// The simulated radio (boxed: it holds its advertisers inline).
    Sim(Box<SimRadio<'static, TokioDelay>>),
    /// BlueZ.
    Bluez(BluezCentral),
    /// No radio: every operation fails with this reason (no bluetoothd, no adapter), so the poll
    /// writes an error status saying so.
    Unavailable(String),
}

impl BleCentral for Radio {
    type Error = String;

    async fn start_scan(&mut self) -> Result<(), String> {
        match self {
            Radio::Sim(r) => r.start_scan().await.map_err(|e| e.to_string()),
            Radio::Bluez(r) => r.start_scan().await.map_err(|e| e.to_string()),
            Radio::Unavailable(why) => Err(why.clone()),
        }
    }

    async fn next_advertisement(&mut self) -> Result<Advertisement, String> {
        match self {
            Radio::Sim(r) => r.next_advertisement().await.map_err(|e| e.to_string()),
            Radio::Bluez(r) => r.next_advertisement().await.map_err(|e| e.to_string()),
            Radio::Unavailable(why) => Err(why.clone()),
        }
    }

    async fn stop_scan(&mut self) -> Result<(), String> {
        match self {
            Radio::Sim(r) => r.stop_scan().await.map_err(|e| e.to_string()),
            Radio::Bluez(r) => r.stop_scan().await.map_err(|e| e.to_string()),
            Radio::Unavailable(_) => Ok(()),
        }
    }

    async fn read_characteristic(
        &mut self,
        address: Address,
        service: Uuid,
        characteristic: Uuid,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        match self {
            Radio::Sim(r) => r
                .read_characteristic(address, service, characteristic, buf)
                .await
                .map_err(|e| e.to_string()),
            Radio::Bluez(r) => r
                .read_characteristic(address, service, characteristic, buf)
                .await
                .map_err(|e| e.to_string()),
            Radio::Unavailable(why) => Err(why.clone()),
        }
    }
}

/// The simulated monitors: `office` advertises with integrations on, `bedroom` with them off (so it
/// is read over GATT), `garage` is out of range (so the status names it); plus a neighbour's
/// gadgets sending other vendors' and malformed data.
const SIMULATED: [(&str, [u8; 6], &str, u32); 3] = [
    (
        "office",
        [0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x01],
        "Aranet4 1A2B1",
        1,
    ),
    (
        "bedroom",
        [0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x02],
        "Aranet4 1A2B2",
        2,
    ),
    (
        "garage",
        [0xD4, 0x7B, 0x0C, 0x4A, 0x11, 0x03],
        "Aranet4 1A2B3",
        3,
    ),
];

/// The monitors of the simulated radio (what the dashboard is told `--sim` reads).
pub fn simulated_monitors() -> Vec<Aranet4Sensor> {
    SIMULATED
        .iter()
        .map(|(label, mac, _, _)| Aranet4Sensor {
            label: (*label).to_owned(),
            mac: Address(*mac).to_string(),
            enabled: true,
        })
        .collect()
}

/// The simulated radio and the sensors to configure when the user configured none.
pub fn simulated() -> (Radio, Vec<Aranet4Sensor>) {
    let mut radio = SimRadio::new(&WALL_CLOCK, TokioDelay);
    let mut sensors = Vec::new();
    for (label, mac, name, seed) in SIMULATED {
        let address = Address(mac);
        let device = SimAranet4::new(address, name, seed);
        let device = match label {
            "bedroom" => device.integrations_off(),
            "garage" => device.out_of_range(),
            _ => device,
        };
        // The radio holds its advertisers for the life of the process.
        let _ = radio.add(Box::leak(Box::new(device)));
        sensors.push(Aranet4Sensor {
            label: label.to_owned(),
            mac: address.to_string(),
            enabled: true,
        });
    }
    for seed in [7, 8] {
        let address = Address([0x5A, 0x11, 0x22, 0x33, 0x44, seed]);
        let _ = radio.add(Box::leak(Box::new(GarbageAdvertiser::new(
            address,
            u32::from(seed),
        ))));
    }
    (Radio::Sim(Box::new(radio)), sensors)
}

/// The real radio, or [`Radio::Unavailable`] saying why there is none.
pub async fn bluez() -> Radio {
    match BluezCentral::open().await {
        Ok(central) => {
            tracing::info!(
                adapter = central.adapter_name(),
                "Bluetooth LE through BlueZ"
            );
            Radio::Bluez(central)
        }
        Err(e) => Radio::Unavailable(e.to_string()),
    }
}
