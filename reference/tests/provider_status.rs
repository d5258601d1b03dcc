//! The status writer: its rules (pure), its queue, and its requests through a real `kube`
//! client whose transport is an in-process request recorder (no API server, no network).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesim_reference::api::{Gateway, GatewayClass, HttpRoute};
use gatesim_reference::model::ResourceSet;
use gatesim_reference::provider::status::{
    Job, Lookup, Queue, StatusCounts, StatusWriter, StatusWriterConfig, api_resource, lookup_in,
    plan,
};
use gatesim_reference::translate::{ObjectRef, StatusPatch, StatusUpdate};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

const EPOCH: &str = "1970-01-01T00:00:00Z";
const T0: &str = "2024-05-01T10:00:00Z";
const NOW: &str = "2025-01-02T03:04:05Z";
const OURS: &str = "gatesim.dev/reference-controller";
const THEIRS: &str = "example.com/other-controller";

fn cond(kind: &str, status: &str, time: &str) -> Value {
    json!({ "type": kind, "status": status, "reason": kind, "message": "", "observedGeneration": 2, "lastTransitionTime": time })
}

fn parent(gateway: &str, controller: &str, conditions: Vec<Value>) -> Value {
    json!({
        "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway },
        "controllerName": controller,
        "conditions": conditions,
    })
}

// ---- the rules ----

#[test]
fn no_write_when_only_last_transition_time_differs() {
    let current =
        json!({ "conditions": [cond("Accepted", "True", T0), cond("Programmed", "True", T0)] });
    let desired = json!({ "conditions": [cond("Accepted", "True", EPOCH), cond("Programmed", "True", EPOCH)] });
    assert_eq!(
        plan(&StatusPatch::Whole(desired), Some(&current), Some("7"), NOW),
        None
    );
}

#[test]
fn a_changed_condition_gets_now_and_the_others_keep_their_time() {
    let current =
        json!({ "conditions": [cond("Accepted", "True", T0), cond("Programmed", "True", T0)] });
    let desired = json!({ "conditions": [cond("Accepted", "True", EPOCH), cond("Programmed", "False", EPOCH), cond("Ready", "True", EPOCH)] });
    let body = plan(&StatusPatch::Whole(desired), Some(&current), Some("7"), NOW).expect("a write");
    assert_eq!(
        body,
        json!({ "status": { "conditions": [cond("Accepted", "True", T0), cond("Programmed", "False", NOW), cond("Ready", "True", NOW)] } })
    );
}

#[test]
fn a_new_reason_is_written_but_keeps_the_transition_time() {
    let current = json!({ "conditions": [cond("Accepted", "False", T0)] });
    let mut changed = cond("Accepted", "False", EPOCH);
    changed["reason"] = json!("NotAllowedByListeners");
    let body = plan(
        &StatusPatch::Whole(json!({ "conditions": [changed.clone()] })),
        Some(&current),
        None,
        NOW,
    )
    .unwrap();
    changed["lastTransitionTime"] = json!(T0);
    assert_eq!(body, json!({ "status": { "conditions": [changed] } }));
}

#[test]
fn observed_generation_comes_from_the_translator() {
    let current = json!({ "conditions": [cond("Accepted", "True", T0)] });
    let mut newer = cond("Accepted", "True", EPOCH);
    newer["observedGeneration"] = json!(3);
    let body = plan(
        &StatusPatch::Whole(json!({ "conditions": [newer.clone()] })),
        Some(&current),
        None,
        NOW,
    )
    .unwrap();
    newer["lastTransitionTime"] = json!(T0);
    assert_eq!(
        body,
        json!({ "status": { "conditions": [newer] } }),
        "generation 3 written, time kept"
    );
}

