//! Terminal output, pinned as text with colour off, and the same text under the colour codes.

mod report_support;

use std::time::Duration;

use gatesim_conformance::outcome::ScenarioResult;
use gatesim_conformance::report::build;
use gatesim_conformance::report::terminal::{self, LINE_WIDTH, Style};
use gatesim_conformance::scenario::Profile;
use report_support::{core_all_passed, failure, options, scenario};

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            assert_eq!(chars.next(), Some('['), "only CSI sequences are used");
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn run() -> Vec<ScenarioResult> {
    let mut broken = failure(
        3,
        "expect-http",
        Some("exact header match"),
        "expected status 200\nobserved status 404",
    );
    broken.related_status = Some(
        "HTTPRoute gateway-conformance-infra/header-matching:\n  parents:\n  - conditions: []\n"
            .to_owned(),
    );
    vec![
        scenario("HTTPRouteHeaderMatching", "httproute", &["HTTPRoute"])
            .took(840)
            .failed(broken),
        scenario("HTTPRouteWeight", "httproute", &["HTTPRoute"])
            .took(12_345)
            .passed(),
        scenario("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"])
            .skipped("--skip-tests"),
        scenario(
            "HTTPRouteQueryParamMatching",
            "httproute",
            &["HTTPRoute", "HTTPRouteQueryParamMatching"],
        )
        .took(310)
        .passed(),
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .unsupported(&["HTTPRouteCORS"]),
    ]
}

#[test]
fn progress_lines_align_the_right_column() {
    let lines: Vec<String> = run()
        .iter()
        .map(|r| terminal::progress_line(r, Style::PLAIN))
        .collect();
    assert_eq!(
        lines,
        [
            "FAIL  HTTPRouteHeaderMatching .................................... 0.84s",
            "PASS  HTTPRouteWeight ........................................... 12.35s",
            "SKIP  HTTPRouteSimpleSameNamespace ............... skipped: --skip-tests",
            "PASS  HTTPRouteQueryParamMatching ................................ 0.31s",
            "SKIP  HTTPRouteCORS ......................... unsupported: HTTPRouteCORS",
        ]
    );
    assert!(lines.iter().all(|l| l.chars().count() == LINE_WIDTH));
}

#[test]
fn a_name_too_long_for_the_line_keeps_a_short_leader() {
    let long = "X".repeat(80);
    let line = terminal::progress_line(&scenario(&long, "httproute", &[]).passed(), Style::PLAIN);
    assert_eq!(line, format!("PASS  {long} ... 0.50s"));
}

#[test]
fn colour_wraps_the_same_text() {
    for result in run() {
        let coloured = terminal::progress_line(&result, Style::COLOR);
        assert!(coloured.contains('\u{1b}'));
        assert_eq!(
            strip_ansi(&coloured),
            terminal::progress_line(&result, Style::PLAIN)
        );
    }
    let results = run();
    let report = build(
        &results,
        &options(&[Profile::GatewayHttp], &["HTTPRouteQueryParamMatching"]),
    );
    let wall = Duration::from_millis(14_000);
    assert_eq!(
        strip_ansi(&terminal::summary(
            &report,
            &results,
            &[],
            wall,
            Style::COLOR
        )),
        terminal::summary(&report, &results, &[], wall, Style::PLAIN)
    );
    assert_eq!(
        strip_ansi(&terminal::failures(&results, Style::COLOR)),
        terminal::failures(&results, Style::PLAIN)
    );
}

#[test]
fn summary_table_per_profile_and_totals() {
    let results = run();
    let report = build(
        &results,
        &options(
            &[Profile::GatewayHttp, Profile::GatewayGrpc],
            &["HTTPRouteQueryParamMatching"],
        ),
    );
    let text = terminal::summary(
        &report,
        &results,
        &[],
        Duration::from_millis(75_300),
        Style::PLAIN,
    );
    assert_eq!(
        text,
        concat!(
            "Profile       Level     Passed  Skipped  Failed  Upstream  Result\n",
            "GATEWAY-HTTP  core           1        1       1   3 of 37  failure\n",
            "              extended       1        0       0   2 of 57  success\n",
            "5 scenarios in 1m15.3s: 2 passed, 1 failed, 1 skipped, 1 unsupported\n",
        )
    );
}

#[test]
fn summary_of_the_37_core_tests_and_of_profiles_without_their_route_kind() {
    let results = core_all_passed();
    let report = build(
        &results,
        &options(&[Profile::GatewayHttp, Profile::GatewayGrpc], &[]),
    );
    // GATEWAY-GRPC counts the Gateway-only scenarios as core, but none of them is about
    // GRPCRoute: that is no success. MESH-HTTP counts nothing at all.
    let profiles = [
        Profile::GatewayHttp,
        Profile::GatewayGrpc,
        Profile::MeshHttp,
    ];
    let text = terminal::summary(
        &report,
        &results,
        &profiles,
        Duration::from_secs(9),
        Style::PLAIN,
    );
    assert_eq!(
        text,
        concat!(
            "Profile       Level     Passed  Skipped  Failed  Upstream  Result\n",
            "GATEWAY-HTTP  core          37        0       0  37 of 37  success\n",
            "GATEWAY-GRPC  core          11        0       0  11 of 15  untested: no GRPCRoute scenario\n",
            "MESH-HTTP: 0 of 7 core and 0 of 7 extended upstream tests in this suite\n",
            "37 scenarios in 9.00s: 37 passed, 0 failed, 0 skipped, 0 unsupported\n",
        )
    );
}

