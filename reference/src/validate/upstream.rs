//! Upstream (`gloo.solo.io/v1`): the fields gatesim translates, checked as strictly as Envoy
//! checks the cluster they become (an Envoy that refuses one cluster refuses the whole update,
//! and with it every other route of the Gateway), and the fields it does not translate,
//! refused by name, so that nothing a user wrote is dropped without a word.

use super::hostnames::hostname;
use super::path::{Checker, FieldError};
use crate::api::k8sgateway::connection::{ConnectionConfig, LoadBalancerConfig, OutlierDetection};
use crate::api::k8sgateway::health_check::{HealthCheck, RequestMethod};
use crate::api::k8sgateway::schema::ProtoDuration;
use crate::api::k8sgateway::tls::UpstreamSslConfig;
use crate::api::k8sgateway::upstream::{
    AwsUpstream, DestinationSpec, Failover, Host, KubeUpstream, LambdaFunctionSpec, StaticUpstream,
};
use crate::api::k8sgateway::{Upstream, UpstreamSpec};

const UNSUPPORTED: &str = "is not supported by gatesim";

/// Envoy's bounds on HTTP/2 flow-control windows.
const WINDOW_MIN: u32 = 65_535;
const WINDOW_MAX: u32 = 2_147_483_647;

/// The kinds of destination an Upstream can be, as written.
pub fn upstream(u: &Upstream) -> Vec<FieldError> {
    let mut c = Checker::new();
    c.field("spec", |c| spec(c, &u.spec));
    c.finish()
}

fn spec(c: &mut Checker, s: &UpstreamSpec) {
    let types = [
        ("static", s.static_.is_some()),
        ("kube", s.kube.is_some()),
        ("aws", s.aws.is_some()),
        ("pipe", s.pipe.is_some()),
        ("azure", s.azure.is_some()),
        ("consul", s.consul.is_some()),
        ("awsEc2", s.aws_ec2.is_some()),
        ("gcp", s.gcp.is_some()),
        ("ai", s.ai.is_some()),
    ];
    let set: Vec<&str> = types
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    match set.as_slice() {
        [] => c.fail("one of static, kube or aws is required"),
        [_] => {}
        more => c.fail(format!(
            "only one upstream type may be set, found {}",
            more.join(", ")
        )),
    }
    // Fixed hosts, Services and Lambda functions are translated; the other types are refused
    // by name.
    for (name, _) in types.iter().skip(3).filter(|(_, on)| *on) {
        c.field(name, |c| c.fail(UNSUPPORTED));
    }
    let dns = s.static_.as_ref().is_some_and(has_hostnames);
    if let Some(st) = &s.static_ {
        c.field("static", |c| static_upstream(c, st));
    }
    if let Some(k) = &s.kube {
        c.field("kube", |c| kube(c, k));
    }
    if let Some(a) = &s.aws {
        c.field("aws", |c| aws(c, a));
    }
    if let Some(ssl) = &s.ssl_config {
        c.field("sslConfig", |c| ssl_config(c, ssl));
    }
    let http2 = s.use_http2 == Some(true);
    c.list("healthChecks", s.health_checks.as_deref(), 16, |c, _, h| {
        health_check(c, h);
        if h.grpc_health_check.is_some() && !http2 {
            c.field("grpcHealthCheck", |c| {
                c.fail("needs useHttp2: true on the Upstream (gRPC runs over HTTP/2)")
            });
        }
    });
    if let Some(o) = &s.outlier_detection {
        c.field("outlierDetection", |c| outlier(c, o));
    }
    if let Some(cc) = &s.connection_config {
        c.field("connectionConfig", |c| connection(c, cc));
    }
    if let Some(lb) = &s.load_balancer_config {
        c.field("loadBalancerConfig", |c| load_balancer(c, lb));
    }
    if let Some(f) = &s.failover {
        c.field("failover", |c| failover(c, f, dns));
    }
    if let Some(d) = &s.dns_refresh_rate {
        c.field("dnsRefreshRate", |c| at_least_1ms(c, d));
    }
    for (name, value) in [
        ("initialStreamWindowSize", s.initial_stream_window_size),
        (
            "initialConnectionWindowSize",
            s.initial_connection_window_size,
        ),
    ] {
        if let Some(v) = value {
            c.field(name, |c| {
                c.range(v.into(), WINDOW_MIN.into(), WINDOW_MAX.into())
            });
        }
    }
    if let Some(v) = s.max_concurrent_streams {
        c.field("maxConcurrentStreams", |c| {
            c.range(v.into(), 1, WINDOW_MAX.into())
        });
    }
    let unsupported = [
        ("protocolSelection", s.protocol_selection.is_some()),
        ("httpProxyHostname", s.http_proxy_hostname.is_some()),
        ("httpConnectSslConfig", s.http_connect_ssl_config.is_some()),
        ("httpConnectHeaders", s.http_connect_headers.is_some()),
        ("proxyProtocolVersion", s.proxy_protocol_version.is_some()),
        ("preconnectPolicy", s.preconnect_policy.is_some()),
    ];
    for (name, _) in unsupported.iter().filter(|(_, on)| *on) {
        c.field(name, |c| c.fail(UNSUPPORTED));
    }
}

