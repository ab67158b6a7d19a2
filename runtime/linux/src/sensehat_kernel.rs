//! The Sense HAT through the kernel's own drivers, for when they own the I2C addresses.
//!
//! Current Raspberry Pi OS loads the `rpi-sense` overlay from the HAT's EEPROM: the kernel then
//! drives the LED matrix as a framebuffer named "RPi-Sense FB", the joystick as an evdev device
//! named "Raspberry Pi Sense HAT Joystick", and (kernel 6.9+) the HTS221 and LPS25H through IIO.
//! Each is found by name under sysfs, whose root is configurable like [`crate::HostFs`]'s.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sense_hal::led::{Action, Direction, Frame, Joystick, JoystickEvent, LedMatrix, Rotation};

/// The framebuffer's name in `/sys/class/graphics/fb*/name`.
pub const FRAMEBUFFER_NAME: &str = "RPi-Sense FB";
/// The joystick's name in `/sys/class/input/event*/device/name`.
pub const JOYSTICK_NAME: &str = "Raspberry Pi Sense HAT Joystick";

/// The driver's gamma tables, chosen with [`reset_gamma`].
const GAMMA_DEFAULT: usize = 0;
const GAMMA_LOW_LIGHT: usize = 1;

/// `ioctl(fb, SENSEFB_FBIORESET_GAMMA, table)`: makes one of the rpisense-fb driver's built-in
/// gamma tables current.
///
/// The workspace's one `unsafe`. rustix (like nix and std) wraps only the ioctls it knows by name
/// safely; a driver's private request goes through its generic `ioctl`, which is `unsafe` because
/// no library can know what the kernel does with an arbitrary opcode and argument.
#[allow(unsafe_code)]
fn reset_gamma(fb: &File, table: usize) -> io::Result<()> {
    use rustix::ioctl::{IntegerSetter, Opcode, ioctl};
    /// `SENSEFB_FBIORESET_GAMMA` of the Raspberry Pi kernel's `rpisense-fb` driver.
    const FBIORESET_GAMMA: Opcode = 0xF102;
    // SAFETY: rpisense-fb handles FBIORESET_GAMMA by reading its argument as a plain integer
    // (0 default, 1 low light, 2 user table; anything else is EINVAL) and never dereferences it,
    // so no memory of ours is touched; `fb` is an open file borrowed for the call.
    unsafe {
        ioctl(fb, IntegerSetter::<FBIORESET_GAMMA>::new_usize(table))?;
    }
    Ok(())
}

