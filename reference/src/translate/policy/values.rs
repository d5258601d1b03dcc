//! Values of RouteOption and VirtualHostOption options that must never reach Envoy: ones
//! Envoy would reject (and with them the whole configuration of the Gateway), ones it would
//! misread, and fields gatesim does not implement. Each finding names its field path
//! (`spec.options.faults.abort.httpStatus: must be between 200 and 599, is 700`); an object
//! with findings contributes nothing.
//!
//! Which fields are implemented is one list per kind, checked against the options as written:
//! anything else that is set (Enterprise features, `transformations`, `shadowing`, ...) is
//! refused by name rather than silently ignored.

use crate::validate::headers::modifiable_name;
use serde::Serialize;

use crate::api::k8sgateway::cors::{CorsMergeStrategy, CorsPolicy};
use crate::api::k8sgateway::headers::HeaderManipulation;
use crate::api::k8sgateway::matchers::{
    BufferPerRoute, CsrfPolicy, Denominator, RuntimeFractionalPercent, StringMatcher,
};
use crate::api::k8sgateway::retries::RetryPolicy;
use crate::api::k8sgateway::schema::ProtoDuration;
use crate::api::k8sgateway::transformation::TransformationStages;
use crate::api::k8sgateway::{RouteOptions, VirtualHostOptions};

/// RouteOption fields gatesim translates.
const ROUTE_FIELDS: &[&str] = &[
    "faults",
    "prefixRewrite",
    "regexRewrite",
    "timeout",
    "idleTimeout",
    "maxStreamDuration",
    "retries",
    "headerManipulation",
    "hostRewrite",
    "autoHostRewrite",
    "appendXForwardedHost",
    "cors",
    "csrf",
    "lbHash",
    "upgrades",
    "bufferPerRoute",
    "stagedTransformations",
];

/// VirtualHostOption fields gatesim translates.
const VIRTUAL_HOST_FIELDS: &[&str] = &[
    "headerManipulation",
    "cors",
    "corsPolicyMergeSettings",
    "retries",
    "includeRequestAttemptCount",
    "includeAttemptCountInResponse",
    "csrf",
    "bufferPerRoute",
    "stagedTransformations",
];

/// Fields gloo has only in its Enterprise edition.
const ENTERPRISE: &[&str] = &[
    "ratelimitBasic",
    "ratelimitEarly",
    "rateLimitEarlyConfigs",
    "ratelimit",
    "rateLimitConfigs",
    "ratelimitRegular",
    "rateLimitRegularConfigs",
    "waf",
    "jwt",
    "jwtStaged",
    "jwtProvidersStaged",
    "rbac",
    "extauth",
    "dlp",
    "extProcEarly",
    "extProc",
    "extProcLate",
    "ai",
    "ratelimitServer",
    "caching",
    "proxyLatency",
    "disableExtProcEarly",
    "disableExtProc",
    "disableExtProcLate",
];

/// Findings, each `path: why`.
#[derive(Debug, Default)]
pub(crate) struct Findings(pub Vec<String>);

impl Findings {
    pub(super) fn at(&mut self, path: &str, why: impl std::fmt::Display) {
        self.0.push(format!("{path}: {why}"));
    }

    pub(super) fn check(&mut self, path: &str, outcome: Result<(), String>) {
        if let Err(why) = outcome {
            self.at(path, why);
        }
    }
}

pub(super) const OPTIONS: &str = "spec.options";

