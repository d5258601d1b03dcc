//! Starting, addressing and stopping a simkube server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::faults::{FaultState, Faults, Stats};
use crate::kinds::KindTable;
use crate::schema::{FieldValidation, Schemas};
use crate::store::prepare::Location;
use crate::store::{Reaper, Store, StoreConfig, WriteCtx};

/// How to run a simkube server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; must be loopback. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// Changes retained per kind for watches that resume from an older version. Resuming
    /// from before the retained window is answered `410 Gone`.
    pub history: usize,
    /// Changes a slow watch may fall behind before its stream is ended with `410 Gone`.
    pub watch_buffer: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Namespaces that exist from the start, as in a fresh cluster.
    pub namespaces: Vec<String>,
    /// How long a deleted namespace stays `Terminating` with its contents before they are
    /// deleted, as the namespace controller of a real cluster takes a moment. Zero deletes
    /// the contents within the DELETE request. The default leaves time for
    /// `kubectl delete -f` to delete a manifest's objects after their namespace, which a
    /// real cluster allows.
    pub namespace_cleanup_delay: Duration,
    /// CustomResourceDefinition names (`<plural>.<group>`, e.g.
    /// `routeoptions.gateway.solo.io`) of kinds that are served only while a
    /// CustomResourceDefinition of that name exists, as on a cluster where those CRDs are
    /// installed (and removed) at run time. Deleting the CRD deletes the kind's objects and
    /// ends its watches. Every other kind is served from the start.
    pub require_crds: Vec<String>,
    /// Where custom resources' schemas come from. With schemas, writes of those kinds
    /// are pruned, defaulted and validated as kube-apiserver does (`422 Invalid`).
    pub schemas: SchemaSource,
}

/// The CRD manifests simkube validates custom resources against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSource {
    /// The upstream Gateway API CRDs of the pinned release, provisioned into the cache
    /// on first use. Without them (no network, no Go module cache) simkube runs without
    /// their validation and says so, unless `GATESIM_REQUIRE_ALL=1` makes that an error.
    pub gateway_api: bool,
    /// More directories of CRD manifests (any kinds; a later CRD of the same kind
    /// replaces an earlier one).
    pub crd_dirs: Vec<PathBuf>,
}

impl Default for SchemaSource {
    fn default() -> Self {
        Self {
            gateway_api: true,
            crd_dirs: Vec::new(),
        }
    }
}

impl SchemaSource {
    /// No schemas: objects are stored as they come, as simkube did before schemas.
    pub fn none() -> Self {
        Self {
            gateway_api: false,
            crd_dirs: Vec::new(),
        }
    }

    /// The directories to load, provisioning the Gateway API CRDs when asked for.
    async fn resolve(&self) -> Result<Vec<PathBuf>, Error> {
        let mut dirs = Vec::new();
        if self.gateway_api {
            match crate::schema::provision::gateway_api_crds().await {
                Ok(dir) => dirs.push(dir),
                Err(e) if require_all() => {
                    return Err(Error::Crds(format!(
                        "{e} (GATESIM_REQUIRE_ALL=1 makes the Gateway API CRDs mandatory)"
                    )));
                }
                Err(e) => {
                    static WARNED: std::sync::Once = std::sync::Once::new();
                    WARNED.call_once(|| {
                        eprintln!(
                            "simkube: WARNING: no Gateway API CRDs ({e}); Gateway API objects are stored WITHOUT schema validation"
                        )
                    });
                }
            }
        }
        dirs.extend(self.crd_dirs.iter().cloned());
        Ok(dirs)
    }

    /// The loaded schemas, shared by every server of the process that asks for the same
    /// directories (loading the Gateway API CRDs takes a while; tests start many servers).
    async fn load(&self) -> Result<Option<Arc<Schemas>>, Error> {
        let dirs = self.resolve().await?;
        if dirs.is_empty() {
            return Ok(None);
        }
        static LOADED: Mutex<Vec<(Vec<PathBuf>, Arc<Schemas>)>> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, s)) = loaded.iter().find(|(d, _)| *d == dirs) {
            return Ok(Some(s.clone()));
        }
        let started = Instant::now();
        let schemas = Arc::new(Schemas::load(&dirs).map_err(|e| Error::Crds(e.to_string()))?);
        tracing::debug!(
            kinds = schemas.kinds(),
            files = schemas.files(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "simkube loaded CRD schemas"
        );
        loaded.push((dirs, schemas.clone()));
        Ok(Some(schemas))
    }
}

