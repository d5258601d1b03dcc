//! Small snapshots for the state-machine tests: one listener whose routes send each path
//! prefix to a cluster, every cluster loaded over EDS.

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig};
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::{AggregatedConfigSource, ConfigSource};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener, filter};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::{Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{HttpConnectionManager, Rds};
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryResponse, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use prost::Message;

use super::resource::ResourceType;
use super::snapshot::Snapshot;

fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

pub(crate) fn cluster(name: &str, tag: &str) -> Cluster {
    Cluster {
        name: name.into(),
        alt_stat_name: tag.into(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        ..Default::default()
    }
}

pub(crate) fn endpoints(name: &str) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: name.into(),
        ..Default::default()
    }
}

pub(crate) fn listener(name: &str, route: &str) -> Listener {
    let hcm = HttpConnectionManager {
        stat_prefix: name.into(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: route.into(),
        })),
        ..Default::default()
    };
    Listener {
        name: name.into(),
        filter_chains: vec![FilterChain {
            filters: vec![Filter {
                name: "envoy.filters.network.http_connection_manager".into(),
                config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm))),
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A route configuration sending each `(prefix, cluster)` pair.
pub(crate) fn routes(name: &str, rules: &[(&str, &str)]) -> RouteConfiguration {
    RouteConfiguration {
        name: name.into(),
        virtual_hosts: vec![VirtualHost {
            name: "all".into(),
            domains: vec!["*".into()],
            routes: rules
                .iter()
                .map(|(prefix, cluster)| Route {
                    r#match: Some(RouteMatch {
                        path_specifier: Some(PathSpecifier::Prefix((*prefix).into())),
                        ..Default::default()
                    }),
                    action: Some(Action::Route(RouteAction {
                        cluster_specifier: Some(ClusterSpecifier::Cluster((*cluster).into())),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Listener "http" with route configuration "http"; one rule per `(prefix, cluster)`, one EDS
/// cluster per distinct cluster name.
pub(crate) fn snapshot(revision: u64, rules: &[(&str, &str)]) -> Snapshot {
    tagged_snapshot(revision, rules, "")
}

/// As `snapshot`, with every cluster's configuration varied by `tag`.
pub(crate) fn tagged_snapshot(revision: u64, rules: &[(&str, &str)], tag: &str) -> Snapshot {
    let mut names: Vec<&str> = rules.iter().map(|(_, c)| *c).collect();
    names.sort();
    names.dedup();
    Snapshot::new(
        revision,
        names.iter().map(|n| cluster(n, tag)).collect(),
        names.iter().map(|n| endpoints(n)).collect(),
        vec![listener("http", "http")],
        vec![routes("http", rules)],
    )
    .expect("fixture snapshot is consistent")
}

pub(crate) fn any_name(any: &Any) -> String {
    let bytes = any.value.as_slice();
    match ResourceType::from_type_url(&any.type_url) {
        Some(ResourceType::Cluster) => Cluster::decode(bytes).map(|c| c.name),
        Some(ResourceType::Endpoint) => {
            ClusterLoadAssignment::decode(bytes).map(|c| c.cluster_name)
        }
        Some(ResourceType::Listener) => Listener::decode(bytes).map(|l| l.name),
        Some(ResourceType::Route) => RouteConfiguration::decode(bytes).map(|r| r.name),
        None => return format!("<{}>", any.type_url),
    }
    .expect("fixture resources decode")
}

/// `(type, resource names)` of a state-of-the-world response.
pub(crate) fn sotw_summary(r: &DiscoveryResponse) -> (ResourceType, Vec<String>) {
    let ty = ResourceType::from_type_url(&r.type_url).expect("known type");
    (ty, r.resources.iter().map(any_name).collect())
}

/// `(type, upserted names, removed names)` of a delta response.
pub(crate) fn delta_summary(
    r: &DeltaDiscoveryResponse,
) -> (ResourceType, Vec<String>, Vec<String>) {
    let ty = ResourceType::from_type_url(&r.type_url).expect("known type");
    (
        ty,
        r.resources.iter().map(|x| x.name.clone()).collect(),
        r.removed_resources.clone(),
    )
}
