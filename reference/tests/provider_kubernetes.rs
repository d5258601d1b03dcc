//! The Kubernetes provider's reflector, fed watcher events by hand (no API server).

use std::time::Duration;

use gatesim_reference::api::{GatewayClass, HttpRoute, ObjectMeta, RouteOption, Service};
use gatesim_reference::model::{
    ControllerConfig, KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds,
};
use gatesim_reference::provider::kubernetes::{Index, KubernetesProvider};
use kube::runtime::watcher::Event;

fn meta(namespace: Option<&str>, name: &str, resource_version: u64) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        resource_version: Some(resource_version.to_string()),
        ..ObjectMeta::default()
    }
}

fn mk_route(namespace: &str, name: &str, resource_version: u64) -> HttpRoute {
    HttpRoute {
        metadata: meta(Some(namespace), name, resource_version),
        spec: Default::default(),
        status: None,
    }
}

fn mk_service(namespace: &str, name: &str, resource_version: u64) -> Service {
    Service {
        metadata: meta(Some(namespace), name, resource_version),
        ..Service::default()
    }
}

fn mk_class(name: &str, resource_version: u64) -> GatewayClass {
    GatewayClass {
        metadata: meta(None, name, resource_version),
        spec: Default::default(),
        status: None,
    }
}

fn config() -> ControllerConfig {
    ControllerConfig {
        controller_name: "example.com/test".into(),
        ..ControllerConfig::default()
    }
}

/// Completes an empty initial list of every kind but `except`, as the watchers do on start.
fn list_empty_except(index: &mut Index, except: &[&str]) {
    struct Listed<'a>(&'a mut Index, &'a [&'a str]);
    impl KindVisitorMut for Listed<'_> {
        fn visit<K: StoredKind>(&mut self) {
            if !self.1.contains(&K::kind(&()).as_ref()) {
                self.0.apply::<K>(&Event::Init);
                self.0.apply::<K>(&Event::InitDone);
            }
        }
    }
    visit_all_kinds(&mut Listed(index, except));
}

fn list_everything_empty(index: &mut Index) {
    list_empty_except(index, &[]);
}

fn route_keys(set: &ResourceSet) -> Vec<String> {
    set.http_routes.keys().map(ToString::to_string).collect()
}

#[test]
fn nothing_is_published_until_every_kind_has_listed() {
    let mut index = Index::new(config());
    index.apply::<HttpRoute>(&Event::Init);
    index.apply(&Event::InitApply(mk_route("apps", "a", 5)));
    index.apply::<HttpRoute>(&Event::InitDone);
    index.apply::<GatewayClass>(&Event::Init);
    index.apply(&Event::InitApply(mk_class("gatesim", 7)));
    index.apply::<GatewayClass>(&Event::InitDone);
    assert!(!index.is_ready());
    assert!(
        index.take_snapshot().is_none(),
        "services and the rest have not listed yet"
    );

    list_empty_except(&mut index, &["HTTPRoute", "GatewayClass"]);
    assert!(index.is_ready());
    let snapshot = index.take_snapshot().expect("first snapshot");
    assert_eq!(route_keys(&snapshot), ["apps/a"]);
    assert!(
        snapshot
            .gateway_classes
            .contains_key(&ObjectKey::cluster("gatesim"))
    );
    assert_eq!(snapshot.len(), 2);
    assert_eq!(snapshot.revision, 7, "the highest resourceVersion seen");
    assert_eq!(snapshot.config, config());
    assert!(index.take_snapshot().is_none(), "no change, no snapshot");
}

