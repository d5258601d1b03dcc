//! Schemas of custom resources, read from CRD manifests, and what kube-apiserver does
//! with them on every write: pruning of undeclared fields (`fieldValidation`),
//! structural defaulting, OpenAPI validation, list-type uniqueness and the CEL rules.
//!
//! Kinds without a loaded schema (the built-in kinds, or every kind when no CRDs could
//! be had) are stored as they come, with simkube's table of defaults.

mod cel;
mod field;
mod listtype;
pub mod provision;
mod prune;
mod rules;
pub mod strict;
mod structural;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use field::{FieldError, NO_PATH, aggregate};
pub use structural::Node;

use crate::error::ApiError;
use crate::kinds::KindSpec;
use crate::store::prepare::Target;

/// `fieldValidation`: what a write does about fields the schema does not declare and
/// keys repeated in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (the server's default).
    #[default]
    Warn,
    /// Refuse the write.
    Strict,
}

impl FieldValidation {
    /// The directive of a request's `fieldValidation` parameter.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}; must be one of Ignore, Warn or Strict"
            ))),
        }
    }
}

/// Why CRD manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A directory or file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        source: serde_yaml::Error,
    },
    /// A CRD's schema cannot be used.
    #[error("{path}: CustomResourceDefinition {name}, version {version}: {source}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The CRD's name.
        name: String,
        /// The version whose schema is bad.
        version: String,
        /// What is wrong.
        source: structural::SchemaError,
    },
}

/// The schemas of every CRD in some directories, by group, kind and version.
#[derive(Debug, Default)]
pub struct Schemas {
    kinds: HashMap<(String, String), HashMap<String, Arc<Node>>>,
    files: usize,
}

impl Schemas {
    /// Loads every `CustomResourceDefinition` in the YAML files of `dirs` (other
    /// documents are skipped). A later directory's CRD replaces an earlier one's.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, LoadError> {
        let mut out = Schemas::default();
        for dir in dirs {
            let io = |source| LoadError::Io {
                path: dir.clone(),
                source,
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                })
                .collect();
            files.sort();
            for file in files {
                out.load_file(&file)?;
            }
        }
        Ok(out)
    }

    fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.files += 1;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc: Value =
                serde::Deserialize::deserialize(doc).map_err(|source| LoadError::Yaml {
                    path: path.to_path_buf(),
                    source,
                })?;
            if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            let text = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or_default();
            let (group, kind, name) = (
                text("/spec/group"),
                text("/spec/names/kind"),
                text("/metadata/name"),
            );
            let mut versions = HashMap::new();
            for v in doc
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let version = v.get("name").and_then(Value::as_str).unwrap_or_default();
                let Some(schema) = v.pointer("/schema/openAPIV3Schema") else {
                    continue;
                };
                let node = Node::parse(schema).map_err(|source| LoadError::Schema {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    version: version.to_string(),
                    source,
                })?;
                versions.insert(version.to_string(), Arc::new(node));
            }
            self.kinds
                .insert((group.to_string(), kind.to_string()), versions);
        }
        Ok(())
    }

    /// How many kinds have a schema.
    pub fn kinds(&self) -> usize {
        self.kinds.len()
    }

    /// How many files were read.
    pub fn files(&self) -> usize {
        self.files
    }

    /// The schema of `kind` at `version`; another served version's when that one has
    /// none (simkube keeps one storage for every version).
    pub fn get(&self, spec: &KindSpec, version: &str) -> Option<&Node> {
        let versions = self
            .kinds
            .get(&(spec.group.to_string(), spec.kind.to_string()))?;
        versions
            .get(version)
            .or_else(|| versions.get(spec.storage_version()))
            .or_else(|| versions.values().next())
            .map(Arc::as_ref)
    }
}

/// Prunes what `node` does not declare from a request's object, and decides by
/// `directive` what that means: an error, warnings (appended to `warnings`), or nothing.
/// `duplicates` are the body's repeated keys; `refuse` builds the error a Strict request
/// gets (its shape depends on the verb).
pub fn decode(
    node: &Node,
    obj: &mut Value,
    duplicates: &[String],
    directive: FieldValidation,
    warnings: &mut Vec<String>,
    refuse: impl FnOnce(&str, &Value) -> ApiError,
) -> Result<(), ApiError> {
    let before = (directive == FieldValidation::Strict).then(|| obj.clone());
    let unknown = prune::prune(node, obj);
    prune::drop_nulls(node, obj);
    let problems: Vec<String> = duplicates
        .iter()
        .map(|d| format!("duplicate field {}", quote(d)))
        .chain(
            unknown
                .iter()
                .map(|u| format!("unknown field {}", quote(u))),
        )
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    match directive {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(problems);
            Ok(())
        }
        FieldValidation::Strict => Err(refuse(
            &format!("strict decoding error: {}", problems.join(", ")),
            before.as_ref().unwrap_or(obj),
        )),
    }
}

/// The fields of an apply configuration the schema does not declare, as server-side
/// apply refuses them whatever the `fieldValidation`.
pub fn undeclared(node: &Node, config: &Value) -> Vec<String> {
    let mut copy = config.clone();
    prune::prune(node, &mut copy)
}

/// Structural defaulting of a whole object.
pub fn apply_defaults(node: &Node, obj: &mut Value) {
    prune::drop_nulls(node, obj);
    prune::default(node, obj);
}

/// Validates an object about to be stored through `target`, as kube-apiserver's
/// custom resource strategy does: the OpenAPI schema (the status schema alone for status
/// writes), list-type uniqueness, then the CEL rules unless an earlier error makes them
/// meaningless (which it says only when the schema has rules at all).
pub fn validate(
    node: &Node,
    spec: &KindSpec,
    name: &str,
    new: &Value,
    old: Option<&Value>,
    target: Target,
) -> Result<(), ApiError> {
    let mut errors = match target {
        Target::Main => {
            let mut v = validate::Validation::new("");
            v.check(node, new, "");
            v.errors
        }
        Target::Status => match (new.get("status"), node.property("status")) {
            (Some(status), Some(schema)) => {
                let mut v = validate::Validation::new("status");
                v.check(schema, status, "");
                v.errors
            }
            _ => Vec::new(),
        },
    };
    listtype::check(node, new, "", &mut errors);
    // Without a rule in the schema there is no CEL validator, and nothing to call skipped.
    if node.has_rules() {
        if errors.iter().any(|e| e.reason.blocks_rules()) {
            errors.push(FieldError::invalid(
                NO_PATH,
                Value::Null,
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
        } else {
            rules::check(node, new, old, "", &mut errors);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(spec, name, &errors))
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}