pub(crate) fn route_options(o: &RouteOptions) -> Findings {
    let mut f = Findings::default();
    unsupported(&mut f, OPTIONS, o, ROUTE_FIELDS);
    if let Some(faults) = &o.faults {
        if let Some(a) = &faults.abort {
            let path = format!("{OPTIONS}.faults.abort.httpStatus");
            match a.http_status {
                None => f.at(&path, "is required"),
                Some(s) if !(200..=599).contains(&s) => {
                    f.at(&path, format!("must be between 200 and 599, is {s}"))
                }
                Some(_) => {}
            }
        }
        if let Some(d) = &faults.delay {
            let path = format!("{OPTIONS}.faults.delay.fixedDelay");
            match &d.fixed_delay {
                None => f.at(&path, "is required"),
                Some(t) => f.check(&path, non_negative(t)),
            }
        }
    }
    if let Some(p) = &o.prefix_rewrite {
        f.check(&format!("{OPTIONS}.prefixRewrite"), path_value(p));
    }
    if let Some(r) = &o.regex_rewrite {
        let path = format!("{OPTIONS}.regexRewrite");
        match r.pattern.as_ref().and_then(|p| p.regex.as_deref()) {
            None => f.at(&format!("{path}.pattern.regex"), "is required"),
            Some(re) => f.check(
                &format!("{path}.pattern.regex"),
                crate::validate::regex::check(re),
            ),
        }
        if o.prefix_rewrite.is_some() {
            f.at(
                &path,
                "cannot be combined with prefixRewrite (Envoy takes one of them)",
            );
        }
    }
    for (name, d) in [("timeout", &o.timeout), ("idleTimeout", &o.idle_timeout)] {
        if let Some(d) = d {
            f.check(&format!("{OPTIONS}.{name}"), non_negative(d));
        }
    }
    if let Some(m) = &o.max_stream_duration {
        for (name, d) in [
            ("maxStreamDuration", &m.max_stream_duration),
            ("grpcTimeoutHeaderMax", &m.grpc_timeout_header_max),
            ("grpcTimeoutHeaderOffset", &m.grpc_timeout_header_offset),
        ] {
            if let Some(d) = d {
                f.check(
                    &format!("{OPTIONS}.maxStreamDuration.{name}"),
                    non_negative(d),
                );
            }
        }
    }
    if let Some(r) = &o.retries {
        retries(&mut f, r);
    }
    if let Some(h) = &o.header_manipulation {
        headers(&mut f, h);
    }
    if let Some(h) = &o.host_rewrite {
        f.check(&format!("{OPTIONS}.hostRewrite"), host(h));
        if o.auto_host_rewrite == Some(true) {
            f.at(
                &format!("{OPTIONS}.autoHostRewrite"),
                "cannot be combined with hostRewrite (Envoy takes one of them)",
            );
        }
    }
    if let Some(c) = &o.cors {
        cors(&mut f, c);
    }
    if let Some(c) = &o.csrf {
        csrf(&mut f, c);
    }
    if let Some(h) = &o.lb_hash {
        for (i, p) in h.hash_policies.iter().flatten().enumerate() {
            let path = format!("{OPTIONS}.lbHash.hashPolicies[{i}]");
            let set = [
                p.header.is_some(),
                p.cookie.is_some(),
                p.source_ip == Some(true),
            ];
            if set.iter().filter(|s| **s).count() != 1 {
                f.at(
                    &path,
                    "must set exactly one of header, cookie and sourceIp: true",
                );
            }
            if let Some(name) = &p.header {
                f.check(&format!("{path}.header"), modifiable_name(name));
            }
            if let Some(c) = &p.cookie {
                if c.name.as_deref().is_none_or(str::is_empty) {
                    f.at(&format!("{path}.cookie.name"), "is required");
                }
                if let Some(t) = &c.ttl {
                    f.check(&format!("{path}.cookie.ttl"), non_negative(t));
                }
            }
        }
    }
    for (i, u) in o.upgrades.iter().flatten().enumerate() {
        let path = format!("{OPTIONS}.upgrades[{i}]");
        if u.connect_terminate.is_some() {
            f.at(
                &format!("{path}.connectTerminate"),
                "is not supported by gatesim",
            );
        }
        let set = [
            u.websocket.is_some(),
            u.connect.is_some(),
            u.connect_terminate.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            f.at(
                &path,
                "must set exactly one of websocket, connect and connectTerminate",
            );
        }
    }
    if let Some(b) = &o.buffer_per_route {
        buffer(&mut f, b);
    }
    if let Some(t) = &o.staged_transformations {
        transformations(&mut f, t);
    }
    f
}

pub(crate) fn virtual_host_options(o: &VirtualHostOptions) -> Findings {
    let mut f = Findings::default();
    unsupported(&mut f, OPTIONS, o, VIRTUAL_HOST_FIELDS);
    if let Some(h) = &o.header_manipulation {
        headers(&mut f, h);
    }
    if let Some(c) = &o.cors {
        cors(&mut f, c);
    }
    if let Some(m) = &o.cors_policy_merge_settings
        && m.expose_headers == Some(CorsMergeStrategy::Union)
    {
        f.at(
            &format!("{OPTIONS}.corsPolicyMergeSettings.exposeHeaders"),
            "UNION is not supported by gatesim (a route's CORS policy replaces its virtual host's)",
        );
    }
    if let Some(r) = &o.retries {
        retries(&mut f, r);
    }
    if let Some(c) = &o.csrf {
        csrf(&mut f, c);
    }
    if let Some(b) = &o.buffer_per_route {
        buffer(&mut f, b);
    }
    if let Some(t) = &o.staged_transformations {
        transformations(&mut f, t);
    }
    f
}