/// Finds the entry of `class_dir` whose `name_file` holds `name`, returning the entry's file name
/// (e.g. `fb1`, `event3`).
fn find_by_name(class_dir: &Path, name_file: &str, name: &str) -> io::Result<Option<String>> {
    let mut found: Vec<String> = Vec::new();
    for entry in fs::read_dir(class_dir)? {
        let entry = entry?;
        if fs::read_to_string(entry.path().join(name_file)).is_ok_and(|n| n.trim() == name) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

/// The LED matrix as the kernel's framebuffer (RGB565, 8×8, 128 bytes).
#[derive(Debug)]
pub struct SenseFramebuffer {
    file: File,
    path: PathBuf,
}

impl SenseFramebuffer {
    /// Finds the "RPi-Sense FB" framebuffer (`{sys}/class/graphics/fb*/name`) and opens
    /// `{dev}/fbN`. `Ok(None)` when there is none.
    pub fn find(sys_root: &Path, dev_root: &Path) -> io::Result<Option<SenseFramebuffer>> {
        let Some(fb) = find_by_name(&sys_root.join("class/graphics"), "name", FRAMEBUFFER_NAME)
            .or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?
        else {
            return Ok(None);
        };
        let path = dev_root.join(&fb);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        Ok(Some(SenseFramebuffer { file, path }))
    }

    /// The device path, e.g. `/dev/fb1`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 128 bytes the framebuffer holds for `frame` (already in physical orientation):
    /// little-endian RGB565, row-major, packed as python-sense-hat packs it.
    pub fn encode(frame: &Frame) -> [u8; 128] {
        let mut out = [0u8; 128];
        for (i, p) in frame.pixels().enumerate() {
            let v: u16 =
                (u16::from(p.r >> 3) << 11) | (u16::from(p.g >> 2) << 5) | u16::from(p.b >> 3);
            out[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Chooses the driver's low-light gamma table (or the default one).
    pub fn set_low_light(&mut self, on: bool) -> io::Result<()> {
        reset_gamma(&self.file, if on { GAMMA_LOW_LIGHT } else { GAMMA_DEFAULT })
    }
}

impl LedMatrix for SenseFramebuffer {
    type Error = io::Error;
    async fn show(&mut self, frame: &Frame, rotation: Rotation) -> io::Result<()> {
        self.file
            .write_all_at(&Self::encode(&frame.for_rotation(rotation)), 0)
    }
}

/// Linux input event codes of the Sense HAT joystick.
mod code {
    pub const EV_KEY: u16 = 1;
    pub const KEY_ENTER: u16 = 28;
    pub const KEY_UP: u16 = 103;
    pub const KEY_LEFT: u16 = 105;
    pub const KEY_RIGHT: u16 = 106;
    pub const KEY_DOWN: u16 = 108;
}

/// The joystick as the kernel's evdev device.
#[derive(Debug)]
pub struct EvdevJoystick {
    file: tokio::fs::File,
    path: PathBuf,
}

/// Offset of `type` within `struct input_event`: after its `struct timeval`, two `long`s.
const TYPE_OFFSET: usize = 2 * size_of::<std::ffi::c_long>();
/// Size of `struct input_event` on this target (16 bytes on 32-bit ARM, 24 on 64-bit): the
/// timeval, then `__u16 type`, `__u16 code` and `__s32 value`.
const EVENT_SIZE: usize = TYPE_OFFSET + 8;

impl EvdevJoystick {
    /// Finds the joystick (`{sys}/class/input/event*/device/name`) and opens `{dev}/input/eventN`.
    pub async fn find(sys_root: &Path, dev_root: &Path) -> io::Result<Option<EvdevJoystick>> {
        let found = find_by_name(&sys_root.join("class/input"), "device/name", JOYSTICK_NAME)
            .or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?;
        let Some(event) = found else { return Ok(None) };
        let path = dev_root.join("input").join(event);
        let file = tokio::fs::File::open(&path).await?;
        Ok(Some(EvdevJoystick { file, path }))
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decodes one `struct input_event`; `None` for anything but a joystick key press or release.
    pub fn decode(event: &[u8; EVENT_SIZE]) -> Option<JoystickEvent> {
        let word = |at: usize| u16::from_ne_bytes([event[at], event[at + 1]]);
        let (kind, key) = (word(TYPE_OFFSET), word(TYPE_OFFSET + 2));
        let value = i32::from_ne_bytes(event[TYPE_OFFSET + 4..TYPE_OFFSET + 8].try_into().ok()?);
        if kind != code::EV_KEY {
            return None;
        }
        let direction = match key {
            code::KEY_UP => Direction::Up,
            code::KEY_DOWN => Direction::Down,
            code::KEY_LEFT => Direction::Left,
            code::KEY_RIGHT => Direction::Right,
            code::KEY_ENTER => Direction::Middle,
            _ => return None,
        };
        // 1 press, 0 release, 2 auto-repeat (ignored: a held stick is one press).
        let action = match value {
            1 => Action::Pressed,
            0 => Action::Released,
            _ => return None,
        };
        Some(JoystickEvent { direction, action })
    }
}

impl Joystick for EvdevJoystick {
    type Error = io::Error;
    async fn next_event(&mut self) -> io::Result<JoystickEvent> {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; EVENT_SIZE];
        loop {
            self.file.read_exact(&mut buf).await?;
            if let Some(event) = Self::decode(&buf) {
                return Ok(event);
            }
        }
    }
}

/// One sensor channel of an IIO device, e.g. `in_temp`.
fn iio_channel(device: &Path, channel: &str) -> io::Result<f64> {
    let read = |suffix: &str| -> io::Result<Option<f64>> {
        match fs::read_to_string(device.join(format!("{channel}_{suffix}"))) {
            Ok(text) => text.trim().parse::<f64>().map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{channel}_{suffix}: {e}"),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    // A processed value when the driver offers one, else (raw + offset) × scale.
    if let Some(v) = read("input")? {
        return Ok(v);
    }
    let raw = read("raw")?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no {channel}_raw", device.display()),
        )
    })?;
    Ok((raw + read("offset")?.unwrap_or(0.0)) * read("scale")?.unwrap_or(1.0))
}

/// The HTS221 or LPS25H as an IIO device (`{sys}/bus/iio/devices/iio:device*`).
#[derive(Clone, Debug)]
pub struct IioSensor {
    device: PathBuf,
}

impl IioSensor {
    /// Finds the IIO device whose `name` is `name` (`hts221`, `lps25h`).
    pub fn find(sys_root: &Path, name: &str) -> io::Result<Option<IioSensor>> {
        let dir = sys_root.join("bus/iio/devices");
        let found = find_by_name(&dir, "name", name).or_else(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(e)
            }
        })?;
        Ok(found.map(|d| IioSensor {
            device: dir.join(d),
        }))
    }

    /// The device's sysfs directory.
    pub fn path(&self) -> &Path {
        &self.device
    }

    /// Temperature in °C (IIO reports milli-degrees).
    pub fn temperature_c(&self) -> io::Result<f64> {
        Ok(iio_channel(&self.device, "in_temp")? / 1000.0)
    }

    /// Relative humidity in % (IIO reports milli-percent).
    pub fn humidity_percent(&self) -> io::Result<f64> {
        Ok(iio_channel(&self.device, "in_humidityrelative")? / 1000.0)
    }

    /// Pressure in hPa (IIO reports kPa).
    pub fn pressure_hpa(&self) -> io::Result<f64> {
        Ok(iio_channel(&self.device, "in_pressure")? * 10.0)
    }
}

/// Reads a sysfs attribute, trimmed.
fn read_attr(path: &Path) -> io::Result<String> {
    let mut s = String::new();
    File::open(path)?.read_to_string(&mut s)?;
    Ok(s.trim().to_owned())
}

/// The Pi's own LEDs (power and activity) under `{sys}/class/leds`, switched off while the display
/// sleeps and restored after: each LED's trigger and brightness are saved first.
#[derive(Debug, Default)]
pub struct PiLeds {
    saved: Vec<(PathBuf, String, String)>,
}

/// The LED names of the Pi models: `ACT`/`PWR` on current kernels, `led0`/`led1` on older ones.
const PI_LEDS: [&str; 4] = ["ACT", "PWR", "led0", "led1"];

impl PiLeds {
    /// Switches the LEDs off, remembering how they were. Returns how many were switched off; 0
    /// when the machine has none (not a Pi, or `/sys` not mounted).
    pub fn switch_off(&mut self, sys_root: &Path) -> io::Result<usize> {
        if !self.saved.is_empty() {
            return Ok(self.saved.len());
        }
        for name in PI_LEDS {
            let dir = sys_root.join("class/leds").join(name);
            let Ok(triggers) = read_attr(&dir.join("trigger")) else {
                continue;
            };
            // The active trigger is the one in brackets: "none [mmc0] timer heartbeat".
            let active = triggers
                .split_whitespace()
                .find_map(|t| t.strip_prefix('[')?.strip_suffix(']'))
                .unwrap_or("none")
                .to_owned();
            let brightness = read_attr(&dir.join("brightness")).unwrap_or_else(|_| "1".into());
            fs::write(dir.join("trigger"), "none")?;
            fs::write(dir.join("brightness"), "0")?;
            self.saved.push((dir, active, brightness));
        }
        Ok(self.saved.len())
    }

    /// Puts every LED switched off back as it was.
    pub fn restore(&mut self) -> io::Result<()> {
        for (dir, trigger, brightness) in self.saved.drain(..) {
            fs::write(dir.join("trigger"), &trigger)?;
            // A trigger such as "default-on" sets its own brightness; "none" needs it back.
            if trigger == "none" {
                fs::write(dir.join("brightness"), &brightness)?;
            }
        }
        Ok(())
    }

    /// Whether the LEDs are currently switched off by us.
    pub fn are_off(&self) -> bool {
        !self.saved.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sense_hal::led::Rgb;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sense-kernel-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn rgb565_packs_like_python_sense_hat() {
        let mut f = Frame::BLACK;
        f.set(0, 0, Rgb::new(255, 0, 0));
        f.set(1, 0, Rgb::new(0, 255, 0));
        f.set(7, 7, Rgb::new(8, 4, 255));
        let b = SenseFramebuffer::encode(&f);
        assert_eq!(&b[0..2], &0xF800u16.to_le_bytes());
        assert_eq!(&b[2..4], &0x07E0u16.to_le_bytes());
        // (8>>3)<<11 | (4>>2)<<5 | 255>>3 = 0x0800 | 0x0020 | 0x001F
        assert_eq!(&b[126..128], &0x083Fu16.to_le_bytes());
    }

    #[tokio::test]
    async fn framebuffer_is_found_by_name_and_written() {
        let root = temp_dir("fb");
        for (fb, name) in [("fb0", "BCM2708 FB"), ("fb1", FRAMEBUFFER_NAME)] {
            fs::create_dir_all(root.join("sys/class/graphics").join(fb)).unwrap();
            fs::write(
                root.join("sys/class/graphics").join(fb).join("name"),
                format!("{name}\n"),
            )
            .unwrap();
        }
        fs::create_dir_all(root.join("dev")).unwrap();
        fs::write(root.join("dev/fb1"), [0u8; 128]).unwrap();
        let mut fb = SenseFramebuffer::find(&root.join("sys"), &root.join("dev"))
            .unwrap()
            .unwrap();
        assert_eq!(fb.path(), root.join("dev/fb1"));
        fb.show(&Frame::filled(Rgb::WHITE), Rotation::Deg0)
            .await
            .unwrap();
        assert_eq!(fs::read(root.join("dev/fb1")).unwrap(), [0xFF; 128]);
        assert!(
            SenseFramebuffer::find(&root.join("nothing"), &root.join("dev"))
                .unwrap()
                .is_none()
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn evdev_events_decode_to_joystick_events() {
        let mut ev = [0u8; EVENT_SIZE];
        let put = |ev: &mut [u8; EVENT_SIZE], kind: u16, key: u16, value: i32| {
            ev[TYPE_OFFSET..TYPE_OFFSET + 2].copy_from_slice(&kind.to_ne_bytes());
            ev[TYPE_OFFSET + 2..TYPE_OFFSET + 4].copy_from_slice(&key.to_ne_bytes());
            ev[TYPE_OFFSET + 4..TYPE_OFFSET + 8].copy_from_slice(&value.to_ne_bytes());
        };
        put(&mut ev, code::EV_KEY, code::KEY_LEFT, 1);
        assert_eq!(
            EvdevJoystick::decode(&ev),
            Some(JoystickEvent {
                direction: Direction::Left,
                action: Action::Pressed
            })
        );
        put(&mut ev, code::EV_KEY, code::KEY_ENTER, 0);
        assert_eq!(
            EvdevJoystick::decode(&ev),
            Some(JoystickEvent {
                direction: Direction::Middle,
                action: Action::Released
            })
        );
        put(&mut ev, code::EV_KEY, code::KEY_UP, 2);
        assert_eq!(EvdevJoystick::decode(&ev), None, "auto-repeat");
        put(&mut ev, 0, 0, 0);
        assert_eq!(EvdevJoystick::decode(&ev), None, "EV_SYN");
    }

    #[tokio::test]
    async fn joystick_events_are_read_from_the_device() {
        let root = temp_dir("evdev");
        let dir = root.join("sys/class/input/event2/device");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("name"), format!("{JOYSTICK_NAME}\n")).unwrap();
        fs::create_dir_all(root.join("dev/input")).unwrap();
        let mut bytes = Vec::new();
        for (kind, key, value) in [(0u16, 0u16, 0i32), (code::EV_KEY, code::KEY_RIGHT, 1)] {
            let mut ev = [0u8; EVENT_SIZE];
            ev[TYPE_OFFSET..TYPE_OFFSET + 2].copy_from_slice(&kind.to_ne_bytes());
            ev[TYPE_OFFSET + 2..TYPE_OFFSET + 4].copy_from_slice(&key.to_ne_bytes());
            ev[TYPE_OFFSET + 4..TYPE_OFFSET + 8].copy_from_slice(&value.to_ne_bytes());
            bytes.extend_from_slice(&ev);
        }
        fs::write(root.join("dev/input/event2"), bytes).unwrap();
        let mut stick = EvdevJoystick::find(&root.join("sys"), &root.join("dev"))
            .await
            .unwrap()
            .unwrap();
        let event = stick.next_event().await.unwrap();
        assert_eq!(
            event,
            JoystickEvent {
                direction: Direction::Right,
                action: Action::Pressed
            }
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn iio_values_are_scaled_to_contract_units() {
        let root = temp_dir("iio");
        let hts = root.join("bus/iio/devices/iio:device0");
        let lps = root.join("bus/iio/devices/iio:device1");
        fs::create_dir_all(&hts).unwrap();
        fs::create_dir_all(&lps).unwrap();
        for (dir, files) in [
            (
                &hts,
                &[
                    ("name", "hts221"),
                    ("in_temp_raw", "-291"),
                    ("in_temp_offset", "-4700.5"),
                    ("in_temp_scale", "-4.347826"),
                    ("in_humidityrelative_raw", "-8450"),
                    ("in_humidityrelative_offset", "-14222.68"),
                    ("in_humidityrelative_scale", "-1.953125"),
                ][..],
            ),
            (
                &lps,
                &[
                    ("name", "lps25h"),
                    ("in_pressure_raw", "4145152"),
                    ("in_pressure_scale", "0.000024414"),
                ][..],
            ),
        ] {
            for (file, value) in files {
                fs::write(dir.join(file), format!("{value}\n")).unwrap();
            }
        }
        let h = IioSensor::find(&root, "hts221").unwrap().unwrap();
        // (-291 - 4700.5) × -4.347826 = 21701.1 m°C
        assert!((h.temperature_c().unwrap() - 21.7012).abs() < 1e-3);
        // (-8450 - 14222.68) × -1.953125 = 44282.6 m%
        assert!((h.humidity_percent().unwrap() - 44.2826).abs() < 1e-3);
        let p = IioSensor::find(&root, "lps25h").unwrap().unwrap();
        // 4145152 × 0.000024414 kPa = 101.199 kPa = 1011.99 hPa
        assert!((p.pressure_hpa().unwrap() - 1011.99).abs() < 0.01);
        assert!(IioSensor::find(&root, "lsm9ds1").unwrap().is_none());
        let err = p.temperature_c().unwrap_err();
        assert!(err.to_string().contains("no in_temp_raw"), "{err}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn pi_leds_are_switched_off_and_restored() {
        let root = temp_dir("leds");
        for (led, trigger, brightness) in [
            ("ACT", "none [mmc0] timer", "0"),
            ("PWR", "[default-on] none", "255"),
        ] {
            let dir = root.join("class/leds").join(led);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("trigger"), trigger).unwrap();
            fs::write(dir.join("brightness"), brightness).unwrap();
        }
        let mut leds = PiLeds::default();
        assert_eq!(leds.switch_off(&root).unwrap(), 2);
        assert!(leds.are_off());
        assert_eq!(
            fs::read_to_string(root.join("class/leds/ACT/trigger")).unwrap(),
            "none"
        );
        assert_eq!(
            fs::read_to_string(root.join("class/leds/PWR/brightness")).unwrap(),
            "0"
        );
        leds.restore().unwrap();
        assert!(!leds.are_off());
        assert_eq!(
            fs::read_to_string(root.join("class/leds/ACT/trigger")).unwrap(),
            "mmc0"
        );
        assert_eq!(
            fs::read_to_string(root.join("class/leds/PWR/trigger")).unwrap(),
            "default-on"
        );
        assert_eq!(PiLeds::default().switch_off(&root.join("none")).unwrap(), 0);
        fs::remove_dir_all(root).unwrap();
    }
}
