//! Sending one request on a fresh connection.
//!
//! Upstream's roundtripper disables keep-alives, so every probe opens and closes its own
//! connection: a change of listener or route is seen by the next request, never hidden
//! behind a pooled connection to an old Envoy listener.

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderName, HeaderValue, Method, Request, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ProbeError, ProbeRequest, ProbeResponse, Protocol, Scheme, Upgrade};
use crate::certs;
use crate::echo::EchoReply;
use crate::echo::websocket::{self as ws, OP_CLOSE, OP_TEXT};

const USER_AGENT_VALUE: &str = concat!("gatesim-probe/", env!("CARGO_PKG_VERSION"));

/// Sends `req` and reads the whole response, within `req.timeout`.
pub async fn send(req: &ProbeRequest) -> Result<ProbeResponse, ProbeError> {
    match tokio::time::timeout(req.timeout, exchange(req)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout {
            addr: req.addr,
            after: req.timeout,
        }),
    }
}

fn http_err(req: &ProbeRequest, e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Http {
        addr: req.addr,
        detail: e.to_string(),
    }
}

/// The host without its port, for the default TLS server name.
fn host_without_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

async fn exchange(req: &ProbeRequest) -> Result<ProbeResponse, ProbeError> {
    if req.protocol == Protocol::H2c && req.scheme == Scheme::Https {
        return Err(ProbeError::Unsupported(
            "h2c prior knowledge is cleartext; it cannot be used with https".into(),
        ));
    }
    if req.protocol == Protocol::H2 && req.scheme == Scheme::Http {
        return Err(ProbeError::Unsupported(
            "h2 is negotiated over TLS; use h2c for cleartext HTTP/2".into(),
        ));
    }
    let (request, ws_key) = build_request(req)?;
    let tcp = TcpStream::connect(req.addr)
        .await
        .map_err(|source| ProbeError::Connect {
            addr: req.addr,
            source,
        })?;
    let _ = tcp.set_nodelay(true);

    match req.scheme {
        Scheme::Http => round_trip(req, tcp, request, ws_key).await,
        Scheme::Https => {
            let alpn: &[&[u8]] = match req.protocol {
                Protocol::H2 => &[b"h2"],
                _ => &[],
            };
            let config = certs::client_config(&req.trust, alpn, req.client_identity.as_ref())?;
            let authority = req.authority();
            let name = req
                .sni
                .clone()
                .unwrap_or_else(|| host_without_port(&authority).to_owned());
            let server_name = certs::server_name(&name)?;
            let tls = TlsConnector::from(Arc::new(config))
                .connect(server_name, tcp)
                .await
                .map_err(|source| ProbeError::TlsHandshake {
                    addr: req.addr,
                    server_name: name.clone(),
                    source,
                })?;
            if req.protocol == Protocol::H2 {
                let negotiated = tls.get_ref().1.alpn_protocol();
                if negotiated != Some(b"h2") {
                    return Err(ProbeError::Alpn(
                        negotiated.map(|p| String::from_utf8_lossy(p).into_owned()),
                    ));
                }
            }
            round_trip(req, tls, request, ws_key).await
        }
    }
}

