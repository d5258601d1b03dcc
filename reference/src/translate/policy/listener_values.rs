//! Values of ListenerOption and HttpListenerOption options that must never reach Envoy: a
//! listener Envoy rejects takes the whole Gateway's configuration with it, so everything that
//! could be rejected (or that gatesim does not implement) is refused here, by field path.
//!
//! Socket options are the sharpest case: Envoy calls `setsockopt` with whatever numbers it is
//! given and rejects the listener when the kernel refuses, so only a table of known options with
//! their value ranges is accepted. Access log formats are parsed as Envoy parses them, and a
//! command Envoy does not know is refused.

use super::values::{self, Findings, OPTIONS};
use crate::api::k8sgateway::access_log::{AccessLog, FileSink};
use crate::api::k8sgateway::hcm::HttpConnectionManagerSettings;
use crate::api::k8sgateway::http_listener_option::{Gzip, TokenBucket};
use crate::api::k8sgateway::listener_option::{ProxyProtocol, SocketOption};
use crate::api::k8sgateway::{HttpListenerOptions, ListenerOptions};

/// ListenerOption fields gatesim translates.
const LISTENER_FIELDS: &[&str] = &[
    "accessLoggingService",
    "perConnectionBufferLimitBytes",
    "socketOptions",
    "proxyProtocol",
];

/// HttpListenerOption fields gatesim translates.
const HTTP_LISTENER_FIELDS: &[&str] = &[
    "httpConnectionManagerSettings",
    "gzip",
    "healthCheck",
    "buffer",
    "csrf",
    "connectionLimit",
    "httpLocalRatelimit",
];

/// `httpConnectionManagerSettings` fields gatesim translates.
const HCM_FIELDS: &[&str] = &[
    "serverName",
    "serverHeaderTransformation",
    "useRemoteAddress",
    "xffNumTrustedHops",
    "idleTimeout",
    "streamIdleTimeout",
    "maxRequestHeadersKb",
];

/// `accessLog[]` fields gatesim translates.
const ACCESS_LOG_FIELDS: &[&str] = &["fileSink"];

/// `httpLocalRatelimit` fields gatesim translates.
const RATELIMIT_FIELDS: &[&str] = &[
    "defaultLimit",
    "localRateLimitPerDownstreamConnection",
    "enableXRatelimitHeaders",
];

const SOL_SOCKET: i64 = 1;
const IPPROTO_TCP: i64 = 6;
const IPPROTO_IP: i64 = 0;

/// The socket options a ListenerOption may set (Linux numbers): level, name, what it is, and
/// the values the kernel accepts for it without privileges.
const SOCKET_OPTIONS: &[(i64, i64, &str, i64, i64)] = &[
    (SOL_SOCKET, 2, "SO_REUSEADDR", 0, 1),
    (SOL_SOCKET, 7, "SO_SNDBUF", 1, i32::MAX as i64),
    (SOL_SOCKET, 8, "SO_RCVBUF", 1, i32::MAX as i64),
    (SOL_SOCKET, 9, "SO_KEEPALIVE", 0, 1),
    (SOL_SOCKET, 15, "SO_REUSEPORT", 0, 1),
    (IPPROTO_TCP, 1, "TCP_NODELAY", 0, 1),
    (IPPROTO_TCP, 4, "TCP_KEEPIDLE", 1, 32_767),
    (IPPROTO_TCP, 5, "TCP_KEEPINTVL", 1, 32_767),
    (IPPROTO_TCP, 6, "TCP_KEEPCNT", 1, 127),
    (IPPROTO_TCP, 18, "TCP_USER_TIMEOUT", 0, i32::MAX as i64),
    (IPPROTO_TCP, 23, "TCP_FASTOPEN", 0, i32::MAX as i64),
    (IPPROTO_IP, 1, "IP_TOS", 0, 255),
    (IPPROTO_IP, 15, "IP_FREEBIND", 0, 1),
];

pub(crate) fn listener_options(o: &ListenerOptions) -> Findings {
    let mut f = Findings::default();
    values::unsupported(&mut f, OPTIONS, o, LISTENER_FIELDS);
    if o.per_connection_buffer_limit_bytes == Some(0) {
        f.at(
            &format!("{OPTIONS}.perConnectionBufferLimitBytes"),
            "must be at least 1",
        );
    }
    for (i, s) in o.socket_options.iter().flatten().enumerate() {
        socket_option(&mut f, &format!("{OPTIONS}.socketOptions[{i}]"), s);
    }
    if let Some(p) = &o.proxy_protocol {
        proxy_protocol(&mut f, p);
    }
    if let Some(s) = &o.access_logging_service {
        for (i, log) in s.access_log.iter().flatten().enumerate() {
            access_log(
                &mut f,
                &format!("{OPTIONS}.accessLoggingService.accessLog[{i}]"),
                log,
            );
        }
    }
    f
}

