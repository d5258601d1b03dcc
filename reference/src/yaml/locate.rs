//! Finding a node of a YAML document by path, with nothing but serde_yaml's public API.
//!
//! serde_yaml exposes no spans, but it does stamp every error raised while a node is being
//! deserialized with that node's position. Walking the document along a path and raising an error
//! (or running a real deserializer) at the target node therefore yields exact positions for checks
//! that can only run after the whole file is parsed (dangling references, duplicate names, ...)
//! and exact, path-prefixed errors for objects typed only once their `kind` is known.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use super::path::{Location, Segment, YamlPath};

const SENTINEL: &str = "gatesim-locate-sentinel";

/// A text a [`DocumentIndex`] is alive for, known by its address and length, and where each
/// of its documents starts: byte offset, and lines before it.
struct Indexed {
    address: usize,
    len: usize,
    starts: Rc<[(usize, usize)]>,
}

thread_local! {
    static INDEXED: RefCell<Vec<Indexed>> = const { RefCell::new(Vec::new()) };
}

/// While alive, document `n` of `text` is read from its own part of the text instead of after
/// parsing the `n` documents before it (serde_yaml reaches a document only through those
/// before it, which made a file of thousands of objects cost the square of its size), by
/// `locate`, `locate_key` and `decode`; positions are moved down by the lines before the
/// part, so they are those in the whole text. The index borrows `text`, so its address
/// cannot be reused by another text while it is registered.
pub struct DocumentIndex<'a> {
    text: &'a str,
    registered: bool,
}

impl<'a> DocumentIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = document_starts(text).filter(|starts| !starts.is_empty());
        let registered = starts.is_some();
        if let Some(starts) = starts {
            INDEXED.with(|i| {
                i.borrow_mut().push(Indexed {
                    address: text.as_ptr() as usize,
                    len: text.len(),
                    starts: starts.into(),
                })
            });
        }
        DocumentIndex { text, registered }
    }
}

impl Drop for DocumentIndex<'_> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let key = (self.text.as_ptr() as usize, self.text.len());
        INDEXED.with(|i| {
            let mut i = i.borrow_mut();
            if let Some(at) = i.iter().rposition(|x| (x.address, x.len) == key) {
                i.remove(at);
            }
        });
    }
}

/// The byte offset of the line holding each document's root node, and the lines before it,
/// in one pass, for the documents before the first that does not read to its end (a syntax
/// error, an unknown alias, an empty document): those after it are not indexed. `None` when
/// the positions cannot be told (a byte order mark, a root without a position, lines not
/// broken by `\n`), and then nothing is indexed.
///
/// Stopping there is what keeps this safe: libyaml resumes after an unknown alias, in the
/// middle of the document, and serde_yaml panics on the unbalanced events that follow.
fn document_starts(text: &str) -> Option<Vec<(usize, usize)>> {
    if text.starts_with('\u{feff}') {
        return None;
    }
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for deserializer in serde_yaml::Deserializer::from_str(text) {
        let Some(read) = sentinel_raised(deserializer, &[], Sentinel::WHOLE) else {
            break;
        };
        let index = read.location()?.index();
        let start = text.get(..index)?.rfind('\n').map_or(0, |i| i + 1);
        let (last, lines) = starts.last().copied().unwrap_or((0, 0));
        if !starts.is_empty() && last >= start {
            return None;
        }
        starts.push((start, lines + text[last..start].matches('\n').count()));
    }
    Some(starts)
}

/// Whether document `document` of `source` reads to its end without an error, when every
/// document before it does (the caller's promise: after one that does not, the documents
/// serde_yaml yields are not whole). Answered by the index when one is alive for `source`.
pub(super) fn reads_whole(source: &str, document: usize) -> bool {
    indexed_starts(source).is_some_and(|starts| document < starts.len())
        || self::document(source, document).is_some_and(|(deserializer, _)| {
            sentinel_raised(deserializer, &[], Sentinel::WHOLE).is_some()
        })
}

/// Where the documents of `source` start, when a [`DocumentIndex`] of it is alive here.
fn indexed_starts(source: &str) -> Option<Rc<[(usize, usize)]>> {
    let key = (source.as_ptr() as usize, source.len());
    INDEXED.with(|i| {
        i.borrow()
            .iter()
            .rev()
            .find(|x| (x.address, x.len) == key)
            .map(|x| Rc::clone(&x.starts))
    })
}

/// Document `document` of `source` alone, with the lines of `source` before it, when a
/// [`DocumentIndex`] of `source` is alive on this thread.
fn indexed_document(source: &str, document: usize) -> Option<(&str, usize)> {
    let starts = indexed_starts(source)?;
    let (start, lines) = *starts.get(document)?;
    let end = starts.get(document + 1).map_or(source.len(), |s| s.0);
    Some((source.get(start..end)?, lines))
}

