//! Settings of the HTTP connection manager (`httpConnectionManagerSettings`).

use super::headers::EarlyHeaderManipulation;
use super::route_option::ProtocolUpgradeConfig;
use super::schema::{ProtoDuration, Unmodelled};

message! {
    /// gloo's `HttpConnectionManagerSettings`.
    pub struct HttpConnectionManagerSettings {
        skip_xff_append: bool,
        /// The `Via` header value added to requests and responses.
        via: String,
        xff_num_trusted_hops: u32,
        use_remote_address: bool,
        generate_request_id: bool,
        proxy_100_continue: bool,
        stream_idle_timeout: ProtoDuration,
        idle_timeout: ProtoDuration,
        max_request_headers_kb: u32,
        request_timeout: ProtoDuration,
        request_headers_timeout: ProtoDuration,
        drain_timeout: ProtoDuration,
        delayed_close_timeout: ProtoDuration,
        /// The `server` response header Envoy writes.
        server_name: String,
        server_header_transformation: ServerHeaderTransformation,
        strip_any_host_port: bool,
        accept_http_10: bool,
        default_host_for_http_10: String,
        allow_chunked_length: bool,
        enable_trailers: bool,
        /// Exclusive with `preserveCaseHeaderKeyFormat`.
        proper_case_header_key_format: bool,
        preserve_case_header_key_format: bool,
        forward_client_cert_details: ForwardClientCertDetails,
        set_current_client_cert_details: SetCurrentClientCertDetails,
        preserve_external_request_id: bool,
        upgrades: Vec<ProtocolUpgradeConfig>,
        max_connection_duration: ProtoDuration,
        max_stream_duration: ProtoDuration,
        max_headers_count: u32,
        headers_with_underscores_action: HeadersWithUnderscoreAction,
        max_requests_per_connection: u32,
        path_with_escaped_slashes_action: PathWithEscapedSlashesAction,
        codec_type: CodecType,
        merge_slashes: bool,
        normalize_path: bool,
        uuid_request_id_config: UuidRequestIdConfigSettings,
        http2_protocol_options: Http2ProtocolOptions,
        internal_address_config: InternalAddressConfig,
        append_x_forwarded_port: bool,
        early_header_manipulation: EarlyHeaderManipulation,
        /// Tracing providers and settings.
        /// Accepted by the schema, not implemented by gatesim.
        tracing: Unmodelled,
    }
}

proto_enum! {
    pub enum ServerHeaderTransformation {
        Overwrite = ("OVERWRITE", 0),
        AppendIfAbsent = ("APPEND_IF_ABSENT", 1),
        PassThrough = ("PASS_THROUGH", 2),
    }
}

proto_enum! {
    pub enum ForwardClientCertDetails {
        Sanitize = ("SANITIZE", 0),
        ForwardOnly = ("FORWARD_ONLY", 1),
        AppendForward = ("APPEND_FORWARD", 2),
        SanitizeSet = ("SANITIZE_SET", 3),
        AlwaysForwardOnly = ("ALWAYS_FORWARD_ONLY", 4),
    }
}

message! {
    /// Which parts of the client certificate go into `x-forwarded-client-cert`.
    pub struct SetCurrentClientCertDetails {
        subject: bool,
        cert: bool,
        chain: bool,
        dns: bool,
        uri: bool,
    }
}

proto_enum! {
    pub enum HeadersWithUnderscoreAction {
        Allow = ("ALLOW", 0),
        RejectClientRequest = ("REJECT_CLIENT_REQUEST", 1),
        DropHeader = ("DROP_HEADER", 2),
    }
}

proto_enum! {
    pub enum PathWithEscapedSlashesAction {
        ImplementationSpecificDefault = ("IMPLEMENTATION_SPECIFIC_DEFAULT", 0),
        KeepUnchanged = ("KEEP_UNCHANGED", 1),
        RejectRequest = ("REJECT_REQUEST", 2),
        UnescapeAndRedirect = ("UNESCAPE_AND_REDIRECT", 3),
        UnescapeAndForward = ("UNESCAPE_AND_FORWARD", 4),
    }
}

proto_enum! {
    pub enum CodecType {
        Auto = ("AUTO", 0),
        Http1 = ("HTTP1", 1),
        Http2 = ("HTTP2", 2),
    }
}

message! {
    pub struct UuidRequestIdConfigSettings {
        pack_trace_reason: bool,
        use_request_id_for_trace_sampling: bool,
    }
}

message! {
    /// HTTP/2 settings towards clients (and, on an Upstream, towards the upstream).
    pub struct Http2ProtocolOptions {
        max_concurrent_streams: u32,
        initial_stream_window_size: u32,
        initial_connection_window_size: u32,
        override_stream_error_on_invalid_http_message: bool,
    }
}

message! {
    /// Which client addresses count as internal (for `x-envoy-internal`).
    pub struct InternalAddressConfig {
        unix_sockets: bool,
        cidr_ranges: Vec<CidrRange>,
    }
}

message! {
    pub struct CidrRange {
        address_prefix: String,
        #[schemars(range(max = 128))]
        prefix_len: u32,
    }
}
