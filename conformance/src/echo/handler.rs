//! Request handling with echo-basic's routes and its Go `ServeMux` quirks.
//!
//! Routes: `/health`, `/status/NNN`, `/retry/?uuid=&succeedAfter=N[&responseCode=][&delayRetry=]`,
//! the WebSocket echo on `/ws`, and everything else echoes (after `?delay=`). Before routing,
//! `//` is folded to `/` and an unclean path is answered with a 301 to the cleaned one, as Go's
//! mux does. The echo also counts attempts, fails on request and compresses on request (see
//! the module documentation of `echo`).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, COOKIE, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::attempts::AttemptLedger;
use super::canonical::canonical_header_key;
use super::duration::parse_go_duration;
use super::gojson::{GoValue, marshal_compact};
use super::gourl::{escape_path, mux_clean_path, query_value, unescape_path};
use super::reply::{EchoReply, EchoTls};
use super::websocket;

pub(crate) type EchoResponse = Response<Full<Bytes>>;

/// The identity a replica reports (the environment of an echo-basic pod).
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub namespace: String,
    pub ingress: String,
    pub service: String,
    pub pod: String,
    pub http_port: String,
}

/// A request the echo handler answered, as echo-basic logs it ("Echoing back request
/// made to ..."): upstream checks mirrored traffic in those logs, the sim target here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    /// The request URI, path and query.
    pub path: String,
    pub host: String,
    pub at: Instant,
}

/// How many answered requests a replica remembers.
const SEEN_LIMIT: usize = 4096;

/// State shared by every port of one replica.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    pub identity: Identity,
    /// Also answer `/healthz` as `/health` (see `EchoConfig::healthz`).
    healthz: bool,
    /// `/retry/` attempts per uuid, kept for the replica's lifetime as upstream does.
    retries: Mutex<HashMap<String, i64>>,
    /// `X-Echo-Request-Key` attempts, shared with the backend's other replicas.
    attempts: Arc<AttemptLedger>,
    seen: Mutex<VecDeque<SeenRequest>>,
}

impl Replica {
    pub fn new(identity: Identity, attempts: Arc<AttemptLedger>, healthz: bool) -> Self {
        Replica {
            identity,
            healthz,
            retries: Mutex::default(),
            attempts,
            seen: Mutex::default(),
        }
    }

    pub fn seen_requests(&self) -> Vec<SeenRequest> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter().cloned().collect()
    }

    fn remember(&self, request: SeenRequest) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() == SEEN_LIMIT {
            seen.pop_front();
        }
        seen.push_back(request);
    }
}

/// Facts of the connection a request arrived on.
#[derive(Debug)]
pub(crate) struct ConnFacts {
    pub tls: Option<EchoTls>,
    /// Set by a handler that wants the TCP connection reset (`/retry/` failures).
    pub reset: Arc<AtomicBool>,
}

/// Returned to hyper when the connection must be torn down instead of answered.
#[derive(Debug, thiserror::Error)]
#[error("echo handler aborted the connection")]
pub(crate) struct AbortConnection;

fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> EchoResponse {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    res
}

const TEXT: (&str, &str) = ("content-type", "text/plain; charset=utf-8");
const JSON: (&str, &str) = ("content-type", "application/json");
const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");

/// Go's `processError`: a compact `{"message": ...}` body.
fn process_error(message: &str, status: u16) -> EchoResponse {
    let body = marshal_compact(&GoValue::Object(vec![(
        "message".to_owned(),
        GoValue::str(message),
    )]));
    response(status, &[JSON, NOSNIFF], body)
}

/// What Go's server answers to a request it cannot parse (it then closes the connection).
fn bad_request(detail: &str) -> EchoResponse {
    let body = if detail.is_empty() {
        "400 Bad Request".to_owned()
    } else {
        format!("400 Bad Request: {detail}")
    };
    response(400, &[TEXT, ("connection", "close")], body)
}

/// Go's `http.Redirect` with 301 for a target that is already clean.
fn moved_permanently(method: &Method, location: &str) -> EchoResponse {
    let mut headers = vec![("location", location)];
    let mut body = String::new();
    if method == Method::GET || method == Method::HEAD {
        headers.push(("content-type", "text/html; charset=utf-8"));
    }
    if method == Method::GET {
        let escaped = location
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;");
        body = format!("<a href=\"{escaped}\">Moved Permanently</a>.\n\n");
    }
    response(301, &headers, body)
}

fn proto_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The request line as Go's `r.RequestURI` holds it.
fn request_uri(parts: &Parts) -> String {
    if parts.version == Version::HTTP_2 {
        return parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default();
    }
    parts.uri.to_string()
}

