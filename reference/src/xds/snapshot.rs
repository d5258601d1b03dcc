//! `Snapshot`: everything one Envoy should hold, packed once and versioned by content.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use prost::{Message, Name};

use super::fingerprint::{Fnv, resource_version, set_version};
use super::resource::{Resource, ResourceType};
use crate::translate::ProxyConfig;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SnapshotError {
    #[error("a {ty} resource has an empty name")]
    EmptyName { ty: ResourceType },
    #[error("two {ty} resources are named {name:?}")]
    DuplicateName { ty: ResourceType, name: String },
    /// Envoy asks for endpoints and route configurations by name, only when a cluster or listener
    /// refers to them; one nobody refers to would never be requested, so the snapshot could never
    /// count as ACKed.
    #[error("{ty} resource {name:?} is not referenced by any {}", if *ty == ResourceType::Endpoint { "EDS cluster" } else { "listener" })]
    Unreferenced { ty: ResourceType, name: String },
    /// Envoy would keep the referring cluster or listener warming until its initial fetch
    /// timeout.
    #[error("{referrer} refers to {ty} resource {name:?}, which the snapshot lacks")]
    Missing {
        ty: ResourceType,
        name: String,
        referrer: String,
    },
    #[error("listener {listener:?}: cannot decode its HttpConnectionManager: {source}")]
    BadFilter {
        listener: String,
        #[source]
        source: prost::DecodeError,
    },
}

/// The resources of one type, by name, with the version of the whole set.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TypeSet {
    pub(crate) resources: BTreeMap<String, Arc<Resource>>,
    pub(crate) version: String,
}

impl TypeSet {
    /// `previous`: the same type in the node's previous snapshot. A resource whose encoding
    /// did not change is taken from it as it is, without hashing it again (canonical hashing
    /// costs more than encoding).
    fn build(
        ty: ResourceType,
        items: Vec<(String, Vec<u8>)>,
        previous: Option<&TypeSet>,
    ) -> Result<Self, SnapshotError> {
        let type_url = ty.type_url();
        let mut resources = BTreeMap::new();
        for (name, value) in items {
            if name.is_empty() {
                return Err(SnapshotError::EmptyName { ty });
            }
            let same = previous
                .and_then(|p| p.resources.get(&name))
                .filter(|r| r.any.value == value);
            if let Some(same) = same {
                if resources.insert(name.clone(), Arc::clone(same)).is_some() {
                    return Err(SnapshotError::DuplicateName { ty, name });
                }
                continue;
            }
            let any = envoy_types::pb::google::protobuf::Any {
                type_url: type_url.clone(),
                value,
            };
            let version = resource_version(&any);
            let resource = Arc::new(Resource {
                name: name.clone(),
                version,
                any,
            });
            if resources.insert(name.clone(), resource).is_some() {
                return Err(SnapshotError::DuplicateName { ty, name });
            }
        }
        let version = set_version(
            resources
                .values()
                .map(|r| (r.name.as_str(), r.version.as_str())),
        );
        Ok(Self { resources, version })
    }
}

/// What one Envoy should hold. Cheap to clone: the resources are shared.
///
/// `version` is a hash of the content alone; `revision` is the caller's input revision (see
/// `ResourceSet::revision`), which the cache reports back once Envoy has ACKed the content.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    revision: u64,
    version: String,
    types: Arc<[TypeSet; 4]>,
    /// The EDS name of each EDS cluster, by cluster name.
    cluster_eds: Arc<BTreeMap<String, String>>,
}

impl Snapshot {
    /// Pack and version the resources, checking that every endpoints and route resource is
    /// referenced and every reference is satisfied.
    pub fn new(
        revision: u64,
        clusters: Vec<Cluster>,
        endpoints: Vec<ClusterLoadAssignment>,
        listeners: Vec<Listener>,
        routes: Vec<RouteConfiguration>,
    ) -> Result<Self, SnapshotError> {
        let routes = routes
            .iter()
            .map(|r| (r.name.clone(), r.encode_to_vec()))
            .collect();
        Self::pack(revision, &clusters, &endpoints, &listeners, routes, None)
    }

