//! The defaults the upstream Gateway API CRD schemas declare, as data.
//!
//! A real API server fills these in on every write, so a controller reading from a real
//! cluster sees `parentRefs[].kind: Gateway`, a default `PathPrefix /` match, backend
//! `weight: 1` and so on. simkube fills in the same ones, so the sim target hands the
//! controller the same objects a kind cluster would. Paths use `[*]` for "every element";
//! a default applies only where its parent exists and the field is absent, parents
//! first, so a defaulted parent gets its children's defaults too (as upstream's
//! structural defaulting does).

use serde_json::Value;

const GW: &str = "gateway.networking.k8s.io";
const GW_X: &str = "gateway.networking.x-k8s.io";

const ROUTE_PARENT_DEFAULTS: &[(&str, &str)] = &[
    ("spec.parentRefs[*].group", r#""gateway.networking.k8s.io""#),
    ("spec.parentRefs[*].kind", r#""Gateway""#),
];

const BACKEND_REF_DEFAULTS: &[(&str, &str)] = &[
    ("spec.rules[*].backendRefs[*].group", r#""""#),
    ("spec.rules[*].backendRefs[*].kind", r#""Service""#),
    ("spec.rules[*].backendRefs[*].weight", "1"),
];

/// Filter defaults shared by HTTP and gRPC routes, at rule and at backendRef level.
const FILTER_DEFAULTS: &[(&str, &str)] = &[
    ("filters[*].requestMirror.backendRef.group", r#""""#),
    ("filters[*].requestMirror.backendRef.kind", r#""Service""#),
    ("filters[*].requestMirror.fraction.denominator", "100"),
    ("filters[*].externalAuth.backendRef.group", r#""""#),
    ("filters[*].externalAuth.backendRef.kind", r#""Service""#),
    ("filters[*].requestRedirect.statusCode", "302"),
    ("filters[*].cors.maxAge", "5"),
];

const SESSION_PERSISTENCE_DEFAULTS: &[(&str, &str)] = &[
    ("spec.rules[*].sessionPersistence.type", r#""Cookie""#),
    (
        "spec.rules[*].sessionPersistence.cookie.lifetimeType",
        r#""Session""#,
    ),
    ("spec.rules[*].sessionPersistence.cookie.path", r#""/""#),
];

const HTTP_ROUTE_DEFAULTS: &[(&str, &str)] = &[
    (
        "spec.rules",
        r#"[{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]"#,
    ),
    (
        "spec.rules[*].matches",
        r#"[{"path": {"type": "PathPrefix", "value": "/"}}]"#,
    ),
    (
        "spec.rules[*].matches[*].path",
        r#"{"type": "PathPrefix", "value": "/"}"#,
    ),
    ("spec.rules[*].matches[*].path.type", r#""PathPrefix""#),
    ("spec.rules[*].matches[*].path.value", r#""/""#),
    ("spec.rules[*].matches[*].headers[*].type", r#""Exact""#),
    ("spec.rules[*].matches[*].queryParams[*].type", r#""Exact""#),
];

const GRPC_ROUTE_DEFAULTS: &[(&str, &str)] = &[
    ("spec.rules[*].matches[*].method.type", r#""Exact""#),
    ("spec.rules[*].matches[*].headers[*].type", r#""Exact""#),
];

const LISTENER_DEFAULTS: &[(&str, &str)] = &[
    (
        "spec.listeners[*].allowedRoutes",
        r#"{"namespaces": {"from": "Same"}}"#,
    ),
    (
        "spec.listeners[*].allowedRoutes.namespaces",
        r#"{"from": "Same"}"#,
    ),
    (
        "spec.listeners[*].allowedRoutes.namespaces.from",
        r#""Same""#,
    ),
    (
        "spec.listeners[*].allowedRoutes.kinds[*].group",
        r#""gateway.networking.k8s.io""#,
    ),
    ("spec.listeners[*].tls.mode", r#""Terminate""#),
    ("spec.listeners[*].tls.certificateRefs[*].group", r#""""#),
    (
        "spec.listeners[*].tls.certificateRefs[*].kind",
        r#""Secret""#,
    ),
];

const GATEWAY_DEFAULTS: &[(&str, &str)] = &[
    ("spec.addresses[*].type", r#""IPAddress""#),
    ("spec.allowedListeners.namespaces", r#"{"from": "None"}"#),
    ("spec.allowedListeners.namespaces.from", r#""None""#),
    ("spec.tls.backend.clientCertificateRef.group", r#""""#),
    ("spec.tls.backend.clientCertificateRef.kind", r#""Secret""#),
    (
        "spec.tls.frontend.default.validation.mode",
        r#""AllowValidOnly""#,
    ),
    (
        "spec.tls.frontend.perPort[*].tls.validation.mode",
        r#""AllowValidOnly""#,
    ),
];

const LISTENER_SET_DEFAULTS: &[(&str, &str)] = &[
    ("spec.parentRef.group", r#""gateway.networking.k8s.io""#),
    ("spec.parentRef.kind", r#""Gateway""#),
];

const BACKEND_TRAFFIC_DEFAULTS: &[(&str, &str)] = &[
    (
        "spec.retryConstraint.budget",
        r#"{"interval": "10s", "percent": 20}"#,
    ),
    ("spec.retryConstraint.budget.interval", r#""10s""#),
    ("spec.retryConstraint.budget.percent", "20"),
    (
        "spec.retryConstraint.minRetryRate",
        r#"{"count": 10, "interval": "1s"}"#,
    ),
    ("spec.sessionPersistence.type", r#""Cookie""#),
    (
        "spec.sessionPersistence.cookie.lifetimeType",
        r#""Session""#,
    ),
    ("spec.sessionPersistence.cookie.path", r#""/""#),
];

/// The default tables of a kind, in application order (parents before children).
fn tables(group: &str, kind: &str) -> Vec<&'static [(&'static str, &'static str)]> {
    match (group, kind) {
        (GW, "HTTPRoute") => vec![
            ROUTE_PARENT_DEFAULTS,
            HTTP_ROUTE_DEFAULTS,
            BACKEND_REF_DEFAULTS,
            SESSION_PERSISTENCE_DEFAULTS,
        ],
        (GW, "GRPCRoute") => vec![
            ROUTE_PARENT_DEFAULTS,
            GRPC_ROUTE_DEFAULTS,
            BACKEND_REF_DEFAULTS,
            SESSION_PERSISTENCE_DEFAULTS,
        ],
        (GW, "TLSRoute" | "TCPRoute" | "UDPRoute") => {
            vec![ROUTE_PARENT_DEFAULTS, BACKEND_REF_DEFAULTS]
        }
        (GW, "Gateway") => vec![GATEWAY_DEFAULTS, LISTENER_DEFAULTS],
        (GW, "ListenerSet") => vec![LISTENER_SET_DEFAULTS, LISTENER_DEFAULTS],
        (GW_X, "XBackendTrafficPolicy") => vec![BACKEND_TRAFFIC_DEFAULTS],
        _ => Vec::new(),
    }
}

/// Whether the kind's filters (at rule and backendRef level) take [`FILTER_DEFAULTS`].
fn has_filters(group: &str, kind: &str) -> bool {
    group == GW && matches!(kind, "HTTPRoute" | "GRPCRoute")
}

/// Fills the upstream schema defaults of `kind` into `obj`.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    for table in tables(group, kind) {
        for (path, value) in table {
            fill(obj, path, value);
        }
    }
    if has_filters(group, kind) {
        for (path, value) in FILTER_DEFAULTS {
            fill(obj, &format!("spec.rules[*].{path}"), value);
            fill(obj, &format!("spec.rules[*].backendRefs[*].{path}"), value);
        }
    }
}

fn fill(obj: &mut Value, path: &str, value: &str) {
    let value: Value = serde_json::from_str(value).expect("the default table holds valid JSON");
    let segments: Vec<&str> = path.split('.').collect();
    fill_at(obj, &segments, &value);
}

fn fill_at(node: &mut Value, segments: &[&str], value: &Value) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    match segments {
        [] => {}
        [last] => {
            if !map.contains_key(*last) {
                map.insert((*last).to_string(), value.clone());
            }
        }
        [first, rest @ ..] => {
            let (field, every) = match first.strip_suffix("[*]") {
                Some(field) => (field, true),
                None => (*first, false),
            };
            let Some(child) = map.get_mut(field) else {
                return;
            };
            if every {
                if let Some(items) = child.as_array_mut() {
                    for item in items {
                        fill_at(item, rest, value);
                    }
                }
            } else {
                fill_at(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_default_is_valid_json() {
        for (group, kind) in [
            (GW, "HTTPRoute"),
            (GW, "GRPCRoute"),
            (GW, "TCPRoute"),
            (GW, "Gateway"),
            (GW, "ListenerSet"),
            (GW_X, "XBackendTrafficPolicy"),
        ] {
            for table in tables(group, kind) {
                for (path, value) in table {
                    assert!(
                        serde_json::from_str::<Value>(value).is_ok(),
                        "{kind} {path}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_empty_route_gets_the_default_rule_and_refs() {
        let mut route = json!({"spec": {"parentRefs": [{"name": "gw"}], "rules": [
            {"backendRefs": [{"name": "svc", "port": 80}]},
            {"matches": [{"headers": [{"name": "x", "value": "y"}]}]}
        ]}});
        apply(GW, "HTTPRoute", &mut route);
        assert_eq!(
            route["spec"]["parentRefs"][0],
            json!({"name": "gw", "group": GW, "kind": "Gateway"})
        );
        assert_eq!(
            route["spec"]["rules"][0]["matches"],
            json!([{"path": {"type": "PathPrefix", "value": "/"}}])
        );
        assert_eq!(
            route["spec"]["rules"][0]["backendRefs"][0],
            json!({"name": "svc", "port": 80, "group": "", "kind": "Service", "weight": 1})
        );
        assert_eq!(
            route["spec"]["rules"][1]["matches"][0],
            json!({"headers": [{"name": "x", "value": "y", "type": "Exact"}],
                   "path": {"type": "PathPrefix", "value": "/"}})
        );

        let mut bare = json!({"spec": {}});
        apply(GW, "HTTPRoute", &mut bare);
        assert_eq!(
            bare["spec"]["rules"],
            json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}])
        );
    }

    #[test]
    fn listeners_default_to_same_namespace_routes_and_explicit_values_stay() {
        let mut gw = json!({"spec": {"listeners": [
            {"name": "a", "tls": {"certificateRefs": [{"name": "c"}]}},
            {"name": "b", "allowedRoutes": {"namespaces": {"from": "All"}}}
        ]}});
        apply(GW, "Gateway", &mut gw);
        let l = &gw["spec"]["listeners"];
        assert_eq!(
            l[0]["allowedRoutes"],
            json!({"namespaces": {"from": "Same"}})
        );
        assert_eq!(l[0]["tls"]["mode"], json!("Terminate"));
        assert_eq!(l[0]["tls"]["certificateRefs"][0]["kind"], json!("Secret"));
        assert_eq!(
            l[1]["allowedRoutes"],
            json!({"namespaces": {"from": "All"}})
        );
        assert!(
            gw["spec"].get("allowedListeners").is_none(),
            "absent parents stay absent"
        );
    }
}
