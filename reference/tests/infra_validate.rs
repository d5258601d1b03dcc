//! `validate_proxy`: a Gateway's dynamic resources folded into a static bootstrap and judged by
//! a real Envoy.

mod infra_support;

use std::time::Instant;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, EdsClusterConfig,
};
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ApiVersion, ConfigSource, SocketAddress, address,
};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener, filter};
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, route,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_filter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher;
use envoy_types::pb::google::protobuf::Duration;
use envoy_types::util::pack_any;
use prost::Message;

use gatesim_reference::infra::envoy::EnvoyError;
use gatesim_reference::infra::validate::{static_bootstrap, validate_proxy};
use gatesim_reference::translate::{ProxyConfig, RouteTable};

use infra_support::envoy_or_skip;

fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

fn socket(ip: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: ip.to_string(),
            port_specifier: Some(PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

fn hcm_chain(route_config_name: &str) -> FilterChain {
    let hcm = HttpConnectionManager {
        stat_prefix: "http".to_string(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: route_config_name.to_string(),
        })),
        http_filters: vec![HttpFilter {
            name: "envoy.filters.http.router".to_string(),
            config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
                Router::default(),
            ))),
            ..Default::default()
        }],
        ..Default::default()
    };
    FilterChain {
        filters: vec![Filter {
            name: "envoy.filters.network.http_connection_manager".to_string(),
            config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm))),
        }],
        ..Default::default()
    }
}

fn listener(name: &str, port: u32, route_config_name: &str) -> Listener {
    Listener {
        name: name.to_string(),
        address: Some(socket("127.0.10.1", port)),
        filter_chains: vec![hcm_chain(route_config_name)],
        ..Default::default()
    }
}

