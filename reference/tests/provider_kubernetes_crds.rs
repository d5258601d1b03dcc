//! The Kubernetes provider against a cluster (simkube) where the K8sGateway CRDs are missing,
//! then installed, then removed: a missing CRD never holds the controller back, and the kind
//! is picked up when its CRD appears and emptied when it goes.

mod k8sgateway_support;

use std::time::Duration;

use gatesim_reference::api::RouteOption;
use gatesim_reference::api::k8sgateway::RouteOptionSpec;
use gatesim_reference::api::k8sgateway::crd;
use gatesim_reference::model::{ControllerConfig, ObjectKey, ResourceSet};
use gatesim_reference::provider::Snapshots;
use gatesim_reference::provider::kubernetes::KubernetesProvider;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8sgateway_support::simkube_without_k8sgateway_crds;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, CustomResourceExt};

/// Waits until a published snapshot satisfies `check`; kube's watch backoff after a 404
/// grows to a few seconds while a test runs, hence the generous bound.
async fn snapshot_where(
    rx: &mut Snapshots,
    what: &str,
    check: impl Fn(&ResourceSet) -> bool,
) -> std::sync::Arc<ResourceSet> {
    let wait = async {
        loop {
            {
                let set = rx.borrow_and_update();
                if set.revision > 0 && check(&set) {
                    return std::sync::Arc::clone(&set);
                }
            }
            rx.changed().await.expect("the provider keeps running");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for a snapshot where {what}"))
}

#[tokio::test]
async fn k8sgateway_kinds_follow_their_crds() {
    let crds = crd::crds();
    let server = simkube_without_k8sgateway_crds().await;
    let client = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let (mut rx, provider) = KubernetesProvider::start(client.clone(), ControllerConfig::default());

    // No K8sGateway CRD: the other kinds still list, and a snapshot is published.
    let first = snapshot_where(&mut rx, "the namespaces are listed", |set| {
        set.namespaces.contains_key(&ObjectKey::cluster("default"))
    })
    .await;
    assert!(first.route_options.is_empty() && first.upstreams.is_empty());

    // Installing the CRDs and creating a RouteOption: the provider picks the kind up.
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for definition in &crds {
        crd_api
            .create(&PostParams::default(), definition)
            .await
            .expect("CRD created");
    }
    let options: Api<RouteOption> = Api::namespaced(client.clone(), "default");
    let mut option = RouteOption::new("retries", RouteOptionSpec::default());
    option.spec.options = Some(
        serde_json::from_value(serde_json::json!({
            "timeout": "10s",
            "retries": { "retryOn": "connect-failure", "numRetries": 3 },
        }))
        .unwrap(),
    );
    options
        .create(&PostParams::default(), &option)
        .await
        .expect("RouteOption created");
    let key = ObjectKey::new("default", "retries");
    let with = snapshot_where(&mut rx, "the RouteOption is there", |set| {
        set.route_options.contains_key(&key)
    })
    .await;
    assert_eq!(
        with.route_options[&key].spec.options, option.spec.options,
        "the object arrives as written"
    );

    // Removing the CRD removes the kind's objects from the snapshot.
    crd_api
        .delete(RouteOption::crd_name(), &DeleteParams::default())
        .await
        .expect("CRD deleted");
    snapshot_where(&mut rx, "the RouteOption is gone", |set| {
        set.route_options.is_empty()
    })
    .await;
    assert!(!provider.is_finished());
}
