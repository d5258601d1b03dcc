//! One parsed YAML document and how to point into it: turns a YAML path into a located error or
//! a `Source`, and types harness objects in place.

use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use super::error::{ScenarioError, Source, YamlPath};
use gatesim_reference::yaml::{deserialize_at, locate};

#[derive(Clone, Copy)]
pub(crate) struct Doc<'a> {
    pub file: &'a Path,
    pub text: &'a Arc<str>,
    /// 0-based document index in a multi-document file.
    pub document: usize,
}

impl Doc<'_> {
    /// An error about the node at `path`, positioned there and prefixed with the path.
    pub fn error(&self, path: &YamlPath, message: impl Display) -> ScenarioError {
        let location = locate(self.text, self.document, path);
        let message = if path.is_root() {
            message.to_string()
        } else {
            format!("{path}: {message}")
        };
        ScenarioError::invalid(self.file, location, message)
    }

    pub fn source(&self, path: &YamlPath) -> Source {
        Source::new(self.file, self.text, self.document, path)
    }

    /// Deserializes the node at `path` as `T`, with serde_yaml's exact errors.
    pub fn typed<T: DeserializeOwned>(&self, path: &YamlPath) -> Result<T, ScenarioError> {
        match deserialize_at(self.text, self.document, path) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.error(path, "no such node")),
            Err(error) => Err(ScenarioError::from_yaml(self.file, &error)),
        }
    }
}
