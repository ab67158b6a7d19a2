//! The messages: what a node tells the host ([`NodeMessage`]) and what the host asks of a node
//! ([`HostMessage`]).
//!
//! Every message is a struct with serde derives, encoded with postcard as the body of a frame (see
//! [`crate::frame`]); the frame header, not the body, says which message it is. The small enums
//! a newer peer may extend ([`Quantity`], [`Sensor`], [`SensorError`], [`ReplyError`],
//! [`CommandKind`]) are *open*: a code this version does not know decodes as `Unknown(code)`
//! instead of failing the frame.

use core::fmt;

use heapless::{String, Vec};
use sense_hal::value::{Measurement, Unit, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::frame::{Direction, Message};

mod command;

pub use command::{Command, CommandKind};

/// The protocol version a peer speaks, `major.minor`.
///
/// Peers of the same major version understand each other: a newer minor version only adds what
/// an older peer can skip (see the crate's README, "Versioning"). Peers of different major
/// versions only understand each other's [`Hello`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct ProtocolVersion {
    /// Incremented for any change an older peer cannot skip.
    pub major: u8,
    /// Incremented for additions an older peer of the same major version skips.
    pub minor: u8,
}

impl ProtocolVersion {
    /// The version this crate implements.
    pub const CURRENT: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

    /// Whether a peer speaking `self` and one speaking `other` understand each other: same major.
    pub const fn is_compatible_with(self, other: ProtocolVersion) -> bool {
        self.major == other.major
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Capacity in bytes of [`Hello::node_id`].
pub const NODE_ID_CAPACITY: usize = 32;
/// Capacity in bytes of [`Hello::firmware_version`].
pub const FIRMWARE_VERSION_CAPACITY: usize = 24;
/// Capacity in bytes of the text of [`CommandKind::Text`].
pub const LED_TEXT_CAPACITY: usize = 64;
/// The most readings one [`Readings`] message carries.
pub const MAX_READINGS: usize = 8;

/// What a node measures and drives: a set of bits.
///
/// Bits this version does not name are kept as they are (a newer node may set them), so
/// [`Capabilities::bits`] returns what the node sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(u32);

impl Capabilities {
    /// Measures [`Quantity::Temperature`].
    pub const TEMPERATURE: Capabilities = Capabilities(1 << 0);
    /// Measures [`Quantity::Humidity`].
    pub const HUMIDITY: Capabilities = Capabilities(1 << 1);
    /// Measures [`Quantity::Pressure`].
    pub const PRESSURE: Capabilities = Capabilities(1 << 2);
    /// Drives an 8×8 LED matrix: obeys [`CommandKind::Text`], [`CommandKind::Rotate`] and
    /// [`CommandKind::Clear`].
    pub const LED_MATRIX: Capabilities = Capabilities(1 << 3);

    /// The named capabilities and their names, for `Debug`.
    const NAMED: [(Capabilities, &'static str); 4] = [
        (Capabilities::TEMPERATURE, "TEMPERATURE"),
        (Capabilities::HUMIDITY, "HUMIDITY"),
        (Capabilities::PRESSURE, "PRESSURE"),
        (Capabilities::LED_MATRIX, "LED_MATRIX"),
    ];

    /// No capability.
    pub const fn empty() -> Capabilities {
        Capabilities(0)
    }

    /// The capabilities whose bits are set in `bits`, named or not.
    pub const fn from_bits_retain(bits: u32) -> Capabilities {
        Capabilities(bits)
    }

    /// The bits, including those this version does not name.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The capability to measure `quantity`, if this version names one.
    pub const fn for_quantity(quantity: Quantity) -> Option<Capabilities> {
        match quantity {
            Quantity::Temperature => Some(Capabilities::TEMPERATURE),
            Quantity::Humidity => Some(Capabilities::HUMIDITY),
            Quantity::Pressure => Some(Capabilities::PRESSURE),
            Quantity::Unknown(_) => None,
        }
    }
}

impl core::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Capabilities) -> Capabilities {
        self.union(rhs)
    }
}

impl fmt::Debug for Capabilities {
    /// `Capabilities(TEMPERATURE | LED_MATRIX | 0x100)`: the named bits, then any others in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Capabilities(")?;
        let mut rest = self.0;
        let mut first = true;
        for (cap, name) in Capabilities::NAMED {
            if self.contains(cap) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !cap.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        }
        f.write_str(")")
    }
}

