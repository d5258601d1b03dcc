//! K8sGateway options in Envoy: RouteOption fields on routes, VirtualHostOption fields on
//! virtual hosts, and the HTTP filters those need in the connection manager.
//!
//! Filters that act per route (fault injection, request buffering) are added to the
//! connection manager disabled and switched on by the routes' `typed_per_filter_config`; CORS
//! and CSRF are inert without a policy. All of them are added only to connection managers
//! whose routes or virtual hosts use them, so a listener without policies is exactly what it
//! was without them.
//!
//! RouteOption over VirtualHostOption, per field both can set: `cors`, `csrf` and
//! `bufferPerRoute` are per-filter configurations, and Envoy uses the most specific one (the
//! route's); a route's `retry_policy` replaces its virtual host's; for `headerManipulation`
//! the route configuration is told `most_specific_header_mutations_wins`, so a route's header
//! values are applied after (and so over) its virtual host's.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{HeaderValueOption, RuntimeFractionalPercent};
use envoy_types::pb::envoy::config::route::v3::RetryPolicy as EnvoyRetryPolicy;
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, VirtualHost, retry_policy, route, route_action,
};
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{FaultDelay, fault_delay};
use envoy_types::pb::envoy::extensions::filters::http::buffer::v3::{
    Buffer, BufferPerRoute as EnvoyBufferPerRoute, buffer_per_route,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::{
    Cors, CorsPolicy as EnvoyCorsPolicy,
};
use envoy_types::pb::envoy::extensions::filters::http::csrf::v3::CsrfPolicy as EnvoyCsrfPolicy;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{
    FaultAbort, HttpFault, fault_abort,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatchAndSubstitute as EnvoyRegexSubstitute, RegexMatcher as EnvoyRegexMatcher,
    StringMatcher as EnvoyStringMatcher, string_matcher::MatchPattern,
};
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, fractional_percent::DenominatorType};
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration};

use super::{any, header, u32v};
use crate::api::k8sgateway::cors::CorsPolicy;
use crate::api::k8sgateway::headers::{HeaderManipulation, HeaderValue};
use crate::api::k8sgateway::matchers::{
    BufferPerRoute, CsrfPolicy, Denominator, FractionalPercent as GlooFraction,
    RegexMatchAndSubstitute, RuntimeFractionalPercent as GlooRuntimeFraction, StringMatcher,
};
use crate::api::k8sgateway::retries::{ResetHeaderFormat, RetryPolicy};
use crate::api::k8sgateway::route_option::RouteFaults;
use crate::api::k8sgateway::schema::{Percent, ProtoDuration};
use crate::api::k8sgateway::{HttpListenerOptions, RouteOptions, VirtualHostOptions};
use crate::translate::policy::transform;

const FAULT: &str = "envoy.filters.http.fault";
const CORS: &str = "envoy.filters.http.cors";
const CSRF: &str = "envoy.filters.http.csrf";
const BUFFER: &str = "envoy.filters.http.buffer";

/// The HTTP filters a connection manager needs for the policies of its routes and virtual
/// hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolicyFilters {
    pub fault: bool,
    pub cors: bool,
    pub csrf: bool,
    pub buffer: bool,
    /// Some route reaches an AWS Lambda function.
    pub lambda: bool,
}

impl PolicyFilters {
    pub fn add_route(&mut self, o: &RouteOptions) {
        self.fault |= o.faults.is_some();
        self.cors |= o.cors.is_some();
        self.csrf |= o.csrf.is_some();
        self.buffer |= o.buffer_per_route.is_some();
    }

    pub fn add_virtual_host(&mut self, o: &VirtualHostOptions) {
        self.cors |= o.cors.is_some();
        self.csrf |= o.csrf.is_some();
        self.buffer |= o.buffer_per_route.is_some();
    }

