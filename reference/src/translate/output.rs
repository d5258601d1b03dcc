//! What a translation produces.

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;

use super::route_table::RouteTable;
use crate::api::k8sgateway::gateway_parameters::GatewayParametersSpec;
use crate::model::ObjectKey;

/// The result of one `translate()` call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// One proxy configuration per Gateway this controller manages. Shared, so that a
    /// [`Translator`](super::Translator) hands on a Gateway's configuration unchanged (and
    /// its consumers can tell, by pointer) when nothing it is built from changed.
    pub proxies: BTreeMap<ObjectKey, Arc<ProxyConfig>>,
    /// Status for every object this controller has an opinion on, in a stable order.
    pub statuses: Vec<StatusUpdate>,
}

/// Everything one Gateway's Envoy needs, as xDS resources (sorted by name within each list).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyConfig {
    /// The xDS node id the Gateway's Envoy identifies itself with.
    pub node_id: String,
    /// The address the proxy listens on, when the infrastructure provider assigned one.
    pub address: Option<String>,
    /// How the proxy is deployed: the Gateway's GatewayParameters merged over its class's,
    /// when any apply (infrastructure providers read it; xDS does not depend on it).
    pub parameters: Option<GatewayParametersSpec>,
    pub listeners: Vec<Listener>,
    pub routes: Vec<RouteTable>,
    pub clusters: Vec<Cluster>,
    pub endpoints: Vec<ClusterLoadAssignment>,
}

impl ProxyConfig {
    /// The GatewayParameters say the user runs this proxy (`selfManaged`): no infrastructure
    /// provider deploys it.
    pub fn self_managed(&self) -> bool {
        self.parameters
            .as_ref()
            .is_some_and(|p| p.self_managed.is_some())
    }
}

/// Identifies the object a status update is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// The status this controller wants an object to have.
///
/// Conditions carry `lastTransitionTime` set to the Unix epoch: translation has no clock. The
/// status writer replaces it with the previous time when the condition did not change, or now.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StatusUpdate {
    pub target: ObjectRef,
    pub patch: StatusPatch,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StatusPatch {
    /// The whole `status` of an object this controller owns (GatewayClass, Gateway).
    Whole(serde_json::Value),
    /// A route's `status.parents` entries written by `controller_name`. Entries of other
    /// controllers are left alone; ours are replaced by exactly these (an empty list removes
    /// ours).
    RouteParents {
        controller_name: String,
        /// Shared: an unchanged route's status is taken over from one translation to the
        /// next, and the status writer gets its own list, thousands of times per change.
        parents: Arc<Vec<serde_json::Value>>,
    },
    /// A policy's `status.ancestors` entries (Gateway API PolicyStatus, as the K8sGateway
    /// policy kinds carry it) written by `controller_name`, shared with other controllers
    /// exactly as route parents are.
    PolicyAncestors {
        controller_name: String,
        ancestors: Vec<serde_json::Value>,
    },
}
