//! HTTPRoute delegation, one test per rule: which routes a delegating backendRef selects,
//! which of their matches are served, the hostnames they serve, refused delegatees, cycles,
//! nesting, and RouteOptions along the chain. Each checks the Envoy routes and the statuses.

mod policy_support;

use policy_support::{GATEWAY, condition_of, entries, run, virtual_host, virtual_hosts};
use serde_json::Value;

fn doc(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

/// HTTPRoute `name` in `ns`. `meta` is extra metadata (YAML flow entries, may be empty),
/// `spec` the spec's YAML flow mapping body.
fn route(ns: &str, name: &str, meta: &str, spec: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: {ns}, generation: 1{meta}}}\nspec: {{{spec}}}"
    )
}

/// The parent: attached to gw, hostname parent.example, one rule per (path, backendRef).
fn parent(meta: &str, rules: &[(&str, &str)]) -> String {
    let rules: Vec<String> = rules
        .iter()
        .map(|(path, br)| {
            format!(
                "{{matches: [{{path: {{type: PathPrefix, value: {path}}}}}], backendRefs: [{br}]}}"
            )
        })
        .collect();
    route(
        "default",
        "parent",
        meta,
        &format!(
            "parentRefs: [{{name: gw}}], hostnames: [parent.example], rules: [{}]",
            rules.join(", ")
        ),
    )
}

fn by_name(name: &str, ns: Option<&str>) -> String {
    let ns = ns.map_or(String::new(), |n| format!(", namespace: {n}"));
    format!("{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: \"{name}\"{ns}}}")
}

/// A child rule: path prefix to svc (in the child's namespace) port `port`.
fn rule(path: &str, svc: &str, port: u16) -> String {
    format!(
        "{{matches: [{{path: {{type: PathPrefix, value: {path}}}}}], backendRefs: [{{name: {svc}, port: {port}}}]}}"
    )
}

/// Route names served on parent.example, in order.
fn served(t: &gatesim_reference::translate::Translation) -> Vec<String> {
    // proto3 JSON leaves an empty list out.
    virtual_host(t, "parent.example")["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn envoy_route(t: &gatesim_reference::translate::Translation, name: &str) -> Value {
    virtual_hosts(t)
        .iter()
        .flat_map(|vh| vh["routes"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no route {name}"))
}

/// (status, reason, message) of `type_` in the entry of HTTPRoute `name` for `parent_kind`
/// `parent_name`.
fn route_condition(
    t: &gatesim_reference::translate::Translation,
    name: &str,
    parent_kind: &str,
    parent_name: &str,
    type_: &str,
) -> (String, String, String) {
    let all = entries(t, "HTTPRoute", name);
    let e = all
        .iter()
        .find(|e| e["parentRef"]["kind"] == parent_kind && e["parentRef"]["name"] == parent_name)
        .unwrap_or_else(|| {
            panic!("HTTPRoute {name}: no entry for {parent_kind} {parent_name}: {all:#?}")
        });
    condition_of(e, type_)
}

#[test]
fn by_name_the_child_serves_under_the_parents_hostname_and_the_parent_rule_has_no_route() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/team1", &by_name("child", None))]),
        &route(
            "default",
            "child",
            "",
            &format!("rules: [{}]", rule("/team1/orders", "svc-a", 8080)),
        ),
    ]));
    assert_eq!(served(&t), ["httproute/default/child/rule/0/match/0"]);
    let r = envoy_route(&t, "httproute/default/child/rule/0/match/0");
    assert_eq!(r["match"]["pathSeparatedPrefix"], "/team1/orders");
    assert_eq!(r["route"]["cluster"], "kube/default/svc-a/8080");
    // The child is served only where the parent is: no other virtual host has its route.
    let elsewhere: Vec<Value> = virtual_hosts(&t)
        .into_iter()
        .filter(|vh| vh["domains"][0] != "parent.example")
        .collect();
    assert!(
        elsewhere
            .iter()
            .all(|vh| vh["routes"].as_array().is_none_or(Vec::is_empty)),
        "{elsewhere:#?}"
    );
    let child = route_condition(&t, "child", "HTTPRoute", "parent", "Accepted");
    assert_eq!((child.0.as_str(), child.1.as_str()), ("True", "Accepted"));
    assert_eq!(
        entries(&t, "HTTPRoute", "child")[0]["parentRef"],
        serde_json::json!({"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default", "name": "parent"})
    );
    assert_eq!(
        route_condition(&t, "parent", "Gateway", "gw", "Accepted").0,
        "True"
    );
    assert_eq!(
        route_condition(&t, "parent", "Gateway", "gw", "ResolvedRefs").0,
        "True"
    );
}

