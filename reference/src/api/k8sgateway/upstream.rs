//! Upstream (`gloo.solo.io/v1`): a destination an HTTPRoute can send traffic to (backendRef
//! `group: gloo.solo.io, kind: Upstream`), with its connection settings.

use std::collections::BTreeMap;

use kube::CustomResource;

use super::connection::{
    CircuitBreakerConfig, ConnectionConfig, LoadBalancerConfig, OutlierDetection,
};
use super::headers::{HeaderValue, ResourceRef};
use super::health_check::HealthCheck;
use super::schema::{ProtoDuration, Struct, Unmodelled};
use super::status::ResourceStatus;
use super::tls::UpstreamSslConfig;

message! {
    /// Upstream's spec: one of the types (`static`, `kube`, `aws`, ...) and the settings of
    /// the connections to it.
    #[derive(CustomResource)]
    #[kube(
        group = "gloo.solo.io",
        version = "v1",
        kind = "Upstream",
        namespaced,
        status = "ResourceStatus",
        derive = "Default",
        derive = "PartialEq",
        shortname = "us",
        shortname = "gus",
        category = "gloo-gateway",
        doc = "A destination for traffic (fixed hosts, a Kubernetes Service, an AWS Lambda, ...) and how to connect to it."
    )]
    pub struct UpstreamSpec {
        /// Fixed hosts.
        #[serde(rename = "static")]
        static_: StaticUpstream,
        /// The pods of a Kubernetes Service.
        kube: KubeUpstream,
        /// AWS Lambda functions.
        aws: AwsUpstream,
        /// TLS towards the upstream.
        ssl_config: UpstreamSslConfig,
        circuit_breakers: CircuitBreakerConfig,
        load_balancer_config: LoadBalancerConfig,
        health_checks: Vec<HealthCheck>,
        outlier_detection: OutlierDetection,
        connection_config: ConnectionConfig,
        failover: Failover,
        /// Speaks HTTP/2 to the upstream.
        use_http2: bool,
        protocol_selection: ClusterProtocolSelection,
        initial_stream_window_size: u32,
        initial_connection_window_size: u32,
        max_concurrent_streams: u32,
        override_stream_error_on_invalid_http_message: bool,
        /// Tunnels to the upstream through an HTTP CONNECT proxy at this host.
        http_proxy_hostname: String,
        http_connect_ssl_config: UpstreamSslConfig,
        http_connect_headers: Vec<HeaderValue>,
        ignore_health_on_host_removal: bool,
        /// Re-resolves DNS names when their TTL expires.
        respect_dns_ttl: bool,
        dns_refresh_rate: ProtoDuration,
        /// Sends a PROXY protocol header (`V1` or `V2`) on new connections.
        proxy_protocol_version: String,
        preconnect_policy: PreconnectPolicy,
        disable_istio_auto_mtls: bool,
        discovery_metadata: DiscoveryMetadata,
        /// Accepted by the schema, not implemented by gatesim.
        pipe: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        azure: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        consul: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        aws_ec2: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        gcp: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ai: Unmodelled,
    }
}

message! {
    /// Fixed hosts, by name or address.
    pub struct StaticUpstream {
        hosts: Vec<Host>,
        /// Uses TLS towards the hosts (on by default for port 443).
        use_tls: bool,
        /// Sets each connection's SNI to the host's `sniAddr` (or `addr`).
        auto_sni_rewrite: bool,
        /// gRPC or REST functions the upstream offers.
        /// Accepted by the schema, not implemented by gatesim.
        service_spec: Unmodelled,
    }
}

message! {
    pub struct Host {
        /// A host name or an IP address.
        addr: String,
        #[schemars(range(max = 65535))]
        port: u32,
        /// The SNI for TLS connections to this host.
        sni_addr: String,
        load_balancing_weight: u32,
        health_check_config: HostHealthCheckConfig,
        /// Endpoint metadata by filter namespace.
        /// Accepted by the schema, not implemented by gatesim.
        metadata: BTreeMap<String, Struct>,
    }
}