    /// The filters, in the order requests meet them (before the router, which the caller
    /// appends): faults first (an aborted request costs nothing further), then CORS (a
    /// preflight is answered here), CSRF, buffering, and the Lambda invocation. An
    /// HttpListenerOption's `csrf` and `buffer` are these filters' listener-wide
    /// configurations, which routes and virtual hosts still override.
    pub fn http_filters(self, listener: Option<&HttpListenerOptions>) -> Vec<HttpFilter> {
        let listener_csrf = listener.and_then(|l| l.csrf.as_ref());
        let listener_buffer = listener.and_then(|l| l.buffer.as_ref());
        let filter = |name: &str, config: Any, disabled: bool| HttpFilter {
            name: name.to_string(),
            config_type: Some(http_filter::ConfigType::TypedConfig(config)),
            disabled,
            ..Default::default()
        };
        let mut out = Vec::new();
        if self.fault {
            out.push(filter(FAULT, any(&HttpFault::default()), true));
        }
        if self.cors {
            out.push(filter(CORS, any(&Cors::default()), false));
        }
        if let Some(c) = listener_csrf {
            out.push(filter(CSRF, any(&csrf_policy(c)), false));
        } else if self.csrf {
            // Enforced on no request unless a route or virtual host says otherwise.
            let off = EnvoyCsrfPolicy {
                filter_enabled: Some(runtime_percent(0, DenominatorType::Hundred)),
                ..Default::default()
            };
            out.push(filter(CSRF, any(&off), false));
        }
        if let Some(b) = listener_buffer {
            let limit = Buffer {
                max_request_bytes: b.max_request_bytes.map(u32v),
            };
            out.push(filter(BUFFER, any(&limit), false));
        } else if self.buffer {
            // Only ever enabled by a route's or virtual host's own limit, which replaces this
            // one; Envoy requires a value here all the same.
            let placeholder = Buffer {
                max_request_bytes: Some(u32v(u32::MAX)),
            };
            out.push(filter(BUFFER, any(&placeholder), true));
        }
        // Last: it turns the request into the function's invocation.
        if self.lambda {
            out.push(super::lambda::http_filter());
        }
        out
    }
}

/// Apply a rule's effective RouteOption options to one of its Envoy routes.
pub(crate) fn apply_route(r: &mut Route, o: &RouteOptions) {
    if let Some(h) = &o.header_manipulation {
        let (req, req_rm, resp, resp_rm) = headers(h);
        r.request_headers_to_add.extend(req);
        r.request_headers_to_remove.extend(req_rm);
        r.response_headers_to_add.extend(resp);
        r.response_headers_to_remove.extend(resp_rm);
    }
    if let Some(t) = &o.staged_transformations {
        let (req, resp) = transform::header_edits(t);
        edit_headers(
            &mut r.request_headers_to_add,
            &mut r.request_headers_to_remove,
            req,
        );
        edit_headers(
            &mut r.response_headers_to_add,
            &mut r.response_headers_to_remove,
            resp,
        );
    }
    per_filter(
        &mut r.typed_per_filter_config,
        o.faults.as_ref(),
        o.cors.as_ref(),
        o.csrf.as_ref(),
        o.buffer_per_route.as_ref(),
    );
    if let Some(route::Action::Route(action)) = r.action.as_mut() {
        apply_route_action(action, o);
    }
}

