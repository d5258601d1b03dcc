//! What a [`Translator`](super::Translator) keeps from one translation to the next, so that
//! translating a small change of the last input costs little more than the change.
//!
//! The unit of reuse is the HTTPRoute. Everything else the route-level pieces read (Gateways,
//! Services, policies, grants, Settings, the quarantine, the controller's settings) forms the
//! *context*; an HTTPRoute object is the same as last time when it is the same shared object
//! (providers keep unchanged objects' `Arc`s from snapshot to snapshot), and each distinct one
//! gets a revision number. A virtual host and a route's status are taken from the previous
//! translation when the context is unchanged and every route they were built from has the
//! same revision. Delegation couples routes to each other, so a translation with any
//! delegation reuses nothing. EndpointSlices and Pods are not part of the context: only clusters
//! and endpoints read them, so a Gateway's whole configuration is taken over only while they
//! are unchanged.
//!
//! Revisions are never reused (a counter), and the table holds each route's `Arc`, so that a
//! freed object's address cannot come back as another object with the same identity.

use std::any::TypeId;
use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::VirtualHost;
// A fast seeded hash: these tables are looked up several times per route per translation.
use foldhash::{HashMap, HashMapExt};

use super::output::{ProxyConfig, StatusUpdate, Translation};
use super::routes::attach::ParentOutcome;
use super::routes::http::HttpRouteIr;
use crate::api::{EndpointSlice, HttpRoute, Pod};
use crate::model::{KindVisitorMut, ObjectKey, ResourceSet, StoredKind, visit_all_kinds};

/// What a virtual host was built from: the revision and effective hostname of each of its
/// entries, in order.
pub(crate) type BuiltFrom = Vec<(u64, String)>;

/// A virtual host of the previous output: what it was built from, whether it set header
/// mutations (`RouteConfiguration::most_specific_header_mutations_wins`), and its index in its
/// route configuration.
#[derive(Debug)]
struct KeptVhost {
    built_from: BuiltFrom,
    headers: bool,
    index: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Reuse {
    /// The previous input without its HTTPRoutes, EndpointSlices and Pods.
    context: Option<ResourceSet>,
    /// Every HTTPRoute of the previous input, with its revision.
    routes: HashMap<ObjectKey, (Arc<HttpRoute>, u64)>,
    next_revision: u64,
    /// The previous output, which the tables below point into.
    previous: Option<Arc<Translation>>,
    /// Route configurations of `previous` by name: (Gateway, index in its `routes`).
    configurations: HashMap<String, (ObjectKey, usize)>,
    /// Virtual hosts of `previous` by route configuration, then domain.
    vhosts: HashMap<String, HashMap<String, KeptVhost>>,
    /// The index of each route's status in `previous.statuses`, by the route's revision.
    statuses: HashMap<u64, usize>,
    /// Per Gateway of `previous`: the revisions of the routes its configuration was built
    /// from, in input order.
    proxies: HashMap<ObjectKey, Vec<u64>>,
    /// The previous input's EndpointSlices, and the Pods behind them (a `kube` Upstream's
    /// selector picks endpoints by their labels): every cluster's endpoints come from them.
    endpoint_slices: crate::model::Store<EndpointSlice>,
    pods: crate::model::Store<Pod>,
    /// Every route's translation and attachment outcomes in the previous output, by the
    /// route's revision (which names one version of one route). Moved into a [`Pass`] and
    /// back, never copied.
    translated: HashMap<u64, KeptRoute>,
}

/// One route as the previous translation left it, before its policies were resolved (only
/// routes no policy applies to are kept, so that is also after).
#[derive(Debug)]
pub(crate) struct KeptRoute {
    ir: HttpRouteIr,
    outcomes: Vec<ParentOutcome>,
}

/// One translation's view of a [`Reuse`]: what may be taken from the previous output, and
/// what this translation records for the next.
pub(crate) struct Pass<'r> {
    reuse: &'r Reuse,
    /// Whether anything may be taken from the previous output (its context is this one's).
    take: bool,
    /// Whether to record what the next translation may take (no delegation this time).
    enabled: bool,
    /// Whether the EndpointSlices and Pods are the previous input's (a whole Gateway's
    /// configuration may be taken over only then).
    same_endpoints: bool,
    /// The revision of each route of this input, by its position in the input.
    revisions: Vec<u64>,
    /// The previous translation's routes, when its context is this one's.
    translated: HashMap<u64, KeptRoute>,
    /// The previous translation's virtual host records; a taken virtual host's record moves
    /// on to `recorded`, and what is left goes back for Gateways taken over whole.
    vhosts: HashMap<String, HashMap<String, KeptVhost>>,
    /// The route configuration being built, if any (`open_table`).
    table: Option<OpenTable<'r>>,
    recorded: Recorded,
}

