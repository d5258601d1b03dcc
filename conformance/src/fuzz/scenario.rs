//! A generated case as an ordinary scenario file: the world's objects, the status the oracle
//! requires, and the requests with the answers the oracle predicts. Live checks run exactly
//! this file, and a shrunk counterexample is written out as it, so `gatesim run` replays a
//! failure the way the fuzzer saw it.

use std::collections::BTreeMap;

use gatesim_generate::{Filter, PathMatch, Request, World, render};
use serde_json::{Value, json};

use crate::oracle::{Cond, Expected, Model};

/// The base fixture generated scenarios use (`scenarios/base/fuzz.yaml`).
pub const BASE: &str = "fuzz";

/// How long a generated scenario waits for status and for traffic: enough on a loaded
/// machine, short enough that a real failure (and every shrinking step) fails quickly.
const STATUS_TIMEOUT: &str = "10s";
const HTTP_WITHIN: &str = "5s";

/// Where the scenario came from.
#[derive(Clone, Debug)]
pub struct Origin {
    pub seed: String,
    pub property: String,
}

fn features(world: &World) -> Vec<&'static str> {
    let mut out = vec!["Gateway", "HTTPRoute"];
    let rules = || world.routes.iter().flat_map(|r| &r.rules);
    let matches = || rules().flat_map(|r| &r.matches);
    let filters = || rules().flat_map(|r| &r.filters);
    let mut add = |cond: bool, f: &'static str| {
        if cond && !out.contains(&f) {
            out.push(f);
        }
    };
    add(!world.grants.is_empty(), "ReferenceGrant");
    add(
        world.gateways.iter().any(|g| {
            g.listeners
                .iter()
                .enumerate()
                .any(|(i, l)| g.listeners[..i].iter().any(|o| o.port == l.port))
        }),
        "GatewayHTTPListenerIsolation",
    );
    add(
        matches().any(|m| m.method.is_some()),
        "HTTPRouteMethodMatching",
    );
    add(
        matches().any(|m| !m.query.is_empty()),
        "HTTPRouteQueryParamMatching",
    );
    for f in filters() {
        match f {
            Filter::ResponseHeaders(_) => add(true, "HTTPRouteResponseHeaderModification"),
            Filter::Rewrite(r) => {
                add(r.path.is_some(), "HTTPRoutePathRewrite");
                add(r.hostname.is_some(), "HTTPRouteHostRewrite");
            }
            Filter::Redirect(r) => {
                add(r.path.is_some(), "HTTPRoutePathRedirect");
                add(r.port.is_some(), "HTTPRoutePortRedirect");
                add(r.scheme.is_some(), "HTTPRouteSchemeRedirect");
            }
            Filter::RequestHeaders(_) => {}
        }
    }
    out
}

fn condition(kind: &str, c: &Cond) -> Value {
    let mut v = json!({"type": kind, "status": if c.status { "True" } else { "False" }});
    if let Some(r) = c.single_reason() {
        v["reason"] = json!(r);
    }
    v
}

fn status_step(model: &Model<'_>) -> Value {
    let status = model.status();
    let mut entries = Vec::new();
    for gw in &status.gateways {
        let listeners: Vec<Value> = gw
            .listeners
            .iter()
            .map(|l| {
                let mut v = json!({
                    "name": l.name,
                    "supportedKinds": l.supported_kinds.iter().map(|k| json!({"group": k.group, "kind": k.kind})).collect::<Vec<_>>(),
                    "conditions": [
                        {"type": "Accepted", "status": if l.accepted { "True" } else { "False" }},
                        condition("Conflicted", &l.conflicted),
                        condition("ResolvedRefs", &l.resolved_refs),
                    ],
                });
                if l.attached_routes.0 == l.attached_routes.1 {
                    v["attachedRoutes"] = json!(l.attached_routes.0);
                }
                v
            })
            .collect();
        entries.push(json!({
            "kind": "Gateway",
            "namespace": gw.namespace,
            "name": gw.name,
            "timeout": STATUS_TIMEOUT,
            "conditions": [{"type": "Accepted", "status": if gw.accepted { "True" } else { "False" }}],
            "listeners": listeners,
            "exact": true,
        }));
    }
    for route in &status.routes {
        let parents: Vec<Value> = route
            .parents
            .iter()
            .map(|p| {
                let mut parent_ref = json!({"name": p.gateway_name});
                if p.gateway_namespace != route.namespace {
                    parent_ref["namespace"] = json!(p.gateway_namespace);
                }
                json!({
                    "parentRef": parent_ref,
                    "conditions": [condition("Accepted", &p.accepted), condition("ResolvedRefs", &p.resolved_refs)],
                })
            })
            .collect();
        entries.push(json!({
            "kind": "HTTPRoute",
            "namespace": route.namespace,
            "name": route.name,
            "timeout": STATUS_TIMEOUT,
            "parents": parents,
            "exact": true,
        }));
    }
    json!({"expect-status": entries})
}

