//! The controller killed with `SIGKILL` and started again: Envoy keeps serving the last
//! configuration it accepted while no controller runs, and a change made during the outage
//! is served, with its status, once the new controller is up.

use std::os::unix::process::ExitStatusExt;
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::e2e_support::{Call, send};
use crate::probe::{Probe, Retry};
use crate::rig::{Mode, Options, Rig, wait_stat};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_run_restarts_and_converges() -> Result<()> {
    let opts = Options {
        mode: Mode::Process,
        ..Options::new(121)
    };
    let Some(mut rig) = Rig::start("controller-sigkill", opts).await? else {
        return Ok(());
    };
    let envoys = rig.envoys();
    let admin = envoys[0].admin_address.context("Envoy's admin address")?;
    wait_stat(
        admin,
        "control_plane.connected_state",
        "Envoy is connected",
        |v| v == 1,
    )
    .await?;
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);

    let killed = rig.process()?.pid();
    let fault = Instant::now();
    let ended = rig.process()?.sigkill().await?;
    ensure!(
        ended.signal() == Some(9),
        "the controller was killed by SIGKILL: {ended:?}"
    );
    wait_stat(
        admin,
        "control_plane.connected_state",
        "Envoy has lost its control plane",
        |v| v == 0,
    )
    .await?;
    // With no controller, a change cannot reach Envoy, which serves what it had.
    rig.apply_late_route().await?;
    let r = send(rig.http, &Call::get("late.example.com", "/")).await?;
    ensure!(
        r.backend().is_none(),
        "the new route is not served while the controller is down: {r:?}"
    );

    let restarted = Instant::now();
    rig.process()?.spawn().await?;
    ensure!(rig.process()?.pid() != killed, "a new controller process");
    let end = rig.converged(restarted, "the restart").await?;
    eprintln!(
        "fault {}: {} ms from SIGKILL to converged",
        rig.name,
        (end - fault).as_millis()
    );
    probe.stop(rig.name, (fault, end)).await?;
    wait_stat(
        admin,
        "control_plane.connected_state",
        "Envoy is connected again",
        |v| v == 1,
    )
    .await?;
    // The same Envoy processes served throughout.
    let after = rig.envoys();
    ensure!(
        after
            .iter()
            .map(|p| (p.pid, p.restarts))
            .collect::<Vec<_>>()
            == envoys.iter().map(|p| (p.pid, 0)).collect::<Vec<_>>(),
        "Envoy was not restarted: before {envoys:?}, after {after:?}"
    );
    rig.shutdown().await
}
