//! What a response must look like, and the comparison (upstream's `CompareRoundTrip`).
//!
//! Departures from upstream, each so that a listed expectation is never silently ignored:
//! - `namespace: None` skips the namespace check (upstream compares even an empty one);
//! - in an explicit [`ExpectedRequest`], an unset `method`/`path` defaults to the request's
//!   own (upstream: `GET` / empty);
//! - response `headers`/`absent_headers`, `body` and `body_contains` are checked for
//!   every status (upstream checks headers on 200/204 only and has no body checks);
//! - a 200/204 that carries no echo reply passes the backend checks only when the
//!   expectation asks for a `body` or `body_contains`, or says `no_backend` (a reply from the
//!   gateway itself, not a backend); with `no_backend`, an echo reply fails any status;
//! - a body sent with `Content-Encoding: gzip` must decompress (`body` checks see it
//!   decompressed), the response head must arrive within the latency bounds, and a 101 to a
//!   WebSocket upgrade must echo the probe's message.

use std::time::Duration;

use super::location::parse_location;
use super::mismatch::Mismatch;
use super::{ProbeRequest, ProbeResponse};

/// The expected outcome of one request.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// Allowed statuses; empty means `[200]`. 408 and 504 count as the same timeout.
    pub statuses: Vec<u16>,
    /// What the backend must have seen; `None`: the request itself (host when set,
    /// method, path, headers).
    pub request: Option<ExpectedRequest>,
    /// Pod-name prefix of the echo replica that must answer (a backend name).
    pub backend: Option<String>,
    pub namespace: Option<String>,
    /// Response headers: names case-insensitive, multiple values joined with `,`.
    pub headers: Vec<(String, String)>,
    pub absent_headers: Vec<String>,
    /// The whole body must equal this.
    pub body: Option<String>,
    /// The body must contain this.
    pub body_contains: Option<String>,
    /// Checked against `Location` on a 3xx.
    pub redirect: Option<ExpectedRedirect>,
    /// Response protocol, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: Option<String>,
    /// Bounds on the time to the response head.
    pub min_latency: Option<Duration>,
    pub max_latency: Option<Duration>,
    /// The gateway itself answers: the reply must not be an echo reply.
    pub no_backend: bool,
}

/// The request as the backend must have received it.
#[derive(Debug, Clone, Default)]
pub struct ExpectedRequest {
    /// Checked only when set.
    pub host: Option<String>,
    pub method: Option<String>,
    /// Path and query, exactly.
    pub path: Option<String>,
    pub headers: Vec<(String, String)>,
    pub absent_headers: Vec<String>,
    /// echo-basic's `httpPort`.
    pub http_port: Option<String>,
    /// The SNI the backend saw on its TLS connection.
    pub sni: Option<String>,
    /// The HTTP version the backend saw (`HTTP/2.0`), as the echo reply's `proto`.
    pub protocol: Option<String>,
}

/// Parts of a redirect target; unset scheme and path default to the request's, an
/// unset port accepts none or the scheme's default, an unset host is not checked.
#[derive(Debug, Clone, Default)]
pub struct ExpectedRedirect {
    pub scheme: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
}

fn is_timeout(status: u16) -> bool {
    status == 408 || status == 504
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 300..=305 | 307 | 308)
}

