//! The ConformanceReport is counted as upstream's suite counts it, and written as upstream writes it.

mod report_support;

use std::collections::BTreeSet;

use gatesim_conformance::outcome::ScenarioResult;
use gatesim_conformance::report::{
    ApiChannel, ConformanceReport, FeatureSelection, ReportError, RunResult, Statistics, build,
};
use gatesim_conformance::scenario::Profile;
use report_support::{core_all_passed, date, failure, options, scenario};

const HTTP: Profile = Profile::GatewayHttp;

fn stats(passed: u32, skipped: u32, failed: u32) -> Statistics {
    Statistics {
        passed,
        skipped,
        failed,
    }
}

#[test]
fn all_37_core_tests_passing_is_core_success() {
    let report = build(&core_all_passed(), &options(&[HTTP], &[]));
    assert_eq!(report.api_version, "gateway.networking.k8s.io/v1");
    assert_eq!(report.kind, "ConformanceReport");
    assert_eq!(report.profiles.len(), 1);
    let http = &report.profiles[0];
    assert_eq!(http.name, "GATEWAY-HTTP");
    assert_eq!(http.core.statistics, stats(37, 0, 0));
    assert_eq!(http.core.result, RunResult::Success);
    assert!(http.core.failed_tests.is_empty() && http.core.skipped_tests.is_empty());
    assert_eq!(http.extended, None, "no extended test was counted");
    assert_eq!(http.summary, "Core tests succeeded.");
    assert!(report.succeeded_provisional_tests.is_empty());
}

#[test]
fn gateway_only_tests_count_as_core_in_every_gateway_profile() {
    let profiles = [HTTP, Profile::GatewayGrpc, Profile::MeshHttp];
    let report = build(&core_all_passed(), &options(&profiles, &[]));
    let names: Vec<&str> = report.profiles.iter().map(|p| p.name.as_str()).collect();
    // MESH-HTTP counts none of them (they need Gateway), so it is absent, as upstream omits it.
    assert_eq!(names, ["GATEWAY-HTTP", "GATEWAY-GRPC"]);
    let grpc = report.profile("GATEWAY-GRPC").unwrap();
    assert_eq!(grpc.core.statistics, stats(11, 0, 0));
}

#[test]
fn one_failure_makes_the_level_fail_and_is_named() {
    let mut results = core_all_passed();
    let index = results
        .iter()
        .position(|r| r.name == "HTTPRouteWeight")
        .unwrap();
    results[index] = scenario("HTTPRouteWeight", "httproute", &["HTTPRoute"]).failed(failure(
        4,
        "expect-weights",
        None,
        "expected 70/30",
    ));
    let report = build(&results, &options(&[HTTP], &[]));
    let core = &report.profiles[0].core;
    assert_eq!(core.statistics, stats(36, 0, 1));
    assert_eq!(core.result, RunResult::Failure);
    assert_eq!(core.failed_tests, ["HTTPRouteWeight"]);
    assert_eq!(
        report.profiles[0].summary,
        "Core tests failed with 1 test failures."
    );
}

#[test]
fn a_skip_without_failures_is_partial_and_failures_win_over_skips() {
    let mut results = core_all_passed();
    results[3] = scenario("GatewayInvalidTLSConfiguration", "gateway", &[]).skipped("--skip-tests");
    let report = build(&results, &options(&[HTTP], &[]));
    let core = &report.profiles[0].core;
    assert_eq!(core.statistics, stats(36, 1, 0));
    assert_eq!(core.result, RunResult::Partial);
    assert_eq!(core.skipped_tests, ["GatewayInvalidTLSConfiguration"]);
    assert_eq!(
        report.profiles[0].summary,
        "Core tests partially succeeded with 1 test skips."
    );

    results[4] = scenario("GatewayListenerUnsupportedProtocol", "gateway", &[])
        .failed(failure(0, "apply", None, "rejected"));
    let report = build(&results, &options(&[HTTP], &[]));
    assert_eq!(report.profiles[0].core.result, RunResult::Failure);
    assert_eq!(report.profiles[0].core.statistics, stats(35, 1, 1));
}