#[test]
fn a_wildcard_name_delegates_to_every_route_of_the_namespace() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/apps", &by_name("*", Some("apps")))]),
        &route(
            "apps",
            "one",
            "",
            &format!("rules: [{}]", rule("/apps/one", "svc-x", 80)),
        ),
        &route(
            "apps",
            "two",
            "",
            &format!("rules: [{}]", rule("/apps/two", "svc-x", 80)),
        ),
        &route(
            "default",
            "not-in-apps",
            "",
            &format!("rules: [{}]", rule("/apps/three", "svc-a", 8080)),
        ),
    ]));
    assert_eq!(
        served(&t),
        [
            "httproute/apps/one/rule/0/match/0",
            "httproute/apps/two/rule/0/match/0"
        ]
    );
    assert_eq!(
        envoy_route(&t, "httproute/apps/two/rule/0/match/0")["route"]["cluster"],
        "kube/apps/svc-x/80",
        "a child's backendRefs resolve in its own namespace"
    );
}

#[test]
fn a_label_selects_labelled_routes_in_one_namespace_or_all() {
    let labelled = ", labels: {delegation.gateway.solo.io/label: shop}";
    let children = [
        route(
            "apps",
            "cart",
            labelled,
            &format!("rules: [{}]", rule("/shop/cart", "svc-x", 80)),
        ),
        route(
            "default",
            "catalog",
            labelled,
            &format!("rules: [{}]", rule("/shop/catalog", "svc-a", 8080)),
        ),
        route(
            "apps",
            "unlabelled",
            "",
            &format!("rules: [{}]", rule("/shop/secret", "svc-x", 80)),
        ),
    ];
    let label = |ns: &str| {
        format!("{{group: delegation.gateway.solo.io, kind: label, name: shop, namespace: {ns}}}")
    };
    let (_, all) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/shop", &label("all"))]),
        &children[0],
        &children[1],
        &children[2],
    ]));
    // In Gateway API precedence: the longer prefix first.
    assert_eq!(
        served(&all),
        [
            "httproute/default/catalog/rule/0/match/0",
            "httproute/apps/cart/rule/0/match/0"
        ]
    );
    let (_, apps) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/shop", &label("apps"))]),
        &children[0],
        &children[1],
        &children[2],
    ]));
    assert_eq!(served(&apps), ["httproute/apps/cart/rule/0/match/0"]);
}

#[test]
fn a_label_delegation_to_all_is_refused_while_a_namespace_all_exists() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: all}",
        &parent(
            "",
            &[(
                "/shop",
                "{group: delegation.gateway.solo.io, kind: label, name: shop, namespace: all}",
            )],
        ),
        &route(
            "default",
            "catalog",
            ", labels: {delegation.gateway.solo.io/label: shop}",
            &format!("rules: [{}]", rule("/shop/catalog", "svc-a", 8080)),
        ),
    ]));
    assert!(served(&t).is_empty());
    let (status, reason, _) = route_condition(&t, "parent", "Gateway", "gw", "ResolvedRefs");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RefNotPermitted")
    );
}

#[test]
fn only_child_matches_within_the_parents_match_are_served() {
    let parent_rule = route(
        "default",
        "parent",
        "",
        "parentRefs: [{name: gw}], hostnames: [parent.example], rules: [{matches: [{path: {type: PathPrefix, value: /inside}, headers: [{name: x-team, value: blue}]}], backendRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: child}]}]",
    );
    let child = route(
        "default",
        "child",
        "",
        "rules: [\
         {matches: [{path: {type: PathPrefix, value: /inside/api}, headers: [{name: x-team, value: blue}]}], backendRefs: [{name: svc-a, port: 8080}]},\
         {matches: [{path: {type: PathPrefix, value: /outside}, headers: [{name: x-team, value: blue}]}], backendRefs: [{name: svc-b, port: 8080}]},\
         {matches: [{path: {type: PathPrefix, value: /inside/loose}}], backendRefs: [{name: svc-b, port: 8080}]},\
         {matches: [{path: {type: PathPrefix, value: /insider}, headers: [{name: x-team, value: blue}]}], backendRefs: [{name: svc-b, port: 8080}]}]",
    );
    let (_, t) = run(&doc(&[GATEWAY, &parent_rule, &child]));
    assert_eq!(served(&t), ["httproute/default/child/rule/0/match/0"]);
    let r = envoy_route(&t, "httproute/default/child/rule/0/match/0");
    assert_eq!(r["match"]["headers"][0]["name"], "x-team");
    let (status, _, message) = route_condition(&t, "child", "HTTPRoute", "parent", "Accepted");
    assert_eq!(status, "True");
    assert!(
        message.ends_with("outside its match: rule 1, rule 2, rule 3"),
        "{message}"
    );
}

