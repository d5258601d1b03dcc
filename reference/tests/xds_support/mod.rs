//! What the real-Envoy xDS tests need: an Envoy process with a minimal ADS bootstrap, HTTP
//! backends that say who they are, a client, and snapshots built from a few parameters.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig};
use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{Address, AggregatedConfigSource, ApiVersion, ConfigSource, SocketAddress};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::{ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener, filter};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::{Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter::ConfigType as HttpFilterConfig;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds,
};
use envoy_types::pb::google::protobuf::{BoolValue, Duration as PbDuration};
use envoy_types::util::pack_any;
use gatesim_reference::xds::Snapshot;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use gatesim_reference::infra::bootstrap::{BootstrapParams, XdsProtocol, render};
use tokio::process::{Child, Command};

/// The Envoy binary, or `None` after a loud SKIP line (a failure when `GATESIM_REQUIRE_ALL=1`).
pub fn envoy_binary() -> Option<PathBuf> {
    gatesim_reference::infra::envoy::locate_or_skip("real-Envoy xDS test")
        .unwrap_or_else(|e| panic!("Envoy is required (GATESIM_REQUIRE_ALL=1): {e}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Sotw,
    Delta,
}

/// An Envoy process fed by our ADS server; killed when dropped.
pub struct Envoy {
    child: Child,
    pub admin: SocketAddr,
    dir: tempfile::TempDir,
}

impl Envoy {
    pub async fn start(binary: &Path, node: &str, ads: SocketAddr, mode: Mode) -> Result<Self> {
        let dir = tempfile::tempdir().context("temp dir for Envoy")?;
        // The controller's own bootstrap, so these tests exercise what production runs.
        let mut params = BootstrapParams::new(node, ads);
        params.protocol = match mode {
            Mode::Sotw => XdsProtocol::StateOfTheWorld,
            Mode::Delta => XdsProtocol::Delta,
        };
        let bootstrap = render(&params).context("rendering the bootstrap")?;
        let config = dir.path().join("bootstrap.yaml");
        std::fs::write(&config, bootstrap).context("writing the bootstrap")?;
        let addr_file = dir.path().join("admin.addr");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args([
                "--use-dynamic-base-id",
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "-l",
                "info",
            ])
            .arg("--admin-address-path")
            .arg(&addr_file)
            .arg("--log-path")
            .arg(dir.path().join("envoy.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let mut envoy = Self {
            child,
            admin: "127.0.0.1:0".parse()?,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file)
                && let Ok(addr) = text.trim().parse()
            {
                envoy.admin = addr;
                return Ok(envoy);
            }
            if let Some(status) = envoy.child.try_wait()? {
                bail!(
                    "Envoy exited with {status} during start-up:\n{}",
                    envoy.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "Envoy wrote no admin address within 20 s:\n{}",
                    envoy.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// GET on Envoy's admin API.
    pub async fn admin_get(&self, client: &HttpClient, path: &str) -> Result<String> {
        let (status, body) = client.get(self.admin, path).await?;
        if status != 200 {
            bail!("Envoy admin {path}: HTTP {status}: {body}");
        }
        Ok(body)
    }
}

/// An HTTP server answering every request with its own name.
pub struct Backend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    pub async fn start(name: &'static str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(move || async move { name });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, task })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A keep-alive HTTP/1.1 client.
#[derive(Clone)]
pub struct HttpClient(Client<HttpConnector, Empty<Bytes>>);

impl Default for HttpClient {
    fn default() -> Self {
        Self(Client::builder(TokioExecutor::new()).build_http())
    }
}

impl HttpClient {
    pub async fn get(&self, addr: SocketAddr, path: &str) -> Result<(u16, String)> {
        assert!(
            addr.ip().is_loopback(),
            "test traffic goes to loopback only"
        );
        let uri: hyper::Uri = format!("http://{addr}{path}").parse()?;
        let fut = async {
            let resp = self.0.get(uri).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .context("request timed out")?
    }
}

/// A free port on 127.0.0.1 for an Envoy listener (released for Envoy to bind).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn socket(addr: SocketAddr) -> Address {
    Address {
        address: Some(AddressKind::SocketAddress(SocketAddress {
            address: addr.ip().to_string(),
            port_specifier: Some(PortSpecifier::PortValue(u32::from(addr.port()))),
            ..Default::default()
        })),
    }
}

fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

/// What a test snapshot contains: one listener on `listen` with route configuration "http".
pub struct Config<'a> {
    listen: SocketAddr,
    /// `(cluster name, backend)`, each an EDS cluster.
    clusters: &'a [(&'a str, SocketAddr)],
    /// `(path prefix, cluster name)`, in match order.
    rules: &'a [(&'a str, &'a str)],
    validate_clusters: bool,
    connect_timeout_ms: i32,
}

impl<'a> Config<'a> {
    pub fn new(
        listen: SocketAddr,
        clusters: &'a [(&'a str, SocketAddr)],
        rules: &'a [(&'a str, &'a str)],
    ) -> Self {
        Self {
            listen,
            clusters,
            rules,
            validate_clusters: false,
            connect_timeout_ms: 1000,
        }
    }

    /// Make Envoy reject routes to clusters it does not have.
    pub fn validate_clusters(self) -> Self {
        Self {
            validate_clusters: true,
            ..self
        }
    }

    /// Change every cluster's configuration (not its endpoints).
    pub fn connect_timeout_ms(self, connect_timeout_ms: i32) -> Self {
        Self {
            connect_timeout_ms,
            ..self
        }
    }

    pub fn snapshot(&self, revision: u64) -> Snapshot {
        let clusters = self
            .clusters
            .iter()
            .map(|(name, _)| Cluster {
                name: (*name).into(),
                connect_timeout: Some(PbDuration {
                    seconds: i64::from(self.connect_timeout_ms / 1000),
                    nanos: (self.connect_timeout_ms % 1000) * 1_000_000,
                }),
                cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
                eds_cluster_config: Some(EdsClusterConfig {
                    eds_config: Some(ads()),
                    service_name: String::new(),
                }),
                ..Default::default()
            })
            .collect();
        let endpoints = self
            .clusters
            .iter()
            .map(|(name, addr)| ClusterLoadAssignment {
                cluster_name: (*name).into(),
                endpoints: vec![LocalityLbEndpoints {
                    lb_endpoints: vec![LbEndpoint {
                        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                            address: Some(socket(*addr)),
                            ..Default::default()
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        let hcm = HttpConnectionManager {
            stat_prefix: "http".into(),
            route_specifier: Some(RouteSpecifier::Rds(Rds {
                config_source: Some(ads()),
                route_config_name: "http".into(),
            })),
            http_filters: vec![HttpFilter {
                name: "envoy.filters.http.router".into(),
                config_type: Some(HttpFilterConfig::TypedConfig(pack_any(Router::default()))),
                ..Default::default()
            }],
            ..Default::default()
        };
        let listener = Listener {
            name: "http".into(),
            address: Some(socket(self.listen)),
            filter_chains: vec![FilterChain {
                filters: vec![Filter {
                    name: "envoy.filters.network.http_connection_manager".into(),
                    config_type: Some(filter::ConfigType::TypedConfig(pack_any(hcm))),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let routes = RouteConfiguration {
            name: "http".into(),
            validate_clusters: self.validate_clusters.then_some(BoolValue { value: true }),
            virtual_hosts: vec![VirtualHost {
                name: "all".into(),
                domains: vec!["*".into()],
                routes: self
                    .rules
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
        };
        Snapshot::new(revision, clusters, endpoints, vec![listener], vec![routes])
            .expect("test snapshot is consistent")
    }
}

/// p-th percentile (0..=100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let idx = (sorted.len() * p)
        .div_ceil(100)
        .saturating_sub(1)
        .min(sorted.len() - 1);
    sorted[idx]
}
