//! Invalid values on purpose: a generated world with one field of one object set to a value
//! the CRDs forbid or Envoy would refuse (a regex RE2 rejects, a header name with a space, a
//! wildcard in the middle of a hostname, a relative path, a negative weight, port 0, redirect
//! status 300, a K8sGateway policy field out of range).
//!
//! The world itself stays valid by construction; a [`Corruption`] is applied to its rendered
//! objects, so that values the model's types cannot even hold (`weight: -1`) are reachable.
//! A controller must refuse the corrupted object, naming the field, and serve everything else
//! exactly as if the object were absent.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::model::World;
use crate::render;
use crate::universe::GATEWAY_GROUP;

/// What kind of value a site holds, and so which invalid values fit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Hostname,
    /// A redirect's or rewrite's hostname: no wildcard allowed either.
    PreciseHostname,
    /// The value of an Exact or PathPrefix match.
    Path,
    /// A path a redirect or rewrite puts in place (`//` is fine there).
    PathModifier,
    Regex,
    /// A header name in a match or a `remove` list.
    HeaderName,
    /// A header name a modifier sets or adds.
    ModifierName,
    HeaderValue,
    Weight,
    Port,
    RedirectStatus,
    /// A field of a K8sGateway RouteOption attached to the route.
    Policy,
}

impl Class {
    pub const ALL: [Class; 12] = [
        Class::Hostname,
        Class::PreciseHostname,
        Class::Path,
        Class::PathModifier,
        Class::Regex,
        Class::HeaderName,
        Class::ModifierName,
        Class::HeaderValue,
        Class::Weight,
        Class::Port,
        Class::RedirectStatus,
        Class::Policy,
    ];

    /// Values the CRDs forbid or Envoy would refuse, as (JSON pointer below the site, value):
    /// the pointer is empty except for policies, whose fields live below `spec.options`.
    fn bad_values(self) -> Vec<(&'static str, Value)> {
        let plain = |values: Vec<Value>| values.into_iter().map(|v| ("", v)).collect();
        match self {
            Class::Hostname => plain(vec![
                json!("www.*.fz.test"),
                json!("*fz.test"),
                json!("**.fz.test"),
                json!("192.168.1.1"),
                json!("A.fz.test"),
                json!("a b.fz.test"),
                json!("-a.fz.test"),
                json!(format!("{}.fz.test", "a".repeat(64))),
            ]),
            Class::PreciseHostname => plain(vec![
                json!("*.fz.test"),
                json!("B.fz.test"),
                json!("10.0.0.1"),
            ]),
            Class::Path => plain(vec![
                json!("api"),
                json!("/a#b"),
                json!("/a?b"),
                json!("/a//b"),
            ]),
            Class::PathModifier => plain(vec![json!("api"), json!("/a#b"), json!("/a b")]),
            Class::Regex => plain(vec![
                json!("("),
                json!("/(a)\\1"),
                json!("/a{1001}"),
                json!("(?=/a)/a"),
                json!("/[z-a]"),
            ]),
            Class::HeaderName => plain(vec![json!("x bad"), json!(":path"), json!("x\ny")]),
            Class::ModifierName => plain(vec![json!("x bad"), json!(":authority"), json!("host")]),
            Class::HeaderValue => plain(vec![json!("a\nb"), json!("a\r\nx-injected: 1")]),
            Class::Weight => plain(vec![json!(-1), json!(1_000_001)]),
            Class::Port => plain(vec![json!(0), json!(-1), json!(65536)]),
            Class::RedirectStatus => plain(vec![json!(300), json!(0), json!(999)]),
            Class::Policy => vec![
                ("/timeout", json!("-1s")),
                ("/prefixRewrite", json!("nope")),
                (
                    "/faults/abort",
                    json!({"percentage": 50, "httpStatus": 700}),
                ),
                ("/retries/retriableStatusCodes", json!([99])),
                (
                    "/regexRewrite",
                    json!({"pattern": {"regex": "("}, "substitution": "/x"}),
                ),
                (
                    "/headerManipulation/responseHeadersToRemove",
                    json!(["x bad"]),
                ),
            ],
        }
    }
}

