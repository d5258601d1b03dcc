//! The bootstrap each Gateway's Envoy starts from.
//!
//! Everything but the way home is dynamic: listeners and clusters arrive over one ADS stream
//! from the controller, so a Gateway's configuration changes without restarting its proxy. The
//! bootstrap is written as YAML so that a person debugging a proxy can read it in its work
//! directory; its shape is checked by `envoy --mode validate` in the tests.
//!
//! The runtime has one static layer, [`RUNTIME`]: the RE2 program size Envoy accepts in a
//! regex, raised from Envoy's default of 100 to what the controller's validation allows (see
//! `validate::regex::MAX_PROGRAM_SIZE`). Left out on purpose: any admin access log. An overload
//! manager is configured only for the global downstream connection limit, without which Envoy
//! logs a warning at every start that would otherwise open the log tail printed when a proxy
//! dies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

/// The static runtime layer of every bootstrap. Envoy refuses a regex whose RE2 program is
/// larger than the error level, and with it the whole configuration that carries it; the
/// controller refuses such a regex before translation, so the two must agree. The warning
/// level is the same: a warning about a regex the controller accepted would have nobody to
/// act on it.
pub const RUNTIME: &[(&str, u64)] = &[
    (
        "re2.max_program_size.error_level",
        crate::validate::regex::MAX_PROGRAM_SIZE,
    ),
    (
        "re2.max_program_size.warn_level",
        crate::validate::regex::MAX_PROGRAM_SIZE,
    ),
];

/// Name of the static cluster that leads to the controller's xDS server.
pub const XDS_CLUSTER: &str = "xds_cluster";

/// The `node.cluster` every proxy reports unless told otherwise.
pub const DEFAULT_NODE_CLUSTER: &str = "gatesim";

/// State-of-the-world or incremental xDS on the ADS stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum XdsProtocol {
    #[default]
    StateOfTheWorld,
    Delta,
}

impl XdsProtocol {
    pub fn from_delta(delta: bool) -> Self {
        if delta {
            Self::Delta
        } else {
            Self::StateOfTheWorld
        }
    }

    fn api_type(self) -> &'static str {
        match self {
            Self::StateOfTheWorld => "GRPC",
            Self::Delta => "DELTA_GRPC",
        }
    }
}

/// Everything that varies between bootstraps.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapParams {
    /// xDS node id; the controller keys snapshots by it (see `translate::node_id`).
    pub node_id: String,
    pub node_cluster: String,
    /// Shown in `/server_info` and sent to the xDS server with the first request: lets a person
    /// (or a test) tell which Gateway and address a proxy belongs to.
    pub node_metadata: BTreeMap<String, String>,
    /// Where the controller's ADS server listens.
    pub xds_addr: SocketAddr,
    /// A DNS name (and port) to reach the ADS server by instead of `xds_addr`: a proxy in a
    /// pod reaches the controller through its Service's name.
    pub xds_host: Option<(String, u16)>,
    /// Envoy's admin port on 127.0.0.1; 0 lets Envoy pick one (reported through
    /// `--admin-address-path`), as several proxies share a host.
    pub admin_port: u16,
    /// A listener on this port of every address answering `GET /ready` from the admin
    /// endpoint, for a kubelet's readiness probe (the admin endpoint itself stays on
    /// loopback: it can stop the proxy).
    pub readiness_port: Option<u16>,
    pub protocol: XdsProtocol,
    /// How long Envoy waits for the first CDS/LDS answer before initializing without it. The
    /// controller normally answers in milliseconds; the bound keeps `/ready` from hanging forever
    /// when it cannot (the proxy still takes the configuration whenever it arrives). CDS and LDS
    /// initialize one after the other, so an unanswered proxy turns live after twice this.
    pub initial_fetch_timeout: Duration,
    /// Bounds of Envoy's backoff when the ADS stream cannot be (re)established. The default
    /// maximum of 30 s would leave a proxy deaf long after a restarted controller is back.
    pub xds_retry_base: Duration,
    pub xds_retry_max: Duration,
    /// Global limit on downstream connections (overload manager); `None` leaves it unlimited.
    pub max_downstream_connections: Option<u64>,
}