/// Whether any static host is a name rather than an address (Envoy then resolves it by DNS).
pub fn has_hostnames(s: &StaticUpstream) -> bool {
    s.hosts.iter().flatten().any(|h| {
        h.addr
            .as_deref()
            .is_some_and(|a| a.parse::<std::net::IpAddr>().is_err())
    })
}

fn static_upstream(c: &mut Checker, s: &StaticUpstream) {
    let hosts = s.hosts.as_deref().unwrap_or_default();
    c.field("hosts", |c| c.min_items(hosts.len(), 1));
    c.list("hosts", s.hosts.as_deref(), 1024, |c, _, h| host(c, h));
    if s.service_spec.is_some() {
        c.field("serviceSpec", |c| c.fail(UNSUPPORTED));
    }
}

fn host(c: &mut Checker, h: &Host) {
    c.value("addr", address(h.addr.as_deref()));
    c.value("port", port(h.port));
    if let Some(sni) = &h.sni_addr {
        c.value("sniAddr", hostname(sni, false));
    }
    if h.health_check_config.is_some() {
        c.field("healthCheckConfig", |c| c.fail(UNSUPPORTED));
    }
    if h.metadata.is_some() {
        c.field("metadata", |c| c.fail(UNSUPPORTED));
    }
    if h.load_balancing_weight == Some(0) {
        c.field("loadBalancingWeight", |c| c.fail("must be at least 1"));
    }
}

/// An IP address or a DNS name.
fn address(addr: Option<&str>) -> Result<(), String> {
    match addr {
        None | Some("") => Err("is required".into()),
        Some(a) if a.parse::<std::net::IpAddr>().is_ok() => Ok(()),
        Some(a) => {
            hostname(a, false).map_err(|e| format!("must be an IP address or a DNS name: {e}"))
        }
    }
}

fn port(p: Option<u32>) -> Result<(), String> {
    match p {
        Some(1..=65535) => Ok(()),
        Some(p) => Err(format!("must be between 1 and 65535, is {p}")),
        None => Err("is required".into()),
    }
}

fn kube(c: &mut Checker, k: &KubeUpstream) {
    match k.service_name.as_deref() {
        None | Some("") => c.field("serviceName", |c| c.fail("is required")),
        Some(n) => c.value("serviceName", super::names::object_name(n)),
    }
    if let Some(ns) = k.service_namespace.as_deref().filter(|n| !n.is_empty()) {
        c.value("serviceNamespace", super::names::namespace(ns));
    }
    c.value("servicePort", port(k.service_port));
    if let Some(selector) = &k.selector {
        c.field("selector", |c| {
            for (name, value) in selector {
                c.key(name, |c| {
                    c.check(super::names::label_key(name));
                    c.check(super::names::label_value(value));
                });
            }
        });
    }
    if k.service_spec.is_some() {
        c.field("serviceSpec", |c| c.fail(UNSUPPORTED));
    }
    if k.subset_spec.is_some() {
        c.field("subsetSpec", |c| c.fail(UNSUPPORTED));
    }
}

