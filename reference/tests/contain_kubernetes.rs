//! NACK containment live, with the Kubernetes provider against simkube (as the harness's sim
//! target runs it): the quarantine shows in the route's status in the API server, survives
//! the controller's own status writes, and lets every other change through.

mod cluster_support;
mod contain_support;
mod e2e_support;

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Result, ensure};
use cluster_support::Cluster;
use contain_support::{admin, backed_by_a, backreference_route, bad_regex_route, route_to, serves};
use e2e_support::{Backend, Call, HTTP_GATEWAY, Prober, endpoint_slice, expect, gateway_addr};
use gatesim_reference::controller::{Controller, ControllerOptions, Infra, Source};
use gatesim_reference::infra::{envoy, host::HostConfig};
use gatesim_reference::model::ControllerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_route_is_quarantined_through_the_api_server() -> Result<()> {
    let Some(envoy) = envoy::locate_or_skip("containment through simkube")? else {
        return Ok(());
    };
    let simkube = gatesim_simkube::SimKube::start(gatesim_simkube::Config::default()).await?;
    let client = kube::Client::try_from(kube::Config::new(simkube.url().parse()?))?;
    let cluster = Cluster {
        client: client.clone(),
    };
    let a = Backend::start("a-0", "127.0.75.1", 0).await?;
    let b = Backend::start("b-0", "127.0.75.2", 0).await?;
    cluster.apply(HTTP_GATEWAY).await?;
    cluster.apply(&endpoint_slice("a", &[&a])).await?;
    cluster.apply(&endpoint_slice("b", &[&b])).await?;
    cluster.apply(&route_to("one", "a")).await?;
    cluster.apply(&route_to("two", "b")).await?;

    let work = tempfile::tempdir()?;
    let controller = Controller::start(ControllerOptions {
        source: Source::Kubernetes(client),
        infra: Infra::Host(Box::new(HostConfig::new(
            envoy,
            "127.0.0.1:0".parse()?,
            work.path().to_path_buf(),
        ))),
        xds_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        config: ControllerConfig {
            validate_inputs: false,
            ..ControllerConfig::default()
        },
        address_network: 75,
        envoy: None,
    })
    .await?;
    let http = SocketAddr::new(gateway_addr(&controller).await?, 80);
    serves(http, "one.example.com", "a-0").await?;
    serves(http, "two.example.com", "b-0").await?;
    cluster.gateway_programmed().await?;
    let prober = Prober::start(
        http,
        vec![(Call::get("one.example.com", "/"), "a-0".into())],
    );

    let bad = backed_by_a(bad_regex_route("bad"));
    let added = Instant::now();
    cluster.apply(&bad).await?;
    let condition = cluster.quarantined(&bad, "missing ): /bad/(").await?;
    eprintln!(
        "bad route applied -> quarantined in the API server in {:.3} s",
        added.elapsed().as_secs_f64()
    );
    ensure!(
        condition["observedGeneration"] == 1,
        "the condition is about the generation that was rejected: {condition}"
    );
    let edited = Instant::now();
    cluster.apply(&route_to("two", "a")).await?;
    serves(http, "two.example.com", "a-0").await?;
    eprintln!(
        "edit of another route served {:.3} s after it was applied",
        edited.elapsed().as_secs_f64()
    );
    cluster.gateway_programmed().await?;
    // The status write moved the route's resourceVersion, not its generation: the
    // quarantine held, with no release and no second investigation.
    let metrics = admin(&controller, "/metrics").await?;
    for line in [
        "gatesim_quarantined_objects 1\n",
        "gatesim_quarantine_releases_total 0\n",
        "gatesim_containment_runs_total{outcome=\"quarantined\"} 1\n",
    ] {
        ensure!(metrics.contains(line), "{line} missing from\n{metrics}");
    }

    // The fix is tried again, served and accepted.
    let fixed = bad.replace("/bad/(", "/bad/[0-9]+");
    cluster.apply(&fixed).await?;
    expect(
        http,
        Call::get("bad.example.com", "/bad/7"),
        |r| r.status == 200 && r.backend().as_deref() == Some("a-0"),
        "the fixed route is served",
    )
    .await?;
    cluster
        .route_accepted(&fixed, "the fixed route is accepted", |c| {
            c["status"] == "True" && c["observedGeneration"] == 2
        })
        .await?;

    // Two bad routes at once.
    let worse = backed_by_a(bad_regex_route("worse"));
    // Pseudo-header names no longer pass the CRD schema; a backreference in a regex does.
    let worst = backed_by_a(backreference_route("worst"));
    cluster
        .apply(&[worse.as_str(), worst.as_str()].join("---\n"))
        .await?;
    cluster.quarantined(&worse, "missing ): /worse/(").await?;
    cluster
        .quarantined(&worst, "invalid escape sequence")
        .await?;
    cluster.gateway_programmed().await?;
    cluster.apply(&route_to("two", "b")).await?;
    serves(http, "two.example.com", "b-0").await?;

    prober.stop_all_good().await?;
    controller.shutdown().await;
    simkube.shutdown().await?;
    Ok(())
}
