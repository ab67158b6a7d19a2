//! What a reading is: a scalar [`Value`] with an optional [`Unit`], named by a sensor id.
//!
//! The wire contract allows exactly five kinds of value (int, float, string, bool, null); nothing
//! nested. [`Value`] is generic over its text storage so the same type serves both sides:
//! `Value` (the default, [`Text`], a fixed-capacity `heapless::String`) on a microcontroller, and
//! `Value<String>` on Linux.
//!
//! Serialization follows the format: human-readable formats (JSON) get a bare scalar, exactly as the
//! contract writes it (`23.5`, `"SW"`, `null`); compact binary formats (postcard) get a tagged enum,
//! because they cannot guess a value's kind from the bytes.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, EnumAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Capacity in bytes of [`Text`].
pub const TEXT_CAPACITY: usize = 64;

/// Fixed-capacity text used by the allocation-free form of [`Value`] and [`Measurement`].
pub type Text = heapless::String<TEXT_CAPACITY>;

/// A scalar reading value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value<S = Text> {
    /// No value: the sensor exists but has nothing to report (a missing thermal zone, an invalid
    /// Aranet4 sample). Never replaced by a made-up number.
    #[default]
    Null,
    /// A boolean, e.g. `connected`.
    Bool(bool),
    /// An integer, e.g. `co2` in ppm.
    Int(i64),
    /// A finite float, e.g. `temperature` in °C. Build it with [`Value::float`], which turns NaN
    /// and infinities into [`Value::Null`].
    Float(f64),
    /// Text, e.g. `weather_conditions`.
    Text(S),
}

impl<S> Value<S> {
    /// A float value, or `Null` when `x` is NaN or infinite (JSON has no way to write those).
    pub fn float(x: f64) -> Self {
        if x.is_finite() {
            Value::Float(x)
        } else {
            Value::Null
        }
    }

    /// A float rounded to `decimals` places (at most 6), or `Null` when not finite.
    pub fn rounded(x: f64, decimals: u8) -> Self {
        Value::float(round_to(x, decimals))
    }

    /// `Some(x)` becomes `x`, `None` becomes `Null`.
    pub fn from_option<T: Into<Value<S>>>(x: Option<T>) -> Self {
        x.map_or(Value::Null, Into::into)
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number, if it is an int or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            // Precision loss above 2^53 is acceptable: readings are far below it.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Converts the text storage, e.g. from [`Text`] to `String`.
    pub fn map_text<T>(self, f: impl FnOnce(S) -> T) -> Value<T> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(x) => Value::Float(x),
            Value::Text(s) => Value::Text(f(s)),
        }
    }
}

impl<S: AsRef<str>> Value<S> {
    /// The value as text, if it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s.as_ref()),
            _ => None,
        }
    }
}

impl Value<Text> {
    /// A text value, cut at a character boundary if it exceeds [`TEXT_CAPACITY`] bytes.
    pub fn text(s: &str) -> Self {
        Value::Text(truncated_text(s))
    }
}

/// Copies `s` into a [`Text`], cutting at the last character boundary that fits.
pub fn truncated_text(s: &str) -> Text {
    let mut end = s.len().min(TEXT_CAPACITY);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Text::new();
    // Cannot fail: `end` bytes fit by construction.
    let _ = out.push_str(&s[..end]);
    out
}

/// `x` rounded to `decimals` places (at most 6), half away from zero.
pub fn round_to(x: f64, decimals: u8) -> f64 {
    let scale = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6][usize::from(decimals.min(6))];
    libm_round(x * scale) / scale
}

/// Round half away from zero without `std` (core has no `f64::round`).
fn libm_round(x: f64) -> f64 {
    // Beyond 2^52 every f64 is already an integer.
    if !x.is_finite() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let truncated = x as i64 as f64;
    let frac = x - truncated;
    if frac >= 0.5 {
        truncated + 1.0
    } else if frac <= -0.5 {
        truncated - 1.0
    } else {
        truncated
    }
}

impl<S> From<bool> for Value<S> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl<S> From<i64> for Value<S> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl<S> From<i32> for Value<S> {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl<S> From<u32> for Value<S> {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl<S> From<u16> for Value<S> {
    fn from(i: u16) -> Self {
        Value::Int(i64::from(i))
    }
}
impl<S> From<u8> for Value<S> {
    fn from(i: u8) -> Self {
        Value::Int(i64::from(i))
    }
}
impl<S> From<f64> for Value<S> {
    fn from(x: f64) -> Self {
        Value::float(x)
    }
}

impl<S: AsRef<str>> fmt::Display for Value<S> {
    /// Formats the value as a person would read it: `null`, `true`, `42`, `23.5`, `SW`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s.as_ref()),
        }
    }
}

