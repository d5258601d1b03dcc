//! A `Translator` reuses parts of its previous output; whatever sequence of inputs it sees,
//! its output must be exactly `translate()`'s. Each case applies one random sequence of edits
//! to every golden input (every feature the golden tests cover: listeners and hostnames,
//! policies, delegation, TLS, ...), the way users and providers make them: a route changed in
//! place, added, removed or replaced by an equal copy, and other objects touched or removed.

mod golden_support;

use std::sync::{Arc, OnceLock};

use gatesim_reference::model::{AnyObject, ObjectKey, ProxyProgress, ResourceSet};
use gatesim_reference::translate::{self, Translator};
use gatesim_reference::xds::{ResourceType, Snapshot};
use golden_support::{cases, golden_dir, input, load, with_addresses};
use proptest::prelude::*;
use serde_json::json;

/// The golden Services, and per Gateway of `gateways` (HTTP on port 80) `routes` HTTPRoutes
/// `<gateway>-r<i>` for host `r<i>.<gateway>.example.com`.
fn routes_on(gateways: &[&str], routes: usize) -> ResourceSet {
    let mut set = ResourceSet::default();
    load(&mut set, &golden_dir().join("shared.yaml"));
    let mut insert = |v: serde_json::Value| {
        set.insert_any(AnyObject::from_value(v).expect("a stored kind"));
    };
    for gw in gateways {
        insert(
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": gw, "namespace": "default", "generation": 1},
            "spec": {"gatewayClassName": "gatesim", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP"}]}}),
        );
        for i in 0..routes {
            insert(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": format!("{gw}-r{i}"), "namespace": "default", "generation": 1},
                "spec": {"parentRefs": [{"name": gw}],
                    "hostnames": [format!("r{i}.{gw}.example.com")],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": format!("/{i}")}}],
                               "backendRefs": [{"name": "svc-a", "port": 8080}]}]}}),
            );
        }
    }
    with_addresses(&mut set);
    set
}

/// Every golden input, as the golden tests translate it (read once).
fn inputs() -> &'static [(String, ResourceSet)] {
    static INPUTS: OnceLock<Vec<(String, ResourceSet)>> = OnceLock::new();
    INPUTS.get_or_init(read_inputs)
}

