//! A simulated Aranet4 for the simulated Bluetooth LE radio ([`crate::ble`]), speaking the formats of
//! the `sense-aranet4` crate.
//!
//! [`SimAranet4`] implements [`SimAdvertiser`]: put it on a [`crate::ble::SimRadio`] and a
//! client sees what it would see from a real device:
//!
//! - **Advertisements** every 1000–4000 ms (fixed per device, picked from the seed), named as
//!   given (`Aranet4 12345`), with an RSSI between −60 and −85 dBm (per device, ±3 dBm of jitter)
//!   and the 22-byte manufacturer data of [`MANUFACTURER_ID`], or the 7-byte form after
//!   [`integrations_off`](SimAranet4::integrations_off).
//! - **GATT reads** of [`CURRENT_READINGS_DETAILED`](uuid::CURRENT_READINGS_DETAILED),
//!   [`CURRENT_READINGS`](uuid::CURRENT_READINGS), [`INTERVAL`](uuid::INTERVAL) and
//!   [`SECONDS_SINCE_UPDATE`](uuid::SECONDS_SINCE_UPDATE) in the Aranet4 service (either
//!   [`SERVICE`](uuid::SERVICE) or [`SERVICE_OLD`](uuid::SERVICE_OLD)), the battery level
//!   (`0x180F`/`0x2A19`) and the device name (`0x1800`/`0x2A00`). They work with integrations on
//!   or off. Pairing is not simulated.
//!
//! # The model
//!
//! Everything is a pure function of the time asked about and the seed, so every process sees the
//! same device.
//!
//! - The device measures every 60 s, on the minute of Unix time: `age_s` is the seconds since the
//!   last minute boundary and every value is the one measured at that boundary.
//! - **CO₂** follows a working day: about 440 ppm at night and on the weekend's mornings; from
//!   08:00 to 18:00 (UTC, shifted by −2 to +2 hours per device) it rises along a half-sine to a
//!   peak of 750–1050 ppm above that (per device) in the early afternoon, with a 47-minute
//!   ventilation wave of up to ±180 ppm on top, and ±15 ppm of per-minute noise. Saturdays and
//!   Sundays see a quarter of the occupancy. So on a working day every device crosses 1000 ppm
//!   (yellow) and most cross 1400 ppm (red). Values stay within 400–1600 ppm.
//! - **Temperature, humidity and pressure** are the [`Environment`] at the measurement time,
//!   rounded to the device's resolution (0.05 °C, 1 %, 0.1 hPa).
//! - **Status** is the colour for the CO₂ with Aranet's default thresholds
//!   ([`StatusColour::from_co2_ppm`]).
//! - **Battery** is fixed per device (35–98 %); **firmware** is v1.4.4, v1.4.14 or v1.4.19.
//! - The **counter** is the number of advertising intervals since the Unix epoch, so it moves on
//!   by one with each advertisement.
//! - [`calibrating`](SimAranet4::calibrating) models a CO₂ calibration: flags say
//!   "in progress", CO₂ is invalid (`None`) and the status is [`StatusColour::Error`].

use core::f64::consts::{PI, TAU};

use sense_aranet4::{
    AdvertisedReading, CalibrationState, Flags, MANUFACTURER_ID, Measurement, StatusColour,
    Version, encode_advertisement, encode_advertisement_off, encode_current, encode_detailed, uuid,
};
use sense_hal::ble::{Address, Advertisement, Uuid};

use crate::ble::SimAdvertiser;
use crate::environment::Environment;

/// Seconds between measurements.
pub const MEASUREMENT_INTERVAL_S: u16 = 60;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Period of the ventilation wave.
const WAVE_MS: u64 = 47 * MINUTE_MS;
const CO2_BASE_PPM: f64 = 440.0;
const CO2_WAVE_PPM: f64 = 180.0;
const CO2_MIN_PPM: f64 = 400.0;
const CO2_MAX_PPM: f64 = 1600.0;

/// Battery service, battery level characteristic, GAP service, device name characteristic.
const BATTERY_SERVICE: Uuid = Uuid::from_u16(0x180F);
const BATTERY_LEVEL: Uuid = Uuid::from_u16(0x2A19);
const GAP_SERVICE: Uuid = Uuid::from_u16(0x1800);
const DEVICE_NAME: Uuid = Uuid::from_u16(0x2A00);

/// A 32-bit mix (the `lowbias32` hash): per-device and per-minute numbers from a seed.
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// `mix(seed ^ salt) % n`, as the type the caller needs.
fn pick(seed: u32, salt: u32, n: u32) -> u32 {
    mix(seed ^ mix(salt)) % n
}