/// Envoy checks clusters of a route configuration given inline (as validation gives it)
/// by default, so a route to an unknown cluster is caught without `validate_clusters`.
fn route_config(name: &str, path: PathSpecifier, cluster: &str) -> RouteTable {
    RouteConfiguration {
        name: name.to_string(),
        virtual_hosts: vec![VirtualHost {
            name: "any".to_string(),
            domains: vec!["*".to_string()],
            routes: vec![Route {
                r#match: Some(RouteMatch {
                    path_specifier: Some(path),
                    ..Default::default()
                }),
                action: Some(route::Action::Route(RouteAction {
                    cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_string())),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

fn eds_cluster(name: &str) -> Cluster {
    Cluster {
        name: name.to_string(),
        connect_timeout: Some(Duration {
            seconds: 1,
            nanos: 0,
        }),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        ..Default::default()
    }
}

fn endpoints(cluster: &str, ip: &str, port: u32) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster.to_string(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: vec![LbEndpoint {
                host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                    address: Some(socket(ip, port)),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One listener on port 80 routing everything to the `echo` EDS cluster.
fn small_proxy() -> ProxyConfig {
    ProxyConfig {
        node_id: "ns/gw".to_string(),
        address: Some("127.0.10.1".to_string()),
        parameters: None,
        listeners: vec![listener("http-80", 80, "http-80")],
        routes: vec![route_config(
            "http-80",
            PathSpecifier::Prefix("/".into()),
            "echo",
        )],
        clusters: vec![eds_cluster("echo")],
        endpoints: vec![endpoints("echo", "127.0.20.1", 3000)],
    }
}

fn rejection(envoy: &std::path::Path, proxy: &ProxyConfig) -> String {
    match validate_proxy(envoy, proxy) {
        Err(EnvoyError::Rejected(msg)) => msg,
        other => panic!("expected Envoy to reject the configuration, got {other:?}"),
    }
}

#[test]
fn a_small_valid_proxy_passes() {
    let Some(envoy) = envoy_or_skip("a_small_valid_proxy_passes") else {
        return;
    };
    let started = Instant::now();
    validate_proxy(&envoy, &small_proxy()).unwrap();
    eprintln!("validate_proxy took {:?}", started.elapsed());
}

#[test]
fn a_route_to_an_unknown_cluster_is_rejected_by_name() {
    let Some(envoy) = envoy_or_skip("a_route_to_an_unknown_cluster_is_rejected_by_name") else {
        return;
    };
    let mut proxy = small_proxy();
    proxy.routes = vec![route_config(
        "http-80",
        PathSpecifier::Prefix("/".into()),
        "no-such-cluster",
    )];
    let msg = rejection(&envoy, &proxy);
    assert!(msg.contains("unknown cluster 'no-such-cluster'"), "{msg}");
}

#[test]
fn a_bad_regex_is_rejected() {
    let Some(envoy) = envoy_or_skip("a_bad_regex_is_rejected") else {
        return;
    };
    let mut proxy = small_proxy();
    let bad = PathSpecifier::SafeRegex(RegexMatcher {
        regex: "/v1/(unclosed".into(),
        ..Default::default()
    });
    proxy.routes = vec![route_config("http-80", bad, "echo")];
    let msg = rejection(&envoy, &proxy);
    // RE2's complaint and the offending pattern, without Envoy's log-line decoration.
    assert!(msg.contains("missing ): /v1/(unclosed"), "{msg}");
    assert!(msg.starts_with("error initializing configuration"), "{msg}");
}

#[test]
fn endpoints_are_checked_too() {
    // The EDS cluster becomes static with its assignment inline, so a malformed endpoint
    // address is caught here rather than as a NACK at run time.
    let Some(envoy) = envoy_or_skip("endpoints_are_checked_too") else {
        return;
    };
    let mut proxy = small_proxy();
    proxy.endpoints = vec![endpoints("echo", "not-an-ip", 3000)];
    let msg = rejection(&envoy, &proxy);
    assert!(msg.contains("not-an-ip"), "{msg}");
}

#[test]
fn every_filter_chain_gets_its_routes_inline() {
    let Some(envoy) = envoy_or_skip("every_filter_chain_gets_its_routes_inline") else {
        return;
    };
    let mut proxy = small_proxy();
    let mut l = listener("http-8080", 8080, "first");
    l.default_filter_chain = Some(hcm_chain("second"));
    proxy.listeners.push(l);
    proxy.routes.push(route_config(
        "first",
        PathSpecifier::Prefix("/a".into()),
        "echo",
    ));
    proxy.routes.push(route_config(
        "second",
        PathSpecifier::Path("/b".into()),
        "echo",
    ));
    validate_proxy(&envoy, &proxy).unwrap();

    let bootstrap = static_bootstrap(&proxy).unwrap();
    let statics = bootstrap.static_resources.unwrap();
    let l = &statics.listeners[1];
    let chains = l
        .filter_chains
        .iter()
        .chain(l.default_filter_chain.as_ref());
    let inlined: Vec<String> = chains
        .map(|c| match &c.filters[0].config_type {
            Some(filter::ConfigType::TypedConfig(any)) => {
                match HttpConnectionManager::decode(any.value.as_slice())
                    .unwrap()
                    .route_specifier
                {
                    Some(RouteSpecifier::RouteConfig(rc)) => rc.name,
                    other => panic!("not inlined: {other:?}"),
                }
            }
            other => panic!("unexpected filter config {other:?}"),
        })
        .collect();
    assert_eq!(inlined, ["first", "second"]);
    let cluster = &statics.clusters[0];
    assert_eq!(
        cluster.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32))
    );
    assert_eq!(
        cluster.load_assignment.as_ref().unwrap().cluster_name,
        "echo"
    );

    // And the route config only the default chain uses is really judged: break it.
    proxy.routes[2] = route_config(
        "second",
        PathSpecifier::Path("/b".into()),
        "missing-from-default",
    );
    let msg = rejection(&envoy, &proxy);
    assert!(msg.contains("missing-from-default"), "{msg}");
}

#[test]
fn an_rds_reference_to_a_missing_route_config_is_an_error_of_its_own() {
    let mut proxy = small_proxy();
    proxy.routes.clear();
    // No Envoy needed: this is found before Envoy is asked.
    match validate_proxy(std::path::Path::new("/nonexistent/envoy"), &proxy) {
        Err(EnvoyError::Unresolvable(msg)) => assert!(msg.contains("\"http-80\""), "{msg}"),
        other => panic!("expected Unresolvable, got {other:?}"),
    }
}
