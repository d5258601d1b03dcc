//! The kinds simkube serves, as one table.
//!
//! Adding a kind is a row here: discovery, routing, storage and the status rules are all
//! driven by this data, so there is no per-kind code anywhere else.
//!
//! A kind defined by a CRD can be withheld until its CustomResourceDefinition is created
//! (see [`KindTable::withholding`]): while withheld it is absent from discovery and every
//! request to it is answered `404`, as on a cluster where the CRD is not installed.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

/// One served kind: its names, the versions it is served at, and the behaviour the server
/// gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Served versions, the preferred (and storage) version first. Every version shares one
    /// storage: an object created at one version is visible at all of them.
    pub versions: &'static [&'static str],
    /// `kind` as written in manifests.
    pub kind: &'static str,
    /// Resource name used in URLs.
    pub plural: &'static str,
    /// Lower-case singular name, for discovery (`kubectl get gateway`).
    pub singular: &'static str,
    /// Short names as upstream registers them (`kubectl get gtw`).
    pub short_names: &'static [&'static str],
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `status` subresource: writes to the main resource then leave
    /// `status` alone and writes to `/status` change nothing else.
    pub status_subresource: bool,
    /// Whether upstream defines the kind as a CustomResourceDefinition. Real servers refuse
    /// strategic merge patches for those, and so does simkube.
    pub custom: bool,
}

impl KindSpec {
    /// `group/version` as written in `apiVersion` (just `version` for the core group).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The version objects are stored at.
    pub fn storage_version(&self) -> &'static str {
        self.versions[0]
    }

    /// `plural.group`, the form real servers use in error messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `version` is served for this kind.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.contains(&version)
    }

    /// Whether objects carry `metadata.generation`. Every custom resource does; of the
    /// built-in kinds only those whose strategy sets it (a real kube-apiserver 1.36 gives a
    /// Pod, an EndpointSlice and a Deployment one, but no Service, Secret, ConfigMap,
    /// Namespace, Endpoints, Event or Lease).
    pub fn tracks_generation(&self) -> bool {
        self.custom
            || matches!(
                (self.group, self.kind),
                ("", "Pod") | ("discovery.k8s.io", "EndpointSlice") | ("apps", "Deployment")
            )
    }
}

const CORE: &str = "";
const GATEWAY: &str = "gateway.networking.k8s.io";
const GATEWAY_X: &str = "gateway.networking.x-k8s.io";
const SOLO_GATEWAY: &str = "gateway.solo.io";
const GLOO_GATEWAY: &str = "gateway.gloo.solo.io";
const GLOO: &str = "gloo.solo.io";

/// Shorthand for a table row; `status` and `custom` as in [`KindSpec`].
#[allow(clippy::too_many_arguments)]
const fn row(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    status_subresource: bool,
    custom: bool,
) -> KindSpec {
    KindSpec {
        group,
        versions,
        kind,
        plural,
        singular,
        short_names,
        namespaced,
        status_subresource,
        custom,
    }
}

const NS: bool = true;
const CLUSTER: bool = false;
const STATUS: bool = true;
const NO_STATUS: bool = false;
const CRD: bool = true;
const BUILTIN: bool = false;

