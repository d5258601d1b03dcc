//! Envoy on this host: one proxy per Gateway, supervised, as a process or (see
//! `infra::docker`) as a container on the host's network.
//!
//! [`HostInfra::reconcile`] makes the set of running proxies match the desired one; each proxy
//! is owned by a supervisor task (see `supervisor`) that starts it, restarts it with backoff when
//! it dies, and stops it gracefully. Proxies never outlive the controller: children are killed
//! when their supervisor is dropped (`kill_on_drop`), dropping `HostInfra` aborts the
//! supervisors, and where `setpriv` exists each Envoy also gets `SIGKILL` as parent-death signal,
//! which covers a controller that is itself killed with `SIGKILL`.

mod launch;
mod runner;
mod supervisor;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::api::k8sgateway::gateway_parameters::GatewayParametersSpec;
use crate::model::ObjectKey;

use crate::infra::docker::{Containers, DockerConfig};
use runner::Runner;
use supervisor::{Status, Supervisor};

/// How the host provider runs proxies.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The Envoy binary (see `infra::envoy::locate`).
    pub envoy: PathBuf,
    /// Where the controller's ADS server listens.
    pub xds_addr: SocketAddr,
    /// Each proxy gets `work_dir/<namespace>_<name>/` for its bootstrap, log and admin address.
    pub work_dir: PathBuf,
    /// Incremental (delta) xDS instead of state-of-the-world.
    pub delta: bool,
    /// Envoy's `-l` level: trace, debug, info, warning, error, critical, off.
    pub log_level: String,
    /// `node.cluster` of every proxy.
    pub node_cluster: String,
    /// Bootstrap `initial_fetch_timeout` for CDS and LDS.
    pub initial_fetch_timeout: Duration,
    /// How long a proxy may take from spawn to reporting its admin address before it counts as
    /// failed (and is killed and restarted).
    pub start_timeout: Duration,
    /// Between `POST /quitquitquit` and `SIGKILL` when stopping a proxy.
    pub stop_grace: Duration,
    /// First delay before restarting a proxy that died; doubles per consecutive failure.
    pub restart_backoff_initial: Duration,
    pub restart_backoff_max: Duration,
    /// A proxy that ran at least this long before dying restarts after the initial delay again.
    pub restart_backoff_reset_after: Duration,
    /// Run Envoy under `setpriv --pdeathsig KILL` when `setpriv` is available.
    pub parent_death_signal: bool,
    /// Check a running proxy's admin `/ready` this often and restart it when it stops
    /// answering. A process that dies is noticed at once without it; a container's end is
    /// noticed through the daemon, which the check does not depend on.
    pub health_interval: Option<Duration>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            envoy: PathBuf::from("envoy"),
            xds_addr: SocketAddr::from(([127, 0, 0, 1], 18000)),
            work_dir: std::env::temp_dir().join("gatesim-proxies"),
            delta: false,
            log_level: "info".to_string(),
            node_cluster: super::bootstrap::DEFAULT_NODE_CLUSTER.to_string(),
            initial_fetch_timeout: Duration::from_secs(5),
            start_timeout: Duration::from_secs(10),
            stop_grace: Duration::from_secs(2),
            restart_backoff_initial: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(5),
            restart_backoff_reset_after: Duration::from_secs(10),
            parent_death_signal: true,
            health_interval: None,
        }
    }
}

impl HostConfig {
    pub fn new(envoy: PathBuf, xds_addr: SocketAddr, work_dir: PathBuf) -> Self {
        Self {
            envoy,
            xds_addr,
            work_dir,
            ..Self::default()
        }
    }
}

/// What one Gateway's proxy should be.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProxySpec {
    pub node_id: String,
    /// The loopback address its listeners bind (see `infra::addresses`).
    pub address: String,
    /// Envoy processes serving the Gateway, all on `address`: Envoy listens with
    /// `SO_REUSEPORT`, so the kernel spreads connections over them.
    pub replicas: u32,
    /// Envoy's `-l`, replacing `HostConfig::log_level`.
    pub log_level: Option<String>,
    /// Envoy's `--component-log-level` (`upstream:debug,http:trace`).
    pub component_log_levels: Option<String>,
}

impl ProxySpec {
    pub fn for_gateway(gateway: &ObjectKey, address: impl Into<String>) -> Self {
        Self {
            node_id: crate::translate::node_id(gateway),
            address: address.into(),
            replicas: 1,
            log_level: None,
            component_log_levels: None,
        }
    }

