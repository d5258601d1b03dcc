use serde_json::json;

use super::*;

const OURS: &str = "gatesim.dev/reference-controller";

fn expectation(yaml: &str) -> StatusExpectation {
    serde_yaml::from_str(yaml).expect("expectation parses")
}

fn ctx() -> StatusContext<'static> {
    StatusContext {
        controller_name: OURS,
        generation_before: Some(Some(1)),
    }
}

fn cond(t: &str, status: &str, reason: &str, generation: i64) -> Value {
    json!({"type": t, "status": status, "reason": reason, "observedGeneration": generation,
           "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn route(generation: i64, parents: Vec<Value>) -> Value {
    json!({
        "metadata": {"name": "r", "namespace": "infra", "generation": generation},
        "status": {"parents": parents},
    })
}

fn parent(name: &str, namespace: Option<&str>, controller: &str, conditions: Vec<Value>) -> Value {
    let mut r = json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name});
    if let Some(ns) = namespace {
        r["namespace"] = json!(ns);
    }
    json!({"parentRef": r, "controllerName": controller, "conditions": conditions})
}

const ROUTE_ACCEPTED: &str = r#"
kind: HTTPRoute
namespace: infra
name: r
parents:
- parentRef: {name: gw}
  conditions:
  - {type: Accepted, status: "True", reason: Accepted}
"#;

#[test]
fn a_matching_route_parent_passes() {
    let object = route(
        2,
        vec![parent(
            "gw",
            None,
            OURS,
            vec![
                cond("Accepted", "True", "Accepted", 2),
                cond("ResolvedRefs", "True", "ResolvedRefs", 2),
            ],
        )],
    );
    assert_eq!(
        check(&expectation(ROUTE_ACCEPTED), &object, ctx()),
        Vec::<String>::new()
    );
}

#[test]
fn the_parent_namespace_defaults_to_the_routes_own() {
    let object = route(
        1,
        vec![parent(
            "gw",
            Some("infra"),
            OURS,
            vec![cond("Accepted", "True", "Accepted", 1)],
        )],
    );
    assert!(check(&expectation(ROUTE_ACCEPTED), &object, ctx()).is_empty());

    let elsewhere = route(
        1,
        vec![parent(
            "gw",
            Some("other"),
            OURS,
            vec![cond("Accepted", "True", "Accepted", 1)],
        )],
    );
    let problems = check(&expectation(ROUTE_ACCEPTED), &elsewhere, ctx());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("parents entry Gateway infra/gw: missing")
            && problems[0].contains("Gateway other/gw"),
        "{problems:?}"
    );
}

#[test]
fn every_parent_condition_must_carry_the_latest_generation() {
    // The matched parent is fine; another parent entry is stale, which upstream rejects too.
    let object = route(
        3,
        vec![
            parent(
                "gw",
                None,
                OURS,
                vec![cond("Accepted", "True", "Accepted", 3)],
            ),
            parent(
                "other",
                None,
                OURS,
                vec![cond("Accepted", "False", "NotAllowedByListeners", 2)],
            ),
        ],
    );
    let problems = check(&expectation(ROUTE_ACCEPTED), &object, ctx());
    assert_eq!(
        problems,
        vec![
            "parent Gateway infra/other: condition Accepted has observedGeneration 2, but \
             metadata.generation is 3"
                .to_owned()
        ]
    );
}

#[test]
fn parents_of_other_controllers_do_not_count() {
    let object = route(
        1,
        vec![parent(
            "gw",
            None,
            "example.com/other",
            vec![cond("Accepted", "True", "Accepted", 1)],
        )],
    );
    let problems = check(&expectation(ROUTE_ACCEPTED), &object, ctx());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("missing"), "{problems:?}");
}

#[test]
fn a_wrong_reason_is_reported_with_what_was_observed() {
    let object = route(
        1,
        vec![parent(
            "gw",
            None,
            OURS,
            vec![cond("Accepted", "False", "NotAllowedByListeners", 1)],
        )],
    );
    let problems = check(&expectation(ROUTE_ACCEPTED), &object, ctx());
    assert_eq!(
        problems,
        vec![
            "parents entry Gateway infra/gw: condition Accepted: expected status True, reason \
             Accepted, got status False, reason NotAllowedByListeners"
                .to_owned()
        ]
    );
}

#[test]
fn exact_empty_parents_means_no_entry_of_ours() {
    let exp = expectation("{kind: HTTPRoute, namespace: infra, name: r, parents: [], exact: true}");
    let theirs = route(
        1,
        vec![parent(
            "gw",
            None,
            "example.com/other",
            vec![cond("Accepted", "True", "Accepted", 1)],
        )],
    );
    assert!(check(&exp, &theirs, ctx()).is_empty());
    let ours = route(
        1,
        vec![parent(
            "gw",
            None,
            OURS,
            vec![cond("Accepted", "False", "X", 1)],
        )],
    );
    let problems = check(&exp, &ours, ctx());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].contains("unexpected entry Gateway infra/gw"),
        "{problems:?}"
    );
}

