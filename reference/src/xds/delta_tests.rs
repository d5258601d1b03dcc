//! The delta state machine, driven request by request as Envoy would.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use envoy_types::pb::google::rpc::Status;

use super::delta::DeltaStream;
use super::fixtures::{delta_summary, snapshot, tagged_snapshot};
use super::resource::ResourceType::{self, Cluster, Endpoint, Listener, Route};
use super::rollout::Report;
use super::snapshot::Snapshot;
use super::stream::Protocol;

struct Envoy {
    stream: DeltaStream,
    reports: Vec<Report>,
}

type Summary = Vec<(ResourceType, Vec<String>, Vec<String>)>;

fn summary(out: &[DeltaDiscoveryResponse]) -> Summary {
    out.iter().map(delta_summary).collect()
}

fn s(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

impl Envoy {
    fn new(target: Option<Snapshot>) -> Self {
        let mut stream = DeltaStream::new();
        stream.set_target(target);
        Self {
            stream,
            reports: Vec::new(),
        }
    }

    fn send(&mut self, req: DeltaDiscoveryRequest) -> Vec<DeltaDiscoveryResponse> {
        self.stream.on_request(req, &mut self.reports);
        self.stream.poll(&mut self.reports)
    }

    fn subscribe(&mut self, ty: ResourceType, names: &[&str]) -> Vec<DeltaDiscoveryResponse> {
        self.send(DeltaDiscoveryRequest {
            node: Some(Node {
                id: "ns/gw".into(),
                ..Default::default()
            }),
            type_url: ty.type_url(),
            resource_names_subscribe: s(names),
            ..Default::default()
        })
    }

    fn unsubscribe(&mut self, ty: ResourceType, names: &[&str]) -> Vec<DeltaDiscoveryResponse> {
        self.send(DeltaDiscoveryRequest {
            type_url: ty.type_url(),
            resource_names_unsubscribe: s(names),
            ..Default::default()
        })
    }

    fn ack(&mut self, r: &DeltaDiscoveryResponse) -> Vec<DeltaDiscoveryResponse> {
        self.send(DeltaDiscoveryRequest {
            type_url: r.type_url.clone(),
            response_nonce: r.nonce.clone(),
            ..Default::default()
        })
    }

    fn nack(&mut self, r: &DeltaDiscoveryResponse, message: &str) -> Vec<DeltaDiscoveryResponse> {
        self.send(DeltaDiscoveryRequest {
            type_url: r.type_url.clone(),
            response_nonce: r.nonce.clone(),
            error_detail: Some(Status {
                code: 3,
                message: message.into(),
                details: vec![],
            }),
            ..Default::default()
        })
    }

    fn set(&mut self, target: Snapshot) -> Vec<DeltaDiscoveryResponse> {
        self.stream.set_target(Some(target));
        self.stream.poll(&mut self.reports)
    }

    fn completed(&self) -> Vec<u64> {
        self.reports
            .iter()
            .filter_map(|r| match r {
                Report::Complete { revision, .. } => Some(*revision),
                _ => None,
            })
            .collect()
    }

    fn synced(target: Snapshot) -> Self {
        let mut e = Self::new(Some(target));
        let cds = e.subscribe(Cluster, &[]);
        e.subscribe(Listener, &[]);
        e.ack(&cds[0]);
        let eds = e.subscribe(Endpoint, &["a"]);
        let lds = e.ack(&eds[0]);
        e.subscribe(Route, &["http"]);
        let rds = e.ack(&lds[0]);
        e.ack(&rds[0]);
        assert_eq!(e.completed(), vec![1]);
        e
    }
}

#[test]
fn initial_push_follows_cds_eds_lds_rds_and_waits_for_each_ack() {
    let mut e = Envoy::new(Some(snapshot(1, &[("/", "a")])));
    let cds = e.subscribe(Cluster, &[]);
    assert_eq!(summary(&cds), vec![(Cluster, s(&["a"]), vec![])]);
    assert!(
        e.subscribe(Listener, &[]).is_empty(),
        "LDS must wait for clusters and endpoints"
    );
    assert!(e.ack(&cds[0]).is_empty());
    let eds = e.subscribe(Endpoint, &["a"]);
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["a"]), vec![])]);
    let lds = e.ack(&eds[0]);
    assert_eq!(summary(&lds), vec![(Listener, s(&["http"]), vec![])]);
    assert!(
        e.subscribe(Route, &["http"]).is_empty(),
        "RDS must wait for the LDS ACK"
    );
    let rds = e.ack(&lds[0]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]), vec![])]);
    assert!(e.ack(&rds[0]).is_empty());
    assert_eq!(e.completed(), vec![1]);
    let snap = snapshot(1, &[("/", "a")]);
    assert_eq!(
        cds[0].resources[0].version,
        snap.resources(Cluster)["a"].version,
        "per-resource versions"
    );
    assert_eq!(cds[0].system_version_info, snap.type_version(Cluster));
}