#[test]
fn listener_conditions_are_matched_by_listener_name_and_dropped_fields_are_removed() {
    let current = json!({
        "addresses": [{ "type": "IPAddress", "value": "127.0.10.1" }],
        "conditions": [cond("Accepted", "True", T0)],
        "listeners": [
            { "name": "http", "attachedRoutes": 1, "conditions": [cond("Accepted", "True", T0)] },
            { "name": "https", "attachedRoutes": 0, "conditions": [cond("Accepted", "True", T0)] },
        ],
    });
    // The listeners in another order, one route more on `http`, and no addresses any more.
    let desired = json!({
        "conditions": [cond("Accepted", "True", EPOCH)],
        "listeners": [
            { "name": "https", "attachedRoutes": 0, "conditions": [cond("Accepted", "True", EPOCH)] },
            { "name": "http", "attachedRoutes": 2, "conditions": [cond("Accepted", "True", EPOCH)] },
        ],
    });
    let body = plan(&StatusPatch::Whole(desired), Some(&current), None, NOW).unwrap();
    assert_eq!(
        body,
        json!({ "status": {
            "addresses": null,
            "listeners": [
                { "name": "https", "attachedRoutes": 0, "conditions": [cond("Accepted", "True", T0)] },
                { "name": "http", "attachedRoutes": 2, "conditions": [cond("Accepted", "True", T0)] },
            ],
        } })
    );
}

#[test]
fn a_first_status_is_written_whole_with_times_set_to_now() {
    let desired = json!({ "conditions": [cond("Accepted", "True", EPOCH)], "unset": null });
    let body = plan(&StatusPatch::Whole(desired), None, Some("3"), NOW).unwrap();
    assert_eq!(
        body,
        json!({ "status": { "conditions": [cond("Accepted", "True", NOW)] } })
    );
    assert_eq!(
        plan(&StatusPatch::Whole(json!({})), None, None, NOW),
        None,
        "nothing to say, nothing written"
    );
}

fn route_patch(parents: Vec<Value>) -> StatusPatch {
    StatusPatch::RouteParents {
        controller_name: OURS.into(),
        parents,
    }
}

