//! The controller's admin HTTP endpoint: `/metrics`, `/xds`, `/healthz`.
//!
//! `router` gives the routes so the controller can merge its own; `serve` runs a router on a
//! listener of its own.

mod metrics;

pub use metrics::Metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::xds::{NodeStatus, ServerHandle, SnapshotCache};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the admin routes read.
#[derive(Clone, Debug, Default)]
pub struct AdminState {
    pub cache: SnapshotCache,
    pub metrics: Metrics,
}

impl AdminState {
    pub fn new(cache: SnapshotCache, metrics: Metrics) -> Self {
        Self { cache, metrics }
    }
}

/// The body of `GET /xds`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdsStatus {
    pub snapshots_set: u64,
    /// By node id.
    pub nodes: BTreeMap<String, NodeStatus>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/xds", get(xds_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(state)
}

async fn metrics_handler(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&state.cache),
    )
}

async fn xds_handler(State(state): State<AdminState>) -> Json<XdsStatus> {
    Json(XdsStatus {
        snapshots_set: state.cache.snapshots_set(),
        nodes: state
            .cache
            .nodes()
            .into_iter()
            .map(|n| (n.node_id.clone(), n))
            .collect(),
    })
}

/// Serve `router` on `addr` (port 0 picks a free port) until the handle is dropped.
pub async fn serve(addr: SocketAddr, router: Router) -> Result<ServerHandle, AdminError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AdminError::Bind { addr, source })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(%addr, "admin server stopped: {e}");
        }
    });
    tracing::info!(%addr, "admin endpoint listening");
    Ok(ServerHandle::new(addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::Snapshot;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        conn.read_to_string(&mut response).await.expect("read");
        response
    }

    #[tokio::test]
    async fn routes_answer_on_a_port_of_their_own() {
        let cache = SnapshotCache::new();
        cache.set("ns/gw", Snapshot::empty(3));
        let metrics = Metrics::new();
        let status = std::sync::Arc::new(crate::provider::status::StatusMetrics::default());
        status.failed.store(1, std::sync::atomic::Ordering::Relaxed);
        metrics.attach_status(status);
        let server = serve(
            "127.0.0.1:0".parse().expect("addr"),
            router(AdminState::new(cache, metrics)),
        )
        .await
        .expect("serve");
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);

        let health = get(addr, "/healthz").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");

        let xds = get(addr, "/xds").await;
        let body = xds.split("\r\n\r\n").nth(1).expect("a body");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        let node = &json["nodes"]["ns/gw"];
        assert_eq!(node["snapshotRevision"], 3, "{json:#}");
        assert_eq!(node["connected"], false, "{json:#}");
        assert!(node["ackedRevision"].is_null(), "{json:#}");
        assert_eq!(node["types"]["CDS"]["nacks"], 0, "{json:#}");
        assert_eq!(json["snapshotsSet"], 1, "{json:#}");

        let text = get(addr, "/metrics").await;
        assert!(text.contains("text/plain; version=0.0.4"), "{text}");
        assert!(
            text.contains("gatesim_xds_snapshots_set_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_xds_connected_streams{node=\"ns/gw\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("gatesim_status_write_errors_total 1\n"),
            "{text}"
        );
    }
}
