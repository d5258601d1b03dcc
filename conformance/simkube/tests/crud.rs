//! CRUD, errors, selectors, the status subresource, concurrency and views, all through
//! the real `kube` client with typed APIs.

mod common;

use std::collections::BTreeSet;

use common::{gateway, namespace, obj, start, status};
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

fn rv(meta: &kube::core::ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .expect("resourceVersion set")
        .parse()
        .expect("resourceVersion is numeric")
}

#[tokio::test]
async fn objects_round_trip_with_server_metadata() {
    let (_server, client) = start().await;
    namespace(&client, "app").await;
    let svcs: Api<Service> = Api::namespaced(client.clone(), "app");
    let created = svcs
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "web", "labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}})),
        )
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert_eq!(
        meta.generation, None,
        "Services carry no generation, as on a real server"
    );
    assert_eq!(meta.namespace.as_deref(), Some("app"));
    assert!(
        meta.creation_timestamp.is_some(),
        "creationTimestamp parses as RFC 3339"
    );
    assert!(meta.managed_fields.as_ref().is_some_and(|m| !m.is_empty()));
    let first_rv = rv(meta);

    let fetched = svcs.get("web").await.unwrap();
    assert_eq!(fetched.metadata.uid, created.metadata.uid);
    assert!(
        fetched.spec.as_ref().unwrap().cluster_ip.is_some(),
        "a cluster IP is allocated"
    );

    let mut changed = fetched.clone();
    changed.metadata.labels = Some([("a".to_string(), "2".to_string())].into());
    let replaced = svcs
        .replace("web", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert!(
        rv(&replaced.metadata) > first_rv,
        "resourceVersion is monotonic"
    );

    // generateName
    let generated = svcs
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"generateName": "gen-"}})),
        )
        .await
        .unwrap();
    let name = generated.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let deleted = svcs.delete("web", &DeleteParams::default()).await.unwrap();
    let deleted = deleted.left().expect("delete returns the object");
    assert_eq!(deleted.metadata.uid, created.metadata.uid);
    assert_eq!(status(svcs.get("web").await).reason, "NotFound");

    let all: Api<Namespace> = Api::all(client);
    let ns = all.get("app").await.unwrap();
    assert_eq!(
        ns.metadata
            .labels
            .unwrap()
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("app")
    );
    assert!(
        all.get("default").await.is_ok(),
        "default namespace exists from the start"
    );
}

#[tokio::test]
async fn errors_are_statuses_with_the_real_codes_and_reasons() {
    let (server, client) = start().await;
    namespace(&client, "app").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let cm: ConfigMap = obj(json!({"metadata": {"name": "c"}}));
    cms.create(&PostParams::default(), &cm).await.unwrap();

    let s = status(cms.create(&PostParams::default(), &cm).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));

    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let s = status(missing.create(&PostParams::default(), &cm).await);
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
    assert!(
        s.message.contains("namespaces \"nope\" not found"),
        "{}",
        s.message
    );

    let bad: ConfigMap = obj(json!({"metadata": {"name": "Not_Valid"}}));
    let s = status(cms.create(&PostParams::default(), &bad).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));

    let other_ns: ConfigMap = obj(json!({"metadata": {"name": "d", "namespace": "default"}}));
    let s = status(cms.create(&PostParams::default(), &other_ns).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));

    let with_rv: ConfigMap = obj(json!({"metadata": {"name": "e", "resourceVersion": "5"}}));
    let s = status(cms.create(&PostParams::default(), &with_rv).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));

    let s = status(cms.delete("absent", &DeleteParams::default()).await);
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));

    let gws: Api<Gateway> = Api::namespaced(client.clone(), "app");
    gws.create(&PostParams::default(), &gateway("gw", &["a"]))
        .await
        .unwrap();
    let s = status(
        gws.patch(
            "gw",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));

    let s = status(
        gws.patch(
            "gw",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(
                    json!([{"op": "test", "path": "/spec/gatewayClassName", "value": "other"}]),
                )
                .unwrap(),
            ),
        )
        .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));

    let s = status(cms.list(&ListParams::default().labels("bad key=")).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));

    // A verb the resource does not have.
    let req = http::Request::post(format!(
        "{}/api/v1/namespaces/app/configmaps/c",
        server.url()
    ))
    .header("content-type", "application/json")
    .body(b"{}".to_vec())
    .unwrap();
    let s = status(client.request::<ConfigMap>(req).await);
    assert_eq!((s.code, s.reason.as_str()), (405, "MethodNotAllowed"));
}

