//! The Kubernetes objects of one Gateway's proxy, as a pure function of the Gateway, its
//! GatewayParameters (merged) and the controller's settings: a Deployment of Envoy, the
//! Service in front of it, its ServiceAccount and the ConfigMap holding its bootstrap. Every
//! object is named after the Gateway, lives in its namespace and is owned by it, so deleting
//! the Gateway lets the garbage collector take them even when the controller is not running.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use serde_json::{Value, json};

use super::{sidecars, stats};
use crate::api::Gateway;
use crate::api::k8sgateway::gateway_parameters::{GatewayParametersSpec, Image, ServiceType};
use crate::infra::bootstrap::{self, BootstrapParams, XdsProtocol};
use crate::model::ObjectKey;
use crate::translate::parameters;

/// Where the bootstrap is mounted, the volume that holds it and its file in the ConfigMap.
pub(super) const CONFIG_DIR: &str = "/etc/envoy";
pub(super) const CONFIG_VOLUME: &str = "bootstrap";
const BOOTSTRAP_FILE: &str = "envoy.yaml";
/// Kubernetes' own termination grace period: what Envoy is left to exit in after the sleep
/// when the parameters set no grace period of their own.
pub const DEFAULT_GRACE_SECONDS: i64 = 30;
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
/// Pod annotation carrying a hash of the AI extension's files, so changing them rolls the pods.
pub const AI_CONFIG_HASH_ANNOTATION: &str = "gatesim.dev/ai-config-hash";

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
    /// Settings `gloo.istioOptions.enableIntegration`: every proxy gets the Istio sidecars.
    pub istio_integration: bool,
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
            istio_integration: false,
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
    /// The AI extension's files (`<gateway>-ai-stats-config`), when it is enabled.
    pub ai_config_map: Option<ConfigMap>,
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
    #[error("the proxy of {gateway}: {source}")]
    Image {
        gateway: ObjectKey,
        #[source]
        source: sidecars::MissingImage,
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
    // The Gateway's `spec.infrastructure` labels and annotations go on every object (Gateway
    // API: GatewayInfrastructurePropagation); an object's own extras override them, and
    // nothing overrides the selector's labels, or the Deployment would lose its pods.
    let infrastructure = gateway.spec.infrastructure.as_ref();
    let infra_labels = infrastructure.and_then(|i| i.labels.as_ref());
    let infra_annotations = infrastructure.and_then(|i| i.annotations.as_ref());
    let labels =
        |extra: Option<&BTreeMap<String, String>>| layered(&[infra_labels, extra, Some(&selector)]);
    let annotations =
        |extra: Option<&BTreeMap<String, String>>| layered(&[infra_annotations, extra]);
    let meta = |extra_labels: Option<&BTreeMap<String, String>>,
                extra_annotations: Option<&BTreeMap<String, String>>| {
        let mut m = json!({
            "name": key.name,
            "namespace": key.namespace,
            "labels": labels(extra_labels),
            "ownerReferences": owner,
        });
        let a = annotations(extra_annotations);
        if !a.is_empty() {
            m["annotations"] = json!(a);
        }
        m
    };

    // ServiceAccount: Envoy talks to no API, so no token is mounted.
    let sa = kube.service_account.clone().unwrap_or_default();
    let service_account = decode(
        "ServiceAccount",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(sa.extra_labels.as_ref(), sa.extra_annotations.as_ref()),
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
    let stats = stats::enabled(kube.stats.as_ref());
    let mut bootstrap_value = bootstrap::bootstrap_value(&params);
    if let Some(s) = stats {
        stats::add_listener(&mut bootstrap_value, s);
    }
    if opts.istio_integration {
        sidecars::add_sds_cluster(&mut bootstrap_value);
    }
    let bootstrap_yaml =
        serde_yaml::to_string(&bootstrap_value).map_err(|source| RenderError::Bootstrap {
            gateway: key.clone(),
            source,
        })?;
    let config_map = decode(
        "ConfigMap",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(None, None),
            "data": { BOOTSTRAP_FILE: bootstrap_yaml },
        }),
    )?;

    // The Deployment.
    let pod = kube.pod_template.clone().unwrap_or_default();
    let pod_labels = labels(pod.extra_labels.as_ref());
    let mut pod_annotations = annotations(pod.extra_annotations.as_ref());
    pod_annotations.insert(
        BOOTSTRAP_HASH_ANNOTATION.to_string(),
        format!("{:016x}", fnv1a(bootstrap_yaml.as_bytes())),
    );
    if stats.is_some() {
        pod_annotations.extend(stats::annotations());
    }
    let floating = kube.floating_user_id == Some(true);
    let image_error = |source| RenderError::Image {
        gateway: key.clone(),
        source,
    };
    let mut extra = sidecars::Sidecars::default();
    if opts.istio_integration {
        let istio = sidecars::istio(kube.sds_container.as_ref(), kube.istio.as_ref(), floating)
            .map_err(image_error)?;
        extra.containers.extend(istio.containers);
        extra.volumes.extend(istio.volumes);
    }
    let ai = kube
        .ai_extension
        .as_ref()
        .filter(|a| a.enabled == Some(true));
    let ai_config_name = format!("{}{}", key.name, sidecars::AI_CONFIG_SUFFIX);
    let mut ai_config_map = None;
    if let Some(ai) = ai {
        let side = sidecars::ai_extension(ai, &ai_config_name, floating).map_err(image_error)?;
        extra.containers.extend(side.containers);
        extra.volumes.extend(side.volumes);
        let files: BTreeMap<&str, String> = sidecars::ai_config_files(ai).into_iter().collect();
        let hashed: String = files.values().map(String::as_str).collect();
        pod_annotations.insert(
            AI_CONFIG_HASH_ANNOTATION.to_string(),
            format!("{:016x}", fnv1a(hashed.as_bytes())),
        );
        let mut m = meta(None, None);
        m["name"] = json!(ai_config_name);
        ai_config_map = Some(decode(
            "ConfigMap",
            &key,
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": files }),
        )?);
    }
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
        .chain(stats.map(|_| stats::container_port()))
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
        "securityContext": security(floating, envoy.security_context.as_ref().map_or_else(
            || json!({
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "runAsUser": PROXY_USER,
                "runAsGroup": PROXY_USER,
                "capabilities": { "drop": ["ALL"] },
            }),
            |s| json!(s),
        )),
        "volumeMounts": [{ "name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": true }],
    });
    // The images gatesim builds have no shell: the kubelet itself sleeps before stopping
    // Envoy, which keeps serving while the pod leaves the Service's endpoints.
    let graceful = pod
        .graceful_shutdown
        .as_ref()
        .filter(|g| g.enabled == Some(true));
    let graceful_sleep = graceful.map(|g| {
        g.sleep_time_seconds
            .unwrap_or(parameters::GRACEFUL_SLEEP_SECONDS)
    });
    if let Some(seconds) = graceful_sleep {
        container["lifecycle"] = json!({ "preStop": { "sleep": { "seconds": seconds } } });
    }
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
        "securityContext": security(floating, pod.security_context.as_ref().map_or_else(
            || json!({
                "runAsNonRoot": true,
                "runAsUser": PROXY_USER,
                "runAsGroup": PROXY_USER,
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
            |s| json!(s),
        )),
        "containers": std::iter::once(container).chain(extra.containers).collect::<Vec<_>>(),
        "volumes": std::iter::once(json!({ "name": CONFIG_VOLUME, "configMap": { "name": key.name } }))
            .chain(extra.volumes)
            .collect::<Vec<_>>(),
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
            pod.termination_grace_period_seconds
                .or(graceful_sleep.map(|s| s + DEFAULT_GRACE_SECONDS))
                .map(|v| json!(v)),
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
            "metadata": meta(None, None),
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
    let service = decode(
        "Service",
        &key,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(svc.extra_labels.as_ref(), svc.extra_annotations.as_ref()),
            "spec": service_spec,
        }),
    )?;

    Ok(Some(ProxyObjects {
        service_account,
        config_map,
        deployment,
        service,
        ai_config_map,
    }))
}

/// A security context as given, without `runAsUser` when the user id floats.
fn security(floating: bool, mut context: Value) -> Value {
    if floating {
        without_run_as_user(&mut context);
    }
    context
}

/// Leaves the choice of user to the container runtime (`floatingUserId`).
pub(super) fn without_run_as_user(context: &mut Value) {
    if let Some(c) = context.as_object_mut() {
        c.remove("runAsUser");
    }
}

/// The labels that tie a Gateway's objects together and select its pods.
pub fn selector_labels(gateway: &ObjectKey) -> BTreeMap<String, String> {
    BTreeMap::from([
        (GATEWAY_LABEL.to_string(), gateway.name.clone()),
        (NAME_LABEL.to_string(), PROXY_NAME.to_string()),
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
    ])
}

/// The maps merged, a later one's value winning for a key in several.
fn layered(maps: &[Option<&BTreeMap<String, String>>]) -> BTreeMap<String, String> {
    maps.iter()
        .flatten()
        .flat_map(|m| m.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
pub(super) fn image(over: Option<&Image>, default: &str) -> String {
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
