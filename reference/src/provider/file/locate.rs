//! Finding where something is in a YAML document, by making serde_yaml report it.
//!
//! serde_yaml does not hand out positions to visitors; it attaches the position and field path
//! of the value being decoded to any error raised while decoding it. So to point at a value
//! (the `kind` of a document we skip, the `metadata.name` of a duplicate, the field a
//! validation finding names), we decode the document with a probe that walks to that value and
//! fails there on purpose.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::validate::{FieldPath, Seg};

/// One step from a value to a value inside it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A path of map keys only.
pub(super) fn keys<'a>(path: &[&'a str]) -> Vec<Step<'a>> {
    path.iter().map(|k| Step::Key(k)).collect()
}

/// The steps of a validation finding's field path.
pub(super) fn steps(path: &FieldPath) -> Vec<Step<'_>> {
    path.0
        .iter()
        .map(|seg| match seg {
            Seg::Field(name) => Step::Key(name),
            Seg::Key(key) => Step::Key(key),
            Seg::Index(i) => Step::Index(*i),
        })
        .collect()
}

/// An error positioned at the value under `path` (from the document root), or at the
/// innermost mapping or sequence on the way when the path does not exist, carrying `message`.
pub(super) fn locate(
    doc: serde_yaml::Deserializer<'_>,
    path: &[Step<'_>],
    message: &str,
) -> serde_yaml::Error {
    match (Probe { path, message }).deserialize(doc) {
        Err(err) => err,
        Ok(never) => match never {},
    }
}

/// Like [`locate`], for document number `index` (from 0) of a whole file.
pub(super) fn locate_in_text(
    text: &str,
    index: usize,
    path: &[Step<'_>],
    message: &str,
) -> serde_yaml::Error {
    match serde_yaml::Deserializer::from_str(text).nth(index) {
        Some(doc) => locate(doc, path, message),
        None => de::Error::custom(message),
    }
}

/// Never produced: the probe always fails.
enum Never {}

struct Probe<'a> {
    path: &'a [Step<'a>],
    message: &'a str,
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = Never;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Never, D::Error> {
        // Going through the deserializer (rather than failing right here) matters: serde_yaml
        // stamps the error with the position of the value it was asked to decode.
        deserializer.deserialize_any(self)
    }
}

macro_rules! fail_on {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, $(_: $arg),*) -> Result<Never, E> {
            Err(E::custom(self.message))
        }
    )*};
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = Never;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.message)
    }

    fail_on! {
        visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_i128(i128), visit_u128(u128),
        visit_f64(f64), visit_str(&str), visit_bytes(&[u8]), visit_unit(), visit_none(),
    }

    fn visit_some<D: de::Deserializer<'de>>(self, _: D) -> Result<Never, D::Error> {
        Err(de::Error::custom(self.message))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Never, A::Error> {
        let Some((Step::Index(wanted), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(self.message));
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(self.message));
            }
        }
        let probe = Probe {
            path: rest,
            message: self.message,
        };
        match seq.next_element_seed(probe)? {
            Some(never) => match never {},
            None => Err(de::Error::custom(self.message)),
        }
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Never, A::Error> {
        Err(de::Error::custom(self.message))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Never, A::Error> {
        let Some((Step::Key(first), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(self.message));
        };
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            if key.as_str() == Some(*first) {
                return map.next_value_seed(Probe {
                    path: rest,
                    message: self.message,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom(self.message))
    }
}