/// What Envoy's `aws_lambda` filter needs to build each function's ARN and sign for it;
/// anything that would need a call to AWS from the controller (assuming a role) is refused.
fn aws(c: &mut Checker, a: &AwsUpstream) {
    c.value("region", aws_region(a.region.as_deref()));
    match a.secret_ref.as_ref().and_then(|r| r.name.as_deref()) {
        None | Some("") => c.field("secretRef", |c| {
            c.field("name", |c| {
                c.fail("is required (gatesim signs with the Secret's credentials)")
            })
        }),
        Some(n) => c.field("secretRef", |c| {
            c.value("name", super::names::object_name(n))
        }),
    }
    if let Some(ns) = a
        .secret_ref
        .as_ref()
        .and_then(|r| r.namespace.as_deref())
        .filter(|n| !n.is_empty())
    {
        c.field("secretRef", |c| {
            c.value("namespace", super::names::namespace(ns))
        });
    }
    c.value(
        "awsAccountId",
        match a.aws_account_id.as_deref() {
            None | Some("") => {
                Err("is required by gatesim (Envoy invokes functions by ARN)".into())
            }
            Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            Some(id) => Err(format!("{id:?} must be 12 digits")),
        },
    );
    let functions = a.lambda_functions.as_deref().unwrap_or_default();
    c.field("lambdaFunctions", |c| c.min_items(functions.len(), 1));
    c.list(
        "lambdaFunctions",
        a.lambda_functions.as_deref(),
        1024,
        |c, _, f| lambda_function(c, f),
    );
    c.unique(
        "lambdaFunctions",
        functions
            .iter()
            .map(|f| f.logical_name.as_deref().unwrap_or_default()),
        "logicalName",
    );
    if a.role_arn.as_deref().is_some_and(|r| !r.is_empty()) {
        c.field("roleArn", |c| {
            c.fail(
                "is not supported by gatesim: Envoy's aws_lambda filter signs only with fixed \
                 credentials (or a credentials file), and its AssumeRole credential provider \
                 is offered to aws_request_signing only",
            )
        });
    }
    if let Some(d) = &a.destination_overrides {
        c.field("destinationOverrides", |c| destination_overrides(c, d));
    }
}

/// K8sGateway merges these into each route's destination, filling only what the route leaves
/// unset (false, empty, SYNC). `invocationStyle` maps to Envoy's invocation mode, and
/// `logicalName` never takes effect (every backendRef names its function with a Parameter).
/// The payload transformations have no Envoy equivalent: its aws_lambda filter either passes
/// the body through or wraps the request and unwraps the response together, in a JSON shape
/// of its own.
fn destination_overrides(c: &mut Checker, d: &DestinationSpec) {
    if let Some(n) = d.logical_name.as_deref().filter(|n| !n.is_empty()) {
        c.value("logicalName", super::names::object_name(n));
    }
    let transformations = [
        ("requestTransformation", d.request_transformation),
        ("responseTransformation", d.response_transformation),
        ("unwrapAsAlb", d.unwrap_as_alb),
        ("unwrapAsApiGateway", d.unwrap_as_api_gateway),
        ("wrapAsApiGateway", d.wrap_as_api_gateway),
    ];
    for (name, _) in transformations.iter().filter(|(_, on)| *on == Some(true)) {
        c.field(name, |c| {
            c.fail(
                "is not supported by gatesim: Envoy's aws_lambda filter has no such \
                 transformation (it passes the body through)",
            )
        });
    }
}

/// An AWS region as the Lambda endpoint's host name carries it: `us-east-1`, `cn-north-1`.
fn aws_region(region: Option<&str>) -> Result<(), String> {
    let r = region.unwrap_or_default();
    if r.is_empty() {
        return Err("is required".into());
    }
    let parts: Vec<&str> = r.split('-').collect();
    let well_formed = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if well_formed && r.len() <= 32 {
        Ok(())
    } else {
        Err(format!("{r:?} is not an AWS region (like us-east-1)"))
    }
}

fn lambda_function(c: &mut Checker, f: &LambdaFunctionSpec) {
    c.value(
        "logicalName",
        match f.logical_name.as_deref() {
            None | Some("") => Err("is required".into()),
            Some(n) => super::names::object_name(n),
        },
    );
    // Lambda's own limits: names of letters, digits, `-` and `_` (up to 64), qualifiers
    // (a version or an alias) of those and `$` (up to 128). A `:` would split the ARN.
    let charset = |v: &str, max: usize, extra: &[u8]| {
        if v.is_empty() || v.len() > max {
            return Err(format!("{v:?} must be 1 to {max} characters"));
        }
        match v
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || b"-_".contains(b) || extra.contains(b)))
        {
            Some(b) => Err(format!(
                "{v:?} holds {:?}, which Lambda does not allow",
                b as char
            )),
            None => Ok(()),
        }
    };
    c.value(
        "lambdaFunctionName",
        charset(
            f.lambda_function_name.as_deref().unwrap_or_default(),
            64,
            b"",
        ),
    );
    if let Some(q) = f.qualifier.as_deref().filter(|q| !q.is_empty()) {
        c.value("qualifier", charset(q, 128, b"$"));
    }
}

