//! The cluster of an Upstream (`gloo.solo.io/v1`) and its endpoints: fixed hosts or a
//! Service's EndpointSlices, with the connection settings the Upstream gives.
//!
//! Hosts that are all IP addresses (and `kube` Upstreams) get an EDS cluster, as Services do;
//! once one host is a DNS name the cluster is STRICT_DNS with its endpoints inline (Envoy
//! resolves them), as K8sGateway does; an `aws` Upstream is its region's Lambda endpoint over
//! TLS (LOGICAL_DNS), marked for the `aws_lambda` filter. `failover` adds its localities as lower priorities
//! (1, 2, ...) of the same assignment.

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection as EnvoyOutlier, UpstreamConnectionOptions,
    circuit_breakers::Thresholds, cluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    DataSource, HealthCheck as EnvoyHealthCheck, Http1ProtocolOptions as EnvoyHttp1,
    Http2ProtocolOptions, HttpProtocolOptions as CommonHttpOptions, Locality as EnvoyLocality,
    RequestMethod as EnvoyMethod, TcpKeepalive, TransportSocket, data_source, health_check,
    http_protocol_options::HeadersWithUnderscoresAction, http1_protocol_options, transport_socket,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, cluster_load_assignment,
    endpoint, lb_endpoint,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, SubjectAltNameMatcher, TlsCertificate,
    TlsParameters, UpstreamTlsContext, common_tls_context, subject_alt_name_matcher,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher};
use envoy_types::pb::envoy::r#type::v3::{CodecClientType, Int64Range, Percent};
use envoy_types::pb::google::protobuf::{BoolValue, UInt64Value};

use super::options::duration;
use super::{ads_source, any, millis, socket_address, u32v};
use crate::api::Upstream;
use crate::api::k8sgateway::connection::{
    CircuitBreakerConfig, ConnectionConfig, LoadBalancerConfig, OutlierDetection,
    UpstreamHeadersWithUnderscoresAction as Underscores,
};
use crate::api::k8sgateway::health_check::{HealthCheck, RequestMethod};
use crate::api::k8sgateway::tls::{TlsProtocolVersion, UpstreamSslConfig};
use crate::api::k8sgateway::upstream::{LbEndpoint as GlooEndpoint, UpstreamSpec};
use crate::model::ResourceSet;
use crate::translate::backends::{ClusterTarget, EndpointIndex};
use crate::translate::lambda;
use crate::translate::upstreams::{TlsMaterial, tls_material};

const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const TLS_SOCKET: &str = "envoy.transport_sockets.tls";

/// The cluster, and the endpoint assignment to publish over EDS (`None` when the cluster
/// carries its endpoints itself).
pub(crate) fn build(
    set: &ResourceSet,
    t: &ClusterTarget,
    upstream: &Upstream,
    index: &EndpointIndex<'_>,
) -> (Cluster, Option<ClusterLoadAssignment>) {
    let spec = &upstream.spec;
    let aws = spec.aws.is_some();
    let dns = aws
        || spec
            .static_
            .as_ref()
            .is_some_and(crate::validate::has_hostnames);
    let mut c = Cluster {
        name: t.cluster.clone(),
        alt_stat_name: t.cluster.clone(),
        connect_timeout: Some(millis(2_000)),
        ..Default::default()
    };
    let assignment = assignment(t, spec, index);
    if dns {
        // The regional Lambda endpoint is one name behind many addresses: Envoy connects to
        // whichever it resolves to (LOGICAL_DNS), as K8sGateway's Lambda clusters do.
        let discovery = if aws {
            cluster::DiscoveryType::LogicalDns
        } else {
            cluster::DiscoveryType::StrictDns
        };
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(discovery as i32));
        c.load_assignment = Some(assignment.clone());
        // Envoy 1.40 still reads these (their successor is the DNS cluster extension), and
        // they keep the cluster in the plain STRICT_DNS form every Envoy understands.
        #[allow(deprecated)]
        {
            c.respect_dns_ttl = spec.respect_dns_ttl.unwrap_or(false);
            c.dns_refresh_rate = spec.dns_refresh_rate.as_ref().map(duration);
            // K8sGateway reaches Lambda over IPv4 only, whatever the Settings say.
            if aws {
                c.dns_lookup_family = cluster::DnsLookupFamily::V4Only as i32;
            }
        }
    } else {
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        ));
        c.eds_cluster_config = Some(cluster::EdsClusterConfig {
            eds_config: Some(ads_source()),
            service_name: t.cluster.clone(),
        });
    }
    c.ignore_health_on_host_removal = spec.ignore_health_on_host_removal.unwrap_or(false);
    if let Some(cb) = &spec.circuit_breakers {
        c.circuit_breakers = Some(circuit_breakers(cb));
    }
    c.health_checks = spec
        .health_checks
        .iter()
        .flatten()
        .map(health_check)
        .collect();
    if let Some(o) = &spec.outlier_detection {
        c.outlier_detection = Some(outlier(o));
    }
    if let Some(lb) = &spec.load_balancer_config {
        load_balancer(&mut c, lb);
    }
    let mut protocol = HttpProtocolOptions::default();
    if let Some(cc) = &spec.connection_config {
        connection(&mut c, &mut protocol, cc);
    }
    let http2 = spec.use_http2 == Some(true)
        || t.service
            .as_ref()
            .is_some_and(|s| s.app_protocol.as_deref() == Some("kubernetes.io/h2c"));
    protocol_options(&mut protocol, spec, http2);
    if protocol != HttpProtocolOptions::default() {
        c.typed_extension_protocol_options
            .insert(HTTP_PROTOCOL_OPTIONS.to_string(), any(&protocol));
    }
    let material = tls_material(set, &t.upstream.clone().unwrap_or_default(), upstream)
        .ok()
        .flatten();
    c.transport_socket = transport(spec, material.as_ref());
    if aws {
        c.metadata = Some(super::lambda::cluster_metadata());
    }
    let eds = (!dns).then_some(assignment);
    (c, eds)
}

