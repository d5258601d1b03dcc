//! Live end to end: the file provider, the controller, one real Envoy per Gateway started by
//! the host infrastructure, and real HTTP backends on loopback. Every request goes through
//! Envoy over a real socket.

mod e2e_support;

use std::net::SocketAddr;

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use e2e_support::{
    Backend, Call, HTTP_GATEWAY, Reply, WAIT, endpoint_slice, eventually, expect, gateway_addr,
    send, send_tls, start_controller, wait_acked,
};
use gatesim_reference::model::ControllerConfig;

/// Replicas of one Service: the same port on different loopback addresses, as in a cluster.
async fn replicas(name: &str, ips: &[&str]) -> Result<Vec<Backend>> {
    let first = Backend::start(&format!("{name}-0"), ips[0], 0).await?;
    let port = first.addr.port();
    let mut out = vec![first];
    for (i, ip) in ips.iter().enumerate().skip(1) {
        out.push(Backend::start(&format!("{name}-{i}"), ip, port).await?);
    }
    Ok(out)
}

const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatesim}
spec: {controllerName: gatesim.dev/reference-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatesim
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: secure.example.com
    tls: {certificateRefs: [{name: secure-cert}]}
"#;

const ROUTES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matching, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [match.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs: [{name: v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /prefix/deeper}}]
    backendRefs: [{name: v3, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: v3, port: 8080}]
  - matches: [{path: {value: /query}, queryParams: [{name: q, value: x}]}]
    backendRefs: [{name: v2, port: 8080}]
  - matches: [{path: {value: /method}, method: POST}]
    backendRefs: [{name: v3, port: 8080}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: v2, port: 8080}]
  - matches: [{path: {value: /invalid}}]
    backendRefs: [{name: does-not-exist, port: 8080}]
  - matches: [{path: {value: /half-invalid}}]
    backendRefs: [{name: v1, port: 8080, weight: 1}, {name: does-not-exist, port: 8080, weight: 1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: newer, namespace: default, creationTimestamp: "2026-02-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [match.example.com]
  rules: [{matches: [{path: {value: /same}}], backendRefs: [{name: v3, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: older, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [match.example.com]
  rules: [{matches: [{path: {value: /same}}], backendRefs: [{name: v1, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: features, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [features.example.com]
  rules:
  - matches: [{path: {value: /weights}}]
    backendRefs: [{name: v1, port: 8080, weight: 80}, {name: v2, port: 8080, weight: 20}]
  - matches: [{path: {value: /redirect}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, port: 8443, statusCode: 301}}]
  - matches: [{path: {value: /redirect-path}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /moved}}}]
  - matches: [{path: {value: /rewrite}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
    backendRefs: [{name: v2, port: 8080}]
  - matches: [{path: {value: /headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-set, value: set-value}]
        add: [{name: x-add, value: added}]
        remove: [x-remove]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: x-response, value: from-gateway}]
    backendRefs: [{name: v3, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: https}]
  rules: [{backendRefs: [{name: v1, port: 8080}]}]
"#;

fn tls_secret() -> Result<(String, String)> {
    let key = rcgen::KeyPair::generate()?;
    let cert =
        rcgen::CertificateParams::new(vec!["secure.example.com".to_string()])?.self_signed(&key)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: secure-cert, namespace: default}}\ntype: kubernetes.io/tls\n\
         data: {{tls.crt: {}, tls.key: {}}}\n",
        b64.encode(cert.pem()),
        b64.encode(key.serialize_pem())
    );
    Ok((yaml, cert.pem()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_semantics_through_envoy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("config"))?;
    let v1 = replicas("v1", &["127.0.41.1", "127.0.41.2"]).await?;
    let v2 = replicas("v2", &["127.0.41.3"]).await?;
    let v3 = replicas("v3", &["127.0.41.4"]).await?;
    let (secret, ca) = tls_secret()?;
    let services = [
        endpoint_slice("v1", &v1.iter().collect::<Vec<_>>()),
        endpoint_slice("v2", &v2.iter().collect::<Vec<_>>()),
        endpoint_slice("v3", &v3.iter().collect::<Vec<_>>()),
    ]
    .join("---\n");
    let config = dir.path().join("config");
    std::fs::write(config.join("gateway.yaml"), GATEWAY)?;
    std::fs::write(config.join("routes.yaml"), ROUTES)?;
    std::fs::write(config.join("services.yaml"), services)?;
    std::fs::write(config.join("secret.yaml"), secret)?;

    let Some(controller) = start_controller(dir.path(), 41, ControllerConfig::default()).await?
    else {
        return Ok(());
    };
    let ip = gateway_addr(&controller).await?;
    let http = SocketAddr::new(ip, 80);
    let https = SocketAddr::new(ip, 443);
    let backend_is = |name: &'static str| {
        move |r: &Reply| r.status == 200 && r.backend().is_some_and(|b| b.starts_with(name))
    };
    let host = "match.example.com";

    // Matching and precedence.
    expect(
        http,
        Call::get(host, "/exact"),
        backend_is("v1"),
        "exact path",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/prefix/x"),
        backend_is("v2"),
        "prefix",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/prefix/deeper/x"),
        backend_is("v3"),
        "longest prefix",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/prefixed"),
        |r| r.status == 404,
        "element-wise prefix",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/exact").header("version", "two"),
        backend_is("v1"),
        "exact path beats a header match",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/anything").header("version", "two"),
        backend_is("v3"),
        "header match",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/query?q=x"),
        backend_is("v2"),
        "query match",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/query?q=y"),
        |r| r.status == 404,
        "query mismatch",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/method").method("POST"),
        backend_is("v3"),
        "method match",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/method"),
        |r| r.status == 404,
        "method mismatch",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/re/123"),
        backend_is("v2"),
        "regex path",
    )
    .await?;
    expect(
        http,
        Call::get(host, "/same"),
        backend_is("v1"),
        "older route wins a tie",
    )
    .await?;
    expect(
        http,
        Call::get("unknown.example.com", "/exact"),
        |r| r.status == 404,
        "unknown host",
    )
    .await?;
    expect(
        http,
        Call::get("match.example.com:8080", "/exact"),
        backend_is("v1"),
        "port in Host is ignored",
    )
    .await?;

    // Invalid backends: all of the traffic, or its weight share, gets 500.
    expect(
        http,
        Call::get(host, "/invalid"),
        |r| r.status == 500,
        "invalid backend",
    )
    .await?;
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..200 {
        match send(http, &Call::get(host, "/half-invalid")).await?.status {
            200 => ok += 1,
            500 => failed += 1,
            other => anyhow::bail!("/half-invalid answered {other}"),
        }
    }
    ensure!(
        (60..=140).contains(&failed),
        "half the weight is invalid, yet {failed}/200 got 500 ({ok} got 200)"
    );

    // Weights: 80/20 over 400 requests, and both replicas of v1 take part.
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..400 {
        let r = send(http, &Call::get("features.example.com", "/weights")).await?;
        ensure!(r.status == 200, "weights: status {}", r.status);
        *counts.entry(r.backend().unwrap_or_default()).or_default() += 1;
    }
    let v1_total: u32 = counts
        .iter()
        .filter(|(k, _)| k.starts_with("v1"))
        .map(|(_, v)| v)
        .sum();
    ensure!(
        (280..=360).contains(&v1_total),
        "expected about 80% to v1, got {counts:?}"
    );
    ensure!(
        counts.contains_key("v1-0") && counts.contains_key("v1-1"),
        "both v1 replicas serve: {counts:?}"
    );

    // Redirects.
    let r = expect(
        http,
        Call::get("features.example.com", "/redirect/a?b=c"),
        |r| r.status == 301,
        "redirect",
    )
    .await?;
    ensure!(
        r.headers.get("location").map(String::as_str)
            == Some("https://example.org:8443/redirect/a?b=c"),
        "Location: {:?}",
        r.headers.get("location")
    );
    let r = expect(
        http,
        Call::get("features.example.com", "/redirect-path/x"),
        |r| r.status == 302,
        "path redirect",
    )
    .await?;
    ensure!(
        r.headers.get("location").map(String::as_str)
            == Some("http://features.example.com/moved/x"),
        "Location: {:?}",
        r.headers.get("location")
    );

    // Rewrites: the backend sees the new host and path, query kept.
    let r = expect(
        http,
        Call::get("features.example.com", "/rewrite/rest?k=v"),
        backend_is("v2"),
        "rewrite",
    )
    .await?;
    let seen = r.seen().context("echo")?;
    ensure!(seen["path"] == "/new/rest?k=v", "rewritten path: {seen}");
    ensure!(
        seen["host"] == "rewritten.example.org",
        "rewritten host: {seen}"
    );

    // Header modifiers, both directions.
    let call = Call::get("features.example.com", "/headers")
        .header("x-set", "original")
        .header("x-add", "first")
        .header("x-remove", "gone");
    let r = expect(http, call, backend_is("v3"), "header modifiers").await?;
    ensure!(
        r.seen_header("x-set").as_deref() == Some("set-value"),
        "x-set: {:?}",
        r.seen_header("x-set")
    );
    ensure!(
        r.seen_header("x-add").as_deref() == Some("first,added"),
        "x-add: {:?}",
        r.seen_header("x-add")
    );
    ensure!(r.seen_header("x-remove").is_none(), "x-remove still there");
    ensure!(
        r.headers.get("x-response").map(String::as_str) == Some("from-gateway"),
        "response header: {:?}",
        r.headers
    );

    // HTTPS termination with the Secret's certificate, selected by SNI.
    let tls_reply = eventually(WAIT, "HTTPS listener", || {
        let ca = ca.clone();
        async move {
            let r = send_tls(
                https,
                "secure.example.com",
                &ca,
                &Call::get("secure.example.com", "/"),
            )
            .await?;
            Ok((r.status == 200).then_some(r))
        }
    })
    .await?;
    ensure!(
        tls_reply.backend().is_some_and(|b| b.starts_with("v1")),
        "HTTPS goes to v1"
    );

    controller.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_take_effect_without_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    let a = replicas("a", &["127.0.42.1"]).await?;
    let b = replicas("b", &["127.0.42.2"]).await?;
    let services = [
        endpoint_slice("v1", &[&a[0]]),
        endpoint_slice("v2", &[&b[0]]),
    ]
    .join("---\n");
    std::fs::write(config.join("services.yaml"), services)?;
    std::fs::write(config.join("gateway.yaml"), HTTP_GATEWAY)?;
    let route = |path: &str, svc: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
             spec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{matches: [{{path: {{value: {path}}}}}], backendRefs: [{{name: {svc}, port: 8080}}]}}]\n"
        )
    };
    std::fs::write(config.join("route.yaml"), route("/one", "v1"))?;

    let Some(controller) = start_controller(dir.path(), 42, ControllerConfig::default()).await?
    else {
        return Ok(());
    };
    let ip = gateway_addr(&controller).await?;
    let http = SocketAddr::new(ip, 80);
    expect(
        http,
        Call::get("x", "/one"),
        |r| r.status == 200 && r.backend().as_deref() == Some("a-0"),
        "initial route",
    )
    .await?;
    // The running controller reports the Gateway Programmed once its Envoy took the config.
    eventually(WAIT, "the Gateway reports Programmed", || {
        let programmed = controller.state().translation().is_some_and(|t| {
            t.statuses.iter().any(|s| {
                s.target.kind == "Gateway"
                    && matches!(&s.patch, gatesim_reference::translate::StatusPatch::Whole(v)
                        if v["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Programmed" && c["status"] == "True")))
            })
        });
        async move { Ok(programmed.then_some(())) }
    })
    .await?;
    // The controller's own view of status carries real transition times, not the epoch.
    let statuses = controller.state().statuses();
    let gateway = statuses
        .iter()
        .find(|s| s["kind"] == "Gateway")
        .context("Gateway status")?;
    let times: Vec<&str> = gateway["status"]["conditions"]
        .as_array()
        .context("conditions")?
        .iter()
        .filter_map(|c| c["lastTransitionTime"].as_str())
        .collect();
    ensure!(
        !times.is_empty() && times.iter().all(|t| !t.starts_with("1970")),
        "transition times: {times:?}"
    );
    let pid = controller
        .infra()
        .and_then(|i| i.proxies().first().and_then(|p| p.pid));

    // An edit is served by the same Envoy.
    std::fs::write(config.join("route.yaml"), route("/two", "v2"))?;
    expect(
        http,
        Call::get("x", "/two"),
        |r| r.status == 200 && r.backend().as_deref() == Some("b-0"),
        "edited route",
    )
    .await?;
    expect(
        http,
        Call::get("x", "/one"),
        |r| r.status == 404,
        "old route gone",
    )
    .await?;
    let pid_after = controller
        .infra()
        .and_then(|i| i.proxies().first().and_then(|p| p.pid));
    ensure!(
        pid.is_some() && pid == pid_after,
        "Envoy was restarted: pid {pid:?} -> {pid_after:?}"
    );

    // A broken edit keeps the last good configuration serving and is reported.
    std::fs::write(
        config.join("route.yaml"),
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r\n",
    )?;
    eventually(WAIT, "the parse error is reported", || {
        let errors = controller.state().errors();
        async move {
            Ok(errors
                .iter()
                .any(|e| e.contains("route.yaml:"))
                .then_some(()))
        }
    })
    .await?;
    let r = send(http, &Call::get("x", "/two")).await?;
    ensure!(
        r.status == 200,
        "the last good configuration keeps serving: {}",
        r.status
    );

    // Removing the route file removes the route (and the Gateway's last cluster, after which
    // Envoy stops watching endpoints altogether)...
    std::fs::remove_file(config.join("route.yaml"))?;
    expect(
        http,
        Call::get("x", "/two"),
        |r| r.status == 404,
        "route removed",
    )
    .await?;
    // Envoy holds that configuration in full: the ACK barrier a harness waits on completes.
    wait_acked(&controller).await?;
    // ...and a route added afterwards is still served.
    std::fs::write(config.join("route.yaml"), route("/three", "v1"))?;
    expect(
        http,
        Call::get("x", "/three"),
        |r| r.status == 200 && r.backend().as_deref() == Some("a-0"),
        "a route added after the last cluster was removed",
    )
    .await?;
    controller.shutdown().await;
    Ok(())
}
