//! GatewayParameters on the host infrastructure, live: `kube.deployment.replicas` Envoy
//! processes serve the Gateway's one address (each takes a share of new connections), with
//! the parameters' log levels; fewer replicas stop the extra processes and keep the others;
//! parameters that turn invalid make the Gateway InvalidParameters and take no process down
//! half-way. The Gateway's `spec.infrastructure.parametersRef` does the same as the annotation,
//! and wins over it where both set a value.

mod e2e_support;

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use e2e_support::{
    Backend, Call, HTTP_GATEWAY, WAIT, endpoint_slice, eventually, expect, send, start_controller,
};
use gatesim_reference::controller::Controller;
use gatesim_reference::infra::{ProxyInfo, admin};
use gatesim_reference::model::ControllerConfig;

const ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: a, port: 8080}]}]
";

fn parameters(replicas: u32, level: &str) -> String {
    named_parameters("gw-params", replicas, level)
}

fn named_parameters(name: &str, replicas: u32, level: &str) -> String {
    format!(
        "apiVersion: gateway.gloo.solo.io/v1alpha1
kind: GatewayParameters
metadata: {{name: {name}, namespace: default}}
spec:
  kube:
    deployment: {{replicas: {replicas}}}
    envoyContainer:
      bootstrap:
        logLevel: {level}
        componentLogLevels: {{upstream: trace}}
"
    )
}

/// The Gateway of `HTTP_GATEWAY`, naming its GatewayParameters.
fn gateway_with_parameters() -> String {
    HTTP_GATEWAY.replace(
        "metadata: {name: gw, namespace: default}",
        "metadata:\n  name: gw\n  namespace: default\n  annotations: {gateway.gloo.solo.io/gateway-parameters-name: gw-params}",
    )
}

/// The Gateway of `HTTP_GATEWAY` naming `by-ref` in `spec.infrastructure.parametersRef`, and
/// `gw-params` in the annotation.
fn gateway_with_both(reference: &str) -> String {
    gateway_with_parameters().replace(
        "spec:\n",
        &format!(
            "spec:\n  infrastructure:\n    parametersRef: {{group: gateway.gloo.solo.io, kind: GatewayParameters, name: {reference}}}\n"
        ),
    )
}

/// The Gateway's Accepted condition once its reason is `reason`.
async fn accepted_with(controller: &Controller, reason: &str) -> Result<serde_json::Value> {
    eventually(WAIT, &format!("the Gateway reports {reason}"), || async {
        let statuses = controller.state().statuses();
        let gateway = statuses
            .iter()
            .find(|s| s["kind"] == "Gateway")
            .cloned()
            .context("Gateway status")?;
        let accepted = gateway["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Accepted").cloned());
        Ok(accepted.filter(|c| c["reason"] == reason))
    })
    .await
}

/// The route answers through the Gateway's address, from backend `a-0`.
async fn serves_a0(http: SocketAddr) -> Result<()> {
    expect(
        http,
        Call::get("any.example.com", "/"),
        |r| r.backend().as_deref() == Some("a-0"),
        "the route serves through the Gateway's address",
    )
    .await?;
    Ok(())
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    std::fs::write(dir.join("config").join(name), text).context(name.to_owned())
}

/// The Gateway's processes, once there are `n` of them running.
async fn replicas(controller: &Controller, n: usize) -> Result<Vec<ProxyInfo>> {
    eventually(WAIT, &format!("{n} running proxies"), || async {
        let proxies = controller.infra().context("host infra")?.proxies();
        let running = proxies.iter().all(|p| {
            p.admin_address.is_some() && p.state == gatesim_reference::infra::ProxyState::Running
        });
        Ok((proxies.len() == n && running).then_some(proxies))
    })
    .await
}