message! {
    /// Per-host overrides of the upstream's HTTP health check.
    pub struct HostHealthCheckConfig {
        path: String,
        method: String,
    }
}

message! {
    /// The pods behind a Kubernetes Service port, optionally narrowed by labels.
    pub struct KubeUpstream {
        service_name: String,
        service_namespace: String,
        #[schemars(range(max = 65535))]
        service_port: u32,
        /// Only pods with these labels.
        selector: BTreeMap<String, String>,
        /// Accepted by the schema, not implemented by gatesim.
        service_spec: Unmodelled,
        /// Endpoint subsets for subset load balancing.
        /// Accepted by the schema, not implemented by gatesim.
        subset_spec: Unmodelled,
    }
}

message! {
    /// AWS Lambda functions in one region.
    pub struct AwsUpstream {
        region: String,
        /// The Secret with the AWS credentials.
        secret_ref: ResourceRef,
        lambda_functions: Vec<LambdaFunctionSpec>,
        role_arn: String,
        aws_account_id: String,
        disable_role_chaining: bool,
        destination_overrides: DestinationSpec,
    }
}

message! {
    pub struct LambdaFunctionSpec {
        /// The name routes use for the function.
        logical_name: String,
        lambda_function_name: String,
        /// Version or alias (`$LATEST` when empty).
        qualifier: String,
    }
}

message! {
    /// How a route invokes a Lambda function, when the route does not say.
    pub struct DestinationSpec {
        logical_name: String,
        invocation_style: InvocationStyle,
        request_transformation: bool,
        response_transformation: bool,
        unwrap_as_alb: bool,
        unwrap_as_api_gateway: bool,
        wrap_as_api_gateway: bool,
    }
}

proto_enum! {
    pub enum InvocationStyle {
        Sync = ("SYNC", 0),
        Async = ("ASYNC", 1),
    }
}

proto_enum! {
    /// Which HTTP version to use towards the upstream.
    pub enum ClusterProtocolSelection {
        UseConfiguredProtocol = ("USE_CONFIGURED_PROTOCOL", 0),
        UseDownstreamProtocol = ("USE_DOWNSTREAM_PROTOCOL", 1),
    }
}

message! {
    /// Connections opened ahead of need.
    pub struct PreconnectPolicy {
        #[schemars(range(min = 1.0, max = 3.0))]
        per_upstream_preconnect_ratio: f64,
        #[schemars(range(min = 1.0, max = 3.0))]
        predictive_preconnect_ratio: f64,
    }
}

message! {
    /// Labels set by gloo's upstream discovery.
    pub struct DiscoveryMetadata {
        labels: BTreeMap<String, String>,
    }
}

message! {
    /// Endpoints to fail over to, in priority order, when the upstream's own are unhealthy.
    pub struct Failover {
        prioritized_localities: Vec<PrioritizedLocality>,
        policy: FailoverPolicy,
    }
}

message! {
    pub struct PrioritizedLocality {
        locality_endpoints: Vec<LocalityLbEndpoints>,
    }
}

message! {
    pub struct FailoverPolicy {
        #[schemars(range(min = 1))]
        overprovisioning_factor: u32,
    }
}

message! {
    pub struct LocalityLbEndpoints {
        locality: Locality,
        lb_endpoints: Vec<LbEndpoint>,
        load_balancing_weight: u32,
    }
}

message! {
    pub struct Locality {
        region: String,
        zone: String,
        sub_zone: String,
    }
}

message! {
    pub struct LbEndpoint {
        address: String,
        #[schemars(range(max = 65535))]
        port: u32,
        health_check_config: LbEndpointHealthCheckConfig,
        upstream_ssl_config: UpstreamSslConfig,
        #[schemars(range(min = 1))]
        load_balancing_weight: u32,
        /// Accepted by the schema, not implemented by gatesim.
        metadata: BTreeMap<String, Struct>,
    }
}

message! {
    pub struct LbEndpointHealthCheckConfig {
        port_value: u32,
        hostname: String,
        path: String,
        method: String,
    }
}
