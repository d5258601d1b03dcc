//! The cache with a stream loop in front of it, over in-memory channels instead of gRPC.

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::cache::{SnapshotCache, WaitError};
use super::fixtures::snapshot;
use super::resource::ResourceType::{self, Cluster, Endpoint, Listener, Route};
use super::sotw::SotwStream;
use super::stream::drive;

const NODE: &str = "ns/gw";
const SHORT: Duration = Duration::from_millis(200);

struct Envoy {
    requests: mpsc::Sender<Result<DiscoveryRequest, Status>>,
    responses: mpsc::Receiver<Result<DiscoveryResponse, Status>>,
}

impl Envoy {
    fn connect(cache: &SnapshotCache) -> Self {
        let (requests, rx) = mpsc::channel(16);
        let (tx, responses) = mpsc::channel(16);
        tokio::spawn(drive::<SotwStream, _>(
            cache.clone(),
            ReceiverStream::new(rx),
            tx,
        ));
        Self {
            requests,
            responses,
        }
    }

    async fn send(&self, req: DiscoveryRequest) {
        self.requests
            .send(Ok(req))
            .await
            .expect("stream loop alive");
    }

    async fn request(&self, ty: ResourceType, names: &[&str]) {
        self.send(DiscoveryRequest {
            node: Some(Node {
                id: NODE.into(),
                ..Default::default()
            }),
            type_url: ty.type_url(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        })
        .await;
    }

    async fn recv(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(5), self.responses.recv())
            .await
            .expect("a response in time")
            .expect("stream open")
            .expect("not an error")
    }

    async fn reply(&self, r: &DiscoveryResponse, names: &[&str], error: Option<&str>) {
        self.send(DiscoveryRequest {
            version_info: r.version_info.clone(),
            type_url: r.type_url.clone(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            response_nonce: r.nonce.clone(),
            error_detail: error.map(|m| RpcStatus {
                code: 3,
                message: m.into(),
                details: vec![],
            }),
            ..Default::default()
        })
        .await;
    }

    /// Play a fresh Envoy's start-up until it holds the node's snapshot.
    async fn start(&mut self) {
        self.request(Cluster, &[]).await;
        let cds = self.recv().await;
        self.request(Listener, &[]).await;
        self.reply(&cds, &[], None).await;
        self.request(Endpoint, &["a"]).await;
        let eds = self.recv().await;
        self.reply(&eds, &["a"], None).await;
        let lds = self.recv().await;
        self.request(Route, &["http"]).await;
        self.reply(&lds, &[], None).await;
        let rds = self.recv().await;
        self.reply(&rds, &["http"], None).await;
    }
}

#[tokio::test]
async fn acked_revision_follows_the_stream_and_identical_content() {
    let cache = SnapshotCache::new();
    assert!(cache.set(NODE, snapshot(1, &[("/", "a")])));
    let mut envoy = Envoy::connect(&cache);
    envoy.start().await;
    assert_eq!(
        cache.wait_acked(NODE, 1, Duration::from_secs(5)).await,
        Ok(1)
    );

    // Same content at a later revision: nothing to push, ACKed at once.
    assert!(!cache.set(NODE, snapshot(7, &[("/", "a")])));
    assert_eq!(cache.acked_revision(NODE), Some(7));
    assert!(
        tokio::time::timeout(SHORT, envoy.responses.recv())
            .await
            .is_err(),
        "nothing pushed"
    );

    // A real change is not ACKed until Envoy says so.
    assert!(cache.set(NODE, snapshot(8, &[("/v2", "a")])));
    let rds = envoy.recv().await;
    assert!(matches!(
        cache.wait_acked(NODE, 8, SHORT).await,
        Err(WaitError::Timeout { acked: Some(7), .. })
    ));
    envoy.reply(&rds, &["http"], None).await;
    assert_eq!(
        cache.wait_acked(NODE, 8, Duration::from_secs(5)).await,
        Ok(8)
    );
    // Two rollouts timed (the first snapshot and the change); identical content is none.
    let rollouts = cache.rollouts();
    assert_eq!(rollouts.count, 2);
    assert!(rollouts.sum > 0.0);

    let status = cache.node(NODE).expect("node known");
    assert!(status.connected);
    assert_eq!(status.protocols, vec!["sotw"]);
    assert_eq!(status.acked_revision, Some(8));
    assert_eq!(status.types["RDS"].acks, 2);
    assert_eq!(
        status.types["RDS"].acked_version.as_deref(),
        Some(snapshot(8, &[("/v2", "a")]).type_version(Route))
    );

    drop(envoy);
    tokio::time::timeout(Duration::from_secs(5), async {
        while cache.node(NODE).is_some_and(|n| n.connected) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("disconnect noticed");
    assert_eq!(
        cache.acked_revision(NODE),
        Some(8),
        "the last state stays known"
    );
}

#[tokio::test]
async fn a_nack_fails_the_wait_with_envoys_message() {
    let cache = SnapshotCache::new();
    cache.set(NODE, snapshot(1, &[("/", "a")]));
    let mut envoy = Envoy::connect(&cache);
    envoy.start().await;
    assert_eq!(
        cache.wait_acked(NODE, 1, Duration::from_secs(5)).await,
        Ok(1)
    );
    cache.set(NODE, snapshot(2, &[("/v2", "a")]));
    let rds = envoy.recv().await;
    envoy
        .reply(&rds, &["http"], Some("route: unknown cluster 'x'"))
        .await;
    match cache.wait_acked(NODE, 2, Duration::from_secs(5)).await {
        Err(WaitError::Rejected { rejection, .. }) => {
            assert_eq!(rejection.ty, "RDS");
            assert_eq!(rejection.message, "route: unknown cluster 'x'");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let status = cache.node(NODE).expect("node known");
    assert_eq!(status.types["RDS"].nacks, 1);
    assert_eq!(
        status.types["RDS"]
            .last_nack
            .as_ref()
            .map(|n| n.message.as_str()),
        Some("route: unknown cluster 'x'")
    );
    assert_eq!(status.acked_revision, Some(1));
    // Waiting for what Envoy already has still succeeds.
    assert_eq!(cache.wait_acked(NODE, 1, SHORT).await, Ok(1));
}

#[tokio::test]
async fn a_first_request_without_node_is_refused() {
    let cache = SnapshotCache::new();
    let mut envoy = Envoy::connect(&cache);
    envoy
        .send(DiscoveryRequest {
            type_url: Cluster.type_url(),
            ..Default::default()
        })
        .await;
    let err = envoy
        .responses
        .recv()
        .await
        .expect("an answer")
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(cache.nodes().is_empty());
}

#[tokio::test]
async fn removing_a_node_without_streams_forgets_it() {
    let cache = SnapshotCache::new();
    cache.set(NODE, snapshot(1, &[("/", "a")]));
    assert_eq!(cache.nodes().len(), 1);
    assert!(cache.remove(NODE));
    assert!(cache.nodes().is_empty());
    assert!(!cache.remove(NODE));
    assert!(matches!(
        cache.wait_acked(NODE, 1, SHORT).await,
        Err(WaitError::Timeout { streams: 0, .. })
    ));
}