/// Every field of `options` (at `path`) set that is not in `supported`, by name.
pub(super) fn unsupported<O: Serialize>(
    f: &mut Findings,
    path: &str,
    options: &O,
    supported: &[&str],
) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(options) else {
        return;
    };
    for name in fields.keys().filter(|n| !supported.contains(&n.as_str())) {
        let what = if ENTERPRISE.contains(&name.as_str()) {
            "is a Gloo Enterprise feature, not supported by gatesim"
        } else {
            "is not supported by gatesim"
        };
        f.at(&format!("{path}.{name}"), what);
    }
}

fn retries(f: &mut Findings, r: &RetryPolicy) {
    let path = format!("{OPTIONS}.retries");
    if let Some(d) = &r.per_try_timeout {
        f.check(&format!("{path}.perTryTimeout"), non_negative(d));
    }
    if let Some(b) = &r.retry_back_off {
        let base = format!("{path}.retryBackOff.baseInterval");
        match &b.base_interval {
            None => f.at(&base, "is required"),
            Some(d) if d.to_parts() < (0, 1_000_000) => f.at(&base, "must be at least 1ms"),
            Some(_) => {}
        }
        if let (Some(max), Some(min)) = (&b.max_interval, &b.base_interval)
            && max.to_parts() < min.to_parts()
        {
            f.at(
                &format!("{path}.retryBackOff.maxInterval"),
                "must not be less than baseInterval",
            );
        }
    }
    for (i, code) in r.retriable_status_codes.iter().flatten().enumerate() {
        if !(100..=599).contains(code) {
            f.at(
                &format!("{path}.retriableStatusCodes[{i}]"),
                format!("must be between 100 and 599, is {code}"),
            );
        }
    }
    if r.previous_priorities.is_some() {
        f.at(
            &format!("{path}.previousPriorities"),
            "is not supported by gatesim",
        );
    }
    if let Some(b) = &r.rate_limited_retry_back_off {
        for (i, h) in b.reset_headers.iter().flatten().enumerate() {
            let p = format!("{path}.rateLimitedRetryBackOff.resetHeaders[{i}].name");
            match &h.name {
                None => f.at(&p, "is required"),
                Some(n) => f.check(&p, modifiable_name(n)),
            }
        }
    }
}

fn headers(f: &mut Findings, h: &HeaderManipulation) {
    let path = format!("{OPTIONS}.headerManipulation");
    for (i, o) in h.request_headers_to_add.iter().flatten().enumerate() {
        let at = format!("{path}.requestHeadersToAdd[{i}]");
        if o.header_secret_ref.is_some() {
            f.at(
                &format!("{at}.headerSecretRef"),
                "is not supported by gatesim",
            );
        }
        header_value_option(f, &at, o.header.as_ref(), o.header_secret_ref.is_some());
    }
    for (i, o) in h.response_headers_to_add.iter().flatten().enumerate() {
        let at = format!("{path}.responseHeadersToAdd[{i}]");
        header_value_option(f, &at, o.header.as_ref(), false);
    }
    for (name, list) in [
        ("requestHeadersToRemove", &h.request_headers_to_remove),
        ("responseHeadersToRemove", &h.response_headers_to_remove),
    ] {
        for (i, n) in list.iter().flatten().enumerate() {
            f.check(&format!("{path}.{name}[{i}]"), modifiable_name(n));
        }
    }
}

fn header_value_option(
    f: &mut Findings,
    at: &str,
    header: Option<&crate::api::k8sgateway::headers::HeaderValue>,
    from_secret: bool,
) {
    match header {
        None if !from_secret => f.at(&format!("{at}.header"), "is required"),
        None => {}
        Some(h) => {
            match &h.key {
                None => f.at(&format!("{at}.header.key"), "is required"),
                Some(k) => f.check(&format!("{at}.header.key"), modifiable_name(k)),
            }
            if let Some(v) = &h.value {
                f.check(&format!("{at}.header.value"), header_value(v));
            }
        }
    }
}

fn cors(f: &mut Findings, c: &CorsPolicy) {
    let path = format!("{OPTIONS}.cors");
    for (i, re) in c.allow_origin_regex.iter().flatten().enumerate() {
        f.check(
            &format!("{path}.allowOriginRegex[{i}]"),
            crate::validate::regex::check(re),
        );
    }
    for (name, list) in [
        ("allowHeaders", &c.allow_headers),
        ("exposeHeaders", &c.expose_headers),
    ] {
        for (i, h) in list.iter().flatten().enumerate() {
            if h != "*" {
                f.check(&format!("{path}.{name}[{i}]"), modifiable_name(h));
            }
        }
    }
    for (i, m) in c.allow_methods.iter().flatten().enumerate() {
        if m != "*" {
            f.check(&format!("{path}.allowMethods[{i}]"), modifiable_name(m));
        }
    }
    if let Some(age) = &c.max_age
        && (age.is_empty() || !age.bytes().all(|b| b.is_ascii_digit()))
    {
        f.at(
            &format!("{path}.maxAge"),
            format!("must be a number of seconds, is {age:?}"),
        );
    }
}