fn ssl_config(c: &mut Checker, s: &UpstreamSslConfig) {
    let sources = [
        ("secretRef", s.secret_ref.is_some()),
        ("sslFiles", s.ssl_files.is_some()),
        ("sds", s.sds.is_some()),
    ];
    if sources.iter().filter(|(_, on)| *on).count() > 1 {
        c.fail("only one of secretRef, sslFiles and sds may be set");
    }
    if s.sds.is_some() {
        c.field("sds", |c| c.fail(UNSUPPORTED));
    }
    if let Some(r) = &s.secret_ref {
        c.field("secretRef", |c| match r.name.as_deref() {
            None | Some("") => c.field("name", |c| c.fail("is required")),
            Some(n) => c.value("name", super::names::object_name(n)),
        });
    }
    if let Some(f) = &s.ssl_files {
        c.field("sslFiles", |c| {
            let one_way = s.one_way_tls == Some(true);
            let cert = f.tls_cert.as_deref().filter(|p| !p.is_empty());
            let key = f.tls_key.as_deref().filter(|p| !p.is_empty());
            if !one_way && cert.is_some() != key.is_some() {
                c.fail("tlsCert and tlsKey go together");
            }
            if f.ocsp_staple.is_some() {
                c.field("ocspStaple", |c| c.fail(UNSUPPORTED));
            }
        });
    }
    if let Some(sni) = s.sni.as_deref().filter(|s| !s.is_empty()) {
        c.value("sni", hostname(sni, false));
    }
    if let Some(p) = &s.parameters {
        c.field("parameters", |c| {
            if let (Some(min), Some(max)) = (p.minimum_protocol_version, p.maximum_protocol_version)
                && min.number() > max.number()
                && max.number() != 0
            {
                c.fail(format!(
                    "minimumProtocolVersion {} is above maximumProtocolVersion {}",
                    min.name(),
                    max.name()
                ));
            }
        });
    }
}

fn health_check(c: &mut Checker, h: &HealthCheck) {
    required_positive(c, "timeout", h.timeout.as_ref());
    required_positive(c, "interval", h.interval.as_ref());
    for (name, d) in [
        ("initialJitter", &h.initial_jitter),
        ("intervalJitter", &h.interval_jitter),
        ("noTrafficInterval", &h.no_traffic_interval),
        ("unhealthyInterval", &h.unhealthy_interval),
        ("unhealthyEdgeInterval", &h.unhealthy_edge_interval),
        ("healthyEdgeInterval", &h.healthy_edge_interval),
    ] {
        if let Some(d) = d {
            c.field(name, |c| non_negative(c, d));
        }
    }
    for (name, v) in [
        ("unhealthyThreshold", h.unhealthy_threshold),
        ("healthyThreshold", h.healthy_threshold),
    ] {
        if v.is_none() {
            c.field(name, |c| c.fail("is required"));
        }
    }
    let checkers = [
        h.http_health_check.is_some(),
        h.grpc_health_check.is_some(),
        h.tcp_health_check.is_some(),
        h.custom_health_check.is_some(),
    ];
    match checkers.iter().filter(|on| **on).count() {
        0 => c.fail("one of httpHealthCheck and grpcHealthCheck is required"),
        1 => {}
        _ => c.fail("only one of httpHealthCheck, grpcHealthCheck, tcpHealthCheck and customHealthCheck may be set"),
    }
    if h.tcp_health_check.is_some() {
        c.field("tcpHealthCheck", |c| c.fail(UNSUPPORTED));
    }
    if h.custom_health_check.is_some() {
        c.field("customHealthCheck", |c| c.fail(UNSUPPORTED));
    }
    if h.event_log_path.is_some() {
        c.field("eventLogPath", |c| c.fail(UNSUPPORTED));
    }
    if let Some(http) = &h.http_health_check {
        c.field("httpHealthCheck", |c| {
            match http.path.as_deref() {
                None | Some("") => c.field("path", |c| c.fail("is required")),
                Some(p) if !p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f) => c
                    .field("path", |c| {
                        c.fail(format!(
                            "{p:?} must start with / and hold no spaces or controls"
                        ))
                    }),
                Some(_) => {}
            }
            if let Some(host) = http.host.as_deref().filter(|h| !h.is_empty()) {
                c.value("host", super::headers::value(host));
            }
            c.list(
                "expectedStatuses",
                http.expected_statuses.as_deref(),
                64,
                |c, _, r| {
                    let start = r.start.map_or(0, |v| v.get());
                    let end = r.end.map_or(0, |v| v.get());
                    if !(100..600).contains(&start) || !(101..=600).contains(&end) || start >= end {
                        c.fail(format!(
                            "[{start}, {end}) is not a range of statuses within [100, 600)"
                        ));
                    }
                },
            );
            c.list(
                "requestHeadersToRemove",
                http.request_headers_to_remove.as_deref(),
                64,
                |c, _, n| {
                    c.check(super::headers::name(n));
                },
            );
            if http.request_headers_to_add.is_some() {
                c.field("requestHeadersToAdd", |c| c.fail(UNSUPPORTED));
            }
            if http.method == Some(RequestMethod::Connect) {
                c.field("method", |c| {
                    c.fail("CONNECT cannot be used for health checks")
                });
            }
            if http.response_assertions.is_some() {
                c.field("responseAssertions", |c| c.fail(UNSUPPORTED));
            }
        });
    }
    if let Some(g) = &h.grpc_health_check
        && g.initial_metadata.is_some()
    {
        c.field("grpcHealthCheck", |c| {
            c.field("initialMetadata", |c| c.fail(UNSUPPORTED))
        });
    }
}

