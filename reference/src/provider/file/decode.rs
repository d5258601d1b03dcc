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
use super::locate::{keys, locate, locate_in_text, steps};
use crate::api::GATEWAY_GROUP;
use crate::model::{KindVisitor, ObjectKey, ResourceSet, StoredKind, api_group, visit_kind};

/// What one file contributes to a snapshot.
#[derive(Debug, Default)]
pub(super) struct DecodedFile {
    /// The file's objects, already behind `Arc`, so that assembling a snapshot from many files
    /// copies pointers, not objects.
    pub objects: ResourceSet,
    /// The document each object came from, to point at both places when one is defined twice.
    pub origins: HashMap<(String, ObjectKey), usize>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// What validation found wrong with the file's objects (they are kept: translation
    /// reports them in their status).
    pub invalid: Vec<Diagnostic>,
}

/// Decode every document of `text`; `file` is the name diagnostics show.
pub(super) fn decode_file(file: &Path, text: &str) -> DecodedFile {
    let mut out = DecodedFile::default();
    let mut headers = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        match Header::deserialize(doc) {
            Ok(header) => headers.push(header),
            Err(err) => {
                // Nothing after a syntax error can be trusted (and libyaml would repeat it).
                out.errors.push(Diagnostic::from_yaml(file, &err));
                break;
            }
        }
    }
    let docs = serde_yaml::Deserializer::from_str(text);
    for (index, (doc, header)) in docs.zip(&headers).enumerate() {
        let ctx = DocContext { file, text, index };
        ctx.decode(doc, header, &mut out);
    }
    out
}

struct DocContext<'a> {
    file: &'a Path,
    text: &'a str,
    index: usize,
}

impl DocContext<'_> {
    fn decode(&self, doc: serde_yaml::Deserializer<'_>, header: &Header, out: &mut DecodedFile) {
        let error = |path: &[&str], message: &str| {
            Diagnostic::from_yaml(
                self.file,
                &locate_in_text(self.text, self.index, &keys(path), message),
            )
        };
        let api_version = match (&header.shape, &header.api_version) {
            (Shape::Empty, _) => return,
            (Shape::Other, _) => {
                return out.errors.push(error(
                    &[],
                    "expected a Kubernetes object (a mapping with `apiVersion` and `kind`)",
                ));
            }
            (Shape::Mapping, Field::Missing) => {
                return out.errors.push(error(&[], "missing field `apiVersion`"));
            }
            (Shape::Mapping, Field::NotString) => {
                return out.errors.push(error(&["apiVersion"], "expected a string"));
            }
            (Shape::Mapping, Field::Str(s)) => s.as_str(),
        };
        let kind = match &header.kind {
            Field::Missing => return out.errors.push(error(&[], "missing field `kind`")),
            Field::NotString => return out.errors.push(error(&["kind"], "expected a string")),
            Field::Str(s) => s.as_str(),
        };
        let group = api_group(api_version);
        if visit_kind(group, kind, IsStored).is_none() {
            let message =
                format!("`{kind}` of `{api_version}` is not a kind the controller reads; skipped");
            out.warnings.push(Diagnostic::from_yaml(
                self.file,
                &locate(doc, &keys(&["kind"]), &message),
            ));
            return;
        }
        let decode = Decode {
            ctx: self,
            doc,
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

struct Decode<'a, 'de> {
    ctx: &'a DocContext<'a>,
    doc: serde_yaml::Deserializer<'de>,
    api_version: &'a str,
    out: &'a mut DecodedFile,
}

impl KindVisitor for Decode<'_, '_> {
    type Output = ();

    fn visit<K: StoredKind>(self) {
        let Decode {
            ctx,
            doc,
            api_version,
            out,
        } = self;
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if !served::<K>(version) {
            let message = format!(
                "`{api_version}` is not a served version of {}; expected `{}`",
                K::kind(&()),
                K::api_version(&())
            );
            return out.errors.push(Diagnostic::from_yaml(
                ctx.file,
                &locate(doc, &keys(&["apiVersion"]), &message),
            ));
        }
        let mut obj = match K::deserialize(doc) {
            Ok(obj) => obj,
            Err(err) => return out.errors.push(Diagnostic::from_yaml(ctx.file, &err)),
        };
        let at = |path: &[&str], message: &str| {
            Diagnostic::from_yaml(
                ctx.file,
                &locate_in_text(ctx.text, ctx.index, &keys(path), message),
            )
        };
        if obj.meta().name.as_deref().unwrap_or_default().is_empty() {
            return out.errors.push(at(&["metadata"], "missing field `name`"));
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
            let name = keys(&["metadata", "name"]);
            let first = locate_in_text(ctx.text, first, &name, "").location();
            let message = duplicate_message(&origin.0, &origin.1, ctx.file, first);
            return out.errors.push(at(&["metadata", "name"], &message));
        }
        out.origins.insert(origin, ctx.index);
        for finding in crate::validate::object(&obj) {
            let located = locate_in_text(ctx.text, ctx.index, &steps(&finding.path), "");
            let mut diagnostic = Diagnostic::from_yaml(ctx.file, &located);
            // serde_yaml names the path as far as the document spells it out; a defaulted
            // field is named in full by the finding itself.
            diagnostic.message = finding.to_string();
            out.invalid.push(diagnostic);
        }
        out.objects.insert(obj);
    }
}

/// The message for an object defined a second time; `first` is where the first one is.
pub(super) fn duplicate_message(
    kind: &str,
    key: &ObjectKey,
    file: &Path,
    first: Option<serde_yaml::Location>,
) -> String {
    let place = match first {
        Some(loc) => format!("{}:{}:{}", file.display(), loc.line(), loc.column()),
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
