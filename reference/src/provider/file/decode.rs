//! Decoding one YAML file into model objects, with the position of every problem.
//!
//! serde_yaml reports absolute line and column for any document of a multi-document file, and
//! the field path, but only while it deserializes straight into the target type: going
//! through `serde_json::Value` first would lose both. A document can be deserialized once, so
//! a file is walked twice: a cheap first pass reads `apiVersion` and `kind` of every document
//! (and meets any syntax error, after which libyaml cannot resume), the second decodes each
//! document directly into the kind it names.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Diagnostic;
use crate::api::GATEWAY_GROUP;
use crate::model::{KindVisitor, ObjectKey, ResourceSet, StoredKind, api_group, visit_kind};
use crate::validate::{FieldPath, Seg};
use crate::yaml::{self, Location, YamlPath};

/// What one file contributes to a snapshot.
#[derive(Debug, Default)]
pub(super) struct DecodedFile {
    /// The file's objects without errors, already behind `Arc`, so that assembling a snapshot
    /// from many files copies pointers, not objects.
    pub objects: ResourceSet,
    /// The document each object came from, to point at both places when one is defined twice.
    pub origins: HashMap<(String, ObjectKey), usize>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// What validation found wrong with the file's objects (they are kept: translation
    /// reports them in their status).
    pub invalid: Vec<Diagnostic>,
}

/// Decode every document of `text`; `file` is the name diagnostics show. A document with an
/// error is left out and the others are kept.
pub(super) fn decode_file(file: &Path, text: &str) -> DecodedFile {
    let mut out = DecodedFile::default();
    let _index = yaml::DocumentIndex::new(text);
    let mut headers = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        match Header::deserialize(doc) {
            Ok(header) => headers.push(header),
            Err(err) => {
                // Nothing after a syntax error can be trusted (and libyaml would repeat it).
                out.errors
                    .push(Diagnostic::problem(file, &yaml::Problem::from_yaml(&err)));
                break;
            }
        }
    }
    let duplicates: HashMap<usize, yaml::Problem> =
        yaml::duplicate_keys(text).into_iter().collect();
    for (index, header) in headers.iter().enumerate() {
        if let Some(problem) = duplicates.get(&index) {
            out.errors.push(Diagnostic::problem(file, problem));
            continue;
        }
        let ctx = DocContext { file, text, index };
        ctx.decode(header, &mut out);
    }
    out
}

struct DocContext<'a> {
    file: &'a Path,
    text: &'a str,
    index: usize,
}

impl DocContext<'_> {
    /// A diagnostic about the node at `path` (keys from the document root), led by the path
    /// as serde_yaml leads its own messages.
    fn at(&self, path: &[&str], message: &str) -> Diagnostic {
        let path = path.iter().fold(YamlPath::root(), |p, k| p.key(k));
        let location = yaml::locate(self.text, self.index, &path);
        let message = match path.is_root() {
            true => message.to_owned(),
            false => format!("{path}: {message}"),
        };
        Diagnostic::at(self.file, location, message)
    }

    fn decode(&self, header: &Header, out: &mut DecodedFile) {
        let api_version = match (&header.shape, &header.api_version) {
            (Shape::Empty, _) => return,
            (Shape::Other, _) => {
                return out.errors.push(self.at(
                    &[],
                    "expected a Kubernetes object (a mapping with `apiVersion` and `kind`)",
                ));
            }
            (Shape::Mapping, Field::Missing) => {
                return out.errors.push(self.at(&[], "missing field `apiVersion`"));
            }
            (Shape::Mapping, Field::NotString) => {
                return out
                    .errors
                    .push(self.at(&["apiVersion"], "expected a string"));
            }
            (Shape::Mapping, Field::Str(s)) => s.as_str(),
        };
        let kind = match &header.kind {
            Field::Missing => return out.errors.push(self.at(&[], "missing field `kind`")),
            Field::NotString => return out.errors.push(self.at(&["kind"], "expected a string")),
            Field::Str(s) => s.as_str(),
        };
        let group = api_group(api_version);
        if visit_kind(group, kind, IsStored).is_none() {
            let message =
                format!("`{kind}` of `{api_version}` is not a kind the controller reads; skipped");
            out.warnings.push(self.at(&["kind"], &message));
            return;
        }
        let decode = Decode {
            ctx: self,
            api_version,
            out,
        };
        visit_kind(group, kind, decode);
    }
}

struct IsStored;

impl KindVisitor for IsStored {
    type Output = ();
    fn visit<K: StoredKind>(self) {}
}

struct Decode<'a> {
    ctx: &'a DocContext<'a>,
    api_version: &'a str,
    out: &'a mut DecodedFile,
}