impl<S: AsRef<str>> Serialize for Value<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        if serializer.is_human_readable() {
            match self {
                Value::Null => serializer.serialize_none(),
                Value::Bool(b) => serializer.serialize_bool(*b),
                Value::Int(i) => serializer.serialize_i64(*i),
                Value::Float(x) => serializer.serialize_f64(*x),
                Value::Text(s) => serializer.serialize_str(s.as_ref()),
            }
        } else {
            match self {
                Value::Null => serializer.serialize_unit_variant("Value", 0, "Null"),
                Value::Bool(b) => serializer.serialize_newtype_variant("Value", 1, "Bool", b),
                Value::Int(i) => serializer.serialize_newtype_variant("Value", 2, "Int", i),
                Value::Float(x) => serializer.serialize_newtype_variant("Value", 3, "Float", x),
                Value::Text(s) => {
                    serializer.serialize_newtype_variant("Value", 4, "Text", s.as_ref())
                }
            }
        }
    }
}

impl<'de, S> Deserialize<'de> for Value<S>
where
    S: for<'a> TryFrom<&'a str>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(ScalarVisitor(PhantomData))
        } else {
            deserializer.deserialize_enum("Value", TAGS, TaggedVisitor(PhantomData))
        }
    }
}

const TAGS: &[&str] = &["Null", "Bool", "Int", "Float", "Text"];

#[derive(Deserialize)]
enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Text,
}

fn text_from<S, E>(s: &str) -> Result<S, E>
where
    S: for<'a> TryFrom<&'a str>,
    E: de::Error,
{
    S::try_from(s).map_err(|_| E::invalid_length(s.len(), &"text within the value's capacity"))
}

struct ScalarVisitor<S>(PhantomData<S>);

impl<'de, S> Visitor<'de> for ScalarVisitor<S>
where
    S: for<'a> TryFrom<&'a str>,
{
    type Value = Value<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar: int, float, string, bool or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        #[allow(clippy::cast_precision_loss)]
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        text_from(v).map(Value::Text)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

struct TaggedVisitor<S>(PhantomData<S>);

impl<'de, S> Visitor<'de> for TaggedVisitor<S>
where
    S: for<'a> TryFrom<&'a str>,
{
    type Value = Value<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged scalar value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        Ok(match tag {
            Tag::Null => {
                variant.unit_variant()?;
                Value::Null
            }
            Tag::Bool => Value::Bool(variant.newtype_variant()?),
            Tag::Int => Value::Int(variant.newtype_variant()?),
            Tag::Float => Value::float(variant.newtype_variant()?),
            Tag::Text => Value::Text(variant.newtype_variant_seed(TextSeed(PhantomData))?),
        })
    }
}

struct TextSeed<S>(PhantomData<S>);

impl<'de, S> DeserializeSeed<'de> for TextSeed<S>
where
    S: for<'a> TryFrom<&'a str>,
{
    type Value = S;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, S> Visitor<'de> for TextSeed<S>
where
    S: for<'a> TryFrom<&'a str>,
{
    type Value = S;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<S, E> {
        text_from(v)
    }
}

/// The unit of a reading, as the contract spells it (`"C"`, `"%"`, `"mbar"`, ...).
///
/// A `Unit` is a `&'static str` with named constants for the contract's units, so a typo is a
/// compile error while a source can still declare a unit of its own with [`Unit::new`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Unit(&'static str);

impl Unit {
    /// Degrees Celsius.
    pub const CELSIUS: Unit = Unit("C");
    /// Percent (relative humidity, CPU, memory, battery, ...).
    pub const PERCENT: Unit = Unit("%");
    /// Millibar (= hectopascal), as the Sense HAT and Aranet4 report pressure.
    pub const MILLIBAR: Unit = Unit("mbar");
    /// Millibar as wttr.in's readings spell it (`weather_pressure`).
    pub const MILLIBAR_SHORT: Unit = Unit("mb");
    /// CO2 concentration, parts per million.
    pub const PPM: Unit = Unit("ppm");
    /// Run-queue load average.
    pub const LOAD: Unit = Unit("load");
    /// A count of devices (Tailscale peers).
    pub const DEVICES: Unit = Unit("devices");
    /// A count of DNS queries (Pi-hole).
    pub const QUERIES: Unit = Unit("queries");
    /// A count of blocked queries (Pi-hole).
    pub const ADS: Unit = Unit("ads");
    /// Kilometres per hour (wind).
    pub const KILOMETRES_PER_HOUR: Unit = Unit("km/h");
    /// Kilometres (visibility).
    pub const KILOMETRES: Unit = Unit("km");
    /// Frames per second (camera).
    pub const FRAMES_PER_SECOND: Unit = Unit("fps");
    /// Seconds (uptimes, durations).
    pub const SECONDS: Unit = Unit("seconds");
    /// Megabytes (10^6 bytes).
    pub const MEGABYTES: Unit = Unit("MB");
    /// Received signal strength, dBm.
    pub const DBM: Unit = Unit("dBm");

    /// A unit the constants above do not name.
    pub const fn new(symbol: &'static str) -> Unit {
        Unit(symbol)
    }

    /// The unit as written on the wire.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Unit {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.serialize_str(self.0)
    }
}

