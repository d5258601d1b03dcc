//! EchoBackends on the sim target: each replica is an in-process echo server on a loopback
//! address of its own, published as a Ready Pod, behind the backend's Service.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::super::driver::{Driver, Written};
use super::super::echo_objects::{self, Endpoint};
use super::super::{CertStore, TargetError};
use super::endpoints::{EndpointsController, PodView};
use crate::echo::{AttemptLedger, EchoConfig, EchoHandle, EchoServer, SeenRequest, TlsIdentity};
use crate::scenario::{EchoBackend, ObjectRef};

/// Echo replicas get 127.N.20.1 upwards (third octet up to 99); an address is never handed out twice in a run, so
/// a late packet for a stopped replica can never reach a new one.
const FIRST_OCTET: u32 = 20;
const LAST_OCTET: u32 = 99;

struct Replica {
    pod: String,
    ip: Ipv4Addr,
    handle: EchoHandle,
}

struct Running {
    backend: EchoBackend,
    replicas: Vec<Replica>,
}

/// The running echo backends of a sim environment.
pub struct Backends {
    network: u8,
    driver: Arc<Driver>,
    endpoints: EndpointsController,
    running: Mutex<BTreeMap<(String, String), Running>>,
    /// Addresses each backend's replicas had, by replica index: a backend applied again (or
    /// deleted and applied again) gets them back, as a Service's endpoints would, so objects
    /// that name a replica's address (`${BACKEND_ADDRESS:...}`) keep pointing at it.
    addresses: Mutex<BTreeMap<(String, String), Vec<Ipv4Addr>>>,
    next_ip: AtomicU32,
    serial: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pod_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: Some("v1".to_owned()),
        kind: "Pod".to_owned(),
        namespace: Some(namespace.to_owned()),
        name: name.to_owned(),
    }
}

impl Backends {
    pub(super) fn new(
        network: u8,
        driver: Arc<Driver>,
        endpoints: EndpointsController,
    ) -> Backends {
        Backends {
            network,
            driver,
            endpoints,
            running: Mutex::new(BTreeMap::new()),
            addresses: Mutex::new(BTreeMap::new()),
            next_ip: AtomicU32::new(0),
            serial: AtomicU64::new(0),
        }
    }

    pub(super) fn endpoints(&self) -> &EndpointsController {
        &self.endpoints
    }

