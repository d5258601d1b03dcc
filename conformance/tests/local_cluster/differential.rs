//! The differential validation tables against the real kube-apiserver and simkube side by
//! side: both loaded with the very CRD files the cluster installed (Gateway API v1.6.1
//! experimental and the repository's K8sGateway CRDs), so that any difference is simkube's,
//! not a release's. Each row's object must get the same status, reason and causes from both,
//! and what the row expects; an object the API server admits must be refused by the
//! controller, by field (see `tests/data/differential/README.md`).

use std::path::Path;

use gatesim_conformance::cluster::Channel;
use gatesim_conformance::cluster::up::repository_crds;
use gatesim_conformance::tools::CONFORMANCE;
use gatesim_simkube::{Config, SchemaSource, SimKube};

use crate::differential_support::{check, load, submit};
use crate::support::Cluster;

/// simkube with the CRDs the shared cluster installed: the trials' cluster runs the
/// experimental channel.
async fn simkube_like(cluster: &Cluster) -> Result<SimKube, String> {
    let channel = Channel::parse(&cluster.state.channel).unwrap_or(Channel::Experimental);
    SimKube::start(Config {
        schemas: SchemaSource {
            gateway_api: false,
            crd_dirs: vec![
                CONFORMANCE.path("crds").join(channel.name()),
                repository_crds(),
            ],
        },
        ..Config::default()
    })
    .await
    .map_err(|e| format!("starting simkube: {e}"))
}

/// One table: every row against both servers.
pub fn table(cluster: &Cluster, path: &Path) -> Result<(), String> {
    let rows = load(path).map_err(|e| format!("{e:#}"))?;
    cluster.block_on(async {
        let server = simkube_like(cluster).await?;
        let simkube = kube::Client::try_from(kube::Config::new(
            server.url().parse().map_err(|e| format!("{e}"))?,
        ))
        .map_err(|e| e.to_string())?;
        let mut failures = Vec::new();
        for row in &rows {
            let outcome = async {
                let real = submit(&cluster.client, &row.object).await?;
                let simulated = submit(&simkube, &row.object).await?;
                anyhow::ensure!(
                    real.shape() == simulated.shape(),
                    "kube-apiserver and simkube differ:\n    kube-apiserver: {:?} {}\n    simkube:        {:?} {}",
                    real.shape(),
                    real.message,
                    simulated.shape(),
                    simulated.message
                );
                check(row, &real)
            };
            if let Err(e) = outcome.await {
                failures.push(format!("{} / {}: {e:#}", row.file, row.name));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("\n{}", failures.join("\n")))
        }
    })
}
