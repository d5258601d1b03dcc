//! Throughput and latency figures, through the real kube client: server-side apply of
//! thousands of objects, listing them, and the delay from a write to its watch event.
//! Run with `--nocapture` to see the figures; the assertions check that every object and
//! every event arrived, not timings (which depend on the machine). Each figure is taken
//! with and without CRD schemas, so the cost of validating every write shows, and the
//! load time of the Gateway API CRDs is printed too.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{client_for, namespace};
use futures::{StreamExt, TryStreamExt, stream};
use gatesim_simkube::{Config, SchemaSource, Schemas, SimKube};
use gateway_api::httproutes::HttpRoute;
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use rstest::rstest;
use serde_json::json;

const OBJECTS: usize = 2000;
const CONCURRENCY: usize = 16;
const LATENCY_SAMPLES: usize = 200;

fn route(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": format!("route-{i}"), "labels": {"batch": "perf"}},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": [format!("h{i}.example")],
            "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[rstest]
#[case::without_schemas(SchemaSource::none())]
#[case::with_gateway_api_crds(SchemaSource::default())]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_throughput_and_watch_latency(#[case] schemas: SchemaSource) {
    let validating = schemas.gateway_api;
    let server = SimKube::start(Config {
        schemas,
        ..Config::default()
    })
    .await
    .expect("simkube starts");
    assert_eq!(server.validated_kinds() > 0, validating);
    let client = client_for(&server);
    namespace(&client, "perf").await;
    let routes: Api<HttpRoute> = Api::namespaced(client.clone(), "perf");
    let pp = PatchParams::apply("perf").force();

    // A watcher on the kind for the whole run: every apply must reach it.
    let mut events = routes
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();

    let started = Instant::now();
    let applied: Vec<_> = stream::iter(0..OBJECTS)
        .map(|i| {
            let routes = routes.clone();
            let pp = pp.clone();
            async move {
                routes
                    .patch(&format!("route-{i}"), &pp, &Patch::Apply(route(i)))
                    .await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
        .unwrap();
    let apply_time = started.elapsed();
    assert_eq!(applied.len(), OBJECTS);

    let mut added = 0;
    while added < OBJECTS {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next())
            .await
            .expect("watch keeps up")
            .unwrap()
            .unwrap()
        {
            WatchEvent::Added(_) => added += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    let started = Instant::now();
    let listed = routes
        .list(&ListParams::default().labels("batch=perf"))
        .await
        .unwrap();
    let list_time = started.elapsed();
    assert_eq!(listed.items.len(), OBJECTS);

    // Re-applying an unchanged object is a no-op: no new resource version, no event.
    let again = routes
        .patch("route-0", &pp, &Patch::Apply(route(0)))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        applied
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some("route-0"))
            .unwrap()
            .metadata
            .resource_version
    );

    // Write-to-event latency, one write at a time.
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    let mut pending: HashMap<String, Instant> = HashMap::new();
    for i in 0..LATENCY_SAMPLES {
        let name = format!("route-{i}");
        let mut changed = route(i);
        changed["spec"]["hostnames"] = json!([format!("changed{i}.example")]);
        pending.insert(name.clone(), Instant::now());
        routes
            .patch(&name, &pp, &Patch::Apply(changed))
            .await
            .unwrap();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(5), events.try_next())
                .await
                .expect("event arrives")
                .unwrap()
                .unwrap();
            if let WatchEvent::Modified(r) = ev {
                let n = r.metadata.name.unwrap();
                if let Some(t0) = pending.remove(&n) {
                    samples.push(t0.elapsed());
                    break;
                }
            }
        }
    }
    samples.sort();
    println!(
        "simkube perf ({} build, {}): {OBJECTS} HTTPRoutes by server-side apply ({CONCURRENCY} in flight) in {:.2?} = {:.0} objects/s; \
         list of {OBJECTS} in {:.2?}; write-to-watch-event latency p50 {:.2?} p99 {:.2?} max {:.2?}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if validating {
            "validating against the Gateway API CRDs"
        } else {
            "no schemas"
        },
        apply_time,
        OBJECTS as f64 / apply_time.as_secs_f64(),
        list_time,
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().unwrap(),
    );
    assert_eq!(samples.len(), LATENCY_SAMPLES);
}

#[tokio::test]
async fn gateway_api_crds_load_time() {
    let dir = gatesim_simkube::gateway_api_crds()
        .await
        .expect("the Gateway API CRDs are provisioned");
    let started = Instant::now();
    let schemas = Schemas::load(&[dir]).expect("the CRDs load");
    let elapsed = started.elapsed();
    assert!(schemas.kinds() >= 11, "every Gateway API kind has a schema");
    println!(
        "simkube: {} CRDs from {} files parsed and compiled (schemas, patterns, CEL rules) in {elapsed:.2?}",
        schemas.kinds(),
        schemas.files()
    );
}
