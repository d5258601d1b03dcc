//! The echo's and the probe's additions, straight against echo replicas (no proxy between):
//! attempt counting and failing on request, gzip, the WebSocket echo, latency bounds, bursts,
//! `backend: none` and status distributions. Each check is also shown failing on a wrong
//! expectation, with the words a user will read.

mod probe_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gatesim_conformance::echo::{AttemptLedger, EchoConfig, EchoServer};
use gatesim_conformance::probe::{
    BurstJudge, BurstSpec, Expectation, ProbeRequest, Upgrade, WeightSampling, compare,
    sample_weights, send, send_burst,
};
use probe_support::{NAMESPACE, replica_ip, start_replica};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_headers(mut req: ProbeRequest, headers: &[(&str, &str)]) -> ProbeRequest {
    req.headers.extend(
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    req
}

fn header(res: &gatesim_conformance::probe::ProbeResponse, name: &str) -> Option<String> {
    res.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn attempts_count_per_key_across_a_backends_replicas() {
    let ledger = Arc::new(AttemptLedger::new());
    let mut replicas = Vec::new();
    for n in [150, 151] {
        replicas.push(
            EchoServer::start(EchoConfig {
                ip: replica_ip(n),
                ports: vec![0],
                pod: format!("flaky-7d9c8-{n:05}"),
                namespace: NAMESPACE.to_owned(),
                attempts: Arc::clone(&ledger),
                ..EchoConfig::default()
            })
            .await
            .expect("replica starts"),
        );
    }
    let ask = |i: usize| {
        with_headers(
            ProbeRequest::new(replicas[i].http_addrs()[0], "/flaky"),
            &[("X-Echo-Request-Key", "key-1"), ("X-Echo-Fail-Times", "2")],
        )
    };
    // A retrying proxy may reach any replica: the count is the backend's.
    let first = send(&ask(0)).await.unwrap();
    let second = send(&ask(1)).await.unwrap();
    let third = send(&ask(0)).await.unwrap();
    assert_eq!((first.status, second.status, third.status), (503, 503, 200));
    assert_eq!(header(&first, "x-echo-attempt").as_deref(), Some("1"));
    assert_eq!(header(&second, "x-echo-attempt").as_deref(), Some("2"));
    assert_eq!(header(&third, "x-echo-attempt").as_deref(), Some("3"));
    assert_eq!(third.echo.as_ref().and_then(|e| e.attempt), Some(3));

    let req = ask(1);
    let ok = Expectation {
        headers: vec![("x-echo-attempt".into(), "4".into())],
        backend: Some("flaky".into()),
        ..Expectation::default()
    };
    let res = send(&req).await.unwrap();
    compare(&ok, &req, &res).expect("the fourth attempt of key-1");
    let wrong = Expectation {
        headers: vec![("x-echo-attempt".into(), "3".into())],
        ..Expectation::default()
    };
    let res = send(&req).await.unwrap();
    let m = compare(&wrong, &req, &res).unwrap_err().to_string();
    assert!(
        m.starts_with("response header x-echo-attempt: expected \"3\", got \"5\""),
        "{m}"
    );

    // A status of the request's choosing, and a fresh key per request from the probe.
    let mut fresh = with_headers(
        ProbeRequest::new(replicas[0].http_addrs()[0], "/flaky"),
        &[("X-Echo-Fail-Times", "1"), ("X-Echo-Fail-Status", "500")],
    );
    fresh.fresh_request_key = true;
    for _ in 0..2 {
        let res = send(&fresh).await.unwrap();
        assert_eq!(res.status, 500);
        assert_eq!(header(&res, "x-echo-attempt").as_deref(), Some("1"));
    }

    // Without a key nothing is counted, and a failure asked for without one is refused.
    let plain = send(&ProbeRequest::new(replicas[0].http_addrs()[0], "/plain"))
        .await
        .unwrap();
    assert!(header(&plain, "x-echo-attempt").is_none());
    assert!(!String::from_utf8_lossy(&plain.body).contains("attempt"));
    let keyless = with_headers(
        ProbeRequest::new(replicas[0].http_addrs()[0], "/flaky"),
        &[("X-Echo-Fail-Times", "1")],
    );
    let refused = send(&keyless).await.unwrap();
    assert_eq!(refused.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&refused.body),
        "X-Echo-Fail-Times needs X-Echo-Request-Key to count attempts by"
    );
}

#[tokio::test]
async fn gzip_replies_are_checked_compressed_and_must_decompress() {
    let echo = start_replica("infra-backend-v1", 152, None).await;
    let req = with_headers(
        ProbeRequest::new(echo.http_addrs()[0], "/zipped"),
        &[
            ("Accept-Encoding", "gzip"),
            ("X-Echo-Content-Encoding", "gzip"),
        ],
    );
    let res = send(&req).await.unwrap();
    assert_eq!(header(&res, "content-encoding").as_deref(), Some("gzip"));
    let exp = Expectation {
        headers: vec![("content-encoding".into(), "gzip".into())],
        backend: Some("infra-backend-v1".into()),
        namespace: Some(NAMESPACE.into()),
        ..Expectation::default()
    };
    compare(&exp, &req, &res).expect("a gzip echo reply decompresses to the echo reply");

    // Without the opt-in header the reply is plain, even when gzip is acceptable.
    let plain = with_headers(
        ProbeRequest::new(echo.http_addrs()[0], "/plain"),
        &[("Accept-Encoding", "gzip")],
    );
    let res = send(&plain).await.unwrap();
    let m = compare(&exp, &plain, &res).unwrap_err().to_string();
    assert!(
        m.starts_with("response header content-encoding: expected \"gzip\", got absent"),
        "{m}"
    );

    // A body that says gzip and is not: the check fails and says why.
    let listener = tokio::net::TcpListener::bind((replica_ip(153), 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n\
                  Content-Length: 5\r\nConnection: close\r\n\r\nhello",
            )
            .await;
    });
    let corrupt = ProbeRequest::new(addr, "/");
    let res = send(&corrupt).await.unwrap();
    let m = compare(&exp, &corrupt, &res).unwrap_err().to_string();
    assert!(
        m.starts_with(
            "body: expected a body that decodes, got Content-Encoding gzip, but the body does not \
             decompress"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn the_websocket_echo_answers_on_ws_only() {
    let echo = start_replica("infra-backend-v1", 154, None).await;
    let mut req = ProbeRequest::new(echo.http_addrs()[0], "/ws");
    req.upgrade = Some(Upgrade::Websocket);
    let res = send(&req).await.unwrap();
    assert_eq!(res.status, 101);
    assert_eq!(res.websocket, Some(Ok(())));
    let exp = Expectation {
        statuses: vec![101],
        ..Expectation::default()
    };
    compare(&exp, &req, &res).expect("101 and the message echoed");

    // echo-basic serves WebSocket on /ws only: elsewhere the upgrade is answered by the echo.
    req.path = "/elsewhere".into();
    let res = send(&req).await.unwrap();
    let m = compare(&exp, &req, &res).unwrap_err().to_string();
    assert!(
        m.starts_with("status: expected one of [101], got 200"),
        "{m}"
    );
}

#[tokio::test]
async fn latency_bounds_apply_to_the_response_head() {
    let echo = start_replica("infra-backend-v1", 155, None).await;
    let req = ProbeRequest::new(echo.http_addrs()[0], "/slow?delay=300ms");
    let res = send(&req).await.unwrap();
    assert!(res.head_latency >= Duration::from_millis(300), "{res:?}");
    let at_least = Expectation {
        min_latency: Some(Duration::from_millis(250)),
        ..Expectation::default()
    };
    compare(&at_least, &req, &res).expect("delayed by the echo");
    let at_most = Expectation {
        max_latency: Some(Duration::from_millis(100)),
        ..Expectation::default()
    };
    let m = compare(&at_most, &req, &res).unwrap_err().to_string();
    assert!(
        m.starts_with("latency to the response head: expected at most 100ms, got 3"),
        "{m}"
    );
    // An undelayed reply against a floor no loopback exchange comes near, even under load.
    let quick = ProbeRequest::new(echo.http_addrs()[0], "/quick");
    let res = send(&quick).await.unwrap();
    let patient = Expectation {
        min_latency: Some(Duration::from_secs(5)),
        ..Expectation::default()
    };
    let m = compare(&patient, &quick, &res).unwrap_err().to_string();
    assert!(
        m.starts_with("latency to the response head: expected at least 5s, got "),
        "{m}"
    );
}

#[tokio::test]
async fn bursts_are_judged_as_a_whole() {
    let echo = start_replica("infra-backend-v1", 156, None).await;
    let req = ProbeRequest::new(echo.http_addrs()[0], "/status/429");
    let exp = Expectation::default();
    let limited = BurstSpec {
        requests: 3,
        judge: BurstJudge::Sequence(vec![429, 429, 429]),
        concurrent: false,
    };
    send_burst(&req, &exp, &limited).await.expect("all limited");
    let wrong = BurstSpec {
        requests: 3,
        judge: BurstJudge::Sequence(vec![200, 200, 429]),
        concurrent: false,
    };
    let m = send_burst(&req, &exp, &wrong)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        "burst: statuses in order: expected [200, 200, 429], got [429, 429, 429]"
    );
    let counted = BurstSpec {
        requests: 3,
        judge: BurstJudge::Passing {
            min: 1,
            max: 2,
            then: 429,
        },
        concurrent: false,
    };
    let m = send_burst(&req, &exp, &counted)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        "burst: expected 1 to 2 replies with status [200] first, then only 429; got [429, 429, 429] \
         (0 passing first)"
    );
    // Passing replies are compared in full: here they come from the wrong backend.
    let echoed = ProbeRequest::new(echo.http_addrs()[0], "/fine");
    let elsewhere = Expectation {
        backend: Some("infra-backend-v2".into()),
        ..Expectation::default()
    };
    let all_pass = BurstSpec {
        requests: 2,
        judge: BurstJudge::Sequence(vec![200, 200]),
        concurrent: false,
    };
    let m = send_burst(&echoed, &elsewhere, &all_pass)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        m.starts_with(
            "burst: statuses [200, 200] as expected, but a passing reply differs\nreply 1 of the \
             burst: backend: expected a pod of \"infra-backend-v2\""
        ),
        "{m}"
    );
}