/// Go's `r.Host`; `Err` carries the 400 text for requests Go refuses.
fn request_host(parts: &Parts) -> Result<String, &'static str> {
    let hosts: Vec<&HeaderValue> = parts.headers.get_all(HOST).iter().collect();
    if parts.version == Version::HTTP_2
        && let Some(authority) = parts.uri.authority()
    {
        return Ok(authority.as_str().to_owned());
    }
    match hosts.as_slice() {
        [] if parts.version == Version::HTTP_11 => Err("missing required Host header"),
        [] => Ok(parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default()),
        [one] => Ok(String::from_utf8_lossy(one.as_bytes()).into_owned()),
        _ => Err("too many Host headers"),
    }
}

/// The request headers as Go's server leaves them in `r.Header`, canonical names, sorted.
/// On HTTP/2, Go joins the cookie crumbs into one `Cookie` value (RFC 9113 8.2.3).
fn echoed_headers(headers: &HeaderMap, version: Version) -> GoValue {
    let chunked = headers.contains_key(TRANSFER_ENCODING);
    let mut out: Vec<(String, GoValue)> = headers
        .keys()
        .filter(|name| {
            **name != HOST && **name != TRANSFER_ENCODING && !(chunked && **name == CONTENT_LENGTH)
        })
        .map(|name| {
            let mut values: Vec<Vec<u8>> = headers
                .get_all(name)
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect();
            if version == Version::HTTP_2 && *name == COOKIE && values.len() > 1 {
                values = vec![values.join(&b"; "[..])];
            }
            let values = values.into_iter().map(GoValue::Str).collect();
            (canonical_header_key(name.as_str()), GoValue::Array(values))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    GoValue::Object(out)
}

/// Applies `X-Echo-Set-Header: Name:value,Name2:value2` to the response, as echo-basic
/// does: a repeated name gets its values comma-joined.
fn apply_echo_set_header(request: &HeaderMap, response: &mut HeaderMap) {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for list in request.get_all("x-echo-set-header") {
        let list = String::from_utf8_lossy(list.as_bytes());
        for kv in list.split(',') {
            let (name, value) = kv.trim().split_once(':').unwrap_or((kv.trim(), ""));
            match wanted.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(value.trim());
                }
                None => wanted.push((name.to_owned(), value.to_owned())),
            }
        }
    }
    for (name, value) in wanted {
        // Go skips names it cannot write and trims values when writing them.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.replace(['\r', '\n'], " ").trim()),
        ) {
            response.append(n, v);
        }
    }
}

/// Reads and discards the request body so the connection stays reusable.
async fn drain(body: Incoming) {
    let mut body = body;
    while let Some(Ok(_)) = body.frame().await {}
}

/// Entry point for one request.
pub(crate) async fn handle(
    replica: &Replica,
    conn: &ConnFacts,
    req: hyper::Request<Incoming>,
) -> Result<EchoResponse, AbortConnection> {
    if req.uri().path() == "/ws" && websocket::is_upgrade(req.headers()) {
        return Ok(websocket::answer(req));
    }
    let (parts, body) = req.into_parts();
    drain(body).await;

    let host = match request_host(&parts) {
        Ok(host) => host,
        Err(detail) => return Ok(bad_request(detail)),
    };
    let uri = request_uri(&parts);
    if parts.method == Method::OPTIONS && uri == "*" {
        return Ok(response(200, &[("content-length", "0")], Bytes::new()));
    }
    let Some(decoded) = unescape_path(parts.uri.path()) else {
        return Ok(bad_request(""));
    };
    let raw_query = parts.uri.query().unwrap_or("");

    // echo-basic's preserveSlashes wrapper, then the mux's own path cleaning.
    let folded = fold_double_slashes(&decoded);
    let cleaned = mux_clean_path(&folded);
    let with_query = |path: &[u8]| {
        let mut location = escape_path(path);
        if !raw_query.is_empty() {
            location.push('?');
            location.push_str(raw_query);
        }
        location
    };
    // A subtree pattern registered as "/x/" also claims "/x" with a redirect.
    if cleaned == b"/status" || cleaned == b"/retry" {
        let mut target = cleaned.clone();
        target.push(b'/');
        return Ok(moved_permanently(&parts.method, &with_query(&target)));
    }
    if cleaned != folded {
        return Ok(moved_permanently(&parts.method, &with_query(&cleaned)));
    }

    if cleaned == b"/health" || (replica.healthz && cleaned == b"/healthz") {
        return Ok(response(200, &[TEXT], "OK"));
    }
    if cleaned.starts_with(b"/status/") {
        return status(&uri);
    }
    if cleaned.starts_with(b"/retry/") {
        return retry(replica, conn, &parts, host, uri).await;
    }
    // `/ws` without an upgrade falls through to the echo handler.
    Ok(echo(replica, conn, &parts, host, uri).await)
}

