//! HttpListenerOption (`gateway.solo.io/v1`): options for the HTTP connection manager and
//! HTTP filters of the Gateway listeners it targets.

use super::hcm::HttpConnectionManagerSettings;
use super::matchers::{Buffer, CsrfPolicy};
use super::schema::{ProtoDuration, Unmodelled};
use super::status::PolicyStatus;
use super::target::PolicyTargetReferenceWithSectionName;

option_kind! {
    /// HttpListenerOption's spec.
    pub struct HttpListenerOptionSpec for "HttpListenerOption" {
        /// Gateways, or single listeners of them by `sectionName`, in the policy's namespace.
        target_refs: PolicyTargetReferenceWithSectionName,
        options: HttpListenerOptions,
    }
    short_names: ["hlisopts", "ghlisopts"],
    crd_doc: "Options for the HTTP connection manager and HTTP filters of the Gateways (or Gateway listeners) it targets.",
}

message! {
    /// gloo's `HttpListenerOptions`.
    pub struct HttpListenerOptions {
        http_connection_manager_settings: HttpConnectionManagerSettings,
        gzip: Gzip,
        health_check: HealthCheck,
        buffer: Buffer,
        csrf: CsrfPolicy,
        grpc_web: GrpcWeb,
        connection_limit: ConnectionLimit,
        /// Local rate limit on connections (the network filter).
        network_local_ratelimit: TokenBucket,
        /// Local rate limit on requests (the HTTP filter).
        http_local_ratelimit: LocalRateLimitSettings,
        router: Router,
        /// Removes `x-envoy-*` cluster headers from requests.
        sanitize_cluster_header: bool,
        /// Uses the leftmost `x-forwarded-for` address as the client's.
        leftmost_xff_address: bool,
        /// Accepted by the schema, not implemented by gatesim.
        extensions: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        grpc_json_transcoder: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        dynamic_forward_proxy: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        tap: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        stateful_session: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        header_validation_settings: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        wasm: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        waf: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        dlp: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        extauth: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ratelimit_server: Unmodelled,
        /// Enterprise (deprecated). Accepted by the schema, not implemented by gatesim.
        caching: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        proxy_latency: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        disable_ext_proc_early: bool,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_early: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        disable_ext_proc: bool,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc: Unmodelled,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        disable_ext_proc_late: bool,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        ext_proc_late: Unmodelled,
    }
}

message! {
    /// Response compression with gzip.
    pub struct Gzip {
        memory_level: u32,
        compression_level: GzipCompressionLevel,
        compression_strategy: GzipCompressionStrategy,
        window_bits: u32,
        /// Minimum response size compressed, in bytes.
        content_length: u32,
        #[schemars(length(max = 50))]
        content_type: Vec<String>,
        disable_on_etag_header: bool,
        remove_accept_encoding_header: bool,
    }
}

proto_enum! {
    pub enum GzipCompressionLevel {
        Default = ("DEFAULT", 0),
        Best = ("BEST", 1),
        Speed = ("SPEED", 2),
    }
}

proto_enum! {
    pub enum GzipCompressionStrategy {
        Default = ("DEFAULT", 0),
        Filtered = ("FILTERED", 1),
        Huffman = ("HUFFMAN", 2),
        Rle = ("RLE", 3),
    }
}

message! {
    /// Answers requests for `path` itself (200, or 503 while draining), without going upstream.
    pub struct HealthCheck {
        path: String,
    }
}

message! {
    pub struct GrpcWeb {
        /// Leaves the gRPC-Web filter out.
        disable: bool,
    }
}

message! {
    /// Caps the listener's concurrent connections.
    pub struct ConnectionLimit {
        #[schemars(range(min = 1))]
        max_active_connections: u32,
        /// Wait before closing a connection over the limit.
        delay_before_close: ProtoDuration,
    }
}

message! {
    /// A token bucket: `maxTokens` at most, refilled with `tokensPerFill` every
    /// `fillInterval`.
    pub struct TokenBucket {
        #[schemars(range(min = 1))]
        max_tokens: u32,
        tokens_per_fill: u32,
        fill_interval: ProtoDuration,
    }
}

message! {
    /// Settings of the local HTTP rate limit filter.
    pub struct LocalRateLimitSettings {
        /// The bucket for routes without their own.
        default_limit: TokenBucket,
        local_rate_limit_per_downstream_connection: bool,
        /// Sends `x-ratelimit-*` headers.
        enable_x_ratelimit_headers: bool,
    }
}

message! {
    /// Settings of Envoy's router filter.
    pub struct Router {
        /// Leaves out the `x-envoy-*` headers Envoy adds.
        suppress_envoy_headers: bool,
        dynamic_stats: bool,
    }
}
