//! The echo backend against the echo-basic reply format, over real sockets.

mod probe_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatesim_conformance::certs::TestCertificate;
use gatesim_conformance::echo::{EchoConfig, EchoError, EchoServer, TlsIdentity};
use gatesim_conformance::probe::{ProbeRequest, Protocol, Scheme, send};
use probe_support::{NAMESPACE, replica_ip, start_replica};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes and returns (head, body) of the reply, read until the server closes.
async fn raw_exchange(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("reply within 5 s")
        .expect("read");
    let text = String::from_utf8(buf).expect("utf-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("header/body separator");
    (head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn reply_is_byte_for_byte_echo_basic() {
    let echo = start_replica("infra-backend-v1", 1, None).await;
    let addr = echo.http_addrs()[0];
    let (head, body) = raw_exchange(
        addr,
        "GET /foo%2Fbar?x=1&y=%3C HTTP/1.1\r\nHost: example.com\r\nuser-agent: raw/1\r\n\
         X-Multi: a\r\nx-multi: b\r\nX-Html: <&>\r\nConnection: close\r\n\r\n",
    )
    .await;
    // The shape of upstream's RequestAssertions marshalled with MarshalIndent(v, "", " "):
    // struct field order, sorted canonical header names, HTML-escaped strings, no tls block.
    let expected = format!(
        "{{\n \"path\": \"/foo%2Fbar?x=1\\u0026y=%3C\",\n \"host\": \"example.com\",\n \
         \"method\": \"GET\",\n \"proto\": \"HTTP/1.1\",\n \"headers\": {{\n  \
         \"Connection\": [\n   \"close\"\n  ],\n  \"User-Agent\": [\n   \"raw/1\"\n  ],\n  \
         \"X-Html\": [\n   \"\\u003c\\u0026\\u003e\"\n  ],\n  \"X-Multi\": [\n   \"a\",\n   \"b\"\n  ]\n \
         }},\n \"httpPort\": \"{}\",\n \"namespace\": \"{NAMESPACE}\",\n \"ingress\": \"\",\n \
         \"service\": \"infra-backend-v1\",\n \"pod\": \"infra-backend-v1-7d9c8-00001\"\n}}",
        addr.port()
    );
    assert_eq!(body, expected);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/json\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{head}"
    );
}

#[tokio::test]
async fn h2c_prior_knowledge_and_http1_share_a_port() {
    let echo = start_replica("infra-backend-v1", 2, None).await;
    let mut req = ProbeRequest::new(echo.http_addrs()[0], "/h2c?q");
    req.protocol = Protocol::H2c;
    req.host = Some("h2c.example.com".into());
    let res = send(&req).await.expect("h2c request");
    assert_eq!(res.proto, "HTTP/2.0");
    let reply = res.echo.expect("echo reply");
    assert_eq!(reply.proto, "HTTP/2.0");
    assert_eq!(reply.host, "h2c.example.com");
    assert_eq!(reply.path, "/h2c?q");
    assert!(!reply.headers.contains_key("Host"), "{:?}", reply.headers);
    assert_eq!(reply.headers["X-Echo-Set-Header"], vec![String::new()]);

    req.protocol = Protocol::Http1;
    let res = send(&req).await.expect("HTTP/1.1 request");
    assert_eq!(res.echo.expect("echo reply").proto, "HTTP/1.1");
}

#[tokio::test]
async fn tls_reports_sni_alpn_version_and_client_certificate() {
    let cert = TestCertificate::generate(&["*.example.com".into(), "abc.example.com".into()], true)
        .expect("certificate");
    let client = cert
        .issue_client_certificate("probe")
        .expect("client certificate");
    let echo = EchoServer::start(EchoConfig {
        ip: replica_ip(3),
        ports: vec![0],
        tls_ports: vec![0],
        tls: Some(TlsIdentity {
            cert_pem: cert.cert_pem.clone(),
            key_pem: cert.key_pem.clone(),
            client_ca_pem: Some(cert.ca_cert_pem.clone()),
        }),
        pod: "tls-backend-1-2".into(),
        namespace: NAMESPACE.into(),
        ..Default::default()
    })
    .await
    .expect("TLS replica starts");

    let mut req = ProbeRequest::new(echo.tls_addrs()[0], "/");
    req.scheme = Scheme::Https;
    req.protocol = Protocol::H2;
    req.host = Some("abc.example.com".into());
    req.trust = vec![cert.ca_cert_pem.clone()];
    let res = send(&req).await.expect("h2 over TLS");
    let reply = res.echo.expect("echo reply");
    assert_eq!(reply.proto, "HTTP/2.0");
    let tls = reply.tls.expect("tls block");
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.server_name, "abc.example.com");
    assert_eq!(tls.negotiated_protocol, "h2");
    assert!(
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
        .contains(&tls.cipher_suite.as_str()),
        "{}",
        tls.cipher_suite
    );
    assert!(tls.peer_certificates.is_empty());

    // HTTP/1.1 without ALPN, a wildcard name, and a client certificate.
    req.protocol = Protocol::Http1;
    req.sni = Some("other.example.com".into());
    req.client_identity = Some(client.clone());
    let res = send(&req).await.expect("HTTP/1.1 over TLS");
    let body = String::from_utf8(res.body.to_vec()).expect("utf-8");
    assert!(!body.contains("negotiatedProtocol"), "{body}");
    let tls = res.echo.expect("echo reply").tls.expect("tls block");
    assert_eq!(tls.server_name, "other.example.com");
    let strip = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(tls.peer_certificates.len(), 1);
    assert_eq!(strip(&tls.peer_certificates[0]), strip(&client.cert_pem));
    assert!(tls.peer_certificates[0].ends_with("-----END CERTIFICATE-----\n"));
}

#[tokio::test]
async fn routes_status_health_delay_and_set_header() {
    let echo = start_replica("infra-backend-v1", 4, None).await;
    let addr = echo.http_addrs()[0];
    let get = |path: &str| ProbeRequest::new(addr, path);

    let res = send(&get("/status/418")).await.expect("status");
    assert_eq!(res.status, 418);
    assert!(res.body.is_empty());
    assert_eq!(
        send(&get("/status/418?x")).await.expect("status").status,
        400
    );
    assert_eq!(send(&get("/status/abc")).await.expect("status").status, 400);

    let res = send(&get("/health")).await.expect("health");
    assert_eq!((res.status, &res.body[..]), (200, &b"OK"[..]));

    let mut req = get("/?delay=200ms");
    req.backend_set_headers = vec![
        ("X-Header-Set".into(), "set".into()),
        ("X-Multi".into(), "1".into()),
        ("X-Multi".into(), " 2".into()),
    ];
    let started = Instant::now();
    let res = send(&req).await.expect("delayed echo");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["x-header-set"], "set");
    assert_eq!(res.headers["x-multi"], "1,2");
    assert_eq!(
        res.echo.expect("echo").headers["X-Echo-Set-Header"],
        vec!["X-Header-Set:set,X-Multi:1,X-Multi: 2".to_owned()]
    );

    let res = send(&get("/?delay=soon")).await.expect("bad delay");
    assert_eq!(res.status, 500);
    assert_eq!(
        &res.body[..],
        br#"{"message":"time: invalid duration \"soon\""}"#
    );
    // Only echoed requests are remembered (echo-basic logs them; mirroring checks read it).
    let seen: Vec<String> = echo.seen_requests().into_iter().map(|r| r.path).collect();
    assert_eq!(seen, vec!["/?delay=200ms", "/?delay=soon"]);
}

