//! Translating small inline inputs (beside the golden tests' shared objects) and reading
//! what policy tests look at: an Envoy route or virtual host as proto3 JSON, and the
//! conditions of a policy's or route's status.

#![allow(dead_code)]

use std::path::Path;

use gatesim_reference::model::{AnyObject, ControllerConfig, ResourceSet};
use gatesim_reference::provider::file::load_dir;
use gatesim_reference::render;
use gatesim_reference::translate::{StatusPatch, Translation, translate};
use serde_json::Value;

/// The golden tests' shared objects (GatewayClass `gatesim`, namespaces, Services svc-a/b)
/// plus the documents of `yaml`.
pub fn input(yaml: &str) -> ResourceSet {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/shared.yaml");
    let mut set = load_dir(shared, &ControllerConfig::default()).expect("shared.yaml");
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value: Value = serde::Deserialize::deserialize(doc).expect("YAML document");
        set.insert_any(AnyObject::from_value(value).expect("a known kind"));
    }
    set
}

pub fn run(yaml: &str) -> (ResourceSet, Translation) {
    let set = input(yaml);
    let t = translate(&set);
    (set, t)
}

/// The proxy configuration of Gateway default/gw as JSON.
pub fn proxy(t: &Translation) -> Value {
    let p = t.proxies.values().next().expect("a proxy configuration");
    render::proxy(p).expect("render")
}

/// Every virtual host of every route configuration.
pub fn virtual_hosts(t: &Translation) -> Vec<Value> {
    proxy(t)["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .flat_map(|rc| rc["virtualHosts"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The virtual host for `domain`.
pub fn virtual_host(t: &Translation, domain: &str) -> Value {
    virtual_hosts(t)
        .into_iter()
        .find(|vh| vh["domains"][0] == domain)
        .unwrap_or_else(|| panic!("no virtual host for {domain}"))
}

/// The Envoy route whose name starts with `prefix` (`httproute/default/r/rule/0`).
pub fn route(t: &Translation, prefix: &str) -> Value {
    virtual_hosts(t)
        .iter()
        .flat_map(|vh| vh["routes"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no route named {prefix}*"))
}

/// The `status` entries (parents or ancestors) written for object `kind` `name`.
pub fn entries(t: &Translation, kind: &str, name: &str) -> Vec<Value> {
    let s = t
        .statuses
        .iter()
        .find(|s| s.target.kind == kind && s.target.name == name)
        .unwrap_or_else(|| panic!("no status for {kind} {name}"));
    match &s.patch {
        StatusPatch::RouteParents { parents, .. } => parents.to_vec(),
        StatusPatch::PolicyAncestors { ancestors, .. } => ancestors.clone(),
        StatusPatch::Whole(v) => vec![v.clone()],
    }
}

/// (status, reason, message) of condition `type_` of the only entry of `kind` `name`.
pub fn condition(t: &Translation, kind: &str, name: &str, type_: &str) -> (String, String, String) {
    let entries = entries(t, kind, name);
    assert_eq!(entries.len(), 1, "{kind} {name}: {entries:#?}");
    condition_of(&entries[0], type_)
}

pub fn condition_of(entry: &Value, type_: &str) -> (String, String, String) {
    let c = entry["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {entry:#}"));
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    (s("status"), s("reason"), s("message"))
}

/// One Gateway `gw` with an HTTP listener `http` on port 80.
pub const GATEWAY: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default, generation: 1}
spec:
  gatewayClassName: gatesim
  listeners:
  - {name: http, port: 80, protocol: HTTP}
";
