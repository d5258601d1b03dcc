//! ListenerOption and HttpListenerOption in Envoy: ListenerOption on the Envoy listener of a
//! port (buffer limit, socket options, the PROXY protocol listener filter) and, for its access
//! logs, on every connection manager of that listener; HttpListenerOption on one connection
//! manager (its settings, the connection limit network filter before it, and the health check,
//! gzip, local rate limit, CSRF and buffer HTTP filters inside it).
//!
//! Values were checked before (`policy::listener_values`); what reaches here is what Envoy
//! accepts. Nothing is added for a listener without these policies.

use envoy_types::pb::envoy::config::accesslog::v3::{AccessLog, access_log};
use envoy_types::pb::envoy::config::core::v3::{
    DataSource, SocketOption as EnvoySocketOption, SubstitutionFormatString, TypedExtensionConfig,
    data_source, socket_option, substitution_format_string,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::config::route::v3::{HeaderMatcher, header_matcher};
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::{
    FileAccessLog, file_access_log,
};
use envoy_types::pb::envoy::extensions::compression::gzip::compressor::v3::{
    Gzip as EnvoyGzip, gzip,
};
use envoy_types::pb::envoy::extensions::filters::http::compressor::v3::{Compressor, compressor};
use envoy_types::pb::envoy::extensions::filters::http::health_check::v3::HealthCheck;
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::listener::proxy_protocol::v3::{
    ProxyProtocol as EnvoyProxyProtocol, proxy_protocol,
};
use envoy_types::pb::envoy::extensions::filters::network::connection_limit::v3::ConnectionLimit;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, http_connection_manager::ServerHeaderTransformation as Sht,
    http_filter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher};
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, TokenBucket as EnvoyTokenBucket};
use envoy_types::pb::google::protobuf::{Any, BoolValue, UInt64Value};
use prost::{Message, Name};

use super::options::duration;
use super::{any, u32v};
use crate::api::k8sgateway::HttpListenerOptions;
use crate::api::k8sgateway::ListenerOptions;
use crate::api::k8sgateway::access_log::FileSink;
use crate::api::k8sgateway::hcm::ServerHeaderTransformation;
use crate::api::k8sgateway::http_listener_option::{
    Gzip, GzipCompressionLevel, GzipCompressionStrategy, LocalRateLimitSettings,
};
use crate::api::k8sgateway::listener_option::SocketState;

const PROXY_PROTOCOL: &str = "envoy.filters.listener.proxy_protocol";
const FILE_ACCESS_LOG: &str = "envoy.access_loggers.file";
const HEALTH_CHECK: &str = "envoy.filters.http.health_check";
const COMPRESSOR: &str = "envoy.filters.http.compressor";
const GZIP: &str = "envoy.compression.gzip.compressor";
const LOCAL_RATELIMIT: &str = "envoy.filters.http.local_ratelimit";
const CONNECTION_LIMIT: &str = "envoy.filters.network.connection_limit";

/// ListenerOption on the Envoy listener itself.
pub(crate) fn apply_listener(l: &mut Listener, o: &ListenerOptions) {
    if let Some(b) = o.per_connection_buffer_limit_bytes {
        l.per_connection_buffer_limit_bytes = Some(u32v(b));
    }
    l.socket_options.extend(
        o.socket_options
            .iter()
            .flatten()
            .map(|s| EnvoySocketOption {
                description: s.description.clone().unwrap_or_default(),
                level: s.level.map_or(0, |v| v.get()),
                name: s.name.map_or(0, |v| v.get()),
                value: s.int_value.map(|v| socket_option::Value::IntValue(v.get())),
                state: match s.state {
                    Some(SocketState::Bound) => socket_option::SocketState::StateBound,
                    Some(SocketState::Listening) => socket_option::SocketState::StateListening,
                    _ => socket_option::SocketState::StatePrebind,
                } as i32,
                ..Default::default()
            }),
    );
    if let Some(p) = &o.proxy_protocol {
        let config = EnvoyProxyProtocol {
            rules: p
                .rules
                .iter()
                .flatten()
                .map(|r| proxy_protocol::Rule {
                    tlv_type: r.tlv_type.unwrap_or_default(),
                    on_tlv_present: r.on_tlv_present.as_ref().map(|k| {
                        proxy_protocol::KeyValuePair {
                            metadata_namespace: k.metadata_namespace.clone().unwrap_or_default(),
                            key: k.key.clone().unwrap_or_default(),
                            ..Default::default()
                        }
                    }),
                })
                .collect(),
            allow_requests_without_proxy_protocol: p
                .allow_requests_without_proxy_protocol
                .unwrap_or(false),
            ..Default::default()
        };
        // The PROXY header comes before anything else on the connection, TLS included.
        l.listener_filters.insert(
            0,
            ListenerFilter {
                name: PROXY_PROTOCOL.into(),
                config_type: Some(listener_filter::ConfigType::TypedConfig(any(&config))),
                ..Default::default()
            },
        );
    }
}

