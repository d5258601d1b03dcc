//! The status writer's rules (pure), its queue, and where statuses go and come from.

mod provider_support;

use std::time::{Duration, Instant};

use gatesim_reference::model::ResourceSet;
use gatesim_reference::provider::status::{Job, Lookup, Queue, api_resource, lookup_in, plan};
use gatesim_reference::translate::{ObjectRef, StatusPatch, StatusUpdate};
use provider_support::*;
use serde_json::json;

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
fn policy_ancestors_of_other_controllers_are_kept() {
    let theirs = ancestor("gw", THEIRS, vec![cond("Accepted", "True", T0)]);
    let ours = ancestor("gw", OURS, vec![cond("Accepted", "True", T0)]);
    let current = json!({ "ancestors": [ours, theirs.clone()] });

    let same = policy_patch(vec![ancestor(
        "gw",
        OURS,
        vec![cond("Accepted", "True", EPOCH)],
    )]);
    assert_eq!(plan(&same, Some(&current), Some("7"), NOW), None);

    // Our entry for `gw` changes (a new condition beside the unchanged one keeps its time),
    // and one for `gw2` appears.
    let changed = policy_patch(vec![
        ancestor(
            "gw",
            OURS,
            vec![
                cond("Accepted", "True", EPOCH),
                cond("Attached", "False", EPOCH),
            ],
        ),
        ancestor("gw2", OURS, vec![cond("Accepted", "True", EPOCH)]),
    ]);
    let body = plan(&changed, Some(&current), Some("7"), NOW).unwrap();
    assert_eq!(
        body,
        json!({
            "metadata": { "resourceVersion": "7" },
            "status": { "ancestors": [
                theirs.clone(),
                ancestor("gw", OURS, vec![cond("Accepted", "True", T0), cond("Attached", "False", NOW)]),
                ancestor("gw2", OURS, vec![cond("Accepted", "True", NOW)]),
            ] },
        })
    );

    // Nothing left to say: only our entries go.
    let body = plan(&policy_patch(vec![]), Some(&current), Some("8"), NOW).unwrap();
    assert_eq!(body["status"], json!({ "ancestors": [theirs] }));
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
