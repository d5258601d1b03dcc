//! Backend references: resolving them to Service ports or Upstreams, and the clusters and
//! endpoints that serve them.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::ObjectReference;

use crate::api::{EndpointSlice, Pod};
use crate::model::{ObjectKey, ResourceSet, Store};
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
    /// Only endpoints whose Pod carries all these labels (a `kube` Upstream's `selector`);
    /// empty: every endpoint.
    pub pod_selector: BTreeMap<String, String>,
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
            pod_selector: BTreeMap::new(),
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
    pods: &'a Store<Pod>,
    /// Pods by namespace and address, for endpoints without a Pod `targetRef`.
    pods_by_ip: HashMap<(&'a str, &'a str), &'a Pod>,
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
        let mut pods_by_ip = HashMap::new();
        for (key, pod) in &set.pods {
            let ips = pod.status.as_ref().into_iter().flat_map(|s| {
                s.pod_ips
                    .iter()
                    .flatten()
                    .map(|p| p.ip.as_str())
                    .chain(s.pod_ip.as_deref())
            });
            for ip in ips {
                pods_by_ip.insert((key.namespace.as_str(), ip), &**pod);
            }
        }
        Self {
            by_service,
            pods: &set.pods,
            pods_by_ip,
        }
    }

    /// Whether the Pod behind an endpoint carries every label of `selector`. The Pod is the
    /// endpoint's `targetRef`, or else the one in the slice's namespace with that address;
    /// an endpoint whose Pod is unknown is left out, as K8sGateway leaves it out.
    fn selected(
        &self,
        selector: &BTreeMap<String, String>,
        namespace: &str,
        target: Option<&ObjectReference>,
        ip: &str,
    ) -> bool {
        if selector.is_empty() {
            return true;
        }
        let by_ref = target
            .filter(|t| t.kind.as_deref() == Some("Pod"))
            .and_then(|t| {
                let ns = t.namespace.as_deref().unwrap_or(namespace);
                self.pods
                    .get(&ObjectKey::new(ns, t.name.as_deref().unwrap_or_default()))
                    .map(|p| &**p)
            });
        let Some(pod) = by_ref.or_else(|| self.pods_by_ip.get(&(namespace, ip)).copied()) else {
            return false;
        };
        let labels = pod.metadata.labels.as_ref();
        selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }

    /// Ready endpoint addresses and ports of a Service port, sorted and deduplicated.
    pub fn endpoints(&self, target: &ServicePort) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for slice in self.by_service.get(&target.key).into_iter().flatten() {
            let namespace = slice.metadata.namespace.as_deref().unwrap_or_default();
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
                    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
                        continue;
                    };
                    if self.selected(
                        &target.pod_selector,
                        namespace,
                        ep.target_ref.as_ref(),
                        addr,
                    ) {
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

/// Every cluster a Gateway uses, by name, while its routes are gathered.
pub(crate) type ClusterSet<'a> = foldhash::HashMap<&'a str, &'a ClusterTarget>;

#[cfg(test)]
mod tests {
    use super::*;

    fn object<K: serde::de::DeserializeOwned>(yaml: &str) -> K {
        serde_yaml::from_str(yaml).expect("test object")
    }

    /// A Service `web` in `shop` with three endpoints: pods `blue` and `green` by `targetRef`,
    /// and 127.0.0.13 without one (its Pod, `red`, found by address).
    fn world() -> ResourceSet {
        let mut set = ResourceSet::default();
        set.insert::<EndpointSlice>(object(
            "metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints:
- {addresses: [127.0.0.11], targetRef: {kind: Pod, name: blue, namespace: shop}}
- {addresses: [127.0.0.12], targetRef: {kind: Pod, name: green}}
- {addresses: [127.0.0.13]}",
        ));
        for (name, color, ip) in [
            ("blue", "blue", "127.0.0.11"),
            ("green", "green", "127.0.0.12"),
            ("red", "red", "127.0.0.13"),
        ] {
            set.insert::<Pod>(object(&format!(
                "metadata: {{name: {name}, namespace: shop, labels: {{app: web, color: {color}}}}}
status: {{podIP: {ip}}}"
            )));
        }
        set
    }

    fn endpoints(set: &ResourceSet, selector: &[(&str, &str)]) -> Vec<String> {
        let port = ServicePort {
            key: ObjectKey::new("shop", "web"),
            port: 80,
            port_name: Some("http".into()),
            app_protocol: None,
            pod_selector: selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        EndpointIndex::new(set)
            .endpoints(&port)
            .into_iter()
            .map(|(ip, _)| ip)
            .collect()
    }

    #[test]
    fn a_pod_selector_keeps_the_endpoints_whose_pod_has_every_label() {
        let set = world();
        assert_eq!(
            endpoints(&set, &[]),
            ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
        );
        assert_eq!(endpoints(&set, &[("color", "green")]), ["127.0.0.12"]);
        assert_eq!(
            endpoints(&set, &[("app", "web"), ("color", "blue")]),
            ["127.0.0.11"]
        );
        // Without a targetRef the Pod is found by its address.
        assert_eq!(endpoints(&set, &[("color", "red")]), ["127.0.0.13"]);
        assert!(endpoints(&set, &[("app", "web"), ("color", "pink")]).is_empty());
    }

    #[test]
    fn an_endpoint_whose_pod_is_unknown_is_left_out_by_a_selector() {
        let mut set = world();
        set.remove::<Pod>(&ObjectKey::new("shop", "green"));
        assert_eq!(
            endpoints(&set, &[("app", "web")]),
            ["127.0.0.11", "127.0.0.13"]
        );
        assert_eq!(endpoints(&set, &[]).len(), 3, "no selector: every endpoint");
    }
}