/// The route configuration being built: its previous virtual host records and virtual hosts,
/// looked up once for the configuration instead of once per virtual host.
struct OpenTable<'r> {
    rc: String,
    /// Records of the previous translation, not yet taken.
    kept: HashMap<String, KeptVhost>,
    /// Records for the next translation.
    recorded: HashMap<String, KeptVhost>,
    /// The previous output's virtual hosts of this configuration, which `kept` indexes.
    previous: &'r [Arc<VirtualHost>],
}

/// How much of one translation was taken over from the previous one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reused {
    pub virtual_hosts: usize,
    pub virtual_hosts_built: usize,
    pub route_statuses: usize,
    pub route_statuses_built: usize,
    /// Gateways whose whole configuration was taken over.
    pub proxies: usize,
    pub proxies_built: usize,
    /// Routes whose translation and attachment were taken over.
    pub routes: usize,
    pub routes_built: usize,
}

/// What a translation records for the next one.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    enabled: bool,
    pub(crate) counts: Reused,
    vhosts: HashMap<String, HashMap<String, KeptVhost>>,
    /// Route revisions by the index of the route's status in the output.
    statuses: Vec<(usize, u64)>,
    proxies: HashMap<ObjectKey, Vec<u64>>,
    translated: HashMap<u64, KeptRoute>,
    /// Route configurations of Gateways taken over whole: their virtual host records carry
    /// over as they are.
    kept_configurations: Vec<String>,
    /// The previous virtual host records this translation did not take.
    untaken_vhosts: HashMap<String, HashMap<String, KeptVhost>>,
}

impl Reuse {
    /// Start a translation of `set`: compare its context with the previous one and number
    /// its routes.
    pub(crate) fn begin(&mut self, set: &ResourceSet) -> Pass<'_> {
        let context = context_of(set);
        let same = self
            .context
            .as_ref()
            .is_some_and(|c| same_context(c, &context));
        if !same {
            self.routes.clear();
        }
        self.context = Some(context);
        let mut routes = HashMap::with_capacity(set.http_routes.len());
        let mut revisions = Vec::with_capacity(set.http_routes.len());
        for (key, route) in &set.http_routes {
            // The previous table's key is moved over, not copied again.
            let (key, same) = match self.routes.remove_entry(key) {
                Some((key, (old, revision))) if same_object(&old, route) => (key, Some(revision)),
                Some((key, _)) => (key, None),
                None => (key.clone(), None),
            };
            let revision = same.unwrap_or_else(|| {
                self.next_revision += 1;
                self.next_revision
            });
            routes.insert(key, (Arc::clone(route), revision));
            revisions.push(revision);
        }
        self.routes = routes;
        let same_endpoints = same_store(&self.endpoint_slices, &set.endpoint_slices)
            && same_pods(&self.pods, &set.pods);
        if !same_endpoints {
            self.endpoint_slices = set.endpoint_slices.clone();
            self.pods = set.pods.clone();
        }
        let mut translated = std::mem::take(&mut self.translated);
        let mut vhosts = std::mem::take(&mut self.vhosts);
        if !same {
            translated.clear();
            vhosts.clear();
        }
        Pass {
            take: same,
            enabled: true,
            same_endpoints,
            revisions,
            translated,
            vhosts,
            table: None,
            reuse: self,
            recorded: Recorded::default(),
        }
    }

    /// Keep `out`, and what `recorded` says about it, for the next translation.
    pub(crate) fn finish(&mut self, recorded: Recorded, out: Arc<Translation>) -> Reused {
        let counts = recorded.counts;
        let mut vhosts = recorded.vhosts;
        let mut untaken = recorded.untaken_vhosts;
        for rc in recorded.kept_configurations {
            if let Some(kept) = untaken.remove(&rc) {
                vhosts.insert(rc, kept);
            }
        }
        self.configurations.clear();
        self.statuses.clear();
        self.proxies.clear();
        self.previous = None;
        if !recorded.enabled {
            return counts;
        }
        for (gateway, proxy) in &out.proxies {
            for (i, rc) in proxy.routes.iter().enumerate() {
                self.configurations
                    .insert(rc.name.clone(), (gateway.clone(), i));
            }
        }
        self.vhosts = vhosts;
        self.statuses = recorded
            .statuses
            .into_iter()
            .map(|(i, revision)| (revision, i))
            .collect();
        self.proxies = recorded.proxies;
        self.translated = recorded.translated;
        self.previous = Some(out);
        counts
    }
}

