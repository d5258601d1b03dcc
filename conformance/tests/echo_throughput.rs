//! Throughput of the echo backend and of the probe, printed for the record (`--nocapture`).
//! What is asserted is that every request was answered over the connections expected (keep-alive
//! reused, the probe's never); speed itself is reported, not asserted.

mod probe_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesim_conformance::probe::{ProbeRequest, send};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use probe_support::start_replica;
use tokio::net::TcpStream;

const CONCURRENCY: usize = 10;

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_and_probe_throughput() {
    let echo = start_replica("infra-backend-v1", 90, None).await;
    let addr = echo.http_addrs()[0];

    // 1. The server alone: keep-alive HTTP/1.1 connections, requests back to back.
    let per_conn = 300;
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CONCURRENCY {
        clients.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            for _ in 0..per_conn {
                let req = http::Request::builder()
                    .uri("/keepalive?x=1")
                    .header("host", "example.com")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let res = sender.send_request(req).await.expect("response");
                assert_eq!(res.status(), 200);
                res.into_body().collect().await.expect("body");
            }
        }));
    }
    for c in clients {
        c.await.expect("client");
    }
    let keepalive = rate(CONCURRENCY * per_conn, started.elapsed());

    // 2. The probe: a new connection per request, as upstream's roundtripper.
    let total = 1000;
    let req = Arc::new(ProbeRequest::new(addr, "/probe"));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let req = req.clone();
        workers.push(tokio::spawn(async move {
            for _ in 0..total / CONCURRENCY {
                let res = send(&req).await.expect("probe");
                assert!(res.echo.is_some());
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let probe = rate(total, started.elapsed());

    println!(
        "echo keep-alive: {keepalive:.0} requests/s; probe (new connection each): {probe:.0} requests/s \
         (concurrency {CONCURRENCY}, {} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(
        echo.requests_handled(),
        (CONCURRENCY * per_conn + total) as u64
    );
    assert_eq!(echo.connections_accepted(), (CONCURRENCY + total) as u64);
}
