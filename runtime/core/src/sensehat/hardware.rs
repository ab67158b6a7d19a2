//! Finding the Sense HAT: the simulation, the chips on `/dev/i2c-1`, or the kernel's drivers.
//!
//! On a Pi each part is probed on the I2C bus first. When the kernel owns an address (`EBUSY`), the
//! part is used through the kernel's interface instead (framebuffer, evdev, IIO), and the choice is
//! logged. A part found nowhere is left out: its readings are null with an error naming it, and
//! the matrix reports `available: false`.

use std::path::{Path, PathBuf};

use crate::sim::WALL_CLOCK;
use embedded_hal_async::i2c::I2c as _;
use sense_hal::led::{Frame, Joystick, JoystickEvent, LedMatrix, Rotation};
use sense_ledmatrix::asynch::{PolledStick, SenseHatMatrix};
use sense_linux::sensehat_kernel::{EvdevJoystick, IioSensor, SenseFramebuffer};
use sense_linux::{LinuxI2c, LinuxI2cError, TokioDelay};
use sense_sim::i2c::SimBus;
use sense_source_sensehat::{Barometer, Hts221Hygrometer, Humidity, Hygrometer, Lps25hBarometer};

/// The simulated I2C bus: room for the three Sense HAT chips.
pub type SimI2c = &'static SimBus<'static, 4>;

/// How often the joystick register is polled when it is read over I2C.
const STICK_POLL_MS: u32 = 50;

/// The temperature and humidity sensor, wherever it was found.
#[derive(Debug)]
pub enum HygrometerHw {
    /// The simulated HTS221.
    Sim(Hts221Hygrometer<SimI2c, TokioDelay>),
    /// The HTS221 on `/dev/i2c-N`.
    I2c(Hts221Hygrometer<LinuxI2c, TokioDelay>),
    /// The kernel's HTS221 IIO device.
    Iio(IioSensor),
}

impl Hygrometer for HygrometerHw {
    type Error = String;
    async fn measure(&mut self) -> Result<Humidity, String> {
        match self {
            HygrometerHw::Sim(h) => h.measure().await.map_err(|e| e.to_string()),
            HygrometerHw::I2c(h) => h.measure().await.map_err(|e| e.to_string()),
            HygrometerHw::Iio(s) => {
                let read = || -> std::io::Result<Humidity> {
                    Ok(Humidity {
                        temperature_c: s.temperature_c()?,
                        humidity_percent: s.humidity_percent()?,
                    })
                };
                read().map_err(|e| format!("HTS221 (IIO {}): {e}", s.path().display()))
            }
        }
    }
}

/// The pressure sensor, wherever it was found.
#[derive(Debug)]
pub enum BarometerHw {
    /// The simulated LPS25H.
    Sim(Lps25hBarometer<SimI2c, TokioDelay>),
    /// The LPS25H on `/dev/i2c-N`.
    I2c(Lps25hBarometer<LinuxI2c, TokioDelay>),
    /// The kernel's LPS25H IIO device.
    Iio(IioSensor),
}

impl Barometer for BarometerHw {
    type Error = String;
    async fn measure(&mut self) -> Result<f64, String> {
        match self {
            BarometerHw::Sim(b) => b.measure().await.map_err(|e| e.to_string()),
            BarometerHw::I2c(b) => b.measure().await.map_err(|e| e.to_string()),
            BarometerHw::Iio(s) => s
                .pressure_hpa()
                .map_err(|e| format!("LPS25H (IIO {}): {e}", s.path().display())),
        }
    }
}

/// The LED matrix, wherever it was found.
#[derive(Debug)]
pub enum MatrixHw {
    /// The simulated ATtiny88.
    Sim(SenseHatMatrix<SimI2c>),
    /// The ATtiny88 on `/dev/i2c-N`.
    I2c(SenseHatMatrix<LinuxI2c>),
    /// The kernel's "RPi-Sense FB" framebuffer.
    Framebuffer(SenseFramebuffer),
}

impl MatrixHw {
    /// Chooses the low-light gamma table (or the default).
    pub fn set_low_light(&mut self, on: bool) -> Result<(), String> {
        match self {
            MatrixHw::Sim(m) => m.set_low_light(on),
            MatrixHw::I2c(m) => m.set_low_light(on),
            MatrixHw::Framebuffer(fb) => return fb.set_low_light(on).map_err(|e| e.to_string()),
        }
        Ok(())
    }
}