/// Distinguishes the request keys and WebSocket messages of one process.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A value no other request of this run (or of another process) carries.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// The request, and for a WebSocket upgrade the `Sec-WebSocket-Key` it carries.
fn build_request(req: &ProbeRequest) -> Result<(Request<Full<Bytes>>, Option<String>), ProbeError> {
    let invalid =
        |what: &str, e: &dyn std::fmt::Display| ProbeError::InvalidRequest(format!("{what}: {e}"));
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| invalid("method", &e))?;
    let path_and_query = PathAndQuery::try_from(req.path.as_str())
        .map_err(|e| invalid(&format!("path {:?}", req.path), &e))?;
    let authority = req.authority();
    let http2 = req.protocol != Protocol::Http1;
    let uri = if http2 {
        // HTTP/2 carries scheme and authority as pseudo-headers, taken from the URI.
        let authority = Authority::try_from(authority.as_str())
            .map_err(|e| invalid(&format!("host {authority:?}"), &e))?;
        Uri::builder()
            .scheme(req.scheme.as_str())
            .authority(authority)
            .path_and_query(path_and_query)
            .build()
    } else {
        Uri::builder().path_and_query(path_and_query).build()
    }
    .map_err(|e| invalid("uri", &e))?;

    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .version(if http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        });
    let headers = builder
        .headers_mut()
        .ok_or_else(|| ProbeError::InvalidRequest("request builder".into()))?;
    if !http2 {
        let value = HeaderValue::from_str(&authority)
            .map_err(|e| invalid(&format!("host {authority:?}"), &e))?;
        headers.insert(HOST, value);
    }
    for (name, value) in &req.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| invalid(&format!("header name {name:?}"), &e))?;
        let v = HeaderValue::from_str(value)
            .map_err(|e| invalid(&format!("header {name} value {value:?}"), &e))?;
        // Like Go's Header.Set: a later value for the same name replaces an earlier one.
        headers.insert(n, v);
    }
    let echo_set = req
        .backend_set_headers
        .iter()
        .map(|(n, v)| format!("{n}:{v}"))
        .collect::<Vec<_>>()
        .join(",");
    let echo_set_name = HeaderName::from_static("x-echo-set-header");
    // Upstream always sends the header (empty when there is nothing to set); a scenario that
    // writes it among its own request headers asks the echo directly, and keeps its value.
    if !(req.backend_set_headers.is_empty() && headers.contains_key(&echo_set_name)) {
        let echo_set =
            HeaderValue::from_str(&echo_set).map_err(|e| invalid("X-Echo-Set-Header value", &e))?;
        headers.insert(echo_set_name, echo_set);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    }
    if req.fresh_request_key {
        let key = HeaderValue::from_str(&unique("probe"))
            .map_err(|e| invalid("X-Echo-Request-Key", &e))?;
        headers.insert(HeaderName::from_static("x-echo-request-key"), key);
    }
    let ws_key = match req.upgrade {
        Some(Upgrade::Websocket) if http2 => {
            return Err(ProbeError::Unsupported(
                "WebSocket upgrades are sent over HTTP/1.1 only".into(),
            ));
        }
        Some(Upgrade::Websocket) => {
            let mut nonce = [0u8; 16];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
                .map_err(|_| invalid("Sec-WebSocket-Key", &"no randomness"))?;
            let key = base64::engine::general_purpose::STANDARD.encode(nonce);
            let origin = format!("{}://{authority}", req.scheme.as_str());
            for (name, value) in [
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", key.as_str()),
                // echo-basic's WebSocket handler refuses a handshake without an Origin.
                ("origin", origin.as_str()),
            ] {
                let value = HeaderValue::from_str(value).map_err(|e| invalid(name, &e))?;
                headers.insert(HeaderName::from_static(name), value);
            }
            Some(key)
        }
        None => {
            if !http2 {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            None
        }
    };
    let body = req.body.clone().map(Bytes::from).unwrap_or_default();
    let request = builder
        .body(Full::new(body))
        .map_err(|e| invalid("request", &e))?;
    Ok((request, ws_key))
}

async fn round_trip<I>(
    req: &ProbeRequest,
    io: I,
    request: Request<Full<Bytes>>,
    ws_key: Option<String>,
) -> Result<ProbeResponse, ProbeError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let response = if req.protocol == Protocol::Http1 {
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .handshake(io)
            .await
            .map_err(|e| http_err(req, e))?;
        let driver = tokio::spawn(conn.with_upgrades());
        let result = read_response(req, sender.send_request(request), ws_key).await;
        driver.abort();
        result?
    } else {
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(|e| http_err(req, e))?;
        let driver = tokio::spawn(conn);
        let result = read_response(req, sender.send_request(request), None).await;
        driver.abort();
        result?
    };
    Ok(response)
}

