//! A TCP relay between the Envoys and the controller's xDS server, so a test can reset the
//! xDS streams the way a load balancer or a network blip does: every open connection is cut
//! at once, and Envoy has to reconnect and resubscribe.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Relay {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
    /// Connections that reached the controller.
    relayed: Arc<AtomicU64>,
    /// Connections open now.
    open: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|e| *e += 1);
    }
}

impl Relay {
    /// Listen on loopback and relay every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let relayed = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let task = {
            let (cut, relayed, open) = (cut.clone(), Arc::clone(&relayed), Arc::clone(&open));
            tokio::spawn(async move {
                while let Ok((mut down, _)) = listener.accept().await {
                    let mut cut = cut.subscribe();
                    let (relayed, open) = (Arc::clone(&relayed), Arc::clone(&open));
                    tokio::spawn(async move {
                        // A controller that is down refuses; so does the relay, by closing.
                        let Ok(mut up) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        relayed.fetch_add(1, Ordering::SeqCst);
                        open.fetch_add(1, Ordering::SeqCst);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                            _ = cut.changed() => {}
                        }
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            })
        };
        Ok(Self {
            addr,
            cut,
            relayed,
            open,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Close every relayed connection now; how many were open.
    pub fn cut(&self) -> u64 {
        let open = self.open.load(Ordering::SeqCst);
        self.cut.send_modify(|e| *e += 1);
        open
    }

    /// Connections relayed to the controller so far (a reconnect adds one).
    pub fn relayed(&self) -> u64 {
        self.relayed.load(Ordering::SeqCst)
    }
}