fn outlier(c: &mut Checker, o: &OutlierDetection) {
    if let Some(d) = &o.interval {
        c.field("interval", |c| positive(c, d));
    }
    if let Some(d) = &o.base_ejection_time {
        c.field("baseEjectionTime", |c| positive(c, d));
    }
}

fn connection(c: &mut Checker, cc: &ConnectionConfig) {
    if let Some(d) = &cc.connect_timeout {
        c.field("connectTimeout", |c| positive(c, d));
    }
    if let Some(k) = &cc.tcp_keepalive {
        c.field("tcpKeepalive", |c| {
            for (name, d) in [
                ("keepaliveTime", &k.keepalive_time),
                ("keepaliveInterval", &k.keepalive_interval),
            ] {
                if let Some(d) = d {
                    c.field(name, |c| {
                        if d.to_parts().0 < 1 {
                            c.fail(
                                "must be at least 1s (Envoy counts keepalives in whole seconds)",
                            );
                        }
                    });
                }
            }
        });
    }
    if let Some(h) = &cc.common_http_protocol_options {
        c.field("commonHttpProtocolOptions", |c| {
            if let Some(d) = &h.idle_timeout {
                c.field("idleTimeout", |c| non_negative(c, d));
            }
            if let Some(d) = &h.max_stream_duration {
                c.field("maxStreamDuration", |c| non_negative(c, d));
            }
            if h.max_headers_count == Some(0) {
                c.field("maxHeadersCount", |c| c.fail("must be at least 1"));
            }
        });
    }
    if let Some(h) = &cc.http1_protocol_options {
        c.field("http1ProtocolOptions", |c| {
            if h.preserve_case_header_key_format == Some(true) {
                c.field("preserveCaseHeaderKeyFormat", |c| c.fail(UNSUPPORTED));
            }
        });
    }
}

