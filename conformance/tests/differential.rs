//! The differential validation tables against simkube (with the Gateway API CRDs of its
//! pinned release and the repository's K8sGateway CRDs) and the reference controller: every
//! object the API server refuses, simkube refuses with the same status and causes; every
//! object it admits but the Gateway API or Envoy does not allow, the controller refuses by
//! field. The same tables run against a real kube-apiserver in `tests/local_cluster`.

mod differential_support;

use std::path::PathBuf;

use differential_support::{Row, check, load, submit};
use gatesim_simkube::{Config, SchemaSource, SimKube};
use rstest::rstest;

async fn simkube() -> SimKube {
    SimKube::start(Config {
        schemas: SchemaSource {
            gateway_api: true,
            crd_dirs: vec![gatesim_conformance::cluster::up::repository_crds()],
        },
        ..Config::default()
    })
    .await
    .expect("simkube starts")
}

#[rstest]
#[tokio::test]
async fn table(#[files("tests/data/differential/*.yaml")] path: PathBuf) {
    let rows: Vec<Row> = load(&path).expect("the table reads");
    assert!(!rows.is_empty(), "{} has no rows", path.display());
    let server = simkube().await;
    assert!(
        server.validated_kinds() > 8,
        "simkube validates only {} kinds: the Gateway API CRDs are missing",
        server.validated_kinds()
    );
    let client =
        kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).expect("a client");
    let mut failures = Vec::new();
    for row in &rows {
        let outcome = match submit(&client, &row.object).await {
            Ok(answer) => check(row, &answer),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            failures.push(format!("{} / {}: {e:#}", row.file, row.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The tables hold at least 40 objects of both families, and both verdicts.
#[test]
fn the_tables_cover_both_families_and_verdicts() {
    let rows: Vec<Row> = differential_support::tables()
        .unwrap()
        .iter()
        .flat_map(|p| load(p).unwrap())
        .collect();
    assert!(rows.len() >= 40, "only {} rows", rows.len());
    let k8sgateway = rows
        .iter()
        .filter(|r| {
            !r.object["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("gateway.networking")
        })
        .count();
    let refused = rows
        .iter()
        .filter(|r| matches!(r.expect, differential_support::Expect::Refused { .. }))
        .count();
    assert!(k8sgateway >= 10, "only {k8sgateway} K8sGateway rows");
    assert!(
        refused >= 10 && refused < rows.len(),
        "{refused} refused rows of {}",
        rows.len()
    );
}
