//! The four xDS resource types this server serves, and one packed resource.

use std::fmt;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::google::protobuf::Any;
use prost::Name;

/// A resource type, in make-before-break order: the declaration order is the push order
/// (clusters before the endpoints they load, both before the listeners and routes that use them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Cluster,
    Endpoint,
    Listener,
    Route,
}

impl ResourceType {
    /// Every type, in push order.
    pub const ALL: [ResourceType; 4] = [Self::Cluster, Self::Endpoint, Self::Listener, Self::Route];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn type_url(self) -> String {
        match self {
            Self::Cluster => Cluster::type_url(),
            Self::Endpoint => ClusterLoadAssignment::type_url(),
            Self::Listener => Listener::type_url(),
            Self::Route => RouteConfiguration::type_url(),
        }
    }

    pub fn from_type_url(url: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// The short xDS service name (CDS, EDS, ...), used in logs, metrics and `/xds`.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Cluster => "CDS",
            Self::Endpoint => "EDS",
            Self::Listener => "LDS",
            Self::Route => "RDS",
        }
    }

    /// Whether removals of this type wait until the listeners and routes of a new snapshot are
    /// ACKed: a route Envoy still holds may point at a cluster, and a cluster at its endpoints.
    pub(crate) fn defers_removal(self) -> bool {
        matches!(self, Self::Cluster | Self::Endpoint)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// One resource, packed once when the snapshot is built and shared by every stream that sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub name: String,
    /// Hash of the canonical encoding: equal content, equal version.
    pub version: String,
    pub any: Any,
}