impl BootstrapParams {
    /// Defaults for everything but the identity and the xDS address.
    pub fn new(node_id: impl Into<String>, xds_addr: SocketAddr) -> Self {
        Self {
            node_id: node_id.into(),
            node_cluster: DEFAULT_NODE_CLUSTER.to_string(),
            node_metadata: BTreeMap::new(),
            xds_addr,
            xds_host: None,
            admin_port: 0,
            readiness_port: None,
            protocol: XdsProtocol::StateOfTheWorld,
            initial_fetch_timeout: Duration::from_secs(5),
            xds_retry_base: Duration::from_millis(100),
            xds_retry_max: Duration::from_secs(2),
            max_downstream_connections: Some(50_000),
        }
    }
}

impl BootstrapParams {
    /// The proxy of `gateway`: the node id the controller serves it under, and the Gateway
    /// in the node metadata.
    pub fn for_gateway(gateway: &crate::model::ObjectKey, xds_addr: SocketAddr) -> Self {
        let mut p = Self::new(crate::translate::node_id(gateway), xds_addr);
        p.node_metadata.extend([
            ("gateway_namespace".to_string(), gateway.namespace.clone()),
            ("gateway_name".to_string(), gateway.name.clone()),
        ]);
        p
    }
}

/// The bootstrap as a proto3-JSON value (also valid YAML once serialized).
pub fn bootstrap_value(p: &BootstrapParams) -> Value {
    let ads = json!({ "ads": {}, "resource_api_version": "V3",
                      "initial_fetch_timeout": proto_duration(p.initial_fetch_timeout) });
    let mut bootstrap = json!({
        "node": {
            "id": p.node_id,
            "cluster": p.node_cluster,
            "metadata": p.node_metadata,
        },
        "admin": {
            "address": socket_address("127.0.0.1", p.admin_port),
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": p.protocol.api_type(),
                "transport_api_version": "V3",
                "set_node_on_first_message_only": true,
                "grpc_services": [{
                    "envoy_grpc": {
                        "cluster_name": XDS_CLUSTER,
                        "retry_policy": { "retry_back_off": {
                            "base_interval": proto_duration(p.xds_retry_base),
                            "max_interval": proto_duration(p.xds_retry_max),
                        }},
                    },
                }],
            },
            "cds_config": ads.clone(),
            "lds_config": ads,
        },
        "static_resources": {
            "clusters": [{
                "name": XDS_CLUSTER,
                "type": "STATIC",
                "connect_timeout": "1s",
                // gRPC needs HTTP/2 to the controller.
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": { "http2_protocol_options": {} },
                    },
                },
                "load_assignment": {
                    "cluster_name": XDS_CLUSTER,
                    "endpoints": [{ "lb_endpoints": [{ "endpoint": {
                        "address": match &p.xds_host {
                            Some((host, port)) => socket_address(host, *port),
                            None => socket_address(&p.xds_addr.ip().to_string(), p.xds_addr.port()),
                        },
                    }}]}],
                },
            }],
        },
    });
    if p.xds_host.is_some() {
        let xds = &mut bootstrap["static_resources"]["clusters"][0];
        xds["type"] = json!("STRICT_DNS");
        xds["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if let Some(port) = p.readiness_port {
        readiness(&mut bootstrap, port, p.admin_port);
    }
    let runtime: serde_json::Map<String, Value> = RUNTIME
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    bootstrap["layered_runtime"] = json!({
        "layers": [{ "name": "gatesim", "static_layer": runtime }],
    });
    if let Some(max) = p.max_downstream_connections {
        bootstrap["overload_manager"] = json!({
            "resource_monitors": [{
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    "max_active_downstream_connections": max,
                },
            }],
        });
    }
    bootstrap
}

/// The bootstrap as YAML text, ready to be written next to the proxy's log.
pub fn render(p: &BootstrapParams) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&bootstrap_value(p))
}

/// Name of the static listener that answers readiness probes, and of the cluster behind it.
pub const READINESS: &str = "readiness";

