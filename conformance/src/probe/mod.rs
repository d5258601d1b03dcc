//! The harness's HTTP client and what it asserts, following upstream's conformance
//! utilities: one fresh connection per request (`roundtripper`), the `CompareRoundTrip`
//! rules ([`compare`]), `AwaitConvergence` ([`await_consistent`]) and weighted sampling
//! ([`sample_weights`]).
//!
//! The types are the probe's own; a runner maps the scenario format onto them, and other
//! checks (gRPC, TLS passthrough) can reuse [`await_convergence`] with their own attempt.

mod burst;
mod client;
mod converge;
mod expect;
mod location;
mod mismatch;
mod weights;

pub use burst::{BurstFailure, BurstJudge, BurstSpec, judge_burst, send_burst};
pub use client::send;
pub use converge::{
    AttemptFailure, Converged, Convergence, NotConverged, await_consistent, await_convergence,
};
pub use expect::{Expectation, ExpectedRedirect, ExpectedRequest, compare};
pub use location::{RedirectTarget, parse_location};
pub use mismatch::Mismatch;
pub use weights::{
    SampleFailure, WeightError, WeightReport, WeightSampling, backend_of_pod, sample_weights,
};

/// A protocol upgrade the probe performs after the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// HTTP/1.1 `Upgrade: websocket`; after a 101, one text message is sent and must come
    /// back unchanged.
    Websocket,
}

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::certs::{CertError, ClientIdentity};
use crate::echo::EchoReply;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// How the request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 (over TLS for https, offering no ALPN, as Go's client does there).
    #[default]
    Http1,
    /// HTTP/2 over TLS, negotiated by ALPN `h2`.
    H2,
    /// HTTP/2 over cleartext with prior knowledge.
    H2c,
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// Where to connect (a Gateway address and listener port).
    pub addr: SocketAddr,
    pub scheme: Scheme,
    /// Host header / `:authority`; default: the address, without the scheme's default port.
    pub host: Option<String>,
    pub method: String,
    /// Path and query, sent exactly as given.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub protocol: Protocol,
    /// TLS server name; default: the host without its port.
    pub sni: Option<String>,
    /// PEM CA bundles to trust for https.
    pub trust: Vec<String>,
    /// Client certificate to present for https.
    pub client_identity: Option<ClientIdentity>,
    /// Response headers to ask echo-basic for, sent as `X-Echo-Set-Header` (always sent,
    /// empty when none, as upstream does).
    pub backend_set_headers: Vec<(String, String)>,
    /// Bound on the whole exchange, connect to last body byte (upstream: 10 s).
    pub timeout: Duration,
    pub upgrade: Option<Upgrade>,
    /// Send a new `X-Echo-Request-Key` with every request, so that each one the probe sends
    /// counts its own attempts (`X-Echo-Fail-Times` then fails each the same way).
    pub fresh_request_key: bool,
}

impl ProbeRequest {
    /// A `GET` of `path` over HTTP/1.1, with upstream's 10 s request timeout.
    pub fn new(addr: SocketAddr, path: impl Into<String>) -> Self {
        ProbeRequest {
            addr,
            scheme: Scheme::Http,
            host: None,
            method: "GET".to_owned(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            protocol: Protocol::Http1,
            sni: None,
            trust: Vec::new(),
            client_identity: None,
            backend_set_headers: Vec::new(),
            timeout: Duration::from_secs(10),
            upgrade: None,
            fresh_request_key: false,
        }
    }

    /// The address as upstream's `CalculateHost` writes it: port dropped when it is the
    /// scheme's default, IPv6 in brackets.
    pub fn address_authority(&self) -> String {
        let ip = match self.addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        if self.addr.port() == self.scheme.default_port() {
            ip
        } else {
            format!("{ip}:{}", self.addr.port())
        }
    }

    /// The Host header / `:authority` that will be sent.
    pub fn authority(&self) -> String {
        self.host
            .clone()
            .unwrap_or_else(|| self.address_authority())
    }

    /// The request URL as upstream builds it (gateway address, not the Host header);
    /// relative redirects resolve against it.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.address_authority(),
            self.path
        )
    }

    /// The path without its query (upstream's `req.URL.Path`).
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct ProbeResponse {
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2.0`, as Go's `resp.Proto`.
    pub proto: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The echo reply, when `Content-Type` is exactly `application/json` and it parsed.
    pub echo: Option<EchoReply>,
    /// Why a JSON body did not parse as an echo reply.
    pub echo_error: Option<String>,
    /// From sending the request to the response head.
    pub head_latency: Duration,
    /// Why a `Content-Encoding: gzip` body did not decompress (`body` is then as received;
    /// otherwise it is the decompressed body).
    pub decode_error: Option<String>,
    /// After a 101 to a WebSocket upgrade: `Ok` when the handshake answer was right and the
    /// message came back unchanged, otherwise what went wrong.
    pub websocket: Option<Result<(), String>>,
}

/// Why no response was obtained.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] CertError),
    #[error("TLS handshake with {addr} (server name {server_name:?}): {source}")]
    TlsHandshake {
        addr: SocketAddr,
        server_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server did not negotiate h2 by ALPN (got {0:?})")]
    Alpn(Option<String>),
    #[error("HTTP exchange with {addr}: {detail}")]
    Http { addr: SocketAddr, detail: String },
    #[error("no complete response from {addr} within {after:?}")]
    Timeout { addr: SocketAddr, after: Duration },
}
