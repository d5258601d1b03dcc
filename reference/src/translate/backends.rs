//! Backend references: resolving them to Service ports or Upstreams, and the clusters and
//! endpoints that serve them.

use std::collections::{BTreeMap, HashMap};

use crate::api::EndpointSlice;

use crate::model::{ObjectKey, ResourceSet};
use crate::translate::conditions::{Problem, reason};
use crate::translate::names;
use crate::translate::refs::{self, RefFrom, RefTo};
use crate::translate::upstreams;

/// A resolved backend, served by one Envoy cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ClusterTarget {
    pub cluster: String,
    /// The Service port whose EndpointSlices hold the endpoints: a Service backendRef's, or a
    /// `kube` Upstream's. `None` for an Upstream of fixed hosts.
    pub service: Option<ServicePort>,
    /// The Upstream whose settings shape the cluster, when the backendRef names one.
    pub upstream: Option<ObjectKey>,
}

/// One port of one Service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ServicePort {
    pub key: ObjectKey,
    pub port: i32,
    /// The Service port's name: EndpointSlice ports are matched by it.
    pub port_name: Option<String>,
    pub app_protocol: Option<String>,
}

/// A backendRef as written, whatever the route kind.
pub(crate) struct BackendRefIr<'a> {
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub port: Option<i32>,
}

/// Resolve a backendRef of a route (`route_kind` in `route_ns`).
pub(crate) fn resolve(
    set: &ResourceSet,
    route_kind: &str,
    route_ns: &str,
    r: &BackendRefIr<'_>,
) -> Result<ClusterTarget, Problem> {
    let group = r.group.unwrap_or("");
    let kind = r.kind.unwrap_or("Service");
    let is_upstream = group == upstreams::GROUP && kind == upstreams::KIND;
    if !is_upstream && (!group.is_empty() || kind != "Service") {
        return Err(Problem::new(
            reason::INVALID_KIND,
            format!(
                "backendRef {group}/{kind} {}: only core Services and {}/{} are supported",
                r.name,
                upstreams::GROUP,
                upstreams::KIND
            ),
        ));
    }
    let ns = r.namespace.unwrap_or(route_ns);
    let from = RefFrom {
        group: crate::api::GATEWAY_GROUP,
        kind: route_kind,
        namespace: route_ns,
    };
    let to = RefTo {
        group,
        kind,
        namespace: ns,
        name: r.name,
    };
    if !refs::permitted(set, from, to) {
        return Err(Problem::new(
            reason::REF_NOT_PERMITTED,
            format!(
                "{kind} {ns}/{} is in another namespace and no ReferenceGrant allows it",
                r.name
            ),
        ));
    }
    let key = ObjectKey::new(ns, r.name);
    if is_upstream {
        return resolve_upstream(set, key);
    }
    let svc = set.services.get(&key).ok_or_else(|| {
        Problem::new(
            reason::BACKEND_NOT_FOUND,
            format!("Service {ns}/{} does not exist", r.name),
        )
    })?;
    let Some(port) = r.port else {
        return Err(Problem::new(
            reason::BACKEND_NOT_FOUND,
            format!("backendRef to Service {ns}/{} has no port", r.name),
        ));
    };
    let sp = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| p.port == port))
        .ok_or_else(|| {
            Problem::new(
                reason::BACKEND_NOT_FOUND,
                format!("Service {ns}/{} has no port {port}", r.name),
            )
        })?;
    Ok(ClusterTarget {
        cluster: names::service_cluster(&key, port),
        service: Some(ServicePort {
            key,
            port,
            port_name: sp.name.clone().filter(|n| !n.is_empty()),
            app_protocol: sp.app_protocol.clone(),
        }),
        upstream: None,
    })
}

/// A backendRef to an Upstream: its port, if any, is not used (the Upstream says where to
/// connect), as in K8sGateway.
fn resolve_upstream(set: &ResourceSet, key: ObjectKey) -> Result<ClusterTarget, Problem> {
    let upstream = set.upstreams.get(&key).ok_or_else(|| {
        Problem::new(
            reason::BACKEND_NOT_FOUND,
            format!("Upstream {key} does not exist"),
        )
    })?;
    let service = upstreams::check(set, &key, upstream).map_err(|why| {
        Problem::new(
            reason::BACKEND_NOT_FOUND,
            format!("Upstream {key} cannot be used: {why}"),
        )
    })?;
    Ok(ClusterTarget {
        cluster: names::upstream_cluster(&key),
        service,
        upstream: Some(key),
    })
}

/// EndpointSlices by the Service they belong to, built once per translation so that looking up
/// a cluster's endpoints does not scan every slice of the namespace.
pub(crate) struct EndpointIndex<'a> {
    by_service: HashMap<ObjectKey, Vec<&'a EndpointSlice>>,
}

impl<'a> EndpointIndex<'a> {
    pub fn new(set: &'a ResourceSet) -> Self {
        let mut by_service: HashMap<ObjectKey, Vec<&'a EndpointSlice>> = HashMap::new();
        for (key, slice) in &set.endpoint_slices {
            // Envoy takes IP endpoints only: an FQDN slice (or a malformed address) would be
            // rejected, and with it every other resource of the push.
            if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
                continue;
            }
            if let Some(owner) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
            {
                by_service
                    .entry(ObjectKey::new(&key.namespace, owner))
                    .or_default()
                    .push(slice);
            }
        }
        Self { by_service }
    }

    /// Ready endpoint addresses and ports of a Service port, sorted and deduplicated.
    pub fn endpoints(&self, target: &ServicePort) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for slice in self.by_service.get(&target.key).into_iter().flatten() {
            let Some(port) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| {
                    p.name.as_deref().filter(|n| !n.is_empty()) == target.port_name.as_deref()
                })
                .and_then(|p| p.port)
            else {
                continue;
            };
            let Ok(port) = u32::try_from(port) else {
                continue;
            };
            for ep in &slice.endpoints {
                // `ready` unset means ready, as Kubernetes defines it.
                if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                for addr in &ep.addresses {
                    if let Ok(ip) = addr.parse::<std::net::IpAddr>() {
                        out.push((ip.to_string(), port));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Every cluster a Gateway uses, by name.
pub(crate) type ClusterSet = BTreeMap<String, ClusterTarget>;
