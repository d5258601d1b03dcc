//! The API server misbehaving under the controller (simkube's fault injection): watch
//! streams dropped over and over, a storm of `410 Gone`, `409 Conflict` on status writes,
//! and `500`s with a latency spike. The change each test makes during its fault has to reach
//! the controller through the faulty watches and its status through the faulty writes.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use gatesim_simkube::{ErrorFault, Faults, LatencyFault, Matcher, Stats, Verb};

use crate::e2e_support::{WAIT, eventually};
use crate::probe::{Probe, Retry};
use crate::rig::{Options, Rig};

fn inject(faults: &Faults, matcher: Matcher, code: u16, count: u32) -> Result<()> {
    faults.inject_error(ErrorFault {
        matcher,
        code,
        count,
    })?;
    Ok(())
}

/// Wait until every injected error has been served: the fault ran its full course.
async fn errors_served(faults: &Faults) -> Result<()> {
    eventually(WAIT, "every injected error was served", || async {
        let active = faults.active();
        if active.errors.is_empty() {
            Ok(Some(()))
        } else {
            anyhow::bail!("still pending: {:?}", active.errors)
        }
    })
    .await
}

fn injected_since(before: &Stats, after: &Stats, code: u16) -> u64 {
    after.injected(code) - before.injected(code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_dropped_again_and_again() -> Result<()> {
    let Some(rig) = Rig::start("watch-drops", Options::new(124)).await? else {
        return Ok(());
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let before = rig.faults.stats();
    let fault = Instant::now();
    let dropping = {
        let faults = rig.faults.clone();
        tokio::spawn(async move {
            loop {
                faults.drop_watches();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    rig.apply_late_route().await?;
    let converged = rig.converged(fault, "the first drop").await;
    dropping.abort();
    let end = converged?;
    let after = rig.faults.stats();
    let (dropped, started) = (
        after.watches_dropped - before.watches_dropped,
        after.watches_started - before.watches_started,
    );
    eprintln!(
        "fault {}: {dropped} watch streams dropped, {started} opened again",
        rig.name
    );
    ensure!(
        dropped > 0 && started > 0,
        "watches were dropped and opened again: {dropped} dropped, {started} opened"
    );
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}

/// History compacted, every open watch dropped, and the next 30 watch requests answered
/// `410 Gone`: every watcher has to relist, some several times, before the change is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_410_gone() -> Result<()> {
    let Some(rig) = Rig::start("410-storm", Options::new(125)).await? else {
        return Ok(());
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let before = rig.faults.stats();
    let fault = Instant::now();
    inject(&rig.faults, Matcher::verb(Verb::Watch), 410, 30)?;
    rig.faults.compact_history();
    rig.faults.drop_watches();
    rig.apply_late_route().await?;
    errors_served(&rig.faults).await?;
    let end = rig.converged(fault, "the storm began").await?;
    let after = rig.faults.stats();
    let relists =
        after.requests(Verb::List, "httproutes") - before.requests(Verb::List, "httproutes");
    eprintln!(
        "fault {}: 410 served {} times, HTTPRoutes relisted {relists} times",
        rig.name,
        injected_since(&before, &after, 410)
    );
    ensure!(
        injected_since(&before, &after, 410) == 30,
        "the whole storm was served: {:?}",
        after.injected_by_code
    );
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}

/// The controller's status writes meet `409 Conflict`, five for routes and five for
/// Gateways, and must be retried until they land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_status_writes() -> Result<()> {
    let Some(rig) = Rig::start("409-on-status", Options::new(126)).await? else {
        return Ok(());
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let before = rig.faults.stats();
    let fault = Instant::now();
    for resource in ["httproutes/status", "gateways/status"] {
        inject(&rig.faults, Matcher::verb(Verb::Patch).on(resource), 409, 5)?;
    }
    rig.apply_late_route().await?;
    errors_served(&rig.faults).await?;
    let end = rig.converged(fault, "the change").await?;
    let after = rig.faults.stats();
    ensure!(
        injected_since(&before, &after, 409) == 10,
        "ten status writes met a conflict: {:?}",
        after.injected_by_code
    );
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}

/// Every request to the API server 300 ms slower, watches dropped so the controller has to
/// come back through that, and `500`s for its next watches and status writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_a_latency_spike() -> Result<()> {
    let Some(rig) = Rig::start("500s-and-latency", Options::new(127)).await? else {
        return Ok(());
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let before = rig.faults.stats();
    let fault = Instant::now();
    rig.faults.add_latency(LatencyFault {
        matcher: Matcher::any(),
        millis: 300,
    });
    inject(&rig.faults, Matcher::verb(Verb::Watch), 500, 5)?;
    for resource in ["httproutes/status", "gateways/status"] {
        inject(&rig.faults, Matcher::verb(Verb::Patch).on(resource), 500, 3)?;
    }
    rig.faults.drop_watches();
    rig.apply_late_route().await?;
    let served = errors_served(&rig.faults).await;
    let converged = match served {
        Ok(()) => rig.converged(fault, "the spike began").await,
        Err(e) => Err(e),
    };
    rig.faults.clear();
    let end = converged?;
    let after = rig.faults.stats();
    let delayed = after.delayed_requests - before.delayed_requests;
    eprintln!(
        "fault {}: 500 served {} times, {delayed} requests delayed by 300 ms",
        rig.name,
        injected_since(&before, &after, 500)
    );
    ensure!(
        injected_since(&before, &after, 500) == 11,
        "every injected 500 was served: {:?}",
        after.injected_by_code
    );
    ensure!(delayed > 0, "requests were delayed");
    probe.stop(rig.name, (fault, end)).await?;
    rig.shutdown().await
}