/// One invalid value in one object of a world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The corrupted object: a route of the world, or a RouteOption added for one.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// For a RouteOption, the route it attaches to.
    pub policy_for: Option<String>,
    /// JSON pointer of the field inside the object.
    pub pointer: String,
    pub value: Value,
    pub class: Class,
}

impl Corruption {
    /// The field as a status message names it: `spec.rules[0].backendRefs[1].weight`.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for segment in self.pointer.split('/').skip(1) {
            if segment.parse::<usize>().is_ok() {
                out.push_str(&format!("[{segment}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(segment);
            }
        }
        out
    }

    fn is(&self, o: &Value) -> bool {
        o["kind"] == self.kind
            && o["metadata"]["namespace"] == self.namespace.as_str()
            && o["metadata"]["name"] == self.name.as_str()
    }

    /// Sets the value in `objects` (adding the RouteOption of a policy corruption); false
    /// when the object is not there.
    pub fn apply(&self, objects: &mut Vec<Value>) -> bool {
        if let Some(route) = &self.policy_for {
            let mut policy = json!({
                "apiVersion": "gateway.solo.io/v1",
                "kind": self.kind,
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "targetRefs": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute", "name": route}],
                    "options": {},
                },
            });
            set(&mut policy, &self.pointer, self.value.clone());
            objects.push(policy);
            return true;
        }
        match objects.iter_mut().find(|o| self.is(o)) {
            Some(object) => {
                set(object, &self.pointer, self.value.clone());
                true
            }
            None => false,
        }
    }

    /// The objects without the corrupted one: what the rest must be served as.
    pub fn remove(&self, objects: &mut Vec<Value>) {
        if self.policy_for.is_none() {
            objects.retain(|o| !self.is(o));
        }
    }

    /// Whether `kind`/`namespace`/`name` is the corrupted object.
    pub fn names(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.kind == kind && self.namespace == namespace && self.name == name
    }
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{} {} = {}",
            self.kind,
            self.namespace,
            self.name,
            self.field(),
            self.value
        )
    }
}

/// Sets the value at `pointer`, creating objects on the way (and appending to an array
/// when the index is its length).
fn set(root: &mut Value, pointer: &str, value: Value) {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut at = root;
    for (i, segment) in segments.iter().enumerate() {
        // What a missing value on the way becomes: a list where an index follows.
        let next = || match segments.get(i + 1) {
            None => Value::Null,
            Some(s) if s.parse::<usize>().is_ok() => Value::Array(Vec::new()),
            Some(_) => Value::Object(Map::new()),
        };
        at = match at {
            Value::Array(items) => {
                let index: usize = segment.parse().unwrap_or(items.len());
                if index >= items.len() {
                    items.push(next());
                }
                let index = index.min(items.len() - 1);
                &mut items[index]
            }
            other => {
                if !other.is_object() {
                    *other = Value::Object(Map::new());
                }
                let Value::Object(map) = other else {
                    return;
                };
                map.entry(segment.to_string()).or_insert_with(next)
            }
        };
    }
    *at = value;
}

/// Where a route can be corrupted: (pointer, class).
fn route_sites(route: &Value) -> Vec<(String, Class)> {
    let mut sites = Vec::new();
    walk(&route["spec"], "/spec".to_owned(), &mut sites);
    // Fields a route may leave out are sites too: set, they are as invalid.
    for (r, rule) in route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (b, _) in rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (field, class) in [("weight", Class::Weight), ("port", Class::Port)] {
                let pointer = format!("/spec/rules/{r}/backendRefs/{b}/{field}");
                if !sites.iter().any(|(p, _)| *p == pointer) {
                    sites.push((pointer, class));
                }
            }
        }
    }
    if route["spec"]["hostnames"].is_null() {
        sites.push(("/spec/hostnames/0".to_owned(), Class::Hostname));
    }
    sites
}

fn walk(v: &Value, pointer: String, sites: &mut Vec<(String, Class)>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let here = format!("{pointer}/{k}");
                match site(&pointer, k, map) {
                    Some(class) => sites.push((here, class)),
                    None => walk(item, here, sites),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{pointer}/{i}");
                if pointer.ends_with("/hostnames") {
                    sites.push((here, Class::Hostname));
                } else if pointer.ends_with("/remove") {
                    sites.push((here, Class::HeaderName));
                } else {
                    walk(item, here, sites);
                }
            }
        }
        _ => {}
    }
}

