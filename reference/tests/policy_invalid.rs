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
    "spec.options.regexRewrite.pattern.regex: \"(\" is not a valid RE2 regex"
)]
#[case::regex_beyond_re2(
    "RouteOption",
    "{regexRewrite: {pattern: {regex: 'a{1001}'}, substitution: /x}}",
    "spec.options.regexRewrite.pattern.regex: \"a{1001}\""
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
    "spec.options.headerManipulation.responseHeadersToRemove[0]: \"x bad\" is not a valid name: a space is not allowed"
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
    "spec.options.cors.allowOriginRegex[0]: \"[\" is not a valid RE2 regex"
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
#[case::lo_unknown_socket_option(
    "ListenerOption",
    "{socketOptions: [{level: 1, name: 36, intValue: 1}]}",
    "spec.options.socketOptions[0]: level 1 name 36 is not a socket option gatesim sets"
)]
#[case::lo_socket_value(
    "ListenerOption",
    "{socketOptions: [{level: 6, name: 6, intValue: 500}]}",
    "spec.options.socketOptions[0].intValue: TCP_KEEPCNT takes a value between 1 and 127, is 500"
)]
#[case::lo_socket_bytes(
    "ListenerOption",
    "{socketOptions: [{level: 1, name: 9, bufValue: AQ==}]}",
    "spec.options.socketOptions[0].bufValue: is not supported by gatesim; SO_KEEPALIVE takes intValue"
)]
#[case::lo_buffer_zero(
    "ListenerOption",
    "{perConnectionBufferLimitBytes: 0}",
    "spec.options.perConnectionBufferLimitBytes: must be at least 1"
)]
#[case::lo_tlv_type(
    "ListenerOption",
    "{proxyProtocol: {rules: [{tlvType: 300, onTlvPresent: {key: k}}]}}",
    "spec.options.proxyProtocol.rules[0].tlvType: must be between 0 and 255, is 300"
)]
#[case::lo_unknown_command(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{fileSink: {path: /dev/stdout, stringFormat: '%METHOD%'}}]}}",
    "spec.options.accessLoggingService.accessLog[0].fileSink.stringFormat: position 0: %METHOD% is not an Envoy command gatesim knows"
)]
#[case::lo_single_percent(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{fileSink: {path: /dev/stdout, stringFormat: '100% done'}}]}}",
    "stringFormat: position 3: a % must start a command"
)]
#[case::lo_json_command(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{fileSink: {path: /dev/stdout, jsonFormat: {p: {q: '%REQ%'}}}}]}}",
    "spec.options.accessLoggingService.accessLog[0].fileSink.jsonFormat.p.q: position 0: %REQ% needs an argument"
)]
#[case::lo_json_list(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{fileSink: {path: /dev/stdout, jsonFormat: {l: [a]}}}]}}",
    "jsonFormat.l: must be a format string, a number, a boolean or an object"
)]
#[case::lo_relative_path(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{fileSink: {path: access.log}}]}}",
    "fileSink.path: must be an absolute path, is \"access.log\""
)]
#[case::lo_grpc_sink(
    "ListenerOption",
    "{accessLoggingService: {accessLog: [{grpcService: {logName: a, staticClusterName: b}}]}}",
    "spec.options.accessLoggingService.accessLog[0].grpcService: is not supported by gatesim"
)]
#[case::lo_tcp_stats(
    "ListenerOption",
    "{tcpStats: true}",
    "spec.options.tcpStats: is not supported by gatesim"
)]
#[case::hlo_headers_kb(
    "HttpListenerOption",
    "{httpConnectionManagerSettings: {maxRequestHeadersKb: 9000}}",
    "spec.options.httpConnectionManagerSettings.maxRequestHeadersKb: must be between 1 and 8192, is 9000"
)]
#[case::hlo_negative_idle(
    "HttpListenerOption",
    "{httpConnectionManagerSettings: {streamIdleTimeout: -1s}}",
    "spec.options.httpConnectionManagerSettings.streamIdleTimeout: must not be negative, is -1s"
)]
#[case::hlo_hcm_unsupported(
    "HttpListenerOption",
    "{httpConnectionManagerSettings: {via: gatesim}}",
    "spec.options.httpConnectionManagerSettings.via: is not supported by gatesim"
)]
#[case::hlo_server_name(
    "HttpListenerOption",
    "{httpConnectionManagerSettings: {serverName: \"a\\nb\"}}",
    "spec.options.httpConnectionManagerSettings.serverName: '\\n' is not allowed here"
)]
#[case::hlo_gzip_window(
    "HttpListenerOption",
    "{gzip: {windowBits: 20}}",
    "spec.options.gzip.windowBits: must be between 9 and 15, is 20"
)]
#[case::hlo_gzip_memory(
    "HttpListenerOption",
    "{gzip: {memoryLevel: 0}}",
    "spec.options.gzip.memoryLevel: must be between 1 and 9, is 0"
)]
#[case::hlo_health_path(
    "HttpListenerOption",
    "{healthCheck: {path: healthz}}",
    "spec.options.healthCheck.path: must start with /, is \"healthz\""
)]
#[case::hlo_buffer_missing(
    "HttpListenerOption",
    "{buffer: {}}",
    "spec.options.buffer.maxRequestBytes: is required"
)]
#[case::hlo_csrf_over(
    "HttpListenerOption",
    "{csrf: {filterEnabled: {defaultValue: {numerator: 101}}}}",
    "spec.options.csrf.filterEnabled.defaultValue.numerator: must be at most 100"
)]
#[case::hlo_connection_limit(
    "HttpListenerOption",
    "{connectionLimit: {delayBeforeClose: 1s}}",
    "spec.options.connectionLimit.maxActiveConnections: is required"
)]
#[case::hlo_fill_interval(
    "HttpListenerOption",
    "{httpLocalRatelimit: {defaultLimit: {maxTokens: 3, fillInterval: 10ms}}}",
    "spec.options.httpLocalRatelimit.defaultLimit.fillInterval: must be at least 50ms, is 10ms"
)]
#[case::hlo_no_default_limit(
    "HttpListenerOption",
    "{httpLocalRatelimit: {enableXRatelimitHeaders: true}}",
    "spec.options.httpLocalRatelimit.defaultLimit: is required"
)]
#[case::hlo_tokens_per_fill(
    "HttpListenerOption",
    "{httpLocalRatelimit: {defaultLimit: {maxTokens: 3, tokensPerFill: 0, fillInterval: 1s}}}",
    "spec.options.httpLocalRatelimit.defaultLimit.tokensPerFill: must be at least 1"
)]
#[case::hlo_enterprise(
    "HttpListenerOption",
    "{extauth: {disable: true}}",
    "spec.options.extauth: is a Gloo Enterprise feature, not supported by gatesim"
)]
#[case::hlo_grpc_web(
    "HttpListenerOption",
    "{grpcWeb: {disable: true}}",
    "spec.options.grpcWeb: is not supported by gatesim"
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