pub(super) fn csrf(f: &mut Findings, c: &CsrfPolicy) {
    let path = format!("{OPTIONS}.csrf");
    match &c.filter_enabled {
        None => f.at(&format!("{path}.filterEnabled"), "is required"),
        Some(r) => fraction(f, &format!("{path}.filterEnabled"), r),
    }
    if let Some(r) = &c.shadow_enabled {
        fraction(f, &format!("{path}.shadowEnabled"), r);
    }
    for (i, m) in c.additional_origins.iter().flatten().enumerate() {
        string_matcher(f, &format!("{path}.additionalOrigins[{i}]"), m);
    }
}

fn fraction(f: &mut Findings, path: &str, r: &RuntimeFractionalPercent) {
    let Some(v) = &r.default_value else {
        f.at(&format!("{path}.defaultValue"), "is required");
        return;
    };
    let max = match v.denominator.unwrap_or(Denominator::Hundred) {
        Denominator::Hundred => 100,
        Denominator::TenThousand => 10_000,
        Denominator::Million => 1_000_000,
    };
    let n = v.numerator.unwrap_or(0);
    if n > max {
        f.at(
            &format!("{path}.defaultValue.numerator"),
            format!("must be at most {max} (the denominator), is {n}"),
        );
    }
}

fn string_matcher(f: &mut Findings, path: &str, m: &StringMatcher) {
    let set = [
        m.exact.is_some(),
        m.prefix.is_some(),
        m.suffix.is_some(),
        m.safe_regex.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        f.at(
            path,
            "must set exactly one of exact, prefix, suffix and safeRegex",
        );
    }
    if let Some(r) = &m.safe_regex {
        match &r.regex {
            None => f.at(&format!("{path}.safeRegex.regex"), "is required"),
            Some(re) => f.check(
                &format!("{path}.safeRegex.regex"),
                crate::validate::regex::check(re),
            ),
        }
    }
}

fn buffer(f: &mut Findings, b: &BufferPerRoute) {
    let path = format!("{OPTIONS}.bufferPerRoute");
    match (&b.buffer, b.disabled) {
        (Some(_), Some(true)) => f.at(&path, "must set either disabled: true or buffer, not both"),
        (None, Some(true)) => {}
        (None, _) => f.at(&path, "must set disabled: true or buffer"),
        (Some(buf), _) => match buf.max_request_bytes {
            None => f.at(&format!("{path}.buffer.maxRequestBytes"), "is required"),
            Some(0) => f.at(
                &format!("{path}.buffer.maxRequestBytes"),
                "must be at least 1",
            ),
            Some(_) => {}
        },
    }
}

/// `stagedTransformations`: only what maps to Envoy's own header additions is supported
/// (see `transform`); everything else is refused by name.
fn transformations(f: &mut Findings, t: &TransformationStages) {
    for why in super::transform::unsupported(t) {
        f.0.push(why);
    }
}

pub(super) fn non_negative(d: &ProtoDuration) -> Result<(), String> {
    if d.to_parts() < (0, 0) {
        Err(format!("must not be negative, is {}", d.as_str()))
    } else {
        Ok(())
    }
}

/// A path or path prefix: visible ASCII, starting with `/`.
pub(super) fn path_value(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("must start with /, is {p:?}"));
    }
    if let Some(c) = p.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("{c:?} is not allowed in a path"));
    }
    Ok(())
}

/// A Host value: a header value without spaces.
fn host(h: &str) -> Result<(), String> {
    header_value(h)?;
    if h.contains(' ') || h.is_empty() {
        return Err(format!("{h:?} is not a host name"));
    }
    Ok(())
}

/// A header value: visible ASCII and spaces, and `%` only doubled (Envoy reads `%...%` as a
/// command and rejects one it does not know, with the whole configuration).
pub(super) fn header_value(value: &str) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' ' || *c == '\t'))
    {
        return Err(format!("{c:?} is not allowed in a header value"));
    }
    let mut rest = value;
    while let Some(i) = rest.find('%') {
        if rest[i + 1..].starts_with('%') {
            rest = &rest[i + 2..];
        } else {
            return Err(format!(
                "{value:?} has a single %: write a literal % as %% (Envoy reads %...% as a command)"
            ));
        }
    }
    Ok(())
}