#[test]
fn unsupported_tests_are_not_counted_and_their_features_are_listed() {
    let mut results = core_all_passed();
    results.push(
        scenario(
            "HTTPRouteQueryParamMatching",
            "httproute",
            &["HTTPRoute", "HTTPRouteQueryParamMatching"],
        )
        .passed(),
    );
    results.push(
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .unsupported(&["HTTPRouteCORS"]),
    );
    let report = build(
        &results,
        &options(&[HTTP], &["HTTPRouteQueryParamMatching"]),
    );
    let http = &report.profiles[0];
    assert_eq!(http.core.statistics, stats(37, 0, 0));
    let extended = http
        .extended
        .as_ref()
        .expect("an extended test was counted");
    assert_eq!(extended.status.statistics, stats(1, 0, 0));
    assert_eq!(extended.status.result, RunResult::Success);
    assert_eq!(extended.supported_features, ["HTTPRouteQueryParamMatching"]);
    assert!(
        extended
            .unsupported_features
            .contains(&"HTTPRouteCORS".to_owned())
    );

    // The two lists split the profile's extended features, each sorted, none twice.
    let all: BTreeSet<String> = HTTP.extended_features().map(str::to_owned).collect();
    assert_eq!(all.len(), 38);
    let mut both = extended.supported_features.clone();
    both.extend(extended.unsupported_features.iter().cloned());
    assert_eq!(both.len(), all.len());
    assert_eq!(both.into_iter().collect::<BTreeSet<_>>(), all);
    assert!(extended.unsupported_features.is_sorted());
    assert_eq!(
        http.summary,
        "Core tests succeeded. Extended tests succeeded."
    );
}

#[test]
fn an_unsupported_extended_test_alone_opens_no_extended_section() {
    let mut results = core_all_passed();
    results.push(
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .unsupported(&["HTTPRouteCORS"]),
    );
    let report = build(&results, &options(&[HTTP], &[]));
    assert_eq!(report.profiles[0].extended, None);
    assert_eq!(report.profiles[0].summary, "Core tests succeeded.");
}

#[test]
fn a_profile_covering_only_unsupported_tests_still_appears_empty() {
    let results = vec![
        scenario(
            "TLSRouteMixed",
            "tlsroute",
            &["TLSRoute", "TLSRouteModeMixed"],
        )
        .unsupported(&["TLSRouteModeMixed"]),
    ];
    let report = build(&results, &options(&[HTTP, Profile::GatewayTls], &[]));
    assert_eq!(report.profiles.len(), 1, "GATEWAY-HTTP covers nothing");
    let tls = &report.profiles[0];
    assert_eq!(tls.name, "GATEWAY-TLS");
    assert_eq!(tls.core.statistics, stats(0, 0, 0));
    assert_eq!(tls.core.result, RunResult::Success);
    assert_eq!(tls.extended, None);
    assert_eq!(tls.summary, "Core tests succeeded.");
}

#[test]
fn passed_provisional_tests_are_listed_sorted_whether_counted_or_not() {
    let results = vec![
        scenario(
            "HTTPRoute303Redirect",
            "httproute",
            &["HTTPRoute", "HTTPRoute303RedirectStatusCode"],
        )
        .provisional()
        .passed(),
        // No profile counts it (GRPCRouteNamedRouteRule is in no extended set), yet upstream
        // lists it: the provisional check comes before the profile lookup.
        scenario(
            "GRPCRouteNamedRule",
            "grpcroute",
            &["GRPCRoute", "GRPCRouteNamedRouteRule"],
        )
        .provisional()
        .passed(),
        scenario(
            "HTTPRouteNamedRule",
            "httproute",
            &["HTTPRoute", "HTTPRouteNamedRouteRule"],
        )
        .provisional()
        .failed(failure(2, "expect-http", Some("0"), "404")),
        scenario(
            "GatewayOptionalAddressValue",
            "gateway",
            &["GatewayAddressEmpty"],
        )
        .provisional()
        .skipped("--skip-tests"),
    ];
    let report = build(&results, &options(&[HTTP], &[]));
    assert_eq!(
        report.succeeded_provisional_tests,
        ["GRPCRouteNamedRule", "HTTPRoute303Redirect"]
    );
    let extended = report.profiles[0].extended.as_ref().unwrap();
    assert_eq!(extended.status.statistics, stats(1, 1, 1));
    assert_eq!(extended.status.failed_tests, ["HTTPRouteNamedRule"]);
    assert_eq!(
        extended.status.skipped_tests,
        ["GatewayOptionalAddressValue"]
    );
    assert_eq!(
        report.profiles[0].summary,
        "Core tests succeeded. Extended tests failed with 1 test failures."
    );
}

