//! The state-of-the-world state machine, driven request by request as Envoy would.

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc::Status;

use super::fixtures::{snapshot, sotw_summary, tagged_snapshot};
use super::resource::ResourceType::{self, Cluster, Endpoint, Listener, Route};
use super::rollout::Report;
use super::snapshot::Snapshot;
use super::sotw::SotwStream;
use super::stream::Protocol;

/// Plays Envoy's side of one stream.
struct Envoy {
    stream: SotwStream,
    reports: Vec<Report>,
}

type Summary = Vec<(ResourceType, Vec<String>)>;

fn summary(out: &[DiscoveryResponse]) -> Summary {
    out.iter().map(sotw_summary).collect()
}

fn s(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

impl Envoy {
    fn new(target: Option<Snapshot>) -> Self {
        let mut stream = SotwStream::new();
        stream.set_target(target);
        Self {
            stream,
            reports: Vec::new(),
        }
    }

    fn send(&mut self, req: DiscoveryRequest) -> Vec<DiscoveryResponse> {
        self.stream.on_request(req, &mut self.reports);
        self.stream.poll(&mut self.reports)
    }

    fn request(&mut self, ty: ResourceType, names: &[&str], nonce: &str) -> Vec<DiscoveryResponse> {
        self.send(DiscoveryRequest {
            node: Some(Node {
                id: "ns/gw".into(),
                ..Default::default()
            }),
            type_url: ty.type_url(),
            resource_names: s(names),
            response_nonce: nonce.into(),
            ..Default::default()
        })
    }

    fn ack(&mut self, r: &DiscoveryResponse, names: &[&str]) -> Vec<DiscoveryResponse> {
        self.send(DiscoveryRequest {
            version_info: r.version_info.clone(),
            type_url: r.type_url.clone(),
            resource_names: s(names),
            response_nonce: r.nonce.clone(),
            ..Default::default()
        })
    }

    fn nack(
        &mut self,
        r: &DiscoveryResponse,
        names: &[&str],
        message: &str,
    ) -> Vec<DiscoveryResponse> {
        self.send(DiscoveryRequest {
            type_url: r.type_url.clone(),
            resource_names: s(names),
            response_nonce: r.nonce.clone(),
            error_detail: Some(Status {
                code: 3,
                message: message.into(),
                details: vec![],
            }),
            ..Default::default()
        })
    }

    fn set(&mut self, target: Snapshot) -> Vec<DiscoveryResponse> {
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

    /// A fresh stream brought to the point where Envoy holds `target` in full.
    fn synced(target: Snapshot) -> Self {
        let mut e = Self::new(Some(target));
        let cds = e.request(Cluster, &[], "");
        e.request(Listener, &[], "");
        e.ack(&cds[0], &[]);
        let eds = e.request(Endpoint, &["a"], "");
        let lds = e.ack(&eds[0], &["a"]);
        e.request(Route, &["http"], "");
        let rds = e.ack(&lds[0], &[]);
        e.ack(&rds[0], &["http"]);
        assert_eq!(e.completed(), vec![1]);
        e
    }
}

#[test]
fn initial_push_follows_cds_eds_lds_rds_and_waits_for_each_ack() {
    let mut e = Envoy::new(Some(snapshot(1, &[("/", "a")])));
    let cds = e.request(Cluster, &[], "");
    assert_eq!(summary(&cds), vec![(Cluster, s(&["a"]))]);
    assert!(
        e.request(Listener, &[], "").is_empty(),
        "LDS must wait for clusters and endpoints"
    );
    assert!(
        e.ack(&cds[0], &[]).is_empty(),
        "nothing to send before Envoy asks for endpoints"
    );
    let eds = e.request(Endpoint, &["a"], "");
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["a"]))]);
    let lds = e.ack(&eds[0], &["a"]);
    assert_eq!(summary(&lds), vec![(Listener, s(&["http"]))]);
    assert!(
        e.request(Route, &["http"], "").is_empty(),
        "RDS must wait for the LDS ACK"
    );
    let rds = e.ack(&lds[0], &[]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
    assert!(e.completed().is_empty(), "not complete before the RDS ACK");
    assert!(e.ack(&rds[0], &["http"]).is_empty());
    assert_eq!(e.completed(), vec![1]);
    let versions: Vec<&str> = [&cds[0], &eds[0], &lds[0], &rds[0]]
        .iter()
        .map(|r| r.version_info.as_str())
        .collect();
    let snap = snapshot(1, &[("/", "a")]);
    let expected: Vec<&str> = ResourceType::ALL
        .iter()
        .map(|t| snap.type_version(*t))
        .collect();
    assert_eq!(
        versions, expected,
        "each response carries the type's content version"
    );
}