/// A listener on `port` passing `GET /ready` (and nothing else) to the admin endpoint on
/// `admin_port`.
fn readiness(bootstrap: &mut Value, port: u16, admin_port: u16) {
    let statics = &mut bootstrap["static_resources"];
    statics["listeners"] = json!([{
        "name": READINESS,
        "address": socket_address("0.0.0.0", port),
        "filter_chains": [{ "filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": READINESS,
                "route_config": { "virtual_hosts": [{
                    "name": READINESS,
                    "domains": ["*"],
                    "routes": [{ "match": { "path": "/ready" }, "route": { "cluster": READINESS } }],
                }]},
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                }],
            },
        }]}],
    }]);
    if let Some(clusters) = statics["clusters"].as_array_mut() {
        clusters.push(json!({
            "name": READINESS,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": READINESS,
                "endpoints": [{ "lb_endpoints": [{ "endpoint": {
                    "address": socket_address("127.0.0.1", admin_port),
                }}]}],
            },
        }));
    }
}

fn socket_address(address: &str, port: u16) -> Value {
    json!({ "socket_address": { "address": address, "port_value": port } })
}

/// A `google.protobuf.Duration` in its JSON form.
fn proto_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BootstrapParams {
        let mut p = BootstrapParams::new("ns/gw", "127.0.0.1:18000".parse().unwrap());
        p.node_metadata
            .insert("address".into(), "127.0.10.1".into());
        p
    }

    fn parsed(p: &BootstrapParams) -> Value {
        serde_yaml::from_str(&render(p).unwrap()).expect("rendered bootstrap is YAML")
    }

    #[test]
    fn renders_identity_admin_and_xds_cluster() {
        let v = parsed(&params());
        assert_eq!(v["node"]["id"], "ns/gw");
        assert_eq!(v["node"]["cluster"], DEFAULT_NODE_CLUSTER);
        assert_eq!(v["node"]["metadata"]["address"], "127.0.10.1");
        assert_eq!(v["admin"]["address"]["socket_address"]["port_value"], 0);
        let cluster = &v["static_resources"]["clusters"][0];
        assert_eq!(cluster["name"], XDS_CLUSTER);
        let ep = &cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"];
        assert_eq!(ep["address"]["socket_address"]["address"], "127.0.0.1");
        assert_eq!(ep["address"]["socket_address"]["port_value"], 18000);
        let opts = &cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
        assert!(opts["explicit_http_config"]["http2_protocol_options"].is_object());
    }

    #[test]
    fn protocol_selects_api_type_and_both_sources_use_ads() {
        let mut p = params();
        let v = parsed(&p);
        assert_eq!(v["dynamic_resources"]["ads_config"]["api_type"], "GRPC");
        p.protocol = XdsProtocol::Delta;
        let v = parsed(&p);
        let dynamic = &v["dynamic_resources"];
        assert_eq!(dynamic["ads_config"]["api_type"], "DELTA_GRPC");
        for source in ["cds_config", "lds_config"] {
            assert!(dynamic[source]["ads"].is_object(), "{source}");
            assert_eq!(dynamic[source]["initial_fetch_timeout"], "5s");
        }
    }

    #[test]
    fn durations_use_proto_json_form() {
        assert_eq!(proto_duration(Duration::from_secs(2)), "2s");
        assert_eq!(proto_duration(Duration::from_millis(100)), "0.100000000s");
        assert_eq!(proto_duration(Duration::from_millis(1500)), "1.500000000s");
    }

    #[test]
    fn ipv6_xds_address_is_bare() {
        let p = BootstrapParams::new("n", "[::1]:9000".parse().unwrap());
        let v = parsed(&p);
        let addr = &v["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
            [0]["endpoint"]["address"]["socket_address"];
        assert_eq!(addr["address"], "::1");
    }

    #[test]
    fn runtime_raises_the_re2_program_size() {
        let v = parsed(&params());
        let layer = &v["layered_runtime"]["layers"][0]["static_layer"];
        assert_eq!(
            layer["re2.max_program_size.error_level"],
            crate::validate::regex::MAX_PROGRAM_SIZE
        );
        assert_eq!(
            layer["re2.max_program_size.warn_level"],
            crate::validate::regex::MAX_PROGRAM_SIZE
        );
    }

    #[test]
    fn overload_manager_only_when_limited() {
        let mut p = params();
        assert!(parsed(&p)["overload_manager"].is_object());
        p.max_downstream_connections = None;
        assert!(parsed(&p).get("overload_manager").is_none());
    }
}
