//! The containers that run beside Envoy in a proxy's pod, as K8sGateway's deployer adds them:
//! with the Istio integration on (Settings `gloo.istioOptions.enableIntegration`), an SDS
//! server handing Envoy Istio's workload certificates and an `istio-proxy` agent fetching
//! them (or the user's own sidecars in its place); with `aiExtension.enabled`, the AI
//! extension. gatesim ships none of these images: the objects are rendered exactly, and the
//! GatewayParameters must name the images (`translate::parameters` checks that).

use serde_json::{Value, json};

use super::render::{CONFIG_DIR, CONFIG_VOLUME, image, without_run_as_user};
use crate::api::k8sgateway::gateway_parameters::{
    AiExtension, Image, IstioContainer, IstioIntegration, SdsContainer,
};

/// Where the SDS server listens in the pod, and the bootstrap cluster that reaches it.
pub const SDS_PORT: u16 = 8234;
pub const SDS_CLUSTER: &str = "gateway_proxy_sds";
/// The volume the Istio agent writes the workload certificates to, read by the SDS server.
const ISTIO_CERTS: (&str, &str) = ("istio-certs", "/etc/istio-certs/");
/// The AI extension's configuration files, mounted from a ConfigMap of their own.
const AI_CONFIG_VOLUME: &str = "ai-stats-config";
const AI_CONFIG_DIR: &str = "/var/run/stats";
/// Suffix of the AI extension's ConfigMap name (after the Gateway's name).
pub const AI_CONFIG_SUFFIX: &str = "-ai-stats-config";

/// Istio's defaults for the agent when the GatewayParameters leave a value out.
const ISTIO_LOG_LEVEL: &str = "warning";
const ISTIO_DISCOVERY: &str = "istiod.istio-system.svc:15012";
const ISTIO_MESH_ID: &str = "cluster.local";
const ISTIO_CLUSTER_ID: &str = "Kubernetes";
const SDS_LOG_LEVEL: &str = "info";

/// The extra containers of a pod and the volumes they mount.
#[derive(Default)]
pub struct Sidecars {
    pub containers: Vec<Value>,
    pub volumes: Vec<Value>,
}

