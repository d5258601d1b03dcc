//! `ResourceSet`: the typed snapshot of every input object the translator reads.
//!
//! Providers (a directory of YAML, a Kubernetes watch) build one of these; `translate()` reads it
//! and nothing else. Objects are held behind `Arc` so that a provider can publish a new snapshot
//! per change by cloning maps of pointers, not objects.

mod object;
mod quarantine;

pub use object::ModelError;
pub use quarantine::{ObjectId, ObjectVersion, Quarantine, Quarantined};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use kube::Resource;
use serde::de::DeserializeOwned;

use crate::api::{
    ConfigMap, DirectResponse, EndpointSlice, Gateway, GatewayClass, GatewayParameters,
    HttpListenerOption, HttpRoute, ListenerOption, Namespace, Pod, ReferenceGrant, RouteOption,
    Secret, Service, Settings, Upstream, VirtualHostOption,
};

/// Namespace and name of an object. Cluster-scoped objects have an empty namespace, so one key
/// type serves every kind and sorts cluster-scoped objects first.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Key of a cluster-scoped object.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self {
            namespace: String::new(),
            name: name.into(),
        }
    }

    pub fn of<K: Resource>(obj: &K) -> Self {
        Self {
            namespace: obj.meta().namespace.clone().unwrap_or_default(),
            name: obj.meta().name.clone().unwrap_or_default(),
        }
    }
}

/// A key's namespace and name, however they are held: a map keyed by [`ObjectKey`] can be
/// asked about a `(namespace, name)` pair of borrowed strings, so that a lookup per reference
/// per route builds no key (`map.contains_key(&(ns, name) as &dyn KeyParts)`).
pub trait KeyParts {
    fn parts(&self) -> (&str, &str);
}

impl KeyParts for ObjectKey {
    fn parts(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl KeyParts for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

// Ordering, equality and hashing of the parts are those derived for `ObjectKey` (namespace,
// then name), as `Borrow` requires.
impl<'a> std::borrow::Borrow<dyn KeyParts + 'a> for ObjectKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

impl PartialOrd for dyn KeyParts + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyParts + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl std::hash::Hash for dyn KeyParts + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (namespace, name) = self.parts();
        namespace.hash(state);
        name.hash(state);
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// Settings of the controller that shape translation. They are inputs like the objects, so they
/// live in the snapshot and `translate()` stays a function of its argument alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// GatewayClasses whose `spec.controllerName` equals this are ours.
    pub controller_name: String,
    /// Added to every listener port when the process may not bind ports below 1024.
    pub port_offset: u16,
    /// Report a Gateway (and its listeners) as Programmed only once its proxy has acknowledged
    /// a configuration, and not while the proxy rejects the current one. Off for one-shot
    /// translation (`translate` CLI, golden tests), where no proxy exists.
    pub programmed_on_ack: bool,
    /// Listeners bind every address (`::`, or `0.0.0.0` under Settings `ipV4Only`) whatever
    /// the Gateway's address: each proxy runs in a pod of its own behind a Service, whose
    /// address is the Gateway's (`--infra kubernetes`).
    pub bind_any_address: bool,
    /// Only false in tests of the NACK containment path, which need an invalid object to
    /// reach Envoy.
    #[doc(hidden)]
    pub validate_inputs: bool,
    /// The controller's own namespace: its Settings singleton (`default`) is read from here,
    /// and `watchNamespaces` always includes it.
    pub settings_namespace: String,
}

/// The namespace K8sGateway installs into, and so where its Settings live by default.
pub const DEFAULT_SETTINGS_NAMESPACE: &str = "gloo-system";

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            controller_name: crate::api::DEFAULT_CONTROLLER_NAME.to_string(),
            port_offset: 0,
            programmed_on_ack: false,
            bind_any_address: false,
            validate_inputs: true,
            settings_namespace: DEFAULT_SETTINGS_NAMESPACE.to_string(),
        }
    }
}

/// Where a Gateway's proxy stands with its configuration, as the xDS server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyProgress {
    /// The proxy has not acknowledged any configuration yet.
    Pending,
    /// The proxy holds a configuration it acknowledged.
    Acknowledged,
    /// The proxy rejected the current configuration (with Envoy's message); it keeps serving
    /// the last one it accepted.
    Rejected(String),
}

/// One kind's objects by key. A persistent map: a copy shares every node with the original
/// and an insert copies only its path, so a provider can publish a snapshot per watch event,
/// and the translator keep the previous one, without copying every object's key each time.
pub type Store<K> = imbl::OrdMap<ObjectKey, Arc<K>>;

/// The objects of `store` that `keep` accepts: what `retain` did on the ordered map a store
/// used to be (the persistent one has none).
pub fn filtered<K>(store: &Store<K>, keep: impl Fn(&ObjectKey, &K) -> bool) -> Store<K> {
    store
        .iter()
        .filter(|(key, obj)| keep(key, obj))
        .map(|(key, obj)| (key.clone(), Arc::clone(obj)))
        .collect()
}