/// A simulated Aranet4 (see the [module documentation](self)).
#[derive(Clone, Debug)]
pub struct SimAranet4 {
    /// Address, name and base RSSI; the manufacturer data is added per advertisement.
    template: Advertisement,
    seed: u32,
    interval_ms: u32,
    rssi_dbm: i16,
    version: Version,
    battery_percent: u8,
    integrations: bool,
    calibrating: bool,
    in_range: bool,
    environment: Environment,
    /// Peak occupancy CO₂ above the base, ppm.
    co2_amplitude: f64,
    /// Added to Unix time to get the device's working-day clock.
    day_shift_ms: u64,
    /// Added to Unix time for the ventilation wave.
    wave_shift_ms: u64,
}

impl SimAranet4 {
    /// An Aranet4 at `address` called `name` with integrations on, in range, in the default
    /// [`Environment`]. The seed picks its advertising interval, RSSI, battery, firmware and the
    /// shape of its CO₂ day. An empty `name` becomes `Aranet4 NNNNN` with five digits from the
    /// seed; names are cut to [`sense_hal::ble::NAME_CAPACITY`] bytes.
    pub fn new(address: Address, name: &str, seed: u32) -> Self {
        let mut template = Advertisement {
            address,
            ..Advertisement::default()
        };
        if name.is_empty() {
            let mut buf = *b"Aranet4 00000";
            let mut serial = pick(seed, 1, 100_000);
            for digit in buf[8..].iter_mut().rev() {
                // `serial % 10` is a digit: the cast cannot truncate.
                *digit = b'0' + (serial % 10) as u8;
                serial /= 10;
            }
            template.set_name(core::str::from_utf8(&buf).unwrap_or("Aranet4"));
        } else {
            template.set_name(name);
        }
        let rssi_dbm = -60 - i16::try_from(pick(seed, 2, 26)).unwrap_or(0);
        let patch = [4, 14, 19][pick(seed, 3, 3) as usize];
        SimAranet4 {
            template,
            seed,
            interval_ms: 1000 + pick(seed, 4, 3001),
            rssi_dbm,
            version: Version::new(1, 4, patch),
            battery_percent: 35 + u8::try_from(pick(seed, 5, 64)).unwrap_or(0),
            integrations: true,
            calibrating: false,
            in_range: true,
            environment: Environment::new(),
            co2_amplitude: 750.0 + f64::from(pick(seed, 6, 301)),
            day_shift_ms: u64::from(pick(seed, 7, 5)) * HOUR_MS,
            wave_shift_ms: u64::from(pick(seed, 8, 47)) * MINUTE_MS,
        }
    }

    /// The same device with Smart Home integrations off: it advertises the 7-byte form, with no
    /// readings. GATT reads still work.
    pub fn integrations_off(mut self) -> Self {
        self.integrations = false;
        self
    }

    /// The same device out of the radio's range: never heard, not readable.
    pub fn out_of_range(mut self) -> Self {
        self.in_range = false;
        self
    }

    /// The same device in another room.
    pub fn with_environment(mut self, env: Environment) -> Self {
        self.environment = env;
        self
    }

    /// The same device calibrating its CO₂ sensor: CO₂ reads invalid, the status is
    /// [`StatusColour::Error`] and the flags say [`CalibrationState::InProgress`].
    pub fn calibrating(mut self) -> Self {
        self.calibrating = true;
        self
    }

    /// The same device advertising every `ms` milliseconds instead.
    pub fn with_interval_ms(mut self, ms: u32) -> Self {
        self.interval_ms = ms;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.template.name.as_deref().unwrap_or("")
    }

    /// Its firmware version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The seed it was made with.
    pub fn seed(&self) -> u32 {
        self.seed
    }

    /// The CO₂ the model gives at `unix_ms` (before the device's once-a-minute sampling).
    pub fn co2_model_ppm(&self, unix_ms: u64) -> u16 {
        let local = (unix_ms + self.day_shift_ms).saturating_sub(2 * HOUR_MS);
        let hour = (local % DAY_MS) as f64 / HOUR_MS as f64;
        // 1970-01-01 was a Thursday: day 0 has weekday 3 (Monday = 0).
        let weekday = (local / DAY_MS + 3) % 7;
        let mut occupancy = if (8.0..18.0).contains(&hour) {
            libm::sin(PI * (hour - 8.0) / 10.0)
        } else {
            0.0
        };
        if weekday >= 5 {
            occupancy *= 0.25;
        }
        let wave_phase = ((unix_ms + self.wave_shift_ms) % WAVE_MS) as f64 / WAVE_MS as f64;
        let wave = libm::cos(TAU * wave_phase);
        let minute = u32::try_from((unix_ms / MINUTE_MS) & 0xFFFF_FFFF).unwrap_or(0);
        let noise = f64::from(pick(self.seed, minute, 31)) - 15.0;
        let ppm =
            CO2_BASE_PPM + self.co2_amplitude * occupancy + CO2_WAVE_PPM * occupancy * wave + noise;
        // Clamped to 400..=1600: the cast cannot truncate.
        libm::round(ppm.clamp(CO2_MIN_PPM, CO2_MAX_PPM)) as u16
    }