fn assignment(
    t: &ClusterTarget,
    spec: &UpstreamSpec,
    index: &EndpointIndex<'_>,
) -> ClusterLoadAssignment {
    let own: Vec<LbEndpoint> = match (&t.service, &spec.static_) {
        (Some(service), _) => index
            .endpoints(service)
            .iter()
            .map(|(ip, port)| lb_endpoint(ip, *port, None, None))
            .collect(),
        (None, Some(st)) => st
            .hosts
            .iter()
            .flatten()
            .map(|h| {
                lb_endpoint(
                    h.addr.as_deref().unwrap_or_default(),
                    h.port.unwrap_or_default(),
                    h.load_balancing_weight,
                    None,
                )
            })
            .collect(),
        (None, None) => spec
            .aws
            .iter()
            .map(|a| {
                let host = lambda::endpoint(a.region.as_deref().unwrap_or_default());
                lb_endpoint(&host, 443, None, None)
            })
            .collect(),
    };
    let mut endpoints = vec![LocalityLbEndpoints {
        lb_endpoints: own,
        ..Default::default()
    }];
    let mut policy = None;
    if let Some(f) = &spec.failover {
        for (i, p) in f.prioritized_localities.iter().flatten().enumerate() {
            for l in p.locality_endpoints.iter().flatten() {
                let locality = l.locality.as_ref().map(|loc| EnvoyLocality {
                    region: loc.region.clone().unwrap_or_default(),
                    zone: loc.zone.clone().unwrap_or_default(),
                    sub_zone: loc.sub_zone.clone().unwrap_or_default(),
                });
                endpoints.push(LocalityLbEndpoints {
                    locality,
                    lb_endpoints: l
                        .lb_endpoints
                        .iter()
                        .flatten()
                        .map(failover_endpoint)
                        .collect(),
                    load_balancing_weight: l.load_balancing_weight.map(u32v),
                    priority: (i + 1) as u32,
                    ..Default::default()
                });
            }
        }
        policy = f
            .policy
            .as_ref()
            .and_then(|p| p.overprovisioning_factor)
            .map(|v| cluster_load_assignment::Policy {
                overprovisioning_factor: Some(u32v(v)),
                ..Default::default()
            });
    }
    ClusterLoadAssignment {
        cluster_name: t.cluster.clone(),
        endpoints,
        policy,
        ..Default::default()
    }
}

fn failover_endpoint(e: &GlooEndpoint) -> LbEndpoint {
    let hc = e
        .health_check_config
        .as_ref()
        .map(|h| endpoint::HealthCheckConfig {
            port_value: h.port_value.unwrap_or_default(),
            hostname: h.hostname.clone().unwrap_or_default(),
            ..Default::default()
        });
    lb_endpoint(
        e.address.as_deref().unwrap_or_default(),
        e.port.unwrap_or_default(),
        e.load_balancing_weight,
        hc,
    )
}