#[tokio::test]
async fn label_and_field_selectors_and_paging() {
    let (_server, client) = start().await;
    namespace(&client, "sel").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "sel");
    let labels = [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "api", "tier": "back"})),
        ("d", json!({"app": "db"})),
        ("e", json!({})),
    ];
    for (name, l) in &labels {
        cms.create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": name, "labels": l}})),
        )
        .await
        .unwrap();
    }
    let names = |sel: &'static str| {
        let cms = cms.clone();
        async move {
            cms.list(&ListParams::default().labels(sel))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("app=web").await, ["a", "b"]);
    assert_eq!(names("app==web,tier=back").await, ["b"]);
    assert_eq!(names("app!=web").await, ["c", "d", "e"]);
    assert_eq!(names("app in (api,db)").await, ["c", "d"]);
    assert_eq!(names("app notin (web)").await, ["c", "d", "e"]);
    assert_eq!(names("tier").await, ["a", "b", "c"]);
    assert_eq!(names("!tier").await, ["d", "e"]);

    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=c"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    // Paging with limit/continue sees every object exactly once.
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(2);
    loop {
        let page = cms.list(&lp).await.unwrap();
        seen.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    // All-namespaces list.
    let everywhere: Api<ConfigMap> = Api::all(client);
    assert_eq!(
        everywhere
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        5
    );
}

#[tokio::test]
async fn status_subresource_and_generation_rules() {
    let (_server, client) = start().await;
    namespace(&client, "st").await;
    let gws: Api<Gateway> = Api::namespaced(client, "st");
    let mut with_status = serde_json::to_value(gateway("gw", &["a"])).unwrap();
    with_status["status"] = json!({"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
        "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]});
    let created = gws
        .create(&PostParams::default(), &obj(with_status))
        .await
        .unwrap();
    // The body's status is ignored; what is stored is the schema's default status.
    let conditions = created
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    assert!(
        conditions.iter().all(|c| c.reason == "Pending"),
        "status is ignored on create: {conditions:?}"
    );
    assert_eq!(created.metadata.generation, Some(1));

    // Status write: status changes, generation does not.
    let status_patch = json!({"status": {"conditions": [{"type": "Programmed", "status": "True",
        "reason": "Programmed", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z",
        "observedGeneration": 1}]}, "spec": {"gatewayClassName": "ignored"}});
    let after = gws
        .patch_status("gw", &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
        .unwrap();
    let after_v = serde_json::to_value(&after).unwrap();
    assert_eq!(
        after_v["status"]["conditions"][0]["type"],
        json!("Programmed")
    );
    assert_eq!(
        after_v["spec"]["gatewayClassName"],
        json!("sim"),
        "status writes leave spec alone"
    );
    assert_eq!(after.metadata.generation, Some(1));
    assert!(rv(&after.metadata) > rv(&created.metadata));

    // Label change: no generation bump. Status in a main write is ignored.
    let labelled = gws
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}, "status": null})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    assert!(labelled.status.is_some(), "main writes leave status alone");

    // Spec change: generation bump.
    let respec = gws
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"gatewayClassName": "other"}})),
        )
        .await
        .unwrap();
    assert_eq!(respec.metadata.generation, Some(2));

    // replace_status with a full object.
    let mut full = gws.get_status("gw").await.unwrap();
    let mut v = serde_json::to_value(&full).unwrap();
    v["status"]["conditions"][0]["observedGeneration"] = json!(2);
    full = obj(v);
    let replaced = gws
        .replace_status("gw", &PostParams::default(), &full)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&replaced).unwrap()["status"]["conditions"][0]["observedGeneration"],
        json!(2)
    );
    assert_eq!(replaced.metadata.generation, Some(2));

    // A no-op write does not move the resource version.
    let again = gws
        .replace_status("gw", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        replaced.metadata.resource_version
    );
}