    /// `new` over borrowed resources: a translation's output is packed without a copy.
    /// Route configurations come encoded, by name: the translator's share virtual hosts
    /// (`RouteTable`) and encode themselves.
    fn pack(
        revision: u64,
        clusters: &[Cluster],
        endpoints: &[ClusterLoadAssignment],
        listeners: &[Listener],
        routes: Vec<(String, Vec<u8>)>,
        previous: Option<&Snapshot>,
    ) -> Result<Self, SnapshotError> {
        let before = |ty: ResourceType| previous.map(|p| &p.types[ty.index()]);
        let cluster_eds = eds_names(clusters);
        let eds_refs = cluster_eds
            .iter()
            .map(|(c, e)| (e.clone(), format!("cluster {c:?}")))
            .collect();
        let rds_refs = rds_references(listeners)?;
        let types = [
            TypeSet::build(
                ResourceType::Cluster,
                clusters
                    .iter()
                    .map(|c| (c.name.clone(), c.encode_to_vec()))
                    .collect(),
                before(ResourceType::Cluster),
            )?,
            TypeSet::build(
                ResourceType::Endpoint,
                endpoints
                    .iter()
                    .map(|e| (e.cluster_name.clone(), e.encode_to_vec()))
                    .collect(),
                before(ResourceType::Endpoint),
            )?,
            TypeSet::build(
                ResourceType::Listener,
                listeners
                    .iter()
                    .map(|l| (l.name.clone(), l.encode_to_vec()))
                    .collect(),
                before(ResourceType::Listener),
            )?,
            TypeSet::build(ResourceType::Route, routes, before(ResourceType::Route))?,
        ];
        check_references(ResourceType::Endpoint, &types[1], &eds_refs)?;
        check_references(ResourceType::Route, &types[3], &rds_refs)?;
        let mut h = Fnv::new();
        for t in &types {
            h.field(t.version.as_bytes());
        }
        Ok(Self {
            revision,
            version: h.hex(),
            types: Arc::new(types),
            cluster_eds: Arc::new(cluster_eds),
        })
    }

    /// The snapshot of one Gateway's translated configuration.
    pub fn from_proxy(revision: u64, proxy: &ProxyConfig) -> Result<Self, SnapshotError> {
        Self::from_proxy_after(revision, proxy, None)
    }

    /// As `from_proxy`, taking every resource whose encoding is unchanged from `previous`
    /// (the node's current snapshot): the result is the same, only cheaper.
    pub fn from_proxy_after(
        revision: u64,
        proxy: &ProxyConfig,
        previous: Option<&Snapshot>,
    ) -> Result<Self, SnapshotError> {
        Self::pack(
            revision,
            &proxy.clusters,
            &proxy.endpoints,
            &proxy.listeners,
            proxy
                .routes
                .iter()
                .map(|r| (r.name.clone(), r.encode_to_vec()))
                .collect(),
            previous,
        )
    }

    /// No resources at all.
    pub fn empty(revision: u64) -> Self {
        Self::new(revision, vec![], vec![], vec![], vec![])
            .expect("an empty snapshot is consistent")
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Content hash: equal for equal content, whatever the revision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The same content under another revision.
    pub fn with_revision(&self, revision: u64) -> Self {
        Self {
            revision,
            ..self.clone()
        }
    }

    /// Content hash of one type's resources.
    pub fn type_version(&self, ty: ResourceType) -> &str {
        &self.types[ty.index()].version
    }

    /// The endpoints resource an EDS cluster loads.
    pub(crate) fn eds_name(&self, cluster: &str) -> Option<&str> {
        self.cluster_eds.get(cluster).map(String::as_str)
    }

    /// The resources of one type, by name.
    pub fn resources(&self, ty: ResourceType) -> &BTreeMap<String, Arc<Resource>> {
        &self.types[ty.index()].resources
    }
}

/// The EDS name each EDS cluster subscribes to, by cluster name.
fn eds_names(clusters: &[Cluster]) -> BTreeMap<String, String> {
    let eds = Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
    clusters
        .iter()
        .filter(|c| c.cluster_discovery_type == eds)
        .map(|c| {
            let service = c
                .eds_cluster_config
                .as_ref()
                .map(|e| e.service_name.as_str())
                .unwrap_or("");
            let name = if service.is_empty() {
                c.name.clone()
            } else {
                service.to_string()
            };
            (c.name.clone(), name)
        })
        .collect()
}

/// Route configuration names the listeners' HTTP connection managers will subscribe to.
fn rds_references(listeners: &[Listener]) -> Result<BTreeMap<String, String>, SnapshotError> {
    let hcm_url = HttpConnectionManager::type_url();
    let mut refs = BTreeMap::new();
    for l in listeners {
        for chain in l
            .filter_chains
            .iter()
            .chain(l.default_filter_chain.as_ref())
        {
            for f in &chain.filters {
                let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
                    continue;
                };
                if any.type_url != hcm_url {
                    continue;
                }
                let hcm =
                    HttpConnectionManager::decode(any.value.as_slice()).map_err(|source| {
                        SnapshotError::BadFilter {
                            listener: l.name.clone(),
                            source,
                        }
                    })?;
                if let Some(RouteSpecifier::Rds(rds)) = hcm.route_specifier {
                    refs.entry(rds.route_config_name)
                        .or_insert_with(|| format!("listener {:?}", l.name));
                }
            }
        }
    }
    Ok(refs)
}