fn gateway(generation: i64, listeners: Value) -> Value {
    json!({
        "metadata": {"name": "gw", "namespace": "infra", "generation": generation},
        "status": {
            "conditions": [cond("Accepted", "True", "Accepted", generation),
                           cond("Programmed", "True", "Programmed", generation)],
            "listeners": listeners,
        },
    })
}

fn listener(name: &str, routes: i64, kinds: Value) -> Value {
    json!({"name": name, "attachedRoutes": routes, "supportedKinds": kinds,
           "conditions": [cond("Accepted", "True", "Accepted", 1),
                          cond("ResolvedRefs", "True", "ResolvedRefs", 1)]})
}

const LISTENERS: &str = r#"
kind: Gateway
namespace: infra
name: gw
conditions: [{type: Programmed, status: "True"}]
listeners:
- name: http
  attachedRoutes: 1
  supportedKinds: [{kind: HTTPRoute}]
  conditions: [{type: ResolvedRefs, status: "True"}]
"#;

#[test]
fn listeners_match_by_name_with_kinds_contained() {
    let kinds = json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
                       {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}]);
    let object = gateway(
        1,
        json!([
            listener("http", 1, kinds.clone()),
            listener("extra", 0, kinds)
        ]),
    );
    assert!(check(&expectation(LISTENERS), &object, ctx()).is_empty());

    let exact = expectation(&format!("{LISTENERS}exact: true\n"));
    let problems = check(&exact, &object, ctx());
    assert_eq!(
        problems,
        vec!["listeners: unexpected extra in status (exact: true)".to_owned()]
    );
}

#[test]
fn listener_differences_are_each_reported() {
    let object = gateway(
        1,
        json!([listener("http", 0, json!([{"kind": "GRPCRoute"}]))]),
    );
    let problems = check(&expectation(LISTENERS), &object, ctx());
    assert_eq!(
        problems,
        vec![
            "listener http: attachedRoutes expected 1, got 0".to_owned(),
            "listener http: supportedKinds lacks gateway.networking.k8s.io/HTTPRoute (has \
             [gateway.networking.k8s.io/GRPCRoute])"
                .to_owned(),
        ]
    );
    let empty = expectation(
        "{kind: Gateway, namespace: infra, name: gw, listeners: [{name: http, supportedKinds: []}]}",
    );
    let problems = check(&empty, &object, ctx());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].contains("supportedKinds expected empty"),
        "{problems:?}"
    );
}

#[test]
fn stale_gateway_conditions_fail_even_when_they_match() {
    let mut object = gateway(
        2,
        json!([listener("http", 1, json!([{"kind": "HTTPRoute"}]))]),
    );
    object["status"]["conditions"][1]["observedGeneration"] = json!(1);
    let problems = check(&expectation(LISTENERS), &object, ctx());
    assert_eq!(
        problems,
        vec![
            "condition Programmed has observedGeneration 1, but metadata.generation is 2"
                .to_owned()
        ]
    );
}

#[test]
fn a_missing_condition_lists_the_present_ones() {
    let exp =
        expectation("{kind: Gateway, namespace: infra, name: gw, conditions: [{type: Ready}]}");
    let problems = check(&exp, &gateway(1, json!([])), ctx());
    assert_eq!(
        problems,
        vec![
            "condition Ready: expected present, but there is none (conditions: [Accepted, \
             Programmed])"
                .to_owned()
        ]
    );
}

#[test]
fn generation_changed_needs_a_spec_change_by_the_scenario() {
    let exp = expectation("{kind: Gateway, namespace: infra, name: gw, generationChanged: true}");
    let object = gateway(2, json!([]));
    let with = |before| StatusContext {
        controller_name: OURS,
        generation_before: before,
    };
    assert!(check(&exp, &object, with(Some(Some(1)))).is_empty());
    assert!(check(&exp, &object, with(Some(None))).is_empty());
    let same = check(&exp, &object, with(Some(Some(2))));
    assert!(
        same[0].contains("metadata.generation is still 2"),
        "{same:?}"
    );
    let never = check(&exp, &object, with(None));
    assert!(never[0].contains("never applied or patched"), "{never:?}");
}

fn policy(generation: i64, ancestors: Vec<Value>) -> Value {
    json!({
        "metadata": {"name": "retries", "namespace": "infra", "generation": generation},
        "status": {"ancestors": ancestors},
    })
}

