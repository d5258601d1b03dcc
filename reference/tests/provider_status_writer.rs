//! The status writer's requests, through a real `kube` client whose transport is an
//! in-process request recorder (no API server, no network).

mod provider_support;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesim_reference::model::ResourceSet;
use gatesim_reference::provider::status::{StatusCounts, StatusWriter, StatusWriterConfig};
use gatesim_reference::translate::{ObjectRef, StatusPatch, StatusUpdate};
use http_body_util::{BodyExt, Full};
use provider_support::*;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

/// The transport under a real `kube::Client`: records every request and answers like the
/// API server would for the few calls the writer makes.
#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<(String, String, Value)>>,
    /// Paths whose next PATCH gets 409 Conflict.
    conflicts: Mutex<HashSet<String>>,
    /// Objects served to GET, by path.
    objects: Mutex<HashMap<String, Value>>,
    /// Delay before answering a PATCH, to make concurrency and coalescing observable.
    patch_delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    next_version: AtomicUsize,
}

impl Recorder {
    fn with_delay(patch_delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            patch_delay,
            next_version: AtomicUsize::new(1000),
            ..Self::default()
        })
    }

    fn client(self: &Arc<Self>) -> kube::Client {
        let recorder = Arc::clone(self);
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let recorder = Arc::clone(&recorder);
            async move { Ok::<_, Infallible>(recorder.answer(req).await) }
        });
        kube::Client::new(service, "default")
    }

    async fn answer(&self, req: http::Request<kube::client::Body>) -> http::Response<Full<Bytes>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (parts, body) = req.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let path = parts.uri.path().to_string();
        let method = parts.method.to_string();
        if method == "PATCH" {
            assert_eq!(
                parts.headers["content-type"],
                "application/merge-patch+json"
            );
            // managedFields name the controller, not `unknown`.
            let query = parts.uri.query().unwrap_or_default();
            assert!(
                query
                    .split('&')
                    .any(|p| p == "fieldManager=gatesim-reference-controller"),
                "PATCH {path} without the controller's field manager: {query:?}"
            );
        }
        self.requests
            .lock()
            .unwrap()
            .push((method.clone(), path.clone(), body.clone()));
        if method == "PATCH" && !self.patch_delay.is_zero() {
            tokio::time::sleep(self.patch_delay).await;
        }
        let (code, answer) = match method.as_str() {
            "PATCH" if self.conflicts.lock().unwrap().remove(&path) => {
                (409, status_error(409, "Conflict"))
            }
            "PATCH" => {
                let version = self.next_version.fetch_add(1, Ordering::SeqCst);
                (
                    200,
                    json!({ "metadata": { "name": "x", "resourceVersion": version.to_string() }, "status": body["status"] }),
                )
            }
            "GET" => match self.objects.lock().unwrap().get(&path) {
                Some(obj) => (200, obj.clone()),
                None => (404, status_error(404, "NotFound")),
            },
            _ => (405, status_error(405, "MethodNotAllowed")),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        http::Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap()
    }

    fn requests(&self) -> Vec<(String, String, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

fn status_error(code: u16, reason: &str) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code, "message": reason })
}

/// Runs a writer over `set` until it has handled `batches`.
async fn write_all(
    recorder: &Arc<Recorder>,
    set: ResourceSet,
    batches: Vec<Vec<StatusUpdate>>,
    concurrency: usize,
) -> StatusCounts {
    let (_keep, snapshots) = watch::channel(Arc::new(ResourceSet { revision: 1, ..set }));
    let (tx, rx) = mpsc::channel(16);
    let config = StatusWriterConfig {
        concurrency,
        min_backoff: Duration::from_millis(5),
        ..StatusWriterConfig::default()
    };
    let writer = StatusWriter::spawn(recorder.client(), snapshots, rx, config);
    let metrics = writer.metrics();
    for batch in batches {
        tx.send(batch).await.unwrap();
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(30), writer.join())
        .await
        .expect("writer finished");
    metrics.counts()
}

fn gw_ref() -> ObjectRef {
    obj_ref(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        Some("default"),
        "gw",
    )
}

