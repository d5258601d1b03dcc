//! The scenario format: the suite in scenarios/ loads and is counted exactly as upstream counts
//! its tests, and broken inputs are rejected with exact, located messages.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod scenario_support;

use gatesim_conformance::scenario::{
    self, EchoMode, HarnessObject, Level, LoadOptions, Profile, Scenario, Step,
    default_scenarios_dir, features,
};
use scenario_support::{BASE, DELETE_STEP, HEAD, Scratch, error_of, steps};

/// The 37 tests GATEWAY-HTTP counts as core at Gateway API v1.6.1, by the directory that holds
/// their scenario.
const CORE_SUITE: &[(&str, &[&str])] = &[
    (
        "gateway",
        &[
            "GatewayClassObservedGenerationBump",
            "GatewayInvalidParametersRef",
            "GatewayInvalidRouteKind",
            "GatewayInvalidTLSConfiguration",
            "GatewayListenerUnsupportedProtocol",
            "GatewayModifyListeners",
            "GatewayObservedGenerationBump",
            "GatewayWithAttachedRoutes",
        ],
    ),
    (
        "httproute",
        &[
            "HTTPRouteCrossNamespace",
            "HTTPRouteExactPathMatching",
            "HTTPRouteHTTPSListener",
            "HTTPRouteHeaderMatching",
            "HTTPRouteHostnameIntersection",
            "HTTPRouteInvalidBackendRefUnknownKind",
            "HTTPRouteInvalidCrossNamespaceParentRef",
            "HTTPRouteInvalidNonExistentBackendRef",
            "HTTPRouteInvalidParentRefNotMatchingSectionName",
            "HTTPRouteListenerHostnameMatching",
            "HTTPRouteMatching",
            "HTTPRouteMatchingAcrossRoutes",
            "HTTPRouteMultipleGateways",
            "HTTPRouteNoBackendRefs",
            "HTTPRouteObservedGenerationBump",
            "HTTPRoutePathMatchOrder",
            "HTTPRouteRedirectHostAndStatus",
            "HTTPRouteRequestHeaderModifier",
            "HTTPRouteServiceTypes",
            "HTTPRouteSimpleSameNamespace",
            "HTTPRouteWeight",
        ],
    ),
    (
        "referencegrant",
        &[
            "GatewaySecretInvalidReferenceGrant",
            "GatewaySecretMissingReferenceGrant",
            "GatewaySecretReferenceGrantAllInNamespace",
            "GatewaySecretReferenceGrantSpecific",
            "HTTPRouteInvalidCrossNamespaceBackendRef",
            "HTTPRouteInvalidReferenceGrant",
            "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
            "HTTPRouteReferenceGrant",
        ],
    ),
];

