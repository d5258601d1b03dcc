//! Convergence loops against echo replicas whose answers change over time.

mod probe_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use gatesim_conformance::echo::{EchoConfig, EchoServer};
use gatesim_conformance::probe::{
    AttemptFailure, Convergence, Expectation, ProbeRequest, await_consistent, await_convergence,
};
use probe_support::{NAMESPACE, Splitter, replica_ip, start_replica};

fn expect_backend(backend: &str) -> Expectation {
    Expectation {
        backend: Some(backend.into()),
        namespace: Some(NAMESPACE.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn converges_once_the_route_switches_to_the_right_backend() {
    let v1 = start_replica("infra-backend-v1", 40, None).await;
    let v2 = start_replica("infra-backend-v2", 41, None).await;
    let (a, b) = (v1.http_addrs()[0], v2.http_addrs()[0]);
    let switched = Arc::new(AtomicBool::new(false));
    let flag = switched.clone();
    let splitter = Splitter::start(replica_ip(42), move |_| {
        if flag.load(Ordering::SeqCst) { b } else { a }
    })
    .await;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        switched.store(true, Ordering::SeqCst);
    });

    let req = ProbeRequest::new(splitter.addr, "/");
    let done = await_consistent(
        &req,
        &expect_backend("infra-backend-v2"),
        &Convergence::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(done.attempts >= 4, "{done:?}");
    assert!(done.elapsed >= Duration::from_millis(400), "{done:?}");
    assert!(v1.requests_handled() >= 1 && v2.requests_handled() >= 3);
}

#[tokio::test]
async fn converges_once_the_backend_starts_listening() {
    // Reserve an address, free it, and start the replica there only later.
    let reserved = tokio::net::TcpListener::bind((replica_ip(43), 0))
        .await
        .unwrap();
    let addr: SocketAddr = reserved.local_addr().unwrap();
    drop(reserved);
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        EchoServer::start(EchoConfig {
            ip: addr.ip(),
            ports: vec![addr.port()],
            pod: "late-backend-1-2".into(),
            namespace: NAMESPACE.into(),
            ..Default::default()
        })
        .await
        .expect("late replica starts")
    });
    let req = ProbeRequest::new(addr, "/");
    let done = await_consistent(
        &req,
        &expect_backend("late-backend"),
        &Convergence::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(done.attempts >= 4, "{done:?}");
    drop(starter.await.unwrap());
}

#[tokio::test]
async fn flapping_or_wrong_answers_time_out_with_the_last_mismatch() {
    let v1 = start_replica("infra-backend-v1", 44, None).await;
    let v2 = start_replica("infra-backend-v2", 45, None).await;
    let (a, b) = (v1.http_addrs()[0], v2.http_addrs()[0]);
    // Alternates per connection: never three right answers in a row.
    let flapping =
        Splitter::start(replica_ip(46), move |seq| if seq % 2 == 0 { a } else { b }).await;
    let conv = Convergence {
        within: Duration::from_millis(800),
        ..Default::default()
    };
    let req = ProbeRequest::new(flapping.addr, "/");
    let err = await_consistent(&req, &expect_backend("infra-backend-v2"), &conv)
        .await
        .expect_err("flapping never converges");
    assert!(err.attempts >= 4, "{err}");
    assert!(err.successes < 3, "{err}");
    assert!(
        matches!(err.last, Some(AttemptFailure::Mismatch(_))),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.starts_with("not consistent within "), "{text}");
    assert!(
        text.contains("last failure: backend: expected a pod of \"infra-backend-v2\", got pod \"infra-backend-v1-7d9c8-00044\""),
        "{text}"
    );

    // Nothing listening at all: the last failure is the transport error.
    let gone = v1.http_addrs()[0];
    v1.shutdown().await;
    let err = await_consistent(
        &ProbeRequest::new(gone, "/"),
        &Expectation::default(),
        &conv,
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err.last, Some(AttemptFailure::Probe(_))), "{err}");
    assert!(
        err.to_string().contains("request failed: connect to"),
        "{err}"
    );
}

#[tokio::test]
async fn successes_must_be_consecutive() {
    let calls = AtomicU32::new(0);
    // Fails on calls 2 and 4: the streak restarts each time.
    let done = await_convergence(&Convergence::default(), || async {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 2 || n == 4 {
            Err(format!("call {n} failed"))
        } else {
            Ok(())
        }
    })
    .await
    .expect("converges");
    assert_eq!(done.attempts, 7);

    let conv = Convergence {
        consecutive: 2,
        within: Duration::from_millis(250),
        poll_interval: Duration::from_millis(100),
    };
    let err = await_convergence(&conv, || async { Err::<(), _>("always") })
        .await
        .expect_err("never succeeds");
    assert!((2..=4).contains(&err.attempts), "{err}");
    assert_eq!(err.last, Some("always"));
}