impl LedMatrix for MatrixHw {
    type Error = String;
    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> Result<(), String> {
        match self {
            MatrixHw::Sim(m) => m.show(frame, rotation).await.map_err(|e| e.to_string()),
            MatrixHw::I2c(m) => m.show(frame, rotation).await.map_err(|e| e.to_string()),
            MatrixHw::Framebuffer(fb) => fb
                .show(frame, rotation)
                .await
                .map_err(|e| format!("{}: {e}", fb.path().display())),
        }
    }
}

/// The joystick, wherever it was found.
#[derive(Debug)]
pub enum StickHw {
    /// The simulated ATtiny88's key register.
    Sim(PolledStick<SimI2c, TokioDelay>),
    /// The ATtiny88's key register on `/dev/i2c-N`.
    I2c(PolledStick<LinuxI2c, TokioDelay>),
    /// The kernel's evdev joystick.
    Evdev(EvdevJoystick),
}

impl Joystick for StickHw {
    type Error = String;
    async fn next_event(&mut self) -> Result<JoystickEvent, String> {
        match self {
            StickHw::Sim(s) => s.next_event().await.map_err(|e| e.to_string()),
            StickHw::I2c(s) => s.next_event().await.map_err(|e| e.to_string()),
            StickHw::Evdev(s) => s.next_event().await.map_err(|e| e.to_string()),
        }
    }
}

/// The Sense HAT's parts as found.
#[derive(Debug)]
pub struct SenseHat {
    /// Temperature and humidity.
    pub hygrometer: Option<HygrometerHw>,
    /// Pressure.
    pub barometer: Option<BarometerHw>,
    /// The LED matrix.
    pub matrix: Option<MatrixHw>,
    /// The joystick.
    pub stick: Option<StickHw>,
    /// The simulated bus, for tests that inject faults; `None` on real hardware.
    pub sim_bus: Option<SimI2c>,
    /// What was chosen and why, one line per part.
    pub notes: Vec<String>,
}

impl SenseHat {
    /// A simulated Sense HAT on the wall clock: the three chips on a simulated I2C bus.
    ///
    /// The bus and chips live for the rest of the process (the drivers borrow them `'static`).
    pub fn simulated() -> SenseHat {
        let bus: SimI2c = Box::leak(Box::new(SimBus::new()));
        // The simulated HAT sits on the simulated Pi: its HTS221 is warmed by the same CPU whose
        // temperature the simulated `system` source reports, as much as compensation factor 2 undoes.
        let heat = sense_sim::hts221::BoardHeat {
            #[allow(clippy::cast_possible_truncation)]
            cpu_temp_c: |ms| sense_sim::host::SimHost::new(ms).cpu_temp_c() as f32,
            factor: 2.0,
        };
        let hts = Box::leak(Box::new(
            sense_sim::hts221::Hts221Sim::new(&WALL_CLOCK).with_board_heat(heat),
        ));
        let lps = Box::leak(Box::new(sense_sim::lps25h::Lps25hSim::new(&WALL_CLOCK)));
        let attiny = Box::leak(Box::new(sense_sim::attiny88::Attiny88Sim::new()));
        // Fresh bus, distinct addresses: attaching cannot fail.
        let _ = bus.attach(sense_sim::hts221::ADDRESS, hts);
        let _ = bus.attach(sense_sim::lps25h::ADDRESS, lps);
        let _ = bus.attach(sense_sim::attiny88::ADDRESS, attiny);
        SenseHat {
            hygrometer: Some(HygrometerHw::Sim(Hts221Hygrometer::new(bus, TokioDelay))),
            barometer: Some(BarometerHw::Sim(Lps25hBarometer::new(bus, TokioDelay))),
            matrix: Some(MatrixHw::Sim(SenseHatMatrix::new(bus))),
            stick: Some(StickHw::Sim(PolledStick::new(
                bus,
                TokioDelay,
                STICK_POLL_MS,
            ))),
            sim_bus: Some(bus),
            notes: vec![
                "simulated Sense HAT (HTS221, LPS25H, ATtiny88 on a simulated I2C bus)".into(),
            ],
        }
    }