/// The class of field `key` of the object at `parent` (which holds `siblings`).
fn site(parent: &str, key: &str, siblings: &Map<String, Value>) -> Option<Class> {
    let regex = siblings.get("type").and_then(Value::as_str) == Some("RegularExpression");
    let modifier = parent.contains("HeaderModifier/set/") || parent.contains("HeaderModifier/add/");
    let last = parent.rsplit('/').next().unwrap_or_default();
    let in_list = |list: &str| parent.contains(&format!("/{list}/"));
    Some(match key {
        "value" if last == "path" => {
            if regex {
                Class::Regex
            } else {
                Class::Path
            }
        }
        "value" if regex && (in_list("headers") || in_list("queryParams")) => Class::Regex,
        "value" if modifier => Class::HeaderValue,
        "name" if modifier => Class::ModifierName,
        "name" if in_list("headers") => Class::HeaderName,
        "weight" if in_list("backendRefs") => Class::Weight,
        "port" if in_list("backendRefs") || in_list("parentRefs") || last == "requestRedirect" => {
            Class::Port
        }
        "statusCode" if last == "requestRedirect" => Class::RedirectStatus,
        "hostname" if last == "requestRedirect" || last == "urlRewrite" => Class::PreciseHostname,
        "replaceFullPath" | "replacePrefixMatch" => Class::PathModifier,
        _ => return None,
    })
}

/// Every place of `world` a value can be corrupted: (kind, namespace, name, attached-to route,
/// pointer, class).
fn sites(world: &World) -> Vec<Corruption> {
    let mut out = Vec::new();
    for route in &world.routes {
        let rendered = render::route(route);
        for (pointer, class) in route_sites(&rendered) {
            out.push(Corruption {
                kind: "HTTPRoute",
                namespace: route.namespace.clone(),
                name: route.name.clone(),
                policy_for: None,
                pointer,
                value: Value::Null,
                class,
            });
        }
        out.push(Corruption {
            kind: "RouteOption",
            namespace: route.namespace.clone(),
            name: format!("{}-options", route.name),
            policy_for: Some(route.name.clone()),
            pointer: "/spec/options".to_owned(),
            value: Value::Null,
            class: Class::Policy,
        });
    }
    out
}

/// Which site of a world to corrupt and with which of its class's values, as numbers taken
/// modulo what the world offers: generated apart from the world, so that the world shrinks as
/// freely as without it (as [`crate::RequestSeed`] does for requests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorruptionSeed {
    pub site: u32,
    pub value: u32,
}

pub fn seed() -> impl Strategy<Value = CorruptionSeed> {
    (any::<u32>(), any::<u32>()).prop_map(|(site, value)| CorruptionSeed { site, value })
}

/// The corruption `seed` picks in `world`; none when the world has no route to corrupt.
pub fn resolve(world: &World, seed: CorruptionSeed) -> Option<Corruption> {
    let sites = sites(world);
    if sites.is_empty() {
        return None;
    }
    let mut site = sites[seed.site as usize % sites.len()].clone();
    let values = site.class.bad_values();
    let (below, value) = values[seed.value as usize % values.len()].clone();
    site.pointer.push_str(below);
    site.value = value;
    Some(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_follow_the_status_messages() {
        let c = Corruption {
            kind: "HTTPRoute",
            namespace: "a".into(),
            name: "r".into(),
            policy_for: None,
            pointer: "/spec/rules/0/backendRefs/1/weight".into(),
            value: json!(-1),
            class: Class::Weight,
        };
        assert_eq!(c.field(), "spec.rules[0].backendRefs[1].weight");
    }

    #[test]
    fn setting_creates_what_is_missing() {
        let mut v = json!({"spec": {"rules": [{}]}});
        set(&mut v, "/spec/hostnames/0", json!("x"));
        set(&mut v, "/spec/rules/0/backendRefs", json!([]));
        set(&mut v, "/spec/rules/0/backendRefs/0/weight", json!(-1));
        assert_eq!(
            v,
            json!({"spec": {"hostnames": ["x"], "rules": [{"backendRefs": [{"weight": -1}]}]}})
        );
    }

    #[test]
    fn every_class_has_values() {
        for class in Class::ALL {
            assert!(!class.bad_values().is_empty(), "{class:?}");
        }
    }
}
