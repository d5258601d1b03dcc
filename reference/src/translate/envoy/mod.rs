//! Building Envoy xDS messages (prost types from envoy-types).

pub(crate) mod cluster;
pub(crate) mod lambda;
pub(crate) mod listener;
pub(crate) mod listener_options;
pub(crate) mod options;
pub(crate) mod route;
pub(crate) mod upstream;

use envoy_types::pb::envoy::config::core::v3::{Address, config_source, header_value_option};
use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, HeaderValue, HeaderValueOption,
    SocketAddress, address, socket_address::PortSpecifier,
};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};

/// Pack a message into `Any` with its canonical type URL.
pub(crate) fn any<M: prost::Message + prost::Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

/// Dynamic resources come over the same ADS stream as everything else.
pub(crate) fn ads_source() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource {},
        )),
        ..Default::default()
    }
}

/// `::`, the IPv6 wildcard, also takes IPv4 connections (`ipv4_compat`), as K8sGateway's
/// listeners do.
pub(crate) fn socket_address(ip: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: ip.to_string(),
            port_specifier: Some(PortSpecifier::PortValue(port)),
            ipv4_compat: ip == "::",
            ..Default::default()
        })),
    }
}

pub(crate) fn millis(ms: u64) -> Duration {
    Duration {
        seconds: (ms / 1000) as i64,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

pub(crate) fn u32v(v: u32) -> UInt32Value {
    UInt32Value { value: v }
}

/// A header to add; `overwrite` replaces existing values, otherwise the value is appended.
///
/// Envoy reads header values as format strings (`%REQ(x)%` inserts a request header, and a
/// lone `%` is refused); a Gateway API value is literal text, so every `%` is doubled.
pub(crate) fn header(name: &str, value: &str, overwrite: bool) -> HeaderValueOption {
    use header_value_option::HeaderAppendAction as A;
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_string(),
            value: value.replace('%', "%%"),
            ..Default::default()
        }),
        append_action: if overwrite {
            A::OverwriteIfExistsOrAdd
        } else {
            A::AppendIfExistsOrAdd
        } as i32,
        ..Default::default()
    }
}
