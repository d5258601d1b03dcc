//! CustomResourceDefinitions as switches: a kind in `Config::require_crds` is served only
//! while its CRD exists, as on a cluster where the CRD is installed and removed at run time.

mod common;

use std::time::Duration;

use common::{namespace, start_with, status};
use futures::StreamExt;
use gatesim_simkube::Config;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams, WatchEvent,
    WatchParams,
};
use serde_json::json;

const CRD: &str = "routeoptions.gateway.solo.io";

fn route_options(client: &kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("gateway.solo.io", "v1", "RouteOption");
    Api::namespaced_with(client.clone(), "apps", &ApiResource::from_gvk(&gvk))
}

fn crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {
            "group": "gateway.solo.io",
            "scope": "Namespaced",
            "names": {"kind": "RouteOption", "plural": "routeoptions"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    }))
    .unwrap()
}

fn route_option(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteOption",
        "metadata": {"name": name},
        "spec": {"options": {"timeout": "5s"}},
    }))
    .unwrap()
}

async fn served_kinds(client: &kube::Client) -> Vec<String> {
    let list = client
        .list_api_group_resources("gateway.solo.io/v1")
        .await
        .expect("the group stays served for its other kinds");
    list.resources.into_iter().map(|r| r.kind).collect()
}

#[tokio::test]
async fn a_kind_is_served_while_its_crd_exists() {
    let config = Config {
        require_crds: vec![CRD.into()],
        ..Config::default()
    };
    let (_server, client) = start_with(config).await;
    namespace(&client, "apps").await;
    let options = route_options(&client);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());

    // No CRD: the kind is neither listed in discovery nor served.
    assert!(!served_kinds(&client).await.contains(&"RouteOption".into()));
    assert!(
        served_kinds(&client)
            .await
            .contains(&"VirtualHostOption".into())
    );
    assert_eq!(status(options.list(&Default::default()).await).code, 404);

    // Installing the CRD serves the kind.
    crds.create(&PostParams::default(), &crd()).await.unwrap();
    assert!(served_kinds(&client).await.contains(&"RouteOption".into()));
    options
        .create(&PostParams::default(), &route_option("a"))
        .await
        .unwrap();
    let mut watch = options
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    match watch.next().await {
        Some(Ok(WatchEvent::Added(obj))) => assert_eq!(obj.metadata.name.as_deref(), Some("a")),
        other => panic!("expected the existing object, got {other:?}"),
    }

    // Deleting the CRD deletes its objects and ends the watch.
    crds.delete(CRD, &DeleteParams::default()).await.unwrap();
    let mut events = Vec::new();
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = watch.next().await {
            events.push(event);
        }
    })
    .await;
    assert!(drained.is_ok(), "the watch ends when its CRD goes");
    assert!(
        matches!(events.as_slice(), [Ok(WatchEvent::Deleted(obj))] if obj.metadata.name.as_deref() == Some("a")),
        "{events:?}"
    );
    assert_eq!(status(options.list(&Default::default()).await).code, 404);
    assert!(!served_kinds(&client).await.contains(&"RouteOption".into()));

    // A new CRD serves the kind again, without the old objects.
    crds.create(&PostParams::default(), &crd()).await.unwrap();
    assert!(
        options
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_crd_name_is_refused_at_start() {
    let config = Config {
        require_crds: vec!["widgets.example.com".into()],
        ..Config::default()
    };
    let err = gatesim_simkube::SimKube::start(config).await.err().unwrap();
    assert!(err.to_string().contains("widgets.example.com"), "{err}");
}
