//! Builders shared by the provider tests: statuses and objects as the API server holds them.
#![allow(dead_code)]

use gatesim_reference::api::{Gateway, GatewayClass, HttpRoute, RouteOption};
use gatesim_reference::translate::{ObjectRef, StatusPatch};
use serde_json::{Value, json};

pub const EPOCH: &str = "1970-01-01T00:00:00Z";
pub const T0: &str = "2024-05-01T10:00:00Z";
pub const NOW: &str = "2025-01-02T03:04:05Z";
pub const OURS: &str = "gatesim.dev/reference-controller";
pub const THEIRS: &str = "example.com/other-controller";

pub fn cond(kind: &str, status: &str, time: &str) -> Value {
    json!({ "type": kind, "status": status, "reason": kind, "message": "", "observedGeneration": 2, "lastTransitionTime": time })
}

pub fn parent(gateway: &str, controller: &str, conditions: Vec<Value>) -> Value {
    json!({
        "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway },
        "controllerName": controller,
        "conditions": conditions,
    })
}

/// A PolicyStatus entry for a policy attached through Gateway `gateway`.
pub fn ancestor(gateway: &str, controller: &str, conditions: Vec<Value>) -> Value {
    json!({
        "ancestorRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway },
        "controllerName": controller,
        "conditions": conditions,
    })
}

pub fn policy_patch(ancestors: Vec<Value>) -> StatusPatch {
    StatusPatch::PolicyAncestors {
        controller_name: OURS.into(),
        ancestors,
    }
}

pub fn route_option(name: &str, resource_version: &str, ancestors: Vec<Value>) -> RouteOption {
    serde_json::from_value(json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteOption",
        "metadata": { "name": name, "namespace": "apps", "resourceVersion": resource_version, "generation": 2 },
        "spec": { "options": { "timeout": "5s" } },
        "status": { "ancestors": ancestors },
    }))
    .unwrap()
}

pub fn route_patch(parents: Vec<Value>) -> StatusPatch {
    StatusPatch::RouteParents {
        controller_name: OURS.into(),
        parents: std::sync::Arc::new(parents),
    }
}

pub fn obj_ref(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
        name: name.into(),
    }
}

pub fn gateway(name: &str, resource_version: &str, status: Value) -> Gateway {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": { "name": name, "namespace": "default", "resourceVersion": resource_version, "generation": 2 },
        "spec": { "gatewayClassName": "gatesim", "listeners": [{ "name": "http", "port": 80, "protocol": "HTTP" }] },
        "status": status,
    }))
    .unwrap()
}

pub fn route(name: &str, resource_version: &str, parents: Vec<Value>) -> HttpRoute {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": { "name": name, "namespace": "apps", "resourceVersion": resource_version, "generation": 2 },
        "spec": {},
        "status": { "parents": parents },
    }))
    .unwrap()
}

pub fn class(name: &str, resource_version: &str, status: Value) -> GatewayClass {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": { "name": name, "resourceVersion": resource_version, "generation": 1 },
        "spec": { "controllerName": OURS },
        "status": status,
    }))
    .unwrap()
}