fn check_references(
    ty: ResourceType,
    set: &TypeSet,
    refs: &BTreeMap<String, String>,
) -> Result<(), SnapshotError> {
    if let Some(name) = set.resources.keys().find(|n| !refs.contains_key(*n)) {
        return Err(SnapshotError::Unreferenced {
            ty,
            name: name.clone(),
        });
    }
    let present: BTreeSet<&String> = set.resources.keys().collect();
    if let Some((name, referrer)) = refs.iter().find(|(n, _)| !present.contains(n)) {
        return Err(SnapshotError::Missing {
            ty,
            name: name.clone(),
            referrer: referrer.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::fixtures::{cluster, endpoints, listener, routes, snapshot};

    #[test]
    fn version_depends_on_content_not_revision() {
        let a = snapshot(1, &[("/", "a")]);
        assert_eq!(a.version(), snapshot(9, &[("/", "a")]).version());
        assert_eq!(a.with_revision(9), snapshot(9, &[("/", "a")]));
        assert_ne!(a.version(), snapshot(1, &[("/v2", "a")]).version());
        assert_eq!(
            a.type_version(ResourceType::Cluster),
            snapshot(1, &[("/v2", "a")]).type_version(ResourceType::Cluster)
        );
    }

    #[test]
    fn inconsistent_snapshots_are_refused() {
        let dup = Snapshot::new(
            1,
            vec![cluster("a", ""), cluster("a", "x")],
            vec![endpoints("a")],
            vec![],
            vec![],
        );
        assert_eq!(
            dup,
            Err(SnapshotError::DuplicateName {
                ty: ResourceType::Cluster,
                name: "a".into()
            })
        );
        let unreferenced = Snapshot::new(1, vec![], vec![endpoints("a")], vec![], vec![]);
        assert_eq!(
            unreferenced,
            Err(SnapshotError::Unreferenced {
                ty: ResourceType::Endpoint,
                name: "a".into()
            })
        );
        let missing = Snapshot::new(1, vec![], vec![], vec![listener("l", "r")], vec![]);
        assert_eq!(
            missing,
            Err(SnapshotError::Missing {
                ty: ResourceType::Route,
                name: "r".into(),
                referrer: "listener \"l\"".into()
            })
        );
        let unnamed = Snapshot::new(1, vec![], vec![], vec![], vec![routes("", &[])]);
        assert_eq!(
            unnamed,
            Err(SnapshotError::EmptyName {
                ty: ResourceType::Route
            })
        );
        assert_eq!(
            missing.unwrap_err().to_string(),
            "listener \"l\" refers to RDS resource \"r\", which the snapshot lacks"
        );
    }

    #[test]
    fn packing_after_a_snapshot_shares_what_did_not_change_and_nothing_else() {
        let proxy = |rules: &[(&str, &str)]| ProxyConfig {
            clusters: vec![cluster("a", ""), cluster("b", "")],
            endpoints: vec![endpoints("a"), endpoints("b")],
            listeners: vec![listener("http", "http")],
            routes: vec![routes("http", rules).into()],
            ..ProxyConfig::default()
        };
        let first = Snapshot::from_proxy(1, &proxy(&[("/", "a")])).unwrap();
        let edited = proxy(&[("/", "a"), ("/b", "b")]);
        let after = Snapshot::from_proxy_after(2, &edited, Some(&first)).unwrap();
        assert_eq!(after, Snapshot::from_proxy(2, &edited).unwrap());
        let shared = |ty: ResourceType, name: &str| {
            Arc::ptr_eq(&first.resources(ty)[name], &after.resources(ty)[name])
        };
        assert!(shared(ResourceType::Cluster, "a"));
        assert!(shared(ResourceType::Listener, "http"));
        assert!(
            !shared(ResourceType::Route, "http"),
            "the edited routes are new"
        );
        assert_ne!(
            first.type_version(ResourceType::Route),
            after.type_version(ResourceType::Route)
        );
    }
}
