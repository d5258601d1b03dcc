//! Strict decoding: a field the target type does not know is an error, never a silent drop.
//! Kubernetes types (and types generated from CRDs) skip unknown fields by design, because an
//! API server may be newer than its client; a person writing YAML for this controller wants the
//! opposite, since `matchez:` dropped means a rule that matches everything.

use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed};

use super::fields::fields_at;
use super::locate::{document as nth_document, locate, locate_key, walk};
use super::path::{Location, Segment, YamlPath};
use super::suggest::closest;

/// One mistake in a document: where it is (when known) and what, led by its field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub location: Option<Location>,
    pub message: String,
}

impl Problem {
    /// serde_yaml prints the position at the end of its message; a `Problem` keeps it apart.
    pub fn from_yaml(error: &serde_yaml::Error) -> Problem {
        let mut message = error.to_string();
        if let Some(l) = error.location() {
            let position = format!(" at line {} column {}", l.line(), l.column());
            message = message.replacen(&position, "", 1);
        }
        if message == "unknown anchor" {
            // serde_yaml's words leave a reader to guess which of the two names is wrong.
            message = "unknown alias: no anchor (`&name`) earlier in this document defines \
                       the name this alias (`*name`) refers to; nothing after it in the file \
                       is read"
                .to_owned();
        }
        Problem {
            location: Location::of(error),
            message,
        }
    }
}

/// Decodes the node at `path` of document `document` (0-based) of `text` as `T`. A wrong type
/// is one problem (serde's own message, positioned); every field `T` does not know is one
/// problem each, positioned at its key, listing the fields `T` knows there.
pub fn decode<T: DeserializeOwned>(
    text: &str,
    document: usize,
    path: &YamlPath,
) -> Result<T, Vec<Problem>> {
    strictly(text, document, path, |seed| {
        let read = match nth_document(text, document) {
            Some((deserializer, lines)) => walk(deserializer, path, seed).map_err(|e| (e, lines)),
            None => Ok(None),
        };
        match read {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(vec![Problem {
                location: None,
                message: format!("{path}: no such node"),
            }]),
            Err((error, lines)) => {
                let problem = Problem::from_yaml(&error);
                Err(vec![Problem {
                    location: problem.location.map(|l| l.below(lines)),
                    ..problem
                }])
            }
        }
    })
}

/// Like [`decode`], from `value`: the node at `path` of document `document` of `text` as it
/// will be used, which may differ from the text (a harness fills fields in before applying
/// it). Unknown fields are positioned in `text` at their key; a type error is reported at the
/// node, since a decoded value carries no positions.
pub fn decode_value<T: DeserializeOwned>(
    value: serde_json::Value,
    text: &str,
    document: usize,
    path: &YamlPath,
) -> Result<T, Vec<Problem>> {
    strictly(text, document, path, |seed| {
        seed.deserialize(value).map_err(|error| {
            vec![Problem {
                location: locate(text, document, path),
                message: match path.is_root() {
                    true => error.to_string(),
                    false => format!("{path}: {error}"),
                },
            }]
        })
    })
}

/// Runs `read` with a seed that notes skipped fields, then turns those into problems.
fn strictly<T: DeserializeOwned>(
    text: &str,
    document: usize,
    path: &YamlPath,
    read: impl FnOnce(Strict<'_, T>) -> Result<T, Vec<Problem>>,
) -> Result<T, Vec<Problem>> {
    let mut ignored = Vec::new();
    let value = read(Strict {
        ignored: &mut ignored,
        marker: PhantomData,
    })?;
    finish(value, ignored, text, document, path)
}

/// The decoded value, unless fields were skipped; `apiVersion` and `kind` at the top are known
/// to every object even where the type reads them elsewhere.
fn finish<T: DeserializeOwned>(
    value: T,
    mut ignored: Vec<Vec<Segment>>,
    text: &str,
    document: usize,
    path: &YamlPath,
) -> Result<T, Vec<Problem>> {
    ignored.retain(|relative| {
        !matches!(relative.as_slice(), [Segment::Key(k)] if k == "apiVersion" || k == "kind")
    });
    if ignored.is_empty() {
        return Ok(value);
    }
    Err(ignored
        .iter()
        .map(|relative| unknown_field::<T>(text, document, path, relative))
        .collect())
}

fn unknown_field<T: DeserializeOwned>(
    text: &str,
    document: usize,
    path: &YamlPath,
    relative: &[Segment],
) -> Problem {
    let full = path.join(relative);
    let location = locate_key(text, document, &full);
    let (Some((Segment::Key(key), parent)), true) = (relative.split_last(), !relative.is_empty())
    else {
        return Problem {
            location,
            message: format!("{full}: not read by this kind"),
        };
    };
    let mut message = format!("{full}: unknown field");
    if let Some(fields) = fields_at::<T>(parent) {
        let mut fields = fields.to_vec();
        if parent.is_empty() {
            fields.retain(|f| *f != "apiVersion" && *f != "kind");
            fields.splice(0..0, ["apiVersion", "kind"]);
        }
        message.push_str("; expected one of ");
        message.push_str(&fields.join(", "));
        let max = (key.len() / 3).clamp(1, 3);
        if let Some(near) = closest(key, fields.iter().copied(), max) {
            message.push_str(&format!("; did you mean `{near}`?"));
        }
    }
    Problem { location, message }
}

/// Deserializes `T`, noting the path of every value `T` skips.
struct Strict<'a, T> {
    ignored: &'a mut Vec<Vec<Segment>>,
    marker: PhantomData<T>,
}

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for Strict<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        serde_ignored::deserialize(deserializer, |path| {
            let mut segments = Vec::new();
            collect(&path, &mut segments);
            self.ignored.push(segments);
        })
    }
}

fn collect(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            collect(parent, out);
            out.push(Segment::Index(*index));
        }
        Path::Map { parent, key } => {
            collect(parent, out);
            out.push(Segment::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => collect(parent, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HttpRoute, Service};

    fn problems<T: DeserializeOwned>(text: &str) -> Vec<String> {
        match decode::<T>(text, 0, &YamlPath::root()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| format!("{}: {}", p.location.unwrap(), p.message))
                .collect(),
        }
    }

    #[test]
    fn unknown_fields_are_named_at_their_key_with_the_known_ones() {
        let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\n  labelz: {}\nspec:\n  rules:\n  - matchez:\n    - path: {value: /}\n";
        let found = problems::<HttpRoute>(route);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0]
                .starts_with("5:3: metadata.labelz: unknown field; expected one of annotations, "),
            "{found:?}"
        );
        assert!(found[0].ends_with("; did you mean `labels`?"), "{found:?}");
        assert!(
            found[1].starts_with("8:5: spec.rules[0].matchez: unknown field; expected one of "),
            "{found:?}"
        );
        assert!(found[1].contains("matches"), "{found:?}");
        assert!(found[1].ends_with("; did you mean `matches`?"), "{found:?}");
    }

    #[test]
    fn known_documents_decode_and_type_errors_keep_serde_messages() {
        let fine =
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n";
        assert!(problems::<Service>(fine).is_empty());
        let wrong = fine.replace("80", "eighty");
        assert_eq!(
            problems::<Service>(&wrong),
            ["5:18: spec.ports[0].port: invalid type: string \"eighty\", expected i32"]
        );
    }
}
