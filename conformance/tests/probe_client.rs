//! The probe's client and comparison against live echo replicas.

mod probe_support;

use std::net::SocketAddr;

use gatesim_conformance::certs::TestCertificate;
use gatesim_conformance::echo::TlsIdentity;
use gatesim_conformance::probe::{
    Expectation, ExpectedRedirect, ExpectedRequest, ProbeError, ProbeRequest, Scheme, compare, send,
};
use probe_support::{NAMESPACE, start_replica};

#[tokio::test]
async fn host_override_and_raw_path_reach_the_backend_unchanged() {
    let echo = start_replica("infra-backend-v1", 20, None).await;
    let addr = echo.http_addrs()[0];
    let mut req = ProbeRequest::new(addr, "/a%2Fb//c?x=1&y=%20&z");
    req.host = Some("example.com:8080".into());
    req.method = "PATCH".into();
    req.headers = vec![("Version".into(), "one".into())];
    req.body = Some(b"payload".to_vec());
    let res = send(&req).await.expect("request");
    let reply = res.echo.clone().expect("echo reply");
    assert_eq!(reply.path, "/a%2Fb//c?x=1&y=%20&z");
    assert_eq!(reply.host, "example.com:8080");
    assert_eq!(reply.method, "PATCH");
    assert_eq!(reply.headers["Version"], vec!["one".to_owned()]);
    assert_eq!(reply.headers["Content-Length"], vec!["7".to_owned()]);
    compare(&Expectation::default(), &req, &res).expect("the request itself is expected");

    // Without an override the Host is the address, with its port (not 80).
    let res = send(&ProbeRequest::new(addr, "/")).await.expect("request");
    assert_eq!(res.echo.expect("echo").host, addr.to_string());
    let on_80 = ProbeRequest::new("127.0.0.9:80".parse().unwrap(), "/");
    assert_eq!(on_80.authority(), "127.0.0.9");
    let mut on_443 = ProbeRequest::new("[::1]:443".parse().unwrap(), "/");
    on_443.scheme = Scheme::Https;
    assert_eq!(on_443.authority(), "[::1]");
}

#[tokio::test]
async fn every_request_opens_its_own_connection() {
    let echo = start_replica("infra-backend-v1", 21, None).await;
    let req = ProbeRequest::new(echo.http_addrs()[0], "/");
    for _ in 0..5 {
        assert_eq!(send(&req).await.expect("request").status, 200);
    }
    assert_eq!(echo.connections_accepted(), 5);
    assert_eq!(echo.requests_handled(), 5);
}