#[test]
fn route_parents_of_other_controllers_are_kept() {
    let theirs = parent("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    let current = json!({ "parents": [theirs.clone(), parent("gw", OURS, vec![cond("Accepted", "True", T0)])] });

    let same = route_patch(vec![parent(
        "gw",
        OURS,
        vec![cond("Accepted", "True", EPOCH)],
    )]);
    assert_eq!(plan(&same, Some(&current), Some("41"), NOW), None);

    let changed = route_patch(vec![
        parent("gw", OURS, vec![cond("Accepted", "False", EPOCH)]),
        parent("gw2", OURS, vec![cond("Accepted", "True", EPOCH)]),
    ]);
    let body = plan(&changed, Some(&current), Some("41"), NOW).unwrap();
    assert_eq!(
        body,
        json!({
            "metadata": { "resourceVersion": "41" },
            "status": { "parents": [
                theirs,
                parent("gw", OURS, vec![cond("Accepted", "False", NOW)]),
                parent("gw2", OURS, vec![cond("Accepted", "True", NOW)]),
            ] },
        })
    );
}

#[test]
fn an_empty_parent_list_removes_only_ours() {
    let theirs = parent("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    let current = json!({ "parents": [parent("gw", OURS, vec![cond("Accepted", "True", T0)]), theirs.clone()] });
    let body = plan(&route_patch(vec![]), Some(&current), Some("5"), NOW).unwrap();
    assert_eq!(body["status"], json!({ "parents": [theirs.clone()] }));
    let only_theirs = json!({ "parents": [theirs] });
    assert_eq!(
        plan(&route_patch(vec![]), Some(&only_theirs), Some("6"), NOW),
        None
    );
    assert_eq!(plan(&route_patch(vec![]), None, Some("6"), NOW), None);
}

#[test]
fn our_parent_entries_get_our_controller_name() {
    let mut entry = parent("gw", OURS, vec![cond("Accepted", "True", EPOCH)]);
    entry.as_object_mut().unwrap().remove("controllerName");
    let body = plan(&route_patch(vec![entry]), None, None, NOW).unwrap();
    assert_eq!(
        body,
        json!({ "status": { "parents": [parent("gw", OURS, vec![cond("Accepted", "True", NOW)])] } })
    );
}

// ---- the queue ----

fn target(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "HTTPRoute".into(),
        namespace: Some("apps".into()),
        name: name.into(),
    }
}

fn update(name: &str, version: u64) -> StatusUpdate {
    StatusUpdate {
        target: target(name),
        patch: route_patch(vec![json!({ "version": version })]),
    }
}

fn job(name: &str, version: u64, attempt: u32) -> Job {
    let update = update(name, version);
    Job {
        target: update.target,
        patch: update.patch,
        attempt,
    }
}

#[test]
fn the_latest_desired_status_per_object_wins() {
    let mut queue = Queue::default();
    let now = Instant::now();
    queue.submit(update("a", 1));
    queue.submit(update("b", 1));
    queue.submit(update("a", 2));
    assert_eq!(queue.next_job(now), Some(job("a", 2, 0)));
    assert_eq!(queue.next_job(now), Some(job("b", 1, 0)));
    assert_eq!(queue.next_job(now), None);
}

#[test]
fn an_object_is_never_written_twice_at_once() {
    let mut queue = Queue::default();
    let now = Instant::now();
    queue.submit(update("a", 1));
    let first = queue.next_job(now).unwrap();
    queue.submit(update("a", 2));
    queue.submit(update("a", 3));
    assert_eq!(queue.next_job(now), None, "a is in flight");
    queue.finish(&first.target, None);
    assert_eq!(queue.next_job(now), Some(job("a", 3, 0)));
    queue.finish(&target("a"), None);
    assert!(queue.is_idle());
}

#[test]
fn a_failed_write_comes_back_after_its_delay_unless_superseded() {
    let mut queue = Queue::default();
    let now = Instant::now();
    queue.submit(update("a", 1));
    let first = queue.next_job(now).unwrap();
    let later = now + Duration::from_millis(50);
    queue.finish(
        &target("a"),
        Some((
            Job {
                attempt: 1,
                ..first
            },
            later,
        )),
    );
    assert_eq!(queue.next_wakeup(), Some(later));
    assert_eq!(queue.next_job(now), None, "not before its time");
    assert_eq!(queue.next_job(later), Some(job("a", 1, 1)));
    queue.finish(
        &target("a"),
        Some((job("a", 1, 2), later + Duration::from_millis(100))),
    );

    // A new desired status replaces the retry and goes at once, as a first attempt.
    queue.submit(update("a", 2));
    assert_eq!(queue.next_job(later), Some(job("a", 2, 0)));
    queue.finish(&target("a"), None);
    assert_eq!(
        queue.next_job(later + Duration::from_secs(1)),
        None,
        "the stale retry is gone"
    );
    assert!(queue.is_idle());
}

#[test]
fn a_status_arriving_during_a_failed_write_supersedes_the_retry() {
    let mut queue = Queue::default();
    let now = Instant::now();
    queue.submit(update("a", 1));
    let first = queue.next_job(now).unwrap();
    queue.submit(update("a", 2));
    queue.finish(
        &target("a"),
        Some((
            Job {
                attempt: 1,
                ..first
            },
            now + Duration::from_secs(1),
        )),
    );
    assert_eq!(queue.next_job(now), Some(job("a", 2, 0)));
}

// ---- targets and the snapshot as status source ----

fn obj_ref(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
        name: name.into(),
    }
}