/// A container needs an image the GatewayParameters must give: gatesim has no default.
#[derive(Debug, thiserror::Error)]
#[error("{0}.repository is not set (gatesim has no default image for it)")]
pub struct MissingImage(pub &'static str);

/// The Istio sidecars: the SDS server, then the agent or the user's replacements.
pub fn istio(
    sds: Option<&SdsContainer>,
    istio: Option<&IstioIntegration>,
    floating: bool,
) -> Result<Sidecars, MissingImage> {
    let sds = sds.cloned().unwrap_or_default();
    let istio = istio.cloned().unwrap_or_default();
    let mut containers = vec![sds_container(&sds, floating)?];
    match istio.custom_sidecars.filter(|c| !c.is_empty()) {
        Some(custom) => containers.extend(custom.iter().map(|c| json!(c))),
        None => containers.push(agent_container(
            &istio.istio_proxy_container.unwrap_or_default(),
            floating,
        )?),
    }
    let empty_in_memory = |name: &str| json!({ "name": name, "emptyDir": { "medium": "Memory" } });
    let empty = |name: &str| json!({ "name": name, "emptyDir": {} });
    Ok(Sidecars {
        containers,
        volumes: vec![
            empty_in_memory(ISTIO_CERTS.0),
            json!({
                "name": "istiod-ca-cert",
                "configMap": { "name": "istio-ca-root-cert", "defaultMode": 0o644 },
            }),
            empty_in_memory("istio-envoy"),
            json!({
                "name": "istio-token",
                "projected": {
                    "defaultMode": 0o644,
                    "sources": [{ "serviceAccountToken": {
                        "audience": "istio-ca",
                        "expirationSeconds": 43_200,
                        "path": "istio-token",
                    }}],
                },
            }),
            empty("credential-socket"),
            empty("workload-socket"),
            empty("workload-certs"),
        ],
    })
}

fn sds_container(sds: &SdsContainer, floating: bool) -> Result<Value, MissingImage> {
    let level = sds
        .bootstrap
        .as_ref()
        .and_then(|b| b.log_level.clone())
        .unwrap_or_else(|| SDS_LOG_LEVEL.to_string());
    let mut env = pod_identity();
    env.extend([
        json!({ "name": "ISTIO_MTLS_SDS_ENABLED", "value": "true" }),
        json!({ "name": "LOG_LEVEL", "value": level }),
    ]);
    let mut c = json!({
        "name": "sds",
        "image": required_image(sds.image.as_ref(), "spec.kube.sdsContainer.image")?,
        "env": env,
        "ports": [{ "name": "sds", "containerPort": SDS_PORT, "protocol": "TCP" }],
        "readinessProbe": {
            "tcpSocket": { "port": SDS_PORT },
            "initialDelaySeconds": 3,
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "volumeMounts": [
            { "name": CONFIG_VOLUME, "mountPath": CONFIG_DIR },
            { "name": ISTIO_CERTS.0, "mountPath": ISTIO_CERTS.1 },
        ],
    });
    common(
        &mut c,
        sds.image.as_ref(),
        sds.resources.as_ref().map(|r| json!(r)),
        sds.security_context.as_ref().map(|s| json!(s)),
        floating,
    );
    Ok(c)
}

/// Istio's agent without its Envoy (`DISABLE_ENVOY`): it only fetches the workload
/// certificates from istiod and writes them where the SDS server reads them.
fn agent_container(agent: &IstioContainer, floating: bool) -> Result<Value, MissingImage> {
    let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
    let discovery = or(&agent.istio_discovery_address, ISTIO_DISCOVERY);
    let args = [
        "proxy",
        "sidecar",
        "--domain",
        "$(POD_NAMESPACE).svc.cluster.local",
        "--configPath",
        "/etc/istio/proxy",
        "--serviceCluster",
        "istio-proxy-prometheus",
        "--drainDuration",
        "45s",
        "--parentShutdownDuration",
        "1m0s",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!(
        "--proxyLogLevel={}",
        or(&agent.log_level, ISTIO_LOG_LEVEL)
    )])
    .chain(
        [
            "--proxyComponentLogLevel=misc:error",
            "--connectTimeout",
            "10s",
            "--controlPlaneAuthPolicy",
            "NONE",
            "--dnsRefreshRate",
            "300s",
            "--controlPlaneBootstrap=false",
        ]
        .map(String::from),
    )
    .collect::<Vec<_>>();
    let value = |name: &str, value: &str| json!({ "name": name, "value": value });
    let field = |name: &str, path: &str| json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": path } } });
    let mut env = vec![
        value("OUTPUT_CERTS", ISTIO_CERTS.1.trim_end_matches('/')),
        value("JWT_POLICY", "third-party-jwt"),
        value("PILOT_CERT_PROVIDER", "istiod"),
        value("CA_ADDR", &discovery),
        value(
            "ISTIO_META_MESH_ID",
            &or(&agent.istio_meta_mesh_id, ISTIO_MESH_ID),
        ),
        value(
            "ISTIO_META_CLUSTER_ID",
            &or(&agent.istio_meta_cluster_id, ISTIO_CLUSTER_ID),
        ),
        value(
            "PROXY_CONFIG",
            &json!({ "discoveryAddress": discovery }).to_string(),
        ),
    ];
    env.extend(pod_identity());
    env.extend([
        field("INSTANCE_IP", "status.podIP"),
        field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        field("HOST_IP", "status.hostIP"),
        field("ISTIO_META_POD_NAME", "metadata.name"),
        field("ISTIO_META_CONFIG_NAMESPACE", "metadata.namespace"),
        value("DISABLE_ENVOY", "true"),
    ]);
    let mount = |name: &str, path: &str| json!({ "name": name, "mountPath": path });
    let mut c = json!({
        "name": "istio-proxy",
        "image": required_image(agent.image.as_ref(), "spec.kube.istio.istioProxyContainer.image")?,
        "args": args,
        "env": env,
        "volumeMounts": [
            mount("istiod-ca-cert", "/var/run/secrets/istio"),
            mount("istio-envoy", "/etc/istio/proxy"),
            mount(ISTIO_CERTS.0, ISTIO_CERTS.1),
            mount("istio-token", "/var/run/secrets/tokens"),
            mount("credential-socket", "/var/run/secrets/credential-uds"),
            mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
            mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"),
        ],
    });
    common(
        &mut c,
        agent.image.as_ref(),
        agent.resources.as_ref().map(|r| json!(r)),
        agent.security_context.as_ref().map(|s| json!(s)),
        floating,
    );
    Ok(c)
}

/// The AI extension's container and the volume of its ConfigMap (named `config_map`).
pub fn ai_extension(
    ai: &AiExtension,
    config_map: &str,
    floating: bool,
) -> Result<Sidecars, MissingImage> {
    let mut env = pod_identity();
    env.extend(ai.env.iter().flatten().map(|e| json!(e)));
    let mut c = json!({
        "name": "gloo-ai-extension",
        "image": required_image(ai.image.as_ref(), "spec.kube.aiExtension.image")?,
        "env": env,
        "volumeMounts": [{ "name": AI_CONFIG_VOLUME, "mountPath": AI_CONFIG_DIR }],
    });
    if let Some(ports) = ai.ports.as_ref().filter(|p| !p.is_empty()) {
        c["ports"] = json!(ports);
    }
    common(
        &mut c,
        ai.image.as_ref(),
        ai.resources.as_ref().map(|r| json!(r)),
        ai.security_context.as_ref().map(|s| json!(s)),
        floating,
    );
    Ok(Sidecars {
        containers: vec![c],
        volumes: vec![json!({ "name": AI_CONFIG_VOLUME, "configMap": { "name": config_map } })],
    })
}

/// The files of the AI extension's ConfigMap: its `stats` and `tracing` as JSON.
pub fn ai_config_files(ai: &AiExtension) -> Vec<(&'static str, String)> {
    let stats = ai
        .stats
        .as_ref()
        .map(|s| ("stats.json", json!(s).to_string()));
    let tracing = ai
        .tracing
        .as_ref()
        .map(|t| ("tracing.json", json!(t).to_string()));
    stats.into_iter().chain(tracing).collect()
}

/// The bootstrap cluster through which Envoy fetches certificates from the SDS server.
pub fn add_sds_cluster(bootstrap: &mut Value) {
    if let Some(clusters) = bootstrap["static_resources"]["clusters"].as_array_mut() {
        clusters.push(json!({
            "name": SDS_CLUSTER,
            "type": "STATIC",
            "connect_timeout": "0.25s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": { "http2_protocol_options": {} },
                },
            },
            "load_assignment": {
                "cluster_name": SDS_CLUSTER,
                "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": {
                    "socket_address": { "address": "127.0.0.1", "port_value": SDS_PORT },
                }}}]}],
            },
        }));
    }
}

