//! Targets: where a scenario's objects are applied and its traffic is sent. The generic part
//! ([`Driver`]) talks to any API server through the `kube` client; each target adds how echo
//! backends come to life, how convergence is awaited and how Gateways are reached.
//!
//! - `sim`: simkube, the in-process reference controller, Envoy on this host, in-process echo
//!   replicas; convergence by the controller's ACK barrier.
//! - `cluster`: any kubeconfig and GatewayClass; echo backends are Deployments of an echo
//!   image; convergence by polling, as upstream.
//! - `kind`: a kind cluster with the project's images, CRDs and controller installed
//!   (`kind`), then the `cluster` target against it.
//! - `local`: `cluster` against this machine's real control plane and simulated node, with the
//!   reference controller in-process.

mod certificates;
pub mod cluster;
pub mod driver;
pub mod echo_objects;
mod in_process;
pub mod kind;
pub mod local;
pub mod sim;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use certificates::{CertStore, Generated, published_refs};
pub use cluster::{ClusterOptions, ClusterTarget};
pub use driver::{Driver, Resolved, RunClass, Written};
pub use kind::{KindCluster, KindOptions};
pub use local::{LocalOptions, LocalTarget};
pub use sim::{SimOptions, SimTarget};

use crate::certs::CertError;
use crate::echo::{EchoError, SeenRequest};
use crate::scenario::{
    FillEndpoints, GatewayRef, HARNESS_GROUP, HarnessObject, Object, ObjectRef, PatchEntry,
};
use echo_objects::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("API discovery failed: {source}")]
    Discovery {
        #[source]
        source: Box<kube::Error>,
    },
    #[error("building a Kubernetes client: {source}")]
    Client {
        #[source]
        source: Box<kube::Error>,
    },
    #[error("the API server serves no kind {kind}{}", api_version.as_ref().map(|v| format!(" in {v}")).unwrap_or_default())]
    UnknownKind {
        api_version: Option<String>,
        kind: String,
    },
    #[error("kind {kind} is served by several groups ({groups:?}); name it with apiVersion")]
    AmbiguousKind { kind: String, groups: Vec<String> },
    #[error("{action} {object}: {source}")]
    Api {
        action: &'static str,
        object: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("TestCertificate {name}: {source}")]
    Certificate {
        name: String,
        #[source]
        source: CertError,
    },
    #[error("echo replica: {source}")]
    Echo {
        #[source]
        source: EchoError,
    },
    #[error("Envoy: {0}")]
    Envoy(String),
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
    #[error("{0}")]
    Invalid(String),
}

/// Why the ACK barrier did not let a probe through.
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    #[error("Envoy of Gateway {node} NACKed the configuration for revision {revision}: {message}")]
    Rejected {
        node: String,
        revision: u64,
        message: String,
    },
    #[error(
        "Envoy of Gateway {node} did not ACK revision {revision} within {after:?} (acked: {}, connected: {connected})",
        acked.map_or_else(|| "nothing".to_owned(), |r| r.to_string())
    )]
    Timeout {
        node: String,
        revision: u64,
        acked: Option<u64>,
        connected: bool,
        after: Duration,
    },
}

/// The GatewayClass a run creates for the controller it starts (sim, local, and `gatesim
/// upstream` on local), as applied.
pub fn gateway_class(name: &str, controller_name: &str, description: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": controller_name, "description": description},
    })
}

/// A started target.
pub enum Target {
    Sim(Box<SimTarget>),
    Cluster(Box<ClusterTarget>),
    Local(Box<LocalTarget>),
}