/// `strings.ReplaceAll(path, "//", "/")`: one left-to-right pass, no overlap.
fn fold_double_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'/' && path.get(i + 1) == Some(&b'/') {
            out.push(b'/');
            i += 2;
        } else {
            out.push(path[i]);
            i += 1;
        }
    }
    out
}

/// `/status/NNN` on the raw request URI; anything else under `/status/` is a 400.
fn status(uri: &str) -> Result<EchoResponse, AbortConnection> {
    let digits = uri
        .strip_prefix("/status/")
        .filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()));
    let Some(code) = digits.and_then(|d| d.parse::<u16>().ok()) else {
        return Ok(response(400, &[], Bytes::new()));
    };
    match code {
        // Go panics on codes below 100 and the server drops the connection; 101 cannot
        // be sent as a plain status by hyper either.
        0..=99 | 101 => Err(AbortConnection),
        // Go sends other 1xx as informational, then an implicit 200.
        100..=199 => Ok(response(200, &[], Bytes::new())),
        _ => Ok(response(code, &[], Bytes::new())),
    }
}

/// Sleeps for the Go duration in query parameter `key`; `Err` is the 500 to send.
async fn delay(raw_query: &str, key: &str) -> Result<(), EchoResponse> {
    let Some(text) = query_value(raw_query, key).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    match parse_go_duration(&text) {
        Ok(d) => {
            tokio::time::sleep(d.sleep_time()).await;
            Ok(())
        }
        Err(e) => Err(process_error(&e.to_string(), 500)),
    }
}

async fn echo(
    replica: &Replica,
    conn: &ConnFacts,
    parts: &Parts,
    host: String,
    uri: String,
) -> EchoResponse {
    replica.remember(SeenRequest {
        method: parts.method.as_str().to_owned(),
        path: uri.clone(),
        host: host.clone(),
        at: Instant::now(),
    });
    if let Err(res) = delay(parts.uri.query().unwrap_or(""), "delay").await {
        return res;
    }
    let attempt = match count_attempt(replica, &parts.headers) {
        Ok(attempt) => attempt,
        Err(message) => return response(400, &[TEXT], message),
    };
    if let Some(Attempt {
        number,
        fail: Some((status, times)),
        ..
    }) = &attempt
    {
        let number = number.to_string();
        return response(
            *status,
            &[TEXT, (ATTEMPT_HEADER, &number)],
            format!("attempt {number} fails as asked (X-Echo-Fail-Times: {times})"),
        );
    }
    let id = &replica.identity;
    let reply = EchoReply {
        path: uri,
        host,
        method: parts.method.as_str().to_owned(),
        proto: proto_name(parts.version).to_owned(),
        headers: Default::default(),
        http_port: id.http_port.clone(),
        namespace: id.namespace.clone(),
        ingress: id.ingress.clone(),
        service: id.service.clone(),
        pod: id.pod.clone(),
        tls: conn.tls.clone(),
        attempt: attempt.as_ref().map(|a| a.number),
    };
    let body = super::gojson::marshal_indent(
        &reply.to_go_value(echoed_headers(&parts.headers, parts.version)),
    );
    let (body, encoding) = match encode(&parts.headers, body) {
        Ok(encoded) => encoded,
        Err((status, message)) => return response(status, &[TEXT], message),
    };
    let mut res = response(200, &[], body);
    apply_echo_set_header(&parts.headers, res.headers_mut());
    for (name, value) in [JSON, NOSNIFF] {
        res.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if let Some(encoding) = encoding {
        res.headers_mut().insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding),
        );
    }
    if let Some(attempt) = &attempt {
        res.headers_mut().insert(
            HeaderName::from_static(ATTEMPT_HEADER),
            HeaderValue::from(attempt.number),
        );
    }
    res
}

const ATTEMPT_HEADER: &str = "x-echo-attempt";

/// This request's place among the attempts of its `X-Echo-Request-Key`, and whether it is to
/// fail (with which status, and after how many failures in all).
struct Attempt {
    number: u32,
    fail: Option<(u16, u32)>,
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// Reads `X-Echo-Request-Key`, `X-Echo-Fail-Times` and `X-Echo-Fail-Status`; `Err` explains a
/// malformed one (answered with 400). No key: no counting, and nothing in the reply changes.
fn count_attempt(replica: &Replica, headers: &HeaderMap) -> Result<Option<Attempt>, String> {
    let times = match header_text(headers, "x-echo-fail-times") {
        None => 0,
        Some(text) => text
            .parse::<u32>()
            .map_err(|_| format!("X-Echo-Fail-Times must be a whole number, got {text:?}"))?,
    };
    let status = match header_text(headers, "x-echo-fail-status") {
        None => 503,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|s| (200..=599).contains(s))
            .ok_or_else(|| {
                format!("X-Echo-Fail-Status must be a status from 200 to 599, got {text:?}")
            })?,
    };
    let Some(key) = header_text(headers, "x-echo-request-key").filter(|k| !k.is_empty()) else {
        if headers.contains_key("x-echo-fail-times") {
            return Err(
                "X-Echo-Fail-Times needs X-Echo-Request-Key to count attempts by".to_owned(),
            );
        }
        return Ok(None);
    };
    let number = replica.attempts.record(&key);
    Ok(Some(Attempt {
        number,
        fail: (number <= times).then_some((status, times)),
    }))
}

