//! Invalid policy values never reach Envoy: each gets `Accepted=False`, reason `Invalid`, with
//! its field path, contributes nothing (the proxy configuration is exactly the one without
//! the object), and the route beside it keeps serving.

mod policy_support;

use gatesim_reference::infra::{envoy, validate};
use policy_support::{GATEWAY, condition, entries, input, route};
use rstest::rstest;

const ROUTES: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: good, namespace: default, generation: 1}
spec:
  parentRefs: [{name: gw}]
  hostnames: [good.example.com]
  rules:
  - backendRefs: [{name: svc-a, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: default, generation: 1}
spec:
  parentRefs: [{name: gw}]
  hostnames: [bad.example.com]
  rules:
  - backendRefs: [{name: svc-b, port: 8080}]
";

fn policy(kind: &str, options: &str) -> String {
    let target = match kind {
        "RouteOption" => "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: bad}",
        _ => "{group: gateway.networking.k8s.io, kind: Gateway, name: gw}",
    };
    format!(
        "apiVersion: gateway.solo.io/v1
kind: {kind}
metadata: {{name: broken, namespace: default, generation: 2}}
spec:
  targetRefs: [{target}]
  options: {options}
"
    )
}

fn base() -> String {
    format!("{GATEWAY}\n---\n{ROUTES}")
}

#[rstest]
#[case::abort_status(
    "RouteOption",
    "{faults: {abort: {percentage: 50, httpStatus: 700}}}",
    "spec.options.faults.abort.httpStatus: must be between 200 and 599, is 700"
)]
#[case::abort_without_status(
    "RouteOption",
    "{faults: {abort: {percentage: 50}}}",
    "spec.options.faults.abort.httpStatus: is required"
)]
#[case::delay_without_duration(
    "RouteOption",
    "{faults: {delay: {percentage: 50}}}",
    "spec.options.faults.delay.fixedDelay: is required"
)]
#[case::bad_regex(
    "RouteOption",
    "{regexRewrite: {pattern: {regex: '('}, substitution: /x}}",
    "spec.options.regexRewrite.pattern.regex: \"(\" is not a valid regular expression"
)]
#[case::rewrite_both_ways(
    "RouteOption",
    "{prefixRewrite: /a, regexRewrite: {pattern: {regex: '^/b'}, substitution: /c}}",
    "spec.options.regexRewrite: cannot be combined with prefixRewrite"
)]
#[case::relative_prefix(
    "RouteOption",
    "{prefixRewrite: nope}",
    "spec.options.prefixRewrite: must start with /, is \"nope\""
)]
#[case::negative_timeout(
    "RouteOption",
    "{timeout: -1s}",
    "spec.options.timeout: must not be negative, is -1s"
)]
#[case::negative_per_try(
    "RouteOption",
    "{retries: {numRetries: 2, perTryTimeout: -5ms}}",
    "spec.options.retries.perTryTimeout: must not be negative, is -5ms"
)]
#[case::back_off_below_1ms(
    "RouteOption",
    "{retries: {retryBackOff: {baseInterval: 0s}}}",
    "spec.options.retries.retryBackOff.baseInterval: must be at least 1ms"
)]
#[case::retriable_status(
    "RouteOption",
    "{retries: {retriableStatusCodes: [99]}}",
    "spec.options.retries.retriableStatusCodes[0]: must be between 100 and 599, is 99"
)]
#[case::host_header(
    "RouteOption",
    "{headerManipulation: {requestHeadersToAdd: [{header: {key: Host, value: x}}]}}",
    "spec.options.headerManipulation.requestHeadersToAdd[0].header.key: the Host header cannot be modified"
)]
#[case::header_name_space(
    "RouteOption",
    "{headerManipulation: {responseHeadersToRemove: ['x bad']}}",
    "spec.options.headerManipulation.responseHeadersToRemove[0]: \"x bad\" is not a valid header name"
)]
#[case::single_percent(
    "RouteOption",
    "{headerManipulation: {responseHeadersToAdd: [{header: {key: x-p, value: '100%'}}]}}",
    "spec.options.headerManipulation.responseHeadersToAdd[0].header.value: \"100%\" has a single %"
)]
#[case::header_newline(
    "RouteOption",
    "{headerManipulation: {requestHeadersToAdd: [{header: {key: x-n, value: \"a\\nb\"}}]}}",
    "spec.options.headerManipulation.requestHeadersToAdd[0].header.value: '\\n' is not allowed in a header value"
)]
#[case::secret_header(
    "RouteOption",
    "{headerManipulation: {requestHeadersToAdd: [{headerSecretRef: {name: s, namespace: default}}]}}",
    "spec.options.headerManipulation.requestHeadersToAdd[0].headerSecretRef: is not supported by gatesim"
)]
#[case::cors_regex(
    "RouteOption",
    "{cors: {allowOriginRegex: ['[']}}",
    "spec.options.cors.allowOriginRegex[0]: \"[\" is not a valid regular expression"
)]
#[case::csrf_without_enabled(
    "RouteOption",
    "{csrf: {additionalOrigins: [{exact: a}]}}",
    "spec.options.csrf.filterEnabled: is required"
)]
#[case::csrf_over_denominator(
    "RouteOption",
    "{csrf: {filterEnabled: {defaultValue: {numerator: 200}}}}",
    "spec.options.csrf.filterEnabled.defaultValue.numerator: must be at most 100 (the denominator), is 200"
)]
#[case::buffer_nothing(
    "RouteOption",
    "{bufferPerRoute: {}}",
    "spec.options.bufferPerRoute: must set disabled: true or buffer"
)]
#[case::buffer_zero(
    "RouteOption",
    "{bufferPerRoute: {buffer: {maxRequestBytes: 0}}}",
    "spec.options.bufferPerRoute.buffer.maxRequestBytes: must be at least 1"
)]
#[case::hash_nothing(
    "RouteOption",
    "{lbHash: {hashPolicies: [{terminal: true}]}}",
    "spec.options.lbHash.hashPolicies[0]: must set exactly one of header, cookie and sourceIp: true"
)]
#[case::connect_terminate(
    "RouteOption",
    "{upgrades: [{connectTerminate: {enabled: true}}]}",
    "spec.options.upgrades[0].connectTerminate: is not supported by gatesim"
)]
#[case::host_both_ways(
    "RouteOption",
    "{hostRewrite: a.example, autoHostRewrite: true}",
    "spec.options.autoHostRewrite: cannot be combined with hostRewrite"
)]
#[case::enterprise(
    "RouteOption",
    "{waf: {disabled: true}}",
    "spec.options.waf: is a Gloo Enterprise feature, not supported by gatesim"
)]
#[case::transformations(
    "RouteOption",
    "{transformations: {requestTransformation: {}}}",
    "spec.options.transformations: is not supported by gatesim"
)]
#[case::shadowing(
    "RouteOption",
    "{shadowing: {percentage: 10}}",
    "spec.options.shadowing: is not supported by gatesim"
)]
#[case::body_template(
    "RouteOption",
    "{stagedTransformations: {regular: {requestTransforms: [{requestTransformation: {transformationTemplate: {body: {text: hi}}}}]}}}",
    "spec.options.stagedTransformations.regular.requestTransforms[0].requestTransformation.transformationTemplate.body: is not supported by gatesim"
)]
#[case::inja(
    "RouteOption",
    "{stagedTransformations: {regular: {requestTransforms: [{requestTransformation: {transformationTemplate: {headers: {x-a: {text: '{{ header(\"x-b\") }}'}}}}}]}}}",
    "transformationTemplate.headers[x-a]: Inja templates are not supported by gatesim"
)]
#[case::early_stage(
    "RouteOption",
    "{stagedTransformations: {early: {}}}",
    "spec.options.stagedTransformations.early: only the regular stage is supported by gatesim"
)]
#[case::vho_stats(
    "VirtualHostOption",
    "{stats: {virtualClusters: [{name: a, pattern: /a}]}}",
    "spec.options.stats: is not supported by gatesim"
)]
#[case::vho_previous_priorities(
    "VirtualHostOption",
    "{retries: {previousPriorities: {updateFrequency: 2}}}",
    "spec.options.retries.previousPriorities: is not supported by gatesim"
)]
#[case::vho_max_age(
    "VirtualHostOption",
    "{cors: {maxAge: ten}}",
    "spec.options.cors.maxAge: must be a number of seconds, is \"ten\""
)]
#[case::vho_union(
    "VirtualHostOption",
    "{corsPolicyMergeSettings: {exposeHeaders: UNION}}",
    "spec.options.corsPolicyMergeSettings.exposeHeaders: UNION is not supported by gatesim"
)]
#[case::vho_header_value(
    "VirtualHostOption",
    "{headerManipulation: {responseHeadersToAdd: [{header: {key: x-v, value: '%REQ(x)'}}]}}",
    "spec.options.headerManipulation.responseHeadersToAdd[0].header.value"
)]
fn an_invalid_value_is_refused_by_field_and_changes_nothing(
    #[case] kind: &str,
    #[case] options: &str,
    #[case] expected: &str,
) {
    let without = input(&base());
    let with = input(&format!("{}\n---\n{}", base(), policy(kind, options)));
    let t = gatesim_reference::translate::translate(&with);
    let (status, reason, message) = condition(&t, kind, "broken", "Accepted");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Invalid"),
        "{message}"
    );
    assert!(
        message.contains(expected),
        "the message names the field:\n  expected to contain: {expected}\n  got: {message}"
    );
    let ancestor = &entries(&t, kind, "broken")[0];
    assert_eq!(
        ancestor["conditions"].as_array().unwrap().len(),
        1,
        "no Attached condition"
    );
    assert_eq!(ancestor["conditions"][0]["observedGeneration"], 2);
    // Nothing of it reaches Envoy: the configuration is the one without the object.
    assert_eq!(
        t.proxies,
        gatesim_reference::translate::translate(&without).proxies,
        "an invalid {kind} changed the proxy configuration"
    );
    assert_eq!(
        route(&t, "httproute/default/good")["route"]["cluster"],
        "kube/default/svc-a/8080"
    );
}

