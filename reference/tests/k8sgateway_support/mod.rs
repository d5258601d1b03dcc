//! A simulated cluster where the K8sGateway CRDs are not installed yet.

use gatesim_reference::api::k8sgateway::crd;
use gatesim_simkube::{Config, SimKube};

/// simkube serving every kind but the K8sGateway ones, which appear when their CRDs are
/// created (and go when they are deleted).
pub async fn simkube_without_k8sgateway_crds() -> SimKube {
    let require_crds = crd::crds()
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    SimKube::start(Config {
        require_crds,
        ..Config::default()
    })
    .await
    .expect("simkube starts")
}