fn pod_identity() -> Vec<Value> {
    ["POD_NAME", "POD_NAMESPACE"]
        .into_iter()
        .zip(["metadata.name", "metadata.namespace"])
        .map(|(name, path)| {
            json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": path } } })
        })
        .collect()
}

fn required_image(given: Option<&Image>, field: &'static str) -> Result<String, MissingImage> {
    match given {
        Some(i) if i.repository.as_deref().is_some_and(|r| !r.is_empty()) => Ok(image(Some(i), "")),
        _ => Err(MissingImage(field)),
    }
}

/// What every sidecar may set the same way: pull policy, resources, security context.
fn common(
    c: &mut Value,
    img: Option<&Image>,
    resources: Option<Value>,
    security: Option<Value>,
    floating: bool,
) {
    if let Some(policy) = img.and_then(|i| i.pull_policy) {
        c["imagePullPolicy"] = json!(policy);
    }
    if let Some(r) = resources {
        c["resources"] = r;
    }
    if let Some(mut s) = security {
        if floating {
            without_run_as_user(&mut s);
        }
        c["securityContext"] = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mount_of_the_istio_sidecars_has_its_volume() {
        let sds: SdsContainer = serde_yaml::from_str("image: {repository: sds, tag: '1'}").unwrap();
        let istio: IstioIntegration =
            serde_yaml::from_str("istioProxyContainer: {image: {repository: proxyv2}}").unwrap();
        let s = super::istio(Some(&sds), Some(&istio), false).unwrap();
        let volumes: Vec<&str> = s
            .volumes
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        for c in &s.containers {
            for m in c["volumeMounts"].as_array().unwrap() {
                let name = m["name"].as_str().unwrap();
                assert!(
                    name == CONFIG_VOLUME || volumes.contains(&name),
                    "{} mounts {name}, which no volume provides",
                    c["name"]
                );
            }
        }
    }

    #[test]
    fn an_image_gatesim_cannot_default_is_named() {
        let err = super::istio(None, None, false).err().unwrap();
        assert_eq!(err.0, "spec.kube.sdsContainer.image");
        let sds: SdsContainer = serde_yaml::from_str("image: {repository: sds}").unwrap();
        let err = super::istio(Some(&sds), None, false).err().unwrap();
        assert_eq!(err.0, "spec.kube.istio.istioProxyContainer.image");
        let custom: IstioIntegration =
            serde_yaml::from_str("customSidecars: [{name: mine, image: mine:1}]").unwrap();
        let s = super::istio(Some(&sds), Some(&custom), false).unwrap();
        let names: Vec<&str> = s
            .containers
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["sds", "mine"], "custom sidecars replace the agent");
    }
}
