//! Faults between the controller and Envoy: an Envoy process killed with `SIGKILL` (the host
//! infrastructure's supervisor restarts it), and every xDS stream reset at once.

use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::e2e_support::WAIT;
use crate::probe::{Probe, Retry};
use crate::rig::{Options, Rig, envoy_stats_sum, gateway_key, wait_stat};

/// Two Envoy processes serve the Gateway (GatewayParameters replicas), as a Deployment's
/// replicas would; one is killed by pid. The stable route keeps answering through the
/// other, the supervisor starts a new process, and that one serves too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envoy_killed_mid_run_is_restarted_and_serves() -> Result<()> {
    let opts = Options {
        replicas: 2,
        ..Options::new(122)
    };
    let Some(rig) = Rig::start("envoy-sigkill", opts).await? else {
        return Ok(());
    };
    let before = rig.envoys();
    ensure!(before.len() == 2, "two Envoy processes: {before:?}");
    let victim = before[0].pid.context("replica 0 has a pid")?;
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::ConnectionErrors);

    let fault = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()?;
    ensure!(killed.success(), "kill -KILL {victim}: {killed}");
    let restarted = rig
        .proxies
        .wait_until(&gateway_key(), WAIT, |p| {
            p.restarts == 1 && p.admin_address.is_some() && p.pid.is_some_and(|pid| pid != victim)
        })
        .await?;
    let exit = restarted.last_exit.clone().unwrap_or_default();
    ensure!(
        exit.contains("signal: 9"),
        "the supervisor saw the process killed: {exit}"
    );
    let admin = restarted.admin_address.context("admin address")?;
    // The new process serves: it has its listener and answers some of the probe's requests.
    wait_stat(
        admin,
        "listener_manager.total_listeners_active",
        "the new Envoy has its listener",
        |v| v >= 1,
    )
    .await?;
    crate::e2e_support::eventually(WAIT, "the new Envoy answers requests", || async {
        let served = envoy_stats_sum(admin, "downstream_rq_2xx$", "http.").await?;
        Ok((served > 0).then_some(served))
    })
    .await?;
    let serving = Instant::now();
    eprintln!(
        "fault {}: {} ms from SIGKILL to the new Envoy serving",
        rig.name,
        (serving - fault).as_millis()
    );
    rig.apply_late_route().await?;
    let end = rig.converged(serving, "the new Envoy served").await?;
    probe.stop(rig.name, (fault, end)).await?;
    let other = rig.envoys()[1].clone();
    ensure!(
        other.pid == before[1].pid && other.restarts == 0,
        "the other replica ran throughout: {other:?}"
    );
    rig.shutdown().await
}

/// Every xDS connection is cut (through the relay the Envoys reach the controller by); a
/// change made right after reaches Envoy over the stream it opens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xds_streams_reset_mid_run_reconnect_and_converge() -> Result<()> {
    let Some(rig) = Rig::start("xds-reset", Options::new(123)).await? else {
        return Ok(());
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let relayed = rig.relay.relayed();
    let fault = Instant::now();
    let cut = rig.relay.cut();
    ensure!(cut >= 1, "an xDS stream was open to cut");
    rig.apply_late_route().await?;
    let end = rig.converged(fault, "the reset").await?;
    ensure!(
        rig.relay.relayed() > relayed,
        "Envoy opened a new xDS connection after the reset ({relayed} before, {} after)",
        rig.relay.relayed()
    );
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}