/// The configuration the invalid objects leave in place is one Envoy accepts.
#[test]
fn envoy_accepts_what_invalid_policies_leave() {
    let Some(envoy) = envoy::locate_or_skip("the invalid-policy table's configuration")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
    else {
        return;
    };
    let t = gatesim_reference::translate::translate(&input(&format!(
        "{}\n---\n{}",
        base(),
        policy(
            "RouteOption",
            "{faults: {abort: {percentage: 50, httpStatus: 700}}}"
        )
    )));
    for proxy in t.proxies.values() {
        validate::validate_proxy(&envoy, proxy).expect("Envoy accepts the configuration");
    }
}

/// NACK containment can find a policy object: it is among the Gateway's candidates, and once
/// quarantined it contributes nothing and says why.
#[test]
fn policies_are_containment_candidates_and_quarantine_leaves_them_out() {
    use gatesim_reference::model::{ObjectKey, ObjectVersion, Quarantined};
    use gatesim_reference::translate::{candidates, translate};
    let mut set = input(&format!(
        "{}\n---\n{}\n---\n{}",
        base(),
        policy("RouteOption", "{timeout: 3s}"),
        policy("VirtualHostOption", "{includeRequestAttemptCount: true}")
            .replace("name: broken", "name: vho")
    ));
    let gw = ObjectKey::new("default", "gw");
    let names: Vec<String> = candidates(&set, &gw)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "HTTPRoute default/bad",
            "HTTPRoute default/good",
            "RouteOption default/broken",
            "VirtualHostOption default/vho"
        ]
    );
    let id = candidates(&set, &gw)[2].clone();
    let version: ObjectVersion = set.version_of(&id).expect("exists");
    set.quarantine.insert(
        id,
        Quarantined {
            version,
            gateway: gw.clone(),
            message: "envoy said no".into(),
        },
    );
    let t = translate(&set);
    let (status, reason, message) = condition(&t, "RouteOption", "broken", "Accepted");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Invalid"));
    assert!(message.contains("envoy said no"), "{message}");
    assert!(
        route(&t, "httproute/default/bad")["route"]
            .get("timeout")
            .is_none()
    );
    assert_eq!(
        candidates(&set, &gw).len(),
        3,
        "a quarantined object is no candidate"
    );
}
