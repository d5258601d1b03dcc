//! The Kubernetes objects of one Gateway's proxy, as a pure function of the Gateway, its
//! GatewayParameters (merged) and the controller's settings: a Deployment of Envoy, the
//! Service in front of it, its ServiceAccount and the ConfigMap holding its bootstrap. Every
//! object is named after the Gateway, lives in its namespace and is owned by it, so deleting
//! the Gateway lets the garbage collector take them even when the controller is not running.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use serde_json::{Value, json};

use crate::api::Gateway;
use crate::api::k8sgateway::gateway_parameters::{GatewayParametersSpec, Image, ServiceType};
use crate::infra::bootstrap::{self, BootstrapParams, XdsProtocol};
use crate::model::ObjectKey;

/// Where the bootstrap is mounted, and the file in the ConfigMap that holds it.
const CONFIG_DIR: &str = "/etc/envoy";
const BOOTSTRAP_FILE: &str = "envoy.yaml";
/// Envoy's admin endpoint, on the pod's loopback only.
pub const ADMIN_PORT: u16 = 19000;
/// The static listener that answers readiness probes (see `bootstrap::READINESS`).
pub const READINESS_PORT: u16 = 8082;
/// The user every container runs as unless the GatewayParameters say otherwise: the one the
/// images of `ci/images` declare.
const PROXY_USER: i64 = 65532;

/// Labels on every object, selecting a Gateway's pods. The first is upstream's label for
/// resources generated for a Gateway.
pub const GATEWAY_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const PROXY_NAME: &str = "gatesim-proxy";
pub const MANAGED_BY: &str = "gatesim";
/// Pod annotation carrying a hash of the bootstrap, so a changed bootstrap rolls the pods.
pub const BOOTSTRAP_HASH_ANNOTATION: &str = "gatesim.dev/bootstrap-hash";

/// The controller's settings that shape every proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// The controller's xDS Service (`name.namespace`), reached by its cluster DNS name.
    pub xds_service: ObjectKey,
    pub xds_port: u16,
    pub delta: bool,
    /// Envoy's image unless the GatewayParameters name another.
    pub image: String,
    /// Envoy's log level unless the GatewayParameters set one.
    pub log_level: String,
    /// Added to each listener port for the port Envoy binds in its pod (a non-root Envoy may
    /// not bind ports below 1024); the Service maps the listener port to it.
    pub port_offset: u16,
}

impl Default for RenderOptions {
    /// The defaults of `gatesim-controller run --infra kubernetes`.
    fn default() -> Self {
        Self {
            xds_service: ObjectKey::new("gatesim-system", "gatesim-xds"),
            xds_port: 18000,
            delta: false,
            image: crate::infra::docker::DEFAULT_IMAGE.to_string(),
            log_level: "warning".to_string(),
            port_offset: crate::infra::ports::PRIVILEGED_PORT_OFFSET,
        }
    }
}

/// Everything one Gateway's proxy is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyObjects {
    pub service_account: ServiceAccount,
    pub config_map: ConfigMap,
    pub deployment: Deployment,
    pub service: Service,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("Gateway {0} has no uid yet (owner references need one)")]
    NoUid(ObjectKey),
    #[error("rendering the bootstrap of {gateway}: {source}")]
    Bootstrap {
        gateway: ObjectKey,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("building the {kind} of {gateway}: {source}")]
    Object {
        kind: &'static str,
        gateway: ObjectKey,
        #[source]
        source: serde_json::Error,
    },
}