fn request_value(req: &Request) -> Value {
    let mut v = json!({"host": req.host, "method": req.method, "path": req.path});
    if !req.headers.is_empty() {
        let headers: BTreeMap<&str, &str> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        v["headers"] = json!(headers);
    }
    if req.scheme == gatesim_generate::Scheme::Https {
        v["scheme"] = json!("https");
        v["sni"] = json!(req.host);
    }
    v
}

/// Header expectations of the backend side, or `None` when nothing beyond the request itself
/// is expected.
fn expected_request(req: &Request, f: &crate::oracle::Forward) -> Value {
    let headers: BTreeMap<&str, &str> = f
        .request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut v = json!({"path": f.request.path, "method": req.method, "headers": headers});
    if let Some(h) = &f.request.host {
        v["host"] = json!(h);
    }
    if !f.request.absent.is_empty() {
        v["absentHeaders"] = json!(f.request.absent);
    }
    v
}

/// The checks for one request: an `expect-http` case, or an `expect-weights` step where the
/// answer is a weighted choice among backends.
enum Check {
    Case(Value),
    Weights(Value),
}

fn check(req: &Request, expected: &Expected, gateway: &str, listener: &str) -> Option<Check> {
    let name = format!("{} {}{}", req.method, req.host, req.path);
    let mut case = json!({"name": name, "request": request_value(req)});
    match expected {
        Expected::Unpredicted(_) => return None,
        Expected::Status(s) => case["response"] = json!({"status": s}),
        Expected::Redirect {
            status,
            scheme,
            host,
            port,
            path,
        } => {
            case["response"] = json!({"status": status});
            let mut r = json!({"scheme": scheme, "host": host, "path": path});
            if let Some(p) = port {
                r["port"] = json!(p);
            }
            case["redirect"] = r;
        }
        Expected::Forward(f) => {
            let mut weights: BTreeMap<(String, String), u32> = BTreeMap::new();
            for b in &f.backends {
                *weights
                    .entry((b.namespace.clone(), b.name.clone()))
                    .or_default() += b.weight;
            }
            let distinct_names = weights
                .keys()
                .map(|(_, n)| n)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            // A weights step checks the reply against the request as sent.
            let unchanged = f.request.host.is_none()
                && f.request.path == req.path
                && f.request.headers == req.headers
                && f.request.absent.is_empty();
            if weights.len() > 1
                && f.invalid_weight == 0
                && distinct_names == weights.len()
                && unchanged
            {
                let total: u32 = weights.values().sum();
                let distribution: BTreeMap<&str, f64> = weights
                    .iter()
                    .map(|((_, n), w)| (n.as_str(), f64::from(*w) / f64::from(total)))
                    .collect();
                return Some(Check::Weights(json!({"expect-weights": {
                    "gateway": gateway,
                    "listener": listener,
                    "request": request_value(req),
                    "samples": 200,
                    "tolerance": 0.1,
                    "attempts": 3,
                    "distribution": distribution,
                }})));
            }
            case["expectedRequest"] = expected_request(req, f);
            let statuses: Vec<u16> = if f.invalid_weight > 0 {
                vec![200, 500]
            } else {
                vec![200]
            };
            let mut response = json!({"statuses": statuses});
            let set: BTreeMap<&str, &str> = f
                .response_headers
                .set
                .iter()
                .chain(&f.response_headers.add)
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            if !set.is_empty() {
                response["headers"] = json!(set);
            }
            case["response"] = response;
            if weights.len() == 1 {
                let ((ns, name), _) = weights.iter().next()?;
                case["backend"] = json!(name);
                case["namespace"] = json!(ns);
            }
        }
    }
    Some(Check::Case(case))
}