/// Document `document` of `source`, and the lines of `source` before the text it is read
/// from (to add to positions in it): its own part when indexed, else the whole text.
pub(super) fn document(
    source: &str,
    document: usize,
) -> Option<(serde_yaml::Deserializer<'_>, usize)> {
    match indexed_document(source, document) {
        Some((part, lines)) => Some((serde_yaml::Deserializer::from_str(part).next()?, lines)),
        None => Some((serde_yaml::Deserializer::from_str(source).nth(document)?, 0)),
    }
}

/// The error a walk along `rest` raised with `seed`'s sentinel, which carries the position
/// it was raised at.
fn sentinel_raised<'de, S: DeserializeSeed<'de, Value = ()>>(
    deserializer: serde_yaml::Deserializer<'de>,
    rest: &[Segment],
    seed: S,
) -> Option<serde_yaml::Error> {
    match (Walk { rest, seed }).deserialize(deserializer) {
        Err(error) if error.to_string().contains(SENTINEL) => Some(error),
        _ => None,
    }
}

/// The position of the node at `path` in document `document` (0-based) of `source`.
pub fn locate(source: &str, document: usize, path: &YamlPath) -> Option<Location> {
    let (deserializer, lines) = self::document(source, document)?;
    let error = sentinel_raised(deserializer, path.segments(), Sentinel::AT)?;
    Some(Location::of(&error)?.below(lines))
}

/// The position of the *key* that `path` ends with (rather than of its value): where an unknown
/// field or a duplicate key is written. The first such key when the mapping repeats it.
pub fn locate_key(source: &str, document: usize, path: &YamlPath) -> Option<Location> {
    let (Some(Segment::Key(wanted)), Some(parent)) = (path.segments().last(), path.parent()) else {
        return None;
    };
    let (deserializer, lines) = self::document(source, document)?;
    let error = sentinel_raised(deserializer, parent.segments(), KeySentinel { wanted })?;
    Some(Location::of(&error)?.below(lines))
}

/// Deserializes the node at `path` in document `document` of `source` as `T`. serde_yaml's
/// errors then carry the node's full path and exact position (this reads the whole text,
/// indexed or not, since a `serde_yaml::Error`'s position cannot be moved). `Ok(None)`: no
/// such node.
pub fn deserialize_at<T: DeserializeOwned>(
    source: &str,
    document: usize,
    path: &YamlPath,
) -> Result<Option<T>, serde_yaml::Error> {
    match serde_yaml::Deserializer::from_str(source).nth(document) {
        Some(deserializer) => walk(deserializer, path, PhantomData::<T>),
        None => Ok(None),
    }
}

/// Deserializes the node at `path` of one document with a seed of the caller's.
pub(super) fn walk<'de, T>(
    deserializer: serde_yaml::Deserializer<'de>,
    path: &YamlPath,
    seed: impl DeserializeSeed<'de, Value = T>,
) -> Result<Option<T>, serde_yaml::Error> {
    Walk {
        rest: path.segments(),
        seed,
    }
    .deserialize(deserializer)
}

/// Fails on the key `wanted` of the mapping it is given, so that serde_yaml records the key's
/// position.
struct KeySentinel<'a> {
    wanted: &'a str,
}

impl<'de> DeserializeSeed<'de> for KeySentinel<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeySentinel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(KeyMatch(self.wanted))?.is_some() {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// A mapping key that fails when it is the one wanted.
struct KeyMatch<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // The check runs inside the key's own visit: serde_yaml stamps an error with the
        // position of the node it is deserializing, which outside the visit is the mapping.
        deserializer.deserialize_any(CheckedKey(|key: &str| match key == self.0 {
            true => Err(SENTINEL.to_owned()),
            false => Ok(()),
        }))
    }
}

/// Reads a scalar mapping key as text and hands it to a check, failing inside the visit (so at
/// the key's position) when the check fails.
pub(super) struct CheckedKey<F>(pub F);

impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for CheckedKey<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        self.visit_str("null")
    }
}

/// Fails on whatever node it is given, so that serde_yaml records that node's position.
/// `whole` first reads the node's children to their end: a document whose root raises it
/// then was read whole without an error.
struct Sentinel {
    whole: bool,
}

impl Sentinel {
    const AT: Sentinel = Sentinel { whole: false };
    const WHOLE: Sentinel = Sentinel { whole: true };
}

impl<'de> DeserializeSeed<'de> for Sentinel {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

fn sentinel<E: de::Error>() -> Result<(), E> {
    Err(E::custom(SENTINEL))
}

impl<'de> Visitor<'de> for Sentinel {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        sentinel()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        sentinel()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        sentinel()
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        sentinel()
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        sentinel()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        sentinel()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        sentinel()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        sentinel()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        sentinel()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while self.whole && seq.next_element::<IgnoredAny>()?.is_some() {}
        sentinel()
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while self.whole && map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        sentinel()
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        if self.whole {
            let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
            de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        }
        sentinel()
    }
}