/// The proxy of `gateway`: `None` when its parameters say the user runs it (`selfManaged`).
pub fn render(
    gateway: &Gateway,
    parameters: Option<&GatewayParametersSpec>,
    opts: &RenderOptions,
) -> Result<Option<ProxyObjects>, RenderError> {
    if parameters.is_some_and(|p| p.self_managed.is_some()) {
        return Ok(None);
    }
    let key = ObjectKey::of(gateway);
    let uid = gateway
        .metadata
        .uid
        .clone()
        .ok_or_else(|| RenderError::NoUid(key.clone()))?;
    let kube = parameters.and_then(|p| p.kube.clone()).unwrap_or_default();
    let owner = json!([{
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "name": key.name,
        "uid": uid,
        "controller": true,
    }]);
    let selector = selector_labels(&key);
    let meta = |labels: &BTreeMap<String, String>,
                annotations: Option<&BTreeMap<String, String>>| {
        let mut m = json!({
            "name": key.name,
            "namespace": key.namespace,
            "labels": labels,
            "ownerReferences": owner,
        });
        if let Some(a) = annotations.filter(|a| !a.is_empty()) {
            m["annotations"] = json!(a);
        }
        m
    };

    // ServiceAccount: Envoy talks to no API, so no token is mounted.
    let sa = kube.service_account.clone().unwrap_or_default();
    let sa_labels = with_extra(&selector, sa.extra_labels.as_ref());
    let service_account = decode(
        "ServiceAccount",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(&sa_labels, sa.extra_annotations.as_ref()),
            "automountServiceAccountToken": false,
        }),
    )?;

    // The bootstrap.
    let envoy = kube.envoy_container.clone().unwrap_or_default();
    let levels = envoy.bootstrap.clone().unwrap_or_default();
    let mut params = BootstrapParams::for_gateway(
        &key,
        std::net::SocketAddr::from(([0, 0, 0, 0], opts.xds_port)),
    );
    params.xds_host = Some((
        format!(
            "{}.{}.svc.cluster.local",
            opts.xds_service.name, opts.xds_service.namespace
        ),
        opts.xds_port,
    ));
    params.protocol = XdsProtocol::from_delta(opts.delta);
    params.admin_port = ADMIN_PORT;
    params.readiness_port = Some(READINESS_PORT);
    let bootstrap_yaml = bootstrap::render(&params).map_err(|source| RenderError::Bootstrap {
        gateway: key.clone(),
        source,
    })?;
    let config_map = decode(
        "ConfigMap",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(&selector, None),
            "data": { BOOTSTRAP_FILE: bootstrap_yaml },
        }),
    )?;

    // The Deployment.
    let pod = kube.pod_template.clone().unwrap_or_default();
    let pod_labels = with_extra(&selector, pod.extra_labels.as_ref());
    let mut pod_annotations = pod.extra_annotations.clone().unwrap_or_default();
    pod_annotations.insert(
        BOOTSTRAP_HASH_ANNOTATION.to_string(),
        format!("{:016x}", fnv1a(bootstrap_yaml.as_bytes())),
    );
    let ports = listener_ports(gateway);
    let mut args = vec![
        "-c".to_string(),
        format!("{CONFIG_DIR}/{BOOTSTRAP_FILE}"),
        "--log-level".to_string(),
        levels
            .log_level
            .clone()
            .unwrap_or_else(|| opts.log_level.clone()),
        "--disable-hot-restart".to_string(),
    ];
    if let Some(components) = levels
        .component_log_levels
        .as_ref()
        .filter(|c| !c.is_empty())
    {
        let pairs: Vec<String> = components.iter().map(|(c, l)| format!("{c}:{l}")).collect();
        args.extend(["--component-log-level".to_string(), pairs.join(",")]);
    }
    let container_ports: Vec<Value> = ports
        .iter()
        .map(|p| json!({ "containerPort": u32::from(*p) + u32::from(opts.port_offset), "protocol": "TCP" }))
        .chain([json!({ "name": "readiness", "containerPort": READINESS_PORT, "protocol": "TCP" })])
        .collect();
    let mut container = json!({
        "name": "envoy",
        "image": image(envoy.image.as_ref(), &opts.image),
        "args": args,
        "ports": container_ports,
        "readinessProbe": pod.readiness_probe.as_ref().map_or_else(
            || json!({
                "httpGet": { "path": "/ready", "port": READINESS_PORT },
                "periodSeconds": 2,
                "failureThreshold": 2,
            }),
            |p| json!(p),
        ),
        "securityContext": envoy.security_context.as_ref().map_or_else(
            || json!({
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "runAsUser": PROXY_USER,
                "runAsGroup": PROXY_USER,
                "capabilities": { "drop": ["ALL"] },
            }),
            |s| json!(s),
        ),
        "volumeMounts": [{ "name": "bootstrap", "mountPath": CONFIG_DIR, "readOnly": true }],
    });
    if let Some(policy) = envoy.image.as_ref().and_then(|i| i.pull_policy) {
        container["imagePullPolicy"] = json!(policy);
    }
    if let Some(r) = &envoy.resources {
        container["resources"] = json!(r);
    }
    if let Some(p) = &pod.liveness_probe {
        container["livenessProbe"] = json!(p);
    }
    let mut pod_spec = json!({
        "serviceAccountName": key.name,
        "automountServiceAccountToken": false,
        "securityContext": pod.security_context.as_ref().map_or_else(
            || json!({
                "runAsNonRoot": true,
                "runAsUser": PROXY_USER,
                "runAsGroup": PROXY_USER,
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
            |s| json!(s),
        ),
        "containers": [container],
        "volumes": [{ "name": "bootstrap", "configMap": { "name": key.name } }],
    });
    let passthrough = [
        (
            "imagePullSecrets",
            pod.image_pull_secrets.as_ref().map(|v| json!(v)),
        ),
        ("nodeSelector", pod.node_selector.as_ref().map(|v| json!(v))),
        ("affinity", pod.affinity.as_ref().map(|v| json!(v))),
        ("tolerations", pod.tolerations.as_ref().map(|v| json!(v))),
        (
            "terminationGracePeriodSeconds",
            pod.termination_grace_period_seconds.map(|v| json!(v)),
        ),
        (
            "topologySpreadConstraints",
            pod.topology_spread_constraints.as_ref().map(|v| json!(v)),
        ),
    ];
    for (field, value) in passthrough {
        if let Some(v) = value {
            pod_spec[field] = v;
        }
    }
    let replicas = kube
        .deployment
        .as_ref()
        .and_then(|d| d.replicas)
        .unwrap_or(1);
    let deployment = decode(
        "Deployment",
        &key,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(&selector, None),
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": { "labels": pod_labels, "annotations": pod_annotations },
                    "spec": pod_spec,
                },
            },
        }),
    )?;

    // The Service.
    let svc = kube.service.clone().unwrap_or_default();
    let node_ports: BTreeMap<u16, u16> = svc
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.node_port.map(|n| (p.port, n)))
        .collect();
    let service_ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let mut port = json!({
                "name": format!("listener-{p}"),
                "port": p,
                "targetPort": u32::from(*p) + u32::from(opts.port_offset),
                "protocol": "TCP",
            });
            if let Some(n) = node_ports.get(p) {
                port["nodePort"] = json!(n);
            }
            port
        })
        .collect();
    let service_type = svc.type_.unwrap_or(ServiceType::LoadBalancer);
    let mut service_spec = json!({
        "type": service_type,
        "selector": selector,
        "ports": service_ports,
    });
    if let Some(ip) = &svc.cluster_ip {
        service_spec["clusterIP"] = json!(ip);
    }
    if let Some(policy) = svc.external_traffic_policy {
        service_spec["externalTrafficPolicy"] = json!(policy);
    }
    let service_labels = with_extra(&selector, svc.extra_labels.as_ref());
    let service = decode(
        "Service",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(&service_labels, svc.extra_annotations.as_ref()),
            "spec": service_spec,
        }),
    )?;

    Ok(Some(ProxyObjects {
        service_account,
        config_map,
        deployment,
        service,
    }))
}

