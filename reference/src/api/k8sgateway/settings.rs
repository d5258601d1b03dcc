//! Settings (`gloo.solo.io/v1`): the controller-wide settings of a K8sGateway installation
//! (conventionally the object `default` in `gloo-system`).

use kube::CustomResource;

use super::connection::CircuitBreakerConfig;
use super::schema::{ProtoDuration, Unmodelled};
use super::status::ResourceStatus;

message! {
    /// Settings' spec: gloo's `Settings` message.
    #[derive(CustomResource)]
    #[kube(
        group = "gloo.solo.io",
        version = "v1",
        kind = "Settings",
        plural = "settings",
        singular = "settings",
        namespaced,
        status = "ResourceStatus",
        derive = "Default",
        derive = "PartialEq",
        shortname = "st",
        shortname = "gst",
        category = "gloo-gateway",
        doc = "Controller-wide settings of a K8sGateway installation."
    )]
    pub struct SettingsSpec {
        /// Namespaces whose objects the controller reads (all when empty).
        watch_namespaces: Vec<String>,
        /// Label selectors for namespaces to read, besides `watchNamespaces`.
        /// Accepted by the schema, not implemented by gatesim.
        watch_namespace_selectors: Vec<Unmodelled>,
        /// Where the controller writes what it generates.
        discovery_namespace: String,
        /// Binds proxies' listeners on IPv4 only (Gateway API mode).
        ip_v4_only: bool,
        dev_mode: bool,
        linkerd: bool,
        refresh_rate: ProtoDuration,
        gloo: GlooOptions,
        gateway: GatewayOptions,
        /// Accepted by the schema, not implemented by gatesim.
        kubernetes_config_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        directory_config_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        consul_kv_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        kubernetes_secret_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        vault_secret_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        directory_secret_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        secret_options: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        kubernetes_artifact_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        directory_artifact_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        consul_kv_artifact_source: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        knative: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        discovery: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        consul: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        consul_discovery: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        kubernetes: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        extensions: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        upstream_options: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        console_options: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        observability_options: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit_server: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        rbac: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        extauth: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        named_extauth: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        caching_server: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_early: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_late: Unmodelled,
    }
}

message! {
    /// Settings of translation and of the control plane's servers.
    pub struct GlooOptions {
        /// Replace routes with invalid configuration by a fixed response instead of
        /// rejecting the whole configuration.
        invalid_config_policy: InvalidConfigPolicy,
        xds_bind_addr: String,
        validation_bind_addr: String,
        rest_xds_bind_addr: String,
        proxy_debug_bind_addr: String,
        /// Defaults for every upstream without its own.
        circuit_breakers: CircuitBreakerConfig,
        endpoints_warming_timeout: ProtoDuration,
        disable_kubernetes_destinations: bool,
        disable_grpc_web: bool,
        disable_proxy_garbage_collection: bool,
        regex_max_program_size: u32,
        enable_rest_eds: bool,
        failover_upstream_dns_polling_interval: ProtoDuration,
        remove_unused_filters: bool,
        log_transformation_request_response_info: bool,
        transformation_escape_characters: bool,
        enable_auto_websocket_transformation_passthrough: bool,
        /// Accepted by the schema, not implemented by gatesim.
        aws_options: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        istio_options: Unmodelled,
    }
}

message! {
    pub struct InvalidConfigPolicy {
        replace_invalid_routes: bool,
        #[schemars(range(min = 200, max = 599))]
        invalid_route_response_code: u32,
        invalid_route_response_body: String,
    }
}

message! {
    /// Settings of the gateway translator and its validation webhook.
    pub struct GatewayOptions {
        validation_server_addr: String,
        validation: ValidationOptions,
        read_gateways_from_all_namespaces: bool,
        always_sort_route_table_routes: bool,
        compressed_proxy_spec: bool,
        virtual_service_options: VirtualServiceOptions,
        persist_proxy_spec: bool,
        enable_gateway_controller: bool,
        isolate_virtual_hosts_by_ssl_config: bool,
        translate_empty_gateways: bool,
    }
}

message! {
    /// How the validation webhook treats changes.
    pub struct ValidationOptions {
        proxy_validation_server_addr: String,
        validation_webhook_tls_cert: String,
        validation_webhook_tls_key: String,
        ignore_gloo_validation_failure: bool,
        /// Accept everything, only reporting problems.
        always_accept: bool,
        /// Accept changes that only cause warnings.
        allow_warnings: bool,
        warn_route_short_circuiting: bool,
        disable_transformation_validation: bool,
        validation_server_grpc_max_size_bytes: i32,
        server_enabled: bool,
        warn_missing_tls_secret: bool,
        full_envoy_validation: bool,
    }
}

message! {
    pub struct VirtualServiceOptions {
        one_way_tls: bool,
    }
}
