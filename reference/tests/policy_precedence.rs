//! One test per precedence rule of K8sGateway policies, each checking both the effective Envoy
//! configuration and what policy status says about the objects that lost.

mod policy_support;

use policy_support::{GATEWAY, condition, entries, proxy, route, run, virtual_host};

fn doc(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

/// HTTPRoute `r` on gw, one rule to svc-a, with the given rule filters (YAML flow list).
fn http_route(filters: &str) -> String {
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: default, generation: 1}}
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /app}}}}]
    filters: {filters}
    backendRefs: [{{name: svc-a, port: 8080}}]
"
    )
}

fn extension_ref(name: &str) -> String {
    format!(
        "{{type: ExtensionRef, extensionRef: {{group: gateway.solo.io, kind: RouteOption, name: {name}}}}}"
    )
}

/// A RouteOption `name`, targeting HTTPRoute `r` when `target`, created at `created`.
fn route_option(name: &str, target: bool, created: Option<&str>, options: &str) -> String {
    let created = created.map_or(String::new(), |c| format!(", creationTimestamp: \"{c}\""));
    let targets = if target {
        "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]"
    } else {
        "targetRefs: []"
    };
    format!(
        "
apiVersion: gateway.solo.io/v1
kind: RouteOption
metadata: {{name: {name}, namespace: default, generation: 1{created}}}
spec:
  {targets}
  options: {options}
"
    )
}

#[test]
fn extension_ref_before_target_ref() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route(&format!("[{}]", extension_ref("ext"))),
        &route_option("ext", false, None, "{timeout: 1s}"),
        &route_option(
            "tgt",
            true,
            Some("2020-01-01T00:00:00Z"),
            "{timeout: 9s, prefixRewrite: /t}",
        ),
    ]));
    let r = route(&t, "httproute/default/r/rule/0");
    assert_eq!(r["route"]["timeout"], "1s", "{r:#}");
    assert_eq!(
        r["route"]["prefixRewrite"], "/t",
        "the targetRef fills what is unset"
    );
    assert_eq!(
        condition(&t, "RouteOption", "tgt", "Attached"),
        (
            "True".into(),
            "Merged".into(),
            "options.timeout is set by RouteOption default/ext (an ExtensionRef filter on the rule before a targetRef)".into()
        )
    );
    assert_eq!(
        condition(&t, "RouteOption", "ext", "Attached").1,
        "Attached"
    );
}

#[test]
fn target_refs_oldest_first() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route("[]"),
        &route_option("newer", true, Some("2024-06-01T00:00:00Z"), "{timeout: 9s}"),
        &route_option("older", true, Some("2024-01-01T00:00:00Z"), "{timeout: 1s}"),
    ]));
    assert_eq!(route(&t, "httproute/default/r")["route"]["timeout"], "1s");
    assert_eq!(
        condition(&t, "RouteOption", "newer", "Attached"),
        (
            "False".into(),
            "Overridden".into(),
            "options.timeout is set by RouteOption default/older (older)".into()
        )
    );
}

#[test]
fn extension_refs_in_filter_order() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route(&format!(
            "[{}, {}]",
            extension_ref("second"),
            extension_ref("first")
        )),
        &route_option(
            "first",
            false,
            Some("2020-01-01T00:00:00Z"),
            "{timeout: 9s}",
        ),
        &route_option(
            "second",
            false,
            Some("2024-01-01T00:00:00Z"),
            "{timeout: 1s}",
        ),
    ]));
    // Filter order, not age, among ExtensionRefs.
    assert_eq!(route(&t, "httproute/default/r")["route"]["timeout"], "1s");
    assert_eq!(
        condition(&t, "RouteOption", "first", "Attached").2,
        "options.timeout is set by RouteOption default/second (an earlier filter)"
    );
}

#[test]
fn shallow_merge_is_per_top_level_field() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route(&format!("[{}]", extension_ref("ext"))),
        &route_option("ext", false, None, "{retries: {numRetries: 1}}"),
        &route_option(
            "tgt",
            true,
            None,
            "{retries: {retryOn: 5xx, numRetries: 4}, timeout: 3s}",
        ),
    ]));
    let r = route(&t, "httproute/default/r");
    // The whole of `retries` comes from the higher-priority object: no retryOn from below.
    assert_eq!(
        r["route"]["retryPolicy"],
        serde_json::json!({"numRetries": 1}),
        "{r:#}"
    );
    assert_eq!(r["route"]["timeout"], "3s");
    assert_eq!(condition(&t, "RouteOption", "tgt", "Attached").1, "Merged");
}

