//! The `cluster` target: any API server reachable through a kubeconfig, any implementation
//! behind a GatewayClass. Echo backends become a Deployment of the echo image plus their
//! Service; convergence is polling only (upstream's consecutive successes), since nothing
//! reports which configuration a foreign data plane runs.
//!
//! The echo container is configured as upstream's echo-basic is: `POD_NAME` and `NAMESPACE`
//! from the downward API, `HTTP_PORT` (first plaintext target port), `H2C_PORT` (a target
//! port with appProtocol `kubernetes.io/h2c`), and for TLS backends `HTTPS_PORT`,
//! `TLS_SERVER_CERT` and `TLS_SERVER_PRIVKEY` pointing into the mounted certificate Secret.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::{Value, json};

use super::TargetError;
use super::driver::{Driver, RunClass, Written};
use super::echo_objects::{self, Endpoint};
use crate::scenario::{EchoBackend, HarnessObject, Object, ObjectRef};

/// How to reach the cluster and what to deploy there.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The kubeconfig file; the usual discovery (`$KUBECONFIG`, `~/.kube/config`, in-cluster)
    /// when `None`.
    pub kubeconfig: Option<PathBuf>,
    pub gateway_class: String,
    /// The image run for echo backends.
    pub echo_image: String,
    /// How long a Deployment may take to become available.
    pub ready_timeout: Duration,
}

pub struct ClusterTarget {
    driver: Driver,
    echo_image: String,
    ready_timeout: Duration,
}

const TLS_MOUNT: &str = "/etc/gatesim-echo/tls";

impl ClusterTarget {
    /// Connects and reads the GatewayClass's controller (the class must exist).
    pub async fn connect(options: ClusterOptions) -> Result<ClusterTarget, TargetError> {
        let client = Self::client(&options).await?;
        Self::connect_client(client, options, None).await
    }

    /// Applies `class` (a GatewayClass of the run's own), then connects as [`Self::connect`].
    pub async fn connect_with_class(
        options: ClusterOptions,
        class: Value,
    ) -> Result<ClusterTarget, TargetError> {
        let client = Self::client(&options).await?;
        Self::connect_client(client, options, Some(class)).await
    }

