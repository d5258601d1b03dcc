//! What a cluster's endpoints controller does, for the sim target's pods: every Service with a
//! selector gets an EndpointSlice holding the Ready pods it selects, kept up to date as
//! Services and echo pods come and go. Scenarios can thus put their own Services (headless,
//! other ports) in front of echo pods.
//!
//! It is driven by the harness's own writes rather than by watches, so a slice is written
//! before the write that caused it returns and its version joins the ACK barrier.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::super::TargetError;
use super::super::driver::{Driver, Written};
use super::super::echo_objects::{Endpoint, managed_slice, managed_slice_name};
use crate::scenario::{EchoPort, ObjectRef};

/// An echo pod as the endpoints controller needs to know it.
#[derive(Clone, Debug)]
pub struct PodView {
    pub name: String,
    pub namespace: String,
    pub ip: String,
    pub labels: BTreeMap<String, String>,
    /// For Services whose `targetPort` names a port.
    pub ports: Vec<EchoPort>,
}

#[derive(Clone, Debug, PartialEq)]
struct ServiceView {
    selector: BTreeMap<String, String>,
    ports: Vec<Value>,
}

#[derive(Default)]
struct Inner {
    /// Pods by namespace and backend.
    pods: BTreeMap<(String, String), Vec<PodView>>,
    /// Services with a selector, by namespace and name.
    services: BTreeMap<(String, String), ServiceView>,
    /// The slice last written for each Service, to skip writes that change nothing.
    written: BTreeMap<(String, String), Value>,
}

pub struct EndpointsController {
    driver: Arc<Driver>,
    inner: Mutex<Inner>,
}

fn slice_ref(namespace: &str, service: &str) -> ObjectRef {
    ObjectRef {
        api_version: Some("discovery.k8s.io/v1".to_owned()),
        kind: "EndpointSlice".to_owned(),
        namespace: Some(namespace.to_owned()),
        name: managed_slice_name(namespace, service),
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl EndpointsController {
    pub fn new(driver: Arc<Driver>) -> EndpointsController {
        EndpointsController {
            driver,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// After any write of a Service: (re)register it and write its slice, or drop its slice
    /// when it was deleted or lost its selector.
    pub async fn service_changed(&self, written: &Written) -> Result<Vec<Written>, TargetError> {
        if written.kind != "Service" || !written.group.is_empty() {
            return Ok(Vec::new());
        }
        let namespace = written.namespace.clone().unwrap_or_default();
        let key = (namespace.clone(), written.name.clone());
        let current = if written.deleted {
            None
        } else {
            self.driver
                .get(&ObjectRef {
                    api_version: Some("v1".to_owned()),
                    kind: "Service".to_owned(),
                    namespace: Some(namespace.clone()),
                    name: written.name.clone(),
                })
                .await?
        };
        let view = current.and_then(|svc| {
            let selector = string_map(svc.pointer("/spec/selector"));
            (!selector.is_empty()).then(|| ServiceView {
                selector,
                ports: svc
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            })
        });
        let mut inner = self.inner.lock().await;
        match view {
            Some(view) => {
                inner.services.insert(key.clone(), view);
                Ok(self
                    .reconcile(&mut inner, &key)
                    .await?
                    .into_iter()
                    .collect())
            }
            None => {
                let was_managed = inner.services.remove(&key).is_some();
                inner.written.remove(&key);
                if !was_managed {
                    return Ok(Vec::new());
                }
                Ok(self
                    .driver
                    .delete(&slice_ref(&key.0, &key.1))
                    .await?
                    .into_iter()
                    .collect())
            }
        }
    }

    /// Replaces the pods of one backend and updates every Service of their namespace.
    pub async fn set_pods(
        &self,
        namespace: &str,
        backend: &str,
        pods: Vec<PodView>,
    ) -> Result<Vec<Written>, TargetError> {
        let mut inner = self.inner.lock().await;
        let key = (namespace.to_owned(), backend.to_owned());
        if pods.is_empty() {
            inner.pods.remove(&key);
        } else {
            inner.pods.insert(key, pods);
        }
        let services: Vec<(String, String)> = inner
            .services
            .keys()
            .filter(|(ns, _)| ns == namespace)
            .cloned()
            .collect();
        let mut written = Vec::new();
        for service in services {
            written.extend(self.reconcile(&mut inner, &service).await?);
        }
        Ok(written)
    }

    async fn reconcile(
        &self,
        inner: &mut Inner,
        key: &(String, String),
    ) -> Result<Option<Written>, TargetError> {
        let Some(view) = inner.services.get(key) else {
            return Ok(None);
        };
        let selected: Vec<&PodView> = inner
            .pods
            .iter()
            .filter(|((ns, _), _)| *ns == key.0)
            .flat_map(|(_, pods)| pods)
            .filter(|pod| {
                view.selector
                    .iter()
                    .all(|(k, v)| pod.labels.get(k) == Some(v))
            })
            .collect();
        let ports: Vec<Value> = view
            .ports
            .iter()
            .filter_map(|port| slice_port(port, &selected))
            .collect();
        let endpoints: Vec<Endpoint> = selected
            .iter()
            .map(|pod| Endpoint {
                ip: pod.ip.clone(),
                pod: pod.name.clone(),
                namespace: pod.namespace.clone(),
            })
            .collect();
        let slice = managed_slice(&key.0, &key.1, &ports, &endpoints);
        if inner.written.get(key) == Some(&slice) {
            return Ok(None);
        }
        let written = self.driver.apply(&slice).await?;
        inner.written.insert(key.clone(), slice);
        Ok(Some(written))
    }
}

/// A Service port as an EndpointSlice port: the pods' port, found from `targetPort` (a
/// number, or the name of a pod port), defaulting to the Service port.
fn slice_port(port: &Value, pods: &[&PodView]) -> Option<Value> {
    let service_port = port.get("port").and_then(Value::as_u64)?;
    let target = match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_u64()?,
        Some(Value::String(name)) => match name.parse::<u64>() {
            Ok(n) => n,
            Err(_) => pods
                .iter()
                .flat_map(|p| &p.ports)
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| u64::from(p.target_port))?,
        },
        _ => service_port,
    };
    let mut out = json!({
        "name": port.get("name").and_then(Value::as_str).unwrap_or_default(),
        "port": target,
        "protocol": port.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
    });
    if let Some(app) = port.get("appProtocol") {
        out["appProtocol"] = app.clone();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> PodView {
        PodView {
            name: name.into(),
            namespace: "ns".into(),
            ip: "127.0.20.1".into(),
            labels: [("app".to_owned(), "b".to_owned())].into(),
            ports: vec![EchoPort {
                name: Some("web".into()),
                port: 8080,
                target_port: 3000,
                app_protocol: None,
            }],
        }
    }

    #[test]
    fn target_ports_resolve_like_kubernetes() {
        let p = pod("b-x-y");
        let pods = vec![&p];
        let numeric = slice_port(&json!({"name": "a", "port": 80, "targetPort": 3000}), &pods);
        assert_eq!(numeric.unwrap()["port"], 3000);
        let named = slice_port(&json!({"port": 80, "targetPort": "web"}), &pods);
        assert_eq!(named.unwrap()["port"], 3000);
        let defaulted = slice_port(&json!({"port": 8080}), &pods).unwrap();
        assert_eq!(defaulted["port"], 8080);
        assert_eq!(defaulted["name"], "");
        assert!(slice_port(&json!({"port": 80, "targetPort": "nope"}), &pods).is_none());
    }
}
