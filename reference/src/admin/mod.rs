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