fn load_balancer(c: &mut Checker, lb: &LoadBalancerConfig) {
    let policies = [
        ("roundRobin", lb.round_robin.is_some()),
        ("leastRequest", lb.least_request.is_some()),
        ("random", lb.random.is_some()),
        ("ringHash", lb.ring_hash.is_some()),
        ("maglev", lb.maglev.is_some()),
    ];
    let set: Vec<&str> = policies
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if set.len() > 1 {
        c.fail(format!(
            "only one load balancing policy may be set, found {}",
            set.join(", ")
        ));
    }
    if let Some(d) = &lb.update_merge_window {
        c.field("updateMergeWindow", |c| non_negative(c, d));
    }
    let slow_start = lb
        .round_robin
        .as_ref()
        .and_then(|r| r.slow_start_config.as_ref().map(|s| ("roundRobin", s)))
        .or_else(|| {
            lb.least_request
                .as_ref()
                .and_then(|r| r.slow_start_config.as_ref().map(|s| ("leastRequest", s)))
        });
    if let Some((policy, s)) = slow_start {
        c.field(policy, |c| {
            c.field("slowStartConfig", |c| {
                if let Some(d) = &s.slow_start_window {
                    c.field("slowStartWindow", |c| non_negative(c, d));
                }
                if s.aggression.is_some_and(|a| a <= 0.0 || !a.is_finite()) {
                    c.field("aggression", |c| c.fail("must be a number above 0"));
                }
            })
        });
    }
    if let Some(cfg) = lb
        .ring_hash
        .as_ref()
        .and_then(|r| r.ring_hash_config.as_ref())
    {
        c.field("ringHash", |c| {
            c.field("ringHashConfig", |c| {
                let min = cfg.minimum_ring_size.map(|v| v.get());
                let max = cfg.maximum_ring_size.map(|v| v.get());
                for (name, v) in [("minimumRingSize", min), ("maximumRingSize", max)] {
                    if let Some(v) = v {
                        c.field(name, |c| c.range(v, 1, 8_388_608));
                    }
                }
                if let (Some(min), Some(max)) = (min, max)
                    && min > max
                {
                    c.fail(format!(
                        "minimumRingSize {min} is above maximumRingSize {max}"
                    ));
                }
            })
        });
    }
}

fn failover(c: &mut Checker, f: &Failover, dns: bool) {
    c.list("prioritizedLocalities", f.prioritized_localities.as_deref(), 16, |c, _, p| {
        c.list("localityEndpoints", p.locality_endpoints.as_deref(), 64, |c, _, l| {
            c.list("lbEndpoints", l.lb_endpoints.as_deref(), 1024, |c, _, e| {
                let addr = e.address.as_deref();
                if !dns && addr.is_some_and(|a| a.parse::<std::net::IpAddr>().is_err()) {
                    c.field("address", |c| {
                        c.fail("must be an IP address unless the upstream's own hosts are DNS names")
                    });
                } else {
                    c.value("address", address(addr));
                }
                c.value("port", port(e.port));
                if e.upstream_ssl_config.is_some() {
                    c.field("upstreamSslConfig", |c| c.fail(UNSUPPORTED));
                }
                if e.metadata.is_some() {
                    c.field("metadata", |c| c.fail(UNSUPPORTED));
                }
                if let Some(h) = &e.health_check_config {
                    c.field("healthCheckConfig", |c| {
                        if h.path.is_some() || h.method.is_some() {
                            c.fail("path and method per endpoint are not supported by gatesim");
                        }
                        if let Some(p) = h.port_value.filter(|p| *p != 0) {
                            c.value("portValue", port(Some(p)));
                        }
                    });
                }
            });
        });
    });
}

fn required_positive(c: &mut Checker, name: &'static str, d: Option<&ProtoDuration>) {
    c.field(name, |c| match d {
        None => c.fail("is required"),
        Some(d) => positive(c, d),
    });
}

fn positive(c: &mut Checker, d: &ProtoDuration) {
    if d.to_parts() <= (0, 0) {
        c.fail(format!("{} must be above 0", d.as_str()));
    }
}

fn non_negative(c: &mut Checker, d: &ProtoDuration) {
    if d.to_parts() < (0, 0) {
        c.fail(format!("{} must not be negative", d.as_str()));
    }
}