fn apply_route_action(a: &mut RouteAction, o: &RouteOptions) {
    if let Some(p) = &o.prefix_rewrite {
        a.prefix_rewrite = p.clone();
    }
    if let Some(re) = &o.regex_rewrite {
        a.regex_rewrite = Some(regex_substitute(re));
    }
    if let Some(h) = &o.host_rewrite {
        a.host_rewrite_specifier = Some(route_action::HostRewriteSpecifier::HostRewriteLiteral(
            h.clone(),
        ));
    } else if o.auto_host_rewrite == Some(true) {
        a.host_rewrite_specifier = Some(route_action::HostRewriteSpecifier::AutoHostRewrite(
            BoolValue { value: true },
        ));
    }
    if let Some(x) = o.append_x_forwarded_host {
        a.append_x_forwarded_host = x;
    }
    if let Some(t) = &o.timeout {
        a.timeout = Some(duration(t));
    }
    if let Some(t) = &o.idle_timeout {
        a.idle_timeout = Some(duration(t));
    }
    if let Some(m) = &o.max_stream_duration {
        a.max_stream_duration = Some(route_action::MaxStreamDuration {
            max_stream_duration: m.max_stream_duration.as_ref().map(duration),
            grpc_timeout_header_max: m.grpc_timeout_header_max.as_ref().map(duration),
            grpc_timeout_header_offset: m.grpc_timeout_header_offset.as_ref().map(duration),
        });
    }
    if let Some(r) = &o.retries {
        let mut policy = retry_policy(r);
        // A Gateway API backendRequest timeout already set the per-try timeout; it stands.
        if let Some(existing) = a.retry_policy.take() {
            policy.per_try_timeout = existing.per_try_timeout.or(policy.per_try_timeout);
        }
        a.retry_policy = Some(policy);
    }
    if let Some(h) = &o.lb_hash {
        a.hash_policy = h
            .hash_policies
            .iter()
            .flatten()
            .filter_map(|p| {
                use route_action::hash_policy::{self as hp, PolicySpecifier as S};
                let specifier = if let Some(name) = &p.header {
                    S::Header(hp::Header {
                        header_name: name.clone(),
                        ..Default::default()
                    })
                } else if let Some(c) = &p.cookie {
                    S::Cookie(hp::Cookie {
                        name: c.name.clone().unwrap_or_default(),
                        ttl: c.ttl.as_ref().map(duration),
                        path: c.path.clone().unwrap_or_default(),
                        ..Default::default()
                    })
                } else if p.source_ip == Some(true) {
                    S::ConnectionProperties(hp::ConnectionProperties { source_ip: true })
                } else {
                    return None;
                };
                Some(route_action::HashPolicy {
                    terminal: p.terminal.unwrap_or(false),
                    policy_specifier: Some(specifier),
                })
            })
            .collect();
    }
    for u in o.upgrades.iter().flatten() {
        let (kind, spec) = match (&u.websocket, &u.connect) {
            (Some(s), _) => ("websocket", s),
            (None, Some(s)) => ("CONNECT", s),
            (None, None) => continue,
        };
        a.upgrade_configs.push(route_action::UpgradeConfig {
            upgrade_type: kind.to_string(),
            enabled: Some(BoolValue {
                value: spec.enabled.unwrap_or(true),
            }),
            ..Default::default()
        });
    }
}

/// Apply a listener's effective VirtualHostOption options to one of its virtual hosts.
/// Returns whether it changed header mutations (then the route configuration must let the
/// most specific level win).
pub(crate) fn apply_virtual_host(vh: &mut VirtualHost, o: &VirtualHostOptions) -> bool {
    let mut headers_changed = false;
    if let Some(h) = &o.header_manipulation {
        let (req, req_rm, resp, resp_rm) = headers(h);
        headers_changed = true;
        vh.request_headers_to_add = req;
        vh.request_headers_to_remove = req_rm;
        vh.response_headers_to_add = resp;
        vh.response_headers_to_remove = resp_rm;
    }
    if let Some(t) = &o.staged_transformations {
        let (req, resp) = transform::header_edits(t);
        headers_changed = true;
        edit_headers(
            &mut vh.request_headers_to_add,
            &mut vh.request_headers_to_remove,
            req,
        );
        edit_headers(
            &mut vh.response_headers_to_add,
            &mut vh.response_headers_to_remove,
            resp,
        );
    }
    per_filter(
        &mut vh.typed_per_filter_config,
        None,
        o.cors.as_ref(),
        o.csrf.as_ref(),
        o.buffer_per_route.as_ref(),
    );
    if let Some(r) = &o.retries {
        vh.retry_policy = Some(retry_policy(r));
    }
    if let Some(b) = o.include_request_attempt_count {
        vh.include_request_attempt_count = b;
    }
    if let Some(b) = o.include_attempt_count_in_response {
        vh.include_attempt_count_in_response = b;
    }
    headers_changed
}

/// The header edits of a staged transformation (the subset gatesim supports).
fn edit_headers(
    add: &mut Vec<HeaderValueOption>,
    remove: &mut Vec<String>,
    e: transform::HeaderEdits,
) {
    add.extend(e.set.iter().map(|(n, v)| header(n, v, true)));
    add.extend(e.append.iter().map(|(n, v)| header(n, v, false)));
    remove.extend(e.remove);
}

