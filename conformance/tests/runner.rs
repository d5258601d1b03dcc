//! The runner end to end on the sim target: failures read as promised (step, case, expected
//! against observed, related status), and runs converge while the API server misbehaves.
//!
//! Each test starts its own environment on its own loopback network, so they can run side by
//! side with each other and with the `scenarios` trials.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatesim_conformance::outcome::{Failure, Outcome, ScenarioResult};
use gatesim_conformance::run::{Environment, Settings};
use gatesim_conformance::scenario::{LoadOptions, Scenario, default_scenarios_dir};
use gatesim_conformance::target::Target;
use gatesim_simkube::{ErrorFault, Matcher, Verb};
use sim_support::settings;

mod sim_support;

async fn environment(network: u8) -> Option<Environment> {
    environment_with(network, None, settings()).await
}

async fn environment_with(
    network: u8,
    port_offset: Option<u16>,
    settings: Settings,
) -> Option<Environment> {
    sim_support::environment_with("runner end-to-end test", network, port_offset, settings).await
}

fn data(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/runner")
        .join(name);
    Scenario::load_with(&path, &LoadOptions::default()).expect("test scenario loads")
}

fn suite(relative: &str) -> Scenario {
    Scenario::load_with(
        default_scenarios_dir().join(relative),
        &LoadOptions::default(),
    )
    .expect("suite scenario loads")
}

fn failure(result: &ScenarioResult) -> &Failure {
    match &result.outcome {
        Outcome::Failed(f) => f,
        other => panic!("{} should have failed, got {other:?}", result.name),
    }
}

fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "expected {part:?} in:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_http_expectation_fails_with_expected_against_observed() {
    let Some(env) = environment(61).await else {
        return;
    };
    let result = env.run(&data("WrongBackend.yaml")).await;
    let f = failure(&result);
    assert_eq!(f.step, Some((1, "expect-http".to_owned())));
    assert_eq!(f.case.as_deref(), Some("everything goes to v2"));
    let m = &f.message;
    assert_contains(
        m,
        "backend: expected a pod of \"infra-backend-v2\", got pod \"infra-backend-v1-",
    );
    assert_contains(m, "request: GET http://127.61.10.");
    assert_contains(m, "/wrong");
    assert_contains(m, "echo reply: pod \"infra-backend-v1-");
    assert_contains(m, "namespace \"gateway-conformance-infra\"");
    assert_contains(m, "WrongBackend.yaml:27:3");
    let related = f.related_status.as_deref().expect("related status");
    assert_contains(
        related,
        "HTTPRoute gateway-conformance-infra/wrong-expectation",
    );
    assert_contains(related, "Gateway gateway-conformance-infra/same-namespace");
    // The scenario's own objects are gone afterwards.
    let route = env
        .target()
        .driver()
        .get(&gatesim_conformance::scenario::ObjectRef {
            api_version: None,
            kind: "HTTPRoute".to_owned(),
            namespace: Some("gateway-conformance-infra".to_owned()),
            name: "wrong-expectation".to_owned(),
        })
        .await
        .unwrap();
    assert!(route.is_none(), "the route was left behind");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_status_expectation_shows_the_status_read() {
    let Some(env) = environment(62).await else {
        return;
    };
    let result = env.run(&data("WrongStatus.yaml")).await;
    let f = failure(&result);
    assert_eq!(f.step, Some((0, "expect-status".to_owned())));
    assert_eq!(
        f.case.as_deref(),
        Some("HTTPRoute gateway-conformance-infra/wrong-status")
    );
    assert_contains(
        &f.message,
        "HTTPRoute gateway-conformance-infra/wrong-status did not reach the expected status within 1s:",
    );
    assert_contains(
        &f.message,
        "parents entry Gateway gateway-conformance-infra/all-namespaces: condition Accepted: \
         expected status False, reason NotAllowedByListeners, got status True, reason Accepted",
    );
    let related = f.related_status.as_deref().expect("related status");
    assert_contains(related, "controllerName: gatesim.dev/reference-controller");
    assert_contains(related, "reason: Accepted");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_converge_while_the_api_server_drops_watches_and_fails_requests() {
    let Some(env) = environment(63).await else {
        return;
    };
    let faults = match env.target() {
        Target::Sim(sim) => sim.faults().expect("simkube runs"),
        Target::Cluster(_) | Target::Local(_) => unreachable!("a sim environment"),
    };
    let env = Arc::new(env);
    // Apply the base while nothing misbehaves, so the faults hit the scenarios themselves.
    let first = suite("httproute/HTTPRouteHeaderMatching.yaml");
    env.ensure_base(first.base.as_ref().unwrap())
        .await
        .expect("base fixture applies");

    let dropping = {
        let faults = faults.clone();
        tokio::spawn(async move {
            loop {
                faults.drop_watches();
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    // Writes fail now and then too: the controller's status writes and the harness's own.
    for (verb, count) in [(Verb::Patch, 3), (Verb::Get, 3)] {
        faults
            .inject_error(ErrorFault {
                matcher: Matcher::verb(verb),
                code: 500,
                count,
            })
            .unwrap();
    }
    let before = faults.stats();
    for relative in [
        "httproute/HTTPRouteHeaderMatching.yaml",
        "httproute/HTTPRouteCrossNamespace.yaml",
    ] {
        let scenario = if relative.ends_with("HeaderMatching.yaml") {
            first.clone()
        } else {
            suite(relative)
        };
        let result = env.run(&scenario).await;
        assert_eq!(
            result.outcome,
            Outcome::Passed,
            "{} under faults: {:?}",
            result.name,
            result.outcome
        );
    }
    dropping.abort();
    let after = faults.stats();
    assert!(
        after.watches_dropped > before.watches_dropped,
        "watches were dropped during the run ({} -> {})",
        before.watches_dropped,
        after.watches_dropped
    );
    assert!(after.injected_errors >= 6, "{after:?}");
    match Arc::try_unwrap(env) {
        Ok(env) => env.shutdown().await,
        Err(_) => panic!("environment still shared"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shifted_listener_ports_keep_expectations_as_written() {
    // What a run without the privilege to bind ports below 1024 does: every listener is served
    // 10000 ports higher, probes follow, and Host headers and redirects still read as port 80.
    let Some(env) = environment_with(64, Some(10_000), settings()).await else {
        return;
    };
    assert_eq!(env.target().port_offset(), 10_000);
    let gateway = gatesim_conformance::scenario::GatewayRef {
        namespace: "gateway-conformance-infra".to_owned(),
        name: "same-namespace".to_owned(),
    };
    for relative in [
        "httproute/HTTPRouteRedirectHostAndStatus.yaml",
        "httproute/HTTPRouteSimpleSameNamespace.yaml",
    ] {
        let result = env.run(&suite(relative)).await;
        assert_eq!(result.outcome, Outcome::Passed, "{}", result.name);
    }
    let endpoint = env
        .target()
        .gateway_endpoint(&gateway, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(endpoint.port(), 10_080);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_ack_barrier_the_first_probes_already_succeed() {
    // A failed probe waits `poll_interval` before the next, here far longer than any bound:
    // the scenarios can only pass if no probe after the ACK barrier ever fails, i.e. the
    // barrier alone, not retrying, brings them to a configured Envoy. ProbeRightAway probes
    // right after its writes, with no status step that could stand in for the barrier.
    let patient = Settings {
        poll_interval: Duration::from_secs(3600),
        ..settings()
    };
    let Some(env) = environment_with(65, None, patient).await else {
        return;
    };
    for scenario in [
        data("ProbeRightAway.yaml"),
        suite("httproute/HTTPRouteHeaderMatching.yaml"),
        suite("httproute/HTTPRouteExactPathMatching.yaml"),
    ] {
        let result = env.run(&scenario).await;
        assert_eq!(
            result.outcome,
            Outcome::Passed,
            "{} needed a retry after the barrier",
            result.name
        );
        assert!(result.duration < Duration::from_secs(29), "{result:?}");
    }
    env.shutdown().await;
}

/// A scenario of 250 routes: the applies report progress through the settings' sink, and
/// the status step (served by one LIST per poll for so many routes of one namespace) sees
/// every route's status, each under its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_scenario_reports_progress_and_lists_statuses_by_name() {
    const ROUTES: usize = 250;
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    let with_progress = Settings {
        progress: Some(gatesim_conformance::run::Progress(Arc::new(
            move |l: &str| sink.lock().unwrap().push(l.to_owned()),
        ))),
        ..settings()
    };
    let Some(env) = environment_with(68, None, with_progress).await else {
        return;
    };
    let mut yaml = String::from(
        "name: ManyRoutes\ndescription: many routes\nfeatures: [Gateway, HTTPRoute]\n\
         base: gateway-conformance\nresources:\n",
    );
    for i in 0..ROUTES {
        yaml.push_str(&format!(
            "- apiVersion: gateway.networking.k8s.io/v1\n  kind: HTTPRoute\n  \
             metadata: {{name: many-{i}, namespace: gateway-conformance-infra}}\n  spec:\n    \
             parentRefs: [{{name: same-namespace}}]\n    rules:\n    - matches: \
             [{{path: {{type: PathPrefix, value: /many-{i}/}}}}]\n      \
             backendRefs: [{{name: infra-backend-v{}, port: 8080}}]\n",
            i % 2 + 1
        ));
    }
    yaml.push_str("steps:\n- expect-status:\n");
    for i in 0..ROUTES {
        yaml.push_str(&format!(
            "  - kind: HTTPRoute\n    namespace: gateway-conformance-infra\n    name: many-{i}\n    \
             parents:\n    - parentRef: {{name: same-namespace}}\n      conditions:\n      \
             - {{type: Accepted, status: \"True\"}}\n      - {{type: ResolvedRefs, status: \"True\"}}\n"
        ));
    }
    yaml.push_str(
        "- expect-http:\n    gateway: gateway-conformance-infra/same-namespace\n    cases:\n    \
         - request: {path: /many-0/x}\n      backend: infra-backend-v1\n    \
         - request: {path: /many-249/x}\n      backend: infra-backend-v2\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many-routes.yaml");
    std::fs::write(&path, yaml).unwrap();
    let scenario = Scenario::load_with(&path, &LoadOptions::default()).expect("scenario loads");
    let result = env.run(&scenario).await;
    assert!(
        matches!(result.outcome, Outcome::Passed),
        "{:?}",
        result.outcome
    );
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("ManyRoutes: applied all 250 objects in ")),
        "{lines:?}"
    );
    env.shutdown().await;
}