    async fn client(options: &ClusterOptions) -> Result<kube::Client, TargetError> {
        let config = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    TargetError::Invalid(format!("reading kubeconfig {}: {e}", path.display()))
                })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .map_err(|e| {
                        TargetError::Invalid(format!("kubeconfig {}: {e}", path.display()))
                    })?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| TargetError::Invalid(format!("finding a kubeconfig: {e}")))?,
        };
        kube::Client::try_from(config).map_err(|source| TargetError::Client {
            source: Box::new(source),
        })
    }

    async fn connect_client(
        client: kube::Client,
        options: ClusterOptions,
        class: Option<Value>,
    ) -> Result<ClusterTarget, TargetError> {
        // The driver writes GatewayClasses with its class's controller, so the probe takes
        // the controller of the class it is to apply.
        let probe = Driver::connect(
            client.clone(),
            "gatesim-harness",
            RunClass {
                gateway_class: options.gateway_class.clone(),
                controller_name: class
                    .as_ref()
                    .and_then(|c| c.pointer("/spec/controllerName"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
        )
        .await?;
        if let Some(class) = class {
            probe.apply(&class).await?;
        }
        let class = probe
            .get(&ObjectRef {
                api_version: Some("gateway.networking.k8s.io/v1".to_owned()),
                kind: "GatewayClass".to_owned(),
                namespace: None,
                name: options.gateway_class.clone(),
            })
            .await?
            .ok_or_else(|| {
                TargetError::Invalid(format!(
                    "GatewayClass {} does not exist in the cluster",
                    options.gateway_class
                ))
            })?;
        let controller_name = class
            .pointer("/spec/controllerName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let driver = Driver::connect(
            client,
            "gatesim-harness",
            RunClass {
                gateway_class: options.gateway_class,
                controller_name,
            },
        )
        .await?;
        Ok(ClusterTarget {
            driver,
            echo_image: options.echo_image,
            ready_timeout: options.ready_timeout,
        })
    }

    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    pub fn header(&self) -> Vec<(String, String)> {
        vec![
            (
                "controller".to_owned(),
                self.driver.class().controller_name.clone(),
            ),
            ("echo image".to_owned(), self.echo_image.clone()),
        ]
    }

    pub async fn materialize_backend(
        &self,
        backend: &EchoBackend,
    ) -> Result<Vec<Written>, TargetError> {
        let service = self.driver.apply(&echo_objects::service(backend)).await?;
        let deployment = self
            .driver
            .apply(&deployment(backend, &self.echo_image))
            .await?;
        self.await_deployment(&backend.metadata.namespace, &backend.metadata.name)
            .await?;
        Ok(vec![service, deployment])
    }

    pub async fn remove_backend(&self, target: &ObjectRef) -> Result<Vec<Written>, TargetError> {
        let mut written = Vec::new();
        for (api_version, kind) in [("apps/v1", "Deployment"), ("v1", "Service")] {
            let r = ObjectRef {
                api_version: Some(api_version.to_owned()),
                kind: kind.to_owned(),
                namespace: target.namespace.clone(),
                name: target.name.clone(),
            };
            written.extend(self.driver.delete(&r).await?);
        }
        Ok(written)
    }

    async fn await_deployment(&self, namespace: &str, name: &str) -> Result<(), TargetError> {
        let target = ObjectRef {
            api_version: Some("apps/v1".to_owned()),
            kind: "Deployment".to_owned(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
        };
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            if let Some(d) = self.driver.get(&target).await? {
                let want = d
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let ready = d
                    .pointer("/status/readyReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if ready >= want {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(TargetError::Timeout {
                    what: format!("Deployment {namespace}/{name} to be ready"),
                    after: self.ready_timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every EchoBackend's Deployment is ready.
    pub async fn await_ready(&self, objects: &[Object]) -> Result<(), TargetError> {
        for object in objects {
            if let Some(HarnessObject::EchoBackend(b)) = object.harness() {
                self.await_deployment(&b.metadata.namespace, &b.metadata.name)
                    .await?;
            }
        }
        Ok(())
    }

    async fn ready_pods(&self, namespace: &str, backend: &str) -> Result<Vec<Value>, TargetError> {
        let pods = self
            .driver
            .list(
                "v1",
                "Pod",
                Some(namespace),
                Some(&format!("{}={backend}", echo_objects::APP_LABEL)),
            )
            .await?;
        Ok(pods
            .into_iter()
            .filter(|p| {
                p.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            c.get("type").and_then(Value::as_str) == Some("Ready")
                                && c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    })
            })
            .collect())
    }

    /// The addresses of a backend's Ready pods.
    pub async fn backend_endpoints(
        &self,
        namespace: &str,
        backend: &str,
    ) -> Result<Vec<Endpoint>, TargetError> {
        let mut endpoints = Vec::new();
        for pod in self.ready_pods(namespace, backend).await? {
            let name = pod
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let ips = pod
                .pointer("/status/podIPs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for ip in ips
                .iter()
                .filter_map(|i| i.get("ip").and_then(Value::as_str))
            {
                endpoints.push(Endpoint {
                    ip: ip.to_owned(),
                    pod: name.clone(),
                    namespace: namespace.to_owned(),
                });
            }
        }
        Ok(endpoints)
    }

    /// Upstream checks mirrored traffic in echo-basic's log ("Echoing back request made to
    /// <path> to client"); so does this.
    pub async fn saw_request(
        &self,
        namespace: &str,
        backend: &str,
        path: &str,
        since: Instant,
    ) -> Result<bool, TargetError> {
        let pods: Api<Pod> = Api::namespaced(self.driver.client().clone(), namespace);
        let seconds = i64::try_from(since.elapsed().as_secs() + 1).unwrap_or(i64::MAX);
        let needle = format!("Echoing back request made to {path} to client");
        for pod in self.ready_pods(namespace, backend).await? {
            let name = pod
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let params = LogParams {
                since_seconds: Some(seconds),
                ..LogParams::default()
            };
            let logs = pods
                .logs(name, &params)
                .await
                .map_err(|source| TargetError::Api {
                    action: "read logs of",
                    object: format!("Pod {namespace}/{name}"),
                    source: Box::new(source),
                })?;
            if logs.contains(&needle) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn deployment(backend: &EchoBackend, image: &str) -> Value {
    let meta = &backend.metadata;
    let (plain, secure) = echo_objects::listen_ports(backend);
    let mut env = vec![
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        json!({"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
    ];
    if let Some(port) = plain.first() {
        env.push(json!({"name": "HTTP_PORT", "value": port.to_string()}));
    }
    if let Some(h2c) = backend
        .spec
        .ports
        .iter()
        .find(|p| p.app_protocol.as_deref() == Some("kubernetes.io/h2c"))
    {
        env.push(json!({"name": "H2C_PORT", "value": h2c.target_port.to_string()}));
    }
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if let (Some(tls), Some(port)) = (&backend.spec.tls, secure.first()) {
        env.push(json!({"name": "HTTPS_PORT", "value": port.to_string()}));
        env.push(json!({"name": "TLS_SERVER_CERT", "value": format!("{TLS_MOUNT}/tls.crt")}));
        env.push(json!({"name": "TLS_SERVER_PRIVKEY", "value": format!("{TLS_MOUNT}/tls.key")}));
        volumes.push(json!({"name": "tls", "secret": {"secretName": tls.certificate}}));
        mounts.push(json!({"name": "tls", "mountPath": TLS_MOUNT, "readOnly": true}));
    }
    match backend.spec.mode {
        crate::scenario::EchoMode::Grpc => {
            env.push(json!({"name": "GRPC_ECHO_SERVER", "value": "1"}))
        }
        crate::scenario::EchoMode::Tcp => {
            env.push(json!({"name": "TCP_ECHO_SERVER", "value": "1"}))
        }
        crate::scenario::EchoMode::Http => {}
    }
    let labels = echo_objects::pod_labels(backend);
    let ports: Vec<Value> = plain
        .iter()
        .chain(&secure)
        .map(|p| json!({"containerPort": p}))
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta.name, "namespace": meta.namespace, "labels": labels},
        "spec": {
            "replicas": backend.spec.replicas,
            "selector": {"matchLabels": {echo_objects::APP_LABEL: meta.name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "echo",
                        "image": image,
                        "env": env,
                        "ports": ports,
                        "volumeMounts": mounts,
                        "readinessProbe": {"tcpSocket": {"port": plain.first().or(secure.first()).copied().unwrap_or(3000)}},
                    }],
                    "volumes": volumes,
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{EchoBackendSpec, EchoMode, EchoPort, EchoTls, HarnessMetadata};

    #[test]
    fn echo_deployments_configure_the_image_as_echo_basic() {
        let backend = EchoBackend {
            api_version: "gatesim.dev/v1alpha1".into(),
            kind: "EchoBackend".into(),
            metadata: HarnessMetadata {
                name: "tcp-backend".into(),
                namespace: "infra".into(),
                labels: Default::default(),
                annotations: Default::default(),
            },
            spec: EchoBackendSpec {
                replicas: 2,
                mode: EchoMode::Http,
                ports: vec![
                    EchoPort {
                        name: None,
                        port: 3000,
                        target_port: 3000,
                        app_protocol: None,
                    },
                    EchoPort {
                        name: None,
                        port: 3001,
                        target_port: 3001,
                        app_protocol: Some("kubernetes.io/h2c".into()),
                    },
                    EchoPort {
                        name: None,
                        port: 8443,
                        target_port: 8443,
                        app_protocol: None,
                    },
                ],
                tls: Some(EchoTls {
                    certificate: "cert".into(),
                    target_ports: Some(vec![8443]),
                }),
            },
        };
        let d = deployment(&backend, "example/echo:1");
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "tcp-backend");
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "example/echo:1");
        let env: std::collections::BTreeMap<String, Value> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
            .collect();
        assert_eq!(env["HTTP_PORT"]["value"], "3000");
        assert_eq!(env["H2C_PORT"]["value"], "3001");
        assert_eq!(env["HTTPS_PORT"]["value"], "8443");
        assert_eq!(
            env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name"
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
            "cert"
        );
    }
}