    /// Whether a process started for `other` is what this spec wants: everything but the
    /// number of replicas counts (a Gateway that scales keeps the processes it has).
    pub fn same_process(&self, other: &ProxySpec) -> bool {
        Self {
            replicas: other.replicas,
            ..self.clone()
        } == *other
    }

    /// What the Gateway's GatewayParameters say about its proxies on this host:
    /// `kube.deployment.replicas` and the Envoy container's log levels (the rest describes
    /// Kubernetes objects).
    pub fn with_parameters(mut self, parameters: Option<&GatewayParametersSpec>) -> Self {
        let Some(kube) = parameters.and_then(|p| p.kube.as_ref()) else {
            return self;
        };
        if let Some(n) = kube.deployment.as_ref().and_then(|d| d.replicas) {
            self.replicas = n.max(1);
        }
        let bootstrap = kube
            .envoy_container
            .as_ref()
            .and_then(|e| e.bootstrap.as_ref());
        if let Some(b) = bootstrap {
            self.log_level = b.log_level.clone();
            self.component_log_levels = b
                .component_log_levels
                .as_ref()
                .filter(|l| !l.is_empty())
                .map(|levels| {
                    let pairs: Vec<String> =
                        levels.iter().map(|(c, l)| format!("{c}:{l}")).collect();
                    pairs.join(",")
                });
        }
        self
    }
}

/// The proxies wanted for these Gateway addresses (as `AddressAllocator::address_strings` or
/// `ResourceSet::gateway_addresses` hold them).
pub fn desired_proxies(addresses: &BTreeMap<ObjectKey, String>) -> BTreeMap<ObjectKey, ProxySpec> {
    addresses
        .iter()
        .map(|(gw, addr)| (gw.clone(), ProxySpec::for_gateway(gw, addr.clone())))
        .collect()
}

/// Lifecycle of a supervised proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyState {
    /// Spawned; its admin endpoint is not up yet.
    Starting,
    /// Admin endpoint up. Listeners follow once xDS delivers them.
    Running,
    /// Died (or failed to start); waiting to be restarted.
    Backoff,
    /// Being shut down on request.
    Stopping,
    Stopped,
}

/// One proxy as the admin endpoint reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProxyInfo {
    pub gateway: ObjectKey,
    /// Which of the Gateway's processes (0 up to its replicas).
    pub replica: u32,
    pub node_id: String,
    pub address: String,
    pub admin_address: Option<SocketAddr>,
    pub pid: Option<u32>,
    /// The Docker container's id, for proxies in containers.
    pub container: Option<String>,
    /// Restarts after unexpected exits (not counting the first start).
    pub restarts: u32,
    pub state: ProxyState,
    /// Why the previous process ended, with the tail of its log.
    pub last_exit: Option<String>,
    /// From spawn to admin address available, for the current process.
    pub startup_ms: Option<f64>,
    pub dir: PathBuf,
}

/// What a `reconcile` call did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ReconcileReport {
    pub started: Vec<ObjectKey>,
    pub stopped: Vec<ObjectKey>,
    /// New proxies that could not be prepared, or did not come up within `start_timeout`, with
    /// the reason. Those that were started stay supervised and are retried with backoff.
    pub failed: BTreeMap<ObjectKey, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(
        "Gateway {0} has a namespace or name that cannot name a directory (allowed: letters, \
         digits, '.', '-', '_'; not starting with '.')"
    )]
    BadGatewayName(ObjectKey),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rendering the bootstrap of {gateway}: {source}")]
    Render {
        gateway: ObjectKey,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("Docker, for the proxy of Gateway {gateway}: {source}")]
    Docker {
        gateway: ObjectKey,
        #[source]
        source: crate::infra::docker::DockerError,
    },
    #[error("starting proxies in Docker: {0}")]
    DockerSetup(#[from] crate::infra::docker::DockerError),
    #[error("no proxy is supervised for Gateway {0}")]
    UnknownProxy(ObjectKey),
    #[error(
        "proxy of Gateway {gateway} did not reach the awaited state within {timeout:?}; last: {last}"
    )]
    WaitTimeout {
        gateway: ObjectKey,
        timeout: Duration,
        last: String,
    },
}

/// A Gateway and one of its replicas.
type ProxyKey = (ObjectKey, u32);

