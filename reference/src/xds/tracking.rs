//! ACK/NACK bookkeeping per node and type, and the serializable status built from it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource::ResourceType;
use super::rollout::Report;

/// When something happened, as RFC 3339 text.
fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// One rejected response: Envoy's own words on why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nack {
    /// Version of the rejected set of resources of this type.
    pub version: String,
    /// Envoy's `error_detail.message`.
    pub message: String,
    pub at: String,
}

/// Progress of one resource type on one node (all its streams together).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeStatus {
    pub pushes: u64,
    pub acks: u64,
    pub nacks: u64,
    /// Version of the set Envoy last accepted; once a rollout completes, the final one.
    pub acked_version: Option<String>,
    /// How many resources of this type Envoy holds after that ACK.
    pub acked_resources: usize,
    pub last_ack_at: Option<String>,
    pub last_nack: Option<Nack>,
}

/// The snapshot content a stream rejected, which makes waiting for it pointless.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub snapshot_version: String,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub message: String,
}

/// What `/xds` shows for one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub node_id: String,
    pub connected: bool,
    /// Connected ADS streams (more than one when replicas share the node id).
    pub streams: usize,
    /// Protocol of each connected stream: "sotw" or "delta".
    pub protocols: Vec<&'static str>,
    pub snapshot_version: Option<String>,
    pub snapshot_revision: Option<u64>,
    /// Snapshots handed to the cache for this node, changed or not.
    pub snapshots_set: u64,
    /// The last snapshot content a stream of this node ACKed in full.
    pub acked_version: Option<String>,
    /// The highest input revision whose content every connected stream has ACKed.
    pub acked_revision: Option<u64>,
    /// Set when a connected stream rejected the current snapshot.
    pub rejected: Option<Rejection>,
    /// Per type, keyed by "CDS", "EDS", "LDS", "RDS".
    pub types: BTreeMap<&'static str, TypeStatus>,
}

/// Per-type counters of a node, fed with the reports of its streams.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tracking {
    types: [TypeStatus; 4],
}

impl Tracking {
    pub(crate) fn record(&mut self, node: &str, report: &Report) {
        match report {
            Report::Pushed { ty, version } => {
                self.types[ty.index()].pushes += 1;
                tracing::debug!(node, ty = %ty, version, "pushed");
            }
            Report::Acked {
                ty,
                version,
                resources,
            } => {
                let t = &mut self.types[ty.index()];
                t.acks += 1;
                t.acked_version = Some(version.clone());
                t.acked_resources = *resources;
                t.last_ack_at = Some(now());
                tracing::debug!(node, ty = %ty, version, "ACK");
            }
            Report::Nacked {
                ty,
                version,
                message,
                ..
            } => {
                let t = &mut self.types[ty.index()];
                t.nacks += 1;
                t.last_nack = Some(Nack {
                    version: version.clone(),
                    message: message.clone(),
                    at: now(),
                });
                tracing::warn!(node, ty = %ty, version, message, "Envoy rejected xDS update (NACK)");
            }
            Report::Complete { version, revision } => {
                tracing::debug!(node, version, revision, "snapshot ACKed");
            }
        }
    }

    pub(crate) fn by_name(&self) -> BTreeMap<&'static str, TypeStatus> {
        ResourceType::ALL
            .into_iter()
            .map(|t| (t.short_name(), self.types[t.index()].clone()))
            .collect()
    }
}