fn suite() -> Vec<Scenario> {
    scenario::load_dir(default_scenarios_dir(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn find<'a>(scenarios: &'a [Scenario], name: &str) -> &'a Scenario {
    scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

#[test]
fn every_scenario_in_the_suite_loads_and_validates() {
    let scenarios = suite();
    let mut names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = CORE_SUITE
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    expected.sort_unstable();
    for name in &expected {
        assert!(names.contains(name), "scenario {name} is missing");
    }
}

#[test]
fn core_scenarios_sit_in_their_directory_under_their_short_name() {
    let scenarios = suite();
    let root = default_scenarios_dir();
    for (dir, names) in CORE_SUITE {
        for name in *names {
            let s = find(&scenarios, name);
            assert_eq!(
                s.path,
                root.join(dir).join(format!("{name}.yaml")),
                "{name}"
            );
        }
    }
}

#[test]
fn gateway_http_counts_exactly_37_core_scenarios() {
    let scenarios = suite();
    let core: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.level(Profile::GatewayHttp) == Some(Level::Core))
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(core.len(), 37, "{core:?}");
    for (_, names) in CORE_SUITE {
        for name in *names {
            let s = find(&scenarios, name);
            assert!(
                !s.provisional && !s.slow,
                "{name} is neither provisional nor slow upstream"
            );
            assert_eq!(
                s.features[0].name, "Gateway",
                "{name} lists Gateway first, as upstream"
            );
        }
    }
}

#[test]
fn scenarios_share_one_base_fixture_as_upstream_has_it() {
    let scenarios = suite();
    let base = find(&scenarios, "HTTPRouteWeight")
        .base
        .clone()
        .expect("HTTPRouteWeight has a base");
    for s in scenarios.iter().filter(|s| s.base.is_some()) {
        assert!(
            Arc::ptr_eq(s.base.as_ref().unwrap(), &base),
            "{} loads its own copy of the base",
            s.name
        );
    }
    assert_eq!(base.name, "gateway-conformance");
    let backend = |namespace: &str, name: &str| {
        base.objects
            .iter()
            .find_map(|o| match o.harness() {
                Some(HarnessObject::EchoBackend(b))
                    if b.metadata.namespace == namespace && b.metadata.name == name =>
                {
                    Some(b.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no EchoBackend {namespace}/{name}"))
    };
    let infra = "gateway-conformance-infra";
    let v1 = backend(infra, "infra-backend-v1");
    assert_eq!(v1.spec.replicas, 2);
    let ports: Vec<(u16, u16, Option<&str>)> = v1
        .spec
        .ports
        .iter()
        .map(|p| (p.port, p.target_port, p.app_protocol.as_deref()))
        .collect();
    assert_eq!(
        ports,
        [
            (8080, 3000, None),
            (8081, 3001, Some("kubernetes.io/h2c")),
            (8082, 3000, Some("kubernetes.io/ws"))
        ]
    );
    assert_eq!(backend(infra, "infra-backend-v2").spec.replicas, 2);
    assert_eq!(backend(infra, "infra-backend-v3").spec.replicas, 1);
    assert_eq!(
        backend(infra, "grpc-infra-backend-v1").spec.mode,
        EchoMode::Grpc
    );
    assert_eq!(backend(infra, "tcp-backend").spec.mode, EchoMode::Tcp);
    assert_eq!(
        backend("gateway-conformance-web-backend", "web-backend")
            .spec
            .replicas,
        2
    );
    assert_eq!(
        backend("gateway-conformance-app-backend", "tls-backend")
            .spec
            .tls
            .unwrap()
            .certificate,
        "tls-passthrough-checks-certificate"
    );

    let weight = find(&scenarios, "HTTPRouteWeight");
    let trusted = weight.trusted_certificates("tls-validity-checks-certificate");
    assert_eq!(trusted.len(), 1);
    assert_eq!(trusted[0].spec.dns_names, ["*", "*.org", "*.wildcard.org"]);
    assert_eq!(
        weight
            .trusted_certificates("tls-passthrough-checks-certificate")
            .len(),
        2
    );
    assert_eq!(
        weight
            .trusted_certificates(
                "gateway-conformance-app-backend/tls-passthrough-checks-certificate"
            )
            .len(),
        1
    );
    let namespaces: Vec<&str> = base
        .objects
        .iter()
        .filter(|o| o.kind() == "Namespace")
        .map(|o| o.name())
        .collect();
    assert_eq!(
        namespaces,
        [
            "gateway-conformance-infra",
            "gateway-conformance-app-backend",
            "gateway-conformance-web-backend"
        ]
    );
    for gateway in base.objects.iter().filter(|o| o.kind() == "Gateway") {
        assert!(
            gateway.value().pointer("/spec/gatewayClassName").is_none(),
            "the harness sets it"
        );
    }
}

#[test]
fn weighted_and_mutating_steps_read_as_upstream_wrote_them() {
    let scenarios = suite();
    let weight = find(&scenarios, "HTTPRouteWeight");
    let Some(Step::ExpectWeights(w)) = weight.steps.last().map(|s| &s.value) else {
        panic!("HTTPRouteWeight ends with expect-weights");
    };
    let shares: Vec<(&str, f64)> = w
        .distribution
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        shares,
        [
            ("infra-backend-v1", 0.7),
            ("infra-backend-v2", 0.3),
            ("infra-backend-v3", 0.0)
        ]
    );
    assert_eq!((w.samples(), w.tolerance(), w.attempts()), (500, 0.05, 10));

    let grant = find(&scenarios, "HTTPRouteReferenceGrant");
    let keys: Vec<&str> = grant.steps.iter().map(|s| s.value.key()).collect();
    assert_eq!(
        keys,
        ["expect-status", "expect-http", "delete", "expect-http"]
    );

    let types = find(&scenarios, "HTTPRouteServiceTypes");
    assert!(
        types
            .steps
            .iter()
            .any(|s| matches!(&s.value, Step::FillEndpoints(f) if f.backend == "infra-backend-v1"))
    );

    for name in [
        "GatewayClassObservedGenerationBump",
        "GatewayObservedGenerationBump",
        "HTTPRouteObservedGenerationBump",
    ] {
        let s = find(&scenarios, name);
        let bumped = s.steps.iter().any(|step| match &step.value {
            Step::ExpectStatus(entries) => entries.iter().any(|e| e.generation_changed),
            _ => false,
        });
        assert!(bumped, "{name} checks generationChanged");
    }
}

#[test]
fn optional_settings_resolve_to_the_formats_defaults() {
    let scenarios = suite();
    let simple = find(&scenarios, "HTTPRouteSimpleSameNamespace");
    let timeouts: Vec<(String, Duration)> = simple
        .steps
        .iter()
        .flat_map(|s| match &s.value {
            Step::ExpectStatus(entries) => entries
                .iter()
                .map(|e| (e.kind.clone(), e.timeout()))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(
        timeouts,
        [
            ("Gateway".to_owned(), Duration::from_secs(180)),
            ("HTTPRoute".to_owned(), Duration::from_secs(60))
        ]
    );
    let Some(Step::ExpectHttp(http)) = simple.steps.last().map(|s| &s.value) else {
        panic!("HTTPRouteSimpleSameNamespace ends with expect-http");
    };
    assert_eq!(
        (http.consecutive(), http.within()),
        (3, Duration::from_secs(30))
    );
    let case = &http.cases[0];
    assert_eq!(case.response.statuses(), [200]);
    let seen = case.expected_request();
    assert_eq!((seen.path, seen.method, seen.host), ("/", "GET", None));
}

#[test]
fn sources_point_at_the_written_objects_and_steps() {
    let scenarios = suite();
    let simple = find(&scenarios, "HTTPRouteSimpleSameNamespace");
    let route = &simple.resources[0];
    assert_eq!(route.kind(), "HTTPRoute");
    let text = std::fs::read_to_string(&simple.path).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("kind: HTTPRoute"))
        .unwrap();
    // The object's node starts on the line before (`- apiVersion: ...`), after the `- `.
    let location = route.source().location().unwrap();
    assert_eq!((location.line, location.column), (line, 3));
    let step_line = text
        .lines()
        .position(|l| l.starts_with("- expect-http:"))
        .unwrap()
        + 1;
    assert_eq!(simple.steps[1].source.location().unwrap().line, step_line);
}

/// Every test of the upstream suite at v1.6.1 (`conformance/tests/*.go` and `tests/mesh/*.go`)
/// with its features: facts the registry must reproduce upstream's per-profile counts from.
const UPSTREAM_TESTS: &[(&str, &[&str])] = &[
    ("GatewayClassObservedGenerationBump", &["Gateway"]),
    (
        "GatewayFrontendClientCertificateValidation",
        &[
            "Gateway",
            "HTTPRoute",
            "GatewayFrontendClientCertificateValidation",
        ],
    ),
    (
        "GatewayFrontendClientCertificateValidationInsecureFallback",
        &[
            "Gateway",
            "HTTPRoute",
            "GatewayFrontendClientCertificateValidation",
            "GatewayFrontendClientCertificateValidationInsecureFallback",
        ],
    ),
    (
        "GatewayFrontendInvalidDefaultClientCertificateValidation",
        &[
            "Gateway",
            "HTTPRoute",
            "GatewayFrontendClientCertificateValidation",
        ],
    ),
    (
        "GatewayHTTPListenerIsolation",
        &["Gateway", "GatewayHTTPListenerIsolation", "HTTPRoute"],
    ),
    (
        "GatewayInfrastructure",
        &["Gateway", "GatewayInfrastructurePropagation"],
    ),
    (
        "GatewayInvalidFrontendClientCertificateValidation",
        &[
            "Gateway",
            "HTTPRoute",
            "ReferenceGrant",
            "GatewayFrontendClientCertificateValidation",
        ],
    ),
    ("GatewayInvalidParametersRef", &["Gateway"]),
    ("GatewayInvalidRouteKind", &["Gateway"]),
    (
        "GatewayInvalidTLSBackendConfiguration",
        &[
            "Gateway",
            "GatewayBackendClientCertificate",
            "HTTPRoute",
            "BackendTLSPolicy",
        ],
    ),
    ("GatewayInvalidTLSConfiguration", &["Gateway"]),
    ("GatewayListenerUnsupportedProtocol", &["Gateway"]),
    ("GatewayModifyListeners", &["Gateway"]),
    ("GatewayObservedGenerationBump", &["Gateway"]),
    (
        "GatewayOptionalAddressValue",
        &["Gateway", "GatewayAddressEmpty"],
    ),
    (
        "GatewayStaticAddresses",
        &["Gateway", "GatewayStaticAddresses"],
    ),
    (
        "GatewayTLSBackendClientCertificate",
        &[
            "Gateway",
            "GatewayBackendClientCertificate",
            "HTTPRoute",
            "BackendTLSPolicy",
        ],
    ),
    ("GatewayWithAttachedRoutes", &["Gateway", "HTTPRoute"]),
    (
        "GatewayWithAttachedRoutesWithPort8080",
        &["Gateway", "GatewayPort8080", "HTTPRoute"],
    ),
    (
        "HTTPRoute303Redirect",
        &["Gateway", "HTTPRoute", "HTTPRoute303RedirectStatusCode"],
    ),
    (
        "HTTPRoute307Redirect",
        &["Gateway", "HTTPRoute", "HTTPRoute307RedirectStatusCode"],
    ),
    (
        "HTTPRoute308Redirect",
        &["Gateway", "HTTPRoute", "HTTPRoute308RedirectStatusCode"],
    ),
    (
        "HTTPRouteBackendProtocolH2C",
        &["Gateway", "HTTPRoute", "HTTPRouteBackendProtocolH2C"],
    ),
    (
        "HTTPRouteBackendProtocolWebSocket",
        &["Gateway", "HTTPRoute", "HTTPRouteBackendProtocolWebSocket"],
    ),
    (
        "HTTPRouteBackendRequestHeaderModifier",
        &[
            "Gateway",
            "HTTPRoute",
            "HTTPRouteBackendRequestHeaderModification",
        ],
    ),
    ("HTTPRouteCORS", &["Gateway", "HTTPRoute", "HTTPRouteCORS"]),
    ("HTTPRouteCrossNamespace", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteDisallowedKind",
        &["Gateway", "HTTPRoute", "TLSRoute"],
    ),
    ("HTTPRouteExactPathMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteHTTPSListener", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteHTTPSListenerDetectMisdirectedRequests",
        &[
            "Gateway",
            "GatewayHTTPSListenerDetectMisdirectedRequests",
            "HTTPRoute",
        ],
    ),
    ("HTTPRouteHeaderMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteHostnameIntersection", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteInvalidBackendRefUnknownKind",
        &["Gateway", "HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidCrossNamespaceParentRef",
        &["Gateway", "HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidNonExistentBackendRef",
        &["Gateway", "HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidParentRefNotMatchingListenerPort",
        &["Gateway", "HTTPRoute", "HTTPRouteDestinationPortMatching"],
    ),
    (
        "HTTPRouteInvalidParentRefNotMatchingSectionName",
        &["Gateway", "HTTPRoute"],
    ),
    (
        "HTTPRouteInvalidParentRefSectionNameNotMatchingPort",
        &["Gateway", "HTTPRoute", "HTTPRouteParentRefPort"],
    ),
    (
        "HTTPRouteListenerHostnameMatching",
        &["Gateway", "HTTPRoute"],
    ),
    (
        "HTTPRouteListenerPortMatching",
        &["Gateway", "HTTPRoute", "HTTPRouteParentRefPort"],
    ),
    ("HTTPRouteMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteMatchingAcrossRoutes", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteMethodMatching",
        &["Gateway", "HTTPRoute", "HTTPRouteMethodMatching"],
    ),
    ("HTTPRouteMultipleGateways", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteNamedRule",
        &["Gateway", "HTTPRoute", "HTTPRouteNamedRouteRule"],
    ),
    ("HTTPRouteNoBackendRefs", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteObservedGenerationBump", &["Gateway", "HTTPRoute"]),
    ("HTTPRoutePathMatchOrder", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteQueryParamMatching",
        &["Gateway", "HTTPRoute", "HTTPRouteQueryParamMatching"],
    ),
    ("HTTPRouteRedirectHostAndStatus", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteRedirectPath",
        &["Gateway", "HTTPRoute", "HTTPRoutePathRedirect"],
    ),
    (
        "HTTPRouteRedirectPort",
        &["Gateway", "HTTPRoute", "HTTPRoutePortRedirect"],
    ),
    (
        "HTTPRouteRedirectPortAndScheme",
        &[
            "Gateway",
            "HTTPRoute",
            "HTTPRoutePortRedirect",
            "GatewayPort8080",
        ],
    ),
    (
        "HTTPRouteRedirectScheme",
        &["Gateway", "HTTPRoute", "HTTPRouteSchemeRedirect"],
    ),
    ("HTTPRouteRequestHeaderModifier", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteRequestHeaderModifierBackendWeights",
        &[
            "Gateway",
            "HTTPRouteBackendRequestHeaderModification",
            "HTTPRoute",
        ],
    ),
    (
        "HTTPRouteRequestMirror",
        &["Gateway", "HTTPRoute", "HTTPRouteRequestMirror"],
    ),
    (
        "HTTPRouteRequestMultipleMirrors",
        &[
            "Gateway",
            "HTTPRoute",
            "HTTPRouteRequestMirror",
            "HTTPRouteRequestMultipleMirrors",
        ],
    ),
    (
        "HTTPRouteRequestPercentageMirror",
        &["Gateway", "HTTPRoute", "HTTPRouteRequestPercentageMirror"],
    ),
    (
        "HTTPRouteResponseHeaderModifier",
        &[
            "Gateway",
            "HTTPRoute",
            "HTTPRouteResponseHeaderModification",
        ],
    ),
    (
        "HTTPRouteRetry",
        &["Gateway", "HTTPRoute", "HTTPRouteRetry"],
    ),
    (
        "HTTPRouteRewriteHost",
        &["Gateway", "HTTPRoute", "HTTPRouteHostRewrite"],
    ),
    (
        "HTTPRouteRewritePath",
        &["Gateway", "HTTPRoute", "HTTPRoutePathRewrite"],
    ),
    ("HTTPRouteServiceTypes", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteSimpleSameNamespace", &["Gateway", "HTTPRoute"]),
    (
        "HTTPRouteTimeoutBackendRequest",
        &["Gateway", "HTTPRoute", "HTTPRouteBackendTimeout"],
    ),
    (
        "HTTPRouteTimeoutRequest",
        &["Gateway", "HTTPRoute", "HTTPRouteRequestTimeout"],
    ),
    ("HTTPRouteWeight", &["Gateway", "HTTPRoute"]),
    ("GRPCExactMethodMatching", &["Gateway", "GRPCRoute"]),
    ("GRPCRouteHeaderMatching", &["Gateway", "GRPCRoute"]),
    (
        "GRPCRouteListenerHostnameMatching",
        &["Gateway", "GRPCRoute"],
    ),
    (
        "GRPCRouteNamedRule",
        &["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"],
    ),
    ("GRPCRouteWeight", &["Gateway", "GRPCRoute"]),
    ("TLSRouteHostnameIntersection", &["Gateway", "TLSRoute"]),
    (
        "TLSRouteInvalidBackendRefNonexistent",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteInvalidBackendRefUnknownKind",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteInvalidNoMatchingListener",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteInvalidNoMatchingListenerHostname",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteInvalidReferenceGrant",
        &["Gateway", "TLSRoute", "ReferenceGrant"],
    ),
    (
        "TLSRouteListenerMixedTerminationNotSupported",
        &["Gateway", "TLSRoute", "TLSRouteModeTerminate"],
    ),
    (
        "TLSRouteListenerPassthroughSupportedKinds",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteListenerTerminateNotSupported",
        &["Gateway", "TLSRoute"],
    ),
    (
        "TLSRouteListenerTerminateSupportedKinds",
        &["Gateway", "TLSRoute", "TLSRouteModeTerminate"],
    ),
    (
        "TLSRouteMixedTerminationSameNamespace",
        &[
            "Gateway",
            "TLSRoute",
            "TLSRouteModeTerminate",
            "TLSRouteModeMixed",
        ],
    ),
    ("TLSRouteSimpleSameNamespace", &["Gateway", "TLSRoute"]),
    (
        "TLSRouteTerminateSimpleSameNamespace",
        &["Gateway", "TLSRoute", "TLSRouteModeTerminate"],
    ),
    (
        "GatewaySecretInvalidReferenceGrant",
        &["Gateway", "ReferenceGrant"],
    ),
    (
        "GatewaySecretMissingReferenceGrant",
        &["Gateway", "ReferenceGrant"],
    ),
    (
        "GatewaySecretReferenceGrantAllInNamespace",
        &["Gateway", "ReferenceGrant"],
    ),
    (
        "GatewaySecretReferenceGrantSpecific",
        &["Gateway", "ReferenceGrant"],
    ),
    (
        "HTTPRouteInvalidCrossNamespaceBackendRef",
        &["Gateway", "HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRouteInvalidReferenceGrant",
        &["Gateway", "HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
        &["Gateway", "HTTPRoute", "ReferenceGrant"],
    ),
    (
        "HTTPRouteReferenceGrant",
        &["Gateway", "HTTPRoute", "ReferenceGrant"],
    ),
    (
        "BackendTLSPolicy",
        &["Gateway", "HTTPRoute", "BackendTLSPolicy"],
    ),
    (
        "BackendTLSPolicyConflictResolution",
        &["Gateway", "HTTPRoute", "BackendTLSPolicy"],
    ),
    (
        "BackendTLSPolicyInvalidCACertificateRef",
        &["Gateway", "HTTPRoute", "BackendTLSPolicy"],
    ),
    (
        "BackendTLSPolicyInvalidKind",
        &["Gateway", "HTTPRoute", "BackendTLSPolicy"],
    ),
    (
        "BackendTLSPolicyObservedGenerationBump",
        &["Gateway", "HTTPRoute", "BackendTLSPolicy"],
    ),
    (
        "BackendTLSPolicySANValidation",
        &[
            "Gateway",
            "HTTPRoute",
            "BackendTLSPolicy",
            "BackendTLSPolicySANValidation",
        ],
    ),
    (
        "ListenerSetAllowedNamespaceNone",
        &["Gateway", "ListenerSet"],
    ),
    (
        "ListenerSetAllowedNamespaceSame",
        &["Gateway", "ListenerSet"],
    ),
    (
        "ListenerSetAllowedNamespaceSelector",
        &["Gateway", "ListenerSet"],
    ),
    (
        "ListenerSetAllowedRoutesNamespaces",
        &["Gateway", "ListenerSet", "HTTPRoute", "ReferenceGrant"],
    ),
    (
        "ListenerSetAllowedRoutesSupportedKinds",
        &["Gateway", "ListenerSet", "TLSRoute"],
    ),
    ("ListenerSetDefaultNotAllowed", &["Gateway", "ListenerSet"]),
    (
        "ListenerSetDualParentRefIndependence",
        &["Gateway", "ListenerSet", "HTTPRoute"],
    ),
    (
        "ListenerSetGatewayParentSectionNameNotFound",
        &["Gateway", "ListenerSet", "HTTPRoute"],
    ),
    (
        "ListenerSetHTTPRouting",
        &["Gateway", "ListenerSet", "HTTPRoute"],
    ),
    ("ListenerSetHostnameConflict", &["Gateway", "ListenerSet"]),
    ("ListenerSetProtocolConflict", &["Gateway", "ListenerSet"]),
    (
        "ListenerSetReferenceGrant",
        &["Gateway", "ListenerSet", "ReferenceGrant"],
    ),
    (
        "ListenerSetRouteStatusScopedToParentRef",
        &["Gateway", "ListenerSet", "HTTPRoute"],
    ),
    (
        "TCPRouteInvalidBackendRefNonexistent",
        &["Gateway", "TCPRoute"],
    ),
    (
        "TCPRouteInvalidCrossNamespaceBackendRef",
        &["Gateway", "TCPRoute", "ReferenceGrant"],
    ),
    ("TCPRouteInvalidNonTCPListener", &["Gateway", "TCPRoute"]),
    ("TCPRouteMultipleRoutesAttachment", &["Gateway", "TCPRoute"]),
    ("TCPRouteParentRefAttachAll", &["Gateway", "TCPRoute"]),
    (
        "TCPRouteParentRefPortAndSectionName",
        &["Gateway", "TCPRoute"],
    ),
    (
        "TCPRouteReferenceGrant",
        &["Gateway", "TCPRoute", "ReferenceGrant"],
    ),
    ("TCPRouteWeightedRouting", &["Gateway", "TCPRoute"]),
    ("UDPRoute", &["Gateway", "UDPRoute"]),
    (
        "UDPRouteInvalidBackendRefNonexistent",
        &["Gateway", "UDPRoute"],
    ),
    (
        "UDPRouteInvalidCrossNamespaceBackendRef",
        &["Gateway", "UDPRoute", "ReferenceGrant"],
    ),
    ("UDPRouteMultipleRoutesAttachment", &["Gateway", "UDPRoute"]),
    ("UDPRouteNotAllowedByListeners", &["Gateway", "UDPRoute"]),
    (
        "UDPRouteParentRefAttachAllListeners",
        &["Gateway", "UDPRoute"],
    ),
    (
        "UDPRouteParentRefPortAndSectionName",
        &["Gateway", "UDPRoute"],
    ),
    (
        "UDPRouteReferenceGrant",
        &["Gateway", "UDPRoute", "ReferenceGrant"],
    ),
    ("UDPRouteWeightedRouting", &["Gateway", "UDPRoute"]),
    ("MeshBasic", &["Mesh"]),
    (
        "MeshConsumerRoute",
        &[
            "Mesh",
            "MeshConsumerRoute",
            "HTTPRoute",
            "HTTPRouteResponseHeaderModification",
        ],
    ),
    (
        "MeshFrontend",
        &["Mesh", "HTTPRoute", "HTTPRouteResponseHeaderModification"],
    ),
    (
        "MeshFrontendHostname",
        &[
            "Mesh",
            "MeshClusterIPMatching",
            "HTTPRoute",
            "HTTPRouteResponseHeaderModification",
        ],
    ),
    ("MeshGRPCRouteWeight", &["Mesh", "GRPCRoute"]),
    (
        "MeshHTTPRoute303Redirect",
        &["Mesh", "HTTPRoute", "HTTPRoute303RedirectStatusCode"],
    ),
    (
        "MeshHTTPRoute307Redirect",
        &["Mesh", "HTTPRoute", "HTTPRoute307RedirectStatusCode"],
    ),
    (
        "MeshHTTPRoute308Redirect",
        &["Mesh", "HTTPRoute", "HTTPRoute308RedirectStatusCode"],
    ),
    (
        "MeshHTTPRouteBackendRequestHeaderModifier",
        &[
            "Mesh",
            "HTTPRoute",
            "MeshHTTPRouteBackendRequestHeaderModification",
        ],
    ),
    ("MeshHTTPRouteMatching", &["Mesh", "HTTPRoute"]),
    (
        "MeshHTTPRouteNamedRule",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteNamedRouteRule"],
    ),
    (
        "MeshHTTPRouteQueryParamMatching",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteQueryParamMatching"],
    ),
    ("MeshHTTPRouteRedirectHostAndStatus", &["Mesh", "HTTPRoute"]),
    (
        "MeshHTTPRouteRedirectPath",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteRedirectPath"],
    ),
    (
        "MeshHTTPRouteRedirectPort",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteRedirectPort"],
    ),
    ("MeshHTTPRouteRequestHeaderModifier", &["Mesh", "HTTPRoute"]),
    (
        "MeshHTTPRouteRewritePath",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteRewritePath"],
    ),
    (
        "MeshHTTPRouteSchemeRedirect",
        &["Mesh", "HTTPRoute", "MeshHTTPRouteSchemeRedirect"],
    ),
    ("MeshHTTPRouteSimpleSameNamespace", &["Mesh", "HTTPRoute"]),
    ("MeshHTTPRouteWeight", &["Mesh", "HTTPRoute"]),
    (
        "MeshPorts",
        &[
            "Mesh",
            "HTTPRoute",
            "HTTPRouteParentRefPort",
            "HTTPRouteResponseHeaderModification",
        ],
    ),
    ("MeshTrafficSplit", &["Mesh", "HTTPRoute"]),
];

#[test]
fn the_registry_counts_upstreams_suite_as_upstream_does() {
    assert_eq!(UPSTREAM_TESTS.len(), 153);
    let expected = [
        (Profile::GatewayHttp, 37, 57),
        (Profile::GatewayGrpc, 15, 10),
        (Profile::GatewayTls, 20, 15),
        (Profile::GatewayTcp, 19, 10),
        (Profile::GatewayUdp, 20, 10),
        (Profile::MeshHttp, 7, 7),
        (Profile::MeshGrpc, 2, 0),
    ];
    for (profile, core, extended) in expected {
        let levels: Vec<Level> = UPSTREAM_TESTS
            .iter()
            .filter_map(|(_, f)| profile.level(f))
            .collect();
        let counted = |level| levels.iter().filter(|l| **l == level).count();
        assert_eq!(
            (counted(Level::Core), counted(Level::Extended)),
            (core, extended),
            "{profile}"
        );
    }
    for (test, names) in UPSTREAM_TESTS {
        for name in *names {
            let feature =
                features::feature(name).unwrap_or_else(|| panic!("{test}: unknown feature {name}"));
            assert!(feature.is_upstream());
        }
    }
    let no_profile: Vec<&str> = UPSTREAM_TESTS
        .iter()
        .filter(|(_, f)| Profile::ALL.iter().all(|p| p.level(f).is_none()))
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(
        no_profile,
        [
            "HTTPRouteDisallowedKind",
            "GRPCRouteNamedRule",
            "MeshConsumerRoute",
            "MeshFrontend",
            "MeshFrontendHostname",
            "MeshHTTPRoute303Redirect",
            "MeshHTTPRoute307Redirect",
            "MeshHTTPRoute308Redirect",
            "MeshPorts",
        ]
    );
}

#[test]
fn scenarios_of_upstream_tests_list_exactly_their_features() {
    for s in suite() {
        let Some((_, upstream)) = UPSTREAM_TESTS.iter().find(|(name, _)| *name == s.name) else {
            continue;
        };
        let mut ours = s.feature_names();
        let mut theirs = upstream.to_vec();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{}", s.name);
    }
}

// ---- Loading ----------------------------------------------------------------------------------

#[test]
fn base_and_resource_files_resolve_and_discovery_skips_the_base_dir() {
    let main = "\
name: UsesEverything
description: base, resource files and every step
features: [Gateway, K8sGatewayRouteOption]
base: tiny
resourceFiles: [extra/objects.yaml]
steps:
- fill-endpoints: {namespace: ns, backend: echo, endpointSlices: [slice-ip4]}
- expect-http:
    gateway: ns/gw
    cases:
    - request: {path: /, scheme: https, sni: example.com, trust: cert}
";
    let objects = "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\n---\n\
                   apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\n";
    let scratch = Scratch::new(&[
        ("base/tiny.yaml", BASE),
        ("suite/main.yaml", main),
        ("suite/extra/objects.yaml", objects),
        ("suite/base/ignored.yaml", "this is not a scenario: ["),
    ]);
    let options = LoadOptions {
        base_dir: Some(scratch.path("suite/base")),
    };
    std::fs::rename(
        scratch.path("base/tiny.yaml"),
        scratch.path("suite/base/tiny.yaml"),
    )
    .expect("move base");
    std::fs::remove_file(scratch.path("suite/base/ignored.yaml")).expect("remove");
    let scenarios =
        scenario::load_all(&[scratch.path("suite")], &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        scenarios.len(),
        1,
        "the base directory holds fixtures, not scenarios"
    );
    let s = &scenarios[0];
    assert_eq!(s.base.as_ref().map(|b| b.objects.len()), Some(3));
    let kinds: Vec<&str> = s.resources.iter().map(|o| o.kind()).collect();
    assert_eq!(kinds, ["Service", "ConfigMap"]);
    let source = s.resources[1].source();
    assert_eq!(source.file(), scratch.path("suite/extra/objects.yaml"));
    assert_eq!(source.location().map(|l| l.line), Some(6));
    assert_eq!(s.resource_files, [scratch.path("suite/extra/objects.yaml")]);
    assert_eq!(
        s.level(Profile::GatewayHttp),
        None,
        "K8sGateway features belong to no upstream profile"
    );

    // A directory's own `base/` is skipped even when --base-dir points elsewhere.
    std::fs::write(scratch.path("suite/base/junk.yaml"), "[").expect("write");
    let elsewhere = LoadOptions {
        base_dir: Some(scratch.path("suite/base")),
    };
    // Discovery lists candidates; resource files are told apart only once scenarios name them.
    let expected = [
        scratch.path("suite/extra/objects.yaml"),
        scratch.path("suite/main.yaml"),
    ];
    let found =
        scenario::discover(&[scratch.path("suite")], &elsewhere).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found, expected);
    let found = scenario::discover(&[scratch.path("suite")], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found, expected);
}

#[test]
fn a_run_reports_every_broken_file() {
    let scratch = Scratch::new(&[
        ("run/a.yaml", &format!("{HEAD}{DELETE_STEP}")),
        ("run/b.yaml", "name: [\n"),
        ("run/c.yaml", &format!("{HEAD}{DELETE_STEP}")),
    ]);
    assert_eq!(
        scratch.load_run("run").unwrap_err(),
        "<dir>/run/b.yaml:1:7: name: invalid type: sequence, expected a string\n\
         <dir>/run/c.yaml:1:7: name: duplicate scenario name `Broken`, also used by <dir>/run/a.yaml"
    );
}

#[test]
fn malformed_yaml_is_located() {
    assert_eq!(
        error_of("name: x\n  steps: []\n"),
        "<dir>/s.yaml:2:8: mapping values are not allowed in this context"
    );
}

#[test]
fn unknown_keys_list_the_known_ones() {
    assert_eq!(
        error_of(&format!("{HEAD}stepz: []\n")),
        "<dir>/s.yaml:4:1: unknown field `stepz`, expected one of `name`, `description`, `features`, \
         `provisional`, `slow`, `base`, `resources`, `resourceFiles`, `steps`, `generated`"
    );
    assert_eq!(
        error_of(&steps("- expectd-http: {}\n")),
        "<dir>/s.yaml:5:3: steps[0]: unknown field `expectd-http`, expected one of `apply`, `patch`, \
         `delete`, `fill-endpoints`, `expect-status`, `expect-http`, `expect-weights`, `expect-access-log`"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /}\n      expectedRequests: {}\n"
        )),
        "<dir>/s.yaml:9:7: steps[0].expect-http.cases[0]: unknown field `expectedRequests`, expected one of \
         `name`, `request`, `expectedRequest`, `backend`, `namespace`, `response`, `redirect`, `mirroredTo`, `burst`"
    );
    let echo = format!(
        "{HEAD}resources:\n- apiVersion: gatesim.dev/v1alpha1\n  kind: EchoBackend\n  metadata: {{name: e, namespace: n}}\n  \
         spec:\n    replica: 2\n    ports: [{{port: 80, targetPort: 3000}}]\n{DELETE_STEP}"
    );
    assert_eq!(
        error_of(&echo),
        "<dir>/s.yaml:9:5: resources[0].spec: unknown field `replica`, expected one of `replicas`, `mode`, `ports`, `tls`"
    );
}

#[test]
fn a_step_has_exactly_one_key() {
    assert_eq!(
        error_of(&steps(
            "- apply: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]\n  delete: []\n"
        )),
        "<dir>/s.yaml:6:3: steps[0]: a step has exactly one key, but `delete` follows `apply`; \
         start a new list item (`- delete: ...`) for another step"
    );
    assert_eq!(
        error_of(&steps("- {}\n")),
        "<dir>/s.yaml:5:3: steps[0]: a step needs exactly one key, one of `apply`, `patch`, `delete`, \
         `fill-endpoints`, `expect-status`, `expect-http`, `expect-weights`, `expect-access-log`; this one has none"
    );
    assert_eq!(
        error_of(&steps("- apply\n")),
        "<dir>/s.yaml:5:3: steps[0]: invalid type: string \"apply\", expected a step: a map with exactly one key, \
         one of `apply`, `patch`, `delete`, `fill-endpoints`, `expect-status`, `expect-http`, `expect-weights`, `expect-access-log`"
    );
}

#[test]
fn wrong_types_and_missing_fields_are_located() {
    assert_eq!(
        error_of("name: Broken\ndescription: d\nfeatures: Gateway\nsteps: []\n"),
        "<dir>/s.yaml:3:11: features: invalid type: string \"Gateway\", expected a sequence"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /}\n      response: {status: two hundred}\n"
        )),
        "<dir>/s.yaml:9:26: steps[0].expect-http.cases[0].response.status: invalid type: string \"two hundred\", expected u16"
    );
    assert_eq!(
        error_of("name: Broken\nfeatures: [Gateway]\nsteps: []\n"),
        "<dir>/s.yaml:1:1: missing field `description`"
    );
    assert_eq!(error_of(""), "<dir>/s.yaml:1:1: missing field `name`");
    assert_eq!(
        error_of(&steps("- expect-http:\n    gateway: a/b\n")),
        "<dir>/s.yaml:6:5: steps[0].expect-http: missing field `cases`"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-status:\n  - {kind: Gateway, namespace: n, name: g, timeout: soon}\n"
        )),
        "<dir>/s.yaml:6:53: steps[0].expect-status[0].timeout: expected a duration such as `30s`, `1m30s` or `500ms`, got `soon`"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-status:\n  - {kind: Gateway, namespace: n, name: g, conditions: [{type: Accepted, status: Yes}]}\n"
        )),
        "<dir>/s.yaml:6:82: steps[0].expect-status[0].conditions[0].status: expected a condition status \
         \"True\", \"False\" or \"Unknown\", got `Yes`"
    );
}

#[test]
fn semantic_mistakes_are_located() {
    assert_eq!(
        error_of(
            "name: Broken\ndescription: d\nfeatures: [Gateway, HTTPRouteQueryParamMatchin]\nsteps: []\n"
        ),
        "<dir>/s.yaml:3:21: features[1]: unknown feature `HTTPRouteQueryParamMatchin`; did you mean `HTTPRouteQueryParamMatching`?"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: same-namespace\n    cases: []\n"
        )),
        "<dir>/s.yaml:6:14: steps[0].expect-http.gateway: expected a Gateway as `namespace/name`, got `same-namespace`"
    );
    assert_eq!(
        error_of(&format!("{HEAD}base: nowhere\n{DELETE_STEP}")),
        "<dir>/s.yaml:4:7: base: no base fixture `nowhere` (looked for <dir>/base/nowhere.yaml)"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /, scheme: https, trust: missing-cert}\n"
        )),
        "<dir>/s.yaml:8:48: steps[0].expect-http.cases[0].request.trust: no TestCertificate `missing-cert` in this scenario or its base"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /}\n      response: {status: 200, statuses: [200]}\n"
        )),
        "<dir>/s.yaml:9:41: steps[0].expect-http.cases[0].response.statuses: give `status` or `statuses`, not both"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /, trust: cert}\n"
        )),
        "<dir>/s.yaml:8:33: steps[0].expect-http.cases[0].request.trust: `trust` applies to HTTPS only; add `scheme: https`"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-http:\n    gateway: a/b\n    cases:\n    - request: {path: /}\n      redirect: {host: x}\n"
        )),
        "<dir>/s.yaml:9:17: steps[0].expect-http.cases[0].redirect: `redirect` is checked on 3xx replies; expect a 3xx status"
    );
    assert_eq!(
        error_of(&steps(
            "- expect-weights:\n    gateway: a/b\n    request: {path: /}\n    distribution: {a: 0.7, b: 0.2}\n"
        )),
        "<dir>/s.yaml:8:19: steps[0].expect-weights.distribution: the shares must add up to 1, they add up to 0.9"
    );
    assert_eq!(
        error_of(&steps("- expect-status:\n  - {kind: HTTPRoute, name: r}\n")),
        "<dir>/s.yaml:6:5: steps[0].expect-status[0]: missing field `namespace` (HTTPRoute is namespaced)"
    );
    assert_eq!(
        error_of(&steps(
            "- fill-endpoints: {namespace: ns, backend: missing, endpointSlices: [s]}\n"
        )),
        "<dir>/s.yaml:5:44: steps[0].fill-endpoints.backend: no EchoBackend `missing` in namespace `ns`"
    );
    assert_eq!(
        error_of(&format!("{HEAD}steps: []\n")),
        "<dir>/s.yaml:4:8: steps: list at least one step"
    );
    let issuer = format!(
        "{HEAD}resources:\n- apiVersion: gatesim.dev/v1alpha1\n  kind: TestCertificate\n  metadata: {{name: leaf, namespace: n}}\n  \
         spec: {{dnsNames: [a.b], issuer: other}}\n- apiVersion: gatesim.dev/v1alpha1\n  kind: TestCertificate\n  \
         metadata: {{name: other, namespace: n}}\n  spec: {{dnsNames: [c.d]}}\n{DELETE_STEP}"
    );
    assert_eq!(
        error_of(&issuer),
        "<dir>/s.yaml:8:35: resources[0].spec.issuer: TestCertificate `n/other` is not an authority (`authority: true`)"
    );
}

