//! Where a value stands in the legacy `config.yaml`: its line, found by the YAML reader itself
//! (serde_yaml's positions), down to a key inside a list element.

use std::fmt;

use sense_bus::SectionName;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::RENAMED;

/// A step on the way to a value in the YAML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The value of a key, under any of these names.
    Key(Vec<String>),
    /// An element of a list.
    Index(usize),
}

impl Step {
    pub(super) fn key(name: &str) -> Step {
        Step::Key(vec![name.to_owned()])
    }
}

/// The 1-based line of the value at `path` in `text` (of its key, when the path ends at a key),
/// or of the nearest enclosing value found.
pub(super) fn find_line(text: &str, path: &[Step]) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|len| line_of(text, &path[..len]))
}

/// What a [`Seek`] raises where it arrives, so the YAML reader says where that is.
const HERE: &str = "\u{0}sense-pulse: here";

/// The line of exactly `path`, if it is in `text`: YAML's own reader walks to it and stops there
/// with an error, which carries the position.
pub(super) fn line_of(text: &str, path: &[Step]) -> Option<usize> {
    let reader = serde_norway::Deserializer::from_str(text);
    match Seek(path).deserialize(reader) {
        // The message starts with the path of the value (`display.rotation: `).
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| l.line()),
        _ => None,
    }
}

/// Walks the YAML along a path and fails with [`HERE`] at its end.
pub(super) struct Seek<'a>(&'a [Step]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seek<'_> {
    /// A value with nothing under it: here if the path ends, else the path is not in the file.
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (names, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(HERE)),
            Some((Step::Key(names), rest)) => (names, rest),
            Some((Step::Index(_), _)) => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        while let Some(found) = map.next_key_seed(KeySeed {
            names,
            here: rest.is_empty(),
        })? {
            if found {
                map.next_value_seed(Seek(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (index, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(HERE)),
            Some((Step::Index(index), rest)) => (*index, rest),
            Some((Step::Key(_), _)) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        let mut i = 0;
        loop {
            let more = if i == index {
                seq.next_element_seed(Seek(rest))?
            } else {
                seq.next_element::<IgnoredAny>()?.map(drop)
            };
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// A key of a mapping: whether it is one of `names` (and, when the path ends at it, [`HERE`]).
pub(super) struct KeySeed<'a> {
    names: &'a [String],
    here: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let found = self.names.iter().any(|n| n == key);
        if found && self.here {
            Err(E::custom(HERE))
        } else {
            Ok(found)
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// `[0].mac` as steps, a key under its stored name or the name the monolith used.
pub(super) fn steps_of(section: SectionName, list: &str, rest: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (digits, tail) = after.split_once(']').unwrap_or((after, ""));
            match digits.parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => break,
            }
            rest = tail;
        } else {
            let after = rest.strip_prefix('.').unwrap_or(rest);
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            let mut names = vec![key.to_owned()];
            names.extend(
                RENAMED
                    .iter()
                    .filter(|(s, l, _, to)| *s == section && *l == list && *to == key)
                    .map(|(_, _, from, _)| (*from).to_owned()),
            );
            steps.push(Step::Key(names));
            rest = &after[end..];
        }
    }
    steps
}
