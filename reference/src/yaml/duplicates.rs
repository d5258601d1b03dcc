//! Duplicate mapping keys. YAML forbids them, but libyaml accepts them and most decoders keep
//! the last value without a word (Kubernetes types, `BTreeMap`, `serde_json::Value` all do), so
//! `metadata: {name: a, name: b}` would quietly become `b`. Every key of every mapping is checked
//! here, before any decoding.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::locate::{CheckedKey, locate_key, reads_whole};
use super::path::{Location, YamlPath};
use super::strict::Problem;

const SENTINEL: &str = "gatesim-duplicate-key";

/// The first duplicate key of each document of `text`, with its document index. Documents
/// after a syntax error are not checked (the decoder reports the syntax error).
pub fn duplicate_keys(text: &str) -> Vec<(usize, Problem)> {
    let mut found = Vec::new();
    for (document, deserializer) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let mut duplicate = None;
        let check = Check {
            path: YamlPath::root(),
            found: &mut duplicate,
        };
        let Err(error) = check.deserialize(deserializer) else {
            continue;
        };
        let Some(path) = duplicate else {
            break;
        };
        found.push((document, describe(text, document, &path, &error)));
        // The check stopped at the duplicate, before any error further on in the document;
        // after such an error serde_yaml's next documents are not whole.
        if !reads_whole(text, document) {
            break;
        }
    }
    found
}

fn describe(text: &str, document: usize, path: &YamlPath, error: &serde_yaml::Error) -> Problem {
    let first = match locate_key(text, document, path) {
        Some(first) => format!(" (first at {first})"),
        None => String::new(),
    };
    Problem {
        location: Location::of(error),
        message: format!("{path}: duplicate key; a mapping gives each key once{first}"),
    }
}

/// Walks a node, failing at the first key that its mapping already has.
struct Check<'a> {
    path: YamlPath,
    found: &'a mut Option<YamlPath>,
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Check {
                path: self.path.index(index),
                found: &mut *self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(Key {
            seen: &mut seen,
            path: &self.path,
            found: &mut *self.found,
        })? {
            map.next_value_seed(Check {
                path: self.path.key(&key),
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged node (`!tag value`): check the value.
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, self)
    }
}

/// A mapping key, failing (at the key's own position) when the mapping has had it before.
struct Key<'a> {
    seen: &'a mut HashSet<String>,
    path: &'a YamlPath,
    found: &'a mut Option<YamlPath>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(CheckedKey(|key: &str| {
            if !self.seen.insert(key.to_owned()) {
                *self.found = Some(self.path.key(key));
                return Err(SENTINEL.to_owned());
            }
            Ok(key.to_owned())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Vec<String> {
        duplicate_keys(text)
            .into_iter()
            .map(|(doc, p)| format!("{doc} {}: {}", p.location.unwrap(), p.message))
            .collect()
    }

    /// A duplicate before an unknown alias is reported, and the check stops there: libyaml
    /// goes on from the middle of the document, and serde_yaml panics on what follows.
    #[test]
    fn stops_after_a_document_that_does_not_read_whole() {
        let text = "a: 1\na: 2\nb: [*nowhere]\nc: 3\n---\nd: 1\nd: 2\n";
        assert_eq!(
            shown(text),
            ["0 2:1: a: duplicate key; a mapping gives each key once (first at 1:1)"]
        );
        let index = super::super::DocumentIndex::new(text);
        assert_eq!(shown(text).len(), 1);
        drop(index);
        let whole = "a: 1\na: 2\n---\nd: 1\nd: 2\n";
        assert_eq!(shown(whole).len(), 2);
    }

    #[test]
    fn finds_the_repeated_key_at_any_depth_in_any_document() {
        let text =
            "a: 1\n---\nmetadata:\n  name: x\n  labels: {k: v}\n  name: y\nlist:\n- {p: 1, p: 2}\n";
        assert_eq!(
            shown(text),
            ["1 6:3: metadata.name: duplicate key; a mapping gives each key once (first at 4:3)"]
        );
        assert_eq!(
            shown("list:\n- {p: 1, p: 2}\n"),
            ["0 2:10: list[0].p: duplicate key; a mapping gives each key once (first at 2:4)"]
        );
        assert!(shown("a: {b: 1}\nc: {b: 2}\n").is_empty());
    }
}
