//! Listeners, connections and their lifetime.
//!
//! Each listener's accept loop owns a `JoinSet` of its connections, so stopping the loop
//! (shutdown or drop of the handle) tears every connection down with it: a stopped
//! replica really stops answering, which convergence scenarios depend on.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::handler::{ConnFacts, Identity, Replica, SeenRequest, handle};
use super::tlsinfo::tls_facts;
use super::{EchoConfig, EchoError};
use crate::certs;

/// Starts echo replicas.
pub struct EchoServer;

/// A running replica; dropping it stops it.
pub struct EchoHandle {
    ip: IpAddr,
    pod: String,
    http_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// hyper connection builders, built once per replica.
struct Builders {
    auto: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    // Go writes canonical header names on HTTP/1; hyper would write lower case.
    b.http1().timer(TokioTimer::new()).title_case_headers(true);
    b.http2().timer(TokioTimer::new());
    b
}

struct Shared {
    replica: Replica,
    builders: Builders,
    stats: Stats,
}

impl EchoServer {
    /// Binds every port, then serves in the background until the handle is dropped.
    pub async fn start(config: EchoConfig) -> Result<EchoHandle, EchoError> {
        let pod = config.pod.clone();
        if config.ports.is_empty() && config.tls_ports.is_empty() {
            return Err(EchoError::NoPorts { pod });
        }
        let acceptor = match (&config.tls, config.tls_ports.is_empty()) {
            (_, true) => None,
            (None, false) => return Err(EchoError::MissingTlsIdentity { pod }),
            (Some(id), false) => {
                let server = certs::server_config(
                    &id.cert_pem,
                    &id.key_pem,
                    &[b"h2", b"http/1.1"],
                    id.client_ca_pem.as_deref(),
                )
                .map_err(|source| EchoError::Tls {
                    pod: pod.clone(),
                    source,
                })?;
                Some(TlsAcceptor::from(Arc::new(server)))
            }
        };

        let bind = |port: u16| {
            let addr = SocketAddr::new(config.ip, port);
            let pod = pod.clone();
            async move {
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| EchoError::Bind { pod, addr, source })
            }
        };
        let mut plain = Vec::new();
        for &port in &config.ports {
            plain.push(bind(port).await?);
        }
        let mut secure = Vec::new();
        for &port in &config.tls_ports {
            secure.push(bind(port).await?);
        }
        let local = |l: &TcpListener, port: u16| {
            l.local_addr()
                .unwrap_or_else(|_| SocketAddr::new(config.ip, port))
        };
        let http_addrs: Vec<SocketAddr> = plain
            .iter()
            .zip(&config.ports)
            .map(|(l, &p)| local(l, p))
            .collect();
        let tls_addrs: Vec<SocketAddr> = secure
            .iter()
            .zip(&config.tls_ports)
            .map(|(l, &p)| local(l, p))
            .collect();

        let http_port = config.http_port.clone().unwrap_or_else(|| {
            http_addrs
                .first()
                .map(|a| a.port().to_string())
                .unwrap_or_default()
        });
        let shared = Arc::new(Shared {
            replica: Replica::new(
                Identity {
                    namespace: config.namespace.clone(),
                    ingress: config.ingress.clone(),
                    service: config.service.clone(),
                    pod: config.pod.clone(),
                    http_port,
                },
                config.attempts.clone(),
                config.healthz,
            ),
            builders: Builders {
                auto: builder(),
                http1: builder().http1_only(),
                http2: builder().http2_only(),
            },
            stats: Stats::default(),
        });

        let (stop, stopped) = watch::channel(false);
        let mut loops = Vec::new();
        for listener in plain {
            loops.push(tokio::spawn(accept_loop(
                listener,
                None,
                shared.clone(),
                stopped.clone(),
            )));
        }
        for listener in secure {
            loops.push(tokio::spawn(accept_loop(
                listener,
                acceptor.clone(),
                shared.clone(),
                stopped.clone(),
            )));
        }
        Ok(EchoHandle {
            ip: config.ip,
            pod,
            http_addrs,
            tls_addrs,
            shared,
            stop,
            loops,
        })
    }
}

impl EchoHandle {
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// Plain listeners, in the order of [`EchoConfig::ports`].
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http_addrs
    }

    /// TLS listeners, in the order of [`EchoConfig::tls_ports`].
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// TCP connections accepted so far, on all ports.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.stats.connections.load(Ordering::Relaxed)
    }

    /// Requests that reached the handler so far.
    pub fn requests_handled(&self) -> u64 {
        self.shared.stats.requests.load(Ordering::Relaxed)
    }

    /// The latest requests the echo handler answered (up to 4096), oldest first.
    pub fn seen_requests(&self) -> Vec<SeenRequest> {
        self.shared.replica.seen_requests()
    }

    /// Stops listening and closes every connection; returns once the ports are free.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for handle in std::mem::take(&mut self.loops) {
            let _ = handle.await;
        }
    }
}

impl Drop for EchoHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for handle in &self.loops {
            handle.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(serve_connection(stream, tls.clone(), shared.clone()));
                }
                // Out of descriptors or a connection reset before accept: back off briefly.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let reset = Arc::new(AtomicBool::new(false));
    let io = ResettableStream {
        inner: stream,
        reset: reset.clone(),
    };
    match tls {
        None => {
            let facts = Arc::new(ConnFacts { tls: None, reset });
            serve(&shared.builders.auto, io, facts, shared.clone()).await;
        }
        Some(acceptor) => {
            let Ok(stream) = acceptor.accept(io).await else {
                return;
            };
            let (_, session) = stream.get_ref();
            let h2 = session.alpn_protocol() == Some(b"h2");
            let facts = Arc::new(ConnFacts {
                tls: Some(tls_facts(session)),
                reset,
            });
            let builder = if h2 {
                &shared.builders.http2
            } else {
                &shared.builders.http1
            };
            serve(builder, stream, facts, shared.clone()).await;
        }
    }
}

async fn serve<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    facts: Arc<ConnFacts>,
    shared: Arc<Shared>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let facts = facts.clone();
        async move {
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            handle(&shared.replica, &facts, req).await
        }
    });
    // Errors here are the client's business (resets, bad requests, aborted retries). Upgrades
    // are served for the WebSocket echo.
    let _ = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await;
}

/// A TCP stream that can be told to end with a reset (RST) instead of a FIN, which is
/// how echo-basic's `/retry/` simulates a dying backend.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Acquire) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