fn lb_endpoint(
    addr: &str,
    port: u32,
    weight: Option<u32>,
    health_check_config: Option<endpoint::HealthCheckConfig>,
) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(socket_address(addr, port)),
            health_check_config,
            ..Default::default()
        })),
        load_balancing_weight: weight.map(u32v),
        ..Default::default()
    }
}

fn circuit_breakers(cb: &CircuitBreakerConfig) -> CircuitBreakers {
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: cb.max_connections.map(u32v),
            max_pending_requests: cb.max_pending_requests.map(u32v),
            max_requests: cb.max_requests.map(u32v),
            max_retries: cb.max_retries.map(u32v),
            track_remaining: cb.track_remaining.unwrap_or(false),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn health_check(h: &HealthCheck) -> EnvoyHealthCheck {
    let checker = if let Some(http) = &h.http_health_check {
        health_check::HealthChecker::HttpHealthCheck(health_check::HttpHealthCheck {
            host: http.host.clone().unwrap_or_default(),
            path: http.path.clone().unwrap_or_default(),
            request_headers_to_remove: http.request_headers_to_remove.clone().unwrap_or_default(),
            expected_statuses: http
                .expected_statuses
                .iter()
                .flatten()
                .map(|r| Int64Range {
                    start: r.start.map_or(0, |v| v.get()),
                    end: r.end.map_or(0, |v| v.get()),
                })
                .collect(),
            codec_client_type: if http.use_http2 == Some(true) {
                CodecClientType::Http2
            } else {
                CodecClientType::Http1
            } as i32,
            service_name_matcher: http
                .service_name
                .as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| StringMatcher {
                    match_pattern: Some(string_matcher::MatchPattern::Prefix(s.clone())),
                    ignore_case: false,
                }),
            method: http.method.map_or(EnvoyMethod::MethodUnspecified, method) as i32,
            ..Default::default()
        })
    } else {
        let g = h.grpc_health_check.clone().unwrap_or_default();
        health_check::HealthChecker::GrpcHealthCheck(health_check::GrpcHealthCheck {
            service_name: g.service_name.unwrap_or_default(),
            authority: g.authority.unwrap_or_default(),
            ..Default::default()
        })
    };
    EnvoyHealthCheck {
        timeout: h.timeout.as_ref().map(duration),
        interval: h.interval.as_ref().map(duration),
        initial_jitter: h.initial_jitter.as_ref().map(duration),
        interval_jitter: h.interval_jitter.as_ref().map(duration),
        interval_jitter_percent: h.interval_jitter_percent.unwrap_or(0),
        unhealthy_threshold: h.unhealthy_threshold.map(u32v),
        healthy_threshold: h.healthy_threshold.map(u32v),
        reuse_connection: h.reuse_connection.map(|value| BoolValue { value }),
        no_traffic_interval: h.no_traffic_interval.as_ref().map(duration),
        unhealthy_interval: h.unhealthy_interval.as_ref().map(duration),
        unhealthy_edge_interval: h.unhealthy_edge_interval.as_ref().map(duration),
        healthy_edge_interval: h.healthy_edge_interval.as_ref().map(duration),
        always_log_health_check_failures: h.always_log_health_check_failures.unwrap_or(false),
        health_checker: Some(checker),
        ..Default::default()
    }
}

fn method(m: RequestMethod) -> EnvoyMethod {
    match m {
        RequestMethod::Unspecified => EnvoyMethod::MethodUnspecified,
        RequestMethod::Get => EnvoyMethod::Get,
        RequestMethod::Head => EnvoyMethod::Head,
        RequestMethod::Post => EnvoyMethod::Post,
        RequestMethod::Put => EnvoyMethod::Put,
        RequestMethod::Delete => EnvoyMethod::Delete,
        RequestMethod::Connect => EnvoyMethod::Connect,
        RequestMethod::Options => EnvoyMethod::Options,
        RequestMethod::Trace => EnvoyMethod::Trace,
        RequestMethod::Patch => EnvoyMethod::Patch,
    }
}