/// `isTestExtended`: a test is extended in a profile as soon as one feature is not core there,
/// even when that feature is also listed as extended (TCPRoute in GATEWAY-TCP stays core).
#[test]
fn core_and_extended_follow_is_test_extended() {
    let results = vec![
        scenario("TCPRouteSimple", "tcproute", &["TCPRoute"]).passed(),
        scenario("TCPRouteRG", "tcproute", &["TCPRoute", "ReferenceGrant"]).passed(),
        scenario(
            "GatewayInfrastructure",
            "gateway",
            &["GatewayInfrastructurePropagation"],
        )
        .passed(),
        scenario(
            "HTTPRouteDisallowedKind",
            "httproute",
            &["HTTPRoute", "TLSRoute"],
        )
        .passed(),
        scenario(
            "TLSRouteMixed",
            "tlsroute",
            &["TLSRoute", "TLSRouteModeMixed"],
        )
        .passed(),
        scenario(
            "HTTPRouteBackendTLS",
            "httproute",
            &["HTTPRoute", "BackendTLSPolicy"],
        )
        .passed(),
        scenario(
            "HTTPRouteK8sGatewayOption",
            "k8sgateway",
            &["HTTPRoute", "K8sGatewayRouteOption"],
        )
        .passed(),
    ];
    let profiles = [HTTP, Profile::GatewayTls, Profile::GatewayTcp];
    let report = build(&results, &options(&profiles, &[]));
    let counts = |name: &str| {
        let p = report.profile(name).unwrap();
        (
            p.core.statistics.passed,
            p.extended
                .as_ref()
                .map_or(0, |e| e.status.statistics.passed),
        )
    };
    // GatewayInfrastructure (extended everywhere) and the BackendTLSPolicy test (extended in
    // GATEWAY-HTTP only); HTTPRouteDisallowedKind and the K8sGateway test count nowhere.
    assert_eq!(counts("GATEWAY-HTTP"), (0, 2));
    assert_eq!(counts("GATEWAY-TLS"), (0, 2));
    assert_eq!(counts("GATEWAY-TCP"), (2, 1));

    // The profile's core features count as supported, and upstream lists TCPRoute among
    // GATEWAY-TCP's extended features too, so it shows up as a supported extended feature.
    let tcp = report.profile("GATEWAY-TCP").unwrap();
    let extended = tcp.extended.as_ref().unwrap();
    assert_eq!(extended.supported_features, ["TCPRoute"]);
    assert!(
        !extended
            .unsupported_features
            .contains(&"TCPRoute".to_owned())
    );
}

#[test]
fn profiles_follow_the_requested_order_once_each() {
    let results = core_all_passed();
    let report = build(
        &results,
        &options(&[Profile::GatewayGrpc, HTTP, Profile::GatewayGrpc], &[]),
    );
    let names: Vec<&str> = report.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["GATEWAY-GRPC", "GATEWAY-HTTP"]);
}

#[test]
fn counting_does_not_depend_on_the_order_results_arrive_in() {
    let mut results = core_all_passed();
    results[0] = scenario("GatewayClassObservedGenerationBump", "gateway", &[]).skipped("x");
    results[5] = scenario("GatewayModifyListeners", "gateway", &[]).skipped("x");
    let forward = build(&results, &options(&[HTTP], &[]));
    results.reverse();
    let backward = build(&results, &options(&[HTTP], &[]));
    assert_eq!(forward, backward);
    assert_eq!(
        forward.profiles[0].core.skipped_tests,
        [
            "GatewayClassObservedGenerationBump",
            "GatewayModifyListeners"
        ]
    );
}

