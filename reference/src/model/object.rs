//! Decoding an untyped Kubernetes object (from YAML or JSON) into the kind the model stores.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    ConfigMap, EndpointSlice, Gateway, GatewayClass, HttpRoute, Namespace, ReferenceGrant, Secret,
    Service,
};

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

/// One object of any kind the `ResourceSet` stores.
#[derive(Clone, Debug)]
pub enum AnyObject {
    GatewayClass(Box<GatewayClass>),
    Gateway(Box<Gateway>),
    HttpRoute(Box<HttpRoute>),
    ReferenceGrant(Box<ReferenceGrant>),
    Namespace(Box<Namespace>),
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Secret(Box<Secret>),
    ConfigMap(Box<ConfigMap>),
}

impl AnyObject {
    /// Decode by `apiVersion` and `kind`. Gateway API kinds are accepted at every version
    /// upstream serves (v1, v1beta1), since they share one schema.
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or(ModelError::MissingField("apiVersion"))?
            .to_string();
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(ModelError::MissingField("kind"))?
            .to_string();
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let obj = match (group, kind.as_str()) {
            ("gateway.networking.k8s.io", "GatewayClass") => Self::GatewayClass(decode(value, &kind)?),
            ("gateway.networking.k8s.io", "Gateway") => Self::Gateway(decode(value, &kind)?),
            ("gateway.networking.k8s.io", "HTTPRoute") => Self::HttpRoute(decode(value, &kind)?),
            ("gateway.networking.k8s.io", "ReferenceGrant") => {
                Self::ReferenceGrant(decode(value, &kind)?)
            }
            ("", "Namespace") => Self::Namespace(decode(value, &kind)?),
            ("", "Service") => Self::Service(decode(value, &kind)?),
            ("", "Secret") => Self::Secret(decode(value, &kind)?),
            ("", "ConfigMap") => Self::ConfigMap(decode(value, &kind)?),
            ("discovery.k8s.io", "EndpointSlice") => Self::EndpointSlice(decode(value, &kind)?),
            _ => return Err(ModelError::UnsupportedKind { api_version, kind }),
        };
        Ok(obj)
    }
}

fn decode<K: DeserializeOwned>(mut value: Value, kind: &str) -> Result<Box<K>, ModelError> {
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    // Typed decoding checks apiVersion against the type's own version; Gateway API objects
    // written at v1beta1 carry the same schema, so normalise before decoding.
    if let Some(v) = value.get_mut("apiVersion")
        && v.as_str().is_some_and(|s| s.starts_with("gateway.networking.k8s.io/"))
    {
        *v = Value::String("gateway.networking.k8s.io/v1".into());
    }
    serde_json::from_value(value)
        .map(Box::new)
        .map_err(|source| ModelError::Invalid { kind: kind.to_string(), name, source })
}