fn per_filter(
    config: &mut HashMap<String, Any>,
    faults: Option<&RouteFaults>,
    cors: Option<&CorsPolicy>,
    csrf: Option<&CsrfPolicy>,
    buffer: Option<&BufferPerRoute>,
) {
    if let Some(f) = faults {
        config.insert(FAULT.into(), any(&fault(f)));
    }
    if let Some(c) = cors {
        config.insert(CORS.into(), any(&cors_policy(c)));
    }
    if let Some(c) = csrf {
        config.insert(CSRF.into(), any(&csrf_policy(c)));
    }
    if let Some(b) = buffer {
        let r#override = match (&b.buffer, b.disabled) {
            (Some(limit), _) => buffer_per_route::Override::Buffer(Buffer {
                max_request_bytes: limit.max_request_bytes.map(u32v),
            }),
            (None, _) => buffer_per_route::Override::Disabled(true),
        };
        config.insert(
            BUFFER.into(),
            any(&EnvoyBufferPerRoute {
                r#override: Some(r#override),
            }),
        );
    }
}

fn fault(f: &RouteFaults) -> HttpFault {
    HttpFault {
        abort: f.abort.as_ref().map(|a| FaultAbort {
            percentage: Some(percent(a.percentage)),
            error_type: a.http_status.map(fault_abort::ErrorType::HttpStatus),
            ..Default::default()
        }),
        delay: f.delay.as_ref().map(|d| FaultDelay {
            percentage: Some(percent(d.percentage)),
            fault_delay_secifier: d
                .fixed_delay
                .as_ref()
                .map(|t| fault_delay::FaultDelaySecifier::FixedDelay(duration(t))),
        }),
        ..Default::default()
    }
}

fn cors_policy(c: &CorsPolicy) -> EnvoyCorsPolicy {
    let join = |v: &Option<Vec<String>>| v.as_deref().unwrap_or(&[]).join(",");
    let exact = c.allow_origin.iter().flatten().map(|o| EnvoyStringMatcher {
        match_pattern: Some(MatchPattern::Exact(o.clone())),
        ..Default::default()
    });
    let regex = c
        .allow_origin_regex
        .iter()
        .flatten()
        .map(|o| EnvoyStringMatcher {
            match_pattern: Some(MatchPattern::SafeRegex(regex(o))),
            ..Default::default()
        });
    EnvoyCorsPolicy {
        allow_origin_string_match: exact.chain(regex).collect(),
        allow_methods: join(&c.allow_methods),
        allow_headers: join(&c.allow_headers),
        expose_headers: join(&c.expose_headers),
        max_age: c.max_age.clone().unwrap_or_default(),
        allow_credentials: c.allow_credentials.map(|value| BoolValue { value }),
        // `disableForRoute` turns off what the virtual host would otherwise apply.
        filter_enabled: (c.disable_for_route == Some(true))
            .then(|| runtime_percent(0, DenominatorType::Hundred)),
        ..Default::default()
    }
}

fn csrf_policy(c: &CsrfPolicy) -> EnvoyCsrfPolicy {
    EnvoyCsrfPolicy {
        filter_enabled: c.filter_enabled.as_ref().map(runtime_fraction),
        shadow_enabled: c.shadow_enabled.as_ref().map(runtime_fraction),
        additional_origins: c
            .additional_origins
            .iter()
            .flatten()
            .map(string_matcher)
            .collect(),
    }
}

fn retry_policy(r: &RetryPolicy) -> EnvoyRetryPolicy {
    EnvoyRetryPolicy {
        retry_on: r.retry_on.clone().unwrap_or_default(),
        num_retries: r.num_retries.map(u32v),
        per_try_timeout: r.per_try_timeout.as_ref().map(duration),
        retriable_status_codes: r.retriable_status_codes.clone().unwrap_or_default(),
        retry_back_off: r
            .retry_back_off
            .as_ref()
            .map(|b| retry_policy::RetryBackOff {
                base_interval: b.base_interval.as_ref().map(duration),
                max_interval: b.max_interval.as_ref().map(duration),
            }),
        rate_limited_retry_back_off: r.rate_limited_retry_back_off.as_ref().map(|b| {
            retry_policy::RateLimitedRetryBackOff {
                reset_headers: b
                    .reset_headers
                    .iter()
                    .flatten()
                    .map(|h| retry_policy::ResetHeader {
                        name: h.name.clone().unwrap_or_default(),
                        format: match h.format {
                            Some(ResetHeaderFormat::UnixTimestamp) => {
                                retry_policy::ResetHeaderFormat::UnixTimestamp
                            }
                            _ => retry_policy::ResetHeaderFormat::Seconds,
                        } as i32,
                    })
                    .collect(),
                max_interval: b.max_interval.as_ref().map(duration),
            }
        }),
        ..Default::default()
    }
}

