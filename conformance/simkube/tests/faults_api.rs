//! The fault and counter API over HTTP, latency injection, watch timeouts and
//! deletecollection.

mod common;

use std::time::{Duration, Instant};

use common::{namespace, start, start_with, status};
use futures::{StreamExt, TryStreamExt};
use gatesim_simkube::{Config, LatencyFault, Matcher, Stats, Verb};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

async fn call(client: &Client, url: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| serde_json::to_vec(&b).unwrap())
                .unwrap_or_default(),
        )
        .unwrap();
    let text = client
        .request_text(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn cm(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

#[tokio::test]
async fn faults_and_counters_over_http() {
    let (server, client) = start().await;
    let url = server.url();
    namespace(&client, "h").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "h");

    call(
        &client,
        &url,
        "POST",
        "/simkube/v1/faults/errors",
        Some(json!({"verb": "get", "resource": "configmaps", "code": 500, "count": 2})),
    )
    .await;
    call(
        &client,
        &url,
        "POST",
        "/simkube/v1/faults/errors",
        Some(json!({"verb": "create", "code": 409, "count": 1})),
    )
    .await;
    let active = call(&client, &url, "GET", "/simkube/v1/faults", None).await;
    assert_eq!(active["errors"].as_array().unwrap().len(), 2, "{active}");

    let s = status(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await,
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    for _ in 0..2 {
        let s = status(cms.get("a").await);
        assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
    }
    cms.get("a").await.unwrap();

    // A code no server sends is refused.
    let req = http::Request::post(format!("{url}/simkube/v1/faults/errors"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&json!({"code": 302, "count": 1})).unwrap())
        .unwrap();
    assert_eq!(status(client.request_text(req).await).code, 400);

    // Dropping watches over HTTP ends an open stream.
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        stream.try_next().await.unwrap(),
        Some(WatchEvent::Added(_))
    ));
    let dropped = call(
        &client,
        &url,
        "POST",
        "/simkube/v1/faults/drop-watches",
        None,
    )
    .await;
    assert_eq!(dropped["dropped"], json!(1));
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(end.is_none(), "the stream ended: {end:?}");

    // Compacting over HTTP makes old versions expire.
    let rv = cms
        .get("a")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    call(&client, &url, "POST", "/simkube/v1/faults/compact", None).await;
    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(
        matches!(stream.try_next().await.unwrap(), Some(WatchEvent::Error(e)) if e.code == 410)
    );

    call(&client, &url, "DELETE", "/simkube/v1/faults", None).await;
    let stats: Stats =
        serde_json::from_value(call(&client, &url, "GET", "/simkube/v1/stats", None).await)
            .unwrap();
    assert_eq!(stats.requests(Verb::Get, "configmaps"), 4);
    assert_eq!(stats.requests(Verb::Create, "configmaps"), 3);
    assert_eq!(stats.injected_errors, 3);
    assert_eq!(
        (stats.injected(500), stats.injected(409)),
        (2, 1),
        "{stats:?}"
    );
    assert_eq!(
        (stats.watches_dropped, stats.watches_started),
        (1, 1),
        "the expired watch never opened: {stats:?}"
    );
    assert_eq!(stats.requests(Verb::Watch, "configmaps"), 2);
    assert_eq!(
        stats.requests,
        server.stats().requests,
        "HTTP and Rust handles agree"
    );
}

#[tokio::test]
async fn latency_applies_to_matching_requests_only() {
    let (server, client) = start().await;
    namespace(&client, "lat").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "lat");
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    server.faults().add_latency(LatencyFault {
        matcher: Matcher::verb(Verb::List).on("configmaps"),
        millis: 300,
    });
    let t = Instant::now();
    cms.get("a").await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "get is not delayed"
    );
    let t = Instant::now();
    cms.list(&ListParams::default()).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300), "list is delayed");
    assert_eq!(
        server.stats().delayed_requests,
        1,
        "only the list was held back"
    );
    server.faults().clear();
    let t = Instant::now();
    cms.list(&ListParams::default()).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(250), "cleared");
}

#[tokio::test]
async fn watches_end_after_timeout_seconds() {
    let (_server, client) = start_with(Config::default()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let t = Instant::now();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn deletecollection_deletes_the_selected_objects() {
    let (_server, client) = start().await;
    namespace(&client, "dc").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "dc");
    for (name, team) in [("a", "x"), ("b", "x"), ("c", "y")] {
        cms.create(&PostParams::default(), &cm(name, json!({"team": team})))
            .await
            .unwrap();
    }
    let deleted = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("team=x"),
        )
        .await
        .unwrap()
        .left()
        .expect("the deleted objects");
    let names: Vec<_> = deleted
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let left: Vec<_> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(left, ["c"]);
}