/// HttpListenerOption's connection manager settings, and ListenerOption's access logs.
pub(crate) fn apply_connection_manager(
    hcm: &mut HttpConnectionManager,
    http: Option<&HttpListenerOptions>,
    listener: Option<&ListenerOptions>,
) {
    if let Some(s) = http.and_then(|h| h.http_connection_manager_settings.as_ref()) {
        if let Some(name) = &s.server_name {
            hcm.server_name = name.clone();
        }
        if let Some(t) = s.server_header_transformation {
            hcm.server_header_transformation = match t {
                ServerHeaderTransformation::Overwrite => Sht::Overwrite,
                ServerHeaderTransformation::AppendIfAbsent => Sht::AppendIfAbsent,
                ServerHeaderTransformation::PassThrough => Sht::PassThrough,
            } as i32;
        }
        if let Some(u) = s.use_remote_address {
            hcm.use_remote_address = Some(BoolValue { value: u });
        }
        if let Some(h) = s.xff_num_trusted_hops {
            hcm.xff_num_trusted_hops = h;
        }
        if let Some(t) = &s.idle_timeout {
            hcm.common_http_protocol_options
                .get_or_insert_with(Default::default)
                .idle_timeout = Some(duration(t));
        }
        if let Some(t) = &s.stream_idle_timeout {
            hcm.stream_idle_timeout = Some(duration(t));
        }
        if let Some(kb) = s.max_request_headers_kb {
            hcm.max_request_headers_kb = Some(u32v(kb));
        }
    }
    let logs = listener
        .and_then(|l| l.access_logging_service.as_ref())
        .and_then(|s| s.access_log.as_ref());
    hcm.access_log.extend(
        logs.into_iter()
            .flatten()
            .filter_map(|l| l.file_sink.as_ref())
            .map(file_access_log),
    );
}