    /// The real Sense HAT: the chips on `i2c_bus`, or the kernel's drivers for those it owns.
    pub async fn detect(i2c_bus: &Path, sys_root: &Path, dev_root: &Path) -> SenseHat {
        let mut notes = Vec::new();
        let probe = |address: u8, register: u8| probe(i2c_bus, address, register);

        let hygrometer = match probe(sense_hts221::ADDRESS, 0x0F).await {
            Probe::Answered(i2c) => {
                notes.push(format!("HTS221 on {} at 0x5f", i2c_bus.display()));
                Some(HygrometerHw::I2c(Hts221Hygrometer::new(i2c, TokioDelay)))
            }
            other => kernel_sensor(&mut notes, other, "HTS221", sys_root, "hts221")
                .map(HygrometerHw::Iio),
        };
        let barometer = match probe(sense_lps25h::ADDRESS, 0x0F).await {
            Probe::Answered(i2c) => {
                notes.push(format!("LPS25H on {} at 0x5c", i2c_bus.display()));
                Some(BarometerHw::I2c(Lps25hBarometer::new(i2c, TokioDelay)))
            }
            other => {
                kernel_sensor(&mut notes, other, "LPS25H", sys_root, "lps25h").map(BarometerHw::Iio)
            }
        };
        let (matrix, stick) = match probe(sense_ledmatrix::ADDRESS, 0xF0).await {
            Probe::Answered(i2c) => {
                notes.push(format!(
                    "LED matrix and joystick on {} at 0x46",
                    i2c_bus.display()
                ));
                let stick = LinuxI2c::open(i2c_bus)
                    .ok()
                    .map(|i2c| StickHw::I2c(PolledStick::new(i2c, TokioDelay, STICK_POLL_MS)));
                (Some(MatrixHw::I2c(SenseHatMatrix::new(i2c))), stick)
            }
            other => {
                notes.push(format!("LED matrix at 0x46: {}", other.describe()));
                let fb = SenseFramebuffer::find(sys_root, dev_root);
                let matrix = match fb {
                    Ok(Some(fb)) => {
                        notes.push(format!(
                            "LED matrix through the kernel framebuffer {}",
                            fb.path().display()
                        ));
                        Some(MatrixHw::Framebuffer(fb))
                    }
                    Ok(None) => {
                        notes.push("no \"RPi-Sense FB\" framebuffer either: no LED matrix".into());
                        None
                    }
                    Err(e) => {
                        notes.push(format!("cannot open the Sense HAT framebuffer: {e}"));
                        None
                    }
                };
                let stick = match EvdevJoystick::find(sys_root, dev_root).await {
                    Ok(Some(s)) => {
                        notes.push(format!("joystick through evdev {}", s.path().display()));
                        Some(StickHw::Evdev(s))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        notes.push(format!("cannot open the Sense HAT joystick: {e}"));
                        None
                    }
                };
                (matrix, stick)
            }
        };
        SenseHat {
            hygrometer,
            barometer,
            matrix,
            stick,
            sim_bus: None,
            notes,
        }
    }
}

/// What probing an address found.
enum Probe {
    Answered(LinuxI2c),
    Busy(LinuxI2cError),
    Failed(LinuxI2cError),
}

impl Probe {
    fn describe(&self) -> String {
        match self {
            Probe::Answered(_) => "answered".into(),
            Probe::Busy(e) | Probe::Failed(e) => e.to_string(),
        }
    }
}

/// Opens the bus and reads one register of `address`.
async fn probe(bus: &Path, address: u8, register: u8) -> Probe {
    let mut i2c = match LinuxI2c::open(bus) {
        Ok(i2c) => i2c,
        Err(e) => return Probe::Failed(e),
    };
    let mut byte = [0u8];
    match i2c.write_read(address, &[register], &mut byte).await {
        Ok(()) => Probe::Answered(i2c),
        Err(e) if e.is_busy() => Probe::Busy(e),
        Err(e) => Probe::Failed(e),
    }
}

/// Falls back to the kernel's IIO device for a sensor the bus did not give us.
fn kernel_sensor(
    notes: &mut Vec<String>,
    probe: Probe,
    chip: &str,
    sys_root: &Path,
    iio_name: &str,
) -> Option<IioSensor> {
    notes.push(format!("{chip}: {}", probe.describe()));
    match IioSensor::find(sys_root, iio_name) {
        Ok(Some(s)) => {
            notes.push(format!(
                "{chip} through the kernel's IIO device {}",
                s.path().display()
            ));
            Some(s)
        }
        _ => {
            notes.push(format!("no IIO device named {iio_name} either: no {chip}"));
            None
        }
    }
}

/// Where the Sense HAT is looked for.
#[derive(Clone, Debug)]
pub struct Locations {
    /// The I2C bus device.
    pub i2c_bus: PathBuf,
    /// Where `/sys` is.
    pub sys_root: PathBuf,
    /// Where `/dev` is.
    pub dev_root: PathBuf,
}