#[tokio::test]
async fn concurrent_bursts_count_passing_replies_whatever_their_order() {
    let echo = start_replica("infra-backend-v1", 158, None).await;
    let req = ProbeRequest::new(echo.http_addrs()[0], "/together?delay=200ms");
    let exp = Expectation::default();
    let within = BurstSpec {
        requests: 3,
        judge: BurstJudge::Passing {
            min: 1,
            max: 3,
            then: 503,
        },
        concurrent: true,
    };
    send_burst(&req, &exp, &within)
        .await
        .expect("all three pass");
    let too_many = BurstSpec {
        requests: 3,
        judge: BurstJudge::Passing {
            min: 1,
            max: 2,
            then: 503,
        },
        concurrent: true,
    };
    let m = send_burst(&req, &exp, &too_many)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        "burst: expected 1 to 2 replies with status [200] first, then only 503; got [200, 200, 200] \
         (3 passing first)"
    );
}

#[tokio::test]
async fn backend_none_refuses_echo_replies_and_accepts_the_gateways_own() {
    let echo = start_replica("infra-backend-v1", 157, None).await;
    let none = Expectation {
        no_backend: true,
        ..Expectation::default()
    };
    let req = ProbeRequest::new(echo.http_addrs()[0], "/from-a-backend");
    let res = send(&req).await.unwrap();
    let m = compare(&none, &req, &res).unwrap_err().to_string();
    assert!(
        m.starts_with(
            "backend: expected a reply from the gateway itself (backend: none), got an echo reply \
             from pod \"infra-backend-v1-7d9c8-00157\""
        ),
        "{m}"
    );
    // `/health` answers a plain-text 200, as a gateway's own health check would.
    let health = ProbeRequest::new(echo.http_addrs()[0], "/health");
    let res = send(&health).await.unwrap();
    compare(&none, &health, &res).expect("no echo reply, as asked");
    let m = compare(&Expectation::default(), &health, &res)
        .unwrap_err()
        .to_string();
    assert!(
        m.starts_with(
            "echo reply: expected an echo reply from a backend, got a body that is not \
             application/json (if the gateway itself answers, say `backend: none` or check \
             `body`/`bodyContains`)"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn status_distributions_are_sampled_like_weights() {
    let echo = start_replica("infra-backend-v1", 158, None).await;
    let req = ProbeRequest::new(echo.http_addrs()[0], "/status/503");
    let check = Expectation {
        statuses: vec![200, 503],
        ..Expectation::default()
    };
    let mut sampling = WeightSampling::new(BTreeMap::new());
    sampling.samples = 40;
    sampling.statuses = [(503, 1.0)].into();
    sample_weights(&req, &check, &sampling)
        .await
        .expect("every reply is a 503");
    sampling.statuses = [(200, 0.5), (503, 0.5)].into();
    sampling.attempts = 1;
    let m = sample_weights(&req, &check, &sampling)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("status 200 received no traffic")
            && m.contains("status 503 got 1.000, expected 0.500"),
        "{m}"
    );
}

/// A server that answers one WebSocket handshake its own way: with `accept_right` the right
/// `Sec-WebSocket-Accept`, then it answers the first message with `reply`.
async fn fake_websocket(n: u8, accept_right: bool, reply: &'static [u8]) -> std::net::SocketAddr {
    use base64::Engine as _;
    let listener = tokio::net::TcpListener::bind((replica_ip(n), 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("sec-websocket-key: ")
                    .or_else(|| l.strip_prefix("Sec-Websocket-Key: "))
            })
            .unwrap_or_default()
            .trim()
            .to_owned();
        let digest = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
        );
        let accept = if accept_right {
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        } else {
            "bm90IHRoZSByaWdodCBrZXk=".to_owned()
        };
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        // Skip the client's frame (masked, short), then answer with an unmasked text frame.
        let mut frame_head = [0u8; 2];
        if stream.read_exact(&mut frame_head).await.is_ok() {
            let len = usize::from(frame_head[1] & 0x7F);
            let mut rest = vec![0u8; 4 + len];
            let _ = stream.read_exact(&mut rest).await;
            let mut out = vec![0x81, reply.len() as u8];
            out.extend_from_slice(reply);
            let _ = stream.write_all(&out).await;
        }
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    });
    addr
}

#[tokio::test]
async fn a_wrong_websocket_handshake_or_echo_fails() {
    let exp = Expectation {
        statuses: vec![101],
        ..Expectation::default()
    };
    for (n, accept_right, reply, wanted) in [
        (
            159,
            false,
            &b"ignored"[..],
            "websocket: expected the probe's message echoed back, got Sec-WebSocket-Accept should be",
        ),
        (
            160,
            true,
            &b"something else"[..],
            "websocket: expected the probe's message echoed back, got sent text \"gatesim websocket probe-",
        ),
    ] {
        let addr = fake_websocket(n, accept_right, reply).await;
        let mut req = ProbeRequest::new(addr, "/ws");
        req.upgrade = Some(Upgrade::Websocket);
        let res = send(&req).await.unwrap();
        let m = compare(&exp, &req, &res).unwrap_err().to_string();
        assert!(m.starts_with(wanted), "{m}");
    }
}