/// Walks `rest` down the document, then hands the target node to `seed`.
struct Walk<'p, S> {
    rest: &'p [Segment],
    seed: S,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Walk<'_, S> {
    type Value = Option<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        if self.rest.is_empty() {
            return self.seed.deserialize(deserializer).map(Some);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Walk<'_, S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a sequence")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (head, tail) = (&self.rest[0], &self.rest[1..]);
        let mut seed = Some(self.seed);
        let mut found = None;
        while let Some(KeyText(key)) = map.next_key()? {
            match (head, seed.take()) {
                (Segment::Key(wanted), Some(s)) if *wanted == key => {
                    found = map.next_value_seed(Walk {
                        rest: tail,
                        seed: s,
                    })?;
                }
                (_, unused) => {
                    seed = unused;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (head, tail) = (&self.rest[0], &self.rest[1..]);
        let mut seed = Some(self.seed);
        let mut found = None;
        let mut index = 0;
        loop {
            let more = match (head, seed.take()) {
                (Segment::Index(wanted), Some(s)) if *wanted == index => {
                    match seq.next_element_seed(Walk {
                        rest: tail,
                        seed: s,
                    })? {
                        Some(value) => {
                            found = value;
                            true
                        }
                        None => false,
                    }
                }
                (_, unused) => {
                    seed = unused;
                    seq.next_element::<IgnoredAny>()?.is_some()
                }
            };
            if !more {
                return Ok(found);
            }
            index += 1;
        }
    }

    // Scalars have no children: the path does not exist.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A mapping key of any scalar type, as text.
struct KeyText(String);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedKey(|key: &str| Ok(KeyText(key.to_owned()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every document, taken alone from an index, decodes as it does after the documents
    /// before it: markers, directives, comments, indented and flow roots, block scalars,
    /// empty documents, CRLF and multi-byte text.
    #[test]
    fn a_document_alone_is_the_document_in_place() {
        let texts = [
            "a: 1\n---\nb: 2\n",
            "---\n---\nkind: x\n---\n# a comment\n\n  c: 3\n  d: [4]\n",
            "--- !!map\nd: 4\n--- |\n  text\n  more\n---\n- 1\n- 2\n...\n--- {e: 5}\n",
            "%YAML 1.2\n---\nf: 6\n---\ng: [1,\n 2]\n",
            "x: 1\n---\n",
            "a: 1\r\n---\r\nb: 2\r\n",
            "name: é\n---\nname: ü\n---\nname: \"tab\\there\"\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  labels: {x: y}\n",
        ];
        for text in texts {
            let count = serde_yaml::Deserializer::from_str(text).count();
            let in_place: Vec<_> = (0..count)
                .map(|n| deserialize_at::<serde_json::Value>(text, n, &YamlPath::root()).ok())
                .collect();
            let index = DocumentIndex::new(text);
            assert!(index.registered, "{text:?} is indexed");
            for (n, want) in in_place.iter().enumerate() {
                let (alone, _) = indexed_document(text, n).expect("an indexed document");
                let got = deserialize_at::<serde_json::Value>(alone, 0, &YamlPath::root()).ok();
                assert_eq!(&got, want, "document {n} of {text:?}, alone: {alone:?}");
            }
            assert!(indexed_document(text, count).is_none());
            drop(index);
            assert!(
                indexed_document(text, 0).is_none(),
                "unregistered when dropped"
            );
        }
    }

    /// Problems found in a document read alone carry the positions they have in the whole
    /// text: a type error, an unknown field, a node located by path.
    #[test]
    fn problems_in_an_indexed_document_keep_their_place() {
        type Service = k8s_openapi::api::core::v1::Service;
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n# two\n\
                    apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports: 5\n---\n\
                    apiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec:\n  portz: []\n";
        let at = YamlPath::root().key("spec").key("portz");
        let whole: Vec<_> = (0..3)
            .map(|n| super::super::decode::<Service>(text, n, &YamlPath::root()).err())
            .collect();
        let located = (locate(text, 2, &at), locate_key(text, 2, &at));
        let index = DocumentIndex::new(text);
        assert!(index.registered);
        let alone: Vec<_> = (0..3)
            .map(|n| super::super::decode::<Service>(text, n, &YamlPath::root()).err())
            .collect();
        assert_eq!(alone, whole);
        assert!(
            whole[0].is_none() && whole[1].is_some() && whole[2].is_some(),
            "{whole:?}"
        );
        assert_eq!((locate(text, 2, &at), locate_key(text, 2, &at)), located);
        assert_eq!(located.1.map(|l| l.line), Some(16));
    }

    /// A text that cannot be indexed is decoded the slow way, never wrongly.
    #[test]
    fn what_cannot_be_indexed_is_not() {
        for text in [
            "a: [1\n---\nb: 2\n",
            "\u{feff}a: 1\n---\nb: 2\n",
            "a: 1\r---\rb: 2\r",
        ] {
            let index = DocumentIndex::new(text);
            assert!(!index.registered, "{text:?}");
            assert!(indexed_document(text, 0).is_none());
        }
    }

    /// libyaml goes on after an unknown alias from the middle of its document, and
    /// serde_yaml panics on what follows (found by `ci/fuzz-smoke`): the documents before
    /// the one with the alias are indexed, it and those after are read the slow way, and
    /// nothing panics.
    #[test]
    fn documents_after_an_unknown_alias_are_not_indexed() {
        let texts = [
            "a: 1\n---\nparentRefs:\n- port: 80\n  name: *nowhere\nkind: x\n---\nb: 2\n",
            "a: 1\n---\nlist: [*nowhere, 2]\n---\nb: 2\n",
            "a: 1\n---\n*nowhere: 1\nc: 2\n",
            "a: 1\n---\n*nowhere\n---\nb: 2\n",
        ];
        for text in texts {
            let index = DocumentIndex::new(text);
            assert!(index.registered, "{text:?}");
            assert!(indexed_document(text, 0).is_some(), "{text:?}");
            let a = locate(text, 0, &YamlPath::root().key("a"));
            assert_eq!(a, Some(Location { line: 1, column: 4 }));
            assert!(indexed_document(text, 1).is_none(), "{text:?}");
            assert!(reads_whole(text, 0));
            assert!(!reads_whole(text, 1), "{text:?}");
            assert!(locate(text, 1, &YamlPath::root().key("c")).is_none());
        }
    }

    const DOC: &str =
        "name: a\nsteps:\n- apply:\n  - {a: 1, b: [x, y]}\n  - kind: Foo\n    spec: {z: 3}\n";

    fn path(segments: &[Segment]) -> YamlPath {
        let mut p = YamlPath::root();
        for s in segments {
            p = match s {
                Segment::Key(k) => p.key(k),
                Segment::Index(i) => p.index(*i),
            };
        }
        p
    }

    fn k(s: &str) -> Segment {
        Segment::Key(s.to_owned())
    }

    #[test]
    fn locates_nodes_in_block_and_flow_style() {
        let z = path(&[
            k("steps"),
            Segment::Index(0),
            k("apply"),
            Segment::Index(1),
            k("spec"),
            k("z"),
        ]);
        assert_eq!(
            locate(DOC, 0, &z),
            Some(Location {
                line: 6,
                column: 15
            })
        );
        let y = path(&[
            k("steps"),
            Segment::Index(0),
            k("apply"),
            Segment::Index(0),
            k("b"),
            Segment::Index(1),
        ]);
        assert_eq!(
            locate(DOC, 0, &y),
            Some(Location {
                line: 4,
                column: 19
            })
        );
        let second = path(&[k("steps"), Segment::Index(0), k("apply"), Segment::Index(1)]);
        assert_eq!(
            locate(DOC, 0, &second),
            Some(Location { line: 5, column: 5 })
        );
    }

    #[test]
    fn missing_paths_have_no_location() {
        assert_eq!(locate(DOC, 0, &path(&[k("nope")])), None);
        assert_eq!(locate(DOC, 0, &path(&[k("name"), k("deeper")])), None);
        assert_eq!(
            locate(DOC, 0, &path(&[k("steps"), Segment::Index(7)])),
            None
        );
        assert_eq!(locate(DOC, 1, &path(&[k("name")])), None);
    }

    #[test]
    fn locates_in_later_documents() {
        let doc = "a: 1\n---\nb:\n  c: 2\n";
        assert_eq!(
            locate(doc, 1, &path(&[k("b"), k("c")])),
            Some(Location { line: 4, column: 6 })
        );
    }

    #[test]
    fn deserializes_a_subtree_with_full_paths_in_errors() {
        let p = path(&[
            k("steps"),
            Segment::Index(0),
            k("apply"),
            Segment::Index(1),
            k("spec"),
            k("z"),
        ]);
        let z: Option<u32> = deserialize_at(DOC, 0, &p).unwrap();
        assert_eq!(z, Some(3));
        let error = deserialize_at::<bool>(DOC, 0, &p).unwrap_err();
        assert_eq!(
            error.to_string(),
            "steps[0].apply[1].spec.z: invalid type: integer `3`, expected a boolean at line 6 column 15"
        );
    }
}
