//! Object lifecycles: namespace deletion and finalizers.

mod common;

use std::time::Duration;

use common::{eventually, gateway, namespace, obj, start, status};
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents() {
    let (_server, client) = start().await;
    namespace(&client, "doomed").await;
    namespace(&client, "kept").await;
    let cms = |ns: &str| Api::<ConfigMap>::namespaced(client.clone(), ns);
    for ns in ["doomed", "kept"] {
        cms(ns)
            .create(
                &PostParams::default(),
                &obj(json!({"metadata": {"name": "c"}})),
            )
            .await
            .unwrap();
    }
    let gws: Api<Gateway> = Api::namespaced(client.clone(), "doomed");
    gws.create(&PostParams::default(), &gateway("gw", &["a"]))
        .await
        .unwrap();
    // One object holds the namespace open with a finalizer.
    let held: ConfigMap = obj(json!({"metadata": {"name": "held", "finalizers": ["test/hold"]}}));
    cms("doomed")
        .create(&PostParams::default(), &held)
        .await
        .unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let marked = namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(marked.status.unwrap().phase.as_deref(), Some("Terminating"));
    // Like a real namespace controller, the cleanup comes a moment later; meanwhile
    // nothing new may be created there.
    let s = status(
        cms("doomed")
            .create(
                &PostParams::default(),
                &obj(json!({"metadata": {"name": "late"}})),
            )
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    eventually(
        "the namespace contents to go",
        Duration::from_secs(5),
        || {
            let gws = gws.clone();
            async move { gws.get_opt("gw").await.unwrap().is_none().then_some(()) }
        },
    )
    .await;
    assert_eq!(status(cms("doomed").get("c").await).reason, "NotFound");
    assert!(
        cms("doomed")
            .get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(
        ns.status.unwrap().phase.as_deref(),
        Some("Terminating"),
        "held open by a finalizer"
    );

    cms("doomed")
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert_eq!(status(namespaces.get("doomed").await).reason, "NotFound");
    assert!(
        cms("kept").get("c").await.is_ok(),
        "other namespaces are untouched"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_server, client) = start().await;
    namespace(&client, "fin").await;
    let routes: Api<HttpRoute> = Api::namespaced(client, "fin");
    let route: HttpRoute =
        obj(json!({"metadata": {"name": "r", "finalizers": ["gatesim.dev/cleanup"]}, "spec": {}}));
    let created = routes.create(&PostParams::default(), &route).await.unwrap();

    let marked = routes
        .delete("r", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(
        marked.metadata.generation,
        Some(2),
        "marking for deletion bumps generation"
    );
    let still = routes.get("r").await.unwrap();
    assert_eq!(still.metadata.uid, created.metadata.uid);

    let s = status(
        routes
            .patch(
                "r",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": ["gatesim.dev/cleanup", "new"]}})),
            )
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));

    routes
        .patch(
            "r",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": []}})),
        )
        .await
        .unwrap();
    assert_eq!(status(routes.get("r").await).reason, "NotFound");
}
