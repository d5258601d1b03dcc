//! The Kubernetes provider: a watch per stored kind, mirrored into one [`Index`].
//!
//! Every kind goes through the same generic code ([`WatchKind`]); the watch streams are
//! merged into one task that owns the index, so events of all kinds apply in arrival order
//! without locks. After applying whatever events are ready, the task publishes one snapshot:
//! a burst of events costs one snapshot, not one per event.
//!
//! A cluster need not have every CRD installed (the K8sGateway ones especially). A kind the
//! API server answers with 404 is empty until it is served: its watch keeps retrying with
//! kube-runtime's backoff (at most 30 s apart), which is the periodic check that picks the
//! kind up once its CRD appears, and the loss of the CRD empties the kind again.

mod decode;
mod index;

pub use decode::DecodeErrors;
pub use index::Index;

use std::sync::Arc;

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use k8s_openapi::api::core::v1::PodStatus;

use crate::api::Pod;
use crate::model::{ControllerConfig, KindVisitorMut, ResourceSet, StoredKind, visit_all_kinds};
use crate::provider::Snapshots;

/// Upper bound on events applied between two snapshots, so that a long initial list or an
/// event storm still yields snapshots along the way.
const MAX_EVENTS_PER_SNAPSHOT: usize = 4096;

/// A running Kubernetes provider. Dropping it stops the watches.
#[derive(Debug)]
pub struct KubernetesProvider {
    task: JoinHandle<()>,
    decode_errors: Arc<DecodeErrors>,
}

impl KubernetesProvider {
    /// Watch every kind `ResourceSet` stores, cluster-wide.
    ///
    /// The receiver starts with an empty placeholder (revision 0); the first real snapshot
    /// replaces it once every kind's initial list has completed, so wait for `changed()`
    /// before the first use. Watch errors are logged and retried with kube-runtime's default
    /// backoff; they never stop the provider. Objects are decoded one by one, so an object
    /// the controller's types cannot read (a newer CRD version, a hand-edited object) is
    /// skipped and reported ([`KubernetesProvider::decode_errors`]) while every other object
    /// keeps flowing.
    pub fn start(client: Client, config: ControllerConfig) -> (Snapshots, KubernetesProvider) {
        let placeholder = Arc::new(ResourceSet {
            config: config.clone(),
            ..ResourceSet::default()
        });
        let (tx, rx) = watch::channel(placeholder);
        let decode_errors = Arc::new(DecodeErrors::default());
        let mut watches = WatchKind {
            client,
            streams: SelectAll::new(),
            decode_errors: decode_errors.clone(),
        };
        visit_all_kinds(&mut watches);
        let task = tokio::spawn(run(Index::new(config), watches.streams, tx));
        (
            rx,
            KubernetesProvider {
                task,
                decode_errors,
            },
        )
    }

    /// The objects the watches could not decode, and how many decode failures there were.
    pub fn decode_errors(&self) -> Arc<DecodeErrors> {
        self.decode_errors.clone()
    }

    /// Whether the watch task has stopped (it only does when aborted or on a panic).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for KubernetesProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One watch event, with its kind erased so that the streams of all kinds can be merged.
type Update = Box<dyn FnOnce(&mut Index) + Send>;

/// Starts the watch of each kind it visits.
struct WatchKind {
    client: Client,
    streams: SelectAll<BoxStream<'static, Update>>,
    decode_errors: Arc<DecodeErrors>,
}

impl KindVisitorMut for WatchKind {
    fn visit<K: StoredKind>(&mut self) {
        let kind = format!("{} ({})", K::kind(&()), K::api_version(&()));
        // Untyped on the wire, typed per object: a typed watch fails as a whole on the
        // first object it cannot decode, and would stop every other object of the kind.
        let api =
            Api::<DynamicObject>::all_with(self.client.clone(), &ApiResource::erase::<K>(&()));
        let errors = self.decode_errors.clone();
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |event| -> Update {
                let kind = kind.clone();
                match event.map(|e| errors.decode::<K>(e)) {
                    Ok(None) => Box::new(|_: &mut Index| {}),
                    // Nothing reads managedFields; they are often the bulk of an object.
                    Ok(Some(event)) => Box::new(move |index: &mut Index| {
                        let was_served = index.is_served::<K>();
                        index.apply(&event.modify(|obj| {
                            obj.meta_mut().managed_fields = None;
                            slim(obj);
                        }));
                        if !was_served && index.is_served::<K>() {
                            tracing::info!(kind = %kind, "{kind} is served now; watching it");
                        }
                    }),
                    Err(err) if is_not_served(&err) => Box::new(move |index: &mut Index| {
                        if index.not_served::<K>() {
                            tracing::info!(
                                kind = %kind,
                                "the API server does not serve {kind} (its CRD is not installed?); \
                                 treating it as empty until it does"
                            );
                        }
                    }),
                    Err(err) => {
                        tracing::warn!(kind = %kind, "watch failed, retrying with backoff: {err}");
                        Box::new(|_: &mut Index| {})
                    }
                }
            });
        self.streams.push(stream.boxed());
    }
}

/// Pods are read for their labels and addresses only (a `kube` Upstream's selector); their
/// spec and the rest of their status, the bulk of each, are not kept.
fn slim<K: StoredKind>(obj: &mut K) {
    if let Some(pod) = (obj as &mut dyn std::any::Any).downcast_mut::<Pod>() {
        pod.spec = None;
        pod.status = pod.status.take().map(|s| PodStatus {
            pod_ip: s.pod_ip,
            pod_ips: s.pod_ips,
            ..PodStatus::default()
        });
    }
}

/// Whether a watch error says the API server does not serve the kind at all.
fn is_not_served(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.is_not_found(),
        watcher::Error::WatchError(status) => status.is_not_found(),
        _ => false,
    }
}

async fn run(
    mut index: Index,
    mut streams: SelectAll<BoxStream<'static, Update>>,
    tx: watch::Sender<Arc<ResourceSet>>,
) {
    while let Some(update) = streams.next().await {
        update(&mut index);
        for _ in 1..MAX_EVENTS_PER_SNAPSHOT {
            match streams.next().now_or_never() {
                Some(Some(update)) => update(&mut index),
                _ => break,
            }
        }
        if let Some(snapshot) = index.take_snapshot() {
            tracing::debug!(
                revision = snapshot.revision,
                objects = snapshot.len(),
                "kubernetes provider published a snapshot"
            );
            tx.send_replace(snapshot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_keep_their_labels_and_addresses_only() {
        let mut pod: Pod = serde_yaml::from_str(
            "metadata: {name: web-1, namespace: shop, labels: {track: canary}}
spec: {containers: [{name: web, image: web:1}]}
status: {phase: Running, podIP: 10.0.0.7, podIPs: [{ip: 10.0.0.7}], hostIP: 10.1.0.1}",
        )
        .expect("pod");
        slim(&mut pod);
        assert!(pod.spec.is_none());
        let status = pod.status.as_ref().expect("status");
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.7"));
        assert_eq!(status.pod_ips.as_ref().map(Vec::len), Some(1));
        assert!(status.phase.is_none() && status.host_ip.is_none());
        assert_eq!(
            pod.metadata.labels.as_ref().and_then(|l| l.get("track")),
            Some(&"canary".to_string())
        );

        let mut service: crate::api::Service =
            serde_yaml::from_str("metadata: {name: web}\nspec: {ports: [{port: 80}]}")
                .expect("service");
        slim(&mut service);
        assert!(service.spec.is_some(), "other kinds are kept whole");
    }
}
