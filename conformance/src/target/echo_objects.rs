//! The API objects behind an EchoBackend that every target publishes alike: the Service in
//! front of its pods, the pods' names and labels, and EndpointSlices as an endpoints
//! controller would write them.

use serde_json::{Value, json};

use crate::scenario::{EchoBackend, EchoPort};

/// The label every echo pod carries, with the backend's name, and that its Service selects.
pub const APP_LABEL: &str = "app";

/// Who manages the EndpointSlices the harness writes.
pub const SLICE_MANAGER: &str = "gatesim.dev/harness";

/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn suffix(mut value: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(
            ALPHABET[(value % ALPHABET.len() as u64) as usize],
        ));
        value /= ALPHABET.len() as u64;
    }
    out
}

/// A ReplicaSet-like hash of the backend, stable for its namespace and name.
pub fn template_hash(namespace: &str, name: &str) -> String {
    suffix(fnv1a(&[namespace, name]), 10)
}

/// `<backend>-<hash>-<suffix>`: upstream maps a pod to its backend by dropping the last two
/// segments, and expectations match pods by the backend-name prefix.
pub fn pod_name(backend: &EchoBackend, replica: u32, serial: u64) -> String {
    let meta = &backend.metadata;
    let tail = suffix(
        fnv1a(&[
            &meta.namespace,
            &meta.name,
            &replica.to_string(),
            &serial.to_string(),
        ]),
        5,
    );
    format!(
        "{}-{}-{tail}",
        meta.name,
        template_hash(&meta.namespace, &meta.name)
    )
}

/// The pod labels: `app: <backend>` plus the backend's own labels.
pub fn pod_labels(backend: &EchoBackend) -> serde_json::Map<String, Value> {
    let mut labels: serde_json::Map<String, Value> = backend
        .metadata
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    labels.insert(
        APP_LABEL.to_owned(),
        Value::String(backend.metadata.name.clone()),
    );
    labels
}

fn service_port(port: &EchoPort) -> Value {
    let mut p = json!({"port": port.port, "targetPort": port.target_port, "protocol": "TCP"});
    if let Some(name) = &port.name {
        p["name"] = json!(name);
    }
    if let Some(app) = &port.app_protocol {
        p["appProtocol"] = json!(app);
    }
    p
}

/// The Service selecting the backend's pods.
pub fn service(backend: &EchoBackend) -> Value {
    let meta = &backend.metadata;
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": meta.labels,
            "annotations": meta.annotations,
        },
        "spec": {
            "selector": {APP_LABEL: meta.name},
            "ports": backend.spec.ports.iter().map(service_port).collect::<Vec<_>>(),
        },
    })
}

/// The target ports a backend serves with TLS.
pub fn tls_target_ports(backend: &EchoBackend) -> Vec<u16> {
    match &backend.spec.tls {
        None => Vec::new(),
        Some(tls) => match &tls.target_ports {
            Some(ports) => ports.clone(),
            None => backend.spec.ports.iter().map(|p| p.target_port).collect(),
        },
    }
}

/// Distinct target ports, split into plaintext and TLS, in the order first listed.
pub fn listen_ports(backend: &EchoBackend) -> (Vec<u16>, Vec<u16>) {
    let tls = tls_target_ports(backend);
    let mut plain = Vec::new();
    let mut secure = Vec::new();
    for port in backend.spec.ports.iter().map(|p| p.target_port) {
        let list = if tls.contains(&port) {
            &mut secure
        } else {
            &mut plain
        };
        if !list.contains(&port) {
            list.push(port);
        }
    }
    (plain, secure)
}

/// One ready endpoint of a slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: String,
    pub pod: String,
    pub namespace: String,
}

impl Endpoint {
    pub fn is_ipv6(&self) -> bool {
        self.ip.contains(':')
    }

    pub fn to_json(&self) -> Value {
        json!({
            "addresses": [self.ip],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "targetRef": {"kind": "Pod", "name": self.pod, "namespace": self.namespace},
        })
    }
}

/// The EndpointSlice an endpoints controller keeps for a Service with a selector.
pub fn managed_slice(
    namespace: &str,
    service: &str,
    ports: &[Value],
    endpoints: &[Endpoint],
) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": managed_slice_name(namespace, service),
            "namespace": namespace,
            "labels": {
                "kubernetes.io/service-name": service,
                "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
            },
        },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints
            .iter()
            .filter(|e| !e.is_ipv6())
            .map(Endpoint::to_json)
            .collect::<Vec<_>>(),
    })
}

pub fn managed_slice_name(namespace: &str, service: &str) -> String {
    format!("{service}-{}", suffix(fnv1a(&[namespace, service]), 5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::backend_of_pod;
    use crate::scenario::{EchoBackendSpec, EchoMode, HarnessMetadata};

    fn backend(name: &str) -> EchoBackend {
        EchoBackend {
            api_version: "gatesim.dev/v1alpha1".into(),
            kind: "EchoBackend".into(),
            metadata: HarnessMetadata {
                name: name.into(),
                namespace: "ns".into(),
                labels: Default::default(),
                annotations: Default::default(),
            },
            spec: EchoBackendSpec {
                replicas: 2,
                mode: EchoMode::Http,
                ports: vec![
                    EchoPort {
                        name: Some("a".into()),
                        port: 8080,
                        target_port: 3000,
                        app_protocol: None,
                    },
                    EchoPort {
                        name: Some("b".into()),
                        port: 8082,
                        target_port: 3000,
                        app_protocol: Some("kubernetes.io/ws".into()),
                    },
                ],
                tls: None,
            },
        }
    }

    #[test]
    fn pod_names_map_back_to_their_backend() {
        let b = backend("infra-backend-v1");
        let first = pod_name(&b, 0, 1);
        let second = pod_name(&b, 1, 2);
        assert_ne!(first, second);
        assert_eq!(backend_of_pod(&first), "infra-backend-v1");
        assert!(first.starts_with("infra-backend-v1-"));
    }

    #[test]
    fn ports_are_listened_on_once() {
        let b = backend("x");
        assert_eq!(listen_ports(&b), (vec![3000], vec![]));
        let svc = service(&b);
        assert_eq!(svc["spec"]["selector"]["app"], "x");
        assert_eq!(svc["spec"]["ports"][1]["appProtocol"], "kubernetes.io/ws");
    }
}
