//! The ADS gRPC service and a way to run it on its own listener.

use std::net::SocketAddr;
use std::pin::Pin;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use super::cache::SnapshotCache;
use super::delta::DeltaStream;
use super::sotw::SotwStream;
use super::stream::{Protocol, drive};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Responses buffered per stream before the stream loop waits for Envoy to read.
const STREAM_BUFFER: usize = 16;

/// Aggregated discovery over a [`SnapshotCache`], in both protocols.
#[derive(Clone, Debug)]
pub struct AdsService {
    cache: SnapshotCache,
}

impl AdsService {
    pub fn new(cache: SnapshotCache) -> Self {
        Self { cache }
    }

    fn spawn<P: Protocol>(&self, inbound: Streaming<P::Request>) -> ResponseStream<P::Response> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(drive::<P, _>(self.cache.clone(), inbound, tx));
        Box::pin(ReceiverStream::new(rx))
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for AdsService {
    type StreamAggregatedResourcesStream = ResponseStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = ResponseStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        Ok(Response::new(
            self.spawn::<SotwStream>(request.into_inner()),
        ))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        Ok(Response::new(
            self.spawn::<DeltaStream>(request.into_inner()),
        ))
    }
}

/// The tonic service, for a controller that runs its own gRPC server.
pub fn service(cache: SnapshotCache) -> AggregatedDiscoveryServiceServer<AdsService> {
    AggregatedDiscoveryServiceServer::new(AdsService::new(cache))
}

/// A server running in the background (ADS here, the admin endpoint in `crate::admin`).
/// Dropping the handle stops the server, so a test or a failed start-up never leaks one.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ServerHandle {
    pub(crate) fn new(addr: SocketAddr, task: JoinHandle<()>) -> Self {
        Self { addr, task }
    }

    /// The bound address (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server stopped on its own (it only does on a fatal error, which is logged).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve ADS on `addr` (port 0 picks a free port) until the returned handle is dropped.
pub async fn serve(addr: SocketAddr, cache: SnapshotCache) -> Result<ServerHandle, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    // Small xDS messages must not wait for Nagle's algorithm.
    let incoming = TcpListenerStream::new(listener).inspect(|conn| {
        if let Ok(conn) = conn {
            let _ = conn.set_nodelay(true);
        }
    });
    let server = tonic::transport::Server::builder()
        .add_service(service(cache))
        .serve_with_incoming(incoming);
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(%addr, "ADS server stopped: {e}");
        }
    });
    tracing::info!(%addr, "ADS server listening");
    Ok(ServerHandle::new(addr, task))
}