fn outlier(o: &OutlierDetection) -> EnvoyOutlier {
    EnvoyOutlier {
        consecutive_5xx: o.consecutive_5xx.map(u32v),
        interval: o.interval.as_ref().map(duration),
        base_ejection_time: o.base_ejection_time.as_ref().map(duration),
        max_ejection_percent: o.max_ejection_percent.map(u32v),
        enforcing_consecutive_5xx: o.enforcing_consecutive_5xx.map(u32v),
        enforcing_success_rate: o.enforcing_success_rate.map(u32v),
        success_rate_minimum_hosts: o.success_rate_minimum_hosts.map(u32v),
        success_rate_request_volume: o.success_rate_request_volume.map(u32v),
        success_rate_stdev_factor: o.success_rate_stdev_factor.map(u32v),
        consecutive_gateway_failure: o.consecutive_gateway_failure.map(u32v),
        enforcing_consecutive_gateway_failure: o.enforcing_consecutive_gateway_failure.map(u32v),
        split_external_local_origin_errors: o.split_external_local_origin_errors.unwrap_or(false),
        consecutive_local_origin_failure: o.consecutive_local_origin_failure.map(u32v),
        enforcing_consecutive_local_origin_failure: o
            .enforcing_consecutive_local_origin_failure
            .map(u32v),
        enforcing_local_origin_success_rate: o.enforcing_local_origin_success_rate.map(u32v),
        ..Default::default()
    }
}

fn load_balancer(c: &mut Cluster, lb: &LoadBalancerConfig) {
    use cluster::common_lb_config::{
        ConsistentHashingLbConfig, LocalityConfigSpecifier, LocalityWeightedLbConfig,
    };
    let mut common = cluster::CommonLbConfig {
        healthy_panic_threshold: lb
            .healthy_panic_threshold
            .map(|p| Percent { value: p.get() }),
        update_merge_window: lb.update_merge_window.as_ref().map(duration),
        close_connections_on_host_set_change: lb
            .close_connections_on_host_set_change
            .unwrap_or(false),
        ..Default::default()
    };
    if lb.locality_weighted_lb_config.is_some() {
        common.locality_config_specifier = Some(LocalityConfigSpecifier::LocalityWeightedLbConfig(
            LocalityWeightedLbConfig {},
        ));
    }
    if lb.use_hostname_for_hashing == Some(true) {
        common.consistent_hashing_lb_config = Some(ConsistentHashingLbConfig {
            use_hostname_for_hashing: true,
            ..Default::default()
        });
    }
    if common != cluster::CommonLbConfig::default() {
        c.common_lb_config = Some(common);
    }
    let slow_start =
        |s: &crate::api::k8sgateway::connection::SlowStartConfig| cluster::SlowStartConfig {
            slow_start_window: s.slow_start_window.as_ref().map(duration),
            aggression: s.aggression.map(|a| {
                envoy_types::pb::envoy::config::core::v3::RuntimeDouble {
                    default_value: a,
                    runtime_key: String::new(),
                }
            }),
            min_weight_percent: s.min_weight_percent.map(|p| Percent { value: p.get() }),
        };
    if let Some(rr) = &lb.round_robin {
        c.lb_policy = cluster::LbPolicy::RoundRobin as i32;
        if let Some(s) = &rr.slow_start_config {
            c.lb_config = Some(cluster::LbConfig::RoundRobinLbConfig(
                cluster::RoundRobinLbConfig {
                    slow_start_config: Some(slow_start(s)),
                },
            ));
        }
    } else if let Some(lr) = &lb.least_request {
        c.lb_policy = cluster::LbPolicy::LeastRequest as i32;
        c.lb_config = Some(cluster::LbConfig::LeastRequestLbConfig(
            cluster::LeastRequestLbConfig {
                choice_count: lr.choice_count.map(u32v),
                slow_start_config: lr.slow_start_config.as_ref().map(slow_start),
                ..Default::default()
            },
        ));
    } else if lb.random.is_some() {
        c.lb_policy = cluster::LbPolicy::Random as i32;
    } else if let Some(rh) = &lb.ring_hash {
        c.lb_policy = cluster::LbPolicy::RingHash as i32;
        let cfg = rh.ring_hash_config.clone().unwrap_or_default();
        c.lb_config = Some(cluster::LbConfig::RingHashLbConfig(
            cluster::RingHashLbConfig {
                minimum_ring_size: cfg.minimum_ring_size.map(|v| UInt64Value {
                    value: v.get() as u64,
                }),
                maximum_ring_size: cfg.maximum_ring_size.map(|v| UInt64Value {
                    value: v.get() as u64,
                }),
                ..Default::default()
            },
        ));
    } else if lb.maglev.is_some() {
        c.lb_policy = cluster::LbPolicy::Maglev as i32;
    }
}