#[test]
fn supported_features_follow_the_selection_flags() {
    let selection = FeatureSelection {
        supported: ["HTTPRouteCORS", "GatewayPort8080"]
            .map(str::to_owned)
            .into(),
        exempt: ["GatewayPort8080".to_owned()].into(),
        all: false,
    };
    let effective = selection.effective(&[HTTP]);
    let expected: BTreeSet<String> = ["Gateway", "HTTPRoute", "HTTPRouteCORS", "ReferenceGrant"]
        .map(str::to_owned)
        .into();
    assert_eq!(effective, expected);

    let all = FeatureSelection {
        all: true,
        exempt: ["HTTPRouteCORS".to_owned()].into(),
        ..FeatureSelection::default()
    };
    let effective = all.effective(&[]);
    assert!(effective.contains("HTTPRouteRetry") && effective.contains("Mesh"));
    assert!(!effective.contains("HTTPRouteCORS"));

    let mut opts = options(&[HTTP], &[]);
    opts.features = all;
    let results = vec![
        scenario(
            "HTTPRouteRetry",
            "httproute",
            &["HTTPRoute", "HTTPRouteRetry"],
        )
        .passed(),
    ];
    let report = build(&results, &opts);
    let extended = report.profiles[0].extended.as_ref().unwrap();
    assert_eq!(extended.unsupported_features, ["HTTPRouteCORS"]);
    assert_eq!(extended.supported_features.len(), 37);
}

/// The layout pinned against an expected report written by hand from upstream's format: keys
/// sorted, sequences at their key's indentation, the date double-quoted, a leading `@` quoted.
fn shape_results() -> Vec<ScenarioResult> {
    vec![
        scenario("HTTPRouteWeight", "httproute", &["HTTPRoute"]).passed(),
        scenario("GatewayObservedGenerationBump", "gateway", &[]).passed(),
        scenario("HTTPRouteHeaderMatching", "httproute", &["HTTPRoute"]).failed(failure(
            3,
            "expect-http",
            Some("exact"),
            "expected status 200, got 404",
        )),
        scenario("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"])
            .skipped("--skip-tests"),
        scenario(
            "HTTPRouteQueryParamMatching",
            "httproute",
            &["HTTPRoute", "HTTPRouteQueryParamMatching"],
        )
        .passed(),
        scenario(
            "HTTPRoute303Redirect",
            "httproute",
            &["HTTPRoute", "HTTPRoute303RedirectStatusCode"],
        )
        .provisional()
        .passed(),
        scenario(
            "GatewayInfrastructure",
            "gateway",
            &["GatewayInfrastructurePropagation"],
        )
        .provisional()
        .passed(),
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .unsupported(&["HTTPRouteCORS"]),
        scenario("GRPCExactMethodMatching", "grpcroute", &["GRPCRoute"]).passed(),
        scenario(
            "GRPCRouteNamedRule",
            "grpcroute",
            &["GRPCRoute", "GRPCRouteNamedRouteRule"],
        )
        .provisional()
        .passed(),
    ]
}

fn shape_report() -> ConformanceReport {
    let mut opts = options(
        &[HTTP, Profile::GatewayGrpc],
        &[
            "HTTPRouteQueryParamMatching",
            "HTTPRoute303RedirectStatusCode",
            "GatewayInfrastructurePropagation",
            "GatewayPort8080",
        ],
    );
    opts.channel = ApiChannel::Experimental;
    opts.date = date(2);
    build(&shape_results(), &opts)
}

#[test]
fn yaml_matches_the_expected_report_byte_for_byte() {
    let yaml = shape_report().to_yaml().unwrap();
    let expected = include_str!("report_support/expected-report.yaml");
    if yaml != expected {
        for (i, (got, want)) in yaml.lines().zip(expected.lines()).enumerate() {
            assert_eq!(got, want, "first difference at line {}", i + 1);
        }
        assert_eq!(yaml, expected);
    }
}

#[test]
fn yaml_reads_back_into_the_same_report() {
    let report = shape_report();
    let back = ConformanceReport::from_yaml(&report.to_yaml().unwrap()).unwrap();
    assert_eq!(back, report);
}

#[test]
fn an_empty_run_writes_null_profiles_as_upstream_does() {
    let report = build(&[], &options(&[HTTP], &[]));
    let yaml = report.to_yaml().unwrap();
    assert!(yaml.contains("\nprofiles: null\n"), "{yaml}");
    assert!(!yaml.contains("succeededProvisionalTests"), "{yaml}");
    assert_eq!(ConformanceReport::from_yaml(&yaml).unwrap(), report);
}