pub(crate) fn http_listener_options(o: &HttpListenerOptions) -> Findings {
    let mut f = Findings::default();
    values::unsupported(&mut f, OPTIONS, o, HTTP_LISTENER_FIELDS);
    if let Some(h) = &o.http_connection_manager_settings {
        hcm(&mut f, h);
    }
    if let Some(g) = &o.gzip {
        gzip(&mut f, g);
    }
    if let Some(h) = &o.health_check {
        let path = format!("{OPTIONS}.healthCheck.path");
        match h.path.as_deref() {
            None | Some("") => f.at(&path, "is required"),
            Some(p) => f.check(&path, values::path_value(p)),
        }
    }
    if let Some(b) = &o.buffer {
        let path = format!("{OPTIONS}.buffer.maxRequestBytes");
        match b.max_request_bytes {
            None => f.at(&path, "is required"),
            Some(0) => f.at(&path, "must be at least 1"),
            Some(_) => {}
        }
    }
    if let Some(c) = &o.csrf {
        values::csrf(&mut f, c);
    }
    if let Some(c) = &o.connection_limit {
        let path = format!("{OPTIONS}.connectionLimit");
        match c.max_active_connections {
            None => f.at(&format!("{path}.maxActiveConnections"), "is required"),
            Some(0) => f.at(
                &format!("{path}.maxActiveConnections"),
                "must be at least 1",
            ),
            Some(_) => {}
        }
        if let Some(d) = &c.delay_before_close {
            f.check(&format!("{path}.delayBeforeClose"), values::non_negative(d));
        }
    }
    if let Some(r) = &o.http_local_ratelimit {
        let path = format!("{OPTIONS}.httpLocalRatelimit");
        values::unsupported(&mut f, &path, r, RATELIMIT_FIELDS);
        match &r.default_limit {
            None => f.at(
                &format!("{path}.defaultLimit"),
                "is required (gatesim has no per-route limits for it to fall back from)",
            ),
            Some(b) => token_bucket(&mut f, &format!("{path}.defaultLimit"), b),
        }
    }
    f
}

fn hcm(f: &mut Findings, h: &HttpConnectionManagerSettings) {
    let path = format!("{OPTIONS}.httpConnectionManagerSettings");
    values::unsupported(f, &path, h, HCM_FIELDS);
    if let Some(s) = &h.server_name {
        f.check(&format!("{path}.serverName"), text(s));
    }
    for (name, d) in [
        ("idleTimeout", &h.idle_timeout),
        ("streamIdleTimeout", &h.stream_idle_timeout),
    ] {
        if let Some(d) = d {
            f.check(&format!("{path}.{name}"), values::non_negative(d));
        }
    }
    if let Some(kb) = h.max_request_headers_kb
        && !(1..=8192).contains(&kb)
    {
        f.at(
            &format!("{path}.maxRequestHeadersKb"),
            format!("must be between 1 and 8192, is {kb}"),
        );
    }
}

fn gzip(f: &mut Findings, g: &Gzip) {
    let path = format!("{OPTIONS}.gzip");
    if let Some(m) = g.memory_level
        && !(1..=9).contains(&m)
    {
        f.at(
            &format!("{path}.memoryLevel"),
            format!("must be between 1 and 9, is {m}"),
        );
    }
    if let Some(w) = g.window_bits
        && !(9..=15).contains(&w)
    {
        f.at(
            &format!("{path}.windowBits"),
            format!("must be between 9 and 15, is {w}"),
        );
    }
    for (i, t) in g.content_type.iter().flatten().enumerate() {
        if t.is_empty() {
            f.at(&format!("{path}.contentType[{i}]"), "must not be empty");
        } else {
            f.check(&format!("{path}.contentType[{i}]"), text(t));
        }
    }
}