struct Supervised {
    spec: ProxySpec,
    replica: u32,
    dir: PathBuf,
    status: watch::Receiver<Status>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Supervised {
    fn info(&self, gateway: &ObjectKey) -> ProxyInfo {
        self.status
            .borrow()
            .to_info(gateway, self.replica, &self.spec, &self.dir)
    }
}

/// The host infrastructure provider.
pub struct HostInfra {
    config: Arc<HostConfig>,
    runner: Runner,
    /// Whether the work directory was made here, and so `shutdown` removes it.
    created_work_dir: bool,
    proxies: Mutex<BTreeMap<ProxyKey, Supervised>>,
    /// Serializes `reconcile` and `shutdown`, which await while `proxies` is unlocked.
    reconciling: tokio::sync::Mutex<()>,
}

impl HostInfra {
    /// Proxies as Envoy processes.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let created_work_dir = create_work_dir(&config)?;
        let setpriv = if config.parent_death_signal {
            launch::find_setpriv()
        } else {
            None
        };
        if config.parent_death_signal && setpriv.is_none() {
            tracing::warn!(
                "setpriv not found: proxies are killed when the controller exits normally, but \
                 would outlive a controller killed with SIGKILL"
            );
        }
        Ok(Self::with_runner(
            config,
            Runner::Process { setpriv },
            created_work_dir,
        ))
    }

    /// Proxies as Docker containers of `docker.image` (`config.envoy` is not used). Fails
    /// when the daemon does not answer or the image is missing.
    pub async fn with_docker(config: HostConfig, docker: &DockerConfig) -> Result<Self, HostError> {
        let created_work_dir = create_work_dir(&config)?;
        let containers = Containers::connect(docker, &config.work_dir).await?;
        Ok(Self::with_runner(
            config,
            Runner::Container(Arc::new(containers)),
            created_work_dir,
        ))
    }

    fn with_runner(config: HostConfig, runner: Runner, created_work_dir: bool) -> Self {
        Self {
            config: Arc::new(config),
            runner,
            created_work_dir,
            proxies: Mutex::new(BTreeMap::new()),
            reconciling: tokio::sync::Mutex::new(()),
        }
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Whether proxies run with a parent-death signal (see the module documentation).
    pub fn uses_parent_death_signal(&self) -> bool {
        matches!(&self.runner, Runner::Process { setpriv: Some(_) })
    }

    /// The Docker containers behind the proxies, when they run in Docker.
    pub fn containers(&self) -> Option<&Containers> {
        match &self.runner {
            Runner::Container(c) => Some(c),
            Runner::Process { .. } => None,
        }
    }

    /// Start the proxies in `desired` that are not running, stop those not in it, and restart
    /// those whose spec changed (each replica is a proxy of its own: a Gateway going from 3
    /// replicas to 2 loses its third, and keeps the others running). Stops happen first so that an address released by one Gateway
    /// is free before another one's proxy binds it. Waits (at most `start_timeout`) until every
    /// new proxy has its admin endpoint up or has failed.
    ///
    /// Nothing here fails as a whole: a proxy that cannot be prepared (a Gateway name unfit for a
    /// directory, an unwritable work directory) or does not come up is listed in
    /// `ReconcileReport::failed`, and the others proceed. An unprepared proxy is not supervised,
    /// so the next `reconcile` tries it again.
    pub async fn reconcile(&self, desired: &BTreeMap<ObjectKey, ProxySpec>) -> ReconcileReport {
        let _serial = self.reconciling.lock().await;
        let mut report = ReconcileReport::default();

        let wanted: BTreeMap<ProxyKey, &ProxySpec> = desired
            .iter()
            .flat_map(|(gw, spec)| (0..spec.replicas.max(1)).map(move |r| ((gw.clone(), r), spec)))
            .collect();
        let leaving: Vec<(ProxyKey, Supervised)> = {
            let mut proxies = self.lock();
            let keys: Vec<ProxyKey> = proxies
                .iter()
                .filter(|(k, s)| !wanted.get(*k).is_some_and(|w| w.same_process(&s.spec)))
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| proxies.remove(&k).map(|s| (k, s)))
                .collect()
        };
        report.stopped = gateways_of(leaving.iter().map(|(k, _)| k));
        stop_all(leaving).await;

        let mut arriving = Vec::new();
        let running: BTreeSet<ProxyKey> = self.lock().keys().cloned().collect();
        for (key, spec) in wanted.iter().filter(|(k, _)| !running.contains(*k)) {
            let (gateway, replica) = key;
            match self.start(gateway, *replica, spec) {
                Ok(supervised) => {
                    arriving.push((key.clone(), supervised.status.clone()));
                    self.lock().insert(key.clone(), supervised);
                }
                Err(e) => {
                    tracing::error!(%gateway, replica, "cannot start proxy: {e}");
                    report.failed.insert(gateway.clone(), e.to_string());
                }
            }
        }
        report.started = gateways_of(arriving.iter().map(|(k, _)| k));

        // The supervisor bounds the start itself; the margin covers its bookkeeping.
        let bound = self.config.start_timeout + Duration::from_secs(1);
        let outcomes = join_all(
            arriving
                .into_iter()
                .map(|((gateway, _), mut rx)| async move {
                    // `restarts` also catches a failure whose Backoff state was overwritten by the next
                    // attempt before this task looked.
                    let settled =
                        rx.wait_for(|s| s.state != ProxyState::Starting || s.restarts > 0);
                    let outcome = match tokio::time::timeout(bound, settled).await {
                        Ok(Ok(s)) if s.state == ProxyState::Running => None,
                        Ok(Ok(s)) => Some(
                            s.last_exit
                                .clone()
                                .unwrap_or_else(|| format!("{:?}", s.state)),
                        ),
                        Ok(Err(_)) => Some("supervisor ended".to_string()),
                        Err(_) => Some(format!("no admin endpoint within {bound:?}")),
                    };
                    (gateway, outcome)
                }),
        )
        .await;
        for (gateway, outcome) in outcomes {
            if let Some(reason) = outcome {
                tracing::warn!(%gateway, %reason, "proxy did not start");
                report.failed.insert(gateway, reason);
            }
        }
        report
    }

