//! For the NACK containment tests: a Gateway, routes to a backend, routes Envoy rejects
//! although translation lets them through, and a look at what the controller reports.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;

use anyhow::{Result, ensure};
use gatesim_reference::controller::Controller;
use gatesim_reference::model::{AnyObject, ObjectKey, ResourceSet};

use crate::e2e_support::{Call, Reply, expect, send};

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

/// A route whose header-match regex uses a backreference, which RE2 refuses: the CRD schema
/// cannot know, Envoy refuses it.
pub fn backreference_route(name: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{name}.example.com]\n\
         \x20 rules:\n  - matches: [{{headers: [{{type: RegularExpression, name: x-id, value: \"(a)\\\\1\"}}]}}]\n\
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

/// `route` with its backend Service `a` instead of `echo`.
pub fn backed_by_a(route: String) -> String {
    route.replace("{name: echo, port: 8080}", "{name: a, port: 8080}")
}

/// A route named `name` to Service `service` for every path of `<name>.example.com`.
pub fn route_to(name: &str, service: &str) -> String {
    good_route(name)
        .replace(
            "{name: echo, port: 8080}",
            &format!("{{name: {service}, port: 8080}}"),
        )
        .replace(&format!("value: /{name}"), "value: /")
}

/// Wait until `host` answers `/` with a 200 from `backend`.
pub async fn serves(http: SocketAddr, host: &str, backend: &str) -> Result<()> {
    let check = |r: &Reply| r.status == 200 && r.backend().as_deref() == Some(backend);
    let what = format!("{host} answers from {backend}");
    expect(http, Call::get(host, "/"), check, &what).await?;
    Ok(())
}

/// The body of the controller's admin endpoint `path`.
pub async fn admin(controller: &Controller, path: &str) -> Result<String> {
    admin_at(controller.admin_addr(), path).await
}

/// The body of `path` on the controller admin endpoint at `addr`.
pub async fn admin_at(addr: SocketAddr, path: &str) -> Result<String> {
    let r = send(addr, &Call::get("admin", path)).await?;
    ensure!(r.status == 200, "{path}: status {}", r.status);
    Ok(String::from_utf8_lossy(&r.body).into_owned())
}