    /// The address of replica `index` of a backend: the one it had before, or a new one.
    fn replica_ip(
        &self,
        namespace: &str,
        name: &str,
        index: usize,
    ) -> Result<Ipv4Addr, TargetError> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(ip) = lock(&self.addresses).get(&key).and_then(|a| a.get(index)) {
            return Ok(*ip);
        }
        let ip = self.allocate_ip()?;
        lock(&self.addresses).entry(key).or_default().push(ip);
        Ok(ip)
    }

    /// 127.N.20.1, 127.N.20.2, ... 127.N.20.254, 127.N.21.1, ...
    fn allocate_ip(&self) -> Result<Ipv4Addr, TargetError> {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        let third = FIRST_OCTET + n / 254;
        if third > LAST_OCTET {
            return Err(TargetError::Invalid(format!(
                "out of loopback addresses for echo replicas (127.{n}.20.1 - 127.{n}.99.254)",
                n = self.network
            )));
        }
        let fourth = n % 254 + 1;
        Ok(Ipv4Addr::new(127, self.network, third as u8, fourth as u8))
    }

    /// Starts the backend's replicas and publishes its Service, Pods and endpoints. A backend
    /// applied again is replaced.
    pub async fn start(
        &self,
        backend: &EchoBackend,
        certs: &CertStore,
    ) -> Result<Vec<Written>, TargetError> {
        let meta = &backend.metadata;
        let mut written = Vec::new();
        if lock(&self.running).contains_key(&(meta.namespace.clone(), meta.name.clone())) {
            written.extend(self.stop(&backend_ref(backend)).await?);
        }
        let tls = match &backend.spec.tls {
            None => None,
            Some(tls) => {
                let cert = certs.get(&meta.namespace, &tls.certificate).ok_or_else(|| {
                    TargetError::Invalid(format!(
                        "EchoBackend {}/{}: TestCertificate {} is not generated; list it before \
                         the backend",
                        meta.namespace, meta.name, tls.certificate
                    ))
                })?;
                Some(TlsIdentity {
                    cert_pem: cert.cert_pem.clone(),
                    key_pem: cert.key_pem.clone(),
                    client_ca_pem: None,
                })
            }
        };
        let (plain, secure) = echo_objects::listen_ports(backend);
        let service = self.driver.apply(&echo_objects::service(backend)).await?;

        let mut replicas = Vec::new();
        let mut views = Vec::new();
        // Attempts of a request key count per backend, whichever replica a retry reaches.
        let attempts = Arc::new(AttemptLedger::new());
        for index in 0..backend.spec.replicas {
            let ip = self.replica_ip(&meta.namespace, &meta.name, index as usize)?;
            let serial = self.serial.fetch_add(1, Ordering::Relaxed);
            let pod = echo_objects::pod_name(backend, index, serial);
            let handle = EchoServer::start(EchoConfig {
                ip: IpAddr::V4(ip),
                ports: plain.clone(),
                tls_ports: secure.clone(),
                tls: tls.clone(),
                pod: pod.clone(),
                namespace: meta.namespace.clone(),
                attempts: Arc::clone(&attempts),
                ..EchoConfig::default()
            })
            .await
            .map_err(|source| TargetError::Echo { source })?;
            written.push(self.driver.apply(&pod_object(backend, &pod)).await?);
            written.push(
                self.driver
                    .patch_status(&pod_ref(&meta.namespace, &pod), &pod_status(ip))
                    .await?,
            );
            views.push(PodView {
                name: pod.clone(),
                namespace: meta.namespace.clone(),
                ip: ip.to_string(),
                labels: echo_objects::pod_labels(backend)
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                    .collect(),
                ports: backend.spec.ports.clone(),
            });
            replicas.push(Replica { pod, ip, handle });
        }
        lock(&self.running).insert(
            (meta.namespace.clone(), meta.name.clone()),
            Running {
                backend: backend.clone(),
                replicas,
            },
        );
        written.extend(
            self.endpoints
                .set_pods(&meta.namespace, &meta.name, views)
                .await?,
        );
        written.extend(self.endpoints.service_changed(&service).await?);
        written.push(service);
        Ok(written)
    }

    /// Stops a backend's replicas and removes its Pods and Service.
    pub async fn stop(&self, target: &ObjectRef) -> Result<Vec<Written>, TargetError> {
        let namespace = target.namespace.clone().unwrap_or_default();
        let Some(running) = lock(&self.running).remove(&(namespace.clone(), target.name.clone()))
        else {
            return Ok(Vec::new());
        };
        let mut written = self
            .endpoints
            .set_pods(&namespace, &target.name, Vec::new())
            .await?;
        for replica in running.replicas {
            written.extend(
                self.driver
                    .delete(&pod_ref(&namespace, &replica.pod))
                    .await?,
            );
            replica.handle.shutdown().await;
        }
        let service = ObjectRef {
            api_version: Some("v1".to_owned()),
            kind: "Service".to_owned(),
            namespace: Some(namespace),
            name: running.backend.metadata.name.clone(),
        };
        if let Some(deleted) = self.driver.delete(&service).await? {
            written.extend(self.endpoints.service_changed(&deleted).await?);
            written.push(deleted);
        }
        Ok(written)
    }

    /// The Ready endpoints of a backend (every replica is Ready while it runs).
    pub fn endpoints_of(&self, namespace: &str, backend: &str) -> Vec<Endpoint> {
        lock(&self.running)
            .get(&(namespace.to_owned(), backend.to_owned()))
            .map(|r| {
                r.replicas
                    .iter()
                    .map(|replica| Endpoint {
                        ip: replica.ip.to_string(),
                        pod: replica.pod.clone(),
                        namespace: namespace.to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What every replica of a backend answered; `None` when the backend does not run.
    pub fn seen_requests(&self, namespace: &str, backend: &str) -> Option<Vec<SeenRequest>> {
        lock(&self.running)
            .get(&(namespace.to_owned(), backend.to_owned()))
            .map(|r| {
                r.replicas
                    .iter()
                    .flat_map(|replica| replica.handle.seen_requests())
                    .collect()
            })
    }

    /// Stops every replica, without touching the API (the environment is going away).
    pub async fn stop_all(&self) {
        let all = std::mem::take(&mut *lock(&self.running));
        for running in all.into_values() {
            for replica in running.replicas {
                replica.handle.shutdown().await;
            }
        }
    }
}

fn backend_ref(backend: &EchoBackend) -> ObjectRef {
    ObjectRef {
        api_version: Some(backend.api_version.clone()),
        kind: backend.kind.clone(),
        namespace: Some(backend.metadata.namespace.clone()),
        name: backend.metadata.name.clone(),
    }
}

fn pod_object(backend: &EchoBackend, pod: &str) -> Value {
    let meta = &backend.metadata;
    let mut labels = echo_objects::pod_labels(backend);
    labels.insert(
        "pod-template-hash".to_owned(),
        Value::String(echo_objects::template_hash(&meta.namespace, &meta.name)),
    );
    let ports: Vec<Value> = backend
        .spec
        .ports
        .iter()
        .map(|p| {
            let mut port = json!({"containerPort": p.target_port, "protocol": "TCP"});
            if let Some(name) = &p.name {
                port["name"] = json!(name);
            }
            port
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "namespace": meta.namespace, "labels": labels},
        "spec": {
            "containers": [{
                "name": "echo",
                "image": "gatesim.dev/in-process-echo",
                "ports": ports,
            }],
        },
    })
}

fn pod_status(ip: Ipv4Addr) -> Value {
    let now = jiff::Timestamp::now().to_string();
    json!({
        "phase": "Running",
        "hostIP": "127.0.0.1",
        "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}],
        "startTime": now,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
    })
}