/// Steps that check `requests` against the oracle's predictions for `world`.
fn traffic_steps(model: &Model<'_>, requests: &[Request]) -> Vec<Value> {
    let world = model.world;
    let mut by_target: BTreeMap<(usize, u16), Vec<Value>> = BTreeMap::new();
    let mut weights = Vec::new();
    for req in requests {
        let gw = &world.gateways[req.gateway];
        let Some(listener) = gw.listeners.iter().find(|l| l.port == req.port) else {
            continue;
        };
        let gateway = format!("{}/{}", gw.namespace, gw.name);
        match check(req, &model.predict(req), &gateway, &listener.name) {
            Some(Check::Case(c)) => by_target
                .entry((req.gateway, req.port))
                .or_default()
                .push(c),
            Some(Check::Weights(w)) => weights.push(w),
            None => {}
        }
    }
    let mut steps: Vec<Value> = by_target
        .into_iter()
        .map(|((g, port), cases)| {
            let gw = &world.gateways[g];
            let listener = gw
                .listeners
                .iter()
                .find(|l| l.port == port)
                .map(|l| l.name.clone());
            json!({"expect-http": {
                "gateway": format!("{}/{}", gw.namespace, gw.name),
                "listener": listener,
                "consecutive": 1,
                "within": HTTP_WITHIN,
                "cases": cases,
            }})
        })
        .collect();
    steps.extend(weights);
    steps
}

/// Whether any path match of the world is a regular expression (for the description).
fn uses_regex(world: &World) -> bool {
    world
        .routes
        .iter()
        .flat_map(|r| &r.rules)
        .flat_map(|r| &r.matches)
        .any(|m| matches!(m.path, Some(PathMatch::Regex(_))))
}

/// The scenario for `world` and `requests`, as YAML text.
pub fn write(world: &World, requests: &[Request], origin: &Origin) -> String {
    let model = Model::new(world);
    let mut steps = vec![status_step(&model)];
    steps.extend(traffic_steps(&model, requests));
    if !world.grants.is_empty() {
        // Revoking every grant must revoke the traffic it allowed.
        let deletes: Vec<Value> = world
            .grants
            .iter()
            .map(|g| json!({"kind": "ReferenceGrant", "namespace": g.namespace, "name": g.name}))
            .collect();
        steps.push(json!({"delete": deletes}));
        let revoked = World {
            grants: Vec::new(),
            ..world.clone()
        };
        let after = Model::new(&revoked);
        steps.push(status_step(&after));
        steps.extend(traffic_steps(&after, requests));
    }
    let name = format!("fuzz-{}-{}", origin.property, origin.seed);
    let scenario = json!({
        "name": name,
        "description": format!(
            "Generated by gatesim fuzz (generator v{}) for property {}{}; the expectations are \
             the oracle's.",
            gatesim_generate::GENERATOR_VERSION,
            origin.property,
            if uses_regex(world) { ", with regular-expression matches" } else { "" },
        ),
        "features": features(world),
        "base": BASE,
        "generated": {
            "seed": origin.seed,
            "property": origin.property,
            "generatorVersion": gatesim_generate::GENERATOR_VERSION,
        },
        "resources": render::case_objects(world, None),
        "steps": steps,
    });
    let yaml = serde_yaml::to_string(&scenario).unwrap_or_default();
    format!(
        "# Written by `gatesim fuzz`: a generated case, shrunk; replay it with `gatesim run`.\n{yaml}"
    )
}