impl Pass<'_> {
    /// Nothing is taken from the previous output this time, and nothing recorded for the
    /// next (delegation is in play).
    pub(crate) fn disable(&mut self) {
        self.enabled = false;
    }

    /// What to keep for the next translation.
    pub(crate) fn into_recorded(mut self) -> Recorded {
        self.close_table();
        Recorded {
            enabled: self.enabled,
            untaken_vhosts: self.vhosts,
            ..self.recorded
        }
    }

    /// The revision of route `key` in this input.
    pub(crate) fn revision(&self, key: &ObjectKey) -> u64 {
        self.reuse.routes.get(key).map_or(0, |(_, r)| *r)
    }

    /// Whether `built_from` is what `owned` (route keys with their effective hostnames, in
    /// order) gives in this input; compared in place, since nearly every virtual host of a
    /// large configuration is unchanged.
    fn built_from_same<'k>(
        &self,
        built_from: &BuiltFrom,
        owned: impl ExactSizeIterator<Item = (&'k ObjectKey, &'k str)>,
    ) -> bool {
        built_from.len() == owned.len()
            && built_from
                .iter()
                .zip(owned)
                .all(|((revision, host), (key, hostname))| {
                    host == hostname && *revision == self.revision(key)
                })
    }

    /// Start building route configuration `rc`: `take_virtual_host` and
    /// `record_virtual_host` work on it until `close_table`.
    pub(crate) fn open_table(&mut self, rc: &str) {
        self.close_table();
        let reuse = self.reuse;
        let previous = reuse
            .configurations
            .get(rc)
            .and_then(|(gateway, i)| {
                let proxy = reuse.previous.as_ref()?.proxies.get(gateway)?;
                Some(proxy.routes.get(*i)?.virtual_hosts.as_slice())
            })
            .unwrap_or_default();
        let kept = match self.take && self.enabled {
            true => self.vhosts.remove(rc).unwrap_or_default(),
            false => HashMap::new(),
        };
        self.table = Some(OpenTable {
            rc: rc.to_string(),
            kept,
            recorded: HashMap::new(),
            previous,
        });
    }

    /// The configuration is built: its records go to the next translation, and the
    /// previous ones it did not take stay with the untaken.
    pub(crate) fn close_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        if !table.kept.is_empty() {
            self.vhosts.insert(table.rc.clone(), table.kept);
        }
        if !table.recorded.is_empty() {
            self.recorded.vhosts.insert(table.rc, table.recorded);
        }
    }

    /// The previous virtual host for `domain` in the open route configuration, with whether
    /// it set header mutations, when it was built from exactly the routes and hostnames of
    /// `owned`. Taken: it is recorded at `index` for the next translation, and counted.
    pub(crate) fn take_virtual_host<'k>(
        &mut self,
        domain: &str,
        owned: impl ExactSizeIterator<Item = (&'k ObjectKey, &'k str)>,
        index: usize,
    ) -> Option<(Arc<VirtualHost>, bool)> {
        if !(self.take && self.enabled) {
            return None;
        }
        let table = self.table.as_ref()?;
        let kept = table.kept.get(domain)?;
        if !self.built_from_same(&kept.built_from, owned) {
            return None;
        }
        let vh = Arc::clone(table.previous.get(kept.index)?);
        let table = self.table.as_mut()?;
        let (domain, kept) = table.kept.remove_entry(domain)?;
        let headers = kept.headers;
        table.recorded.insert(domain, KeptVhost { index, ..kept });
        self.recorded.counts.virtual_hosts += 1;
        Some((vh, headers))
    }

    /// The previous configuration of `gateway`, when it was built from the routes of
    /// `built_from` (by revision) and nothing else it reads changed. Its virtual hosts stay
    /// available to the next translation.
    pub(crate) fn proxy(
        &mut self,
        gateway: &ObjectKey,
        built_from: &[u64],
    ) -> Option<Arc<ProxyConfig>> {
        if !(self.take && self.enabled && self.same_endpoints) {
            return None;
        }
        if self.reuse.proxies.get(gateway).map(Vec::as_slice) != Some(built_from) {
            return None;
        }
        let proxy = Arc::clone(self.reuse.previous.as_ref()?.proxies.get(gateway)?);
        self.recorded
            .kept_configurations
            .extend(proxy.routes.iter().map(|rc| rc.name.clone()));
        Some(proxy)
    }

    /// Record what `gateway`'s configuration was built from, taken over or not.
    pub(crate) fn record_proxy(&mut self, gateway: &ObjectKey, built_from: Vec<u64>, reused: bool) {
        match reused {
            true => self.recorded.counts.proxies += 1,
            false => self.recorded.counts.proxies_built += 1,
        }
        if self.enabled {
            self.recorded.proxies.insert(gateway.clone(), built_from);
        }
    }

    /// The revision of the route at `position` of this input.
    pub(crate) fn revision_at(&self, position: usize) -> u64 {
        self.revisions.get(position).copied().unwrap_or(0)
    }

    /// The translation and attachment outcomes of the route at `position` from the previous
    /// output, when the route is unchanged (the previous output has its revision) and
    /// `usable` agrees. Taken out: the caller owns them from now on.
    pub(crate) fn take_route(
        &mut self,
        position: usize,
        usable: impl FnOnce(&HttpRouteIr) -> bool,
    ) -> Option<(HttpRouteIr, Vec<ParentOutcome>)> {
        if !(self.take && self.enabled) {
            return None;
        }
        let kept = self.translated.remove(&self.revision_at(position))?;
        let same = usable(&kept.ir);
        self.recorded.counts.routes += usize::from(same);
        same.then_some((kept.ir, kept.outcomes))
    }

    /// Keep every route's translation for the next translation; `routes` are the input's,
    /// in its order.
    pub(crate) fn record_routes(&mut self, routes: Vec<(HttpRouteIr, Vec<ParentOutcome>)>) {
        self.recorded.counts.routes_built =
            routes.len().saturating_sub(self.recorded.counts.routes);
        if !self.enabled {
            return;
        }
        self.recorded.translated.reserve(routes.len());
        for (position, (ir, outcomes)) in routes.into_iter().enumerate() {
            self.recorded
                .translated
                .insert(self.revision_at(position), KeptRoute { ir, outcomes });
        }
    }

    /// Record the virtual host built at `index` of the open route configuration from `owned`
    /// (as for [`Pass::take_virtual_host`]).
    pub(crate) fn record_virtual_host<'k>(
        &mut self,
        domain: &str,
        owned: impl Iterator<Item = (&'k ObjectKey, &'k str)>,
        headers: bool,
        index: usize,
    ) {
        self.recorded.counts.virtual_hosts_built += 1;
        if self.enabled {
            let built_from = owned
                .map(|(key, hostname)| (self.revision(key), hostname.to_string()))
                .collect();
            let kept = KeptVhost {
                built_from,
                headers,
                index,
            };
            if let Some(table) = self.table.as_mut() {
                table.recorded.insert(domain.to_string(), kept);
            }
        }
    }

    /// The previous status of the route at `position`, when the route is unchanged.
    pub(crate) fn route_status(&self, position: usize) -> Option<StatusUpdate> {
        if !(self.take && self.enabled) {
            return None;
        }
        let i = self.reuse.statuses.get(&self.revision_at(position))?;
        self.reuse.previous.as_ref()?.statuses.get(*i).cloned()
    }

    /// Record that the status at `index` of the output is that of the route at `position`,
    /// taken over or not.
    pub(crate) fn record_route_status(&mut self, position: usize, index: usize, reused: bool) {
        match reused {
            true => self.recorded.counts.route_statuses += 1,
            false => self.recorded.counts.route_statuses_built += 1,
        }
        if self.enabled {
            let revision = self.revision_at(position);
            self.recorded.statuses.push((index, revision));
        }
    }
}