#[test]
fn resource_files_are_checked_where_they_are_written() {
    let main = format!("{HEAD}resourceFiles: [more.yaml]\n{DELETE_STEP}");
    let missing = Scratch::new(&[("s.yaml", &main)]);
    assert_eq!(
        missing.load("s.yaml").unwrap_err(),
        "<dir>/s.yaml:4:17: resourceFiles[0]: no resource file `<dir>/more.yaml`"
    );
    let broken = Scratch::new(&[
        ("s.yaml", &main),
        (
            "more.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
        ),
    ]);
    assert_eq!(
        broken.load("s.yaml").unwrap_err(),
        "<dir>/more.yaml:5:1: missing field `kind`"
    );
}

#[test]
fn unreadable_paths_name_the_file() {
    let scratch = Scratch::new(&[]);
    let error = scratch.load("absent.yaml").unwrap_err();
    assert!(
        error.starts_with("<dir>/absent.yaml: cannot read: "),
        "{error}"
    );
    assert!(Path::new(&scratch.path("absent.yaml")).parent().is_some());
}

#[test]
fn every_step_kind_and_optional_field_parses() {
    let text = r#"
name: EveryStep
description: one of each step, with every optional field
features: [Gateway, HTTPRoute]
provisional: true
slow: true
generated: {seed: "0xfeed", property: routing-matches-oracle}
steps:
- apply:
  - apiVersion: gatesim.dev/v1alpha1
    kind: TestCertificate
    metadata: {name: ca, namespace: ns}
    spec: {authority: true}
  - apiVersion: gatesim.dev/v1alpha1
    kind: TestCertificate
    metadata: {name: leaf, namespace: ns}
    spec: {dnsNames: [a.example], uris: ["spiffe://a/b"], issuer: ns/ca, ca: true}
  - apiVersion: gatesim.dev/v1alpha1
    kind: EchoBackend
    metadata: {name: echo, namespace: ns, labels: {tier: test}}
    spec:
      replicas: 3
      mode: tcp
      ports: [{name: plain, port: 3000, targetPort: 3000}, {name: tls, port: 8443, targetPort: 8443}]
      tls: {certificate: leaf, targetPorts: [8443]}
- patch:
  - {apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, namespace: ns, name: r, patch: {spec: {hostnames: [a]}}}
- delete:
  - {kind: GatewayClass, name: gc}
- fill-endpoints: {namespace: ns, backend: echo, endpointSlices: [s-ip4, s-ip6]}
- expect-status:
  - kind: BackendTLSPolicy
    namespace: ns
    name: p
    timeout: 1m30s
    exact: true
    ancestors:
    - ancestorRef: {name: gw, namespace: ns, sectionName: https}
      conditions: [{type: Accepted, status: True, reason: Accepted}]
  - kind: Gateway
    namespace: ns
    name: gw
    listeners:
    - name: https
      attachedRoutes: 2
      supportedKinds: [{group: gateway.networking.k8s.io, kind: HTTPRoute}, {kind: GRPCRoute}]
- expect-http:
    gateway: ns/gw
    listener: https
    consecutive: 5
    within: 45s
    cases:
    - name: everything
      request:
        host: a.example
        method: POST
        path: /p?q=1
        headers: {x-a: b}
        scheme: https
        sni: a.example
        trust: ns/leaf
        protocol: h2
        body: hello
      expectedRequest:
        host: a.example
        path: /v2/p?q=1
        method: POST
        headers: {x-added: v}
        absentHeaders: [x-a]
      backend: echo
      namespace: ns
      response:
        statuses: [301, 302]
        headers: {x-h: v}
        absentHeaders: [x-gone]
        body: moved
        bodyContains: mov
      redirect: {scheme: https, host: b.example, port: 8443, path: /new}
      mirroredTo: [{backend: echo, namespace: ns}]
- expect-weights:
    gateway: ns/gw
    listener: https
    request: {path: /, scheme: https, trust: leaf}
    samples: 200
    distribution: {echo: 1.0}
    tolerance: 0.1
    attempts: 3
- expect-access-log:
    gateway: ns/gw
    file: logs/access.log
    within: 5s
    lines: [{contains: "GET /p"}, {json: {method: POST, status: 200}}]
"#;
    let scratch = Scratch::new(&[("s.yaml", text)]);
    let s = scratch.load("s.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.provisional && s.slow);
    assert_eq!(
        s.generated.as_ref().map(|g| g.seed.as_str()),
        Some("0xfeed")
    );
    let keys: Vec<&str> = s.steps.iter().map(|step| step.value.key()).collect();
    assert_eq!(keys, scenario::STEP_KEYS);
    let Step::Apply(objects) = &s.steps[0].value else {
        panic!("apply first")
    };
    let Some(HarnessObject::EchoBackend(echo)) = objects[2].harness() else {
        panic!("typed EchoBackend")
    };
    assert_eq!((echo.spec.replicas, echo.spec.mode), (3, EchoMode::Tcp));
    assert_eq!(s.test_certificates().count(), 2);
    let Step::ExpectStatus(entries) = &s.steps[4].value else {
        panic!("expect-status fifth")
    };
    assert_eq!(entries[0].timeout(), Duration::from_secs(90));
    assert_eq!(
        entries[1].listeners.as_ref().unwrap()[0]
            .supported_kinds
            .as_ref()
            .unwrap()[1]
            .group(),
        "gateway.networking.k8s.io"
    );
    let Step::ExpectHttp(http) = &s.steps[5].value else {
        panic!("expect-http sixth")
    };
    assert_eq!(
        (http.consecutive(), http.within()),
        (5, Duration::from_secs(45))
    );
    let case = &http.cases[0];
    assert_eq!(case.response.statuses(), [301, 302]);
    let seen = case.expected_request();
    assert_eq!(
        (seen.host, seen.path, seen.method),
        (Some("a.example"), "/v2/p?q=1", "POST")
    );
    assert_eq!(seen.absent_headers, ["x-a"]);
    assert_eq!(s.trusted_certificates("ns/leaf").len(), 1);
    let Step::ExpectWeights(w) = &s.steps[6].value else {
        panic!("expect-weights last")
    };
    assert_eq!((w.samples(), w.tolerance(), w.attempts()), (200, 0.1, 3));
}