/// Compresses the reply when `X-Echo-Content-Encoding` asks for it (gzip is the one encoding
/// offered); `Err` is the status and text to answer instead (400 for any other value).
fn encode(
    headers: &HeaderMap,
    body: String,
) -> Result<(Bytes, Option<&'static str>), (u16, String)> {
    let Some(wanted) = header_text(headers, "x-echo-content-encoding") else {
        return Ok((Bytes::from(body), None));
    };
    if !wanted.eq_ignore_ascii_case("gzip") {
        return Err((
            400,
            format!("X-Echo-Content-Encoding offers gzip only, got {wanted:?}"),
        ));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(body.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| (500, format!("gzip: {e}")))?;
    Ok((Bytes::from(compressed), Some("gzip")))
}

/// A flaky backend: fails `succeedAfter` times per `uuid` (TCP reset, or `responseCode`),
/// then echoes.
async fn retry(
    replica: &Replica,
    conn: &ConnFacts,
    parts: &Parts,
    host: String,
    uri: String,
) -> Result<EchoResponse, AbortConnection> {
    let query = parts.uri.query().unwrap_or("");
    let Some(uuid) = query_value(query, "uuid").filter(|u| !u.is_empty()) else {
        return Ok(response(400, &[TEXT], "uuid is required"));
    };
    let Some(succeed_after) =
        query_value(query, "succeedAfter").and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(response(400, &[TEXT], "succeedAfter is required"));
    };
    let response_code = query_value(query, "responseCode").and_then(|v| v.parse::<u16>().ok());

    let must_fail = {
        let mut attempts = replica.retries.lock().unwrap_or_else(|e| e.into_inner());
        let seen = attempts.entry(uuid).or_insert(0);
        let fail = *seen < succeed_after;
        if fail {
            *seen += 1;
        }
        fail
    };
    if !must_fail {
        return Ok(echo(replica, conn, parts, host, uri).await);
    }
    if let Err(res) = delay(query, "delayRetry").await {
        return Ok(res);
    }
    match response_code {
        Some(code) if (100..=999).contains(&code) => Ok(response(code, &[], Bytes::new())),
        Some(_) => Err(AbortConnection),
        // Go's HTTP/2 response writer cannot be hijacked, so echo-basic reports that.
        None if parts.version == Version::HTTP_2 => Ok(process_error(
            "response writer does not support hijacking",
            500,
        )),
        None => {
            conn.reset.store(true, Ordering::Release);
            Err(AbortConnection)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_slashes_like_replace_all() {
        assert_eq!(fold_double_slashes(b"/a//b///c"), b"/a/b//c");
    }

    #[test]
    fn echoed_headers_follow_go_server() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1"));
        h.append("cookie", HeaderValue::from_static("b=2"));
        h.append("host", HeaderValue::from_static("example.com"));
        h.append("transfer-encoding", HeaderValue::from_static("chunked"));
        h.append("content-length", HeaderValue::from_static("3"));
        h.append("x-b", HeaderValue::from_static("1"));
        let cookie = |v: &[&str]| GoValue::Array(v.iter().map(GoValue::str).collect());
        let h1 = echoed_headers(&h, Version::HTTP_11);
        let h2 = echoed_headers(&h, Version::HTTP_2);
        let expect = |c: GoValue| {
            GoValue::Object(vec![
                ("Cookie".into(), c),
                ("X-B".into(), GoValue::Array(vec![GoValue::str("1")])),
            ])
        };
        assert_eq!(h1, expect(cookie(&["a=1", "b=2"])));
        assert_eq!(h2, expect(cookie(&["a=1; b=2"])));
    }

    #[test]
    fn echo_set_header_joins_repeats() {
        let mut req = HeaderMap::new();
        req.append(
            "x-echo-set-header",
            HeaderValue::from_static("X-A: one , x-b:2,X-A: three"),
        );
        req.append("x-echo-set-header", HeaderValue::from_static(""));
        let mut res = HeaderMap::new();
        apply_echo_set_header(&req, &mut res);
        assert_eq!(res.get("x-a").unwrap(), "one,three");
        assert_eq!(res.get("x-b").unwrap(), "2");
        assert_eq!(res.len(), 2);
    }
}
