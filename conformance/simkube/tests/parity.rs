//! Where simkube differed from a real kube-apiserver (v1.36.3, seen through the same kubectl
//! and kube requests on gatesim's `local` target), each difference pinned here once fixed.

mod common;

use common::{namespace, obj, start, status};
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// Only kinds whose strategy sets it have `metadata.generation`: custom resources, Pods,
/// EndpointSlices and Deployments; Services, Secrets, ConfigMaps and Namespaces have none,
/// not even after a change of their spec.
#[tokio::test]
async fn only_some_kinds_carry_a_generation() {
    let (_server, client) = start().await;
    namespace(&client, "gen").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert_eq!(
        namespaces.get("gen").await.unwrap().metadata.generation,
        None
    );
    let services: Api<Service> = Api::namespaced(client.clone(), "gen");
    services
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})),
        )
        .await
        .unwrap();
    let changed = services
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ports": [{"port": 81}]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        changed.metadata.generation, None,
        "a spec change gives a Service no generation"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "gen");
    let secret = secrets
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "s"}})),
        )
        .await
        .unwrap();
    assert_eq!(secret.metadata.generation, None);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "gen");
    let map = maps
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "m"}})),
        )
        .await
        .unwrap();
    assert_eq!(map.metadata.generation, None);

    let pods: Api<Pod> = Api::namespaced(client.clone(), "gen");
    let pod = pods
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(pod.metadata.generation, Some(1));
    let routes: Api<HttpRoute> = Api::namespaced(client, "gen");
    let route = routes
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "r"}, "spec": {}})),
        )
        .await
        .unwrap();
    assert_eq!(route.metadata.generation, Some(1));
}

/// A write naming another uid tries to change an immutable field: 422 Invalid on the main
/// resource (not 409 Conflict, which is for stale resource versions). A status write to a
/// custom resource never sees it: its strategy keeps everything but status from the stored
/// object, so the write goes through.
#[tokio::test]
async fn a_foreign_uid_is_invalid_except_in_a_custom_resources_status() {
    let (_server, client) = start().await;
    namespace(&client, "uid").await;
    let routes: Api<HttpRoute> = Api::namespaced(client.clone(), "uid");
    let created = routes
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "r"}, "spec": {}})),
        )
        .await
        .unwrap();
    let foreign = "00000000-0000-0000-0000-000000000000";
    let s = status(
        routes
            .patch(
                "r",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"uid": foreign}})),
            )
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
    assert!(
        s.message.contains("metadata.uid") && s.message.contains("field is immutable"),
        "{}",
        s.message
    );

    let written = routes
        .patch_status(
            "r",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"uid": foreign}, "status": {"parents": []}})),
        )
        .await
        .unwrap();
    assert_eq!(
        written.metadata.uid, created.metadata.uid,
        "the stored uid stays"
    );

    let pods: Api<Pod> = Api::namespaced(client, "uid");
    pods.create(
        &PostParams::default(),
        &obj(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})),
    )
    .await
    .unwrap();
    let s = status(
        pods.patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"uid": foreign}, "status": {"message": "x"}})),
        )
        .await,
    );
    assert_eq!(
        (s.code, s.reason.as_str()),
        (422, "Invalid"),
        "a built-in status write checks it: {s:?}"
    );
}

/// `managedFields` are listed in upstream's order (operation, second of the last write,
/// manager, apiVersion, subresource), not in the order the managers first wrote.
#[tokio::test]
async fn managed_fields_are_in_upstreams_order() {
    let (_server, client) = start().await;
    namespace(&client, "mf").await;
    let routes: Api<HttpRoute> = Api::namespaced(client, "mf");
    let with = |manager: &str| PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    };
    routes
        .create(
            &PostParams {
                field_manager: Some("zz-creator".to_owned()),
                ..PostParams::default()
            },
            &obj(json!({"metadata": {"name": "r"}, "spec": {}})),
        )
        .await
        .unwrap();
    routes
        .patch(
            "r",
            &with("mm-labeller"),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    routes
        .patch_status(
            "r",
            &with("aa-status"),
            &Patch::Merge(json!({"status": {"parents": []}})),
        )
        .await
        .unwrap();
    routes
        .patch(
            "r",
            &PatchParams::apply("bb-applier").force(),
            &Patch::Apply(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                                 "metadata": {"name": "r", "annotations": {"x": "y"}}}),
            ),
        )
        .await
        .unwrap();
    let route = routes.get("r").await.unwrap();
    let entries: Vec<(String, String, String)> = route
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let time = m.time.map(|t| t.0.to_string()).unwrap_or_default();
            (
                m.operation.unwrap_or_default(),
                time,
                m.manager.unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 4, "{entries:?}");
    // The managers wrote in the reverse order of their names, so within one second the
    // order they wrote in and upstream's order differ.
    let mut expected = entries.clone();
    expected.sort();
    assert_eq!(entries, expected);
    assert_eq!(entries[0].2, "bb-applier", "Apply sorts before Update");
}