#[test]
fn a_child_with_its_own_hostnames_is_refused_and_a_valid_sibling_serves() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent(
            "",
            &[
                ("/valid", &by_name("valid", None)),
                ("/invalid", &by_name("named", None)),
            ],
        ),
        &route(
            "default",
            "valid",
            "",
            &format!("rules: [{}]", rule("/valid", "svc-a", 8080)),
        ),
        &route(
            "default",
            "named",
            "",
            &format!(
                "hostnames: [parent.example], rules: [{}]",
                rule("/invalid", "svc-b", 8080)
            ),
        ),
    ]));
    assert_eq!(served(&t), ["httproute/default/valid/rule/0/match/0"]);
    let (status, reason, message) = route_condition(&t, "named", "HTTPRoute", "parent", "Accepted");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "UnsupportedValue")
    );
    assert!(
        message.starts_with("spec.hostnames must be unset"),
        "{message}"
    );
}

#[test]
fn a_child_whose_parent_refs_name_another_parent_is_not_delegated_to() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/a", &by_name("*", None))]),
        &route(
            "default",
            "elsewhere",
            "",
            &format!(
                "parentRefs: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: other-parent}}], rules: [{}]",
                rule("/a/x", "svc-a", 8080)
            ),
        ),
        &route(
            "default",
            "mine",
            "",
            &format!(
                "parentRefs: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: parent}}], rules: [{}]",
                rule("/a/y", "svc-b", 8080)
            ),
        ),
    ]));
    assert_eq!(served(&t), ["httproute/default/mine/rule/0/match/0"]);
    assert!(
        entries(&t, "HTTPRoute", "elsewhere").is_empty(),
        "no status entry for a parent it does not accept"
    );
}

#[test]
fn a_cycle_is_reported_on_the_route_that_closes_it_and_its_branch_serves_nothing() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent(
            "",
            &[
                ("/fine", &by_name("fine", None)),
                ("/loop", &by_name("looping", Some("apps"))),
            ],
        ),
        &route(
            "default",
            "fine",
            "",
            &format!("rules: [{}]", rule("/fine", "svc-a", 8080)),
        ),
        &route(
            "apps",
            "looping",
            "",
            "rules: [{matches: [{path: {type: PathPrefix, value: /loop/again}}], backendRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: \"*\", namespace: apps}]}]",
        ),
    ]));
    assert_eq!(served(&t), ["httproute/default/fine/rule/0/match/0"]);
    let (status, reason, message) =
        route_condition(&t, "looping", "HTTPRoute", "parent", "ResolvedRefs");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RefNotPermitted")
    );
    assert!(message.contains("a cycle"), "{message}");
    assert_eq!(
        route_condition(&t, "parent", "Gateway", "gw", "ResolvedRefs").0,
        "True"
    );
}

#[test]
fn a_cycle_back_to_the_attached_route_ends_there() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/a", &by_name("back", None))]),
        &route(
            "default",
            "back",
            "",
            &format!(
                "rules: [{}, {{matches: [{{path: {{type: PathPrefix, value: /a/up}}}}], backendRefs: [{}]}}]",
                rule("/a/own", "svc-a", 8080),
                by_name("parent", None)
            ),
        ),
    ]));
    assert_eq!(served(&t), ["httproute/default/back/rule/0/match/0"]);
    assert_eq!(
        route_condition(&t, "back", "HTTPRoute", "parent", "ResolvedRefs").1,
        "RefNotPermitted"
    );
}

#[test]
fn delegation_nests_and_each_level_bounds_the_next() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent("", &[("/a", &by_name("mid", None))]),
        &route(
            "default",
            "mid",
            "",
            &format!(
                "rules: [{}, {{matches: [{{path: {{type: PathPrefix, value: /a/b}}}}], backendRefs: [{}]}}]",
                rule("/a/mid", "svc-a", 8080),
                by_name("leaf", Some("apps"))
            ),
        ),
        &route(
            "apps",
            "leaf",
            "",
            &format!(
                "rules: [{}, {}]",
                rule("/a/b/c", "svc-x", 80),
                // Within the top route's /a, outside mid's /a/b: dropped.
                rule("/a/other", "svc-x", 80)
            ),
        ),
    ]));
    assert_eq!(
        served(&t),
        [
            "httproute/apps/leaf/rule/0/match/0",
            "httproute/default/mid/rule/0/match/0"
        ]
    );
    assert_eq!(
        route_condition(&t, "leaf", "HTTPRoute", "mid", "Accepted").0,
        "True"
    );
    assert_eq!(
        route_condition(&t, "mid", "HTTPRoute", "parent", "Accepted").0,
        "True"
    );
}

#[test]
fn a_reference_that_selects_nothing_leaves_its_rule_unrouted_and_says_so() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &parent(
            "",
            &[
                ("/gone", &by_name("missing", None)),
                ("/here", "{name: svc-a, port: 8080}"),
            ],
        ),
    ]));
    // No route for /gone (so Envoy answers 404), the other rule serves.
    assert_eq!(served(&t), ["httproute/default/parent/rule/1/match/0"]);
    let (status, reason, message) = route_condition(&t, "parent", "Gateway", "gw", "ResolvedRefs");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "BackendNotFound")
    );
    assert_eq!(
        message,
        "spec.rules[0].backendRefs[0]: HTTPRoute default/missing matches no route"
    );
}

