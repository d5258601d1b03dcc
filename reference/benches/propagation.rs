//! Propagation: from a file change to Envoy answering the new route, through the whole
//! controller (file watch, reload, translation, xDS push, Envoy ACK), measured by polling the
//! route over real HTTP every 200 µs. Prints p50/p95/max over many changes.
//!
//! `cargo bench -p gatesim-reference --bench propagation` (GATESIM_PROPAGATION_CHANGES sets the
//! number of changes, default 100).

#[path = "../tests/e2e_support/mod.rs"]
mod e2e_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e_support::{Backend, Call, send};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::{envoy, host::HostConfig};
use gatesim_reference::model::ControllerConfig;

const SETUP: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatesim}
spec: {controllerName: gatesim.dev/reference-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatesim
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec: {ports: [{name: http, port: 8080}]}
";

fn route(i: usize) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{matches: [{{path: {{type: Exact, value: /change-{i}}}}}], backendRefs: [{{name: svc, port: 8080}}]}}]\n"
    )
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let changes: usize = std::env::var("GATESIM_PROPAGATION_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(changes))
}

async fn run(changes: usize) -> Result<()> {
    let envoy = envoy::locate().context("Envoy")?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    let backend = Backend::start("svc", "127.0.43.1", 0).await?;
    let slice = format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc-1, namespace: default, labels: {{kubernetes.io/service-name: svc}}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {}}}]\nendpoints: [{{addresses: [127.0.43.1]}}]\n",
        backend.addr.port()
    );
    std::fs::write(config.join("setup.yaml"), format!("{SETUP}---\n{slice}"))?;
    std::fs::write(config.join("route.yaml"), route(0))?;
    let controller = Controller::start(ControllerOptions {
        source: Source::File(config.clone()),
        infra: Infra::Host(Box::new(HostConfig::new(
            envoy,
            "127.0.0.1:0".parse()?,
            dir.path().join("proxies"),
        ))),
        xds_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        config: ControllerConfig::default(),
        address_network: 43,
        envoy: None,
    })
    .await?;
    let ip = loop {
        if let Some(a) = controller
            .infra()
            .and_then(|i| i.proxies().first().and_then(|p| p.address.parse().ok()))
        {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let gw = SocketAddr::new(ip, 80);
    wait_for(gw, "/change-0", Duration::from_secs(30)).await?;

    let mut samples = Vec::with_capacity(changes);
    for i in 1..=changes {
        let path = format!("/change-{i}");
        let started = Instant::now();
        std::fs::write(config.join("route.yaml"), route(i))?;
        wait_for(gw, &path, Duration::from_secs(10)).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "propagation (file change -> Envoy serves the new route), {changes} changes: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        pct(50).as_secs_f64() * 1e3,
        pct(95).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    controller.shutdown().await;
    Ok(())
}

async fn wait_for(gw: SocketAddr, path: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = send(gw, &Call::get("propagation.example.com", path)).await
            && r.status == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{path} not served within {within:?}");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}