/// Requests handled by one Envoy so far (all its HTTP connection managers).
async fn handled(p: &ProxyInfo) -> Result<u64> {
    let admin = p.admin_address.context("admin address")?;
    let stats = admin::get(admin, "/stats?filter=downstream_rq_total$").await?;
    Ok(stats
        .body
        .lines()
        .filter(|l| l.starts_with("http.") && !l.starts_with("http.admin."))
        .filter_map(|l| l.rsplit(": ").next()?.trim().parse::<u64>().ok())
        .sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_and_log_levels_on_the_host() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("config"))?;
    let a = Backend::start("a-0", "127.0.76.201", 0).await?;
    write(dir.path(), "gateway.yaml", &gateway_with_parameters())?;
    write(dir.path(), "params.yaml", &parameters(3, "debug"))?;
    write(dir.path(), "route.yaml", ROUTE)?;
    write(dir.path(), "backend.yaml", &endpoint_slice("a", &[&a]))?;
    let Some(controller) = start_controller(dir.path(), 76, ControllerConfig::default()).await?
    else {
        return Ok(());
    };

    let three = replicas(&controller, 3).await?;
    let address = &three[0].address;
    ensure!(
        three.iter().all(|p| &p.address == address),
        "one address for every replica: {three:?}"
    );
    for p in &three {
        let logging = admin::post(p.admin_address.context("admin")?, "/logging").await?;
        for level in ["  main: debug", "  upstream: trace"] {
            ensure!(
                logging.body.contains(level),
                "replica {}: {level:?} missing from /logging:\n{}",
                p.replica,
                logging.body
            );
        }
    }

    // Every replica takes a share of new connections (the kernel spreads them over the
    // listeners sharing the port); 60 fresh connections leave none out but by a chance of
    // 3 * (2/3)^60.
    let http = SocketAddr::new(address.parse()?, 80);
    serves_a0(http).await?;
    for _ in 0..60 {
        let reply = send(http, &Call::get("any.example.com", "/")).await?;
        ensure!(reply.backend().as_deref() == Some("a-0"), "{reply:?}");
    }
    for p in &three {
        let n = handled(p).await?;
        ensure!(n > 0, "replica {} ({:?}) served nothing", p.replica, p.pid);
    }

    // One replica: the first keeps running, the others stop.
    write(dir.path(), "params.yaml", &parameters(1, "debug"))?;
    let one = replicas(&controller, 1).await?;
    ensure!(
        one[0].replica == 0 && one[0].pid == three[0].pid,
        "the first replica was kept: {one:?} (was {:?})",
        three[0].pid
    );

    // Invalid parameters: the Gateway is not accepted, and says why.
    write(dir.path(), "params.yaml", &parameters(1, "shouting"))?;
    let status = accepted_with(&controller, "InvalidParameters").await?;
    ensure!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.kube.envoyContainer.bootstrap.logLevel")),
        "{status}"
    );
    controller.shutdown().await;
    Ok(())
}

/// `spec.infrastructure.parametersRef` over the annotation: its replicas win; a reference to
/// nothing makes the Gateway InvalidParameters naming the field, with no proxy (the host
/// runs none for a Gateway that is not accepted); naming an object again applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_parameters_ref_on_the_host() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("config"))?;
    let a = Backend::start("a-0", "127.0.77.201", 0).await?;
    write(dir.path(), "gateway.yaml", &gateway_with_both("by-ref"))?;
    write(dir.path(), "params.yaml", &parameters(3, "info"))?;
    write(
        dir.path(),
        "by-ref.yaml",
        &named_parameters("by-ref", 2, "info"),
    )?;
    write(dir.path(), "route.yaml", ROUTE)?;
    write(dir.path(), "backend.yaml", &endpoint_slice("a", &[&a]))?;
    let Some(controller) = start_controller(dir.path(), 77, ControllerConfig::default()).await?
    else {
        return Ok(());
    };

    let two = replicas(&controller, 2).await?;
    accepted_with(&controller, "Accepted").await?;
    let http = SocketAddr::new(two[0].address.parse()?, 80);
    serves_a0(http).await?;

    write(dir.path(), "gateway.yaml", &gateway_with_both("missing"))?;
    let status = accepted_with(&controller, "InvalidParameters").await?;
    ensure!(
        status["message"].as_str().is_some_and(|m| m.contains(
            "spec.infrastructure.parametersRef: GatewayParameters default/missing not found"
        )),
        "{status}"
    );
    // Not accepted: on this host the Gateway has no proxy at all, never one deployed with
    // part of its parameters.
    replicas(&controller, 0).await?;

    write(
        dir.path(),
        "missing.yaml",
        &named_parameters("missing", 1, "info"),
    )?;
    replicas(&controller, 1).await?;
    accepted_with(&controller, "Accepted").await?;
    controller.shutdown().await;
    Ok(())
}
