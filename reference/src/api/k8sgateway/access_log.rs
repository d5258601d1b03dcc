//! Access logging (`accessLoggingService`), for HTTP requests or whole connections.

use super::schema::{Struct, Unmodelled};

message! {
    pub struct AccessLoggingService {
        access_log: Vec<AccessLog>,
    }
}

message! {
    /// One access log: to a file, to a gRPC access log service or to OpenTelemetry (one of
    /// them), for the requests `filter` selects.
    pub struct AccessLog {
        file_sink: FileSink,
        grpc_service: GrpcService,
        /// Accepted by the schema, not implemented by gatesim.
        open_telemetry_service: Unmodelled,
        /// Which requests are logged (status code, duration, headers, runtime, ...).
        /// Accepted by the schema, not implemented by gatesim.
        filter: Unmodelled,
    }
}

message! {
    /// Log lines written to a file (`/dev/stdout` works), as text or as JSON.
    pub struct FileSink {
        path: String,
        /// An Envoy format string (`%REQ(:PATH)%`, ...); exclusive with `jsonFormat`.
        string_format: String,
        /// A JSON object whose string values are Envoy format strings.
        json_format: Struct,
    }
}

message! {
    /// Logs sent to an Envoy gRPC access log service.
    pub struct GrpcService {
        log_name: String,
        /// The cluster of the service, which must exist in the proxy's configuration.
        static_cluster_name: String,
        additional_request_headers_to_log: Vec<String>,
        additional_response_headers_to_log: Vec<String>,
        additional_response_trailers_to_log: Vec<String>,
        filter_state_objects_to_log: Vec<String>,
    }
}
