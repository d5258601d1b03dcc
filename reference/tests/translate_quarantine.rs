//! Quarantine as a translation input: a quarantined route attaches nowhere and says why, but
//! only while it is the version that was quarantined.

mod contain_support;
mod e2e_support;

use contain_support::{bad_regex_route, gateway, good_route, set_of};
use e2e_support::{HTTP_GATEWAY, service_yaml};
use gatesim_reference::api::HttpRoute;
use gatesim_reference::model::{ObjectId, ObjectKey, ObjectVersion, Quarantined, ResourceSet};
use gatesim_reference::translate::{StatusPatch, Translation, candidates, translate};
use serde_json::Value;

fn input() -> ResourceSet {
    let routes = [good_route("a"), bad_regex_route("bad"), good_route("b")].join("---\n");
    set_of(&format!(
        "{HTTP_GATEWAY}---\n{}---\n{routes}",
        service_yaml("echo", 8000, &["127.0.0.1".into()])
    ))
}

fn route_key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

fn quarantine(set: &mut ResourceSet, name: &str) {
    let key = route_key(name);
    let version = ObjectVersion::of(set.http_routes[&key].as_ref());
    set.quarantine.insert(
        ObjectId::of::<HttpRoute>(&key),
        Quarantined {
            version,
            gateway: gateway(),
            message: "missing ): /bad/(".into(),
        },
    );
}

/// The route's Accepted condition on its (only) parent.
fn accepted(t: &Translation, name: &str) -> Value {
    let status = t
        .statuses
        .iter()
        .find(|s| s.target.kind == "HTTPRoute" && s.target.name == name)
        .expect("route status");
    let StatusPatch::RouteParents { parents, .. } = &status.patch else {
        panic!("route status is a parents patch")
    };
    assert_eq!(parents.len(), 1);
    parents[0]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Accepted")
        .cloned()
        .expect("Accepted")
}

/// Every regex in the Gateway's route configurations.
fn regexes(t: &Translation) -> Vec<String> {
    let text = format!("{:?}", t.proxies[&gateway()].routes);
    text.match_indices("regex: \"")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

#[test]
fn a_quarantined_route_is_left_out_and_says_why() {
    let mut set = input();
    let before = translate(&set);
    assert_eq!(regexes(&before), ["/bad/("]);
    assert_eq!(accepted(&before, "bad")["status"], "True");

    quarantine(&mut set, "bad");
    let after = translate(&set);
    assert!(regexes(&after).is_empty(), "the route is still configured");
    let c = accepted(&after, "bad");
    assert_eq!(c["status"], "False", "{c}");
    assert_eq!(c["reason"], "UnsupportedValue", "{c}");
    let message = c["message"].as_str().unwrap_or_default();
    assert!(message.contains("missing ): /bad/("), "{message}");
    assert!(message.contains("Gateway default/gw"), "{message}");
    // The other routes are untouched.
    for name in ["a", "b"] {
        assert_eq!(accepted(&after, name)["status"], "True", "{name}");
    }
    assert_eq!(
        after.proxies[&gateway()].clusters,
        before.proxies[&gateway()].clusters
    );
}

#[test]
fn a_changed_route_is_tried_again() {
    // Edited content without a generation (files).
    let mut set = input();
    quarantine(&mut set, "bad");
    let edited = set_of(&bad_regex_route("bad").replace("/bad/(", "/bad/[0-9]+"));
    set.merge(edited);
    let t = translate(&set);
    assert_eq!(accepted(&t, "bad")["status"], "True");
    assert_eq!(regexes(&t), ["/bad/[0-9]+"]);

    // A new generation with the same content (an API server's count of spec changes).
    let mut set = input();
    quarantine(&mut set, "bad");
    let mut route = set.http_routes[&route_key("bad")].as_ref().clone();
    route.metadata.generation = Some(2);
    set.insert(route);
    assert_eq!(accepted(&translate(&set), "bad")["status"], "True");

    // Our own status write moves resourceVersion only: still quarantined.
    let mut set = input();
    quarantine(&mut set, "bad");
    let mut route = set.http_routes[&route_key("bad")].as_ref().clone();
    route.metadata.resource_version = Some("99".into());
    set.insert(route);
    assert_eq!(accepted(&translate(&set), "bad")["status"], "False");
}

#[test]
fn candidates_are_the_routes_naming_the_gateway() {
    let other = good_route("elsewhere").replace("{name: gw}", "{name: other}");
    let mut set = input();
    set.merge(set_of(&other));
    let names = |set: &ResourceSet| -> Vec<String> {
        candidates(set, &gateway())
            .iter()
            .map(|id| format!("{}/{}", id.kind, id.key.name))
            .collect()
    };
    assert_eq!(names(&set), ["HTTPRoute/a", "HTTPRoute/b", "HTTPRoute/bad"]);
    quarantine(&mut set, "bad");
    assert_eq!(
        names(&set),
        ["HTTPRoute/a", "HTTPRoute/b"],
        "a quarantined route is left out already"
    );
    assert!(candidates(&set, &ObjectKey::new("default", "nope")).is_empty());
}

#[test]
fn version_of_finds_any_stored_kind() {
    let set = input();
    let route = ObjectId::of::<HttpRoute>(&route_key("a"));
    assert_eq!(
        set.version_of(&route),
        Some(ObjectVersion::of(set.http_routes[&route_key("a")].as_ref()))
    );
    assert_eq!(route.to_string(), "HTTPRoute default/a");
    let gone = ObjectId::of::<HttpRoute>(&route_key("gone"));
    assert_eq!(set.version_of(&gone), None);
}