/// `set` without its HTTPRoutes, EndpointSlices and Pods (and its revision, which translation does
/// not read), and without the proxies' progress: only Gateway statuses read it, and those are
/// built on every translation, so a proxy's first ACK does not rebuild every route.
fn context_of(set: &ResourceSet) -> ResourceSet {
    /// Copies every store but those three: cloning ten thousand routes' keys only to drop
    /// them again cost more than the rest of an unchanged translation's bookkeeping.
    struct Copy<'s> {
        from: &'s ResourceSet,
        to: ResourceSet,
    }
    impl KindVisitorMut for Copy<'_> {
        fn visit<K: StoredKind>(&mut self) {
            let outside = [
                TypeId::of::<HttpRoute>(),
                TypeId::of::<EndpointSlice>(),
                TypeId::of::<Pod>(),
            ];
            if !outside.contains(&TypeId::of::<K>()) {
                *K::store_mut(&mut self.to) = K::store(self.from).clone();
            }
        }
    }
    let mut copy = Copy {
        from: set,
        to: ResourceSet {
            gateway_addresses: set.gateway_addresses.clone(),
            quarantine: set.quarantine.clone(),
            last_good_settings: set.last_good_settings.clone(),
            config: set.config.clone(),
            ..ResourceSet::default()
        },
    };
    visit_all_kinds(&mut copy);
    copy.to
}

