//! Listeners: one Envoy listener per Gateway port.
//!
//! HTTP listeners sharing a port share one filter chain and one route configuration; the
//! virtual hosts inside it keep their routes apart (see `vhosts`). HTTPS listeners sharing a
//! port each get their own filter chain, selected by SNI, with their own certificates and route
//! configuration.

use envoy_types::pb::envoy::config::core::v3::{
    DataSource, TransportSocket, data_source, transport_socket,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds,
    http_connection_manager::{CodecType, RouteSpecifier, UpgradeConfig},
    http_filter,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, TlsCertificate,
};

use super::options::PolicyFilters;
use super::{ads_source, any, listener_options, socket_address};
use crate::api::k8sgateway::{HttpListenerOptions, ListenerOptions};
use crate::translate::gateways::CertPair;

/// What shapes one connection manager besides its routes: the HTTP filters its routes'
/// policies need, and the effective HttpListenerOption and ListenerOption of its listeners.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ManagerOptions<'a> {
    pub filters: PolicyFilters,
    pub http: Option<&'a HttpListenerOptions>,
    pub listener: Option<&'a ListenerOptions>,
}

/// One HTTP connection manager, reading its routes from `route_config` over ADS, with the
/// HTTP filters its policies need before the router, and the network filters that go before
/// it in the filter chain.
fn http_connection_manager(
    stat_prefix: &str,
    route_config: &str,
    o: ManagerOptions<'_>,
) -> Vec<Filter> {
    let mut http_filters = listener_options::leading_http_filters(o.http, stat_prefix);
    http_filters.extend(o.filters.http_filters(o.http));
    http_filters.push(HttpFilter {
        name: "envoy.filters.http.router".into(),
        config_type: Some(http_filter::ConfigType::TypedConfig(
            any(&Router::default()),
        )),
        ..Default::default()
    });
    let mut hcm = HttpConnectionManager {
        codec_type: CodecType::Auto as i32,
        stat_prefix: stat_prefix.to_string(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads_source()),
            route_config_name: route_config.to_string(),
        })),
        http_filters,
        upgrade_configs: vec![UpgradeConfig {
            upgrade_type: "websocket".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    listener_options::apply_connection_manager(&mut hcm, o.http, o.listener);
    let mut filters = listener_options::network_filters(o.http, stat_prefix);
    filters.push(Filter {
        name: "envoy.filters.network.http_connection_manager".into(),
        config_type: Some(filter::ConfigType::TypedConfig(any(&hcm))),
    });
    filters
}

/// A port whose HTTP listeners all share `route_config`.
pub(crate) fn http_listener(
    name: &str,
    ip: &str,
    port: u32,
    route_config: &str,
    options: ManagerOptions<'_>,
) -> Listener {
    let mut l = Listener {
        name: name.to_string(),
        stat_prefix: stat_prefix(name),
        address: Some(socket_address(ip, port)),
        filter_chains: vec![FilterChain {
            name: name.to_string(),
            filters: http_connection_manager(&stat_prefix(name), route_config, options),
            ..Default::default()
        }],
        ..Default::default()
    };
    if let Some(o) = options.listener {
        listener_options::apply_listener(&mut l, o);
    }
    l
}

/// One HTTPS Gateway listener on a shared port.
pub(crate) struct TlsChain<'a> {
    pub name: String,
    pub hostname: Option<&'a str>,
    pub certificates: &'a [CertPair],
    pub route_config: String,
    pub options: ManagerOptions<'a>,
}

/// HTTPS listeners on one port; `listener` is the port's effective ListenerOption.
pub(crate) fn https_listener(
    name: &str,
    ip: &str,
    port: u32,
    chains: &[TlsChain<'_>],
    listener: Option<&ListenerOptions>,
) -> Listener {
    let mut l = Listener {
        name: name.to_string(),
        stat_prefix: stat_prefix(name),
        address: Some(socket_address(ip, port)),
        listener_filters: vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".into(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(any(
                &TlsInspector::default(),
            ))),
            ..Default::default()
        }],
        filter_chains: chains
            .iter()
            .map(|c| FilterChain {
                name: c.name.clone(),
                filter_chain_match: c.hostname.map(|h| FilterChainMatch {
                    server_names: vec![h.to_string()],
                    ..Default::default()
                }),
                transport_socket: Some(tls_socket(c.certificates)),
                filters: http_connection_manager(&stat_prefix(&c.name), &c.route_config, c.options),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    if let Some(o) = listener {
        listener_options::apply_listener(&mut l, o);
    }
    l
}

fn tls_socket(certs: &[CertPair]) -> TransportSocket {
    let inline = |b: &[u8]| DataSource {
        specifier: Some(data_source::Specifier::InlineBytes(b.to_vec())),
        ..Default::default()
    };
    let ctx = DownstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            tls_certificates: certs
                .iter()
                .map(|c| TlsCertificate {
                    certificate_chain: Some(inline(&c.cert_pem)),
                    private_key: Some(inline(&c.key_pem)),
                    ..Default::default()
                })
                .collect(),
            alpn_protocols: vec!["h2".into(), "http/1.1".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(any(&ctx))),
    }
}

/// Stats prefixes may not contain ':'; names use '/', which Envoy keeps readable.
fn stat_prefix(name: &str) -> String {
    name.replace(['/', ':'], "_")
}