#[test]
fn initial_lists_fill_the_snapshot() {
    let mut index = Index::new(config());
    list_everything_empty(&mut index);
    index.take_snapshot();
    index.apply::<HttpRoute>(&Event::Init);
    index.apply(&Event::InitApply(mk_route("apps", "a", 5)));
    index.apply(&Event::InitApply(mk_route("apps", "b", 6)));
    assert!(
        index.take_snapshot().is_none(),
        "half a list is never published"
    );
    index.apply::<HttpRoute>(&Event::InitDone);
    let snapshot = index.take_snapshot().unwrap();
    assert_eq!(route_keys(&snapshot), ["apps/a", "apps/b"]);
    assert_eq!(snapshot.revision, 6);
}

#[test]
fn applies_and_deletes_change_the_snapshot_and_raise_the_revision() {
    let mut index = Index::new(config());
    list_everything_empty(&mut index);
    index.take_snapshot();

    index.apply(&Event::Apply(mk_route("apps", "a", 10)));
    index.apply(&Event::Apply(mk_service("apps", "svc", 11)));
    index.apply(&Event::Apply(mk_class("gatesim", 12)));
    let s1 = index.take_snapshot().unwrap();
    assert_eq!(route_keys(&s1), ["apps/a"]);
    assert!(s1.services.contains_key(&ObjectKey::new("apps", "svc")));
    assert!(
        s1.gateway_classes
            .contains_key(&ObjectKey::cluster("gatesim"))
    );
    assert_eq!(s1.revision, 12);

    // A deletion carries the resourceVersion of the deletion itself.
    index.apply(&Event::Delete(mk_route("apps", "a", 13)));
    let s2 = index.take_snapshot().unwrap();
    assert!(s2.http_routes.is_empty());
    assert_eq!(s2.revision, 13, "the revision covers deletions");
    assert_eq!(
        route_keys(&s1),
        ["apps/a"],
        "published snapshots are immutable"
    );

    // An update replaces the object.
    let mut updated = mk_service("apps", "svc", 20);
    updated.metadata.labels = Some([("v".to_string(), "2".to_string())].into());
    index.apply(&Event::Apply(updated));
    let s3 = index.take_snapshot().unwrap();
    assert_eq!(
        s3.services[&ObjectKey::new("apps", "svc")]
            .metadata
            .labels
            .as_ref()
            .unwrap()["v"],
        "2"
    );
    assert_eq!(s3.revision, 20);
}

/// A snapshot per watch event must not copy the whole set: a kind the event did not touch is
/// the previous snapshot's store itself (which also lets translation see it unchanged at a
/// glance), and the touched kind shares all but the changed path.
#[test]
fn snapshots_share_what_did_not_change() {
    let mut index = Index::new(config());
    list_everything_empty(&mut index);
    index.take_snapshot();
    for i in 0..500 {
        index.apply(&Event::Apply(mk_route("apps", &format!("r{i:03}"), 10 + i)));
    }
    index.apply(&Event::Apply(mk_service("apps", "svc", 600)));
    let s1 = index.take_snapshot().unwrap();

    index.apply(&Event::Apply(mk_route("apps", "r250", 700)));
    let s2 = index.take_snapshot().unwrap();
    assert!(
        s1.services.ptr_eq(&s2.services),
        "an untouched kind is shared"
    );
    assert!(s1.gateways.ptr_eq(&s2.gateways));
    assert!(
        !s1.http_routes.ptr_eq(&s2.http_routes),
        "the touched kind is new"
    );
    assert_eq!(s2.http_routes.len(), 500);
    let changed = s1.http_routes.diff(&s2.http_routes).count();
    assert_eq!(changed, 1, "only the updated route differs");
    assert_eq!(
        s1.http_routes[&ObjectKey::new("apps", "r250")]
            .metadata
            .resource_version
            .as_deref(),
        Some("260"),
        "the earlier snapshot keeps its version"
    );
}