/// Same keys, each the same object as far as translation can tell (`same_object`).
/// Stores a provider carried over untouched share their root, and compare in constant time.
fn same_store<K: StoredKind>(a: &crate::model::Store<K>, b: &crate::model::Store<K>) -> bool {
    a.ptr_eq(b)
        || a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && same_object(va, vb))
}

/// Same Pods as far as endpoints can tell: their labels and, unlike other objects' status,
/// their addresses (an endpoint without a `targetRef` finds its Pod by address).
fn same_pods(a: &crate::model::Store<Pod>, b: &crate::model::Store<Pod>) -> bool {
    if a.ptr_eq(b) {
        return true;
    }
    let read = |p: &Pod| {
        let status = p.status.as_ref();
        (
            p.metadata.labels.clone(),
            status.and_then(|s| s.pod_ip.clone()),
            status.and_then(|s| s.pod_ips.clone()),
        )
    };
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && (Arc::ptr_eq(va, vb) || read(va) == read(vb)))
}

/// The same shared object, or one that differs only where translation never reads: its
/// status and the API server's bookkeeping (`resourceVersion`, `managedFields`). So a status
/// this controller writes, which the Kubernetes provider sees come back as a new object,
/// does not undo reuse. Only objects that are not shared are compared, which are few.
fn same_object<K: StoredKind>(a: &Arc<K>, b: &Arc<K>) -> bool {
    if Arc::ptr_eq(a, b) {
        return true;
    }
    let input = |obj: &K| {
        let mut value = serde_json::to_value(obj).ok()?;
        let fields = value.as_object_mut()?;
        fields.remove("status");
        if let Some(meta) = fields.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("resourceVersion");
            meta.remove("managedFields");
        }
        Some(value)
    };
    match (input(a), input(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Whether two contexts hold the same objects (the same shared ones) and settings.
fn same_context(a: &ResourceSet, b: &ResourceSet) -> bool {
    struct Same<'s> {
        a: &'s ResourceSet,
        b: &'s ResourceSet,
        same: bool,
    }
    impl KindVisitorMut for Same<'_> {
        fn visit<K: StoredKind>(&mut self) {
            self.same &= same_store(K::store(self.a), K::store(self.b));
        }
    }
    let mut same = Same { a, b, same: true };
    visit_all_kinds(&mut same);
    same.same
        && a.gateway_addresses == b.gateway_addresses
        && a.quarantine == b.quarantine
        && a.config == b.config
        && match (&a.last_good_settings, &b.last_good_settings) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
}