fn ancestor(kind: &str, name: &str, controller: &str, conditions: Vec<Value>) -> Value {
    json!({
        "ancestorRef": {"group": "gateway.networking.k8s.io", "kind": kind, "name": name},
        "controllerName": controller,
        "conditions": conditions,
    })
}

const POLICY_ANCESTORS: &str = r#"
kind: RouteOption
namespace: infra
name: retries
ancestors:
- ancestorRef: {kind: HTTPRoute, name: r}
  conditions:
  - {type: Accepted, status: "True", reason: Accepted}
"#;

#[test]
fn policy_ancestors_match_like_parents() {
    let accepted = || vec![cond("Accepted", "True", "Accepted", 2)];
    let object = policy(
        2,
        vec![
            ancestor("HTTPRoute", "r", OURS, accepted()),
            ancestor("HTTPRoute", "other", "someone.else/controller", accepted()),
        ],
    );
    assert!(check(&expectation(POLICY_ANCESTORS), &object, ctx()).is_empty());

    // Only the run controller's entries count, for `exact` too.
    let exact = expectation(&format!("{POLICY_ANCESTORS}exact: true\n"));
    assert!(check(&exact, &object, ctx()).is_empty());
    let extra = policy(
        2,
        vec![
            ancestor("HTTPRoute", "r", OURS, accepted()),
            ancestor("Gateway", "gw", OURS, accepted()),
        ],
    );
    assert_eq!(
        check(&exact, &extra, ctx()),
        vec![
            "ancestors: unexpected entry Gateway infra/gw from controller \
             gatesim.dev/reference-controller (exact: true)"
                .to_owned()
        ]
    );

    // Another controller's entry alone is no match.
    let theirs = policy(
        2,
        vec![ancestor(
            "HTTPRoute",
            "r",
            "someone.else/controller",
            accepted(),
        )],
    );
    assert_eq!(
        check(&expectation(POLICY_ANCESTORS), &theirs, ctx()),
        vec![
            "ancestors entry HTTPRoute infra/r: missing; status.ancestors from controller \
             gatesim.dev/reference-controller has []"
                .to_owned()
        ]
    );
}

#[test]
fn stale_ancestor_conditions_fail_even_when_they_match() {
    let object = policy(
        3,
        vec![ancestor(
            "HTTPRoute",
            "r",
            OURS,
            vec![cond("Accepted", "True", "Accepted", 2)],
        )],
    );
    assert_eq!(
        check(&expectation(POLICY_ANCESTORS), &object, ctx()),
        vec![
            "ancestor HTTPRoute infra/r: condition Accepted has observedGeneration 2, but \
             metadata.generation is 3"
                .to_owned()
        ]
    );
}

#[test]
fn plain_policy_conditions_are_read_from_every_ancestor_of_the_run_controller() {
    let exp = expectation(
        "{kind: RouteOption, namespace: infra, name: retries, \
         conditions: [{type: Accepted, status: \"True\"}]}",
    );
    let object = policy(
        1,
        vec![
            ancestor(
                "HTTPRoute",
                "r",
                OURS,
                vec![cond("Accepted", "True", "Accepted", 1)],
            ),
            ancestor(
                "Gateway",
                "gw",
                "someone.else/controller",
                vec![cond("Accepted", "False", "Invalid", 1)],
            ),
        ],
    );
    assert!(check(&exp, &object, ctx()).is_empty());

    let rejected = policy(
        1,
        vec![
            ancestor(
                "HTTPRoute",
                "r",
                OURS,
                vec![cond("Accepted", "True", "Accepted", 1)],
            ),
            ancestor(
                "HTTPRoute",
                "s",
                OURS,
                vec![cond("Accepted", "False", "InvalidField", 1)],
            ),
        ],
    );
    assert_eq!(
        check(&exp, &rejected, ctx()),
        vec![
            "ancestor HTTPRoute infra/s: condition Accepted: expected status True, got status \
             False, reason InvalidField"
                .to_owned()
        ]
    );

    let only_theirs = policy(
        1,
        vec![ancestor(
            "HTTPRoute",
            "r",
            "someone.else/controller",
            vec![cond("Accepted", "True", "Accepted", 1)],
        )],
    );
    let problems = check(&exp, &only_theirs, ctx());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .contains("no status.ancestors entry from controller gatesim.dev/reference-controller"),
        "{problems:?}"
    );

    // Before any status is written there is nothing to match yet.
    let unwritten = json!({"metadata": {"name": "retries", "namespace": "infra", "generation": 1}});
    let problems = check(&exp, &unwritten, ctx());
    assert!(
        problems[0].starts_with("condition Accepted: expected status True, but there is none"),
        "{problems:?}"
    );
}
