//! `SnapshotCache`: the snapshot each node should hold, and how far each node has got.
//!
//! The translator sets whole snapshots; ADS streams watch their node's entry and report ACKs,
//! NACKs and completed rollouts back. From those reports the cache derives, per node, the
//! highest input revision Envoy has in full (`acked_revision`), which a harness waits on
//! instead of sleeping.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::rollout::Report;
use super::snapshot::Snapshot;
use super::tracking::{NodeStatus, Rejection, Tracking};
use crate::timing::Histogram;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WaitError {
    #[error(
        "node {node}: revision {revision} not ACKed within {timeout:?} (acked revision: {acked:?}, \
         connected streams: {streams})"
    )]
    Timeout {
        node: String,
        revision: u64,
        timeout: Duration,
        acked: Option<u64>,
        streams: usize,
    },
    #[error("node {node}: Envoy rejected the snapshot for revision {revision} ({}): {}", rejection.ty, rejection.message)]
    Rejected {
        node: String,
        revision: u64,
        rejection: Rejection,
    },
}

/// A completed rollout: the content and the revision it carried.
type Acked = Option<(String, u64)>;

#[derive(Debug)]
struct StreamRecord {
    protocol: &'static str,
    acked: Acked,
    rejected: Option<Rejection>,
}

#[derive(Debug)]
struct Node {
    snapshot: watch::Sender<Option<Snapshot>>,
    streams: BTreeMap<u64, StreamRecord>,
    /// What the most recent stream to complete a rollout had: the node's state while none is
    /// connected.
    last_acked: Acked,
    tracking: Tracking,
    snapshots_set: u64,
    /// The content set last and when, until a stream completes its rollout.
    rolling_out: Option<(String, Instant)>,
}

impl Node {
    fn new() -> Self {
        Self {
            snapshot: watch::channel(None).0,
            streams: BTreeMap::new(),
            last_acked: None,
            tracking: Tracking::default(),
            snapshots_set: 0,
            rolling_out: None,
        }
    }

    fn acked_revision(&self) -> Option<u64> {
        let revision = |acked: &Acked| acked.as_ref().map(|(_, r)| *r);
        if self.streams.is_empty() {
            return revision(&self.last_acked);
        }
        self.streams
            .values()
            .map(|s| revision(&s.acked))
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .min()
    }

    /// Whoever has this content has every revision carrying it.
    fn raise_acked(&mut self, version: &str, revision: u64) {
        let raise = |acked: &mut Acked| {
            if let Some((v, r)) = acked
                && v == version
            {
                *r = (*r).max(revision);
            }
        };
        raise(&mut self.last_acked);
        for s in self.streams.values_mut() {
            raise(&mut s.acked);
        }
    }

    /// A connected stream's rejection of the current snapshot.
    fn rejection(&self) -> Option<&Rejection> {
        let current = self.snapshot.borrow();
        let version = current.as_ref()?.version();
        self.streams
            .values()
            .filter_map(|s| s.rejected.as_ref())
            .find(|r| r.snapshot_version == version)
    }