fn require_all() -> bool {
    std::env::var("GATESIM_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            history: 10_000,
            watch_buffer: 4096,
            bookmark_interval: Duration::from_secs(2),
            namespaces: ["default", "kube-system", "kube-public", "kube-node-lease"]
                .into_iter()
                .map(String::from)
                .collect(),
            namespace_cleanup_delay: Duration::from_millis(250),
            require_crds: Vec::new(),
            schemas: SchemaSource::default(),
        }
    }
}

/// State shared by every request handler and by the [`Faults`] handle.
pub(crate) struct Core {
    pub(crate) store: Store,
    pub(crate) faults: Arc<FaultState>,
    pub(crate) config: Config,
    /// Flips to `true` on shutdown, ending watch streams so connections can close.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The address actually bound.
    pub(crate) addr: SocketAddr,
}

/// A running simulated API server.
///
/// Dropping it stops the server (without waiting); [`SimKube::shutdown`] stops it and
/// waits until the listener is closed.
pub struct SimKube {
    core: Arc<Core>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimKube {
    /// Binds and starts serving.
    pub async fn start(config: Config) -> Result<Self, Error> {
        if !config.addr.ip().is_loopback() {
            return Err(Error::NotLoopback(config.addr));
        }
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let table = KindTable::withholding(&config.require_crds).map_err(Error::UnknownCrd)?;
        let schemas = config.schemas.load().await?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let store_config = StoreConfig {
            history: config.history.max(1),
            watch_buffer: config.watch_buffer,
        };
        let delay = config.namespace_cleanup_delay;
        let core = Arc::new_cyclic(|weak: &Weak<Core>| {
            let reaper: Option<Reaper> = (!delay.is_zero()).then(|| {
                let weak = weak.clone();
                Box::new(move |ns: String| {
                    let weak = weak.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        if let Some(core) = weak.upgrade() {
                            core.store.reap_namespace(&ns);
                        }
                    });
                }) as Reaper
            });
            Core {
                store: Store::new(table, store_config, reaper, schemas.clone()),
                faults: Arc::new(FaultState::new()),
                config,
                shutdown: shutdown_rx.clone(),
                addr,
            }
        });
        seed_namespaces(&core.store, &core.config.namespaces)?;
        let app = crate::http::router(core.clone());
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Also resolves if the sender is gone.
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::debug!(%addr, "simkube listening");
        Ok(Self {
            core,
            shutdown: shutdown_tx,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.core.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// A kubeconfig pointing at this server (context `simkube`, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "simkube", "cluster": {"server": self.url()}}],
            "users": [{"name": "simkube", "user": {}}],
            "contexts": [{"name": "simkube", "context": {
                "cluster": "simkube", "user": "simkube", "namespace": "default"}}],
            "current-context": "simkube",
            "preferences": {},
        });
        serde_yaml::to_string(&doc).expect("a JSON value always renders as YAML")
    }

    /// Writes [`SimKube::kubeconfig_yaml`] to `path`, for kubectl and `kube::Config`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// How many kinds are validated against a CRD schema (0: no schemas loaded).
    pub fn validated_kinds(&self) -> usize {
        self.core.store.schema_kinds()
    }

    /// Fault injection and counters.
    pub fn faults(&self) -> Faults {
        Faults::new(self.core.clone())
    }

    /// Counters since start (same as `faults().stats()`).
    pub fn stats(&self) -> Stats {
        self.faults().stats()
    }

    /// Stops serving: ends watch streams, lets in-flight requests finish, closes the
    /// listener.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Error::Server(e.to_string())),
                Err(e) => Err(Error::Server(e.to_string())),
            },
            None => Ok(()),
        }
    }
}

impl Drop for SimKube {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn seed_namespaces(store: &Store, names: &[String]) -> Result<(), Error> {
    let nk = store.table().namespace_kind();
    for name in names {
        store
            .create(
                nk,
                &Location {
                    namespace: None,
                    name: None,
                    version: "v1",
                },
                json!({"metadata": {"name": name}}),
                &WriteCtx {
                    manager: "simkube",
                    dry_run: false,
                    field_validation: FieldValidation::Ignore,
                    duplicates: &[],
                    warnings: &Mutex::new(Vec::new()),
                },
            )
            .map_err(|e| Error::Server(format!("creating namespace {name}: {e}")))?;
    }
    Ok(())
}