#[test]
fn every_kind_maps_to_its_api_resource() {
    let cases = [
        (
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "gateway.networking.k8s.io",
            "v1",
            "httproutes",
        ),
        (
            "gateway.networking.k8s.io/v1",
            "GatewayClass",
            "gateway.networking.k8s.io",
            "v1",
            "gatewayclasses",
        ),
        (
            "gateway.networking.k8s.io/v1beta1",
            "ReferenceGrant",
            "gateway.networking.k8s.io",
            "v1beta1",
            "referencegrants",
        ),
        // Kinds the model does not store yet take the same path.
        (
            "gateway.networking.k8s.io/v1",
            "GRPCRoute",
            "gateway.networking.k8s.io",
            "v1",
            "grpcroutes",
        ),
        (
            "gateway.networking.k8s.io/v1alpha2",
            "TLSRoute",
            "gateway.networking.k8s.io",
            "v1alpha2",
            "tlsroutes",
        ),
        (
            "gateway.kgateway.dev/v1alpha1",
            "DirectResponse",
            "gateway.kgateway.dev",
            "v1alpha1",
            "directresponses",
        ),
        (
            "gateway.kgateway.dev/v1alpha1",
            "GatewayParameters",
            "gateway.kgateway.dev",
            "v1alpha1",
            "gatewayparameters",
        ),
        (
            "gloo.solo.io/v1",
            "Settings",
            "gloo.solo.io",
            "v1",
            "settings",
        ),
        (
            "gateway.solo.io/v1",
            "VirtualHostOption",
            "gateway.solo.io",
            "v1",
            "virtualhostoptions",
        ),
        (
            "gloo.solo.io/v1",
            "Upstream",
            "gloo.solo.io",
            "v1",
            "upstreams",
        ),
        ("v1", "Service", "", "v1", "services"),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "discovery.k8s.io",
            "v1",
            "endpointslices",
        ),
    ];
    for (api_version, kind, group, version, plural) in cases {
        let resource = api_resource(&obj_ref(api_version, kind, Some("ns"), "x"));
        assert_eq!(
            (
                resource.group.as_str(),
                resource.version.as_str(),
                resource.plural.as_str()
            ),
            (group, version, plural),
            "{kind}"
        );
        assert_eq!(resource.api_version, api_version);
    }
}

fn gateway(name: &str, resource_version: &str, status: Value) -> Gateway {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": { "name": name, "namespace": "default", "resourceVersion": resource_version, "generation": 2 },
        "spec": { "gatewayClassName": "gatesim", "listeners": [{ "name": "http", "port": 80, "protocol": "HTTP" }] },
        "status": status,
    }))
    .unwrap()
}

fn route(name: &str, resource_version: &str, parents: Vec<Value>) -> HttpRoute {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": { "name": name, "namespace": "apps", "resourceVersion": resource_version, "generation": 2 },
        "spec": {},
        "status": { "parents": parents },
    }))
    .unwrap()
}

fn class(name: &str, resource_version: &str, status: Value) -> GatewayClass {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": { "name": name, "resourceVersion": resource_version, "generation": 1 },
        "spec": { "controllerName": OURS },
        "status": status,
    }))
    .unwrap()
}

#[test]
fn the_snapshot_answers_status_lookups() {
    let mut set = ResourceSet::default();
    let status = json!({ "conditions": [cond("Accepted", "True", T0)] });
    set.insert(gateway("gw", "12", status.clone()));
    let gw = obj_ref(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        Some("default"),
        "gw",
    );
    assert_eq!(
        lookup_in(&set, &gw),
        Lookup::Found {
            status: Some(status),
            resource_version: Some("12".into())
        }
    );
    let missing = obj_ref(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        Some("default"),
        "nope",
    );
    assert_eq!(lookup_in(&set, &missing), Lookup::Missing);
    let other_kind = obj_ref(
        "gateway.networking.k8s.io/v1",
        "GRPCRoute",
        Some("default"),
        "gw",
    );
    assert_eq!(
        lookup_in(&set, &other_kind),
        Lookup::Unknown,
        "kinds not in the snapshot are read from the API"
    );
}

// ---- the writer, through a real client ----

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
