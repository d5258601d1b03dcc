//! Shared by the echo and probe tests: replicas on loopback and a tiny TCP splitter.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatesim_conformance::echo::{EchoConfig, EchoHandle, EchoServer, TlsIdentity};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const NAMESPACE: &str = "gateway-conformance-infra";

/// A loopback address of the 127.0.20.0/24 range used for echo replicas.
pub fn replica_ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 20, n))
}

/// Starts a replica of `backend` with one plain port (and one TLS port with `tls`).
pub async fn start_replica(backend: &str, n: u8, tls: Option<TlsIdentity>) -> EchoHandle {
    let tls_ports = if tls.is_some() { vec![0] } else { vec![] };
    EchoServer::start(EchoConfig {
        ip: replica_ip(n),
        ports: vec![0],
        tls_ports,
        tls,
        pod: format!("{backend}-7d9c8-{n:05}"),
        namespace: NAMESPACE.to_owned(),
        service: backend.to_owned(),
        ..Default::default()
    })
    .await
    .expect("echo replica starts")
}

/// A TCP splitter: every accepted connection goes to the upstream the chooser picks
/// from the connection's sequence number. Stands in for a proxy in probe tests.
pub struct Splitter {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Splitter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Splitter {
    pub async fn start<F>(ip: IpAddr, choose: F) -> Splitter
    where
        F: Fn(usize) -> SocketAddr + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await.expect("splitter binds");
        let addr = listener.local_addr().expect("splitter address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let choose = Arc::new(choose);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let seq = counter.fetch_add(1, Ordering::SeqCst);
                let upstream = choose(seq);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Splitter {
            addr,
            connections,
            task,
        }
    }

    /// Deterministic weighted round robin over `(upstream, weight)` slots.
    pub async fn weighted(ip: IpAddr, upstreams: Vec<(SocketAddr, usize)>) -> Splitter {
        let slots: Vec<SocketAddr> = upstreams
            .iter()
            .flat_map(|(addr, weight)| std::iter::repeat_n(*addr, *weight))
            .collect();
        assert!(!slots.is_empty(), "weights must not all be zero");
        Splitter::start(ip, move |seq| slots[seq % slots.len()]).await
    }
}