#[tokio::test]
async fn https_needs_the_right_ca_and_name() {
    let cert = TestCertificate::generate(
        &["*".into(), "*.org".into(), "*.wildcard.org".into()],
        false,
    )
    .expect("certificate");
    let other = TestCertificate::generate(&["example.org".into()], true).expect("certificate");
    let echo = start_replica(
        "infra-backend-v1",
        22,
        Some(TlsIdentity {
            cert_pem: cert.cert_pem.clone(),
            key_pem: cert.key_pem.clone(),
            client_ca_pem: None,
        }),
    )
    .await;
    let mut req = ProbeRequest::new(echo.tls_addrs()[0], "/");
    req.scheme = Scheme::Https;
    req.host = Some("example.org".into());
    req.trust = vec![other.ca_cert_pem.clone(), cert.ca_cert_pem.clone()];
    let res = send(&req).await.expect("trusted https");
    let tls = res.echo.expect("echo").tls.expect("tls block");
    assert_eq!(tls.server_name, "example.org");

    req.sni = Some("fourth-example.wildcard.org".into());
    send(&req).await.expect("wildcard SAN");

    req.sni = Some("example.com".into());
    let err = send(&req).await.expect_err("name not in the certificate");
    assert!(matches!(err, ProbeError::TlsHandshake { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("not valid for name \"example.com\""),
        "{err}"
    );

    req.sni = None;
    req.trust = vec![other.ca_cert_pem.clone()];
    let err = send(&req).await.expect_err("untrusted CA");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

async fn probe(
    addr: SocketAddr,
    path: &str,
) -> (ProbeRequest, gatesim_conformance::probe::ProbeResponse) {
    let req = ProbeRequest::new(addr, path);
    let res = send(&req).await.expect("request");
    (req, res)
}

#[tokio::test]
async fn mismatches_read_as_a_diff() {
    let echo = start_replica("infra-backend-v1", 23, None).await;
    let addr = echo.http_addrs()[0];
    let (req, res) = probe(addr, "/v1?x=1").await;

    let wrong_backend = Expectation {
        backend: Some("infra-backend-v2".into()),
        namespace: Some(NAMESPACE.into()),
        ..Default::default()
    };
    let text = compare(&wrong_backend, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with(
            "backend: expected a pod of \"infra-backend-v2\", got pod \"infra-backend-v1-7d9c8-00023\"\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("  request: GET http://{addr}/v1?x=1")),
        "{text}"
    );
    assert!(text.contains("  response: 200 HTTP/1.1\n"), "{text}");
    assert!(
        text.contains("    content-type: application/json\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  echo reply: pod \"infra-backend-v1-7d9c8-00023\" namespace \"{NAMESPACE}\"\n    GET /v1?x=1"
        )),
        "{text}"
    );

    let rewritten = Expectation {
        request: Some(ExpectedRequest {
            path: Some("/v2?x=1".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = compare(&rewritten, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("path: expected \"/v2?x=1\", got \"/v1?x=1\"\n"),
        "{text}"
    );

    let headers = Expectation {
        request: Some(ExpectedRequest {
            headers: vec![("x-added".into(), "value".into())],
            absent_headers: vec!["user-agent".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = compare(&headers, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("request header x-added: expected \"value\", got absent\n"),
        "{text}"
    );
    let absent_only = Expectation {
        request: Some(ExpectedRequest {
            absent_headers: vec!["user-agent".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = compare(&absent_only, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("request header user-agent: expected absent, got \"gatesim-probe/"),
        "{text}"
    );

    let response_header = Expectation {
        headers: vec![("X-Content-Type-Options".into(), "sniff".into())],
        ..Default::default()
    };
    let text = compare(&response_header, &req, &res)
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(
            "response header X-Content-Type-Options: expected \"sniff\", got \"nosniff\"\n"
        ),
        "{text}"
    );

    let (req, res) = probe(addr, "/status/404").await;
    let text = compare(&Expectation::default(), &req, &res)
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("status: expected one of [200], got 404\n"),
        "{text}"
    );
    assert!(text.contains("  body (0 bytes): \"\"\n"), "{text}");
    let either = Expectation {
        statuses: vec![404, 500],
        ..Default::default()
    };
    compare(&either, &req, &res).expect("404 is allowed");

    let (req, res) = probe(addr, "/health").await;
    let text = compare(&Expectation::default(), &req, &res)
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(
            "echo reply: expected an echo reply from a backend, got a body that is not \
             application/json (if the gateway itself answers, say `backend: none` or check \
             `body`/`bodyContains`)\n"
        ),
        "{text}"
    );
    let direct = Expectation {
        body: Some("OK".into()),
        ..Default::default()
    };
    compare(&direct, &req, &res).expect("a direct response is checked by its body");
    let contains = Expectation {
        body_contains: Some("NO".into()),
        ..Default::default()
    };
    let text = compare(&contains, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("body: expected to contain \"NO\", got \"OK\"\n"),
        "{text}"
    );
}

#[tokio::test]
async fn timeouts_are_equivalent_and_redirects_are_compared() {
    let echo = start_replica("infra-backend-v1", 24, None).await;
    let addr = echo.http_addrs()[0];

    let (req, res) = probe(addr, "/status/504").await;
    let timeout = Expectation {
        statuses: vec![408],
        ..Default::default()
    };
    compare(&timeout, &req, &res).expect("504 counts as 408");

    // echo-basic redirects "/status" to "/status/" (Go's ServeMux), a relative Location.
    let (req, res) = probe(addr, "/status?keep=1").await;
    let redirect = Expectation {
        statuses: vec![301],
        redirect: Some(ExpectedRedirect {
            path: Some("/status/".into()),
            host: Some(addr.ip().to_string()),
            port: Some(addr.port()),
            ..Default::default()
        }),
        ..Default::default()
    };
    compare(&redirect, &req, &res).expect("redirect matches");

    let elsewhere = Expectation {
        statuses: vec![301],
        redirect: Some(ExpectedRedirect {
            path: Some("/elsewhere".into()),
            port: Some(addr.port()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = compare(&elsewhere, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("redirect path: expected \"/elsewhere\", got \"/status/\"\n"),
        "{text}"
    );
    assert!(text.contains("    location: /status/?keep=1\n"), "{text}");

    // An unset port accepts only none or the scheme's default; this one has the listener's.
    let default_port = Expectation {
        statuses: vec![301],
        redirect: Some(ExpectedRedirect::default()),
        ..Default::default()
    };
    let text = compare(&default_port, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!(
            "redirect port: expected none or 80 for http, got \"{}\"\n",
            addr.port()
        )),
        "{text}"
    );
    let wrong_scheme = Expectation {
        statuses: vec![301],
        redirect: Some(ExpectedRedirect {
            scheme: Some("https".into()),
            port: Some(addr.port()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = compare(&wrong_scheme, &req, &res).unwrap_err().to_string();
    assert!(
        text.starts_with("redirect scheme: expected \"https\", got \"http\"\n"),
        "{text}"
    );
}

#[tokio::test]
async fn transport_failures_are_errors_not_responses() {
    // Nothing listens here: a refused connection.
    let closed = tokio::net::TcpListener::bind("127.0.20.25:0")
        .await
        .unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = send(&ProbeRequest::new(addr, "/"))
        .await
        .expect_err("refused");
    assert!(matches!(err, ProbeError::Connect { .. }), "{err}");

    // A server that accepts and never answers: the request timeout applies.
    let silent = tokio::net::TcpListener::bind("127.0.20.25:0")
        .await
        .unwrap();
    let mut req = ProbeRequest::new(silent.local_addr().unwrap(), "/");
    req.timeout = std::time::Duration::from_millis(200);
    let err = send(&req).await.expect_err("timeout");
    assert!(matches!(err, ProbeError::Timeout { .. }), "{err}");
    drop(silent);

    let mut bad = ProbeRequest::new(addr, "/a b");
    bad.method = "GET".into();
    let err = send(&bad).await.expect_err("invalid path");
    assert!(
        err.to_string()
            .starts_with("invalid request: path \"/a b\""),
        "{err}"
    );
}