#[tokio::test]
async fn server_side_apply_drops_fields_no_longer_applied() {
    let (_server, client) = start().await;
    namespace(&client, "ssa").await;
    let gws: Api<Gateway> = Api::namespaced(client, "ssa");
    let harness = PatchParams::apply("harness");

    let mut first = serde_json::to_value(gateway("gw", &["http", "https"])).unwrap();
    first["metadata"]["labels"] = json!({"keep": "1", "drop": "1"});
    let created = gws
        .patch("gw", &harness, &Patch::Apply(&first))
        .await
        .unwrap();
    assert_eq!(created.spec.listeners.len(), 2, "apply creates when absent");

    let mut second = serde_json::to_value(gateway("gw", &["http"])).unwrap();
    second["metadata"]["labels"] = json!({"keep": "1"});
    let reapplied = gws
        .patch("gw", &harness, &Patch::Apply(&second))
        .await
        .unwrap();
    let names: Vec<&str> = reapplied
        .spec
        .listeners
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["http"], "a removed listener goes");
    let labels = reapplied.metadata.labels.clone().unwrap();
    assert!(
        labels.contains_key("keep") && !labels.contains_key("drop"),
        "{labels:?}"
    );
    assert_eq!(reapplied.metadata.generation, Some(2));

    // Another manager changing an applied field conflicts, unless forced.
    let mut rival = serde_json::to_value(gateway("gw", &["http"])).unwrap();
    rival["spec"]["gatewayClassName"] = json!("rival");
    let s = status(
        gws.patch("gw", &PatchParams::apply("rival"), &Patch::Apply(&rival))
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(
        s.message.contains("conflict with \"harness\""),
        "{}",
        s.message
    );
    let forced = gws
        .patch(
            "gw",
            &PatchParams::apply("rival").force(),
            &Patch::Apply(&rival),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.gateway_class_name, "rival");

    // A status apply by the controller leaves the spec (and its owners) alone.
    let status_cfg = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw"},
        "status": {"addresses": [{"type": "IPAddress", "value": "127.0.10.1"}]}
    });
    let with_status = gws
        .patch_status(
            "gw",
            &PatchParams::apply("controller").force(),
            &Patch::Apply(&status_cfg),
        )
        .await
        .unwrap();
    assert_eq!(with_status.spec.gateway_class_name, "rival");
    assert_eq!(with_status.metadata.generation, forced.metadata.generation);
    let managers: BTreeSet<String> = with_status
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains("controller") && managers.contains("harness"),
        "{managers:?}"
    );

    // fieldManager is required for apply.
    let s = status(
        gws.patch("gw", &PatchParams::default(), &Patch::Apply(&second))
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
}

