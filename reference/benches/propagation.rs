//! Propagation: from a file change to Envoy answering the new route, through the whole
//! controller (file watch, reload, translation, xDS push, Envoy ACK), measured by polling the
//! route over real HTTP every 200 µs. Prints p50/p95/max over many changes.
//!
//! `cargo bench -p gatesim-reference --bench propagation` (GATESIM_PROPAGATION_CHANGES sets the
//! number of changes, default 100; `GATESIM_BENCH_SMOKE=1` makes 10). Prints its figures as
//! `figure<TAB>value<TAB>target` lines too, for `ci/bench`.

#[path = "../tests/e2e_support/mod.rs"]
mod e2e_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e_support::{
    Backend, Call, HTTP_GATEWAY, endpoint_slice, gateway_addr, send, start_controller,
};
use gatesim_reference::model::ControllerConfig;

fn route(i: usize) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{matches: [{{path: {{type: Exact, value: /change-{i}}}}}], backendRefs: [{{name: svc, port: 8080}}]}}]\n"
    )
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let smoke = std::env::var("GATESIM_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let changes: usize = std::env::var("GATESIM_PROPAGATION_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 10 } else { 100 });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(changes))
}

async fn run(changes: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    let backend = Backend::start("svc", "127.0.43.1", 0).await?;
    std::fs::write(
        config.join("setup.yaml"),
        format!("{HTTP_GATEWAY}---\n{}", endpoint_slice("svc", &[&backend])),
    )?;
    std::fs::write(config.join("route.yaml"), route(0))?;
    let controller = start_controller(dir.path(), 43, ControllerConfig::default())
        .await?
        .context("Envoy is needed")?;
    let ip = gateway_addr(&controller).await?;
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
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    println!(
        "propagation, one route: file change to served p50\t{}\t< 10 ms",
        ms(pct(50))
    );
    println!(
        "propagation, one route: file change to served p95\t{}\t-",
        ms(pct(95))
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
