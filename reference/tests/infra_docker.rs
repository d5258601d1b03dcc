//! `--infra docker`, live: the controller with the file provider runs the Gateway's Envoy as a
//! container of the image `ci/images` builds, traffic reaches a real backend through it, a
//! container killed with `docker kill` is replaced, and shutdown leaves no container behind.
//! Skips loudly without Docker or the image, unless `GATESIM_REQUIRE_ALL=1`.

mod e2e_support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e_support::{Backend, Call, HTTP_GATEWAY, WAIT, endpoint_slice, expect, gateway_addr};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::docker::{self, DockerConfig, LABEL_WORK_DIR};
use gatesim_reference::infra::host::{HostConfig, HostInfra, ProxyState};
use gatesim_reference::model::{ControllerConfig, ObjectKey};

/// Containers (running or not) labelled with `work_dir`, as `docker ps -a` lists them.
fn containers_of(work_dir: &Path) -> Result<Vec<String>> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("label={LABEL_WORK_DIR}={}", work_dir.display()))
        .output()
        .context("running docker ps")?;
    ensure!(
        out.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

fn docker_kill(id: &str) -> Result<()> {
    let out = std::process::Command::new("docker")
        .args(["kill", id])
        .output()
        .context("running docker kill")?;
    ensure!(
        out.status.success(),
        "docker kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_in_a_container_serves_restarts_and_goes_away() -> Result<()> {
    if !docker::image_or_skip("--infra docker live test", docker::DEFAULT_IMAGE).await? {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config)?;
    let backend = Backend::start("docker-backend", "127.0.43.1", 0).await?;
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
                 metadata: {name: r, namespace: default}\n\
                 spec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: web, port: 8080}]}]\n";
    std::fs::write(config.join("gateway.yaml"), HTTP_GATEWAY)?;
    std::fs::write(config.join("route.yaml"), route)?;
    std::fs::write(
        config.join("service.yaml"),
        endpoint_slice("web", &[&backend]),
    )?;

    let work = dir.path().join("proxies");
    let mut host = HostConfig::new("envoy".into(), "127.0.0.1:0".parse()?, work.clone());
    host.log_level = "info".to_string();
    host.health_interval = Some(Duration::from_millis(500));
    let controller = Controller::start(ControllerOptions {
        source: Source::File(config),
        infra: Infra::Docker(Box::new(host), DockerConfig::default()),
        xds_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        config: ControllerConfig::default(),
        address_network: 43,
        envoy: None,
    })
    .await?;

    let ip = gateway_addr(&controller).await?;
    let http = SocketAddr::new(ip, 80);
    let served = |r: &e2e_support::Reply| {
        r.status == 200 && r.backend().as_deref() == Some("docker-backend")
    };
    expect(
        http,
        Call::get("x", "/"),
        served,
        "traffic through the container",
    )
    .await?;

    let infra = controller.infra().context("the controller runs proxies")?;
    let gateway = ObjectKey::new("default", "gw");
    let first = infra.proxy(&gateway).context("the Gateway's proxy")?;
    let first_id = first.container.clone().context("a container id")?;
    ensure!(
        first.pid.is_none(),
        "a container has no host pid: {first:?}"
    );
    ensure!(
        containers_of(&work)? == vec![first_id[..12].to_string()],
        "docker ps lists exactly the proxy's container"
    );
    // Envoy's log is in the mounted proxy directory, written from inside the container.
    let log = std::fs::read_to_string(first.dir.join("envoy.log"))?;
    ensure!(log.contains("initializing epoch 0"), "envoy.log: {log}");

    docker_kill(&first_id)?;
    let restarted = infra
        .wait_until(&gateway, WAIT, |p| {
            p.restarts >= 1
                && p.state == ProxyState::Running
                && p.container.as_ref().is_some_and(|c| *c != first_id)
        })
        .await?;
    ensure!(
        restarted
            .last_exit
            .as_deref()
            .is_some_and(|e| e.contains("status 137")),
        "the death is reported: {restarted:?}"
    );
    expect(
        http,
        Call::get("x", "/"),
        served,
        "traffic after the restart",
    )
    .await?;
    let ids = containers_of(&work)?;
    ensure!(
        ids.len() == 1
            && restarted
                .container
                .as_deref()
                .is_some_and(|c| c.starts_with(&ids[0])),
        "the killed container was removed and one replaced it: {ids:?}"
    );

    controller.shutdown().await;
    let left = containers_of(&work)?;
    ensure!(left.is_empty(), "containers left after shutdown: {left:?}");
    Ok(())
}

#[tokio::test]
async fn a_missing_image_says_to_build_it() -> Result<()> {
    if !docker::image_or_skip("--infra docker image check", docker::DEFAULT_IMAGE).await? {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let host = HostConfig::new("envoy".into(), "127.0.0.1:1".parse()?, dir.path().into());
    let missing = DockerConfig {
        image: "gatesim/no-such-envoy:0".to_string(),
    };
    let err = match HostInfra::with_docker(host, &missing).await {
        Ok(_) => anyhow::bail!("an image that does not exist was accepted"),
        Err(e) => e.to_string(),
    };
    ensure!(
        err.contains("gatesim/no-such-envoy:0") && err.contains("ci/images"),
        "{err}"
    );
    Ok(())
}
