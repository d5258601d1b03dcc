//! A minimal client for Envoy's admin API (`/ready`, `/server_info`, `/quitquitquit`, stats).
//!
//! One request per connection: admin calls are rare, and a fresh connection never trips over a
//! proxy that restarted on another port.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Default bound on one admin request, connection included.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("connecting to Envoy admin at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{method} {path} on Envoy admin at {addr}: {source}")]
    Http {
        addr: SocketAddr,
        method: Method,
        path: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{method} {path} on Envoy admin at {addr}: {detail}")]
    Request {
        addr: SocketAddr,
        method: Method,
        path: String,
        detail: String,
    },
    #[error("{method} {path} on Envoy admin at {addr}: no answer within {timeout:?}")]
    Timeout {
        addr: SocketAddr,
        method: Method,
        path: String,
        timeout: Duration,
    },
}

/// Status code and body of an admin answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResponse {
    pub status: u16,
    pub body: String,
}

impl AdminResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Result<AdminResponse, AdminError> {
    request(addr, Method::GET, path, ADMIN_TIMEOUT).await
}

pub async fn post(addr: SocketAddr, path: &str) -> Result<AdminResponse, AdminError> {
    request(addr, Method::POST, path, ADMIN_TIMEOUT).await
}

/// One request to the admin endpoint at `addr`, bounded by `timeout` as a whole.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    timeout: Duration,
) -> Result<AdminResponse, AdminError> {
    let timed_out = || AdminError::Timeout {
        addr,
        method: method.clone(),
        path: path.to_string(),
        timeout,
    };
    tokio::time::timeout(timeout, exchange(addr, method.clone(), path))
        .await
        .map_err(|_| timed_out())?
}

async fn exchange(
    addr: SocketAddr,
    method: Method,
    path: &str,
) -> Result<AdminResponse, AdminError> {
    let http_err = |source| AdminError::Http {
        addr,
        method: method.clone(),
        path: path.to_string(),
        source,
    };
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| AdminError::Connect { addr, source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    // The connection task ends with the exchange; its error, if any, surfaces through `sender`.
    let driver = tokio::spawn(conn);
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| AdminError::Request {
            addr,
            method: method.clone(),
            path: path.to_string(),
            detail: e.to_string(),
        })?;
    let result = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(AdminResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
    .await
    .map_err(http_err);
    driver.abort();
    result
}