    /// The measurement the device reports at `unix_ms` (the detailed form: interval and age are
    /// `Some`).
    pub fn measurement_at(&self, unix_ms: u64) -> Measurement {
        let measured_at = unix_ms - unix_ms % MINUTE_MS;
        let age_ms = unix_ms - measured_at;
        let room = self.environment.at(measured_at);
        let co2 = (!self.calibrating).then(|| self.co2_model_ppm(measured_at));
        // Clamped to the valid raw range: the casts cannot truncate.
        let temperature = libm::roundf(room.temperature_c * 20.0).clamp(0.0, 16_383.0) as u16;
        let pressure = libm::roundf(room.pressure_hpa * 10.0).clamp(0.0, 32_767.0) as u16;
        let humidity = libm::roundf(room.humidity_percent).clamp(0.0, 100.0) as u8;
        Measurement {
            co2_ppm: co2,
            temperature_raw: Some(temperature),
            pressure_raw: Some(pressure),
            humidity_percent: humidity,
            battery_percent: self.battery_percent,
            status: co2.map_or(StatusColour::Error, StatusColour::from_co2_ppm),
            interval_s: Some(MEASUREMENT_INTERVAL_S),
            // Below 60 000 ms: the cast cannot truncate.
            age_s: Some((age_ms / 1000) as u16),
        }
    }

    /// The flags byte it advertises.
    pub fn flags(&self) -> Flags {
        Flags {
            disconnected: true,
            calibration: if self.calibrating {
                CalibrationState::InProgress
            } else {
                CalibrationState::NotActive
            },
            dfu_active: false,
            integrations: self.integrations,
        }
    }

    /// What its advertisement at `unix_ms` decodes to when integrations are on.
    pub fn reading_at(&self, unix_ms: u64) -> AdvertisedReading {
        let interval = u64::from(self.interval_ms.max(1));
        AdvertisedReading {
            flags: self.flags(),
            version: self.version,
            measurement: self.measurement_at(unix_ms),
            // Wraps by design.
            counter: (unix_ms / interval) as u8,
        }
    }
}

/// Copies `value` into the start of `buf`, returning the value's full length.
fn answer(buf: &mut [u8], value: &[u8]) -> usize {
    let n = buf.len().min(value.len());
    buf[..n].copy_from_slice(&value[..n]);
    value.len()
}

impl SimAdvertiser for SimAranet4 {
    fn address(&self) -> Address {
        self.template.address
    }

    fn interval_ms(&self) -> u32 {
        self.interval_ms
    }

    fn in_range(&self) -> bool {
        self.in_range
    }

    fn advertise(&mut self, unix_ms: u64) -> Advertisement {
        let mut ad = self.template.clone();
        let reading = self.reading_at(unix_ms);
        let jitter = i16::try_from(pick(self.seed, u32::from(reading.counter), 7)).unwrap_or(3) - 3;
        ad.rssi = Some(self.rssi_dbm + jitter);
        if self.integrations {
            ad.push_manufacturer(MANUFACTURER_ID, &encode_advertisement(&reading));
        } else {
            ad.push_manufacturer(
                MANUFACTURER_ID,
                &encode_advertisement_off(reading.flags, self.version),
            );
        }
        ad
    }

    fn read_characteristic(
        &mut self,
        service: Uuid,
        characteristic: Uuid,
        unix_ms: u64,
        buf: &mut [u8],
    ) -> Option<usize> {
        let m = self.measurement_at(unix_ms);
        if service == Uuid(uuid::SERVICE) || service == Uuid(uuid::SERVICE_OLD) {
            match characteristic {
                c if c == Uuid(uuid::CURRENT_READINGS_DETAILED) => {
                    Some(answer(buf, &encode_detailed(&m)))
                }
                c if c == Uuid(uuid::CURRENT_READINGS) => Some(answer(buf, &encode_current(&m))),
                c if c == Uuid(uuid::INTERVAL) => {
                    Some(answer(buf, &MEASUREMENT_INTERVAL_S.to_le_bytes()))
                }
                c if c == Uuid(uuid::SECONDS_SINCE_UPDATE) => {
                    Some(answer(buf, &m.age_s.unwrap_or(0).to_le_bytes()))
                }
                _ => None,
            }
        } else if service == BATTERY_SERVICE && characteristic == BATTERY_LEVEL {
            Some(answer(buf, &[m.battery_percent]))
        } else if service == GAP_SERVICE && characteristic == DEVICE_NAME {
            Some(answer(buf, self.name().as_bytes()))
        } else {
            None
        }
    }
}