/// One sensor's value at one moment, as a source produces it: `cpu_percent = 23.5 %`.
///
/// The bus adds the timestamp when it stores the measurement as a reading.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement<S = Text> {
    /// The sensor id within its source, e.g. `cpu_temp` or `office:co2`.
    pub sensor: S,
    /// The value.
    pub value: Value<S>,
    /// The unit, if the value has one.
    pub unit: Option<Unit>,
}

impl<S> Measurement<S> {
    /// A measurement of `sensor` with `value` in `unit`.
    pub fn new(sensor: S, value: impl Into<Value<S>>, unit: Option<Unit>) -> Self {
        Measurement {
            sensor,
            value: value.into(),
            unit,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    type V = Value<String>;

    #[test]
    fn json_is_a_bare_scalar_like_the_contract() {
        let cases: [(V, &str); 6] = [
            (Value::Null, "null"),
            (Value::Bool(true), "true"),
            (Value::Int(450), "450"),
            (Value::Float(18.0), "18.0"),
            (Value::Float(22.1), "22.1"),
            (Value::Text("Partly cloudy".into()), "\"Partly cloudy\""),
        ];
        for (value, json) in cases {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<V>(json).unwrap(), value, "{json}");
        }
    }

    #[test]
    fn json_refuses_nested_values() {
        assert!(serde_json::from_str::<V>("[1,2]").is_err());
        assert!(serde_json::from_str::<V>("{\"a\":1}").is_err());
    }

    #[test]
    fn huge_unsigned_json_numbers_become_floats() {
        let v: V = serde_json::from_str("18446744073709551615").unwrap();
        assert!(matches!(v, Value::Float(_)));
    }

    #[test]
    fn non_finite_floats_are_null() {
        assert_eq!(V::float(f64::NAN), Value::Null);
        assert_eq!(V::float(f64::INFINITY), Value::Null);
        assert_eq!(V::from(f64::NEG_INFINITY), Value::Null);
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(V::rounded(23.45, 1), Value::Float(23.5));
        assert_eq!(V::rounded(-23.45, 1), Value::Float(-23.5));
        assert_eq!(V::rounded(1.234, 2), Value::Float(1.23));
        assert_eq!(V::rounded(0.0, 0), Value::Float(0.0));
        assert_eq!(V::rounded(f64::NAN, 1), Value::Null);
    }

    #[test]
    fn postcard_round_trips_every_kind_without_alloc_types() {
        let cases: [Value; 5] = [
            Value::Null,
            Value::Bool(false),
            Value::Int(-7),
            Value::Float(1013.25),
            Value::text("SW"),
        ];
        for value in cases {
            let bytes = postcard::to_stdvec(&value).unwrap();
            let back: Value = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn text_is_cut_at_a_char_boundary() {
        let long = "é".repeat(40); // 80 bytes
        let Value::Text(t) = Value::text(&long) else {
            panic!("not text")
        };
        assert_eq!(t.len(), 64);
        assert!(t.chars().all(|c| c == 'é'));
    }

    #[test]
    fn json_text_over_capacity_is_an_error_for_fixed_text() {
        let long = std::format!("\"{}\"", "x".repeat(65));
        assert!(serde_json::from_str::<Value>(&long).is_err());
        assert!(serde_json::from_str::<Value>("\"short\"").is_ok());
    }

    #[test]
    fn units_serialize_as_their_symbol() {
        assert_eq!(serde_json::to_string(&Unit::MILLIBAR).unwrap(), "\"mbar\"");
        assert_eq!(Unit::CELSIUS.as_str(), "C");
    }
}