fn connection(c: &mut Cluster, protocol: &mut HttpProtocolOptions, cc: &ConnectionConfig) {
    if let Some(d) = &cc.connect_timeout {
        c.connect_timeout = Some(duration(d));
    }
    if let Some(limit) = cc.per_connection_buffer_limit_bytes {
        c.per_connection_buffer_limit_bytes = Some(u32v(limit));
    }
    if let Some(k) = &cc.tcp_keepalive {
        let seconds = |d: &crate::api::k8sgateway::schema::ProtoDuration| {
            u32v(u32::try_from(d.to_parts().0).unwrap_or(u32::MAX))
        };
        c.upstream_connection_options = Some(UpstreamConnectionOptions {
            tcp_keepalive: Some(TcpKeepalive {
                keepalive_probes: k.keepalive_probes.map(u32v),
                keepalive_time: k.keepalive_time.as_ref().map(seconds),
                keepalive_interval: k.keepalive_interval.as_ref().map(seconds),
            }),
            ..Default::default()
        });
    }
    let mut common = CommonHttpOptions {
        max_requests_per_connection: cc.max_requests_per_connection.map(u32v),
        ..Default::default()
    };
    if let Some(h) = &cc.common_http_protocol_options {
        common.idle_timeout = h.idle_timeout.as_ref().map(duration);
        common.max_headers_count = h.max_headers_count.map(u32v);
        common.max_stream_duration = h.max_stream_duration.as_ref().map(duration);
        common.headers_with_underscores_action = match h.headers_with_underscores_action {
            None | Some(Underscores::Allow) => HeadersWithUnderscoresAction::Allow,
            Some(Underscores::RejectRequest) => HeadersWithUnderscoresAction::RejectRequest,
            Some(Underscores::DropHeader) => HeadersWithUnderscoresAction::DropHeader,
        } as i32;
    }
    if common != CommonHttpOptions::default() {
        protocol.common_http_protocol_options = Some(common);
    }
    if let Some(h) = &cc.http1_protocol_options {
        let http1 = EnvoyHttp1 {
            enable_trailers: h.enable_trailers.unwrap_or(false),
            override_stream_error_on_invalid_http_message: h
                .override_stream_error_on_invalid_http_message
                .map(|value| BoolValue { value }),
            header_key_format: (h.proper_case_header_key_format == Some(true)).then(|| {
                http1_protocol_options::HeaderKeyFormat {
                    header_format: Some(
                        http1_protocol_options::header_key_format::HeaderFormat::ProperCaseWords(
                            Default::default(),
                        ),
                    ),
                }
            }),
            ..Default::default()
        };
        protocol.upstream_protocol_options = Some(
            http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
                http_protocol_options::ExplicitHttpConfig {
                    protocol_config: Some(
                        http_protocol_options::explicit_http_config::ProtocolConfig::HttpProtocolOptions(http1),
                    ),
                },
            ),
        );
    }
}

/// HTTP/2 to the upstream (`useHttp2`, or a `kube` Upstream's Service port that declares
/// h2c), with its flow-control settings; HTTP/1.1 options then do not apply.
fn protocol_options(protocol: &mut HttpProtocolOptions, spec: &UpstreamSpec, http2: bool) {
    if !http2 {
        return;
    }
    let h2 = Http2ProtocolOptions {
        initial_stream_window_size: spec.initial_stream_window_size.map(u32v),
        initial_connection_window_size: spec.initial_connection_window_size.map(u32v),
        max_concurrent_streams: spec.max_concurrent_streams.map(u32v),
        override_stream_error_on_invalid_http_message: spec
            .override_stream_error_on_invalid_http_message
            .map(|value| BoolValue { value }),
        ..Default::default()
    };
    protocol.upstream_protocol_options = Some(
        http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
            http_protocol_options::ExplicitHttpConfig {
                protocol_config: Some(
                    http_protocol_options::explicit_http_config::ProtocolConfig::Http2ProtocolOptions(h2),
                ),
            },
        ),
    );
}