#[test]
fn summary_without_profiles_says_so() {
    let results = vec![
        scenario(
            "K8sGatewayRouteOption",
            "k8sgateway",
            &["K8sGatewayRouteOption"],
        )
        .passed(),
    ];
    let report = build(&results, &options(&[Profile::GatewayHttp], &[]));
    assert_eq!(
        terminal::summary(
            &report,
            &results,
            &[],
            Duration::from_millis(500),
            Style::PLAIN
        ),
        "No conformance profile counted any of these scenarios.\n1 scenario in 0.50s: 1 passed, 0 failed, 0 skipped, 0 unsupported\n"
    );
}

#[test]
fn failure_blocks_tell_the_whole_story() {
    let mut results = run();
    results.push(
        scenario("GatewayModifyListeners", "gateway", &[]).failed(failure(
            0,
            "apply",
            None,
            "the API server refused the object",
        )),
    );
    assert_eq!(
        terminal::failures(&results, Style::PLAIN),
        concat!(
            "FAIL  HTTPRouteHeaderMatching  scenarios/httproute/HTTPRouteHeaderMatching.yaml\n",
            "    step: steps[3].expect-http\n",
            "    case: exact header match\n",
            "    expected status 200\n",
            "    observed status 404\n",
            "    related status:\n",
            "      HTTPRoute gateway-conformance-infra/header-matching:\n",
            "        parents:\n",
            "        - conditions: []\n",
            "\n",
            "FAIL  GatewayModifyListeners  scenarios/gateway/GatewayModifyListeners.yaml\n",
            "    step: steps[0].apply\n",
            "    the API server refused the object\n",
        )
    );
    assert_eq!(terminal::failures(&core_all_passed(), Style::PLAIN), "");
}

#[test]
fn k8sgateway_gets_a_row_per_kind_beside_its_profile_row() {
    let results = vec![
        scenario(
            "RouteOptionRetries",
            "k8sgateway",
            &["HTTPRoute", "K8sGatewayRouteOption"],
        )
        .passed(),
        scenario(
            "RouteOptionFaults",
            "k8sgateway",
            &["HTTPRoute", "K8sGatewayRouteOption"],
        )
        .failed(failure(2, "expect-http", None, "wrong")),
        scenario(
            "DelegatedRouteOption",
            "k8sgateway",
            &[
                "HTTPRoute",
                "K8sGatewayRouteOption",
                "K8sGatewayRouteDelegation",
            ],
        )
        .skipped("listed in --skip-tests"),
        scenario(
            "HealthCheckPath",
            "k8sgateway",
            &["HTTPRoute", "K8sGatewayHttpListenerOption"],
        )
        .unsupported(&["K8sGatewayHttpListenerOption"]),
        scenario("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"]).passed(),
    ];
    let report = build(
        &results,
        &options(&[Profile::GatewayHttp, Profile::K8sGateway], &[]),
    );
    let text = terminal::summary(&report, &results, &[], Duration::from_secs(2), Style::PLAIN);
    assert_eq!(
        text,
        concat!(
            "Profile       Level     Passed  Skipped  Failed  Upstream  Result\n",
            "GATEWAY-HTTP  core           1        0       0   1 of 37  success\n",
            "K8SGATEWAY    core           1        1       1         -  failure\n",
            "K8SGATEWAY kind               Passed  Skipped  Failed  Unsupported\n",
            "K8sGatewayRouteOption              1        1       1            0\n",
            "K8sGatewayVirtualHostOption        0        0       0            0\n",
            "K8sGatewayListenerOption           0        0       0            0\n",
            "K8sGatewayHttpListenerOption       0        0       0            1\n",
            "K8sGatewayDirectResponse           0        0       0            0\n",
            "K8sGatewayUpstream                 0        0       0            0\n",
            "K8sGatewayGatewayParameters        0        0       0            0\n",
            "K8sGatewaySettings                 0        0       0            0\n",
            "K8sGatewayRouteDelegation          0        1       0            0\n",
            "5 scenarios in 2.00s: 2 passed, 1 failed, 1 skipped, 1 unsupported\n",
        )
    );
    // Without the profile in the report, no per-kind table.
    let upstream_only = build(&results, &options(&[Profile::GatewayHttp], &[]));
    let text = terminal::summary(
        &upstream_only,
        &results,
        &[],
        Duration::from_secs(2),
        Style::PLAIN,
    );
    assert!(!text.contains("K8SGATEWAY kind"), "{text}");
}