fn at_least_1ms(c: &mut Checker, d: &ProtoDuration) {
    if d.to_parts() < (0, 1_000_000) {
        c.fail(format!("{} must be at least 1ms", d.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// An aws Upstream that gatesim translates, with `edit` applied to its `aws` block.
    fn aws_errors(edit: &str) -> String {
        let mut aws: serde_yaml::Value = serde_yaml::from_str(
            "{region: us-east-1, awsAccountId: '123456789012', secretRef: {name: creds}, \
             lambdaFunctions: [{logicalName: fn, lambdaFunctionName: my-fn}]}",
        )
        .expect("base");
        let patch: serde_yaml::Mapping = serde_yaml::from_str(edit).expect("edit");
        for (k, v) in patch {
            aws[k] = v;
        }
        let mut spec = serde_yaml::Mapping::new();
        spec.insert("aws".into(), aws);
        let spec: UpstreamSpec = serde_yaml::from_value(spec.into()).expect("spec");
        let u = Upstream::new("lambda", spec);
        crate::validate::describe(&upstream(&u))
    }

    #[test]
    fn a_complete_aws_upstream_is_valid() {
        assert_eq!(aws_errors("{}"), "");
    }

    #[rstest]
    #[case("{destinationOverrides: {invocationStyle: ASYNC}}")]
    #[case("{destinationOverrides: {invocationStyle: SYNC, logicalName: fn}}")]
    // False is what K8sGateway's merge ignores.
    #[case("{destinationOverrides: {requestTransformation: false, unwrapAsAlb: false}}")]
    fn destination_overrides_with_an_envoy_equivalent_are_valid(#[case] edit: &str) {
        assert_eq!(aws_errors(edit), "", "{edit}");
    }

    /// A `kube` Upstream with the given selector.
    fn selector_errors(selector: &str) -> String {
        let spec: UpstreamSpec = serde_yaml::from_str(&format!(
            "{{kube: {{serviceName: web, servicePort: 80, selector: {selector}}}}}"
        ))
        .expect("spec");
        crate::validate::describe(&upstream(&Upstream::new("web", spec)))
    }

    #[test]
    fn a_kube_selector_needs_label_keys_and_values() {
        assert_eq!(
            selector_errors("{app.kubernetes.io/name: web, track: v2}"),
            ""
        );
        let bad_key = selector_errors("{'-bad': x}");
        assert!(
            bad_key.starts_with("spec.kube.selector[-bad]: "),
            "{bad_key}"
        );
        let bad_value = selector_errors("{track: 'two words'}");
        assert!(
            bad_value.starts_with("spec.kube.selector[track]: "),
            "{bad_value}"
        );
    }

    #[rstest]
    #[case("{region: ''}", "spec.aws.region: is required")]
    #[case(
        "{region: US_EAST}",
        "spec.aws.region: \"US_EAST\" is not an AWS region"
    )]
    #[case(
        "{awsAccountId: '12ab'}",
        "spec.aws.awsAccountId: \"12ab\" must be 12 digits"
    )]
    #[case("{awsAccountId: ''}", "spec.aws.awsAccountId: is required by gatesim")]
    #[case("{secretRef: {name: ''}}", "spec.aws.secretRef.name: is required")]
    #[case("{lambdaFunctions: []}", "spec.aws.lambdaFunctions: ")]
    #[case(
        "{lambdaFunctions: [{logicalName: fn, lambdaFunctionName: 'a:b'}]}",
        "spec.aws.lambdaFunctions[0].lambdaFunctionName: \"a:b\" holds ':'"
    )]
    #[case(
        "{lambdaFunctions: [{logicalName: fn, lambdaFunctionName: f, qualifier: 'v 1'}]}",
        "spec.aws.lambdaFunctions[0].qualifier: \"v 1\" holds ' '"
    )]
    #[case(
        "{lambdaFunctions: [{logicalName: fn, lambdaFunctionName: f}, {logicalName: fn, lambdaFunctionName: g}]}",
        "spec.aws.lambdaFunctions[1]: logicalName \"fn\" is already used"
    )]
    #[case(
        "{roleArn: 'arn:aws:iam::123456789012:role/r'}",
        "spec.aws.roleArn: is not supported by gatesim: Envoy's aws_lambda filter"
    )]
    #[case(
        "{destinationOverrides: {requestTransformation: true}}",
        "spec.aws.destinationOverrides.requestTransformation: is not supported by gatesim"
    )]
    #[case(
        "{destinationOverrides: {invocationStyle: ASYNC, unwrapAsAlb: true}}",
        "spec.aws.destinationOverrides.unwrapAsAlb: is not supported by gatesim"
    )]
    #[case(
        "{destinationOverrides: {unwrapAsApiGateway: true}}",
        "spec.aws.destinationOverrides.unwrapAsApiGateway: is not supported"
    )]
    #[case(
        "{destinationOverrides: {responseTransformation: true}}",
        "spec.aws.destinationOverrides.responseTransformation: is not supported"
    )]
    #[case(
        "{destinationOverrides: {wrapAsApiGateway: true}}",
        "spec.aws.destinationOverrides.wrapAsApiGateway: is not supported"
    )]
    fn invalid_aws_fields_are_refused_by_name(#[case] edit: &str, #[case] expected: &str) {
        let got = aws_errors(edit);
        assert!(got.starts_with(expected), "{edit}: got {got:?}");
    }
}