fn token_bucket(f: &mut Findings, path: &str, b: &TokenBucket) {
    match b.max_tokens {
        None => f.at(&format!("{path}.maxTokens"), "is required"),
        Some(0) => f.at(&format!("{path}.maxTokens"), "must be at least 1"),
        Some(_) => {}
    }
    if b.tokens_per_fill == Some(0) {
        f.at(&format!("{path}.tokensPerFill"), "must be at least 1");
    }
    let fill = format!("{path}.fillInterval");
    match &b.fill_interval {
        None => f.at(&fill, "is required"),
        // Envoy refuses a faster refill timer.
        Some(d) if d.to_parts() < (0, 50_000_000) => {
            f.at(&fill, format!("must be at least 50ms, is {}", d.as_str()))
        }
        Some(_) => {}
    }
}

fn socket_option(f: &mut Findings, path: &str, s: &SocketOption) {
    let (Some(level), Some(name)) = (s.level, s.name) else {
        f.at(path, "level and name are required");
        return;
    };
    let (level, name) = (level.get(), name.get());
    let Some(&(_, _, what, min, max)) = SOCKET_OPTIONS.iter().find(|o| o.0 == level && o.1 == name)
    else {
        let known: Vec<String> = SOCKET_OPTIONS
            .iter()
            .map(|o| format!("{} ({}/{})", o.2, o.0, o.1))
            .collect();
        f.at(
            path,
            format!(
                "level {level} name {name} is not a socket option gatesim sets (Envoy would \
                 reject the listener if the kernel refused it); known: {}",
                known.join(", ")
            ),
        );
        return;
    };
    if s.buf_value.is_some() {
        f.at(
            &format!("{path}.bufValue"),
            format!("is not supported by gatesim; {what} takes intValue"),
        );
        return;
    }
    match s.int_value.map(|v| v.get()) {
        None => f.at(&format!("{path}.intValue"), "is required"),
        Some(v) if !(min..=max).contains(&v) => f.at(
            &format!("{path}.intValue"),
            format!("{what} takes a value between {min} and {max}, is {v}"),
        ),
        Some(_) => {}
    }
}

fn proxy_protocol(f: &mut Findings, p: &ProxyProtocol) {
    for (i, r) in p.rules.iter().flatten().enumerate() {
        let path = format!("{OPTIONS}.proxyProtocol.rules[{i}]");
        match r.tlv_type {
            None => f.at(&format!("{path}.tlvType"), "is required"),
            Some(t) if t > 255 => f.at(
                &format!("{path}.tlvType"),
                format!("must be between 0 and 255, is {t}"),
            ),
            Some(_) => {}
        }
        if r.on_tlv_present
            .as_ref()
            .and_then(|k| k.key.as_deref())
            .is_none_or(str::is_empty)
        {
            f.at(&format!("{path}.onTlvPresent.key"), "is required");
        }
    }
}

fn access_log(f: &mut Findings, path: &str, log: &AccessLog) {
    values::unsupported(f, path, log, ACCESS_LOG_FIELDS);
    match &log.file_sink {
        None if log.grpc_service.is_none() && log.open_telemetry_service.is_none() => {
            f.at(&format!("{path}.fileSink"), "is required");
        }
        None => {}
        Some(sink) => file_sink(f, &format!("{path}.fileSink"), sink),
    }
}

fn file_sink(f: &mut Findings, path: &str, sink: &FileSink) {
    match sink.path.as_deref() {
        None | Some("") => f.at(&format!("{path}.path"), "is required"),
        Some(p) if !p.starts_with('/') => f.at(
            &format!("{path}.path"),
            format!("must be an absolute path, is {p:?}"),
        ),
        Some(p) => f.check(&format!("{path}.path"), text(p)),
    }
    if sink.string_format.is_some() && sink.json_format.is_some() {
        f.at(path, "must set stringFormat or jsonFormat, not both");
    }
    if let Some(s) = &sink.string_format {
        f.check(
            &format!("{path}.stringFormat"),
            super::access_log::format(s),
        );
    }
    if let Some(j) = &sink.json_format {
        if j.0.is_empty() {
            f.at(
                &format!("{path}.jsonFormat"),
                "must have at least one field",
            );
        }
        super::access_log::json_format(f, &format!("{path}.jsonFormat"), &j.0);
    }
}

/// A plain value Envoy writes as is: visible ASCII and spaces.
fn text(s: &str) -> Result<(), String> {
    match s.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        Some(c) => Err(format!("{c:?} is not allowed here")),
        None => Ok(()),
    }
}