/// Declares an open enum: named variants with fixed one-byte codes, and `Unknown(code)` for a code
/// this version does not name. On the wire it is the code, one byte.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code this version does not name (sent by a newer peer); kept as received.
            Unknown(u8),
        }

        impl $name {
            /// The code on the wire.
            pub const fn code(self) -> u8 {
                match self {
                    $( $name::$variant => $code, )*
                    $name::Unknown(code) => code,
                }
            }

            /// The variant for `code`; `Unknown(code)` when this version does not name it.
            pub const fn from_code(code: u8) -> Self {
                match code {
                    $( $code => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
                serializer.serialize_u8(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                u8::deserialize(deserializer).map($name::from_code)
            }
        }
    };
}

open_enum! {
    /// What a [`Reading`] measures. Its unit is fixed by the quantity, as `sense-hal` names it.
    pub enum Quantity {
        /// Air temperature in °C ([`Unit::CELSIUS`]), from the HTS221.
        Temperature = 0,
        /// Relative humidity in % ([`Unit::PERCENT`]), from the HTS221.
        Humidity = 1,
        /// Air pressure in mbar = hPa ([`Unit::MILLIBAR`]), from the LPS25H.
        Pressure = 2,
    }
}

impl Quantity {
    /// The unit of a reading of this quantity; `None` for an unknown quantity.
    pub const fn unit(self) -> Option<Unit> {
        match self {
            Quantity::Temperature => Some(Unit::CELSIUS),
            Quantity::Humidity => Some(Unit::PERCENT),
            Quantity::Pressure => Some(Unit::MILLIBAR),
            Quantity::Unknown(_) => None,
        }
    }

    /// The sensor id the Sense HAT source gives this quantity on the bus (`temperature`,
    /// `humidity`, `pressure`); `None` for an unknown quantity.
    pub const fn sensor_id(self) -> Option<&'static str> {
        match self {
            Quantity::Temperature => Some("temperature"),
            Quantity::Humidity => Some("humidity"),
            Quantity::Pressure => Some("pressure"),
            Quantity::Unknown(_) => None,
        }
    }

    /// The quantity the Sense HAT source publishes as `sensor_id`.
    pub fn from_sensor_id(sensor_id: &str) -> Option<Quantity> {
        [
            Quantity::Temperature,
            Quantity::Humidity,
            Quantity::Pressure,
        ]
        .into_iter()
        .find(|q| q.sensor_id() == Some(sensor_id))
    }

    /// Decimal places the bus keeps, as the Sense HAT source rounds them.
    pub const fn decimals(self) -> u8 {
        1
    }
}

/// One value a node measured.
///
/// A node sends only values it has: a sensor that failed is reported with a [`Status`] instead,
/// and its reading is left out.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct Reading {
    /// What was measured, and so its unit.
    pub quantity: Quantity,
    /// The value, in the quantity's unit (the drivers compute `f32`).
    pub value: f32,
}

impl Reading {
    /// A reading of `quantity`.
    pub const fn new(quantity: Quantity, value: f32) -> Reading {
        Reading { quantity, value }
    }

    /// The reading as the Sense HAT source would have published it: its sensor id, the value
    /// rounded as the source rounds it (`Null` if not finite), its unit. `None` for a quantity
    /// this version does not know.
    pub fn to_measurement<S: From<&'static str>>(&self) -> Option<Measurement<S>> {
        let sensor = self.quantity.sensor_id()?;
        Some(Measurement {
            sensor: S::from(sensor),
            value: Value::rounded(f64::from(self.value), self.quantity.decimals()),
            unit: self.quantity.unit(),
        })
    }

    /// The reading for a measurement named and united as the Sense HAT source publishes it
    /// (`temperature` in `C`, ...). `None` for another sensor id, another unit, or a value that
    /// is not a number.
    pub fn from_measurement<S: AsRef<str>>(measurement: &Measurement<S>) -> Option<Reading> {
        let quantity = Quantity::from_sensor_id(measurement.sensor.as_ref())?;
        if measurement.unit != quantity.unit() {
            return None;
        }
        // Readings are far inside f32's range; the precision lost is below the sensors'.
        #[allow(clippy::cast_possible_truncation)]
        let value = measurement.value.as_f64()? as f32;
        Some(Reading { quantity, value })
    }
}