#[test]
fn a_relist_after_a_watch_restart_drops_objects_deleted_meanwhile() {
    let mut index = Index::new(config());
    list_everything_empty(&mut index);
    index.apply(&Event::Apply(mk_route("apps", "a", 10)));
    index.apply(&Event::Apply(mk_route("apps", "b", 11)));
    let before = index.take_snapshot().unwrap();

    // The same list again: nothing to publish.
    index.apply::<HttpRoute>(&Event::Init);
    index.apply(&Event::InitApply(mk_route("apps", "a", 10)));
    index.apply(&Event::InitApply(mk_route("apps", "b", 11)));
    index.apply::<HttpRoute>(&Event::InitDone);
    assert!(
        index.take_snapshot().is_none(),
        "an identical re-list publishes nothing"
    );

    // `b` was deleted while the watch was down; `a` changed.
    index.apply::<HttpRoute>(&Event::Init);
    index.apply(&Event::InitApply(mk_route("apps", "a", 15)));
    assert_eq!(
        route_keys(index.current()),
        ["apps/a", "apps/b"],
        "the old state serves until the list is complete"
    );
    // Another kind changes meanwhile: its snapshot must not claim the unfinished list.
    index.apply(&Event::Apply(mk_service("apps", "svc", 14)));
    let during = index.take_snapshot().unwrap();
    assert_eq!(during.revision, 14);
    assert_eq!(route_keys(&during), ["apps/a", "apps/b"]);
    index.apply::<HttpRoute>(&Event::InitDone);
    let after = index.take_snapshot().unwrap();
    assert_eq!(route_keys(&after), ["apps/a"]);
    assert_eq!(after.revision, 15);
    assert!(after.revision > before.revision);
}

#[test]
fn the_revision_never_goes_back() {
    let mut index = Index::new(config());
    list_everything_empty(&mut index);
    index.apply(&Event::Apply(mk_service("apps", "a", 30)));
    index.apply(&Event::Apply(mk_service("apps", "b", 25)));
    assert_eq!(index.take_snapshot().unwrap().revision, 30);
}

/// A real client against a closed loopback port: every watch fails, and the provider keeps
/// retrying instead of stopping, and publishes nothing.
#[tokio::test]
async fn watch_errors_do_not_stop_the_provider() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let (mut rx, provider) = KubernetesProvider::start(client, config());
    assert_eq!(rx.borrow_and_update().revision, 0);
    let published = tokio::time::timeout(Duration::from_millis(1500), rx.changed()).await;
    assert!(
        published.is_err(),
        "nothing to publish without a successful list"
    );
    assert!(
        !provider.is_finished(),
        "watch errors are retried, not fatal"
    );
}

fn mk_route_option(name: &str, resource_version: u64) -> RouteOption {
    RouteOption {
        metadata: meta(Some("apps"), name, resource_version),
        spec: Default::default(),
        status: None,
    }
}

#[test]
fn a_kind_the_server_does_not_serve_is_empty_and_holds_nothing_back() {
    let mut index = Index::new(config());
    list_empty_except(&mut index, &["RouteOption"]);
    assert!(!index.is_ready(), "RouteOption has not listed");
    assert!(index.not_served::<RouteOption>(), "news the first time");
    assert!(!index.not_served::<RouteOption>(), "said once");
    assert!(!index.is_served::<RouteOption>());
    assert!(index.is_ready());
    assert!(index.take_snapshot().unwrap().route_options.is_empty());

    // The CRD appears: the next list fills the kind.
    index.apply::<RouteOption>(&Event::Init);
    index.apply(&Event::InitApply(mk_route_option("a", 40)));
    index.apply::<RouteOption>(&Event::InitDone);
    assert!(index.is_served::<RouteOption>());
    let listed = index.take_snapshot().unwrap();
    assert!(
        listed
            .route_options
            .contains_key(&ObjectKey::new("apps", "a"))
    );
    assert_eq!(listed.revision, 40);

    // The CRD goes: the kind empties, and a new snapshot says so.
    assert!(index.not_served::<RouteOption>());
    assert!(index.take_snapshot().unwrap().route_options.is_empty());
    assert!(index.take_snapshot().is_none());
}