#[tokio::test]
async fn unclean_paths_redirect_like_go_serve_mux() {
    let echo = start_replica("infra-backend-v1", 5, None).await;
    let addr = echo.http_addrs()[0];
    for (path, location) in [
        ("/a/./b/../c?x=1", "/a/c?x=1"),
        ("/status", "/status/"),
        ("/x/..", "/"),
    ] {
        let res = send(&ProbeRequest::new(addr, path)).await.expect("request");
        assert_eq!(res.status, 301, "{path}");
        assert_eq!(res.headers["location"], location, "{path}");
    }
    // Double slashes are folded before routing, not redirected; the echo keeps them.
    let res = send(&ProbeRequest::new(addr, "//double//slash"))
        .await
        .expect("request");
    assert_eq!(res.status, 200);
    assert_eq!(res.echo.expect("echo").path, "//double//slash");
}

#[tokio::test]
async fn retry_fails_then_echoes() {
    let echo = start_replica("infra-backend-v1", 6, None).await;
    let addr = echo.http_addrs()[0];
    let path = "/retry/?uuid=u1&succeedAfter=2&responseCode=503";
    let statuses: Vec<u16> = futures_statuses(addr, path, 3).await;
    assert_eq!(statuses, vec![503, 503, 200]);

    // Default failure mode: the connection is reset, no response at all.
    let req = ProbeRequest::new(addr, "/retry/?uuid=u2&succeedAfter=1");
    let err = send(&req).await.expect_err("connection reset");
    assert!(
        err.to_string().contains("Connection reset by peer"),
        "{err}"
    );
    assert_eq!(send(&req).await.expect("then success").status, 200);
}

async fn futures_statuses(addr: SocketAddr, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            send(&ProbeRequest::new(addr, path))
                .await
                .expect("request")
                .status,
        );
    }
    out
}

#[tokio::test]
async fn shutdown_frees_the_port_and_config_errors_are_clear() {
    let echo = start_replica("infra-backend-v1", 7, None).await;
    let addr = echo.http_addrs()[0];
    echo.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err(), "port still open");
    // The same address can be bound again at once (a replica restarted in place).
    let again = EchoServer::start(EchoConfig {
        ip: addr.ip(),
        ports: vec![addr.port()],
        pod: "p-1-2".into(),
        ..Default::default()
    })
    .await
    .expect("rebind");
    assert_eq!(again.http_addrs(), &[addr]);

    let err = EchoServer::start(EchoConfig {
        ip: addr.ip(),
        ports: vec![addr.port()],
        pod: "dup-1-2".into(),
        ..Default::default()
    })
    .await
    .err()
    .expect("port in use");
    assert!(matches!(err, EchoError::Bind { .. }), "{err}");
    let err = EchoServer::start(EchoConfig {
        tls_ports: vec![0],
        pod: "no-cert".into(),
        ..Default::default()
    })
    .await
    .err()
    .expect("TLS port without identity");
    assert_eq!(
        err.to_string(),
        "echo replica \"no-cert\" has TLS ports but no TLS identity"
    );
}