/// The labels that tie a Gateway's objects together and select its pods.
pub fn selector_labels(gateway: &ObjectKey) -> BTreeMap<String, String> {
    BTreeMap::from([
        (GATEWAY_LABEL.to_string(), gateway.name.clone()),
        (NAME_LABEL.to_string(), PROXY_NAME.to_string()),
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
    ])
}

/// `base` with the user's labels added; the selector's own labels are never overridden, or
/// the Deployment would lose its pods.
fn with_extra(
    base: &BTreeMap<String, String>,
    extra: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = extra.cloned().unwrap_or_default();
    labels.extend(base.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}

/// The Gateway's listener ports, each once, ascending.
fn listener_ports(gateway: &Gateway) -> Vec<u16> {
    let mut ports: Vec<u16> = gateway
        .spec
        .listeners
        .iter()
        .filter_map(|l| u16::try_from(l.port).ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The image reference: the parts the GatewayParameters set, the default's for the rest. A
/// digest wins over a tag.
fn image(over: Option<&Image>, default: &str) -> String {
    let (default_repo, default_tag) = split_image(default);
    let Some(over) = over else {
        return default.to_string();
    };
    let repository = over.repository.clone().unwrap_or(default_repo);
    let repository = match over.registry.as_deref().filter(|r| !r.is_empty()) {
        Some(registry) => format!("{registry}/{repository}"),
        None => repository,
    };
    match (&over.digest, &over.tag, default_tag) {
        (Some(d), _, _) => format!("{repository}@{d}"),
        (None, Some(t), _) => format!("{repository}:{t}"),
        (None, None, Some(t)) => format!("{repository}:{t}"),
        (None, None, None) => repository,
    }
}

/// `repo:tag` → (`repo`, `tag`); a ':' before the last '/' is a registry's port.
fn split_image(image: &str) -> (String, Option<String>) {
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (
            image[..name_start + i].to_string(),
            Some(image[name_start + i + 1..].to_string()),
        ),
        None => (image.to_string(), None),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    gateway: &ObjectKey,
    value: Value,
) -> Result<T, RenderError> {
    serde_json::from_value(value).map_err(|source| RenderError::Object {
        kind,
        gateway: gateway.clone(),
        source,
    })
}

/// A stable hash (FNV-1a, 64 bits): the same bootstrap gives the same annotation in every
/// controller process, so an unchanged proxy is never rolled.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_parts_override_the_default() {
        let d = "gatesim/envoy:1.40.0";
        assert_eq!(image(None, d), d);
        let only_tag = Image {
            tag: Some("dev".into()),
            ..Default::default()
        };
        assert_eq!(image(Some(&only_tag), d), "gatesim/envoy:dev");
        let elsewhere = Image {
            registry: Some("registry.local:5000".into()),
            repository: Some("proxies/envoy".into()),
            digest: Some("sha256:abc".into()),
            tag: Some("ignored".into()),
            ..Default::default()
        };
        assert_eq!(
            image(Some(&elsewhere), d),
            "registry.local:5000/proxies/envoy@sha256:abc"
        );
        assert_eq!(
            split_image("host:5000/envoy"),
            ("host:5000/envoy".to_string(), None)
        );
    }

    #[test]
    fn the_hash_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
