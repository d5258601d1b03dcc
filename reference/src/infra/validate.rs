//! Asking Envoy itself whether it accepts one Gateway's translated resources.
//!
//! `envoy --mode validate` checks a bootstrap and its static resources without contacting any
//! xDS server, so the dynamic resources are folded into a static bootstrap first:
//!
//! - every HTTP connection manager (in every filter chain, the default one included) that names a
//!   route configuration over RDS gets that configuration inline, which is what Envoy would have
//!   fetched for it;
//! - every EDS cluster becomes a `STATIC` cluster carrying its `ClusterLoadAssignment` inline.
//!   Keeping the EDS type would need a config source and would leave the endpoints unchecked;
//!   a static cluster runs them through the same validation EDS would;
//! - the runtime is the one the proxies run with ([`super::bootstrap::RUNTIME`]), so regexes
//!   are held to the same RE2 program size.
//!
//! The bootstrap is written as binary protobuf (`.pb`), so no JSON printer is involved and what
//! Envoy reads is byte for byte what it would receive over xDS.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use envoy_types::pb::envoy::config::bootstrap::v3::bootstrap::StaticResources;
use envoy_types::pb::envoy::config::bootstrap::v3::runtime_layer::LayerSpecifier;
use envoy_types::pb::envoy::config::bootstrap::v3::{Bootstrap, LayeredRuntime, RuntimeLayer};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{FilterChain, Listener, filter};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value};
use prost::{Message, Name};

use super::bootstrap::{DEFAULT_NODE_CLUSTER, RUNTIME};
use super::envoy::{EnvoyError, validate_file};
use crate::translate::{ProxyConfig, RouteTable};

/// Validate one Gateway's resources with Envoy; `Err(EnvoyError::Rejected)` carries Envoy's
/// own message.
pub fn validate_proxy(envoy: &Path, proxy: &ProxyConfig) -> Result<(), EnvoyError> {
    validate_bootstrap(envoy, &static_bootstrap(proxy)?)
}

/// Validate a whole bootstrap with Envoy (a [`static_bootstrap`], possibly adjusted).
pub fn validate_bootstrap(envoy: &Path, bootstrap: &Bootstrap) -> Result<(), EnvoyError> {
    let file = TempFile::new("pb");
    std::fs::write(&file.0, bootstrap.encode_to_vec()).map_err(|source| EnvoyError::Io {
        path: file.0.clone(),
        source,
    })?;
    // Envoy names the file it read; the person reading the message knows the Gateway.
    let gateway = bootstrap.node.as_ref().map_or("", |node| node.id.as_str());
    validate_file(envoy, &file.0).map_err(|error| match error {
        EnvoyError::Rejected(message) => EnvoyError::Rejected(
            message
                .replace(
                    &format!("'{}'", file.0.display()),
                    &format!("of Gateway {gateway}"),
                )
                .replace(&file.0.display().to_string(), &format!("Gateway {gateway}")),
        ),
        other => other,
    })
}

/// Envoy's words in a rejection by `validate_proxy`, without the name of the temporary file
/// the configuration was read from (which says nothing to anyone, and differs per call).
pub fn envoy_message(rejection: &str) -> &str {
    rejection
        .strip_prefix("error initializing configuration '")
        .and_then(|rest| rest.split_once("': "))
        .map_or(rejection, |(_, message)| message)
}

/// The proxy's dynamic resources as a static bootstrap (see the module documentation).
pub fn static_bootstrap(proxy: &ProxyConfig) -> Result<Bootstrap, EnvoyError> {
    let listeners = proxy
        .listeners
        .iter()
        .map(|l| inline_routes(l, &proxy.routes))
        .collect::<Result<Vec<_>, _>>()?;
    let clusters = proxy
        .clusters
        .iter()
        .map(|c| inline_endpoints(c, &proxy.endpoints))
        .collect();
    Ok(Bootstrap {
        node: Some(Node {
            id: proxy.node_id.clone(),
            cluster: DEFAULT_NODE_CLUSTER.to_string(),
            ..Default::default()
        }),
        static_resources: Some(StaticResources {
            listeners,
            clusters,
            ..Default::default()
        }),
        layered_runtime: Some(runtime(RUNTIME)),
        ..Default::default()
    })
}

/// A runtime of one static layer holding `values`.
pub fn runtime(values: &[(&str, u64)]) -> LayeredRuntime {
    let fields = values
        .iter()
        .map(|(k, v)| {
            let number = Value {
                kind: Some(value::Kind::NumberValue(*v as f64)),
            };
            (k.to_string(), number)
        })
        .collect();
    LayeredRuntime {
        layers: vec![RuntimeLayer {
            name: "gatesim".into(),
            layer_specifier: Some(LayerSpecifier::StaticLayer(Struct { fields })),
        }],
    }
}

fn inline_routes(listener: &Listener, routes: &[RouteTable]) -> Result<Listener, EnvoyError> {
    let mut listener = listener.clone();
    let chains = listener
        .filter_chains
        .iter_mut()
        .chain(listener.default_filter_chain.as_mut());
    for chain in chains {
        inline_chain_routes(&listener.name, chain, routes)?;
    }
    Ok(listener)
}

fn inline_chain_routes(
    listener: &str,
    chain: &mut FilterChain,
    routes: &[RouteTable],
) -> Result<(), EnvoyError> {
    for f in &mut chain.filters {
        let Some(filter::ConfigType::TypedConfig(any)) = &mut f.config_type else {
            continue;
        };
        if any.type_url != HttpConnectionManager::type_url() {
            continue;
        }
        let mut hcm = HttpConnectionManager::decode(any.value.as_slice()).map_err(|e| {
            EnvoyError::Unresolvable(format!(
                "listener {listener:?}: filter {:?} does not decode as HttpConnectionManager: {e}",
                f.name
            ))
        })?;
        let Some(RouteSpecifier::Rds(rds)) = &hcm.route_specifier else {
            continue;
        };
        let route = routes
            .iter()
            .find(|r| r.name == rds.route_config_name)
            .ok_or_else(|| {
                EnvoyError::Unresolvable(format!(
                    "listener {listener:?} refers to route configuration {:?}, which the proxy \
                 configuration does not contain",
                    rds.route_config_name
                ))
            })?;
        hcm.route_specifier = Some(RouteSpecifier::RouteConfig(route.to_proto()));
        *any = Any {
            type_url: any.type_url.clone(),
            value: hcm.encode_to_vec(),
        };
    }
    Ok(())
}

fn inline_endpoints(cluster: &Cluster, endpoints: &[ClusterLoadAssignment]) -> Cluster {
    let eds = Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
    if cluster.cluster_discovery_type != eds {
        return cluster.clone();
    }
    let mut cluster = cluster.clone();
    // EDS asks for the service name when one is set, else for the cluster's own name.
    let wanted = match cluster.eds_cluster_config.take() {
        Some(c) if !c.service_name.is_empty() => c.service_name,
        _ => cluster.name.clone(),
    };
    // A cluster whose assignment is missing would wait for EDS forever; with no endpoints it
    // behaves the same way for traffic (no healthy upstream), so that is what is checked.
    let assignment = endpoints
        .iter()
        .find(|e| e.cluster_name == wanted)
        .cloned()
        .unwrap_or_else(|| ClusterLoadAssignment {
            cluster_name: wanted,
            ..Default::default()
        });
    cluster.cluster_discovery_type = Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32));
    cluster.load_assignment = Some(assignment);
    cluster
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(extension: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("gatesim-validate-{}-{n}.{extension}", std::process::id());
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