/// Every kind simkube serves.
///
/// Versions follow what upstream Gateway API v1.6 serves. ReferenceGrant has no status
/// subresource upstream (it has no status at all), so it has none here either.
pub static KINDS: &[KindSpec] = &[
    // core/v1
    row(
        CORE,
        &["v1"],
        "Namespace",
        "namespaces",
        "namespace",
        &["ns"],
        CLUSTER,
        STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "Service",
        "services",
        "service",
        &["svc"],
        NS,
        STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        &["sa"],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "Secret",
        "secrets",
        "secret",
        &[],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "ConfigMap",
        "configmaps",
        "configmap",
        &["cm"],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "Pod",
        "pods",
        "pod",
        &["po"],
        NS,
        STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "Endpoints",
        "endpoints",
        "endpoints",
        &["ep"],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        CORE,
        &["v1"],
        "Event",
        "events",
        "event",
        &["ev"],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    // Events and leases, which controllers write (kube-runtime's event recorder, leader
    // election).
    row(
        "events.k8s.io",
        &["v1"],
        "Event",
        "events",
        "event",
        &["ev"],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        "coordination.k8s.io",
        &["v1"],
        "Lease",
        "leases",
        "lease",
        &[],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    // RBAC, which installation manifests carry (deploy/).
    row(
        "rbac.authorization.k8s.io",
        &["v1"],
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        &[],
        CLUSTER,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        "rbac.authorization.k8s.io",
        &["v1"],
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        &[],
        CLUSTER,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        "rbac.authorization.k8s.io",
        &["v1"],
        "Role",
        "roles",
        "role",
        &[],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        "rbac.authorization.k8s.io",
        &["v1"],
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        &[],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    // discovery.k8s.io and apps
    row(
        "discovery.k8s.io",
        &["v1"],
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        &[],
        NS,
        NO_STATUS,
        BUILTIN,
    ),
    row(
        "apps",
        &["v1"],
        "Deployment",
        "deployments",
        "deployment",
        &["deploy"],
        NS,
        STATUS,
        BUILTIN,
    ),
    // CustomResourceDefinitions, so that CRD manifests apply; creating or deleting one serves
    // or withdraws the kind it defines when that kind is in `Config::require_crds`.
    row(
        "apiextensions.k8s.io",
        &["v1"],
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        &["crd", "crds"],
        CLUSTER,
        STATUS,
        BUILTIN,
    ),
    // Gateway API
    row(
        GATEWAY,
        &["v1", "v1beta1"],
        "GatewayClass",
        "gatewayclasses",
        "gatewayclass",
        &["gc"],
        CLUSTER,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1beta1"],
        "Gateway",
        "gateways",
        "gateway",
        &["gtw"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1beta1"],
        "HTTPRoute",
        "httproutes",
        "httproute",
        &[],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1"],
        "GRPCRoute",
        "grpcroutes",
        "grpcroute",
        &[],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1beta1"],
        "ReferenceGrant",
        "referencegrants",
        "referencegrant",
        &["refgrant"],
        NS,
        NO_STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1alpha2", "v1alpha3"],
        "TLSRoute",
        "tlsroutes",
        "tlsroute",
        &[],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1alpha2"],
        "TCPRoute",
        "tcproutes",
        "tcproute",
        &[],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1alpha2"],
        "UDPRoute",
        "udproutes",
        "udproute",
        &[],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1", "v1alpha3"],
        "BackendTLSPolicy",
        "backendtlspolicies",
        "backendtlspolicy",
        &["btlspolicy"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY,
        &["v1"],
        "ListenerSet",
        "listenersets",
        "listenerset",
        &["lset"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY_X,
        &["v1alpha1"],
        "XBackendTrafficPolicy",
        "xbackendtrafficpolicies",
        "xbackendtrafficpolicy",
        &["xbtrafficpolicy"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GATEWAY_X,
        &["v1alpha1"],
        "XMesh",
        "xmeshes",
        "xmesh",
        &["mesh"],
        CLUSTER,
        STATUS,
        CRD,
    ),
    // K8sGateway
    row(
        SOLO_GATEWAY,
        &["v1"],
        "RouteOption",
        "routeoptions",
        "routeoption",
        &["rto", "rtopts", "grto"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        SOLO_GATEWAY,
        &["v1"],
        "VirtualHostOption",
        "virtualhostoptions",
        "virtualhostoption",
        &["vho", "vhopts", "gvho"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        SOLO_GATEWAY,
        &["v1"],
        "ListenerOption",
        "listeneroptions",
        "listeneroption",
        &["lisopts", "glisopts"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        SOLO_GATEWAY,
        &["v1"],
        "HttpListenerOption",
        "httplisteneroptions",
        "httplisteneroption",
        &["hlisopts", "ghlisopts"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GLOO_GATEWAY,
        &["v1alpha1"],
        "GatewayParameters",
        "gatewayparameters",
        "gatewayparameters",
        &["gwp"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GLOO_GATEWAY,
        &["v1alpha1"],
        "DirectResponse",
        "directresponses",
        "directresponse",
        &["dr"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GLOO,
        &["v1"],
        "Upstream",
        "upstreams",
        "upstream",
        &["us", "gus"],
        NS,
        STATUS,
        CRD,
    ),
    row(
        GLOO,
        &["v1"],
        "Settings",
        "settings",
        "settings",
        &["st", "gst"],
        NS,
        STATUS,
        CRD,
    ),
];

/// Index of a kind in [`KINDS`]; cheap to copy and to key maps with.
pub type KindId = usize;

/// Lookups over [`KINDS`] built once at start, and which kinds are served right now.
#[derive(Debug)]
pub struct KindTable {
    by_resource: HashMap<(&'static str, &'static str), KindId>,
    by_kind: HashMap<(&'static str, &'static str), KindId>,
    /// Kinds served only while a CustomResourceDefinition of this name exists.
    gated: HashMap<String, KindId>,
    /// Gated kinds whose CRD does not exist at the moment.
    withheld: RwLock<HashSet<KindId>>,
}

impl KindTable {
    /// Builds the lookup maps; every kind is served.
    pub fn new() -> Self {
        let mut by_resource = HashMap::new();
        let mut by_kind = HashMap::new();
        for (id, spec) in KINDS.iter().enumerate() {
            by_resource.insert((spec.group, spec.plural), id);
            by_kind.insert((spec.group, spec.kind), id);
        }
        Self {
            by_resource,
            by_kind,
            gated: HashMap::new(),
            withheld: RwLock::new(HashSet::new()),
        }
    }

    /// Like [`KindTable::new`], but the kinds of `crds` (CRD names, `<plural>.<group>`) are
    /// withheld until a CustomResourceDefinition of that name is created. Fails with the
    /// first name that is not a custom kind of the table.
    pub fn withholding(crds: &[String]) -> Result<Self, String> {
        let mut table = Self::new();
        for name in crds {
            let id = KINDS
                .iter()
                .position(|spec| spec.custom && spec.group_resource() == *name)
                .ok_or_else(|| name.clone())?;
            table.gated.insert(name.clone(), id);
        }
        table.withheld = RwLock::new(table.gated.values().copied().collect());
        Ok(table)
    }

    /// Whether the kind is served now.
    pub fn is_served(&self, id: KindId) -> bool {
        !self
            .withheld
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
    }

    /// The gated kind a CustomResourceDefinition of this name defines.
    pub fn gated_by(&self, crd_name: &str) -> Option<KindId> {
        self.gated.get(crd_name).copied()
    }

    /// Serves or withholds a gated kind (its CRD was created or deleted).
    pub fn set_served(&self, id: KindId, served: bool) {
        let mut withheld = self
            .withheld
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if served {
            withheld.remove(&id);
        } else {
            withheld.insert(id);
        }
    }

    /// The served kind at `group`/`plural`, if any (whatever the version).
    pub fn by_resource(&self, group: &str, plural: &str) -> Option<KindId> {
        self.by_resource
            .get(&(group, plural))
            .copied()
            .filter(|id| self.is_served(*id))
    }

    /// The kind named `kind` in `group`, if served.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<KindId> {
        self.by_kind.get(&(group, kind)).copied()
    }

    /// The spec of a kind.
    pub fn spec(&self, id: KindId) -> &'static KindSpec {
        &KINDS[id]
    }

    /// The namespace kind, which the server treats specially (cascade, existence checks).
    pub fn namespace_kind(&self) -> KindId {
        self.by_kind("", "Namespace")
            .expect("the kind table always has Namespace")
    }

    /// The CustomResourceDefinition kind, whose objects serve or withhold gated kinds.
    pub fn crd_kind(&self) -> KindId {
        self.by_kind("apiextensions.k8s.io", "CustomResourceDefinition")
            .expect("the kind table always has CustomResourceDefinition")
    }

    /// The kinds served now.
    pub fn served(&self) -> impl Iterator<Item = &'static KindSpec> + '_ {
        KINDS
            .iter()
            .enumerate()
            .filter(|(id, _)| self.is_served(*id))
            .map(|(_, spec)| spec)
    }

    /// Every served API group with its versions, preferred first, in a stable order.
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for spec in self.served() {
            let entry = match out.iter_mut().find(|(g, _)| *g == spec.group) {
                Some(entry) => entry,
                None => {
                    out.push((spec.group, Vec::new()));
                    out.last_mut().expect("just pushed")
                }
            };
            for v in spec.versions {
                if !entry.1.contains(v) {
                    entry.1.push(v);
                }
            }
        }
        out
    }
}

impl Default for KindTable {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_unique_and_has_a_version() {
        let table = KindTable::new();
        for (id, spec) in KINDS.iter().enumerate() {
            assert!(!spec.versions.is_empty(), "{} has no version", spec.kind);
            assert_eq!(table.by_resource(spec.group, spec.plural), Some(id));
            assert_eq!(table.by_kind(spec.group, spec.kind), Some(id));
        }
    }

    #[test]
    fn gateway_group_lists_v1_first_and_every_alpha() {
        let groups = KindTable::new().groups();
        let (_, versions) = groups
            .iter()
            .find(|(g, _)| *g == GATEWAY)
            .expect("gateway group");
        assert_eq!(versions[0], "v1");
        for v in ["v1beta1", "v1alpha2", "v1alpha3"] {
            assert!(versions.contains(&v), "missing {v}");
        }
    }
}

#[cfg(test)]
mod gating_tests {
    use super::*;

    #[test]
    fn a_gated_kind_is_hidden_until_served() {
        let crd = "routeoptions.gateway.solo.io".to_string();
        let table = KindTable::withholding(std::slice::from_ref(&crd)).unwrap();
        let id = table.gated_by(&crd).unwrap();
        assert_eq!(table.spec(id).kind, "RouteOption");
        assert!(!table.is_served(id));
        assert_eq!(table.by_resource("gateway.solo.io", "routeoptions"), None);
        assert!(table.served().all(|spec| spec.kind != "RouteOption"));
        assert!(
            table.groups().iter().any(|(g, _)| *g == "gateway.solo.io"),
            "the group's other kinds are still served"
        );

        table.set_served(id, true);
        assert_eq!(
            table.by_resource("gateway.solo.io", "routeoptions"),
            Some(id)
        );
        table.set_served(id, false);
        assert_eq!(table.by_resource("gateway.solo.io", "routeoptions"), None);
    }

    #[test]
    fn only_custom_kinds_can_be_gated() {
        assert_eq!(
            KindTable::withholding(&["services".to_string()]).unwrap_err(),
            "services"
        );
        assert!(KindTable::withholding(&["widgets.example.com".to_string()]).is_err());
    }
}