#[test]
fn no_snapshot_means_no_response_until_one_is_set() {
    let mut e = Envoy::new(None);
    assert!(e.request(Cluster, &[], "").is_empty());
    let out = e.set(snapshot(1, &[("/", "a")]));
    assert_eq!(summary(&out), vec![(Cluster, s(&["a"]))]);
}

#[test]
fn stale_nonces_are_ignored() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[("/v2", "a")]));
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
    // A NACK carrying an old nonce refers to a response Envoy has since superseded.
    let before = e.reports.len();
    assert!(
        e.send(DiscoveryRequest {
            type_url: Route.type_url(),
            resource_names: s(&["http"]),
            response_nonce: "1".into(),
            error_detail: Some(Status {
                code: 3,
                message: "old".into(),
                details: vec![]
            }),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(e.reports.len(), before, "a stale request changes nothing");
    assert!(e.ack(&rds[0], &["http"]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
}

#[test]
fn a_nacked_update_is_recorded_and_not_resent() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[("/v2", "a")]));
    assert!(
        e.nack(&rds[0], &["http"], "route: unknown cluster 'x'")
            .is_empty()
    );
    assert!(e.reports.iter().any(|r| matches!(r,
        Report::Nacked { ty: Route, message, .. } if message == "route: unknown cluster 'x'")));
    // Envoy repeats itself; still nothing.
    assert!(
        e.nack(&rds[0], &["http"], "route: unknown cluster 'x'")
            .is_empty()
    );
    assert!(
        e.set(snapshot(3, &[("/v2", "a")])).is_empty(),
        "same content, same rejection"
    );
    let fixed = e.set(snapshot(4, &[("/v3", "a")]));
    assert_eq!(summary(&fixed), vec![(Route, s(&["http"]))]);
    e.ack(&fixed[0], &["http"]);
    assert_eq!(e.completed(), vec![1, 4]);
}

#[test]
fn dropped_clusters_are_removed_only_after_the_new_routes_are_acked() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let cds = e.set(snapshot(2, &[("/", "b")]));
    assert_eq!(
        summary(&cds),
        vec![(Cluster, s(&["a", "b"]))],
        "make: the old cluster stays"
    );
    assert!(e.ack(&cds[0], &[]).is_empty());
    // Cluster b subscribes its endpoints.
    let eds = e.request(Endpoint, &["a", "b"], &e.stream_nonce(Endpoint));
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["a", "b"]))]);
    let rds = e.ack(&eds[0], &["a", "b"]);
    assert_eq!(
        summary(&rds),
        vec![(Route, s(&["http"]))],
        "listeners unchanged, routes next"
    );
    let cds2 = e.ack(&rds[0], &["http"]);
    assert_eq!(
        summary(&cds2),
        vec![(Cluster, s(&["b"]))],
        "break: now the old cluster goes"
    );
    assert!(
        e.completed() == vec![1],
        "complete only once the removal is ACKed"
    );
    assert!(e.ack(&cds2[0], &[]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
    let eds2 = e.request(Endpoint, &["b"], &eds[0].nonce);
    assert_eq!(
        summary(&eds2),
        vec![(Endpoint, s(&["b"]))],
        "a changed subscription is answered"
    );
}

/// Once its last EDS cluster is gone, Envoy unsubscribes from every endpoint resource and
/// ignores (never ACKs) a response for the type: the stream must neither answer nor wait, and
/// later snapshots must still roll out.
#[test]
fn an_unwatched_type_is_neither_answered_nor_waited_for() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let rds = e.set(snapshot(2, &[]));
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
    let cds = e.ack(&rds[0], &["http"]);
    assert_eq!(
        summary(&cds),
        vec![(Cluster, s(&[]))],
        "break: the last cluster goes"
    );
    assert!(e.ack(&cds[0], &[]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
    let eds_nonce = e.stream_nonce(Endpoint);
    assert!(
        e.request(Endpoint, &[], &eds_nonce).is_empty(),
        "no response to an unwatched type"
    );

    // A cluster comes back: it and its endpoints roll out, and the revision completes.
    let cds = e.set(snapshot(3, &[("/x", "c")]));
    assert_eq!(summary(&cds), vec![(Cluster, s(&["c"]))]);
    assert!(e.ack(&cds[0], &[]).is_empty());
    let eds = e.request(Endpoint, &["c"], &eds_nonce);
    assert_eq!(summary(&eds), vec![(Endpoint, s(&["c"]))]);
    let rds = e.ack(&eds[0], &["c"]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
    assert!(e.ack(&rds[0], &["http"]).is_empty());
    assert_eq!(e.completed(), vec![1, 2, 3]);
}

/// A new snapshot can arrive while a cluster push is in flight. Envoy holds back its ACK of
/// that push until the clusters in it have their endpoints, so the endpoints it asks for must
/// be answered at once, not after the ACK.
#[test]
fn endpoints_are_answered_while_an_older_cluster_push_is_in_flight() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let cds = e.set(snapshot(2, &[("/", "a"), ("/b", "b")]));
    assert_eq!(summary(&cds), vec![(Cluster, s(&["a", "b"]))]);
    // Before Envoy ACKs, another cluster is added.
    assert!(
        e.set(snapshot(3, &[("/", "a"), ("/b", "b"), ("/c", "c")]))
            .is_empty()
    );
    // Envoy warms cluster b and asks for its endpoints, holding back the CDS ACK until then.
    let eds = e.request(Endpoint, &["a", "b"], &e.stream_nonce(Endpoint));
    assert_eq!(
        summary(&eds),
        vec![(Endpoint, s(&["a", "b"]))],
        "endpoints go out at once"
    );
    let cds2 = e.ack(&cds[0], &[]);
    assert_eq!(summary(&cds2), vec![(Cluster, s(&["a", "b", "c"]))]);
    assert!(e.ack(&eds[0], &["a", "b"]).is_empty());
    let eds2 = e.request(Endpoint, &["a", "b", "c"], &eds[0].nonce);
    assert_eq!(summary(&eds2), vec![(Endpoint, s(&["a", "b", "c"]))]);
    assert!(e.ack(&cds2[0], &[]).is_empty());
    let rds = e.ack(&eds2[0], &["a", "b", "c"]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
    assert!(e.ack(&rds[0], &["http"]).is_empty());
    assert_eq!(e.completed(), vec![1, 3]);
}

#[test]
fn identical_content_pushes_nothing_but_completes_the_new_revision() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    assert!(e.set(snapshot(5, &[("/", "a")])).is_empty());
    assert_eq!(e.completed(), vec![1, 5]);
}

#[test]
fn requests_for_other_types_are_ignored() {
    let mut e = Envoy::new(Some(snapshot(1, &[("/", "a")])));
    let out = e.send(DiscoveryRequest {
        type_url: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret".into(),
        ..Default::default()
    });
    assert!(out.is_empty());
}

impl Envoy {
    /// The nonce of the last response of `ty` (what Envoy echoes in later requests).
    fn stream_nonce(&self, ty: ResourceType) -> String {
        self.stream.last_nonce(ty).unwrap_or_default()
    }
}

/// Envoy ACKs new clusters only once they have warmed, which needs their endpoints: those must
/// go out while the clusters are unACKed, and listeners still wait for both ACKs.
#[test]
fn endpoints_of_new_clusters_do_not_wait_for_the_cluster_ack() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let cds = e.set(snapshot(2, &[("/b", "b"), ("/", "a")]));
    assert_eq!(summary(&cds), vec![(Cluster, s(&["a", "b"]))]);
    let eds = e.request(Endpoint, &["a", "b"], &e.stream_nonce(Endpoint));
    assert_eq!(
        summary(&eds),
        vec![(Endpoint, s(&["a", "b"]))],
        "before the CDS ACK"
    );
    assert!(
        e.ack(&eds[0], &["a", "b"]).is_empty(),
        "routes wait for the CDS ACK"
    );
    let rds = e.ack(&cds[0], &[]);
    assert_eq!(summary(&rds), vec![(Route, s(&["http"]))]);
}

/// Envoy re-creates a cluster whose configuration changed, and the new one waits for an EDS
/// response naming its endpoints, changed or not.
#[test]
fn a_changed_cluster_gets_its_endpoints_again() {
    let mut e = Envoy::synced(snapshot(1, &[("/", "a")]));
    let cds = e.set(tagged_snapshot(2, &[("/", "a")], "v2"));
    assert_eq!(
        summary(&cds),
        vec![(Cluster, s(&["a"])), (Endpoint, s(&["a"]))]
    );
    assert!(e.ack(&cds[1], &["a"]).is_empty());
    assert!(e.ack(&cds[0], &[]).is_empty());
    assert_eq!(e.completed(), vec![1, 2]);
}