    fn status(&self, node_id: &str) -> NodeStatus {
        let current = self.snapshot.borrow().clone();
        NodeStatus {
            node_id: node_id.to_string(),
            connected: !self.streams.is_empty(),
            streams: self.streams.len(),
            protocols: self.streams.values().map(|s| s.protocol).collect(),
            snapshot_version: current.as_ref().map(|s| s.version().to_string()),
            snapshot_revision: current.as_ref().map(|s| s.revision()),
            snapshots_set: self.snapshots_set,
            acked_version: self.last_acked.as_ref().map(|(v, _)| v.clone()),
            acked_revision: self.acked_revision(),
            rejected: self.rejection().cloned(),
            types: self.tracking.by_name(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    nodes: Mutex<BTreeMap<String, Node>>,
    /// Bumped on every change a waiter may care about.
    progress: watch::Sender<u64>,
    next_stream: AtomicU64,
    snapshots_set: AtomicU64,
    /// From a changed snapshot being set to the first of its node's streams having it all.
    rollouts: Mutex<Histogram>,
}

/// Per-node snapshots and ACK progress. Clones share one cache.
#[derive(Clone, Debug)]
pub struct SnapshotCache {
    inner: Arc<Inner>,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        Self::new()
    }
}

impl SnapshotCache {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                nodes: Mutex::new(BTreeMap::new()),
                progress: watch::channel(0).0,
                next_stream: AtomicU64::new(1),
                snapshots_set: AtomicU64::new(0),
                rollouts: Mutex::new(Histogram::default()),
            }),
        }
    }

    fn nodes_lock(&self) -> MutexGuard<'_, BTreeMap<String, Node>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.inner.progress.send_modify(|g| *g += 1);
    }

    /// Make `snapshot` the node's configuration. Returns whether the content changed; when it
    /// did not, nothing is pushed, but the new revision counts as ACKed wherever the content
    /// already is.
    pub fn set(&self, node: &str, snapshot: Snapshot) -> bool {
        let changed = {
            let mut nodes = self.nodes_lock();
            let n = nodes.entry(node.to_string()).or_insert_with(Node::new);
            n.snapshots_set += 1;
            n.raise_acked(snapshot.version(), snapshot.revision());
            let version = snapshot.version().to_string();
            let changed = n.snapshot.send_if_modified(|cur| {
                let changed = cur.as_ref().map(Snapshot::version) != Some(snapshot.version());
                *cur = Some(snapshot);
                changed
            });
            if changed {
                n.rolling_out = Some((version, Instant::now()));
            }
            changed
        };
        self.inner.snapshots_set.fetch_add(1, Ordering::Relaxed);
        self.bump();
        changed
    }

    /// Forget the node's snapshot; connected streams keep their state but get no pushes.
    /// Returns whether the node had one.
    pub fn remove(&self, node: &str) -> bool {
        let had = {
            let mut nodes = self.nodes_lock();
            let Some(n) = nodes.get_mut(node) else {
                return false;
            };
            let had = n.snapshot.send_replace(None).is_some();
            if n.streams.is_empty() {
                nodes.remove(node);
            }
            had
        };
        self.bump();
        had
    }

    pub fn get(&self, node: &str) -> Option<Snapshot> {
        self.nodes_lock()
            .get(node)
            .and_then(|n| n.snapshot.borrow().clone())
    }

    /// Every node with a snapshot or a connected stream, by node id.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.nodes_lock()
            .iter()
            .map(|(id, n)| n.status(id))
            .collect()
    }

    pub fn node(&self, node: &str) -> Option<NodeStatus> {
        self.nodes_lock().get(node).map(|n| n.status(node))
    }

    /// The highest revision whose content every connected stream of the node has ACKed.
    pub fn acked_revision(&self, node: &str) -> Option<u64> {
        self.nodes_lock().get(node).and_then(Node::acked_revision)
    }

    /// How long rollouts took: from a changed snapshot being set to the first stream of its
    /// node having ACKed all of it (content a stream already had is not a rollout).
    pub fn rollouts(&self) -> Histogram {
        self.inner
            .rollouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Snapshots set over the cache's lifetime, for all nodes.
    pub fn snapshots_set(&self) -> u64 {
        self.inner.snapshots_set.load(Ordering::Relaxed)
    }

    /// A counter that changes whenever ACK progress, a NACK, a connection or a snapshot
    /// changes anywhere; read the state with `node`/`acked_revision` after each change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.progress.subscribe()
    }

    /// Wait until the node has ACKed the content of `revision` or a later one. Fails early
    /// when a connected stream rejected the current snapshot and that covers `revision`.
    pub async fn wait_acked(
        &self,
        node: &str,
        revision: u64,
        timeout: Duration,
    ) -> Result<u64, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            rx.mark_unchanged();
            let (acked, streams) = {
                let nodes = self.nodes_lock();
                let n = nodes.get(node);
                let acked = n.and_then(Node::acked_revision);
                if let Some(r) = acked.filter(|r| *r >= revision) {
                    return Ok(r);
                }
                if let Some(n) = n {
                    let covers = n
                        .snapshot
                        .borrow()
                        .as_ref()
                        .is_some_and(|s| s.revision() >= revision);
                    if let Some(rejection) = n.rejection().filter(|_| covers) {
                        return Err(WaitError::Rejected {
                            node: node.to_string(),
                            revision,
                            rejection: rejection.clone(),
                        });
                    }
                }
                (acked, n.map_or(0, |n| n.streams.len()))
            };
            let timed_out = || WaitError::Timeout {
                node: node.to_string(),
                revision,
                timeout,
                acked,
                streams,
            };
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(timed_out()),
            }
        }
    }

    /// Register a stream of `node`; it watches the node's snapshot until the handle drops.
    pub(crate) fn connect(&self, node: &str, protocol: &'static str) -> StreamHandle {
        let id = self.inner.next_stream.fetch_add(1, Ordering::Relaxed);
        let snapshots = {
            let mut nodes = self.nodes_lock();
            let n = nodes.entry(node.to_string()).or_insert_with(Node::new);
            n.streams.insert(
                id,
                StreamRecord {
                    protocol,
                    acked: None,
                    rejected: None,
                },
            );
            n.snapshot.subscribe()
        };
        self.bump();
        tracing::info!(node, protocol, stream = id, "ADS stream connected");
        StreamHandle {
            cache: self.clone(),
            node: node.to_string(),
            id,
            snapshots,
        }
    }

    fn record(&self, node: &str, stream: u64, reports: &[Report]) {
        if reports.is_empty() {
            return;
        }
        {
            let mut nodes = self.nodes_lock();
            let Some(n) = nodes.get_mut(node) else { return };
            for report in reports {
                n.tracking.record(node, report);
                let Some(s) = n.streams.get_mut(&stream) else {
                    continue;
                };
                match report {
                    Report::Complete { version, revision } => {
                        // The stream may have started on an older revision of this content.
                        let current = n
                            .snapshot
                            .borrow()
                            .as_ref()
                            .filter(|c| c.version() == version)
                            .map(Snapshot::revision);
                        s.acked = Some((version.clone(), (*revision).max(current.unwrap_or(0))));
                        s.rejected = None;
                        n.last_acked = s.acked.clone();
                        if let Some((_, since)) =
                            n.rolling_out.take_if(|(rolling, _)| rolling == version)
                        {
                            self.inner
                                .rollouts
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .observe(since.elapsed());
                        }
                    }
                    Report::Nacked {
                        ty,
                        message,
                        snapshot_version,
                        ..
                    } => {
                        s.rejected = Some(Rejection {
                            snapshot_version: snapshot_version.clone(),
                            ty: ty.short_name(),
                            message: message.clone(),
                        });
                    }
                    Report::Pushed { .. } | Report::Acked { .. } => {}
                }
            }
        }
        self.bump();
    }

    fn disconnect(&self, node: &str, stream: u64) {
        {
            let mut nodes = self.nodes_lock();
            if let Some(n) = nodes.get_mut(node) {
                n.streams.remove(&stream);
                if n.streams.is_empty() && n.snapshot.borrow().is_none() {
                    nodes.remove(node);
                }
            }
        }
        self.bump();
        tracing::info!(node, stream, "ADS stream disconnected");
    }
}

/// A connected stream's link to the cache; dropping it disconnects the stream.
pub(crate) struct StreamHandle {
    cache: SnapshotCache,
    node: String,
    id: u64,
    pub(crate) snapshots: watch::Receiver<Option<Snapshot>>,
}

impl StreamHandle {
    pub(crate) fn record(&self, reports: &[Report]) {
        self.cache.record(&self.node, self.id, reports);
    }

    pub(crate) fn node(&self) -> &str {
        &self.node
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.cache.disconnect(&self.node, self.id);
    }
}
