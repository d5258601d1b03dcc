//! Worlds as Kubernetes objects (JSON values, as a scenario file or an API server holds them).

use serde_json::{Map, Value, json};

use crate::model::*;
use crate::universe::{self, GATEWAY_GROUP};

fn object_ref(r: &ObjectRef) -> Value {
    let mut v = Map::new();
    if let Some(g) = &r.group {
        v.insert("group".into(), json!(g));
    }
    if let Some(k) = &r.kind {
        v.insert("kind".into(), json!(k));
    }
    if let Some(ns) = &r.namespace {
        v.insert("namespace".into(), json!(ns));
    }
    v.insert("name".into(), json!(r.name));
    Value::Object(v)
}

pub fn namespace(ns: &Namespace) -> Value {
    let mut metadata = json!({"name": ns.name});
    if !ns.labels.is_empty() {
        metadata["labels"] = json!(ns.labels);
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
}

fn listener(l: &Listener) -> Value {
    let mut v = json!({"name": l.name, "port": l.port, "protocol": l.protocol.as_str()});
    if let Some(h) = &l.hostname {
        v["hostname"] = json!(h);
    }
    let namespaces = match &l.allowed {
        AllowedNamespaces::Same => json!({"from": "Same"}),
        AllowedNamespaces::All => json!({"from": "All"}),
        AllowedNamespaces::Selector(labels) => {
            json!({"from": "Selector", "selector": {"matchLabels": labels}})
        }
    };
    v["allowedRoutes"] = json!({"namespaces": namespaces});
    if let Some(kinds) = &l.kinds {
        v["allowedRoutes"]["kinds"] = kinds
            .iter()
            .map(|k| json!({"group": k.group, "kind": k.kind}))
            .collect();
    }
    if l.protocol == Protocol::Https {
        let refs: Vec<Value> = l.certificates.iter().map(object_ref).collect();
        v["tls"] = json!({"mode": "Terminate", "certificateRefs": refs});
    }
    v
}

/// A Gateway; `class` sets `spec.gatewayClassName` (a scenario leaves it to the harness).
pub fn gateway(gw: &Gateway, class: Option<&str>) -> Value {
    let mut spec = json!({"listeners": gw.listeners.iter().map(listener).collect::<Vec<_>>()});
    if let Some(c) = class {
        spec["gatewayClassName"] = json!(c);
    }
    json!({
        "apiVersion": format!("{GATEWAY_GROUP}/v1"),
        "kind": "Gateway",
        "metadata": {"name": gw.name, "namespace": gw.namespace},
        "spec": spec,
    })
}

fn value_match(m: &ValueMatch) -> Value {
    json!({
        "type": if m.regex { "RegularExpression" } else { "Exact" },
        "name": m.name,
        "value": m.value,
    })
}

fn path_match(p: &PathMatch) -> Value {
    let (t, v) = match p {
        PathMatch::Exact(v) => ("Exact", v),
        PathMatch::Prefix(v) => ("PathPrefix", v),
        PathMatch::Regex(v) => ("RegularExpression", v),
    };
    json!({"type": t, "value": v})
}

fn matcher(m: &Match) -> Value {
    let mut v = Map::new();
    if let Some(p) = &m.path {
        v.insert("path".into(), path_match(p));
    }
    if let Some(method) = &m.method {
        v.insert("method".into(), json!(method));
    }
    if !m.headers.is_empty() {
        v.insert(
            "headers".into(),
            m.headers.iter().map(value_match).collect(),
        );
    }
    if !m.query.is_empty() {
        v.insert(
            "queryParams".into(),
            m.query.iter().map(value_match).collect(),
        );
    }
    Value::Object(v)
}

fn header_mods(m: &HeaderMods) -> Value {
    let pairs = |list: &[(String, String)]| -> Value {
        list.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect()
    };
    let mut v = Map::new();
    if !m.set.is_empty() {
        v.insert("set".into(), pairs(&m.set));
    }
    if !m.add.is_empty() {
        v.insert("add".into(), pairs(&m.add));
    }
    if !m.remove.is_empty() {
        v.insert("remove".into(), json!(m.remove));
    }
    Value::Object(v)
}

fn path_modifier(p: &PathModifier) -> Value {
    match p {
        PathModifier::Full(v) => json!({"type": "ReplaceFullPath", "replaceFullPath": v}),
        PathModifier::Prefix(v) => json!({"type": "ReplacePrefixMatch", "replacePrefixMatch": v}),
    }
}

fn filter(f: &Filter) -> Value {
    match f {
        Filter::RequestHeaders(m) => {
            json!({"type": "RequestHeaderModifier", "requestHeaderModifier": header_mods(m)})
        }
        Filter::ResponseHeaders(m) => {
            json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": header_mods(m)})
        }
        Filter::Redirect(r) => {
            let mut v = Map::new();
            if let Some(s) = &r.scheme {
                v.insert("scheme".into(), json!(s));
            }
            if let Some(h) = &r.hostname {
                v.insert("hostname".into(), json!(h));
            }
            if let Some(p) = r.port {
                v.insert("port".into(), json!(p));
            }
            if let Some(p) = &r.path {
                v.insert("path".into(), path_modifier(p));
            }
            if let Some(s) = r.status {
                v.insert("statusCode".into(), json!(s));
            }
            json!({"type": "RequestRedirect", "requestRedirect": v})
        }
        Filter::Rewrite(r) => {
            let mut v = Map::new();
            if let Some(h) = &r.hostname {
                v.insert("hostname".into(), json!(h));
            }
            if let Some(p) = &r.path {
                v.insert("path".into(), path_modifier(p));
            }
            json!({"type": "URLRewrite", "urlRewrite": v})
        }
    }
}

fn backend(b: &BackendRef) -> Value {
    let mut v = object_ref(&b.target);
    if let Some(p) = b.port {
        v["port"] = json!(p);
    }
    if let Some(w) = b.weight {
        v["weight"] = json!(w);
    }
    if !b.filters.is_empty() {
        v["filters"] = b.filters.iter().map(filter).collect();
    }
    v
}

fn rule(r: &Rule) -> Value {
    let mut v = Map::new();
    if !r.matches.is_empty() {
        v.insert("matches".into(), r.matches.iter().map(matcher).collect());
    }
    if !r.filters.is_empty() {
        v.insert("filters".into(), r.filters.iter().map(filter).collect());
    }
    if !r.backends.is_empty() {
        v.insert(
            "backendRefs".into(),
            r.backends.iter().map(backend).collect(),
        );
    }
    Value::Object(v)
}

pub fn route(r: &Route) -> Value {
    let parents: Vec<Value> = r
        .parents
        .iter()
        .map(|p| {
            let mut v = json!({"name": p.name});
            if let Some(ns) = &p.namespace {
                v["namespace"] = json!(ns);
            }
            if let Some(s) = &p.section {
                v["sectionName"] = json!(s);
            }
            if let Some(port) = p.port {
                v["port"] = json!(port);
            }
            v
        })
        .collect();
    let mut spec = json!({
        "parentRefs": parents,
        "rules": r.rules.iter().map(rule).collect::<Vec<_>>(),
    });
    if !r.hostnames.is_empty() {
        spec["hostnames"] = json!(r.hostnames);
    }
    json!({
        "apiVersion": format!("{GATEWAY_GROUP}/v1"),
        "kind": "HTTPRoute",
        "metadata": {"name": r.name, "namespace": r.namespace},
        "spec": spec,
    })
}

pub fn grant(g: &Grant) -> Value {
    json!({
        "apiVersion": format!("{GATEWAY_GROUP}/v1beta1"),
        "kind": "ReferenceGrant",
        "metadata": {"name": g.name, "namespace": g.namespace},
        "spec": {
            "from": g.from.iter().map(|f| json!({"group": f.group, "kind": f.kind, "namespace": f.namespace})).collect::<Vec<_>>(),
            "to": g.to.iter().map(|t| {
                let mut v = json!({"group": t.group, "kind": t.kind});
                if let Some(n) = &t.name {
                    v["name"] = json!(n);
                }
                v
            }).collect::<Vec<_>>(),
        },
    })
}

/// The objects a case applies, in an order that can be applied: namespaces, Gateways, grants,
/// then routes by namespace and name. Creating routes in that order makes "oldest first" and
/// "alphabetical first" agree, so precedence never hangs on which second a route was created.
pub fn case_objects(world: &World, class: Option<&str>) -> Vec<Value> {
    let mut routes: Vec<&Route> = world.routes.iter().collect();
    routes.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    world
        .namespaces
        .iter()
        .map(namespace)
        .chain(world.gateways.iter().map(|g| gateway(g, class)))
        .chain(world.grants.iter().map(grant))
        .chain(routes.into_iter().map(route))
        .collect()
}

/// The universe as scenario objects (the `fuzz` base fixture): namespaces without labels, a
/// serving certificate and echo backends in every namespace, and each Gateway with one plain
/// HTTP listener (cases replace it; the run restores it after each case).
pub fn base_objects() -> Vec<Value> {
    let mut out: Vec<Value> = universe::NAMESPACES
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    for ns in universe::NAMESPACES {
        out.push(json!({
            "apiVersion": "gatesim.dev/v1alpha1",
            "kind": "TestCertificate",
            "metadata": {"name": universe::CERT_NAME, "namespace": ns},
            "spec": {"dnsNames": universe::CERT_DNS_NAMES},
        }));
    }
    for ns in universe::NAMESPACES {
        for (name, port) in universe::BACKENDS {
            out.push(json!({
                "apiVersion": "gatesim.dev/v1alpha1",
                "kind": "EchoBackend",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "replicas": 1,
                    "ports": [{"name": "http", "port": port, "targetPort": universe::TARGET_PORT}],
                },
            }));
        }
    }
    for (ns, name) in universe::GATEWAYS {
        out.push(gateway(&base_gateway(ns, name), None));
    }
    out
}

/// A Gateway of the universe as the base fixture holds it.
pub fn base_gateway(namespace: &str, name: &str) -> Gateway {
    Gateway {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        listeners: vec![Listener {
            name: "l0".to_owned(),
            port: 80,
            protocol: Protocol::Http,
            hostname: None,
            allowed: AllowedNamespaces::Same,
            kinds: None,
            certificates: Vec::new(),
        }],
    }
}
