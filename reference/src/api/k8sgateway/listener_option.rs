//! ListenerOption (`gateway.solo.io/v1`): options for the Envoy listeners of the Gateway
//! listeners it targets.

use super::access_log::AccessLoggingService;
use super::schema::{Int64, Unmodelled};
use super::status::PolicyStatus;
use super::target::PolicyTargetReferenceWithSectionName;

option_kind! {
    /// ListenerOption's spec.
    pub struct ListenerOptionSpec for "ListenerOption" {
        /// Gateways, or single listeners of them by `sectionName`, in the policy's namespace.
        target_refs: PolicyTargetReferenceWithSectionName,
        options: ListenerOptions,
    }
    short_names: ["lisopts", "glisopts"],
    crd_doc: "Options for the listeners of the Gateways (or Gateway listeners) it targets.",
}

message! {
    /// gloo's `ListenerOptions`.
    pub struct ListenerOptions {
        /// Access logs of the HTTP connection manager (one line per request).
        access_logging_service: AccessLoggingService,
        /// Access logs of the listener itself (one line per connection).
        listener_access_logging_service: AccessLoggingService,
        per_connection_buffer_limit_bytes: u32,
        socket_options: Vec<SocketOption>,
        proxy_protocol: ProxyProtocol,
        connection_balance_config: ConnectionBalanceConfig,
        /// Emits TCP statistics per connection.
        tcp_stats: bool,
        /// Accepted by the schema, not implemented by gatesim.
        extensions: Unmodelled,
    }
}

message! {
    /// A socket option set on the listener's sockets.
    pub struct SocketOption {
        description: String,
        /// The `level` argument of `setsockopt`.
        level: Int64,
        /// The option name (number).
        name: Int64,
        /// The value, as an integer; exclusive with `bufValue`.
        int_value: Int64,
        /// The value, as bytes (base64).
        #[schemars(extend("format" = "byte"))]
        buf_value: String,
        state: SocketState,
    }
}

proto_enum! {
    /// When in the socket's life the option is set.
    pub enum SocketState {
        Prebind = ("STATE_PREBIND", 0),
        Bound = ("STATE_BOUND", 1),
        Listening = ("STATE_LISTENING", 2),
    }
}

message! {
    /// Accepts the PROXY protocol (v1 and v2) on the listener.
    pub struct ProxyProtocol {
        /// Rules to copy PROXY protocol TLVs into connection metadata.
        rules: Vec<ProxyProtocolRule>,
        /// Also accept connections that do not start with a PROXY header.
        allow_requests_without_proxy_protocol: bool,
    }
}

message! {
    pub struct ProxyProtocolRule {
        tlv_type: u32,
        on_tlv_present: KeyValuePair,
    }
}

message! {
    pub struct KeyValuePair {
        metadata_namespace: String,
        key: String,
    }
}

message! {
    /// How accepted connections are spread over Envoy's worker threads.
    pub struct ConnectionBalanceConfig {
        /// Balance exactly (at some cost in contention); set it to `{}` to turn it on.
        exact_balance: ExactBalance,
    }
}

message! {
    pub struct ExactBalance {}
}
