//! Weighted sampling through a real TCP splitter in front of echo replicas.

mod probe_support;

use std::collections::BTreeMap;

use gatesim_conformance::echo::EchoHandle;
use gatesim_conformance::probe::{
    Expectation, ProbeRequest, SampleFailure, WeightSampling, sample_weights,
};
use probe_support::{NAMESPACE, Splitter, replica_ip, start_replica};

struct Fleet {
    _replicas: Vec<EchoHandle>,
    splitter: Splitter,
}

/// infra-backend-v1 (two replicas) and infra-backend-v2 behind a 70/30 splitter, plus
/// an idle infra-backend-v3 that gets nothing.
async fn fleet(base: u8) -> Fleet {
    let v1a = start_replica("infra-backend-v1", base, None).await;
    let v1b = start_replica("infra-backend-v1", base + 1, None).await;
    let v2 = start_replica("infra-backend-v2", base + 2, None).await;
    let v3 = start_replica("infra-backend-v3", base + 3, None).await;
    let splitter = Splitter::weighted(
        replica_ip(base + 4),
        vec![
            (v1a.http_addrs()[0], 4),
            (v1b.http_addrs()[0], 3),
            (v2.http_addrs()[0], 3),
            (v3.http_addrs()[0], 0),
        ],
    )
    .await;
    Fleet {
        _replicas: vec![v1a, v1b, v2, v3],
        splitter,
    }
}

fn distribution(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn check() -> Expectation {
    Expectation {
        namespace: Some(NAMESPACE.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_weights_pass_on_the_first_batch() {
    let fleet = fleet(60).await;
    let req = ProbeRequest::new(fleet.splitter.addr, "/");
    let spec = WeightSampling::new(distribution(&[
        ("infra-backend-v1", 0.7),
        ("infra-backend-v2", 0.3),
        ("infra-backend-v3", 0.0),
    ]));
    let started = std::time::Instant::now();
    let report = sample_weights(&req, &check(), &spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    assert_eq!(report.attempt, 1);
    assert_eq!(report.counts["infra-backend-v1"], 350, "{report}");
    assert_eq!(report.counts["infra-backend-v2"], 150, "{report}");
    assert!(!report.counts.contains_key("infra-backend-v3"), "{report}");
    assert_eq!(
        fleet
            .splitter
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        500
    );
    println!(
        "weighted sampling: 500 requests at concurrency 10 through the splitter in {elapsed:?} ({:.0} requests/s)",
        500.0 / elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_weights_fail_after_every_batch_with_a_readable_report() {
    let fleet = fleet(70).await;
    let req = ProbeRequest::new(fleet.splitter.addr, "/");
    let mut spec = WeightSampling::new(distribution(&[
        ("infra-backend-v1", 0.5),
        ("infra-backend-v2", 0.5),
        ("infra-backend-v3", 0.0),
    ]));
    spec.samples = 100;
    spec.attempts = 3;
    let err = sample_weights(&req, &check(), &spec)
        .await
        .expect_err("70/30 is not 50/50");
    assert_eq!(err.attempts, 3);
    let SampleFailure::Distribution(report) = &err.last else {
        panic!("expected a distribution failure, got {err}");
    };
    assert_eq!(report.attempt, 3);
    let text = err.to_string();
    assert!(
        text.starts_with(
            "weighted distribution not met after 3 batches; last batch: batch 3: 100 samples"
        ),
        "{text}"
    );
    assert!(
        text.contains("infra-backend-v1                    0.500    0.700     70"),
        "{text}"
    );
    assert!(
        text.contains("! backend \"infra-backend-v1\" got 0.700, expected 0.500 ±0.05"),
        "{text}"
    );
    assert!(
        text.contains("! backend \"infra-backend-v2\" got 0.300, expected 0.500 ±0.05"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_from_unlisted_backends_or_bad_replies_fail() {
    let fleet = fleet(80).await;
    let req = ProbeRequest::new(fleet.splitter.addr, "/");
    let mut spec = WeightSampling::new(distribution(&[("infra-backend-v1", 1.0)]));
    spec.samples = 50;
    spec.attempts = 2;
    let err = sample_weights(&req, &check(), &spec)
        .await
        .expect_err("v2 is not listed");
    match &err.last {
        SampleFailure::UnexpectedBackend { pod, backend } => {
            assert_eq!(backend, "infra-backend-v2");
            assert!(pod.starts_with("infra-backend-v2-7d9c8-"), "{pod}");
        }
        other => panic!("expected an unexpected backend, got {other}"),
    }
    assert!(
        err.to_string().contains("which is not in the distribution"),
        "{err}"
    );

    // Every reply is also compared with the case's expectation.
    let wrong_namespace = Expectation {
        namespace: Some("elsewhere".into()),
        ..Default::default()
    };
    let spec = WeightSampling {
        attempts: 1,
        ..WeightSampling::new(distribution(&[
            ("infra-backend-v1", 0.7),
            ("infra-backend-v2", 0.3),
        ]))
    };
    let err = sample_weights(&req, &wrong_namespace, &spec)
        .await
        .expect_err("namespace differs");
    assert!(matches!(err.last, SampleFailure::Request(_)), "{err}");
    assert!(
        err.to_string()
            .contains("namespace: expected \"elsewhere\""),
        "{err}"
    );
}
