//! The fields a type knows at a path inside it, to list them when a document names one it does
//! not know. Derived and Kubernetes types alike hand their field list to the deserializer
//! (`deserialize_struct`), so a deserializer that presents nothing but the path down to that
//! struct, and stops there, learns the list without any schema.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::path::Segment;

/// The field names of the struct at `path` inside `T`; `None` when no struct sits there (a map,
/// or a shape this walk cannot follow).
pub(super) fn fields_at<'de, T: de::Deserialize<'de>>(
    path: &[Segment],
) -> Option<&'static [&'static str]> {
    match T::deserialize(Driver { rest: path }) {
        Err(Stop::Fields(fields)) => Some(fields),
        _ => None,
    }
}

/// How the walk ends: at a struct with its fields, or anywhere else.
#[derive(Debug)]
enum Stop {
    Fields(&'static [&'static str]),
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field list probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop::Other
    }
}

/// Presents a mapping with one key or a sequence with one element per segment of `rest`.
struct Driver<'p> {
    rest: &'p [Segment],
}

impl<'de> de::Deserializer<'de> for Driver<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        match self.rest.split_first() {
            Some((Segment::Key(key), rest)) => visitor.visit_map(OneEntry {
                key: Some(key),
                rest,
            }),
            Some((Segment::Index(_), rest)) => visitor.visit_seq(OneElement { rest: Some(rest) }),
            None => Err(Stop::Other),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        if self.rest.is_empty() {
            return Err(Stop::Fields(fields));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct OneEntry<'p> {
    key: Option<&'p str>,
    rest: &'p [Segment],
}

impl<'de> MapAccess<'de> for OneEntry<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(key) => {
                let key: StrDeserializer<'_, Stop> = key.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Err(Stop::Other),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        seed.deserialize(Driver { rest: self.rest })
    }
}

struct OneElement<'p> {
    rest: Option<&'p [Segment]>,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Stop> {
        match self.rest.take() {
            Some(rest) => seed.deserialize(Driver { rest }).map(Some),
            None => Err(Stop::Other),
        }
    }
}
