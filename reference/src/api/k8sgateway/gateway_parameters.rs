//! GatewayParameters (`gateway.gloo.solo.io/v1alpha1`): how the proxy of a Gateway is
//! deployed. A GatewayClass names the default in `parametersRef`; a Gateway may pick another
//! with the annotation `gateway.gloo.solo.io/gateway-parameters-name`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EnvVar, LocalObjectReference, PodSecurityContext, Probe,
    ResourceRequirements, SecurityContext, Toleration, TopologySpreadConstraint,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::Unmodelled;
use super::status::ResourceStatus;

/// GatewayParameters' spec: a proxy deployed on Kubernetes (`kube`), or one the user runs
/// (`selfManaged`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.gloo.solo.io",
    version = "v1alpha1",
    kind = "GatewayParameters",
    plural = "gatewayparameters",
    singular = "gatewayparameters",
    namespaced,
    status = "ResourceStatus",
    derive = "Default",
    derive = "PartialEq",
    shortname = "gwp",
    category = "gloo-gateway",
    doc = "How the proxies of the Gateways that use it are deployed."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.kube) && !has(self.selfManaged)) || (!has(self.kube) && has(self.selfManaged))",
    "message": "only one of 'kube' or 'selfManaged' may be set",
}]))]
pub struct GatewayParametersSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubernetesProxyConfig>,
    /// The user deploys and configures the proxy; the controller only serves its xDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_managed: Option<Unmodelled>,
}

message! {
    /// The Kubernetes objects made for a Gateway's proxy.
    pub struct KubernetesProxyConfig {
        deployment: ProxyDeployment,
        envoy_container: EnvoyContainer,
        /// The container serving certificates to Envoy (Istio integration).
        sds_container: SdsContainer,
        pod_template: Pod,
        service: Service,
        service_account: ServiceAccount,
        istio: IstioIntegration,
        stats: StatsConfig,
        /// A sidecar for Gloo's AI Gateway (an enterprise image): rendered as described.
        ai_extension: AiExtension,
        /// Lets the container runtime pick the user id (OpenShift): no security context of
        /// the proxy's pod names a `runAsUser`.
        floating_user_id: bool,
    }
}

message! {
    pub struct ProxyDeployment {
        /// Leave unset when an autoscaler owns the replica count.
        #[schemars(range(min = 1))]
        replicas: u32,
    }
}

message! {
    pub struct EnvoyContainer {
        bootstrap: EnvoyBootstrap,
        image: Image,
        security_context: SecurityContext,
        resources: ResourceRequirements,
    }
}

message! {
    pub struct EnvoyBootstrap {
        /// Envoy's log level: trace, debug, info, warning/warn, error, critical or off.
        log_level: String,
        /// Log levels per Envoy component (`upstream: debug`).
        component_log_levels: BTreeMap<String, String>,
    }
}

message! {
    /// A container image; unset parts keep the defaults.
    pub struct Image {
        registry: String,
        repository: String,
        tag: String,
        /// Takes precedence over `tag`.
        digest: String,
        pull_policy: PullPolicy,
    }
}

/// When the kubelet pulls the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    Always,
    Never,
    IfNotPresent,
}

message! {
    pub struct SdsContainer {
        image: Image,
        security_context: SecurityContext,
        resources: ResourceRequirements,
        bootstrap: SdsBootstrap,
    }
}

message! {
    pub struct SdsBootstrap {
        log_level: String,
    }
}

message! {
    pub struct IstioIntegration {
        istio_proxy_container: IstioContainer,
        custom_sidecars: Vec<Container>,
    }
}

message! {
    pub struct IstioContainer {
        image: Image,
        security_context: SecurityContext,
        resources: ResourceRequirements,
        log_level: String,
        istio_discovery_address: String,
        istio_meta_mesh_id: String,
        istio_meta_cluster_id: String,
    }
}

message! {
    /// The proxy's pods.
    pub struct Pod {
        extra_labels: BTreeMap<String, String>,
        extra_annotations: BTreeMap<String, String>,
        security_context: PodSecurityContext,
        image_pull_secrets: Vec<LocalObjectReference>,
        node_selector: BTreeMap<String, String>,
        affinity: Affinity,
        tolerations: Vec<Toleration>,
        graceful_shutdown: GracefulShutdownSpec,
        termination_grace_period_seconds: i64,
        readiness_probe: Probe,
        liveness_probe: Probe,
        topology_spread_constraints: Vec<TopologySpreadConstraint>,
    }
}

message! {
    /// Keeps a stopping proxy serving (draining) for a while.
    pub struct GracefulShutdownSpec {
        enabled: bool,
        sleep_time_seconds: i64,
    }
}

message! {
    /// The proxy's Service.
    pub struct Service {
        #[serde(rename = "type")]
        type_: ServiceType,
        #[serde(rename = "clusterIP")]
        cluster_ip: String,
        extra_labels: BTreeMap<String, String>,
        extra_annotations: BTreeMap<String, String>,
        /// Ports to set explicitly (node ports, say); the listeners' ports otherwise.
        #[schemars(length(max = 8))]
        ports: Vec<Port>,
        external_traffic_policy: ExternalTrafficPolicy,
    }
}

/// The type of the proxy's Service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

/// Whether external traffic may go to proxies on other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExternalTrafficPolicy {
    Cluster,
    Local,
}

/// A Service port, by the Gateway listener port it serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
}

message! {
    pub struct ServiceAccount {
        extra_labels: BTreeMap<String, String>,
        extra_annotations: BTreeMap<String, String>,
    }
}

message! {
    /// The AI extension's container. `stats` and `tracing` are the extension's own
    /// configuration, handed to it as JSON files in a ConfigMap.
    pub struct AiExtension {
        enabled: bool,
        image: Image,
        security_context: SecurityContext,
        resources: ResourceRequirements,
        env: Vec<EnvVar>,
        ports: Vec<ContainerPort>,
        stats: AiExtensionStats,
        tracing: AiExtensionTracing,
    }
}

message! {
    /// Labels the extension adds to its request metrics.
    pub struct AiExtensionStats {
        custom_labels: Vec<CustomLabel>,
    }
}

/// A metric label whose value the extension reads from the request's dynamic metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomLabel {
    #[schemars(length(min = 1))]
    pub name: String,
    /// The metadata namespace (the JWT filter's by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_namespace: Option<String>,
    #[schemars(length(min = 1))]
    pub metadata_key: String,
    /// Separates the parts of `metadataKey` (`:` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_delimiter: Option<String>,
}

message! {
    /// Where the extension sends its traces (OTLP).
    pub struct AiExtensionTracing {
        grpc: AiExtensionTracingGrpc,
        insecure: bool,
    }
}

/// An OTLP collector reached over gRPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AiExtensionTracingGrpc {
    #[schemars(length(min = 1))]
    pub host: String,
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
}

message! {
    /// Envoy's statistics endpoint on the proxy.
    pub struct StatsConfig {
        enabled: bool,
        route_prefix_rewrite: String,
        enable_stats_route: bool,
        stats_route_prefix_rewrite: String,
    }
}
