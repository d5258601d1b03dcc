//! The format's additions live through a real Envoy on the sim target: one scenario uses every
//! addition that Gateway API alone can already produce and must pass; each of a set of
//! deliberately wrong scenarios must fail, and its failure must say what was expected against
//! what was observed.
//!
//! Each test starts its own environment on its own loopback network (see `tests/runner.rs`).

use std::path::PathBuf;
use std::time::Duration;

use gatesim_conformance::outcome::{Outcome, ScenarioResult};
use gatesim_conformance::run::{Environment, Settings};
use gatesim_conformance::scenario::{LoadOptions, ObjectRef, Scenario};
use gatesim_conformance::target::{ClusterOptions, ClusterTarget, Target};

mod sim_support;

async fn environment(network: u8) -> Option<Environment> {
    let settings = sim_support::settings();
    sim_support::environment_with("harness additions test", network, None, settings).await
}

fn data(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/additions")
        .join(name);
    Scenario::load_with(&path, &LoadOptions::default()).expect("test scenario loads")
}

fn failure_text(result: &ScenarioResult) -> String {
    match &result.outcome {
        Outcome::Failed(f) => f.message.clone(),
        other => panic!("{} should have failed, got {other:?}", result.name),
    }
}

/// Plays Envoy's part for the access log: once the scenario's sink object names its file (with
/// `${SCENARIO_DIR}` replaced), writes log lines there until stopped.
fn write_access_log(env: &Environment) -> tokio::task::JoinHandle<()> {
    let Target::Sim(sim) = env.target() else {
        panic!("a sim environment")
    };
    let driver = std::sync::Arc::clone(sim.driver());
    let expected_dir = env
        .target()
        .scenario_dir("HarnessAdditions")
        .expect("sim has scenario directories");
    tokio::spawn(async move {
        let sink = ObjectRef {
            api_version: Some("v1".to_owned()),
            kind: "ConfigMap".to_owned(),
            namespace: Some("gateway-conformance-infra".to_owned()),
            name: "access-log-sink".to_owned(),
        };
        loop {
            if let Ok(Some(object)) = driver.get(&sink).await
                && let Some(path) = object.pointer("/data/path").and_then(|p| p.as_str())
            {
                let path = PathBuf::from(path);
                assert_eq!(
                    path,
                    expected_dir.join("access.log"),
                    "the placeholder is replaced by the scenario directory"
                );
                let lines = "[2026-12-05T00:00:00Z] \"GET /written HTTP/1.1\" 200\n\
                             {\"method\":\"GET\",\"path\":\"/json\",\"status\":200}\n";
                let _ = std::fs::write(&path, lines);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_addition_passes_through_envoy() {
    let Some(env) = environment(66).await else {
        return;
    };
    let writer = write_access_log(&env);
    let result = env.run(&data("Additions.yaml")).await;
    writer.abort();
    assert!(
        !writer.await.unwrap_err().is_panic(),
        "the access-log writer saw the wrong path"
    );
    assert_eq!(result.outcome, Outcome::Passed, "{:?}", result.outcome);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_expectations_fail_with_expected_against_observed() {
    let Some(env) = environment(67).await else {
        return;
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "TooSlow.yaml",
            &["latency to the response head: expected at most 100ms, got 3"],
        ),
        (
            "WrongAttempt.yaml",
            &["response header x-echo-attempt: expected \"2\", got \"1\""],
        ),
        (
            "WrongBody.yaml",
            &["request header content-length: expected \"20001\", got \"20000\""],
        ),
        (
            "WrongUpgrade.yaml",
            &["status: expected one of [101], got 200"],
        ),
        (
            "WrongBurst.yaml",
            &["burst: statuses in order: expected [200, 200, 429], got [429, 429, 429]"],
        ),
        (
            "WrongBackendNone.yaml",
            &[
                "backend: expected a reply from the gateway itself (backend: none), got an echo \
                 reply from pod \"infra-backend-v1-",
            ],
        ),
        (
            "WrongStatuses.yaml",
            &["status 200 got 0.", "expected 0.900 ±0.05", "  500 "],
        ),
        (
            "WrongAccessLog.yaml",
            &[
                "expected a line containing \"never written\" within 1s",
                "the file is not there",
            ],
        ),
    ];
    for (file, parts) in cases {
        let result = env.run(&data(&format!("wrong/{file}"))).await;
        let text = failure_text(&result);
        for part in *parts {
            assert!(text.contains(part), "{file}: expected {part:?} in:\n{text}");
        }
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_that_read_proxy_files_are_skipped_where_proxies_run_elsewhere() {
    // A cluster target (here against simkube, with no controller at all): its proxies are
    // pods, so a scenario that needs `${SCENARIO_DIR}` is skipped, not run and not passed.
    let simkube = gatesim_simkube::SimKube::start(gatesim_simkube::Config::default())
        .await
        .expect("simkube starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    simkube.write_kubeconfig(&kubeconfig).unwrap();
    let client = kube::Client::try_from(kube::Config::new(simkube.url().parse().unwrap())).unwrap();
    let class: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "elsewhere"},
        "spec": {"controllerName": "example.com/elsewhere"},
    }))
    .unwrap();
    let resource = kube::api::ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "GatewayClass".into(),
        plural: "gatewayclasses".into(),
    };
    kube::Api::<kube::api::DynamicObject>::all_with(client, &resource)
        .create(&Default::default(), &class)
        .await
        .expect("GatewayClass created");
    let target = ClusterTarget::connect(ClusterOptions {
        kubeconfig: Some(kubeconfig),
        gateway_class: "elsewhere".to_owned(),
        echo_image: "unused".to_owned(),
        ready_timeout: Duration::from_secs(1),
    })
    .await
    .expect("the cluster target connects");
    let env = Environment::new(Target::Cluster(Box::new(target)), Settings::default());
    let result = env.run(&data("Additions.yaml")).await;
    match &result.outcome {
        Outcome::Skipped { reason } => assert!(
            reason.contains("${SCENARIO_DIR}") && reason.contains("the cluster target's proxies"),
            "{reason}"
        ),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(!data("wrong/TooSlow.yaml").uses_scenario_dir());
    env.shutdown().await;
    let _ = simkube.shutdown().await;
}