#[test]
fn dates_use_go_rfc3339() {
    let mut opts = options(&[HTTP], &[]);
    assert_eq!(build(&[], &opts).date, "2026-07-20T20:02:46Z");
    opts.date = date(-4);
    assert_eq!(build(&[], &opts).date, "2026-07-20T16:02:46-04:00");
}

#[test]
fn implementation_fields_are_all_required_for_a_report_file() {
    let mut implementation = report_support::implementation();
    assert!(implementation.validate().is_ok());
    implementation.contact.clear();
    match implementation.validate() {
        Err(ReportError::MissingImplementationField { field }) => assert_eq!(field, "contact"),
        other => panic!("expected a missing contact, got {other:?}"),
    }
    implementation = report_support::implementation();
    implementation.url.clear();
    let message = implementation.validate().unwrap_err().to_string();
    assert!(message.contains("url"), "{message}");
}

#[test]
fn malformed_report_text_is_an_error_not_a_panic() {
    let error = ConformanceReport::from_yaml("apiVersion: [unclosed").unwrap_err();
    assert!(matches!(error, ReportError::Decode(_)), "{error}");
}

/// The suite's own scenario files, as the runner would report them: their declared features make
/// every upstream GATEWAY-HTTP core test count as core.
#[test]
fn the_suites_scenarios_count_as_upstreams_core_tests() {
    use gatesim_conformance::scenario::{LoadOptions, default_scenarios_dir, load_all};

    let scenarios = load_all(&[default_scenarios_dir()], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("the suite loads: {e}"));
    let results: Vec<ScenarioResult> = scenarios
        .iter()
        .map(|s| ScenarioResult {
            name: s.name.clone(),
            description: s.description.clone(),
            path: s.path.clone(),
            features: s.features.iter().map(|f| f.name.to_owned()).collect(),
            provisional: s.provisional,
            outcome: gatesim_conformance::outcome::Outcome::Skipped {
                reason: "listing".to_owned(),
            },
            duration: std::time::Duration::ZERO,
        })
        .collect();
    let report = build(&results, &options(&[HTTP], &[]));
    let core = &report.profile("GATEWAY-HTTP").unwrap().core;
    for (name, _, _) in report_support::GATEWAY_HTTP_CORE {
        assert!(
            core.skipped_tests.iter().any(|t| t == name),
            "{name} is not counted as GATEWAY-HTTP core"
        );
    }
}

#[test]
fn k8sgateway_is_a_profile_beside_upstreams_in_the_same_schema() {
    let results = vec![
        scenario(
            "RouteOptionRetries",
            "k8sgateway",
            &["HTTPRoute", "K8sGatewayRouteOption"],
        )
        .passed(),
        scenario(
            "RouteOptionMirror",
            "k8sgateway",
            &[
                "HTTPRoute",
                "HTTPRouteRequestMirror",
                "K8sGatewayRouteOption",
            ],
        )
        .failed(failure(1, "expect-http", None, "no mirror")),
        scenario("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"]).passed(),
    ];
    let report = build(
        &results,
        &options(&[HTTP, Profile::K8sGateway], &["HTTPRouteRequestMirror"]),
    );
    let names: Vec<&str> = report.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["GATEWAY-HTTP", "K8SGATEWAY"]);
    let k = report.profile("K8SGATEWAY").unwrap();
    assert_eq!(k.core.statistics.passed, 1);
    let extended = k
        .extended
        .as_ref()
        .expect("the mirror scenario is extended");
    assert_eq!(extended.status.failed_tests, ["RouteOptionMirror"]);
    assert!(
        extended
            .supported_features
            .contains(&"HTTPRouteRequestMirror".to_owned())
    );
    assert_eq!(
        k.summary,
        "Core tests succeeded. Extended tests failed with 1 test failures."
    );
    // Written and read back like any upstream report.
    let yaml = report.to_yaml().unwrap();
    assert!(yaml.contains("  name: K8SGATEWAY\n"), "{yaml}");
    assert_eq!(ConformanceReport::from_yaml(&yaml).unwrap(), report);
}