open_enum! {
    /// A chip on the node.
    pub enum Sensor {
        /// The HTS221 humidity and temperature sensor.
        Hts221 = 0,
        /// The LPS25H pressure sensor.
        Lps25h = 1,
        /// The LED matrix controller.
        LedMatrix = 2,
    }
}

open_enum! {
    /// What went wrong with a [`Sensor`].
    pub enum SensorError {
        /// The chip did not acknowledge its address or a byte (absent, unpowered, wrong bus).
        NoAcknowledge = 0,
        /// Another bus error (arbitration lost, bus stuck, overrun).
        Bus = 1,
        /// The chip answered with an unexpected identity (`WHO_AM_I`).
        WrongId = 2,
        /// The chip had no new sample in time.
        NotReady = 3,
        /// The chip's calibration data is unusable.
        Calibration = 4,
    }
}

impl From<sense_hal::i2c::ErrorKind> for SensorError {
    /// `NoAcknowledge` for a NACK, `Bus` for any other I2C error.
    fn from(kind: sense_hal::i2c::ErrorKind) -> SensorError {
        match kind {
            sense_hal::i2c::ErrorKind::NoAcknowledge(_) => SensorError::NoAcknowledge,
            _ => SensorError::Bus,
        }
    }
}

open_enum! {
    /// Why a node did not carry out a [`Command`].
    pub enum ReplyError {
        /// The node does not know this kind of command (it is older than the host), or has no
        /// hardware for it.
        Unsupported = 0,
        /// An argument the node cannot use.
        InvalidArgument = 1,
        /// The node is busy (e.g. still scrolling); the host may retry.
        Busy = 2,
        /// The hardware failed (e.g. the LED matrix did not acknowledge).
        Hardware = 3,
    }
}

/// Node → host, the first frame after every (re)start.
///
/// Its layout is frozen across major versions: a host can always read it, and so tell a node it
/// cannot talk to from one that is broken.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the node speaks. First in the body, forever.
    pub protocol_version: ProtocolVersion,
    /// Names the node (e.g. `pico-kitchen`), unique among the host's nodes.
    pub node_id: String<NODE_ID_CAPACITY>,
    /// The firmware's version (e.g. `0.1.0` or a `git describe`).
    pub firmware_version: String<FIRMWARE_VERSION_CAPACITY>,
    /// What the node measures and drives.
    pub capabilities: Capabilities,
}

impl Hello {
    /// A `Hello` speaking [`ProtocolVersion::CURRENT`]. `None` when `node_id` or
    /// `firmware_version` exceeds its capacity.
    pub fn new(node_id: &str, firmware_version: &str, capabilities: Capabilities) -> Option<Hello> {
        Some(Hello {
            protocol_version: ProtocolVersion::CURRENT,
            node_id: String::try_from(node_id).ok()?,
            firmware_version: String::try_from(firmware_version).ok()?,
            capabilities,
        })
    }

    /// Whether this crate can talk to the node: same major version.
    pub const fn is_compatible(&self) -> bool {
        ProtocolVersion::CURRENT.is_compatible_with(self.protocol_version)
    }
}

/// Node → host: what the node measured in one round.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Readings {
    /// Counts the node's `Readings` messages from 0 after its start, wrapping: a gap shows the
    /// host a lost frame, a drop to 0 a restart.
    pub seq: u32,
    /// The values, at most [`MAX_READINGS`].
    pub readings: Vec<Reading, MAX_READINGS>,
}

impl Readings {
    /// An empty `Readings` numbered `seq`.
    pub const fn new(seq: u32) -> Readings {
        Readings {
            seq,
            readings: Vec::new(),
        }
    }

    /// Adds a reading; gives it back when [`MAX_READINGS`] are already there.
    pub fn push(&mut self, reading: Reading) -> Result<(), Reading> {
        self.readings.push(reading)
    }
}