/// Every input of one translation.
#[derive(Clone, Debug, Default)]
pub struct ResourceSet {
    pub gateway_classes: Store<GatewayClass>,
    pub gateways: Store<Gateway>,
    pub http_routes: Store<HttpRoute>,
    pub reference_grants: Store<ReferenceGrant>,
    pub namespaces: Store<Namespace>,
    pub services: Store<Service>,
    pub endpoint_slices: Store<EndpointSlice>,
    /// Read only for their labels and addresses: a `kube` Upstream's `selector` picks among
    /// its Service's endpoints by the labels of the Pod behind each.
    pub pods: Store<Pod>,
    pub secrets: Store<Secret>,
    pub config_maps: Store<ConfigMap>,
    // K8sGateway kinds.
    pub route_options: Store<RouteOption>,
    pub virtual_host_options: Store<VirtualHostOption>,
    pub listener_options: Store<ListenerOption>,
    pub http_listener_options: Store<HttpListenerOption>,
    pub direct_responses: Store<DirectResponse>,
    pub upstreams: Store<Upstream>,
    pub gateway_parameters: Store<GatewayParameters>,
    pub settings: Store<Settings>,
    /// Address each Gateway's proxy listens on, as decided by the infrastructure provider.
    /// A Gateway without an entry gets listeners on every address (`::`, or `0.0.0.0` under
    /// Settings `ipV4Only`) and no `status.addresses`.
    pub gateway_addresses: BTreeMap<ObjectKey, String>,
    /// Progress of each Gateway's proxy (see `ControllerConfig::programmed_on_ack`).
    pub proxy_progress: BTreeMap<ObjectKey, ProxyProgress>,
    /// Objects left out of every Gateway's configuration because Envoy rejected one that
    /// contained them. An entry holds only for the version of the object it names.
    pub quarantine: Quarantine,
    /// The last Settings object the running controller could use: it stays in effect while
    /// the current one cannot be used (`translate::settings`).
    pub last_good_settings: Option<Arc<Settings>>,
    pub config: ControllerConfig,
    /// Highest input revision this snapshot contains: the largest numeric `resourceVersion` seen
    /// by the Kubernetes provider, or a reload counter for the file provider. The xDS cache
    /// reports it per ACKed version so that a harness can wait for a change to reach Envoy.
    pub revision: u64,
    /// When the provider noticed the change this snapshot carries and published it (see
    /// `crate::timing`); not part of what is translated.
    pub arrival: Option<crate::timing::Arrival>,
}

/// A kind the `ResourceSet` stores. Implemented once per kind so that providers insert and
/// remove objects through one generic path.
pub trait StoredKind:
    Resource<DynamicType = ()>
    + Clone
    + fmt::Debug
    + DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    /// Whether objects of this kind live in a namespace. Providers need it to default a missing
    /// namespace (as the API server does) without a table of kinds of their own.
    const NAMESPACED: bool;

    fn store(set: &ResourceSet) -> &Store<Self>;
    fn store_mut(set: &mut ResourceSet) -> &mut Store<Self>;

    fn into_any(self) -> AnyObject;
}

/// Code that is generic over the stored kinds and runs once per kind (start a watcher for
/// each kind, decode into the kind named by a document). Visiting instead of a `match` per
/// call site keeps the list of kinds in one place: the `stored_kinds!` invocation below.
pub trait KindVisitor {
    type Output;
    fn visit<K: StoredKind>(self) -> Self::Output;
}

/// Like [`KindVisitor`], for code that visits every kind in turn.
pub trait KindVisitorMut {
    fn visit<K: StoredKind>(&mut self);
}

/// Maps a Kubernetes scope marker type to a flag, so `StoredKind::NAMESPACED` follows from the
/// kind's own `Resource::Scope` rather than from a hand-kept list.
trait ScopeFlag {
    const NAMESPACED: bool;
}

impl ScopeFlag for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl ScopeFlag for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