/// All values of a header joined with `,` (upstream's view of a header).
fn header_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    let name = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
    let values: Vec<String> = headers
        .get_all(&name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The same lookup on an echoed (Go-canonical) header map.
fn echoed_header<'a>(
    headers: &'a std::collections::BTreeMap<String, Vec<String>>,
    name: &str,
) -> Option<&'a Vec<String>> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Checks `res` (the answer to `req`) against `exp`; the first failing check wins.
pub fn compare(exp: &Expectation, req: &ProbeRequest, res: &ProbeResponse) -> Result<(), Mismatch> {
    let fail = |field: &str, expected: String, observed: String| {
        Err(Mismatch::new(field, expected, observed, req, res))
    };
    let allowed: &[u16] = if exp.statuses.is_empty() {
        &[200]
    } else {
        &exp.statuses
    };
    let timeout_matched = is_timeout(res.status) && allowed.iter().any(|s| is_timeout(*s));
    if !timeout_matched && !allowed.contains(&res.status) {
        let list = allowed
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return fail("status", format!("one of [{list}]"), res.status.to_string());
    }
    if let Some(proto) = &exp.protocol
        && *proto != res.proto
    {
        return fail("protocol", format!("{proto:?}"), format!("{:?}", res.proto));
    }
    if let Some(min) = exp.min_latency
        && res.head_latency < min
    {
        return fail(
            "latency to the response head",
            format!("at least {min:?}"),
            format!("{:?}", res.head_latency),
        );
    }
    if let Some(max) = exp.max_latency
        && res.head_latency > max
    {
        return fail(
            "latency to the response head",
            format!("at most {max:?}"),
            format!("{:?}", res.head_latency),
        );
    }
    if let Some(error) = &res.decode_error {
        return fail("body", "a body that decodes".into(), error.clone());
    }
    if exp.no_backend
        && let Some(echo) = &res.echo
    {
        return fail(
            "backend",
            "a reply from the gateway itself (backend: none)".into(),
            format!("an echo reply from pod {:?}", echo.pod),
        );
    }
    if req.upgrade.is_some() && res.status == 101 {
        match &res.websocket {
            Some(Ok(())) => {}
            Some(Err(why)) => {
                return fail(
                    "websocket",
                    "the probe's message echoed back".into(),
                    why.clone(),
                );
            }
            None => {
                return fail(
                    "websocket",
                    "a WebSocket exchange after the 101".into(),
                    "none took place".into(),
                );
            }
        }
    }
    let body = String::from_utf8_lossy(&res.body);
    if let Some(want) = &exp.body
        && *want != body
    {
        return fail("body", format!("{want:?}"), format!("{body:?}"));
    }
    if let Some(part) = &exp.body_contains
        && !body.contains(part.as_str())
    {
        return fail("body", format!("to contain {part:?}"), format!("{body:?}"));
    }
    for (name, want) in &exp.headers {
        match header_value(&res.headers, name) {
            None => {
                return fail(
                    &format!("response header {name}"),
                    format!("{want:?}"),
                    "absent".into(),
                );
            }
            Some(got) if got != *want => {
                return fail(
                    &format!("response header {name}"),
                    format!("{want:?}"),
                    format!("{got:?}"),
                );
            }
            Some(_) => {}
        }
    }
    for name in &exp.absent_headers {
        if let Some(got) = header_value(&res.headers, name) {
            return fail(
                &format!("response header {name}"),
                "absent".into(),
                format!("{got:?}"),
            );
        }
    }
    if timeout_matched {
        return Ok(());
    }
    if res.status == 200 || res.status == 204 {
        return compare_backend(exp, req, res);
    }
    if is_redirect(res.status)
        && let Some(redirect) = &exp.redirect
    {
        return compare_redirect(redirect, req, res);
    }
    Ok(())
}