fn file_access_log(sink: &FileSink) -> AccessLog {
    let path = sink.path.clone().unwrap_or_default();
    let config = if let Some(j) = &sink.json_format {
        Any {
            type_url: FileAccessLog::type_url(),
            value: JsonFileAccessLog {
                path,
                log_format: Some(JsonFormatString {
                    json_format: Some(sorted_struct(&j.0)),
                }),
            }
            .encode_to_vec(),
        }
    } else {
        any(&FileAccessLog {
            path,
            access_log_format: sink.string_format.as_ref().map(|s| {
                file_access_log::AccessLogFormat::LogFormat(SubstitutionFormatString {
                    format: Some(substitution_format_string::Format::TextFormatSource(
                        DataSource {
                            specifier: Some(data_source::Specifier::InlineString(s.clone())),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                })
            }),
        })
    };
    AccessLog {
        name: FILE_ACCESS_LOG.into(),
        config_type: Some(access_log::ConfigType::TypedConfig(config)),
        ..Default::default()
    }
}

// A `FileAccessLog` with a JSON format, wire-compatible with Envoy's message, whose
// `google.protobuf.Struct` entries are encoded in key order: prost keeps a Struct's fields in
// a HashMap and encodes them in hash order, so the same input would encode differently on
// every translation (and every translation would look like a change).

#[derive(Clone, PartialEq, prost::Message)]
struct JsonFileAccessLog {
    #[prost(string, tag = "1")]
    path: String,
    /// `log_format`, a `SubstitutionFormatString`.
    #[prost(message, optional, tag = "5")]
    log_format: Option<JsonFormatString>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct JsonFormatString {
    #[prost(message, optional, tag = "2")]
    json_format: Option<SortedStruct>,
}

/// `google.protobuf.Struct`: its map is a repeated key/value entry on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct SortedStruct {
    #[prost(message, repeated, tag = "1")]
    fields: Vec<StructEntry>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StructEntry {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<SortedValue>,
}

/// `google.protobuf.Value`, without the list and null kinds (refused before translation).
#[derive(Clone, PartialEq, prost::Message)]
struct SortedValue {
    #[prost(oneof = "SortedKind", tags = "2, 3, 4, 5")]
    kind: Option<SortedKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum SortedKind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    String(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
    #[prost(message, tag = "5")]
    Struct(SortedStruct),
}

fn sorted_struct(fields: &serde_json::Map<String, serde_json::Value>) -> SortedStruct {
    use serde_json::Value as J;
    let mut entries: Vec<StructEntry> = fields
        .iter()
        .filter_map(|(k, v)| {
            let kind = match v {
                J::String(s) => SortedKind::String(s.clone()),
                J::Number(n) => SortedKind::Number(n.as_f64().unwrap_or_default()),
                J::Bool(b) => SortedKind::Bool(*b),
                J::Object(o) => SortedKind::Struct(sorted_struct(o)),
                J::Array(_) | J::Null => return None,
            };
            Some(StructEntry {
                key: k.clone(),
                value: Some(SortedValue { kind: Some(kind) }),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    SortedStruct { fields: entries }
}

/// HttpListenerOption's network filters, before the connection manager.
pub(crate) fn network_filters(
    http: Option<&HttpListenerOptions>,
    stat_prefix: &str,
) -> Vec<Filter> {
    let Some(c) = http.and_then(|h| h.connection_limit.as_ref()) else {
        return Vec::new();
    };
    let config = ConnectionLimit {
        stat_prefix: stat_prefix.to_string(),
        max_connections: c.max_active_connections.map(|m| UInt64Value {
            value: u64::from(m),
        }),
        delay: c.delay_before_close.as_ref().map(duration),
        ..Default::default()
    };
    vec![Filter {
        name: CONNECTION_LIMIT.into(),
        config_type: Some(filter::ConfigType::TypedConfig(any(&config))),
    }]
}

/// HttpListenerOption's HTTP filters that come first, in the order requests meet them: the
/// health check (answered before anything else can refuse it), compression (so that every
/// reply after it is compressed, local ones included), then the rate limit.
pub(crate) fn leading_http_filters(
    http: Option<&HttpListenerOptions>,
    stat_prefix: &str,
) -> Vec<HttpFilter> {
    let Some(h) = http else {
        return Vec::new();
    };
    let filter = |name: &str, config| HttpFilter {
        name: name.to_string(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..Default::default()
    };
    let mut out = Vec::new();
    if let Some(path) = h.health_check.as_ref().and_then(|c| c.path.as_ref()) {
        let config = HealthCheck {
            pass_through_mode: Some(BoolValue { value: false }),
            headers: vec![HeaderMatcher {
                name: ":path".into(),
                header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(
                    StringMatcher {
                        match_pattern: Some(string_matcher::MatchPattern::Exact(path.clone())),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }],
            ..Default::default()
        };
        out.push(filter(HEALTH_CHECK, any(&config)));
    }
    if let Some(g) = &h.gzip {
        out.push(filter(COMPRESSOR, any(&compressor_config(g))));
    }
    if let Some(r) = &h.http_local_ratelimit {
        out.push(filter(
            LOCAL_RATELIMIT,
            any(&local_ratelimit(r, stat_prefix)),
        ));
    }
    out
}

fn compressor_config(g: &Gzip) -> Compressor {
    let library = EnvoyGzip {
        memory_level: g.memory_level.map(u32v),
        window_bits: g.window_bits.map(u32v),
        compression_level: match g.compression_level {
            Some(GzipCompressionLevel::Best) => gzip::CompressionLevel::CompressionLevel9,
            Some(GzipCompressionLevel::Speed) => gzip::CompressionLevel::BestSpeed,
            _ => gzip::CompressionLevel::DefaultCompression,
        } as i32,
        compression_strategy: match g.compression_strategy {
            Some(GzipCompressionStrategy::Filtered) => gzip::CompressionStrategy::Filtered,
            Some(GzipCompressionStrategy::Huffman) => gzip::CompressionStrategy::HuffmanOnly,
            Some(GzipCompressionStrategy::Rle) => gzip::CompressionStrategy::Rle,
            _ => gzip::CompressionStrategy::DefaultStrategy,
        } as i32,
        ..Default::default()
    };
    Compressor {
        compressor_library: Some(TypedExtensionConfig {
            name: GZIP.into(),
            typed_config: Some(any(&library)),
        }),
        response_direction_config: Some(compressor::ResponseDirectionConfig {
            common_config: Some(compressor::CommonDirectionConfig {
                min_content_length: g.content_length.map(u32v),
                content_type_matcher: g
                    .content_type
                    .iter()
                    .flatten()
                    .map(|t| StringMatcher {
                        match_pattern: Some(string_matcher::MatchPattern::Exact(t.clone())),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            disable_on_etag_header: g.disable_on_etag_header.unwrap_or(false),
            remove_accept_encoding_header: g.remove_accept_encoding_header.unwrap_or(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn local_ratelimit(r: &LocalRateLimitSettings, stat_prefix: &str) -> LocalRateLimit {
    let always = || {
        Some(
            envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent {
                default_value: Some(FractionalPercent {
                    numerator: 100,
                    denominator: 0,
                }),
                runtime_key: String::new(),
            },
        )
    };
    let bucket = r.default_limit.as_ref();
    LocalRateLimit {
        stat_prefix: stat_prefix.to_string(),
        token_bucket: bucket.map(|b| EnvoyTokenBucket {
            max_tokens: b.max_tokens.unwrap_or(1),
            tokens_per_fill: b.tokens_per_fill.map(u32v),
            fill_interval: b.fill_interval.as_ref().map(duration),
        }),
        filter_enabled: always(),
        filter_enforced: always(),
        local_rate_limit_per_downstream_connection: r
            .local_rate_limit_per_downstream_connection
            .unwrap_or(false),
        enable_x_ratelimit_headers: i32::from(r.enable_x_ratelimit_headers == Some(true)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;

    use super::super::listener::{ManagerOptions, http_listener};
    use crate::api::k8sgateway::ListenerOptions;
    use crate::translate::ProxyConfig;
    use crate::translate::policy::access_log::{format, known_commands};

    /// Every command the format check lets through is one Envoy knows: the check's list is
    /// handed to `envoy --mode validate` whole, as text and as JSON.
    #[test]
    fn envoy_accepts_every_access_log_command_gatesim_accepts() {
        let Some(envoy) = crate::infra::envoy::locate_or_skip("access log commands")
            .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
        else {
            return;
        };
        let commands: Vec<String> = known_commands().collect();
        let text = commands.join(" ");
        assert_eq!(format(&text), Ok(()), "the check accepts its own list");
        let options: ListenerOptions = serde_json::from_value(serde_json::json!({
            "accessLoggingService": {"accessLog": [
                {"fileSink": {"path": "/dev/null", "stringFormat": text}},
                {"fileSink": {"path": "/dev/null", "jsonFormat": {
                    "all": text, "count": 3, "flag": true,
                    "nested": {"code": "%RESPONSE_CODE%"},
                }}},
            ]},
        }))
        .expect("ListenerOptions");
        let manager = ManagerOptions {
            listener: Some(&options),
            ..Default::default()
        };
        let proxy = ProxyConfig {
            node_id: "test/access-log".into(),
            listeners: vec![http_listener("l", "127.0.0.1", 10080, "rc", manager)],
            routes: vec![
                RouteConfiguration {
                    name: "rc".into(),
                    ..Default::default()
                }
                .into(),
            ],
            ..Default::default()
        };
        if let Err(e) = crate::infra::validate::validate_proxy(&envoy, &proxy) {
            panic!("Envoy rejects a command gatesim accepts: {e}");
        }
    }
}