fn read_inputs() -> Vec<(String, ResourceSet)> {
    cases()
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            (name, input(&dir))
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Edit {
    /// A route's first path match gets another value.
    Path(usize, u8),
    /// A route's hostnames become one of a few (none among them).
    Hostnames(usize, u8),
    /// A route's first parentRef names another listener, or none.
    Section(usize, u8),
    /// A route is removed.
    RemoveRoute(usize),
    /// A route is copied under a new name.
    CopyRoute(usize, u8),
    /// A route is replaced by an equal copy (a new object, as a provider may decode one).
    Refresh(usize),
    /// A Service is replaced by an equal copy.
    TouchService(usize),
    /// A Service is removed.
    RemoveService(usize),
    /// A Gateway's first listener gets another hostname, or none.
    ListenerHostname(usize, u8),
    /// A VirtualHostOption is removed.
    RemoveVirtualHostOption(usize),
    /// A RouteOption is removed.
    RemoveRouteOption(usize),
    /// An EndpointSlice loses its first endpoint (a whole Gateway's configuration may be
    /// taken over only while the slices are the same).
    DropEndpoint(usize),
    /// A Pod's labels are swapped for another Pod's (a kube Upstream's selector picks its
    /// endpoints by them, so this too must rebuild a Gateway's configuration).
    RelabelPod(usize, usize),
    /// Two Pods swap addresses (a change of status only, which endpoints without a
    /// `targetRef` still read).
    SwapPodAddresses(usize, usize),
    /// A Gateway's proxy moves on: pending, acknowledged, rejected (with the controller
    /// reporting Programmed on ACK, so the Gateway's status reads it).
    ProxyProgress(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<usize>();
    prop_oneof![
        (i, any::<u8>()).prop_map(|(i, v)| Edit::Path(i, v)),
        (i, any::<u8>()).prop_map(|(i, v)| Edit::Hostnames(i, v)),
        (i, any::<u8>()).prop_map(|(i, v)| Edit::Section(i, v)),
        i.prop_map(Edit::RemoveRoute),
        (i, any::<u8>()).prop_map(|(i, v)| Edit::CopyRoute(i, v)),
        i.prop_map(Edit::Refresh),
        i.prop_map(Edit::TouchService),
        i.prop_map(Edit::RemoveService),
        (i, any::<u8>()).prop_map(|(i, v)| Edit::ListenerHostname(i, v)),
        i.prop_map(Edit::RemoveVirtualHostOption),
        i.prop_map(Edit::RemoveRouteOption),
        i.prop_map(Edit::DropEndpoint),
        (i, i).prop_map(|(a, b)| Edit::RelabelPod(a, b)),
        (i, i).prop_map(|(a, b)| Edit::SwapPodAddresses(a, b)),
        (i, any::<u8>()).prop_map(|(i, v)| Edit::ProxyProgress(i, v)),
    ]
}

fn nth_key<K>(store: &gatesim_reference::model::Store<K>, i: usize) -> Option<ObjectKey> {
    (!store.is_empty()).then(|| store.keys().nth(i % store.len()).cloned())?
}

fn apply(set: &mut ResourceSet, edit: &Edit) {
    let route_key = |set: &ResourceSet, i: usize| nth_key(&set.http_routes, i);
    match *edit {
        Edit::Path(i, v) | Edit::Hostnames(i, v) | Edit::Section(i, v) => {
            let Some(key) = route_key(set, i) else { return };
            let mut route = (*set.http_routes[&key]).clone();
            match edit {
                Edit::Path(..) => {
                    let path = route
                        .spec
                        .rules
                        .iter_mut()
                        .flatten()
                        .flat_map(|r| r.matches.iter_mut().flatten())
                        .find_map(|m| m.path.as_mut());
                    if let Some(p) = path {
                        p.value = Some(format!("/edited/{v}"));
                    }
                }
                Edit::Hostnames(..) => {
                    route.spec.hostnames = match v % 4 {
                        0 => None,
                        1 => Some(vec!["edited.example.com".into()]),
                        2 => Some(vec!["*.example.com".into()]),
                        _ => Some(vec!["a.example.com".into(), "b.example.com".into()]),
                    };
                }
                _ => {
                    if let Some(p) = route.spec.parent_refs.iter_mut().flatten().next() {
                        p.section_name = match v % 3 {
                            0 => None,
                            1 => Some("http".into()),
                            _ => Some("https".into()),
                        };
                    }
                }
            }
            set.http_routes.insert(key, Arc::new(route));
        }
        Edit::RemoveRoute(i) => {
            if let Some(key) = route_key(set, i) {
                set.http_routes.remove(&key);
            }
        }
        Edit::CopyRoute(i, v) => {
            let Some(key) = route_key(set, i) else { return };
            let mut route = (*set.http_routes[&key]).clone();
            let name = format!("{}-copy-{v}", key.name);
            route.metadata.name = Some(name.clone());
            set.http_routes
                .insert(ObjectKey::new(&key.namespace, name), Arc::new(route));
        }
        Edit::Refresh(i) => {
            if let Some(key) = route_key(set, i) {
                let copy = (*set.http_routes[&key]).clone();
                set.http_routes.insert(key, Arc::new(copy));
            }
        }
        Edit::TouchService(i) => {
            if let Some(key) = nth_key(&set.services, i) {
                let copy = (*set.services[&key]).clone();
                set.services.insert(key, Arc::new(copy));
            }
        }
        Edit::RemoveService(i) => {
            if let Some(key) = nth_key(&set.services, i) {
                set.services.remove(&key);
            }
        }
        Edit::ListenerHostname(i, v) => {
            let Some(key) = nth_key(&set.gateways, i) else {
                return;
            };
            let mut gateway = (*set.gateways[&key]).clone();
            if let Some(l) = gateway.spec.listeners.first_mut() {
                l.hostname = match v % 3 {
                    0 => None,
                    1 => Some("*.example.com".into()),
                    _ => Some("edited.example.com".into()),
                };
            }
            set.gateways.insert(key, Arc::new(gateway));
        }
        Edit::DropEndpoint(i) => {
            if let Some(key) = nth_key(&set.endpoint_slices, i) {
                let mut slice = (*set.endpoint_slices[&key]).clone();
                if !slice.endpoints.is_empty() {
                    slice.endpoints.remove(0);
                }
                set.endpoint_slices.insert(key, Arc::new(slice));
            }
        }
        Edit::RelabelPod(i, j) => {
            let (Some(key), Some(from)) = (nth_key(&set.pods, i), nth_key(&set.pods, j)) else {
                return;
            };
            let mut pod = (*set.pods[&key]).clone();
            pod.metadata.labels = set.pods[&from].metadata.labels.clone();
            if key == from {
                pod.metadata.labels = None;
            }
            set.pods.insert(key, Arc::new(pod));
        }
        Edit::SwapPodAddresses(i, j) => {
            let (Some(a), Some(b)) = (nth_key(&set.pods, i), nth_key(&set.pods, j)) else {
                return;
            };
            let (mut pa, mut pb) = ((*set.pods[&a]).clone(), (*set.pods[&b]).clone());
            std::mem::swap(&mut pa.status, &mut pb.status);
            set.pods.insert(a, Arc::new(pa));
            set.pods.insert(b, Arc::new(pb));
        }
        Edit::RemoveVirtualHostOption(i) => {
            if let Some(key) = nth_key(&set.virtual_host_options, i) {
                set.virtual_host_options.remove(&key);
            }
        }
        Edit::RemoveRouteOption(i) => {
            if let Some(key) = nth_key(&set.route_options, i) {
                set.route_options.remove(&key);
            }
        }
        Edit::ProxyProgress(i, v) => {
            if let Some(key) = nth_key(&set.gateways, i) {
                set.config.programmed_on_ack = true;
                let progress = match v % 3 {
                    0 => ProxyProgress::Pending,
                    1 => ProxyProgress::Acknowledged,
                    _ => ProxyProgress::Rejected(format!("rejected {v}")),
                };
                set.proxy_progress.insert(key, progress);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every golden input goes through the same random edits.
    #[test]
    fn reuse_changes_nothing(edits in prop::collection::vec(edit(), 1..8)) {
        for (name, set) in inputs() {
            let mut set = set.clone();
            let mut translator = Translator::default();
            prop_assert!(
                *translator.translate(&set) == translate::translate(&set),
                "{name}: first translation"
            );
            for (n, e) in edits.iter().enumerate() {
                apply(&mut set, e);
                let full = translate::translate(&set);
                prop_assert!(
                    *translator.translate(&set) == full,
                    "{name}: after edit {n} ({e:?}) the reused translation differs from a full one"
                );
            }
        }
    }
}

/// Reuse must actually happen, or the property above holds trivially: after one route of many
/// is edited, every other route's virtual hosts and status are taken over, and only the
/// edited route's are built; a change to anything but routes builds everything again.
#[test]
fn one_route_edited_rebuilds_only_its_own_parts() {
    let mut set = routes_on(&["gw"], 20);
    let mut translator = Translator::default();
    let first = translator.translate(&set);
    assert_eq!(
        translator.reused().virtual_hosts,
        0,
        "nothing to take over at first"
    );
    let vhosts = translator.reused().virtual_hosts_built;
    assert!(
        vhosts >= 20,
        "one virtual host per route at least, got {vhosts}"
    );

    apply(&mut set, &Edit::Path(3, 7));
    let after = translator.translate(&set);
    assert_eq!(*after, translate::translate(&set));
    assert_ne!(after, first, "the edit changes the output");
    let reused = translator.reused();
    assert_eq!(reused.route_statuses_built, 1, "{reused:?}");
    assert_eq!(reused.route_statuses, 19, "{reused:?}");
    assert_eq!((reused.routes, reused.routes_built), (19, 1), "{reused:?}");
    assert!(reused.virtual_hosts_built <= 2, "{reused:?}");
    assert_eq!(
        reused.virtual_hosts + reused.virtual_hosts_built,
        vhosts,
        "{reused:?}"
    );

    // What the API server sends back after the controller wrote a route's status: the same
    // route with a status and a new resourceVersion. Nothing needs building again.
    let key = set.http_routes.keys().nth(3).cloned().expect("a route");
    let mut echoed = (*set.http_routes[&key]).clone();
    echoed.metadata.resource_version = Some("4242".into());
    echoed.status = Some(serde_json::from_value(json!({"parents": []})).expect("a status"));
    set.http_routes.insert(key, Arc::new(echoed));
    let after = translator.translate(&set);
    assert_eq!(*after, translate::translate(&set));
    let reused = translator.reused();
    assert_eq!(
        (reused.route_statuses_built, reused.proxies),
        (0, 1),
        "{reused:?}"
    );

    // The proxy's first ACK changes the Gateway's Programmed condition and nothing else:
    // every route and the whole configuration are taken over, the Gateway's status is new.
    set.config.programmed_on_ack = true;
    translator.translate(&set);
    apply(&mut set, &Edit::ProxyProgress(0, 1));
    let acked = translator.translate(&set);
    assert_eq!(*acked, translate::translate(&set));
    let reused = translator.reused();
    assert_eq!(
        (reused.routes, reused.route_statuses, reused.proxies),
        (20, 20, 1),
        "{reused:?}"
    );

    apply(&mut set, &Edit::RemoveService(0));
    translator.translate(&set);
    let reused = translator.reused();
    assert_eq!(
        (reused.virtual_hosts, reused.route_statuses),
        (0, 0),
        "{reused:?}"
    );
}

/// A Gateway none of whose routes changed keeps its whole configuration (the same shared
/// one, so the controller need not pack it again), and its virtual hosts stay available for
/// the next translation that does rebuild it.
#[test]
fn a_gateway_whose_routes_did_not_change_keeps_its_configuration() {
    let mut set = routes_on(&["gw-a", "gw-b"], 5);
    let mut translator = Translator::default();
    let first = translator.translate(&set);
    let proxy = |t: &translate::Translation, gw: &str| {
        Arc::clone(&t.proxies[&ObjectKey::new("default", gw)])
    };

    apply(&mut set, &Edit::Path(0, 9)); // gw-a-r0
    let second = translator.translate(&set);
    assert_eq!(*second, translate::translate(&set));
    let reused = translator.reused();
    assert_eq!((reused.proxies, reused.proxies_built), (1, 1), "{reused:?}");
    assert!(Arc::ptr_eq(&proxy(&first, "gw-b"), &proxy(&second, "gw-b")));
    assert!(!Arc::ptr_eq(
        &proxy(&first, "gw-a"),
        &proxy(&second, "gw-a")
    ));

    apply(&mut set, &Edit::Path(5, 9)); // gw-b-r0
    let third = translator.translate(&set);
    assert_eq!(*third, translate::translate(&set));
    let reused = translator.reused();
    assert_eq!((reused.proxies, reused.proxies_built), (1, 1), "{reused:?}");
    assert!(Arc::ptr_eq(&proxy(&second, "gw-a"), &proxy(&third, "gw-a")));
    assert!(
        reused.virtual_hosts >= 4,
        "gw-b's other virtual hosts are taken over: {reused:?}"
    );

    apply(&mut set, &Edit::RemoveService(0));
    translator.translate(&set);
    assert_eq!(translator.reused().proxies, 0, "a Service is context");
}

/// What reaches Envoy after one route edit: the xDS cache pushes a Gateway's snapshot only when
/// its content version moves, and the delta protocol sends only resources whose own version
/// moved. So the edit must move exactly one Gateway's snapshot, and in it only the route
/// configurations, not its listeners, clusters or endpoints.
#[test]
fn one_route_edit_moves_one_gateways_routes_only() {
    let mut set = routes_on(&["gw-a", "gw-b"], 5);

    let snapshots = |t: &translate::Translation| {
        t.proxies
            .iter()
            .map(|(k, p)| {
                (
                    k.name.clone(),
                    Snapshot::from_proxy(1, p).expect("consistent"),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let mut translator = Translator::default();
    let before = snapshots(&translator.translate(&set));
    let key = ObjectKey::new("default", "gw-a-r2");
    let mut route = (*set.http_routes[&key]).clone();
    route.spec.rules.as_mut().unwrap()[0]
        .matches
        .as_mut()
        .unwrap()[0]
        .path
        .as_mut()
        .unwrap()
        .value = Some("/edited".into());
    set.http_routes.insert(key, Arc::new(route));
    let after = snapshots(&translator.translate(&set));

    assert_eq!(
        before["gw-b"].version(),
        after["gw-b"].version(),
        "gw-b is untouched"
    );
    let (a, b) = (&before["gw-a"], &after["gw-a"]);
    assert_ne!(a.version(), b.version(), "gw-a's configuration changed");
    for ty in [
        ResourceType::Listener,
        ResourceType::Cluster,
        ResourceType::Endpoint,
    ] {
        assert_eq!(
            a.type_version(ty),
            b.type_version(ty),
            "{ty:?} of gw-a must not move"
        );
    }
    assert_ne!(
        a.type_version(ResourceType::Route),
        b.type_version(ResourceType::Route),
        "gw-a's route configuration carries the edit"
    );
}