/// Node → host: a sensor failed. Not fatal: the node keeps running, and keeps sending the
/// readings of its other sensors.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Status {
    /// The chip.
    pub sensor: Sensor,
    /// What went wrong.
    pub error: SensorError,
}

/// Node → host: the outcome of the [`Command`] with the same `id`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Reply {
    /// The command's id.
    pub id: u32,
    /// Done, or why not.
    pub result: Result<(), ReplyError>,
}

/// The kind code of each message, the third byte of a frame (see [`crate::frame`]). The high bit
/// is the direction: clear from node to host, set from host to node.
pub mod kind {
    /// [`Hello`](super::Hello). Frozen across major versions.
    pub const HELLO: u8 = 0x01;
    /// [`Readings`](super::Readings).
    pub const READINGS: u8 = 0x02;
    /// [`Status`](super::Status).
    pub const STATUS: u8 = 0x03;
    /// [`Reply`](super::Reply).
    pub const REPLY: u8 = 0x04;
    /// [`Command`](super::Command).
    pub const COMMAND: u8 = 0x81;
}

/// A message from a node to the host.
#[derive(Clone, PartialEq, Debug)]
pub enum NodeMessage {
    /// Who the node is and what it speaks.
    Hello(Hello),
    /// What it measured.
    Readings(Readings),
    /// A sensor failed.
    Status(Status),
    /// The outcome of a command.
    Reply(Reply),
}

impl Message for NodeMessage {
    const DIRECTION: Direction = Direction::NodeToHost;
    const MAJOR: u8 = ProtocolVersion::CURRENT.major;

    fn kind(&self) -> u8 {
        match self {
            NodeMessage::Hello(_) => kind::HELLO,
            NodeMessage::Readings(_) => kind::READINGS,
            NodeMessage::Status(_) => kind::STATUS,
            NodeMessage::Reply(_) => kind::REPLY,
        }
    }

    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeMessage::Hello(m) => m.serialize(serializer),
            NodeMessage::Readings(m) => m.serialize(serializer),
            NodeMessage::Status(m) => m.serialize(serializer),
            NodeMessage::Reply(m) => m.serialize(serializer),
        }
    }

    fn decode_body(kind: u8, body: &[u8]) -> Result<Option<Self>, postcard::Error> {
        Ok(Some(match kind {
            kind::HELLO => NodeMessage::Hello(postcard::from_bytes(body)?),
            kind::READINGS => NodeMessage::Readings(postcard::from_bytes(body)?),
            kind::STATUS => NodeMessage::Status(postcard::from_bytes(body)?),
            kind::REPLY => NodeMessage::Reply(postcard::from_bytes(body)?),
            _ => return Ok(None),
        }))
    }
}

impl From<Hello> for NodeMessage {
    fn from(m: Hello) -> Self {
        NodeMessage::Hello(m)
    }
}
impl From<Readings> for NodeMessage {
    fn from(m: Readings) -> Self {
        NodeMessage::Readings(m)
    }
}
impl From<Status> for NodeMessage {
    fn from(m: Status) -> Self {
        NodeMessage::Status(m)
    }
}
impl From<Reply> for NodeMessage {
    fn from(m: Reply) -> Self {
        NodeMessage::Reply(m)
    }
}

/// A message from the host to a node.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum HostMessage {
    /// Do something, and reply.
    Command(Command),
}

impl Message for HostMessage {
    const DIRECTION: Direction = Direction::HostToNode;
    const MAJOR: u8 = ProtocolVersion::CURRENT.major;

    fn kind(&self) -> u8 {
        match self {
            HostMessage::Command(_) => kind::COMMAND,
        }
    }

    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HostMessage::Command(m) => m.serialize(serializer),
        }
    }

    fn decode_body(kind: u8, body: &[u8]) -> Result<Option<Self>, postcard::Error> {
        Ok(Some(match kind {
            kind::COMMAND => HostMessage::Command(postcard::from_bytes(body)?),
            _ => return Ok(None),
        }))
    }
}

impl From<Command> for HostMessage {
    fn from(m: Command) -> Self {
        HostMessage::Command(m)
    }
}