#[test]
fn only_changed_resources_are_sent() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[("/v2", "a")]));
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]), vec![])]);
    assert!(e.ack(&rds[0]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
    assert!(
        e.set(snapshot(3, &[("/v2", "a")])).is_empty(),
        "identical content pushes nothing"
    );
    assert_eq!(e.completed(), vec![1, 2, 3]);
}

#[test]
fn dropped_clusters_are_removed_only_after_the_new_routes_are_acked() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let cds = e.set(snapshot(2, &[("/", "b")]));
    assert_eq!(
        summary(&cds),
        vec![(Cluster, s(&["b"]), vec![])],
        "make: add b, keep a"
    );
    assert!(e.ack(&cds[0]).is_empty());
    let eds = e.subscribe(Endpoint, &["b"]);
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["b"]), vec![])]);
    let rds = e.ack(&eds[0]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]), vec![])]);
    let cds2 = e.ack(&rds[0]);
    assert_eq!(
        summary(&cds2),
        vec![(Cluster, vec![], s(&["a"]))],
        "break: now a goes"
    );
    assert_eq!(e.completed(), vec![1]);
    assert!(e.ack(&cds2[0]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
    assert!(e.unsubscribe(Endpoint, &["a"]).is_empty());
}

#[test]
fn removed_listeners_go_in_the_lds_step() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let empty = Snapshot::empty(2);
    let cds = e.set(empty);
    // Clusters stay while listeners and routes may still use them, so CDS has nothing to do;
    // the listener goes first.
    assert_eq!(summary(&cds), vec![(Listener, vec![], s(&["http"]))]);
    assert!(e.unsubscribe(Route, &["http"]).is_empty());
    let cds2 = e.ack(&cds[0]);
    assert_eq!(summary(&cds2), vec![(Cluster, vec![], s(&["a"]))]);
    e.ack(&cds2[0]);
    assert_eq!(e.completed(), vec![1, 2]);
}

#[test]
fn a_nacked_update_is_recorded_and_not_resent() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[("/v2", "a")]));
    assert!(e.nack(&rds[0], "route: unknown cluster 'x'").is_empty());
    assert!(e.reports.iter().any(|r| matches!(r,
        Report::Nacked { ty: Route, message, .. } if message == "route: unknown cluster 'x'")));
    assert!(
        e.subscribe(Route, &[]).is_empty(),
        "a later request does not bring it back"
    );
    let fixed = e.set(snapshot(3, &[("/v3", "a")]));
    assert_eq!(summary(&fixed), vec![(Route, s(&["http"]), vec![])]);
    e.ack(&fixed[0]);
    assert_eq!(e.completed(), vec![1, 3]);
}

#[test]
fn stale_acks_are_ignored() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[("/v2", "a")]));
    let before = e.reports.len();
    let mut old = rds[0].clone();
    old.nonce = "1".into();
    assert!(e.nack(&old, "old").is_empty());
    assert_eq!(e.reports.len(), before);
    e.ack(&rds[0]);
    assert_eq!(e.completed(), vec![1, 2]);
}

#[test]
fn resubscribing_sends_the_resource_again() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    assert!(e.unsubscribe(Endpoint, &["a"]).is_empty());
    let eds = e.subscribe(Endpoint, &["a"]);
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["a"]), vec![])]);
}

#[test]
fn a_reconnecting_envoy_gets_only_what_it_lacks() {
    let target = snapshot(1, &[("/", "a")]);
    let mut e = Envoy::new(Some(target.clone()));
    let a_version = target.resources(Cluster)["a"].version.clone();
    // Envoy still holds cluster a at the current version, and a cluster "gone" we no longer have.
    let held: HashMap<String, String> = [
        ("a".to_string(), a_version),
        ("gone".to_string(), "v0".to_string()),
    ]
    .into_iter()
    .collect();
    let cds = e.send(DeltaDiscoveryRequest {
        node: Some(Node {
            id: "ns/gw".into(),
            ..Default::default()
        }),
        type_url: Cluster.type_url(),
        initial_resource_versions: held,
        ..Default::default()
    });
    // A first request always gets an answer; "gone" stays until listeners and routes are in.
    assert_eq!(summary(&cds), vec![(Cluster, vec![], vec![])]);
    e.ack(&cds[0]);
    let eds = e.subscribe(Endpoint, &["a"]);
    e.subscribe(Listener, &[]);
    let lds = e.ack(&eds[0]);
    assert_eq!(summary(&lds), vec![(Listener, s(&["http"]), vec![])]);
    e.subscribe(Route, &["http"]);
    let rds = e.ack(&lds[0]);
    let cds2 = e.ack(&rds[0]);
    assert_eq!(summary(&cds2), vec![(Cluster, vec![], s(&["gone"]))]);
}

#[test]
fn a_changed_cluster_gets_its_endpoints_again() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let out = e.set(tagged_snapshot(2, &[("/", "a")], "v2"));
    assert_eq!(
        summary(&out),
        vec![(Cluster, s(&["a"]), vec![]), (Endpoint, s(&["a"]), vec![])]
    );
    e.ack(&out[1]);
    e.ack(&out[0]);
    assert_eq!(e.completed(), vec![1, 2]);
}