macro_rules! stored_kinds {
    ($($kind:ident => $field:ident),* $(,)?) => {
        $(
            impl StoredKind for $kind {
                const NAMESPACED: bool = <<$kind as Resource>::Scope as ScopeFlag>::NAMESPACED;
                fn store(set: &ResourceSet) -> &Store<Self> { &set.$field }
                fn store_mut(set: &mut ResourceSet) -> &mut Store<Self> { &mut set.$field }
                fn into_any(self) -> AnyObject { AnyObject::$kind(Box::new(self)) }
            }
        )*

        /// One object of any kind the `ResourceSet` stores.
        #[derive(Clone, Debug)]
        pub enum AnyObject {
            $( $kind(Box<$kind>), )*
        }

        impl ResourceSet {
            /// Insert an object of any stored kind.
            pub fn insert_any(&mut self, obj: AnyObject) {
                match obj {
                    $( AnyObject::$kind(o) => self.insert(*o), )*
                }
            }

            /// Number of objects of every kind, for logs and metrics.
            pub fn len(&self) -> usize {
                0 $( + self.$field.len() )*
            }
        }

        /// Calls `visitor` with the stored kind of API group `group` and kind `kind`; `None`
        /// when the model does not store that kind. The version is not compared: Gateway API
        /// kinds share one schema across the versions upstream serves.
        pub fn visit_kind<V: KindVisitor>(group: &str, kind: &str, visitor: V) -> Option<V::Output> {
            $(
                if $kind::group(&()) == group && $kind::kind(&()) == kind {
                    return Some(visitor.visit::<$kind>());
                }
            )*
            None
        }

        /// Calls `visitor` once for every stored kind.
        pub fn visit_all_kinds<V: KindVisitorMut>(visitor: &mut V) {
            $( visitor.visit::<$kind>(); )*
        }
    };
}

stored_kinds! {
    GatewayClass => gateway_classes,
    Gateway => gateways,
    HttpRoute => http_routes,
    ReferenceGrant => reference_grants,
    Namespace => namespaces,
    Service => services,
    EndpointSlice => endpoint_slices,
    Pod => pods,
    Secret => secrets,
    ConfigMap => config_maps,
    RouteOption => route_options,
    VirtualHostOption => virtual_host_options,
    ListenerOption => listener_options,
    HttpListenerOption => http_listener_options,
    DirectResponse => direct_responses,
    Upstream => upstreams,
    GatewayParameters => gateway_parameters,
    Settings => settings,
}

/// The API group of an `apiVersion` (`""` for the core group's `v1`).
pub fn api_group(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}

impl ResourceSet {
    /// Insert or replace an object.
    pub fn insert<K: StoredKind>(&mut self, obj: K) {
        self.note_revision(obj.meta().resource_version.as_deref());
        K::store_mut(self).insert(ObjectKey::of(&obj), Arc::new(obj));
    }

    /// Remove an object; returns whether it was present.
    pub fn remove<K: StoredKind>(&mut self, key: &ObjectKey) -> bool {
        K::store_mut(self).remove(key).is_some()
    }

    pub fn get<K: StoredKind>(&self, key: &ObjectKey) -> Option<&Arc<K>> {
        K::store(self).get(key)
    }

    /// Add every object of `other` (replacing objects with the same key), as if both had been
    /// read together. The revision is the larger of the two.
    pub fn merge(&mut self, other: ResourceSet) {
        struct Merge<'a> {
            into: &'a mut ResourceSet,
            from: ResourceSet,
        }
        impl KindVisitorMut for Merge<'_> {
            fn visit<K: StoredKind>(&mut self) {
                let taken = std::mem::take(K::store_mut(&mut self.from));
                K::store_mut(self.into).extend(taken);
            }
        }
        let revision = self.revision.max(other.revision);
        let addresses = other.gateway_addresses.clone();
        visit_all_kinds(&mut Merge {
            into: self,
            from: other,
        });
        self.gateway_addresses.extend(addresses);
        self.revision = revision;
    }

    /// Raise `revision` to a `resourceVersion` seen outside an insert (a deletion, say), so that
    /// the revision covers every change.
    pub fn note_resource_version(&mut self, resource_version: Option<&str>) {
        self.note_revision(resource_version);
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn note_revision(&mut self, resource_version: Option<&str>) {
        if let Some(rv) = resource_version.and_then(|rv| rv.parse::<u64>().ok()) {
            self.revision = self.revision.max(rv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// Short names from a small alphabet, so that equal, prefix and empty parts are common.
    fn part() -> impl Strategy<Value = String> {
        "[ab/]{0,3}"
    }

    proptest! {
        /// Looking a pair up by its parts finds exactly what looking it up by a built key does,
        /// in ordered and hashed maps alike (a `Borrow` that disagreed would miss keys).
        #[test]
        fn parts_find_what_keys_find(
            stored in proptest::collection::vec((part(), part()), 0..12),
            asked in (part(), part()),
        ) {
            let ordered: BTreeMap<ObjectKey, ()> =
                stored.iter().map(|(ns, n)| (ObjectKey::new(ns, n), ())).collect();
            let hashed: HashMap<ObjectKey, ()> =
                stored.iter().map(|(ns, n)| (ObjectKey::new(ns, n), ())).collect();
            let key = ObjectKey::new(&asked.0, &asked.1);
            let parts = (asked.0.as_str(), asked.1.as_str());
            prop_assert_eq!(
                ordered.contains_key(&parts as &dyn KeyParts),
                ordered.contains_key(&key)
            );
            prop_assert_eq!(
                hashed.contains_key(&parts as &dyn KeyParts),
                hashed.contains_key(&key)
            );
        }
    }
}