type Headers = (
    Vec<HeaderValueOption>,
    Vec<String>,
    Vec<HeaderValueOption>,
    Vec<String>,
);

/// gloo appends by default (`append` unset means true).
fn headers(h: &HeaderManipulation) -> Headers {
    let req = h.request_headers_to_add.iter().flatten();
    let resp = h.response_headers_to_add.iter().flatten();
    (
        header_options(req.map(|o| (o.header.as_ref(), o.append))),
        h.request_headers_to_remove.clone().unwrap_or_default(),
        header_options(resp.map(|o| (o.header.as_ref(), o.append))),
        h.response_headers_to_remove.clone().unwrap_or_default(),
    )
}

/// Request and response header options differ in type but not in what Envoy needs.
fn header_options<'a>(
    options: impl Iterator<Item = (Option<&'a HeaderValue>, Option<bool>)>,
) -> Vec<HeaderValueOption> {
    options
        .filter_map(|(hv, append)| {
            let hv = hv?;
            Some(header(
                hv.key.as_deref().unwrap_or_default(),
                hv.value.as_deref().unwrap_or_default(),
                append == Some(false),
            ))
        })
        .collect()
}

pub(crate) fn duration(d: &ProtoDuration) -> Duration {
    let (seconds, nanos) = d.to_parts();
    Duration { seconds, nanos }
}

/// A percentage as a fraction of a million, the finest Envoy offers (gloo does the same).
fn percent(p: Option<Percent>) -> FractionalPercent {
    let value = p.map_or(0.0, Percent::get);
    FractionalPercent {
        numerator: (value * 10_000.0).round() as u32,
        denominator: DenominatorType::Million as i32,
    }
}

fn runtime_percent(numerator: u32, denominator: DenominatorType) -> RuntimeFractionalPercent {
    RuntimeFractionalPercent {
        default_value: Some(FractionalPercent {
            numerator,
            denominator: denominator as i32,
        }),
        runtime_key: String::new(),
    }
}

fn fraction(f: &GlooFraction) -> FractionalPercent {
    FractionalPercent {
        numerator: f.numerator.unwrap_or(0),
        denominator: match f.denominator.unwrap_or(Denominator::Hundred) {
            Denominator::Hundred => DenominatorType::Hundred,
            Denominator::TenThousand => DenominatorType::TenThousand,
            Denominator::Million => DenominatorType::Million,
        } as i32,
    }
}

fn runtime_fraction(r: &GlooRuntimeFraction) -> RuntimeFractionalPercent {
    RuntimeFractionalPercent {
        default_value: r.default_value.as_ref().map(fraction),
        runtime_key: r.runtime_key.clone().unwrap_or_default(),
    }
}

fn regex(s: &str) -> EnvoyRegexMatcher {
    EnvoyRegexMatcher {
        regex: s.to_string(),
        ..Default::default()
    }
}

fn regex_substitute(r: &RegexMatchAndSubstitute) -> EnvoyRegexSubstitute {
    EnvoyRegexSubstitute {
        pattern: r
            .pattern
            .as_ref()
            .map(|p| regex(p.regex.as_deref().unwrap_or_default())),
        substitution: r.substitution.clone().unwrap_or_default(),
    }
}

fn string_matcher(m: &StringMatcher) -> EnvoyStringMatcher {
    let pattern = if let Some(s) = &m.exact {
        MatchPattern::Exact(s.clone())
    } else if let Some(s) = &m.prefix {
        MatchPattern::Prefix(s.clone())
    } else if let Some(s) = &m.suffix {
        MatchPattern::Suffix(s.clone())
    } else {
        MatchPattern::SafeRegex(regex(
            m.safe_regex
                .as_ref()
                .and_then(|r| r.regex.as_deref())
                .unwrap_or_default(),
        ))
    };
    EnvoyStringMatcher {
        match_pattern: Some(pattern),
        ignore_case: m.ignore_case.unwrap_or(false),
    }
}
