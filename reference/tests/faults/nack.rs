//! A configuration Envoy rejects (NACK), then its fix. The controller bisects, quarantines the
//! route, and Envoy keeps serving everything else; the fixed route is served and accepted.

use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::contain_support::{admin_at, bad_regex_route};
use crate::probe::{Probe, Retry};
use crate::rig::{Options, Rig, envoy_stats_sum};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_configuration_then_its_fix() -> Result<()> {
    // Input validation would refuse the bad regex before Envoy sees it.
    let opts = Options {
        validate_inputs: false,
        ..Options::new(128)
    };
    let Some(rig) = Rig::start("nack-then-fix", opts).await? else {
        return Ok(());
    };
    let envoy = rig.envoys()[0]
        .admin_address
        .context("Envoy's admin address")?;
    let rejected = envoy_stats_sum(envoy, "update_rejected$", "").await?;
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);

    let fault = Instant::now();
    let bad = bad_regex_route("late").replace("{name: echo, port: 8080}", "{name: b, port: 8080}");
    rig.cluster.apply(&bad).await?;
    rig.cluster.quarantined(&bad, "missing ): /late/(").await?;
    eprintln!(
        "fault {}: rejected route quarantined in the API server {} ms after it was applied",
        rig.name,
        fault.elapsed().as_millis()
    );
    let now_rejected = envoy_stats_sum(envoy, "update_rejected$", "").await?;
    ensure!(
        now_rejected > rejected,
        "Envoy rejected a configuration ({rejected} rejected updates before, {now_rejected} after)"
    );
    let metrics = admin_at(rig.admin_addr(), "/metrics").await?;
    let line = "gatesim_containment_runs_total{outcome=\"quarantined\"} 1\n";
    ensure!(metrics.contains(line), "{line} missing from\n{metrics}");

    let fixed = Instant::now();
    rig.apply_late_route().await?;
    let end = rig.converged(fixed, "the fix").await?;
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}