#[test]
fn section_name_before_whole_gateway() {
    let vho = |name: &str, section: &str, created: &str, value: &str| {
        format!(
            "
apiVersion: gateway.solo.io/v1
kind: VirtualHostOption
metadata: {{name: {name}, namespace: default, generation: 1, creationTimestamp: \"{created}\"}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: gw{section}}}]
  options:
    headerManipulation: {{responseHeadersToAdd: [{{header: {{key: x-vho, value: {value}}}}}]}}
    includeRequestAttemptCount: true
"
        )
    };
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route("[]"),
        &vho("whole", "", "2020-01-01T00:00:00Z", "whole"),
        &vho(
            "section",
            ", sectionName: http",
            "2024-01-01T00:00:00Z",
            "section",
        ),
    ]));
    let vh = virtual_host(&t, "*");
    assert_eq!(
        vh["responseHeadersToAdd"][0]["header"]["value"], "section",
        "{vh:#}"
    );
    assert_eq!(vh["includeRequestAttemptCount"], true);
    let (status, reason, message) = condition(&t, "VirtualHostOption", "whole", "Attached");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Overridden"));
    assert_eq!(
        message,
        "listener http: options.headerManipulation is set by VirtualHostOption default/section (a targetRef with sectionName before a targetRef to the whole Gateway); listener http: options.includeRequestAttemptCount is set by VirtualHostOption default/section (a targetRef with sectionName before a targetRef to the whole Gateway)"
    );
}

#[test]
fn listener_kinds_first_wins_without_merge() {
    for kind in ["ListenerOption", "HttpListenerOption"] {
        let options = if kind == "ListenerOption" {
            [
                "{perConnectionBufferLimitBytes: 1024}",
                "{socketOptions: [{level: 1, name: 9, intValue: 1}]}",
            ]
        } else {
            [
                "{httpConnectionManagerSettings: {serverName: a}}",
                "{gzip: {contentLength: 10}}",
            ]
        };
        let object = |name: &str, created: &str, options: &str| {
            format!(
                "
apiVersion: gateway.solo.io/v1
kind: {kind}
metadata: {{name: {name}, namespace: default, generation: 1, creationTimestamp: \"{created}\"}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: gw}}]
  options: {options}
"
            )
        };
        let (_, t) = run(&doc(&[
            GATEWAY,
            &object("b-older", "2020-01-01T00:00:00Z", options[0]),
            &object("a-newer", "2024-01-01T00:00:00Z", options[1]),
        ]));
        // Different fields, yet nothing merges: the newer one is not applied at all.
        assert_eq!(
            condition(&t, kind, "a-newer", "Accepted"),
            (
                "False".into(),
                "Conflicted".into(),
                format!(
                    "listener http: {kind} default/b-older takes precedence (older); {kind}s do not merge"
                )
            )
        );
        assert_eq!(condition(&t, kind, "b-older", "Attached").1, "Attached");
        // In Envoy: the older one's field, and nothing of the newer one.
        let listener = &proxy(&t)["listeners"][0];
        let hcm = &listener["filterChains"][0]["filters"][0]["typedConfig"];
        if kind == "ListenerOption" {
            assert_eq!(listener["perConnectionBufferLimitBytes"], 1024);
            assert!(listener.get("socketOptions").is_none(), "{listener:#}");
        } else {
            assert_eq!(hcm["serverName"], "a");
            let filters = hcm["httpFilters"].to_string();
            assert!(!filters.contains("compressor"), "{filters}");
        }
    }
}

/// HTTP listeners on one port share one Envoy listener and connection manager, so a
/// listener-level policy naming either applies to both, and two such policies compete as one.
#[test]
fn listeners_sharing_a_port_share_listener_policies() {
    let gateway = GATEWAY.replace(
        "  - {name: http, port: 80, protocol: HTTP}",
        "  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: b, port: 80, protocol: HTTP, hostname: b.example.com}",
    );
    assert_ne!(gateway, GATEWAY);
    let object = |name: &str, section: &str, created: &str, server: &str| {
        format!(
            "
apiVersion: gateway.solo.io/v1
kind: HttpListenerOption
metadata: {{name: {name}, namespace: default, generation: 1, creationTimestamp: \"{created}\"}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: {section}}}]
  options: {{httpConnectionManagerSettings: {{serverName: {server}}}}}
"
        )
    };
    let (_, t) = run(&doc(&[
        &gateway,
        &object("on-b", "b", "2020-01-01T00:00:00Z", "from-b"),
        &object("on-a", "a", "2024-01-01T00:00:00Z", "from-a"),
    ]));
    let hcm = &proxy(&t)["listeners"][0]["filterChains"][0]["filters"][0]["typedConfig"];
    assert_eq!(
        hcm["serverName"], "from-b",
        "the older one applies to the port"
    );
    let entries = entries(&t, "HttpListenerOption", "on-b");
    assert_eq!(entries[0]["ancestorRef"]["sectionName"], "b");
    assert_eq!(
        condition(&t, "HttpListenerOption", "on-a", "Accepted"),
        (
            "False".into(),
            "Conflicted".into(),
            "port 80 (listeners a, b share it): HttpListenerOption default/on-b takes \
             precedence (older); HttpListenerOptions do not merge"
                .into()
        )
    );
}

#[test]
fn route_option_over_virtual_host_option() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route("[]"),
        "
apiVersion: gateway.solo.io/v1
kind: VirtualHostOption
metadata: {name: vho, namespace: default, generation: 1}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  options:
    retries: {retryOn: 5xx, numRetries: 2}
    cors: {allowOrigin: [https://vhost.example]}
    csrf: {filterEnabled: {defaultValue: {numerator: 100}}}
    headerManipulation: {responseHeadersToAdd: [{header: {key: x-level, value: vhost}, append: false}]}
",
        &route_option(
            "ro",
            true,
            None,
            "{retries: {retryOn: connect-failure, numRetries: 7}, cors: {allowOrigin: [https://route.example]}, csrf: {filterEnabled: {defaultValue: {numerator: 0}}}, headerManipulation: {responseHeadersToAdd: [{header: {key: x-level, value: route}, append: false}]}}",
        ),
    ]));
    let vh = virtual_host(&t, "*");
    let r = route(&t, "httproute/default/r");
    // retries: Envoy uses the route's retry_policy instead of the virtual host's.
    assert_eq!(vh["retryPolicy"]["numRetries"], 2);
    assert_eq!(r["route"]["retryPolicy"]["numRetries"], 7);
    // cors and csrf: the route's per-filter configuration is the most specific one.
    for filter in ["envoy.filters.http.cors", "envoy.filters.http.csrf"] {
        assert!(vh["typedPerFilterConfig"][filter].is_object(), "{vh:#}");
        assert!(r["typedPerFilterConfig"][filter].is_object(), "{r:#}");
    }
    assert_eq!(
        r["typedPerFilterConfig"]["envoy.filters.http.cors"]["allowOriginStringMatch"][0]["exact"],
        "https://route.example"
    );
    // headers: the route configuration applies the most specific level last.
    let rc = &policy_support::proxy(&t)["routes"][0];
    assert_eq!(rc["mostSpecificHeaderMutationsWins"], true, "{rc:#}");
    assert_eq!(r["responseHeadersToAdd"][0]["header"]["value"], "route");
    assert_eq!(vh["responseHeadersToAdd"][0]["header"]["value"], "vhost");
    // Both policies are in effect at their own level.
    assert_eq!(condition(&t, "RouteOption", "ro", "Attached").1, "Attached");
    assert_eq!(
        condition(&t, "VirtualHostOption", "vho", "Attached").1,
        "Attached"
    );
}

#[test]
fn gateway_api_filters_over_route_options() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route(
            "[{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}, {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-who, value: filter}]}}]",
        ),
        &route_option(
            "ro",
            true,
            None,
            "{prefixRewrite: /policy, timeout: 4s, headerManipulation: {requestHeadersToAdd: [{header: {key: x-who, value: policy}}], responseHeadersToAdd: [{header: {key: x-kept, value: policy}}]}}",
        ),
    ]));
    let r = route(&t, "httproute/default/r");
    assert!(
        r["route"]["regexRewrite"].is_object(),
        "the URLRewrite filter's rewrite: {r:#}"
    );
    assert!(r["route"].get("prefixRewrite").is_none(), "{r:#}");
    assert_eq!(
        r["route"]["timeout"], "4s",
        "fields no filter sets still apply"
    );
    let request: Vec<&serde_json::Value> = r["requestHeadersToAdd"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(request.len(), 1, "only the filter's request header: {r:#}");
    assert_eq!(request[0]["header"]["value"], "filter");
    assert_eq!(r["responseHeadersToAdd"][0]["header"]["value"], "policy");
    assert_eq!(
        condition(&t, "RouteOption", "ro", "Attached"),
        (
            "True".into(),
            "Merged".into(),
            "options.prefixRewrite is overridden by the rule's URLRewrite filter (path) (Gateway API filters take precedence over RouteOptions); options.headerManipulation.requestHeadersTo* is overridden by the rule's RequestHeaderModifier filter (Gateway API filters take precedence over RouteOptions)".into()
        )
    );
}