fn route_ref(name: &str) -> ObjectRef {
    obj_ref(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        Some("apps"),
        name,
    )
}

fn class_ref() -> ObjectRef {
    obj_ref(
        "gateway.networking.k8s.io/v1",
        "GatewayClass",
        None,
        "gatesim",
    )
}

#[tokio::test]
async fn the_writer_patches_only_what_changed() {
    let theirs = parent("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    let mut set = ResourceSet::default();
    set.insert(gateway(
        "gw",
        "10",
        json!({ "conditions": [cond("Accepted", "True", T0)] }),
    ));
    set.insert(route(
        "r",
        "11",
        vec![
            theirs.clone(),
            parent("gw", OURS, vec![cond("Accepted", "True", T0)]),
        ],
    ));
    set.insert(class(
        "gatesim",
        "12",
        json!({ "conditions": [cond("Accepted", "Unknown", EPOCH)] }),
    ));

    let batch = vec![
        // Equal but for lastTransitionTime: no request.
        StatusUpdate {
            target: gw_ref(),
            patch: StatusPatch::Whole(json!({ "conditions": [cond("Accepted", "True", EPOCH)] })),
        },
        StatusUpdate {
            target: route_ref("r"),
            patch: route_patch(vec![parent(
                "gw",
                OURS,
                vec![cond("Accepted", "True", EPOCH)],
            )]),
        },
        // No such object: skipped quietly.
        StatusUpdate {
            target: route_ref("deleted"),
            patch: route_patch(vec![]),
        },
        // Changed.
        StatusUpdate {
            target: class_ref(),
            patch: StatusPatch::Whole(json!({ "conditions": [cond("Accepted", "True", EPOCH)] })),
        },
    ];
    let recorder = Recorder::with_delay(Duration::ZERO);
    let counts = write_all(&recorder, set.clone(), vec![batch], 4).await;
    assert_eq!(
        counts,
        StatusCounts {
            written: 1,
            unchanged: 2,
            gone: 1,
            retried: 0,
            failed: 0
        }
    );
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (method, path, body) = &requests[0];
    assert_eq!(
        (method.as_str(), path.as_str()),
        (
            "PATCH",
            "/apis/gateway.networking.k8s.io/v1/gatewayclasses/gatesim/status"
        )
    );
    let time = body["status"]["conditions"][0]["lastTransitionTime"]
        .as_str()
        .unwrap();
    let written: jiff::Timestamp = time.parse().unwrap();
    assert!(
        jiff::Timestamp::now().duration_since(written).as_secs() < 60,
        "a changed condition gets the current time: {time}"
    );

    // A route whose condition changes: ours replaced, theirs kept, guarded by resourceVersion.
    let recorder = Recorder::with_delay(Duration::ZERO);
    let batch = vec![StatusUpdate {
        target: route_ref("r"),
        patch: route_patch(vec![parent(
            "gw",
            OURS,
            vec![cond("Accepted", "False", EPOCH)],
        )]),
    }];
    let counts = write_all(&recorder, set, vec![batch], 4).await;
    assert_eq!(counts.written, 1);
    let (_, path, body) = &recorder.requests()[0];
    assert_eq!(
        path,
        "/apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/r/status"
    );
    assert_eq!(body["metadata"], json!({ "resourceVersion": "11" }));
    let parents = body["status"]["parents"].as_array().unwrap();
    assert_eq!(parents[0], theirs);
    assert_eq!(parents[1]["controllerName"], OURS);
    assert_eq!(parents[1]["conditions"][0]["status"], "False");
}

/// A hand-made policy status, as K8sGateway translation will produce them: the writer reads
/// the RouteOption's status from the snapshot and patches only our ancestor entries.
#[tokio::test]
async fn a_policy_status_keeps_other_controllers_ancestors() {
    let theirs = ancestor("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    let ours = ancestor("gw", OURS, vec![cond("Accepted", "True", T0)]);
    let mut set = ResourceSet::default();
    set.insert(route_option("retries", "21", vec![theirs.clone(), ours]));
    let target = ObjectRef {
        api_version: "gateway.solo.io/v1".into(),
        kind: "RouteOption".into(),
        namespace: Some("apps".into()),
        name: "retries".into(),
    };
    let unchanged = StatusUpdate {
        target: target.clone(),
        patch: policy_patch(vec![ancestor(
            "gw",
            OURS,
            vec![cond("Accepted", "True", EPOCH)],
        )]),
    };
    let recorder = Recorder::with_delay(Duration::ZERO);
    let counts = write_all(&recorder, set.clone(), vec![vec![unchanged]], 4).await;
    assert_eq!((counts.written, counts.unchanged), (0, 1));
    assert!(recorder.requests().is_empty());

    let changed = StatusUpdate {
        target,
        patch: policy_patch(vec![ancestor(
            "gw",
            OURS,
            vec![cond("Accepted", "False", EPOCH)],
        )]),
    };
    let recorder = Recorder::with_delay(Duration::ZERO);
    let counts = write_all(&recorder, set, vec![vec![changed]], 4).await;
    assert_eq!(counts.written, 1);
    let (method, path, body) = &recorder.requests()[0];
    assert_eq!(
        (method.as_str(), path.as_str()),
        (
            "PATCH",
            "/apis/gateway.solo.io/v1/namespaces/apps/routeoptions/retries/status"
        )
    );
    assert_eq!(body["metadata"], json!({ "resourceVersion": "21" }));
    let ancestors = body["status"]["ancestors"].as_array().unwrap();
    assert_eq!(ancestors.len(), 2);
    assert_eq!(ancestors[0], theirs);
    assert_eq!(ancestors[1]["controllerName"], OURS);
    assert_eq!(ancestors[1]["conditions"][0]["status"], "False");
}

#[tokio::test]
async fn a_conflict_is_retried_after_reading_the_object_again() {
    let mut set = ResourceSet::default();
    set.insert(route("r", "11", vec![]));
    let path = "/apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/r";
    let recorder = Recorder::with_delay(Duration::ZERO);
    recorder
        .conflicts
        .lock()
        .unwrap()
        .insert(format!("{path}/status"));
    // Meanwhile another controller wrote its entry; the retry must keep it.
    let theirs = parent("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    recorder.objects.lock().unwrap().insert(
        path.to_string(),
        json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": { "name": "r", "namespace": "apps", "resourceVersion": "15" },
                "status": { "parents": [theirs.clone()] } }),
    );
    let batch = vec![StatusUpdate {
        target: route_ref("r"),
        patch: route_patch(vec![parent(
            "gw",
            OURS,
            vec![cond("Accepted", "True", EPOCH)],
        )]),
    }];
    let counts = write_all(&recorder, set, vec![batch], 4).await;
    assert_eq!(
        counts,
        StatusCounts {
            written: 1,
            unchanged: 0,
            gone: 0,
            retried: 1,
            failed: 0
        }
    );
    let requests = recorder.requests();
    let calls: Vec<_> = requests
        .iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(
        calls,
        [
            format!("PATCH {path}/status"),
            format!("GET {path}"),
            format!("PATCH {path}/status")
        ]
    );
    assert_eq!(requests[0].2["metadata"]["resourceVersion"], "11");
    let retry = &requests[2].2;
    assert_eq!(retry["metadata"]["resourceVersion"], "15");
    assert_eq!(retry["status"]["parents"][0], theirs);
    assert_eq!(retry["status"]["parents"][1]["controllerName"], OURS);
}