    /// Every supervised proxy, in Gateway and replica order.
    pub fn proxies(&self) -> Vec<ProxyInfo> {
        self.lock().iter().map(|((k, _), s)| s.info(k)).collect()
    }

    /// The Gateway's first proxy (replica 0).
    pub fn proxy(&self, gateway: &ObjectKey) -> Option<ProxyInfo> {
        self.lock()
            .get(&(gateway.clone(), 0))
            .map(|s| s.info(gateway))
    }

    /// Wait until the Gateway's first proxy (replica 0) satisfies `pred`, without polling:
    /// the supervisor publishes every state change.
    pub async fn wait_until(
        &self,
        gateway: &ObjectKey,
        timeout: Duration,
        pred: impl Fn(&ProxyInfo) -> bool,
    ) -> Result<ProxyInfo, HostError> {
        let (mut rx, spec, dir) = {
            let proxies = self.lock();
            let s = proxies
                .get(&(gateway.clone(), 0))
                .ok_or_else(|| HostError::UnknownProxy(gateway.clone()))?;
            (s.status.clone(), s.spec.clone(), s.dir.clone())
        };
        let info = |s: &Status| s.to_info(gateway, 0, &spec, &dir);
        let waited = tokio::time::timeout(timeout, rx.wait_for(|s| pred(&info(s))))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|s| info(&s));
        waited.ok_or_else(|| HostError::WaitTimeout {
            gateway: gateway.clone(),
            timeout,
            last: format!("{:?}", info(&rx.borrow())),
        })
    }

    /// Stop every proxy and wait until they are gone; remove the work directory if `new` made
    /// it.
    pub async fn shutdown(&self) {
        let _serial = self.reconciling.lock().await;
        let all: Vec<(ProxyKey, Supervised)> =
            std::mem::take(&mut *self.lock()).into_iter().collect();
        stop_all(all).await;
        if self.created_work_dir {
            let _ = std::fs::remove_dir_all(&self.config.work_dir);
        }
    }

    fn start(
        &self,
        gateway: &ObjectKey,
        replica: u32,
        spec: &ProxySpec,
    ) -> Result<Supervised, HostError> {
        let dir = replica_dir(&self.config.work_dir, gateway, replica)?;
        let files = launch::ProxyFiles::prepare(&dir, &self.config, gateway, spec)?;
        let (status_tx, status_rx) = watch::channel(Status::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let supervisor = Supervisor {
            config: self.config.clone(),
            gateway: gateway.clone(),
            files,
            runner: self.runner.clone(),
            status: status_tx,
        };
        let task = tokio::spawn(supervisor.run(stop_rx));
        Ok(Supervised {
            spec: spec.clone(),
            replica,
            dir,
            status: status_rx,
            stop: Some(stop_tx),
            task,
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<ProxyKey, Supervised>> {
        // A panic while holding this lock leaves the map itself consistent (every operation on it
        // is a single insert or remove), so a poisoned lock is still usable.
        self.proxies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for HostInfra {
    /// Without `shutdown`, abort the supervisors: each drops its proxy, a child that
    /// `kill_on_drop` kills or a container that its handle removes.
    fn drop(&mut self) {
        for s in self.lock().values() {
            s.task.abort();
        }
    }
}

/// Makes the work directory; true when it did not exist before.
fn create_work_dir(config: &HostConfig) -> Result<bool, HostError> {
    let created = !config.work_dir.exists();
    std::fs::create_dir_all(&config.work_dir).map_err(|source| HostError::Io {
        path: config.work_dir.clone(),
        source,
    })?;
    Ok(created)
}

/// The Gateways among these proxies, each once.
fn gateways_of<'a>(keys: impl Iterator<Item = &'a ProxyKey>) -> Vec<ObjectKey> {
    let set: BTreeSet<&ObjectKey> = keys.map(|(gw, _)| gw).collect();
    set.into_iter().cloned().collect()
}

/// Ask each supervisor to stop its proxy, concurrently, and wait for all of them.
async fn stop_all(proxies: Vec<(ProxyKey, Supervised)>) {
    let started = Instant::now();
    let count = proxies.len();
    join_all(proxies.into_iter().map(|((gateway, _), mut s)| async move {
        if let Some(stop) = s.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = s.task.await {
            tracing::error!(%gateway, "proxy supervisor failed: {e}");
        }
    }))
    .await;
    if count > 0 {
        tracing::info!(
            count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stopped proxies"
        );
    }
}

/// `<namespace>_<name>`: unambiguous because Kubernetes names never contain '_'. Anything that
/// could escape `work_dir` is refused.
fn dir_name(gateway: &ObjectKey) -> Result<String, HostError> {
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if ok(&gateway.namespace) && ok(&gateway.name) {
        Ok(format!("{}_{}", gateway.namespace, gateway.name))
    } else {
        Err(HostError::BadGatewayName(gateway.clone()))
    }
}

/// The directory `HostInfra` uses for a Gateway (its first replica), for tools that read its
/// files.
pub fn proxy_dir(work_dir: &Path, gateway: &ObjectKey) -> Result<PathBuf, HostError> {
    Ok(work_dir.join(dir_name(gateway)?))
}

/// The directory of one replica: the Gateway's for the first, `<namespace>_<name>_<replica>`
/// for the others (no Gateway's own directory has a second '_').
pub fn replica_dir(
    work_dir: &Path,
    gateway: &ObjectKey,
    replica: u32,
) -> Result<PathBuf, HostError> {
    let base = dir_name(gateway)?;
    Ok(match replica {
        0 => work_dir.join(base),
        r => work_dir.join(format!("{base}_{r}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_are_safe() {
        assert_eq!(dir_name(&ObjectKey::new("ns", "gw")).unwrap(), "ns_gw");
        for (ns, name) in [
            ("", "gw"),
            ("ns", ".."),
            ("ns", "a/b"),
            ("..", "x"),
            ("ns", ""),
        ] {
            assert!(
                dir_name(&ObjectKey::new(ns, name)).is_err(),
                "{ns:?}/{name:?}"
            );
        }
    }

    /// The controller shares one provider between its reconcile loop and its admin endpoint,
    /// and spawns the reconcile future.
    #[test]
    fn provider_and_its_futures_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<HostInfra>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let work = tempfile::tempdir().unwrap();
        let host = HostInfra::new(HostConfig {
            work_dir: work.path().to_path_buf(),
            ..HostConfig::default()
        })
        .unwrap();
        let desired = BTreeMap::new();
        send(&host.reconcile(&desired));
        send(&host.shutdown());
        send(&host.wait_until(&ObjectKey::new("a", "b"), Duration::ZERO, |_| true));
    }

    #[test]
    fn spec_for_gateway_uses_translator_node_id() {
        let gw = ObjectKey::new("infra", "edge");
        let spec = ProxySpec::for_gateway(&gw, "127.0.10.7");
        assert_eq!(spec.node_id, crate::translate::node_id(&gw));
        assert_eq!(spec.address, "127.0.10.7");
    }
}