#[tokio::test]
async fn stale_resource_versions_conflict() {
    let (_server, client) = start().await;
    namespace(&client, "occ").await;
    let routes: Api<HttpRoute> = Api::namespaced(client, "occ");
    let route: HttpRoute =
        obj(json!({"metadata": {"name": "r"}, "spec": {"hostnames": ["a.example"]}}));
    routes.create(&PostParams::default(), &route).await.unwrap();

    let mine = routes.get("r").await.unwrap();
    let theirs = routes.get("r").await.unwrap();
    let mut a = mine.clone();
    a.spec.hostnames = Some(vec!["b.example".into()]);
    routes
        .replace("r", &PostParams::default(), &a)
        .await
        .unwrap();
    let mut b = theirs.clone();
    b.spec.hostnames = Some(vec!["c.example".into()]);
    let s = status(routes.replace("r", &PostParams::default(), &b).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(
        s.message.contains("the object has been modified"),
        "{}",
        s.message
    );

    let stale = json!({"metadata": {"resourceVersion": theirs.metadata.resource_version},
                       "spec": {"hostnames": ["d.example"]}});
    let s = status(
        routes
            .patch("r", &PatchParams::default(), &Patch::Merge(&stale))
            .await,
    );
    assert_eq!(s.reason, "Conflict");

    // Without a resourceVersion the update is unconditional.
    b.metadata.resource_version = None;
    let forced = routes
        .replace("r", &PostParams::default(), &b)
        .await
        .unwrap();
    assert_eq!(forced.spec.hostnames, Some(vec!["c.example".to_string()]));
}

#[tokio::test]
async fn gateway_is_one_object_at_v1_and_v1beta1() {
    let (_server, client) = start().await;
    namespace(&client, "views").await;
    let v1: Api<Gateway> = Api::namespaced(client.clone(), "views");
    let created = v1
        .create(&PostParams::default(), &gateway("gw", &["a"]))
        .await
        .unwrap();

    let beta = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1beta1",
        "Gateway",
    ));
    let v1beta1: Api<DynamicObject> = Api::namespaced_with(client.clone(), "views", &beta);
    let seen = v1beta1.get("gw").await.unwrap();
    assert_eq!(
        seen.types.as_ref().map(|t| t.api_version.as_str()),
        Some("gateway.networking.k8s.io/v1beta1")
    );
    assert_eq!(seen.metadata.uid, created.metadata.uid);
    assert_eq!(seen.data["spec"]["gatewayClassName"], json!("sim"));

    // Writes through either version land in the same object.
    v1beta1
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"gatewayClassName": "beta"}})),
        )
        .await
        .unwrap();
    assert_eq!(v1.get("gw").await.unwrap().spec.gateway_class_name, "beta");
    let listed = v1beta1.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);

    // GRPCRoute is not served at v1beta1.
    let grpc_beta = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1beta1",
        "GRPCRoute",
    ));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "views", &grpc_beta);
    assert_eq!(status(api.list(&ListParams::default()).await).code, 404);

    // kube's discovery sees both versions and the status subresource.
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    let group = discovery
        .groups()
        .find(|g| g.name() == "gateway.networking.k8s.io")
        .expect("gateway group discovered");
    let versions: Vec<&str> = group.versions().collect();
    assert!(
        versions.contains(&"v1") && versions.contains(&"v1beta1"),
        "{versions:?}"
    );
    assert_eq!(group.preferred_version_or_latest(), "v1");
    let (_, caps) = group
        .recommended_resources()
        .into_iter()
        .find(|(ar, _)| ar.kind == "Gateway")
        .unwrap();
    assert!(
        caps.subresources
            .iter()
            .any(|(ar, _)| ar.plural == "status")
    );
}

#[tokio::test]
async fn the_written_kubeconfig_configures_kube_clients() {
    let (server, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.create(
        &PostParams::default(),
        &obj(json!({"metadata": {"name": "via-kubeconfig"}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn gateway_api_schema_defaults_are_filled_in() {
    let (_server, client) = start().await;
    namespace(&client, "defaults").await;
    let routes: Api<HttpRoute> = Api::namespaced(client, "defaults");
    let cfg = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}
    });
    let pp = PatchParams::apply("harness");
    let created = routes.patch("r", &pp, &Patch::Apply(&cfg)).await.unwrap();
    let v = serde_json::to_value(&created).unwrap();
    assert_eq!(v["spec"]["parentRefs"][0]["kind"], json!("Gateway"));
    assert_eq!(
        v["spec"]["parentRefs"][0]["group"],
        json!("gateway.networking.k8s.io")
    );
    assert_eq!(
        v["spec"]["rules"][0]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/"}}])
    );
    assert_eq!(v["spec"]["rules"][0]["backendRefs"][0]["weight"], json!(1));
    // Re-applying the same configuration is a no-op despite the defaults.
    let again = routes.patch("r", &pp, &Patch::Apply(&cfg)).await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(again.metadata.generation, Some(1));
}