/// TLS towards the hosts: `sslConfig`, or `static.useTls` (on by default when every host
/// listens on 443, as in K8sGateway) without verification of its own.
fn transport(spec: &UpstreamSpec, material: Option<&TlsMaterial>) -> Option<TransportSocket> {
    let static_tls = spec.static_.as_ref().is_some_and(|s| {
        s.use_tls.unwrap_or_else(|| {
            let hosts = s.hosts.as_deref().unwrap_or_default();
            !hosts.is_empty() && hosts.iter().all(|h| h.port == Some(443))
        })
    });
    // Lambda is only served over TLS.
    let ssl = match (&spec.ssl_config, static_tls || spec.aws.is_some()) {
        (Some(ssl), _) => ssl.clone(),
        (None, true) => UpstreamSslConfig::default(),
        (None, false) => return None,
    };
    let lambda_host = spec
        .aws
        .as_ref()
        .map(|a| lambda::endpoint(a.region.as_deref().unwrap_or_default()));
    let sni = ssl
        .sni
        .clone()
        .filter(|s| !s.is_empty())
        .or(lambda_host)
        .or_else(|| {
            // Without an explicit SNI, a static host's name (or its sniAddr) is the server's.
            let host = spec.static_.as_ref()?.hosts.as_ref()?.first()?;
            host.sni_addr
                .clone()
                .or_else(|| host.addr.clone())
                .filter(|a| a.parse::<std::net::IpAddr>().is_err())
        });
    let ctx = UpstreamTlsContext {
        common_tls_context: Some(common_tls(&ssl, material)),
        sni: sni.unwrap_or_default(),
        allow_renegotiation: ssl.allow_renegotiation.unwrap_or(false),
        ..Default::default()
    };
    Some(TransportSocket {
        name: TLS_SOCKET.into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(any(&ctx))),
    })
}

fn common_tls(ssl: &UpstreamSslConfig, material: Option<&TlsMaterial>) -> CommonTlsContext {
    let inline = |b: &[u8]| DataSource {
        specifier: Some(data_source::Specifier::InlineBytes(b.to_vec())),
        ..Default::default()
    };
    let file = |p: &str| DataSource {
        specifier: Some(data_source::Specifier::Filename(p.to_string())),
        ..Default::default()
    };
    let one_way = ssl.one_way_tls == Some(true);
    let mut ctx = CommonTlsContext {
        alpn_protocols: ssl.alpn_protocols.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut trusted_ca = None;
    if let Some(m) = material {
        if let (Some(cert), Some(key), false) = (&m.cert_pem, &m.key_pem, one_way) {
            ctx.tls_certificates.push(TlsCertificate {
                certificate_chain: Some(inline(cert)),
                private_key: Some(inline(key)),
                ..Default::default()
            });
        }
        trusted_ca = m.ca_pem.as_deref().map(inline);
    } else if let Some(f) = &ssl.ssl_files {
        let cert = f.tls_cert.as_deref().filter(|p| !p.is_empty());
        let key = f.tls_key.as_deref().filter(|p| !p.is_empty());
        if let (Some(cert), Some(key), false) = (cert, key, one_way) {
            ctx.tls_certificates.push(TlsCertificate {
                certificate_chain: Some(file(cert)),
                private_key: Some(file(key)),
                ..Default::default()
            });
        }
        trusted_ca = f.root_ca.as_deref().filter(|p| !p.is_empty()).map(file);
    }
    let sans: Vec<SubjectAltNameMatcher> = ssl
        .verify_subject_alt_name
        .iter()
        .flatten()
        .map(|san| SubjectAltNameMatcher {
            san_type: subject_alt_name_matcher::SanType::Dns as i32,
            matcher: Some(StringMatcher {
                match_pattern: Some(string_matcher::MatchPattern::Exact(san.clone())),
                ignore_case: false,
            }),
            ..Default::default()
        })
        .collect();
    if trusted_ca.is_some() || !sans.is_empty() {
        ctx.validation_context_type = Some(
            common_tls_context::ValidationContextType::ValidationContext(
                CertificateValidationContext {
                    trusted_ca,
                    match_typed_subject_alt_names: sans,
                    ..Default::default()
                },
            ),
        );
    }
    if let Some(p) = &ssl.parameters {
        let version = |v: Option<TlsProtocolVersion>| v.map_or(0, |v| v.number() as i32);
        ctx.tls_params = Some(TlsParameters {
            tls_minimum_protocol_version: version(p.minimum_protocol_version),
            tls_maximum_protocol_version: version(p.maximum_protocol_version),
            cipher_suites: p.cipher_suites.clone().unwrap_or_default(),
            ecdh_curves: p.ecdh_curves.clone().unwrap_or_default(),
            ..Default::default()
        });
    }
    ctx
}