fn is_harness(api_version: Option<&str>, kind: &str) -> bool {
    let group_matches = api_version.is_none_or(|v| v.split('/').next() == Some(HARNESS_GROUP));
    group_matches && matches!(kind, "EchoBackend" | "TestCertificate")
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Sim(_) => "sim",
            Target::Cluster(_) => "cluster",
            Target::Local(_) => "local",
        }
    }

    pub fn driver(&self) -> &Driver {
        match self {
            Target::Sim(s) => s.driver(),
            Target::Cluster(c) => c.driver(),
            Target::Local(l) => l.cluster().driver(),
        }
    }

    pub fn class(&self) -> &RunClass {
        self.driver().class()
    }

    /// Lines for the run header, besides target and GatewayClass.
    pub fn header(&self) -> Vec<(String, String)> {
        match self {
            Target::Sim(s) => s.header(),
            Target::Cluster(c) => c.header(),
            Target::Local(l) => l.header(),
        }
    }

    /// Added to listener ports where the proxies may not bind low ports (sim only).
    pub fn port_offset(&self) -> u16 {
        match self {
            Target::Sim(s) => s.port_offset(),
            Target::Local(l) => l.port_offset(),
            Target::Cluster(_) => 0,
        }
    }

    /// Whether the API server keeps running after the run (the run then removes its base
    /// fixtures, so that the next run on it starts from nothing).
    pub fn outlives_run(&self) -> bool {
        match self {
            Target::Local(l) => l.outlives_run(),
            Target::Sim(_) | Target::Cluster(_) => false,
        }
    }

    /// A directory for one scenario on the host its proxies run on (the `${SCENARIO_DIR}` of
    /// the format), where the harness can read what they write; `None` where proxies run
    /// elsewhere (a cluster's pods), and scenarios that need one are skipped.
    pub fn scenario_dir(&self, scenario: &str) -> Option<PathBuf> {
        match self {
            Target::Sim(s) => Some(s.scenario_dir(scenario)),
            Target::Local(l) => Some(l.scenario_dir(scenario)),
            Target::Cluster(_) => None,
        }
    }

    /// Whether the target waits for ACKs instead of polling the data plane.
    pub fn has_ack_barrier(&self) -> bool {
        matches!(self, Target::Sim(_))
    }

    /// Whether this write is one the barrier should wait for.
    pub fn counts_for_barrier(&self, written: &Written) -> bool {
        match self {
            Target::Sim(_) => SimTarget::counts_for_barrier(written),
            Target::Cluster(_) | Target::Local(_) => false,
        }
    }

    /// Creates or updates one scenario object; harness kinds are materialized.
    pub async fn apply(
        &self,
        object: &Object,
        certs: &CertStore,
    ) -> Result<Vec<Written>, TargetError> {
        match object.harness() {
            Some(HarnessObject::TestCertificate(cert)) => {
                let mut written = Vec::new();
                for published in certs.generate(cert)? {
                    written.push(self.driver().apply(&published).await?);
                }
                Ok(written)
            }
            Some(HarnessObject::EchoBackend(backend)) => match self {
                Target::Sim(s) => s.materialize_backend(backend, certs).await,
                Target::Cluster(c) => c.materialize_backend(backend).await,
                Target::Local(l) => l.cluster().materialize_backend(backend).await,
            },
            None => {
                let written = self.driver().apply(object.value()).await?;
                self.after_write(written).await
            }
        }
    }

    /// A JSON merge patch of one object.
    pub async fn patch(&self, entry: &PatchEntry) -> Result<Vec<Written>, TargetError> {
        let target = entry.target();
        if is_harness(target.api_version.as_deref(), &target.kind) {
            return Err(TargetError::Invalid(format!(
                "{target}: harness kinds cannot be patched; apply them again instead"
            )));
        }
        let written = self.driver().patch(&target, &entry.patch).await?;
        self.after_write(written).await
    }

    /// Deletes one object (or a harness object's materialization). Deleting what does not
    /// exist is not an error.
    pub async fn delete(
        &self,
        target: &ObjectRef,
        certs: &CertStore,
    ) -> Result<Vec<Written>, TargetError> {
        if is_harness(target.api_version.as_deref(), &target.kind) {
            return match target.kind.as_str() {
                "EchoBackend" => match self {
                    Target::Sim(s) => s.remove_backend(target).await,
                    Target::Cluster(c) => c.remove_backend(target).await,
                    Target::Local(l) => l.cluster().remove_backend(target).await,
                },
                _ => self.delete_certificate(target, certs).await,
            };
        }
        match self.driver().delete(target).await? {
            Some(written) => self.after_write(written).await,
            None => Ok(Vec::new()),
        }
    }

    async fn delete_certificate(
        &self,
        target: &ObjectRef,
        certs: &CertStore,
    ) -> Result<Vec<Written>, TargetError> {
        let namespace = target.namespace.clone().unwrap_or_default();
        certs.remove(&namespace, &target.name);
        let mut written = Vec::new();
        for (kind, name) in [
            ("Secret", target.name.clone()),
            ("ConfigMap", target.name.clone()),
            ("ConfigMap", format!("{}-ca", target.name)),
        ] {
            let r = ObjectRef {
                api_version: Some("v1".to_owned()),
                kind: kind.to_owned(),
                namespace: Some(namespace.clone()),
                name,
            };
            written.extend(self.driver().delete(&r).await?);
        }
        Ok(written)
    }

    /// What a cluster's controllers do in reaction to a write (endpoints for Services).
    async fn after_write(&self, written: Written) -> Result<Vec<Written>, TargetError> {
        let mut all = match self {
            Target::Sim(s) => s.service_written(&written).await?,
            Target::Cluster(_) | Target::Local(_) => Vec::new(),
        };
        all.push(written);
        Ok(all)
    }

    pub async fn fill_endpoints(&self, fill: &FillEndpoints) -> Result<Vec<Written>, TargetError> {
        let endpoints = self
            .backend_endpoints(&fill.namespace, &fill.backend)
            .await?;
        write_endpoints(self.driver(), fill, &endpoints).await
    }

    /// The addresses of an EchoBackend's Ready replicas.
    pub async fn backend_endpoints(
        &self,
        namespace: &str,
        backend: &str,
    ) -> Result<Vec<Endpoint>, TargetError> {
        match self {
            Target::Sim(s) => Ok(s.backend_endpoints(namespace, backend)),
            Target::Cluster(c) => c.backend_endpoints(namespace, backend).await,
            Target::Local(l) => l.cluster().backend_endpoints(namespace, backend).await,
        }
    }

    /// The sim target's ACK barrier; other targets converge by polling alone.
    pub async fn await_acked(
        &self,
        gateway: &GatewayRef,
        revision: u64,
        bound: Duration,
    ) -> Result<(), BarrierError> {
        match self {
            Target::Sim(s) => s.await_acked(gateway, revision, bound).await,
            Target::Cluster(_) | Target::Local(_) => Ok(()),
        }
    }

    /// Requests a backend's replicas answered since `since` for `path`; `Ok(false)` while
    /// none has.
    pub async fn saw_request(
        &self,
        namespace: &str,
        backend: &str,
        path: &str,
        since: Instant,
    ) -> Result<bool, TargetError> {
        match self {
            Target::Sim(s) => {
                let seen: Vec<SeenRequest> =
                    s.seen_requests(namespace, backend).ok_or_else(|| {
                        TargetError::Invalid(format!(
                            "no echo backend {namespace}/{backend} runs in this environment"
                        ))
                    })?;
                Ok(seen.iter().any(|r| r.path == path && r.at >= since))
            }
            Target::Cluster(c) => c.saw_request(namespace, backend, path, since).await,
            Target::Local(_) => Err(TargetError::Invalid(format!(
                "the local target cannot tell which requests {namespace}/{backend} received: \
                 the simulated node serves no pod logs"
            ))),
        }
    }

    /// Where to send a probe: the Gateway's first address and the port of the named (or
    /// first) listener. Waits up to `bound` for the address to appear in status.
    pub async fn gateway_endpoint(
        &self,
        gateway: &GatewayRef,
        listener: Option<&str>,
        bound: Duration,
    ) -> Result<SocketAddr, TargetError> {
        let target = ObjectRef {
            api_version: Some("gateway.networking.k8s.io/v1".to_owned()),
            kind: "Gateway".to_owned(),
            namespace: Some(gateway.namespace.clone()),
            name: gateway.name.clone(),
        };
        let deadline = Instant::now() + bound;
        let mut pause = Duration::from_millis(5);
        loop {
            let object =
                self.driver().get(&target).await?.ok_or_else(|| {
                    TargetError::Invalid(format!("Gateway {gateway} does not exist"))
                })?;
            let port = listener_port(&object, listener).ok_or_else(|| {
                TargetError::Invalid(match listener {
                    Some(l) => format!("Gateway {gateway} has no listener {l:?}"),
                    None => format!("Gateway {gateway} has no listeners"),
                })
            })?;
            let port = port.saturating_add(self.port_offset());
            if let Some(address) = first_address(&object) {
                return resolve_address(&address, port).await;
            }
            if Instant::now() >= deadline {
                return Err(TargetError::Timeout {
                    what: format!("Gateway {gateway} to have an address in status.addresses"),
                    after: bound,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Waits until everything a base fixture started is ready (Deployments on a cluster).
    pub async fn await_ready(&self, objects: &[Object]) -> Result<(), TargetError> {
        match self {
            Target::Sim(_) => Ok(()),
            Target::Cluster(c) => c.await_ready(objects).await,
            Target::Local(l) => l.cluster().await_ready(objects).await,
        }
    }

    pub async fn shutdown(self) {
        match self {
            Target::Sim(s) => s.shutdown().await,
            Target::Local(l) => l.shutdown().await,
            Target::Cluster(_) => {}
        }
    }
}

fn listener_port(gateway: &Value, listener: Option<&str>) -> Option<u16> {
    let listeners = gateway.pointer("/spec/listeners")?.as_array()?;
    let chosen = match listener {
        Some(name) => listeners
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some(name))?,
        None => listeners.first()?,
    };
    chosen
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
}

/// `status.addresses[0]`, as upstream's `WaitForGatewayAddress` takes it.
fn first_address(gateway: &Value) -> Option<String> {
    gateway
        .pointer("/status/addresses")?
        .as_array()?
        .iter()
        .find_map(|a| a.get("value").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn resolve_address(address: &str, port: u16) -> Result<SocketAddr, TargetError> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((address, port))
        .await
        .map_err(|e| TargetError::Invalid(format!("resolving Gateway address {address}: {e}")))?
        .next()
        .ok_or_else(|| {
            TargetError::Invalid(format!("Gateway address {address} resolves to nothing"))
        })
}

/// Writes a backend's endpoints into existing EndpointSlices, each getting the addresses of
/// its own family (none when the backend has none of it).
pub(crate) async fn write_endpoints(
    driver: &Driver,
    fill: &FillEndpoints,
    endpoints: &[Endpoint],
) -> Result<Vec<Written>, TargetError> {
    if endpoints.is_empty() {
        return Err(TargetError::Invalid(format!(
            "fill-endpoints: backend {}/{} has no Ready pods",
            fill.namespace, fill.backend
        )));
    }
    let mut written = Vec::new();
    for name in &fill.endpoint_slices {
        let target = ObjectRef {
            api_version: Some("discovery.k8s.io/v1".to_owned()),
            kind: "EndpointSlice".to_owned(),
            namespace: Some(fill.namespace.clone()),
            name: name.clone(),
        };
        let slice = driver.get(&target).await?.ok_or_else(|| {
            TargetError::Invalid(format!("fill-endpoints: {target} does not exist"))
        })?;
        let ipv6 = slice.get("addressType").and_then(Value::as_str) == Some("IPv6");
        let addresses: Vec<Value> = endpoints
            .iter()
            .filter(|e| e.is_ipv6() == ipv6)
            .map(Endpoint::to_json)
            .collect();
        written.push(
            driver
                .patch(&target, &json!({"endpoints": addresses}))
                .await?,
        );
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_use_the_first_address_and_the_named_listener() {
        let gw = json!({
            "spec": {"listeners": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
            "status": {"addresses": [{"type": "IPAddress", "value": "127.0.10.3"}]},
        });
        assert_eq!(listener_port(&gw, None), Some(80));
        assert_eq!(listener_port(&gw, Some("https")), Some(443));
        assert_eq!(listener_port(&gw, Some("nope")), None);
        assert_eq!(first_address(&gw).as_deref(), Some("127.0.10.3"));
        assert_eq!(first_address(&json!({"status": {"addresses": []}})), None);
    }

    #[test]
    fn harness_kinds_are_recognised_by_group() {
        assert!(is_harness(None, "EchoBackend"));
        assert!(is_harness(Some("gatesim.dev/v1alpha1"), "TestCertificate"));
        assert!(!is_harness(Some("v1"), "EchoBackend"));
        assert!(!is_harness(None, "Service"));
    }
}
