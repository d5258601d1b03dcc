//! Running one ADS stream: the loop both protocols share.
//!
//! The protocol state machines are synchronous (request in, responses out); this loop feeds
//! them Envoy's requests and the node's snapshot changes, sends what they produce, and reports
//! progress to the cache.

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tonic::Status;

use super::cache::SnapshotCache;
use super::rollout::Report;
use super::snapshot::Snapshot;
use envoy_types::pb::envoy::config::core::v3::Node;

/// A wire protocol over the shared rollout: state of the world or delta.
pub(crate) trait Protocol: Send + 'static {
    type Request: Send + 'static;
    type Response: Send + 'static;
    /// "sotw" or "delta", as shown in `/xds`.
    const NAME: &'static str;

    fn new() -> Self;
    /// The node id, which Envoy sends in the first request of a stream.
    /// The node the request names (only the first request of a stream must carry one).
    fn node(req: &Self::Request) -> Option<&Node>;
    fn set_target(&mut self, snapshot: Option<Snapshot>);
    fn on_request(&mut self, req: Self::Request, reports: &mut Vec<Report>);
    fn poll(&mut self, reports: &mut Vec<Report>) -> Vec<Self::Response>;
}

/// Serve one stream until Envoy hangs up (or the response side is dropped).
pub(crate) async fn drive<P, S>(
    cache: SnapshotCache,
    mut inbound: S,
    tx: mpsc::Sender<Result<P::Response, Status>>,
) where
    P: Protocol,
    S: Stream<Item = Result<P::Request, Status>> + Unpin + Send,
{
    let first = match inbound.next().await {
        Some(Ok(req)) => req,
        Some(Err(status)) => {
            tracing::debug!(%status, "ADS stream failed before its first request");
            return;
        }
        None => return,
    };
    let Some(node) = P::node(&first)
        .map(|n| n.id.clone())
        .filter(|id| !id.is_empty())
    else {
        let _ = tx
            .send(Err(Status::invalid_argument(
                "the first request of an ADS stream must carry node.id",
            )))
            .await;
        return;
    };
    let mut handle = cache.connect(&node, P::NAME);
    let mut proto = P::new();
    proto.set_target(handle.snapshots.borrow_and_update().clone());
    let mut reports = Vec::new();
    let mut next = Some(first);
    loop {
        if let Some(req) = next.take() {
            proto.on_request(req, &mut reports);
        }
        for response in proto.poll(&mut reports) {
            if tx.send(Ok(response)).await.is_err() {
                return;
            }
        }
        handle.record(&reports);
        reports.clear();
        tokio::select! {
            msg = inbound.next() => match msg {
                Some(Ok(req)) => next = Some(req),
                Some(Err(status)) => {
                    tracing::debug!(node = handle.node(), %status, "ADS stream ended with an error");
                    return;
                }
                None => return,
            },
            changed = handle.snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                proto.set_target(handle.snapshots.borrow_and_update().clone());
            }
            () = tx.closed() => return,
        }
    }
}
