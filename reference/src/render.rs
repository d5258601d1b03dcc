//! Rendering a translation as JSON (and from there YAML) for people and golden files.
//!
//! envoy-types has no serde support, so xDS messages go through a descriptor pool compiled
//! from the Envoy protos at build time (see build.rs) and come out as canonical proto3 JSON,
//! the same shape Envoy's own `/config_dump` prints, `@type` included for every `Any`.

use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::{Map, Value, json};

use crate::translate::{ProxyConfig, StatusPatch, StatusUpdate, Translation};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the Envoy descriptor set does not load: {0}")]
    Pool(String),
    #[error("message type {0} is not in the Envoy descriptor set")]
    UnknownType(String),
    #[error("re-decoding {kind}: {detail}")]
    Decode { kind: String, detail: String },
}

/// One xDS message as proto3 JSON.
pub fn message<M: prost::Message + prost::Name>(m: &M) -> Result<Value, RenderError> {
    let pool = crate::descriptors::pool().map_err(|e| RenderError::Pool(e.to_string()))?;
    let name = M::full_name();
    let desc = pool
        .get_message_by_name(&name)
        .ok_or_else(|| RenderError::UnknownType(name.clone()))?;
    let dynamic = DynamicMessage::decode(desc, m.encode_to_vec().as_slice()).map_err(|e| {
        RenderError::Decode {
            kind: name.clone(),
            detail: e.to_string(),
        }
    })?;
    let opts = SerializeOptions::new().stringify_64_bit_integers(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &opts)
        .map_err(|e| RenderError::Decode {
            kind: name,
            detail: e.to_string(),
        })
}

fn messages<M: prost::Message + prost::Name>(ms: &[M]) -> Result<Value, RenderError> {
    ms.iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A Gateway's proxy configuration: listeners, routes, clusters, endpoints.
pub fn proxy(p: &ProxyConfig) -> Result<Value, RenderError> {
    let mut m = Map::new();
    m.insert("nodeId".into(), json!(p.node_id));
    if let Some(a) = &p.address {
        m.insert("address".into(), json!(a));
    }
    if let Some(params) = &p.parameters {
        m.insert("parameters".into(), json!(params));
    }
    m.insert("listeners".into(), messages(&p.listeners)?);
    let routes: Vec<_> = p.routes.iter().map(|r| r.to_proto()).collect();
    m.insert("routes".into(), messages(&routes)?);
    m.insert("clusters".into(), messages(&p.clusters)?);
    m.insert("endpoints".into(), messages(&p.endpoints)?);
    Ok(Value::Object(m))
}

/// A status update as the object's `status` would read (routes: our `parents` entries;
/// policies: our `ancestors` entries).
pub fn status(s: &StatusUpdate) -> Value {
    let status = match &s.patch {
        StatusPatch::Whole(v) => v.clone(),
        StatusPatch::RouteParents { parents, .. } => json!({ "parents": parents }),
        StatusPatch::PolicyAncestors { ancestors, .. } => json!({ "ancestors": ancestors }),
    };
    let mut target = serde_json::to_value(&s.target).unwrap_or(Value::Null);
    if let Value::Object(t) = &mut target {
        t.insert("status".into(), status);
    }
    target
}

/// Every status this controller writes, leaving out routes that name none of our Gateways
/// and policies that affect none of them.
pub fn statuses(t: &Translation) -> Vec<Value> {
    t.statuses
        .iter()
        .filter(|s| match &s.patch {
            StatusPatch::Whole(_) => true,
            StatusPatch::RouteParents { parents, .. } => !parents.is_empty(),
            StatusPatch::PolicyAncestors { ancestors, .. } => !ancestors.is_empty(),
        })
        .map(status)
        .collect()
}

/// The whole translation: every Gateway's proxy, then every status this controller writes
/// (routes that name none of our Gateways are left out).
pub fn translation(t: &Translation) -> Result<Value, RenderError> {
    let mut gateways = Map::new();
    for (key, p) in &t.proxies {
        gateways.insert(key.to_string(), proxy(p)?);
    }
    let statuses = statuses(t);
    Ok(json!({ "gateways": gateways, "statuses": statuses }))
}
