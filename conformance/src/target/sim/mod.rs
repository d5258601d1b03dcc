//! The `sim` target: one machine as a cluster. simkube is the API server, the reference
//! controller runs in this process with its Kubernetes provider pointed at simkube and one
//! Envoy per Gateway on this host, and echo replicas run in-process, each on its own
//! loopback address, published through the API like pods of a real cluster.
//!
//! Convergence needs no polling of the data plane: the controller's xDS cache knows which
//! input revision each Envoy has ACKed, so before probing, the harness waits for the ACK of the
//! revision holding its latest write (see [`SimTarget::await_acked`]).

mod backends;
mod endpoints;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatesim_reference::controller::Controller;
use gatesim_reference::infra::ports::{self, PortPrivileges};
use gatesim_reference::model::{KindVisitor, StoredKind, visit_kind};
use gatesim_reference::xds::WaitError;
use gatesim_simkube::{Faults, SimKube};

use super::driver::{Driver, RunClass, Written};
use super::echo_objects::Endpoint;
use super::in_process;
use super::{BarrierError, TargetError};
use crate::certs::CertError;
use crate::echo::SeenRequest;
use crate::scenario::{EchoBackend, GatewayRef, ObjectRef};

pub use backends::Backends;
use endpoints::EndpointsController;

/// How to start a sim environment.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub class: RunClass,
    /// The Envoy binary; found (or installed) by `infra::envoy::locate` when `None`.
    pub envoy: Option<PathBuf>,
    /// Run the proxies as containers of this Envoy image (`--infra docker` of the
    /// controller) instead of processes of `envoy`.
    pub envoy_image: Option<String>,
    /// Envoy's log level for the proxies.
    pub envoy_log_level: String,
    /// Second octet of every loopback address of the environment: Gateways get
    /// 127.N.10.1 and up, echo replicas 127.N.20.1 and up. Environments running side by side
    /// on one machine (test binaries, other users) need different N; by default it is derived
    /// from the process id.
    pub address_network: Option<u8>,
    /// Added to listener ports; by default 0 where ports below 1024 can be bound and
    /// `PRIVILEGED_PORT_OFFSET` where not. Set it to exercise the shifted mode anywhere.
    pub port_offset: Option<u16>,
}

impl SimOptions {
    pub fn new(class: RunClass) -> SimOptions {
        SimOptions {
            class,
            envoy: None,
            envoy_image: None,
            envoy_log_level: "warning".to_owned(),
            address_network: None,
            port_offset: None,
        }
    }
}

/// A running sim environment.
pub struct SimTarget {
    driver: Arc<Driver>,
    simkube: Option<SimKube>,
    controller: Option<Controller>,
    backends: Backends,
    /// What runs the proxies, for the header.
    proxies: String,
    privileges: PortPrivileges,
    port_offset: u16,
    network: u8,
    work_dir: PathBuf,
}

/// Whether the controller watches a kind: only writes it sees raise the revision its
/// proxies ACK, so only those count for the barrier.
struct Watched;

impl KindVisitor for Watched {
    type Output = ();
    fn visit<K: StoredKind>(self) {}
}

fn kube_client(url: &str) -> Result<kube::Client, TargetError> {
    let url = url
        .parse()
        .map_err(|e| TargetError::Invalid(format!("simkube URL {url}: {e}")))?;
    kube::Client::try_from(kube::Config::new(url)).map_err(|source| TargetError::Client {
        source: Box::new(source),
    })
}

impl SimTarget {
    /// Starts simkube, the controller and the run's GatewayClass.
    pub async fn start(options: SimOptions) -> Result<SimTarget, TargetError> {
        let (envoy, proxies) = match &options.envoy_image {
            // The image brings its own Envoy; the path is not used.
            Some(image) => (PathBuf::from("envoy"), format!("Docker image {image}")),
            None => {
                let path = in_process::envoy(options.envoy.clone()).await?;
                let version = envoy_version(&path).await;
                let described = format!("{version} ({})", path.display());
                (path, described)
            }
        };
        let privileges = ports::detect();
        let port_offset = options
            .port_offset
            .unwrap_or_else(|| privileges.port_offset());
        let network = options
            .address_network
            .unwrap_or_else(|| in_process::default_network(std::process::id()));
        let simkube = SimKube::start(gatesim_simkube::Config::default())
            .await
            .map_err(|e| TargetError::Invalid(format!("starting simkube: {e}")))?;
        let work_dir = std::env::temp_dir().join(format!(
            "gatesim-sim-{}-{}",
            std::process::id(),
            simkube.addr().port()
        ));
        let controller = in_process::start(in_process::Setup {
            client: kube_client(&simkube.url())?,
            envoy,
            envoy_image: options.envoy_image.clone(),
            envoy_log_level: &options.envoy_log_level,
            work_dir: work_dir.clone(),
            controller_name: &options.class.controller_name,
            port_offset,
            network,
        })
        .await?;
        let driver = Arc::new(
            Driver::connect(
                kube_client(&simkube.url())?,
                "gatesim-harness",
                options.class.clone(),
            )
            .await?,
        );
        driver
            .apply(&super::gateway_class(
                &options.class.gateway_class,
                &options.class.controller_name,
                "The gatesim sim target's GatewayClass.",
            ))
            .await?;
        Ok(SimTarget {
            backends: Backends::new(
                network,
                Arc::clone(&driver),
                EndpointsController::new(Arc::clone(&driver)),
            ),
            driver,
            simkube: Some(simkube),
            controller: Some(controller),
            proxies,
            privileges,
            port_offset,
            network,
            work_dir,
        })
    }

    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Fault injection into the simulated API server.
    pub fn faults(&self) -> Option<Faults> {
        self.simkube.as_ref().map(SimKube::faults)
    }