#[test]
fn a_policy_status_names_the_wrong_target_among_several() {
    let (_, t) = run(&doc(&[
        GATEWAY,
        &http_route("[]"),
        "
apiVersion: gateway.solo.io/v1
kind: RouteOption
metadata: {name: ro, namespace: default, generation: 5}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: typo}
  options: {timeout: 2s}
",
    ]));
    let ancestors = entries(&t, "RouteOption", "ro");
    assert_eq!(ancestors.len(), 2, "{ancestors:#?}");
    let by_name = |n: &str| {
        ancestors
            .iter()
            .find(|a| a["ancestorRef"]["name"] == n)
            .unwrap_or_else(|| panic!("no ancestor {n}"))
    };
    assert_eq!(
        policy_support::condition_of(by_name("typo"), "Accepted"),
        (
            "False".into(),
            "TargetNotFound".into(),
            "spec.targetRefs[1]: HTTPRoute default/typo does not exist".into()
        )
    );
    let good = by_name("r");
    assert_eq!(policy_support::condition_of(good, "Accepted").0, "True");
    assert_eq!(good["controllerName"], "gatesim.dev/reference-controller");
    assert_eq!(good["conditions"][0]["observedGeneration"], 5);
    assert_eq!(route(&t, "httproute/default/r")["route"]["timeout"], "2s");
}
