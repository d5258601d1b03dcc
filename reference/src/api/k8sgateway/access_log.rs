//! Access logging (`accessLoggingService`), for HTTP requests or whole connections.

use serde_json::Value;

use super::schema::{preserve_unknown, preserve_unknown_map};

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
        #[schemars(schema_with = "preserve_unknown")]
        open_telemetry_service: Value,
        /// Which requests are logged (status code, duration, headers, runtime, ...).
        /// Accepted by the schema, not implemented by gatesim.
        #[schemars(schema_with = "preserve_unknown")]
        filter: Value,
    }
}

message! {
    /// Log lines written to a file (`/dev/stdout` works), as text or as JSON.
    pub struct FileSink {
        path: String,
        /// An Envoy format string (`%REQ(:PATH)%`, ...); exclusive with `jsonFormat`.
        string_format: String,
        /// A JSON object whose string values are Envoy format strings.
        #[schemars(schema_with = "preserve_unknown_map")]
        json_format: std::collections::BTreeMap<String, Value>,
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
