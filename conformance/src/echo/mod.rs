//! An in-process echo backend that answers like upstream's `echo-basic` image.
//!
//! One [`EchoServer::start`] call is one replica ("pod"): it listens on its own loopback
//! IP, on every plain port with HTTP/1.1 and h2c prior knowledge, and on every TLS port
//! with HTTP/1.1 or h2 chosen by ALPN. Replies are byte-for-byte what echo-basic marshals,
//! so the probe and expectations work unchanged against the real image on kind/cluster.
//!
//! Additions, each answered only when a request asks for it so that every other reply stays
//! echo-basic's: attempt counting and failing on request (`X-Echo-Request-Key`,
//! `X-Echo-Fail-Times`, `X-Echo-Fail-Status`), a gzip-compressed reply
//! (`X-Echo-Content-Encoding: gzip`), and the WebSocket echo on `/ws` that echo-basic serves.

mod attempts;
mod canonical;
mod duration;
mod env;
mod gojson;
pub(crate) mod gourl;
mod handler;
mod reply;
mod server;
mod tlsinfo;
pub(crate) mod websocket;

pub use attempts::AttemptLedger;
pub use canonical::canonical_header_key;
pub use duration::{DurationError, GoDuration, parse_go_duration};
pub use env::{EnvError, VARIABLES as ENV_VARIABLES, config_from_env};
pub use handler::SeenRequest;
pub use reply::{EchoReply, EchoTls};
pub use server::{EchoHandle, EchoServer};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::certs::CertError;

/// Everything one replica needs: where to listen and who it claims to be.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// A loopback address of its own (e.g. 127.0.20.N).
    pub ip: IpAddr,
    /// Plain ports (HTTP/1.1 and h2c); 0 picks a free port.
    pub ports: Vec<u16>,
    /// TLS ports; need [`EchoConfig::tls`].
    pub tls_ports: Vec<u16>,
    pub tls: Option<TlsIdentity>,
    /// Reported as `pod`; starts with the backend name, e.g. `infra-backend-v1-7d9c8-abcde`.
    pub pod: String,
    pub namespace: String,
    /// echo-basic's `SERVICE_NAME` and `INGRESS_NAME`; upstream's manifests leave both
    /// unset, so their replies carry empty strings.
    pub service: String,
    pub ingress: String,
    /// Reported as `httpPort` (echo-basic's `HTTP_PORT`); default: the first plain port.
    pub http_port: Option<String>,
    /// Answer `/healthz` like `/health`: the probe path of the `gatesim-echo` image. Off for
    /// the harness's own replicas, whose replies stay exactly echo-basic's (which echoes
    /// `/healthz` like any other path).
    pub healthz: bool,
    /// Where `X-Echo-Request-Key` attempts are counted; give every replica of a backend the
    /// same ledger so that attempts count per backend (see [`AttemptLedger`]).
    pub attempts: Arc<AttemptLedger>,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: Vec::new(),
            tls_ports: Vec::new(),
            tls: None,
            pod: String::new(),
            namespace: String::new(),
            service: String::new(),
            ingress: String::new(),
            http_port: None,
            healthz: false,
            attempts: Arc::default(),
        }
    }
}

/// The certificate a TLS port presents (PEM; `cert_pem` may hold a chain, leaf first).
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
    /// Verify client certificates against this CA when offered (not required), like
    /// echo-basic's `TLS_CLIENT_CACERTS`.
    pub client_ca_pem: Option<String>,
}

/// Why a replica could not start.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error("echo replica {pod:?} has no ports to listen on")]
    NoPorts { pod: String },
    #[error("echo replica {pod:?} has TLS ports but no TLS identity")]
    MissingTlsIdentity { pod: String },
    #[error("echo replica {pod:?}: cannot listen on {addr}: {source}")]
    Bind {
        pod: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("echo replica {pod:?}: TLS setup: {source}")]
    Tls {
        pod: String,
        #[source]
        source: CertError,
    },
}
