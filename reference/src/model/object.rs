//! Decoding an untyped Kubernetes object (from YAML or JSON) into the kind the model stores.

use serde_json::Value;

use super::{AnyObject, KindVisitor, StoredKind, api_group, visit_kind};
use crate::api::GATEWAY_GROUP;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("object has no `{0}`")]
    MissingField(&'static str),
    #[error("unsupported kind {kind} ({api_version})")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("invalid {kind} {name}: {source}")]
    Invalid {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

impl AnyObject {
    /// Decode by `apiVersion` and `kind`. Gateway API kinds are accepted at every version
    /// upstream serves (v1, v1beta1), since they share one schema.
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        let field = |name: &'static str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(ModelError::MissingField(name))
        };
        let api_version = field("apiVersion")?;
        let kind = field("kind")?;
        visit_kind(
            api_group(&api_version),
            &kind,
            Decode { value, kind: &kind },
        )
        .unwrap_or(Err(ModelError::UnsupportedKind { api_version, kind }))
    }
}

struct Decode<'a> {
    value: Value,
    kind: &'a str,
}

impl KindVisitor for Decode<'_> {
    type Output = Result<AnyObject, ModelError>;

    fn visit<K: StoredKind>(self) -> Self::Output {
        let Decode { mut value, kind } = self;
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string();
        // Typed decoding checks apiVersion against the type's own version; Gateway API
        // objects written at v1beta1 carry the same schema, so normalise before decoding.
        if let Some(v) = value.get_mut("apiVersion")
            && K::group(&()) == GATEWAY_GROUP
        {
            *v = Value::String(K::api_version(&()).into_owned());
        }
        serde_json::from_value::<K>(value)
            .map(K::into_any)
            .map_err(|source| ModelError::Invalid {
                kind: kind.to_string(),
                name,
                source,
            })
    }
}