fn route_option(ns: &str, name: &str, target: &str, options: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteOption\n\
         metadata: {{name: {name}, namespace: {ns}, generation: 1}}\n\
         spec: {{targetRefs: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: {target}}}], options: {options}}}"
    )
}

fn policy_case(parent_meta: &str) -> gatesim_reference::translate::Translation {
    run(&doc(&[
        GATEWAY,
        &parent(parent_meta, &[("/child", &by_name("*", Some("apps")))]),
        &route_option(
            "default",
            "parent-policy",
            "parent",
            "{timeout: 5s, hostRewrite: parent.internal}",
        ),
        &route(
            "apps",
            "with",
            "",
            &format!("rules: [{}]", rule("/child/with", "svc-x", 80)),
        ),
        &route_option(
            "apps",
            "child-policy",
            "with",
            "{timeout: 1s, prefixRewrite: /rewritten}",
        ),
        &route(
            "apps",
            "without",
            "",
            &format!("rules: [{}]", rule("/child/without", "svc-x", 80)),
        ),
    ]))
    .1
}

fn policy_condition(
    t: &gatesim_reference::translate::Translation,
    ns: &str,
    name: &str,
) -> (String, String, String) {
    let all = entries(t, "RouteOption", name);
    let e = all
        .iter()
        .find(|e| e["ancestorRef"]["namespace"] == ns)
        .unwrap_or_else(|| panic!("{all:#?}"));
    condition_of(e, "Attached")
}

#[test]
fn the_parents_route_options_win_and_the_childs_fill_the_rest() {
    let t = policy_case("");
    let with = envoy_route(&t, "httproute/apps/with/rule/0/match/0");
    assert_eq!(with["route"]["timeout"], "5s", "{with:#}");
    assert_eq!(with["route"]["prefixRewrite"], "/rewritten");
    assert_eq!(with["route"]["hostRewriteLiteral"], "parent.internal");
    let without = envoy_route(&t, "httproute/apps/without/rule/0/match/0");
    assert_eq!(without["route"]["timeout"], "5s");
    assert_eq!(
        policy_condition(&t, "apps", "child-policy"),
        (
            "True".into(),
            "Merged".into(),
            "rule 0: options.timeout is set by RouteOption default/parent-policy (a targetRef of \
             the delegating HTTPRoute default/parent before a targetRef of HTTPRoute apps/with)"
                .into()
        )
    );
    assert_eq!(
        policy_condition(&t, "default", "parent-policy").1,
        "Attached"
    );
}

#[test]
fn enable_policy_overrides_lets_the_child_win_the_named_fields() {
    let annotation = |v: &str| {
        format!(", annotations: {{delegation.gateway.solo.io/enable-policy-overrides: \"{v}\"}}")
    };
    let t = policy_case(&annotation("*"));
    let with = envoy_route(&t, "httproute/apps/with/rule/0/match/0");
    assert_eq!(with["route"]["timeout"], "1s");
    assert_eq!(
        with["route"]["hostRewriteLiteral"], "parent.internal",
        "still inherited"
    );
    assert_eq!(
        envoy_route(&t, "httproute/apps/without/rule/0/match/0")["route"]["timeout"],
        "5s",
        "a child without RouteOption keeps the parent's"
    );
    assert_eq!(policy_condition(&t, "apps", "child-policy").1, "Attached");
    assert_eq!(
        policy_condition(&t, "default", "parent-policy"),
        (
            "True".into(),
            "Merged".into(),
            "rule 0: options.timeout is overridden by RouteOption apps/child-policy (HTTPRoute \
             default/parent lets its delegatees override it with \
             delegation.gateway.solo.io/enable-policy-overrides)"
                .into()
        )
    );
    // A list names the fields: hostRewrite is not among them, timeout is.
    let t = policy_case(&annotation("hostRewrite, Timeout"));
    assert_eq!(
        envoy_route(&t, "httproute/apps/with/rule/0/match/0")["route"]["timeout"],
        "1s"
    );
    let t = policy_case(&annotation("prefixRewrite"));
    assert_eq!(
        envoy_route(&t, "httproute/apps/with/rule/0/match/0")["route"]["timeout"],
        "5s"
    );
}

#[test]
fn the_gateway_class_advertises_route_delegation() {
    let (_, t) = run(GATEWAY);
    let class = entries(&t, "GatewayClass", "gatesim");
    let features = serde_json::to_string(&class).unwrap();
    assert!(features.contains("K8sGatewayRouteDelegation"), "{features}");
}
