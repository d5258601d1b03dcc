//! How stored objects are shown to a client: at the version it asked for, in full or as
//! `PartialObjectMetadata` (kube's metadata watchers ask for that through `Accept`).
//!
//! Objects are serialized through borrowing wrappers, so a list of thousands of objects
//! is written without copying any of them.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::kinds::KindSpec;

/// The shape asked for.
#[derive(Debug, Clone)]
pub struct View {
    api_version: Value,
    kind: &'static str,
    metadata_only: bool,
}

const META_API_VERSION: &str = "meta.k8s.io/v1";

impl View {
    /// The view of `spec` at `version` for a request with this `Accept` header.
    pub fn new(spec: &'static KindSpec, version: &str, accept: &str) -> Self {
        Self {
            api_version: Value::String(spec.api_version(version)),
            kind: spec.kind,
            metadata_only: accept.contains("as=PartialObjectMetadata"),
        }
    }

    /// An object shown through this view.
    pub fn object<'a>(&'a self, obj: &'a Value) -> Rendered<'a> {
        Rendered { obj, view: self }
    }

    /// `apiVersion` of what this view shows.
    pub fn api_version(&self) -> &str {
        if self.metadata_only {
            META_API_VERSION
        } else {
            self.api_version.as_str().unwrap_or_default()
        }
    }

    /// `kind` of single objects.
    pub fn kind(&self) -> String {
        if self.metadata_only {
            "PartialObjectMetadata".into()
        } else {
            self.kind.to_string()
        }
    }

    /// `kind` of lists.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind())
    }
}

/// An object under a [`View`].
pub struct Rendered<'a> {
    obj: &'a Value,
    view: &'a View,
}

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(map) = self.obj.as_object() else {
            return self.obj.serialize(s);
        };
        if self.view.metadata_only {
            let mut m = s.serialize_map(Some(3))?;
            m.serialize_entry("apiVersion", META_API_VERSION)?;
            m.serialize_entry("kind", "PartialObjectMetadata")?;
            m.serialize_entry("metadata", map.get("metadata").unwrap_or(&Value::Null))?;
            return m.end();
        }
        let mut m = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            if k == "apiVersion" {
                m.serialize_entry(k, &self.view.api_version)?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// A list response.
pub struct ListOut<'a> {
    /// The view of the items.
    pub view: &'a View,
    /// The items.
    pub items: &'a [std::sync::Arc<Value>],
    /// `metadata.resourceVersion`.
    pub resource_version: u64,
    /// `metadata.continue`.
    pub continue_token: Option<&'a str>,
    /// `metadata.remainingItemCount`.
    pub remaining: Option<u64>,
}

impl Serialize for ListOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a View, &'a [std::sync::Arc<Value>]);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.1.iter().map(|o| self.0.object(o)))
            }
        }
        let mut meta = serde_json::Map::new();
        meta.insert(
            "resourceVersion".into(),
            Value::String(self.resource_version.to_string()),
        );
        if let Some(c) = self.continue_token {
            meta.insert("continue".into(), Value::String(c.to_string()));
        }
        if let Some(r) = self.remaining {
            meta.insert("remainingItemCount".into(), Value::from(r));
        }
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("apiVersion", self.view.api_version())?;
        m.serialize_entry("kind", &self.view.list_kind())?;
        m.serialize_entry("metadata", &meta)?;
        m.serialize_entry("items", &Items(self.view, self.items))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::KINDS;
    use serde_json::json;

    #[test]
    fn objects_are_shown_at_the_requested_version() {
        let spec = KINDS.iter().find(|k| k.kind == "Gateway").unwrap();
        let obj = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                         "metadata": {"name": "a"}, "spec": {"x": 1}});
        let beta = View::new(spec, "v1beta1", "application/json");
        let shown = serde_json::to_value(beta.object(&obj)).unwrap();
        assert_eq!(
            shown["apiVersion"],
            json!("gateway.networking.k8s.io/v1beta1")
        );
        assert_eq!(shown["spec"], json!({"x": 1}));
        let meta = View::new(
            spec,
            "v1",
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        );
        let shown = serde_json::to_value(meta.object(&obj)).unwrap();
        assert_eq!(
            shown,
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": "a"}})
        );
    }
}
