//! Inputs for the NACK containment tests: a Gateway, routes to a backend, and routes Envoy
//! rejects although translation lets them through.

#![allow(dead_code)] // each test file uses a different subset

use gatesim_reference::model::{AnyObject, ObjectKey, ResourceSet};

pub const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatesim}
spec: {controllerName: gatesim.dev/reference-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatesim
  listeners:
  - {name: http, port: 80, protocol: HTTP}
"#;

/// A route to `echo` serving `/<name>` on `<name>.example.com`.
pub fn good_route(name: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{name}.example.com]\n\
         \x20 rules: [{{matches: [{{path: {{value: /{name}}}}}], backendRefs: [{{name: echo, port: 8080}}]}}]\n"
    )
}

/// A route whose path regex RE2 cannot compile: Envoy says `missing )`.
pub fn bad_regex_route(name: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{name}.example.com]\n\
         \x20 rules: [{{matches: [{{path: {{type: RegularExpression, value: \"/{name}/(\"}}}}], \
         backendRefs: [{{name: echo, port: 8080}}]}}]\n"
    )
}

/// A route setting the `:authority` pseudo-header: Envoy says `:-prefixed or host headers may
/// not be modified`.
pub fn bad_header_route(name: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{name}.example.com]\n\
         \x20 rules:\n  - matches: [{{path: {{value: /{name}}}}}]\n\
         \x20   filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: \":authority\", value: evil.example.com}}]}}}}]\n\
         \x20   backendRefs: [{{name: echo, port: 8080}}]\n"
    )
}

/// Every document of `yaml` in one set, with the settings of a running controller whose
/// translation does not validate inputs (so the bad routes reach Envoy).
pub fn set_of(yaml: &str) -> ResourceSet {
    let mut set = ResourceSet::default();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value: serde_json::Value =
            serde::Deserialize::deserialize(doc).expect("test input is YAML");
        if value.is_null() {
            continue;
        }
        set.insert_any(AnyObject::from_value(value).expect("test input decodes"));
    }
    set.config.validate_inputs = false;
    set
}

pub fn gateway() -> ObjectKey {
    ObjectKey::new("default", "gw")
}