fn compare_backend(
    exp: &Expectation,
    req: &ProbeRequest,
    res: &ProbeResponse,
) -> Result<(), Mismatch> {
    let fail = |field: &str, expected: String, observed: String| {
        Err(Mismatch::new(field, expected, observed, req, res))
    };
    let Some(echo) = &res.echo else {
        if exp.no_backend || exp.body.is_some() || exp.body_contains.is_some() {
            return Ok(());
        }
        let why = match &res.echo_error {
            Some(e) => format!("an unreadable JSON body ({e})"),
            None => "a body that is not application/json (if the gateway itself answers, say \
                     `backend: none` or check `body`/`bodyContains`)"
                .to_owned(),
        };
        return fail("echo reply", "an echo reply from a backend".into(), why);
    };

    // The request itself is the default expectation, as upstream.
    let defaults = ExpectedRequest {
        host: req.host.clone(),
        method: Some(req.method.clone()),
        path: Some(req.path.clone()),
        headers: req.headers.clone(),
        ..Default::default()
    };
    let want = exp.request.as_ref().unwrap_or(&defaults);
    let method = want.method.as_deref().unwrap_or(&req.method);
    let path = want.path.as_deref().unwrap_or(&req.path);

    if let Some(host) = &want.host
        && *host != echo.host
    {
        return fail("host", format!("{host:?}"), format!("{:?}", echo.host));
    }
    if path != echo.path {
        return fail("path", format!("{path:?}"), format!("{:?}", echo.path));
    }
    if let Some(proto) = &want.protocol
        && *proto != echo.proto
    {
        return fail(
            "protocol the backend saw",
            format!("{proto:?}"),
            format!("{:?}", echo.proto),
        );
    }
    if method != echo.method {
        return fail(
            "method",
            format!("{method:?}"),
            format!("{:?}", echo.method),
        );
    }
    if let Some(ns) = &exp.namespace
        && *ns != echo.namespace
    {
        return fail(
            "namespace",
            format!("{ns:?}"),
            format!("{:?}", echo.namespace),
        );
    }
    for (name, value) in &want.headers {
        match echoed_header(&echo.headers, name) {
            None => {
                return fail(
                    &format!("request header {name}"),
                    format!("{value:?}"),
                    "absent".into(),
                );
            }
            Some(got) if got.join(",") != *value => {
                return fail(
                    &format!("request header {name}"),
                    format!("{value:?}"),
                    format!("{:?}", got.join(",")),
                );
            }
            Some(_) => {}
        }
    }
    if let Some(port) = &want.http_port
        && *port != echo.http_port
    {
        return fail(
            "httpPort",
            format!("{port:?}"),
            format!("{:?}", echo.http_port),
        );
    }
    for name in &want.absent_headers {
        if let Some(got) = echoed_header(&echo.headers, name) {
            return fail(
                &format!("request header {name}"),
                "absent".into(),
                format!("{:?}", got.join(",")),
            );
        }
    }
    if let Some(backend) = &exp.backend
        && !echo.pod.starts_with(backend.as_str())
    {
        return fail(
            "backend",
            format!("a pod of {backend:?}"),
            format!("pod {:?}", echo.pod),
        );
    }
    if let Some(sni) = &want.sni {
        let seen = echo.tls.as_ref().map(|t| t.server_name.as_str());
        if seen != Some(sni.as_str()) {
            return fail("backend SNI", format!("{sni:?}"), format!("{seen:?}"));
        }
    }
    Ok(())
}

fn compare_redirect(
    want: &ExpectedRedirect,
    req: &ProbeRequest,
    res: &ProbeResponse,
) -> Result<(), Mismatch> {
    let fail = |field: &str, expected: String, observed: String| {
        Err(Mismatch::new(field, expected, observed, req, res))
    };
    let Some(location) = header_value(&res.headers, "location") else {
        return fail(
            "redirect Location",
            "a Location header".into(),
            "none".into(),
        );
    };
    let got = match parse_location(&req.url(), &location) {
        Ok(target) => target,
        Err(e) => {
            return fail(
                "redirect Location",
                "a valid URL".into(),
                format!("{location:?} ({e})"),
            );
        }
    };
    if let Some(host) = &want.host
        && *host != got.host
    {
        return fail(
            "redirect host",
            format!("{host:?}"),
            format!("{:?}", got.host),
        );
    }
    match want.port {
        Some(port) if port.to_string() != got.port => {
            return fail(
                "redirect port",
                format!("\"{port}\""),
                format!("{:?}", got.port),
            );
        }
        Some(_) => {}
        None => {
            let default = match got.scheme.as_str() {
                "http" => Some("80"),
                "https" => Some("443"),
                _ => None,
            };
            if let Some(default) = default
                && !got.port.is_empty()
                && got.port != default
            {
                return fail(
                    "redirect port",
                    format!("none or {default} for {}", got.scheme),
                    format!("{:?}", got.port),
                );
            }
        }
    }
    let scheme = want.scheme.as_deref().unwrap_or(req.scheme.as_str());
    if scheme != got.scheme {
        return fail(
            "redirect scheme",
            format!("{scheme:?}"),
            format!("{:?}", got.scheme),
        );
    }
    let path = want.path.as_deref().unwrap_or(req.path_only());
    if path != got.path {
        return fail(
            "redirect path",
            format!("{path:?}"),
            format!("{:?}", got.path),
        );
    }
    Ok(())
}