async fn read_response(
    req: &ProbeRequest,
    sent: impl Future<Output = hyper::Result<http::Response<Incoming>>>,
    ws_key: Option<String>,
) -> Result<ProbeResponse, ProbeError> {
    let started = Instant::now();
    let response = sent.await.map_err(|e| http_err(req, error_chain(&e)))?;
    let head_latency = started.elapsed();
    if let Some(key) = ws_key
        && response.status() == http::StatusCode::SWITCHING_PROTOCOLS
    {
        let headers = response.headers().clone();
        let websocket = Some(websocket_exchange(&key, response).await);
        return Ok(ProbeResponse {
            status: 101,
            proto: "HTTP/1.1".to_owned(),
            headers,
            body: Bytes::new(),
            echo: None,
            echo_error: None,
            head_latency,
            decode_error: None,
            websocket,
        });
    }
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| http_err(req, error_chain(&e)))?
        .to_bytes();
    let (body, decode_error) = decode(&parts.headers, body);
    let proto = match parts.version {
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_09 => "HTTP/0.9",
        _ => "HTTP/1.1",
    };
    // Go's Header.Get returns the first value; upstream parses only exact application/json.
    let is_json = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    let (echo, echo_error) = if is_json {
        match EchoReply::from_json(&body) {
            Ok(reply) => (Some(reply), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    Ok(ProbeResponse {
        status: parts.status.as_u16(),
        proto: proto.to_owned(),
        headers: parts.headers,
        body,
        echo,
        echo_error,
        head_latency,
        decode_error,
        websocket: None,
    })
}

/// The probe never asks hyper to decompress: a gzip body is decompressed here, so that a
/// scenario sees the `Content-Encoding` the gateway sent and a corrupt body fails the check.
fn decode(headers: &http::HeaderMap, body: Bytes) -> (Bytes, Option<String>) {
    let gzip = headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return (body, None);
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(body.as_ref()).read_to_end(&mut plain) {
        Ok(_) => (Bytes::from(plain), None),
        Err(e) => (
            body,
            Some(format!(
                "Content-Encoding gzip, but the body does not decompress: {e}"
            )),
        ),
    }
}

/// After a 101: checks `Sec-WebSocket-Accept`, sends one text message and reads one back.
async fn websocket_exchange(key: &str, response: http::Response<Incoming>) -> Result<(), String> {
    let accept = response
        .headers()
        .get("sec-websocket-accept")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let wanted = ws::accept_key(key);
    if accept.as_deref() != Some(wanted.as_str()) {
        return Err(format!(
            "Sec-WebSocket-Accept should be {wanted:?}, got {accept:?}"
        ));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| format!("the connection was not handed over after the 101: {e}"))?;
    let mut io = TokioIo::new(upgraded);
    let message = unique("gatesim websocket probe");
    ws::write_frame(&mut io, true, OP_TEXT, message.as_bytes(), true)
        .await
        .map_err(|e| format!("sending the message: {e}"))?;
    let frame = ws::read_frame(&mut io)
        .await
        .map_err(|e| format!("sent {message:?}, but no message came back: {e}"))?;
    let _ = ws::write_frame(&mut io, true, OP_CLOSE, &[0x03, 0xE8], true).await;
    let got = String::from_utf8_lossy(&frame.payload);
    if frame.opcode != OP_TEXT || got != message {
        return Err(format!(
            "sent text {message:?}, got back opcode {:#x} with {got:?}",
            frame.opcode
        ));
    }
    Ok(())
}

/// hyper's errors say little at the top level ("connection error"); include the causes.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_server_name_drops_the_port() {
        assert_eq!(host_without_port("example.com:8443"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:443"), "::1");
        assert_eq!(host_without_port("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn a_scenario_may_write_x_echo_set_header_itself() {
        let fresh = || ProbeRequest::new("127.0.0.1:80".parse().unwrap(), "/");
        let (built, _) = build_request(&fresh()).unwrap();
        assert_eq!(built.headers()["x-echo-set-header"], "");
        let mut own = fresh();
        own.headers
            .push(("X-Echo-Set-Header".into(), "X-B:2".into()));
        let (built, _) = build_request(&own).unwrap();
        assert_eq!(built.headers()["x-echo-set-header"], "X-B:2");
        own.backend_set_headers.push(("X-A".into(), "1".into()));
        let (built, _) = build_request(&own).unwrap();
        assert_eq!(built.headers()["x-echo-set-header"], "X-A:1");
    }

    #[test]
    fn builds_the_request_upstream_would() {
        let mut req = ProbeRequest::new("127.0.0.1:80".parse().unwrap(), "/a%2Fb?x=1&y");
        req.host = Some("example.com".into());
        req.headers.push(("Version".into(), "one".into()));
        req.backend_set_headers.push(("X-A".into(), "1".into()));
        let (built, _) = build_request(&req).unwrap();
        assert_eq!(built.uri().to_string(), "/a%2Fb?x=1&y");
        assert_eq!(built.headers()["host"], "example.com");
        assert_eq!(built.headers()["version"], "one");
        assert_eq!(built.headers()["x-echo-set-header"], "X-A:1");
        assert_eq!(built.headers()["connection"], "close");

        req.protocol = Protocol::H2c;
        let (built, _) = build_request(&req).unwrap();
        assert_eq!(built.uri().to_string(), "http://example.com/a%2Fb?x=1&y");
        assert!(built.headers().get("host").is_none());
        assert!(built.headers().get("connection").is_none());

        req.path = "no-slash and space".into();
        assert!(matches!(
            build_request(&req),
            Err(ProbeError::InvalidRequest(_))
        ));
    }
}