#[tokio::test]
async fn statuses_queued_behind_a_write_coalesce() {
    let mut set = ResourceSet::default();
    set.insert(route("r", "11", vec![]));
    let recorder = Recorder::with_delay(Duration::from_millis(50));
    let version = |v: &str| StatusUpdate {
        target: route_ref("r"),
        patch: route_patch(vec![parent(
            "gw",
            OURS,
            vec![
                json!({ "type": "Accepted", "status": "True", "reason": v, "message": "", "lastTransitionTime": EPOCH }),
            ],
        )]),
    };
    let counts = write_all(
        &recorder,
        set,
        vec![
            vec![version("v1")],
            vec![version("v2")],
            vec![version("v3")],
        ],
        4,
    )
    .await;
    let reasons: Vec<_> = recorder
        .requests()
        .iter()
        .map(|(_, _, body)| body["status"]["parents"][0]["conditions"][0]["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [json!("v1"), json!("v3")],
        "v2 was superseded before its turn"
    );
    assert_eq!(counts.written, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_route_statuses_are_written_with_bounded_concurrency() {
    let mut set = ResourceSet::default();
    let mut batch = Vec::new();
    for i in 0..1000 {
        let name = format!("r{i}");
        set.insert(route(&name, "11", vec![]));
        batch.push(StatusUpdate {
            target: route_ref(&name),
            patch: route_patch(vec![parent(
                "gw",
                OURS,
                vec![cond("Accepted", "True", EPOCH)],
            )]),
        });
    }
    let recorder = Recorder::with_delay(Duration::from_millis(2));
    let started = Instant::now();
    let counts = write_all(&recorder, set, vec![batch], 32).await;
    let elapsed = started.elapsed();
    let max = recorder.max_in_flight.load(Ordering::SeqCst);
    println!(
        "1000 route statuses written in {elapsed:?} (each answered after 2 ms; {max} at most at once)"
    );
    assert_eq!(counts.written, 1000);
    assert_eq!(recorder.requests().len(), 1000);
    assert!(
        max <= 32 && max > 8,
        "at most 32 writes at once, and more than a few: {max}"
    );
}

/// Every translation resubmits every status. A repeat of the patch last written is skipped
/// while the object stays at the version that write produced, and written again once someone
/// else changed the object (here: removed our entry), even though the patch is the same.
#[tokio::test]
async fn a_repeated_patch_is_skipped_until_the_object_changes_elsewhere() {
    let recorder = Recorder::with_delay(Duration::ZERO);
    let mut set = ResourceSet::default();
    set.insert(route("r", "11", vec![]));
    let (snapshots_tx, snapshots) = watch::channel(Arc::new(ResourceSet {
        revision: 11,
        ..set
    }));
    let (tx, rx) = mpsc::channel(16);
    let writer = StatusWriter::spawn(
        recorder.client(),
        snapshots,
        rx,
        StatusWriterConfig::default(),
    );
    let metrics = writer.metrics();
    let ours = parent("gw", OURS, vec![cond("Accepted", "True", EPOCH)]);
    let update = StatusUpdate {
        target: route_ref("r"),
        patch: route_patch(vec![ours.clone()]),
    };
    let handled = |c: StatusCounts| c.written + c.unchanged + c.gone + c.failed;
    let settle = |want: u64| {
        let metrics = Arc::clone(&metrics);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while handled(metrics.counts()) < want {
                assert!(Instant::now() < deadline, "{:?}", metrics.counts());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };

    tx.send(vec![update.clone()]).await.unwrap();
    settle(1).await;
    assert_eq!(metrics.counts().written, 1);
    // The write produced version 1000; the snapshot catches up with it.
    let written = recorder.requests()[0].2["status"]["parents"].clone();
    let mut caught_up = ResourceSet::default();
    caught_up.insert(route("r", "1000", written.as_array().unwrap().clone()));
    snapshots_tx.send_replace(Arc::new(ResourceSet {
        revision: 1000,
        ..caught_up
    }));
    tx.send(vec![update.clone()]).await.unwrap();
    settle(2).await;
    assert_eq!(metrics.counts().written, 1, "{:?}", metrics.counts());

    // Someone else empties the parents: a newer version, and our entry is gone.
    let mut overwritten = ResourceSet::default();
    overwritten.insert(route("r", "1500", vec![]));
    snapshots_tx.send_replace(Arc::new(ResourceSet {
        revision: 1500,
        ..overwritten
    }));
    tx.send(vec![update]).await.unwrap();
    settle(3).await;
    assert_eq!(metrics.counts().written, 2, "{:?}", metrics.counts());
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[1].2["metadata"],
        json!({ "resourceVersion": "1500" })
    );
    drop(tx);
    writer.join().await;
}