impl KindVisitor for Decode<'_> {
    type Output = ();

    fn visit<K: StoredKind>(self) {
        let Decode {
            ctx,
            api_version,
            out,
        } = self;
        let mut obj =
            match decode_object::<K>(ctx.text, ctx.index, &YamlPath::root(), api_version, None) {
                Ok(obj) => obj,
                Err(problems) => {
                    let problems = problems.iter().map(|p| Diagnostic::problem(ctx.file, p));
                    return out.errors.extend(problems);
                }
            };
        if obj.meta().name.as_deref().unwrap_or_default().is_empty() {
            return out
                .errors
                .push(ctx.at(&["metadata"], "missing field `name`"));
        }
        // As the API server does: a namespaced object without a namespace lands in `default`,
        // and a cluster-scoped one has none whatever the file says.
        let namespace = &mut obj.meta_mut().namespace;
        if !K::NAMESPACED {
            *namespace = None;
        } else if namespace.as_deref().unwrap_or_default().is_empty() {
            *namespace = Some("default".to_string());
        }
        let key = ObjectKey::of(&obj);
        let origin = (K::kind(&()).into_owned(), key);
        if let Some(&first) = out.origins.get(&origin) {
            let first = name_location(ctx.text, first);
            let message = duplicate_message(&origin.0, &origin.1, ctx.file, first);
            return out.errors.push(ctx.at(&["metadata", "name"], &message));
        }
        out.origins.insert(origin, ctx.index);
        for finding in crate::validate::object(&obj) {
            let location = finding_location(ctx.text, ctx.index, &finding.path);
            out.invalid
                .push(Diagnostic::at(ctx.file, location, finding.to_string()));
        }
        out.objects.insert(obj);
    }
}

/// Decodes the object at `path` of document `document` as kind `K`, as the controller reads
/// it: only a version upstream serves, and no field `K` does not know. The one decoding of
/// the file provider, `translate` and the harness's scenario loader. `filled`: the object as
/// it will be used, when that differs from the text (see [`yaml::decode_value`]).
pub fn decode_object<K: StoredKind>(
    text: &str,
    document: usize,
    path: &YamlPath,
    api_version: &str,
    filled: Option<serde_json::Value>,
) -> Result<K, Vec<yaml::Problem>> {
    let version = api_version.rsplit('/').next().unwrap_or_default();
    if !served::<K>(version) {
        let at = path.key("apiVersion");
        return Err(vec![yaml::Problem {
            location: yaml::locate(text, document, &at),
            message: format!(
                "{at}: `{api_version}` is not a served version of {}; expected `{}`",
                K::kind(&()),
                K::api_version(&())
            ),
        }]);
    }
    match filled {
        Some(value) => yaml::decode_value::<K>(value, text, document, path),
        None => yaml::decode::<K>(text, document, path),
    }
}

/// Where `metadata.name` of document `document` is.
pub(super) fn name_location(text: &str, document: usize) -> Option<Location> {
    yaml::locate(
        text,
        document,
        &YamlPath::root().key("metadata").key("name"),
    )
}

/// Where the field a validation finding names is written; for a field the document leaves out
/// (a required one, or a default), the nearest value around it that it does write.
fn finding_location(text: &str, document: usize, path: &FieldPath) -> Option<Location> {
    let mut at = path.0.iter().fold(YamlPath::root(), |p, seg| match seg {
        Seg::Field(name) => p.key(name),
        Seg::Key(key) => p.key(key),
        Seg::Index(i) => p.index(*i),
    });
    loop {
        if let Some(location) = yaml::locate(text, document, &at) {
            return Some(location);
        }
        at = at.parent()?;
    }
}

/// The message for an object defined a second time; `first` is where the first one is.
pub(super) fn duplicate_message(
    kind: &str,
    key: &ObjectKey,
    file: &Path,
    first: Option<Location>,
) -> String {
    let place = match first {
        Some(loc) => format!("{}:{loc}", file.display()),
        None => file.display().to_string(),
    };
    format!("{kind} {key} is defined more than once (first at {place})")
}

/// Versions of a kind a file may use. Gateway API kinds share one schema across the versions
/// upstream serves; core kinds are decoded by types that accept exactly one.
fn served<K: StoredKind>(version: &str) -> bool {
    if K::group(&()) == GATEWAY_GROUP {
        matches!(version, "v1" | "v1beta1")
    } else {
        version == K::version(&())
    }
}

/// What the first pass learns about a document.
#[derive(Debug, Default)]
struct Header {
    shape: Shape,
    api_version: Field,
    kind: Field,
}

#[derive(Debug, Default)]
enum Shape {
    /// An empty document (a stray `---`, or only comments): nothing to decode.
    #[default]
    Empty,
    Mapping,
    Other,
}

#[derive(Debug, Default)]
enum Field {
    #[default]
    Missing,
    NotString,
    Str(String),
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderVisitor)
    }
}

/// Accepts any well-formed document, so that an error in the first pass is a YAML error.
struct HeaderVisitor;

fn other<E>() -> Result<Header, E> {
    Ok(Header {
        shape: Shape::Other,
        ..Header::default()
    })
}

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML document")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Header, E> {
        other()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Header, E> {
        other()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Header, E> {
        other()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Header, E> {
        other()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Header, E> {
        other()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        other()
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Header, A::Error> {
        // A tagged document (`!something`): consume it and report it as not an object.
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        other()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header {
            shape: Shape::Mapping,
            ..Header::default()
        };
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            let slot = match key.as_str() {
                Some("apiVersion") => &mut header.api_version,
                Some("kind") => &mut header.kind,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = match map.next_value::<serde_yaml::Value>()? {
                serde_yaml::Value::String(s) => Field::Str(s),
                _ => Field::NotString,
            };
        }
        Ok(header)
    }
}
