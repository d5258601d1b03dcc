//! Active health checks of an upstream's hosts (`healthChecks`), as Envoy's `HealthCheck`.

use super::schema::{Int64, ProtoDuration, Unmodelled};

message! {
    /// One health check: HTTP, TCP, gRPC or custom (one of them), with its timing and
    /// thresholds.
    pub struct HealthCheck {
        timeout: ProtoDuration,
        interval: ProtoDuration,
        initial_jitter: ProtoDuration,
        interval_jitter: ProtoDuration,
        #[schemars(range(max = 100))]
        interval_jitter_percent: u32,
        /// Failed checks before a host is unhealthy.
        unhealthy_threshold: u32,
        /// Passed checks before a host is healthy again.
        healthy_threshold: u32,
        reuse_connection: bool,
        no_traffic_interval: ProtoDuration,
        unhealthy_interval: ProtoDuration,
        unhealthy_edge_interval: ProtoDuration,
        healthy_edge_interval: ProtoDuration,
        event_log_path: String,
        always_log_health_check_failures: bool,
        http_health_check: HttpHealthCheck,
        grpc_health_check: GrpcHealthCheck,
        /// Bytes to send and expect.
        /// Accepted by the schema, not implemented by gatesim.
        tcp_health_check: Unmodelled,
        /// Accepted by the schema, not implemented by gatesim.
        custom_health_check: Unmodelled,
    }
}

message! {
    pub struct HttpHealthCheck {
        /// The Host header of the check (the cluster's name when empty).
        host: String,
        #[schemars(length(min = 1))]
        path: String,
        service_name: String,
        /// Accepted by the schema, not implemented by gatesim.
        request_headers_to_add: Vec<Unmodelled>,
        request_headers_to_remove: Vec<String>,
        use_http2: bool,
        /// Status ranges that count as healthy (default: 200 only).
        expected_statuses: Vec<Int64Range>,
        method: RequestMethod,
        /// Enterprise. Accepted by the schema, not implemented by gatesim.
        response_assertions: Unmodelled,
    }
}

message! {
    /// `[start, end)`.
    pub struct Int64Range {
        start: Int64,
        end: Int64,
    }
}

proto_enum! {
    pub enum RequestMethod {
        Unspecified = ("METHOD_UNSPECIFIED", 0),
        Get = ("GET", 1),
        Head = ("HEAD", 2),
        Post = ("POST", 3),
        Put = ("PUT", 4),
        Delete = ("DELETE", 5),
        Connect = ("CONNECT", 6),
        Options = ("OPTIONS", 7),
        Trace = ("TRACE", 8),
        Patch = ("PATCH", 9),
    }
}

message! {
    /// The gRPC health checking protocol.
    pub struct GrpcHealthCheck {
        service_name: String,
        authority: String,
        /// Accepted by the schema, not implemented by gatesim.
        initial_metadata: Vec<Unmodelled>,
    }
}
