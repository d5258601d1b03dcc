//! The running controller: inputs from a provider, translation, xDS to the proxies, status
//! back to the inputs, and the proxies themselves. Wiring only; each part lives in its own
//! module.
//!
//! One loop owns translation. It reads the latest `ResourceSet` (bursts coalesce in the
//! provider's watch channel), assigns Gateway addresses, translates, hands each Gateway's
//! snapshot to the xDS cache, and passes statuses and the set of wanted proxies on to their own
//! tasks, so that neither a slow API server nor a slow Envoy start holds translation back.
//! When a proxy rejects its configuration, the same loop has it investigated (`contain`) and
//! translates again without the objects found at fault.

pub mod contain;
mod state;

pub use state::ControllerState;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use self::contain::Containment;
use crate::admin::{self, AdminState, Metrics};
use crate::infra::addresses::AddressAllocator;
use crate::infra::docker::DockerConfig;
use crate::infra::host::{self, HostConfig, HostInfra, ProxySpec};
use crate::infra::kubernetes::{self, KubernetesInfra, RenderOptions};
use crate::model::{ControllerConfig, ObjectKey, ProxyProgress, ResourceSet};
use crate::provider::Snapshots;
use crate::provider::file::FileProvider;
use crate::provider::kubernetes::KubernetesProvider;
use crate::provider::status::{StatusWriter, StatusWriterConfig};
use crate::translate::{self, StatusUpdate};
use crate::xds::{self, Snapshot, SnapshotCache};

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("starting the file provider: {0}")]
    File(#[from] crate::provider::file::FileProviderError),
    #[error("starting the xDS server: {0}")]
    Xds(#[from] xds::ServeError),
    #[error("starting the admin endpoint: {0}")]
    Admin(#[from] admin::AdminError),
    #[error("starting the host proxies: {0}")]
    Host(#[from] host::HostError),
    #[error("--infra kubernetes needs the kubernetes provider (--provider kubernetes)")]
    KubernetesWithoutCluster,
}

/// Where the controller's inputs come from.
pub enum Source {
    /// A directory (or file) of YAML, reloaded on change.
    File(PathBuf),
    /// A Kubernetes API server; status is written back to it.
    Kubernetes(kube::Client),
}

/// Who runs the proxies.
#[derive(Clone, Debug)]
pub enum Infra {
    /// One Envoy process per Gateway on this host.
    Host(Box<HostConfig>),
    /// One Envoy container per Gateway, on this host's network (`HostConfig::envoy` is not
    /// used).
    Docker(Box<HostConfig>, DockerConfig),
    /// One Deployment (with its Service, ServiceAccount and bootstrap ConfigMap) per Gateway,
    /// in the cluster the Kubernetes provider watches.
    Kubernetes(Box<RenderOptions>),
    /// Proxies are run by someone else; they connect to the xDS address.
    None,
}

pub struct ControllerOptions {
    pub source: Source,
    /// For `Infra::Host` and `Infra::Docker`, `xds_addr` in the config is replaced by the
    /// bound xDS address.
    pub infra: Infra,
    pub xds_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub config: ControllerConfig,
    /// Gateways get addresses 127.<address_network>.10.1 and up (host proxies only).
    pub address_network: u8,
    /// The Envoy that checks configurations offline when a proxy rejects one (NACK
    /// containment). `None`: the host proxies' binary, else one found on this machine (also
    /// for proxies in Docker, whose Envoy is in the image); without
    /// any, containment is off and says so once.
    pub envoy: Option<PathBuf>,
}

/// A running controller. Dropping it stops everything; `shutdown` also stops the proxies
/// gracefully.
pub struct Controller {
    xds: xds::ServerHandle,
    admin: xds::ServerHandle,
    cache: SnapshotCache,
    state: ControllerState,
    infra: Option<Arc<HostInfra>>,
    tasks: Vec<JoinHandle<()>>,
    _provider: ProviderGuard,
}

/// Keeps the provider (and its status writer) alive for as long as the controller runs.
#[allow(dead_code)]
enum ProviderGuard {
    File(FileProvider),
    Kubernetes(KubernetesProvider, StatusWriter),
}

impl Controller {
    pub async fn start(opts: ControllerOptions) -> Result<Self, ControllerError> {
        let cache = SnapshotCache::new();
        let metrics = Metrics::new();
        let xds = xds::serve(opts.xds_addr, cache.clone()).await?;

        let state = ControllerState::new(matches!(opts.source, Source::File(_)));
        let kubernetes = match (&opts.infra, &opts.source) {
            (Infra::Kubernetes(render), Source::Kubernetes(client)) => Some(Arc::new(
                KubernetesInfra::new(client.clone(), (**render).clone()),
            )),
            (Infra::Kubernetes(_), Source::File(_)) => {
                return Err(ControllerError::KubernetesWithoutCluster);
            }
            _ => None,
        };
        let (snapshots, guard, status_tx) = match opts.source {
            Source::File(path) => {
                let (snapshots, provider) = FileProvider::start(path, opts.config.clone())?;
                state.watch_errors(vec![provider.errors(), provider.invalid()]);
                (snapshots, ProviderGuard::File(provider), None)
            }
            Source::Kubernetes(client) => {
                let (snapshots, provider) =
                    KubernetesProvider::start(client.clone(), opts.config.clone());
                state.watch_errors(vec![provider.decode_errors().subscribe()]);
                metrics.attach_decode_errors(provider.decode_errors());
                let (tx, rx) = mpsc::channel(16);
                let writer = StatusWriter::spawn(
                    client,
                    snapshots.clone(),
                    rx,
                    StatusWriterConfig::default(),
                );
                metrics.attach_status(writer.metrics());
                (
                    snapshots,
                    ProviderGuard::Kubernetes(provider, writer),
                    Some(tx),
                )
            }
        };

        let mut tasks = Vec::new();
        let host_envoy = match &opts.infra {
            Infra::Host(cfg) => Some(cfg.envoy.clone()),
            Infra::Docker(..) | Infra::Kubernetes(_) | Infra::None => None,
        };
        let given = opts.envoy.clone();
        let validator = tokio::task::spawn_blocking(move || {
            contain::validator(given.as_deref(), host_envoy.as_deref())
        })
        .await
        .unwrap_or_else(|e| Err(format!("looking for Envoy failed: {e}")));
        let containment = Containment::new(validator, metrics.clone());
        state.publish_containment(&containment);
        let infra = match opts.infra {
            Infra::Host(mut cfg) => {
                cfg.xds_addr = xds.local_addr();
                Some(Arc::new(HostInfra::new(*cfg)?))
            }
            Infra::Docker(mut cfg, docker) => {
                cfg.xds_addr = xds.local_addr();
                Some(Arc::new(HostInfra::with_docker(*cfg, &docker).await?))
            }
            Infra::Kubernetes(_) | Infra::None => None,
        };
        let (proxies_tx, proxies_rx) = watch::channel(Arc::new(std::collections::BTreeMap::new()));
        if let Some(infra) = &infra {
            tasks.push(tokio::spawn(reconcile_proxies(
                Arc::clone(infra),
                proxies_rx,
            )));
        }
        let kubernetes_tx = kubernetes.map(|infra| {
            let (tx, rx) = watch::channel(Arc::new(kubernetes::Desired::default()));
            tasks.push(tokio::spawn(reconcile_kubernetes(infra, rx)));
            tx
        });

        let router: Router = admin::router(AdminState::new(cache.clone(), metrics.clone()))
            .merge(state.router(infra.clone()));
        let admin = admin::serve(opts.admin_addr, router).await?;

        let ctx = LoopContext {
            cache: cache.clone(),
            metrics,
            state: state.clone(),
            status_tx,
            proxies_tx,
            kubernetes: kubernetes_tx,
            allocate: infra.is_some(),
            address_network: opts.address_network,
            config: opts.config,
        };
        tasks.push(tokio::spawn(translate_loop(snapshots, ctx, containment)));

        tracing::info!(xds = %xds.local_addr(), admin = %admin.local_addr(), "controller running");
        Ok(Self {
            xds,
            admin,
            cache,
            state,
            infra,
            tasks,
            _provider: guard,
        })
    }

    pub fn xds_addr(&self) -> SocketAddr {
        self.xds.local_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr()
    }

    pub fn cache(&self) -> &SnapshotCache {
        &self.cache
    }

    pub fn state(&self) -> &ControllerState {
        &self.state
    }

    pub fn infra(&self) -> Option<&Arc<HostInfra>> {
        self.infra.as_ref()
    }

    /// Stop translating, then stop the proxies gracefully.
    pub async fn shutdown(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(infra) = self.infra.take() {
            infra.shutdown().await;
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct LoopContext {
    cache: SnapshotCache,
    metrics: Metrics,
    state: ControllerState,
    status_tx: Option<mpsc::Sender<Vec<StatusUpdate>>>,
    proxies_tx: watch::Sender<Arc<std::collections::BTreeMap<ObjectKey, ProxySpec>>>,
    /// The proxies wanted in the cluster (`--infra kubernetes`).
    kubernetes: Option<watch::Sender<Arc<kubernetes::Desired>>>,
    /// Assign loopback addresses (host proxies); without, listeners bind every address.
    allocate: bool,
    address_network: u8,
    config: ControllerConfig,
}

async fn translate_loop(mut snapshots: Snapshots, ctx: LoopContext, mut containment: Containment) {
    let mut allocator = AddressAllocator::with_network(ctx.address_network);
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    let mut acks = ctx.cache.subscribe();
    let mut settings = SettingsMemory::default();
    let mut translator = translate::Translator::default();
    // Per node, the configuration its snapshot in the cache was packed from: the same
    // shared one again (a Gateway the translator took over whole) needs no new pack.
    let mut packed_from: BTreeMap<String, Arc<translate::ProxyConfig>> = BTreeMap::new();
    loop {
        let latest = snapshots.borrow_and_update().clone();
        let began = Instant::now();
        if let Some(arrival) = latest.arrival {
            ctx.metrics
                .record_stage("provider", arrival.published - arrival.noticed);
            ctx.metrics
                .record_stage("queue", began.saturating_duration_since(arrival.published));
        }
        acks.borrow_and_update();
        let progress = proxy_progress(&ctx.cache);
        let ctx_ref = &ctx;
        let mut prepared = prepare(&latest, &mut allocator, ctx_ref);
        prepared.last_good_settings = settings.observe(&prepared);
        prepared.proxy_progress = progress.clone();
        containment.sync(&prepared);
        prepared.quarantine = containment.quarantine();
        let started = Instant::now();
        ctx.metrics.record_stage("prepare", started - began);
        // Translation is CPU work; keep it off the async workers.
        let mut moved = std::mem::take(&mut translator);
        let (set, translation, moved) = match tokio::task::spawn_blocking(move || {
            let t = moved.translate(&prepared);
            (prepared, t, moved)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                // The translator went down with it; the next one starts from nothing.
                tracing::error!(error = %e, "translation panicked");
                ctx.metrics.record_translation_error();
                if snapshots.changed().await.is_err() {
                    return;
                }
                continue;
            }
        };
        translator = moved;
        ctx.metrics.record_reuse(translator.reused());
        let translated = Instant::now();
        ctx.metrics.record_translation(
            translated - started,
            set.http_routes.len(),
            translation.proxies.len(),
        );
        ctx.metrics.record_stage("translate", translated - started);

        let mut current = BTreeSet::new();
        for proxy in translation.proxies.values() {
            let previous = ctx.cache.get(&proxy.node_id);
            let same = packed_from
                .get(&proxy.node_id)
                .is_some_and(|p| Arc::ptr_eq(p, proxy));
            let packed = match (same, previous) {
                (true, Some(previous)) => Ok(previous.with_revision(set.revision)),
                (_, previous) => Snapshot::from_proxy_after(set.revision, proxy, previous.as_ref()),
            };
            match packed {
                Ok(s) => {
                    ctx.cache.set(&proxy.node_id, s);
                    current.insert(proxy.node_id.clone());
                    packed_from.insert(proxy.node_id.clone(), Arc::clone(proxy));
                }
                Err(e) => {
                    packed_from.remove(&proxy.node_id);
                    tracing::error!(node = %proxy.node_id, error = %e, "translated configuration is inconsistent");
                    ctx.metrics.record_translation_error();
                }
            }
        }
        for gone in nodes.difference(&current) {
            ctx.cache.remove(gone);
            packed_from.remove(gone);
        }
        nodes = current;
        let packed = Instant::now();
        ctx.metrics.record_stage("snapshot", packed - translated);

        if ctx.allocate {
            let wanted = translation
                .proxies
                .iter()
                // A self-managed Gateway's proxy is the user's to run.
                .filter(|(_, p)| !p.self_managed())
                .filter_map(|(k, p)| {
                    let spec = ProxySpec::for_gateway(k, p.address.clone()?);
                    Some((k.clone(), spec.with_parameters(p.parameters.as_ref())))
                })
                .collect();
            ctx.proxies_tx.send_replace(Arc::new(wanted));
        }
        if let Some(tx) = &ctx.kubernetes {
            tx.send_replace(Arc::new(kubernetes_desired(&set, &translation)));
        }
        // The writer gets its own copy of the statuses; the admin views share the rest.
        let for_writer = ctx.status_tx.as_ref().map(|_| translation.statuses.clone());
        let replaced = ctx.state.publish(&set, translation);
        // Freeing thousands of virtual hosts takes milliseconds the next change need not
        // wait for.
        if let Some(old) = replaced {
            drop(tokio::task::spawn_blocking(move || drop(old)));
        }
        ctx.state.publish_containment(&containment);
        if let (Some(tx), Some(statuses)) = (&ctx.status_tx, for_writer)
            && tx.send(statuses).await.is_err()
        {
            tracing::warn!("status writer stopped");
        }
        ctx.metrics.record_stage("publish", packed.elapsed());

        // Translate again on new input, or when a proxy's standing changes (first ACK, a
        // NACK), which the Gateway's Programmed condition reports. A NACK is investigated
        // first, so that the next translation already leaves out what Envoy rejects.
        let set = Arc::new(set);
        loop {
            tokio::select! {
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        tracing::info!("provider stopped; translation loop ends");
                        return;
                    }
                    break;
                }
                changed = acks.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let rejected = containment.pending(&ctx.cache);
                    if !rejected.is_empty() {
                        investigate(&mut containment, &set, rejected).await;
                        break;
                    }
                    if proxy_progress(&ctx.cache) != progress {
                        break;
                    }
                }
            }
        }
    }
}

/// The last usable Settings object, kept while a later version cannot be used (translation
/// keeps it in effect and says so in the object's status; the log says so once per version).
#[derive(Default)]
struct SettingsMemory {
    good: Option<Arc<crate::api::Settings>>,
    warned: Option<Option<String>>,
}

impl SettingsMemory {
    fn observe(&mut self, set: &ResourceSet) -> Option<Arc<crate::api::Settings>> {
        let Some(current) = translate::settings::current(set) else {
            // Deleted: the defaults apply, as at a start without one.
            self.good = None;
            return None;
        };
        let errors = crate::validate::settings(current);
        if errors.is_empty() {
            if self.good.as_ref() != Some(current) {
                tracing::info!(namespace = %set.config.settings_namespace, "Settings in effect");
                for note in translate::settings::without_effect(current) {
                    tracing::warn!(namespace = %set.config.settings_namespace, "Settings: {note}");
                }
            }
            self.good = Some(Arc::clone(current));
            self.warned = None;
        } else {
            let version = current.metadata.resource_version.clone();
            if self.warned.as_ref() != Some(&version) {
                tracing::warn!(
                    namespace = %set.config.settings_namespace,
                    problems = %crate::validate::describe(&errors),
                    kept = if self.good.is_some() { "the last valid Settings" } else { "the defaults" },
                    "Settings cannot be used; keeping what was in effect"
                );
                self.warned = Some(version);
            }
        }
        self.good.clone()
    }
}

/// Investigate each Gateway's rejected configuration (`version`s of the snapshot made from
/// `set`), off the async workers: every check runs Envoy.
async fn investigate(
    containment: &mut Containment,
    set: &Arc<ResourceSet>,
    rejected: Vec<(ObjectKey, String)>,
) {
    let Some(envoy) = containment.envoy().map(PathBuf::from) else {
        return;
    };
    let set = Arc::clone(set);
    let found = tokio::task::spawn_blocking(move || {
        rejected
            .into_iter()
            .map(|(gw, version)| (version, contain::investigate(&envoy, &set, &gw)))
            .collect::<Vec<_>>()
    })
    .await;
    match found {
        Ok(found) => {
            for (version, investigation) in found {
                containment.record(version, investigation);
            }
        }
        // Nothing is recorded, so the next NACK is investigated again: a crash is no verdict.
        Err(e) => tracing::error!(error = %e, "NACK investigation panicked"),
    }
}

/// Each Gateway's proxy, as the xDS server sees it (node ids are `<namespace>/<name>`).
fn proxy_progress(cache: &SnapshotCache) -> BTreeMap<ObjectKey, ProxyProgress> {
    cache
        .nodes()
        .into_iter()
        .filter_map(|n| {
            let (ns, name) = n.node_id.split_once('/')?;
            let progress = match (&n.rejected, n.acked_revision) {
                (Some(r), _) => ProxyProgress::Rejected(r.message.clone()),
                (None, Some(_)) => ProxyProgress::Acknowledged,
                (None, None) => ProxyProgress::Pending,
            };
            Some((ObjectKey::new(ns, name), progress))
        })
        .collect()
}

/// The snapshot as translation needs it: this controller's settings, and addresses for the
/// Gateways it manages.
fn prepare(
    latest: &ResourceSet,
    allocator: &mut AddressAllocator,
    ctx: &LoopContext,
) -> ResourceSet {
    let mut set = latest.clone();
    set.config = ctx.config.clone();
    // A running controller knows whether its proxies took the configuration.
    set.config.programmed_on_ack = true;
    if ctx.allocate {
        let managed = translate::managed_gateways(&set);
        if let Err(e) = allocator.sync(managed.iter()) {
            tracing::error!(error = %e, "out of proxy addresses");
        }
        set.gateway_addresses = allocator.address_strings();
    }
    if ctx.kubernetes.is_some() {
        // Each proxy is a pod of its own behind its Gateway's Service.
        set.config.bind_any_address = true;
        let managed = translate::managed_gateways(&set);
        set.gateway_addresses = kubernetes::addresses(&set, &managed);
    }
    set
}

/// The cluster's share of a translation: a proxy for every accepted Gateway, and the objects
/// of every Gateway this controller manages kept.
fn kubernetes_desired(
    set: &ResourceSet,
    translation: &translate::Translation,
) -> kubernetes::Desired {
    let proxies = translation
        .proxies
        .iter()
        .filter_map(|(key, proxy)| {
            let gateway = set.gateways.get(key)?;
            Some((
                key.clone(),
                kubernetes::DesiredProxy {
                    gateway: Arc::clone(gateway),
                    parameters: proxy.parameters.clone(),
                },
            ))
        })
        .collect();
    kubernetes::Desired {
        proxies,
        keep: translate::managed_gateways(set).into_iter().collect(),
        istio_integration: translate::parameters::istio_integration(set),
    }
}

async fn reconcile_kubernetes(
    infra: Arc<KubernetesInfra>,
    mut wanted: watch::Receiver<Arc<kubernetes::Desired>>,
) {
    const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
    const LAST_RETRY: std::time::Duration = std::time::Duration::from_secs(30);
    const RESYNC: std::time::Duration = std::time::Duration::from_secs(60);
    let mut retry_in = FIRST_RETRY;
    let mut resync_at = tokio::time::Instant::now() + RESYNC;
    loop {
        let desired = wanted.borrow_and_update().clone();
        let report = infra.reconcile(&desired).await;
        for gateway in &report.applied {
            tracing::info!(%gateway, "proxy objects applied");
        }
        for object in &report.deleted {
            tracing::info!(%object, "proxy object deleted");
        }
        for e in &report.failed {
            tracing::error!(error = %e, "proxy objects");
        }
        // A failure is retried after a pause, doubling while it lasts, even without new input
        // (the API server may be back, a permission granted); new input retries at once. Once
        // a minute everything is applied again, restoring objects someone else changed or
        // deleted (an unchanged apply changes nothing).
        let retry = !report.failed.is_empty();
        tokio::select! {
            changed = wanted.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(retry_in), if retry => {}
            _ = tokio::time::sleep_until(resync_at) => {
                infra.forget();
                resync_at = tokio::time::Instant::now() + RESYNC;
            }
        }
        retry_in = match retry {
            true => (retry_in * 2).min(LAST_RETRY),
            false => FIRST_RETRY,
        };
    }
}

async fn reconcile_proxies(
    infra: Arc<HostInfra>,
    mut wanted: watch::Receiver<Arc<std::collections::BTreeMap<ObjectKey, ProxySpec>>>,
) {
    loop {
        let desired = wanted.borrow_and_update().clone();
        let report = infra.reconcile(&desired).await;
        for (gw, why) in &report.failed {
            tracing::error!(gateway = %gw, reason = %why, "proxy did not start");
        }
        if wanted.changed().await.is_err() {
            return;
        }
    }
}