    pub fn simkube_url(&self) -> Option<String> {
        self.simkube.as_ref().map(SimKube::url)
    }

    pub fn controller_admin(&self) -> Option<SocketAddr> {
        self.controller.as_ref().map(Controller::admin_addr)
    }

    pub fn port_offset(&self) -> u16 {
        self.port_offset
    }

    pub fn header(&self) -> Vec<(String, String)> {
        vec![
            ("envoy".to_owned(), self.proxies.clone()),
            ("ports".to_owned(), self.describe_ports()),
            (
                "addresses".to_owned(),
                format!(
                    "Gateways 127.{n}.10.x, echo replicas 127.{n}.20.x",
                    n = self.network
                ),
            ),
            (
                "controller".to_owned(),
                format!(
                    "in-process, admin http://{}",
                    self.controller_admin()
                        .map_or_else(|| "-".to_owned(), |a| a.to_string())
                ),
            ),
            (
                "api server".to_owned(),
                format!(
                    "simkube at {}",
                    self.simkube_url().unwrap_or_else(|| "-".to_owned())
                ),
            ),
        ]
    }

    fn describe_ports(&self) -> String {
        let detected = self.privileges.describe();
        if self.port_offset == self.privileges.port_offset() {
            detected
        } else {
            format!(
                "listener ports shifted by +{} as asked (detected: {detected})",
                self.port_offset
            )
        }
    }

    /// `<work dir>/scenarios/<name>`: beside the proxies' own directories, removed with the
    /// environment.
    pub fn scenario_dir(&self, scenario: &str) -> PathBuf {
        self.work_dir.join("scenarios").join(scenario)
    }

    /// Whether the controller sees writes of this kind.
    pub fn counts_for_barrier(written: &Written) -> bool {
        visit_kind(&written.group, &written.kind, Watched).is_some()
    }

    /// The ACK barrier: waits until the Gateway's Envoy has ACKed a configuration built from
    /// input revision `revision` or later. Returns at once with Envoy's message on a NACK.
    pub async fn await_acked(
        &self,
        gateway: &GatewayRef,
        revision: u64,
        bound: Duration,
    ) -> Result<(), BarrierError> {
        let Some(controller) = &self.controller else {
            return Ok(());
        };
        let node = gatesim_reference::translate::node_id(
            &gatesim_reference::model::ObjectKey::new(&gateway.namespace, &gateway.name),
        );
        match controller.cache().wait_acked(&node, revision, bound).await {
            Ok(_) => Ok(()),
            Err(WaitError::Rejected { rejection, .. }) => Err(BarrierError::Rejected {
                node,
                revision,
                message: format!("{} rejected: {}", rejection.ty, rejection.message),
            }),
            Err(WaitError::Timeout { acked, streams, .. }) => Err(BarrierError::Timeout {
                node,
                revision,
                acked,
                connected: streams > 0,
                after: bound,
            }),
        }
    }

    pub async fn materialize_backend(
        &self,
        backend: &EchoBackend,
        certs: &super::CertStore,
    ) -> Result<Vec<Written>, TargetError> {
        self.backends.start(backend, certs).await
    }

    pub async fn remove_backend(&self, target: &ObjectRef) -> Result<Vec<Written>, TargetError> {
        self.backends.stop(target).await
    }

    pub async fn service_written(&self, written: &Written) -> Result<Vec<Written>, TargetError> {
        self.backends.endpoints().service_changed(written).await
    }

    pub fn backend_endpoints(&self, namespace: &str, backend: &str) -> Vec<Endpoint> {
        self.backends.endpoints_of(namespace, backend)
    }

    pub fn seen_requests(&self, namespace: &str, backend: &str) -> Option<Vec<SeenRequest>> {
        self.backends.seen_requests(namespace, backend)
    }

    /// Stops the proxies gracefully, then the echo replicas and the API server.
    pub async fn shutdown(mut self) {
        if let Some(controller) = self.controller.take() {
            controller.shutdown().await;
        }
        self.backends.stop_all().await;
        if let Some(simkube) = self.simkube.take() {
            let _ = simkube.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

async fn envoy_version(envoy: &std::path::Path) -> String {
    let out = tokio::process::Command::new(envoy)
        .arg("--version")
        .output()
        .await;
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            // "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
            text.split("version:")
                .nth(1)
                .and_then(|v| v.trim().split('/').nth(1))
                .map(|v| format!("Envoy {v}"))
                .unwrap_or_else(|| text.trim().to_owned())
        }
        Err(e) => format!("Envoy (version unknown: {e})"),
    }
}

impl From<CertError> for TargetError {
    fn from(source: CertError) -> Self {
        TargetError::Certificate {
            name: String::new(),
            source,
        }
    }
}
