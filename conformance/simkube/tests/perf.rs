//! Throughput and latency figures, through the real kube client: server-side apply of
//! thousands of objects, listing them, and the delay from a write to its watch event.
//! Run with `--nocapture` to see the figures; the assertions check that every object and
//! every event arrived, not timings (which depend on the machine).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{namespace, start};
use futures::{StreamExt, TryStreamExt, stream};
use gateway_api::httproutes::HttpRoute;
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_throughput_and_watch_latency() {
    let (_server, client) = start().await;
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
        "simkube perf ({} build): {OBJECTS} HTTPRoutes by server-side apply ({CONCURRENCY} in flight) in {:.2?} = {:.0} objects/s; \
         list of {OBJECTS} in {:.2?}; write-to-watch-event latency p50 {:.2?} p99 {:.2?} max {:.2?}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
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
