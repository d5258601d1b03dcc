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

/// Ends the task it holds when dropped: a fault that keeps happening until convergence.
struct Repeating(tokio::task::JoinHandle<()>);

impl Drop for Repeating {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What every test here does around its fault: start the rig on `network`, probe the stable
/// route, `inject` the fault (what it returns is held until convergence), make the change,
/// wait until every injected error was served and the system converged (timed from the
/// injection), clear the faults and stop the probe. The rig and simkube's counters before
/// and after, or `None` without Envoy.
async fn under_fault<G>(
    name: &'static str,
    network: u8,
    inject: impl FnOnce(&Faults) -> Result<G>,
) -> Result<Option<(Rig, Stats, Stats)>> {
    let Some(rig) = Rig::start(name, Options::new(network)).await? else {
        return Ok(None);
    };
    let probe = Probe::start(rig.http, rig.stable_call(), "a-0", Retry::Never);
    let before = rig.faults.stats();
    let fault = Instant::now();
    let held = inject(&rig.faults)?;
    let converged = async {
        rig.apply_late_route().await?;
        errors_served(&rig.faults).await?;
        rig.converged(fault, "the fault began").await
    }
    .await;
    drop(held);
    rig.faults.clear();
    let end = converged?;
    let after = rig.faults.stats();
    probe.stop(rig.name, (fault, end)).await?;
    Ok(Some((rig, before, after)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_dropped_again_and_again() -> Result<()> {
    let dropping = |faults: &Faults| {
        let faults = faults.clone();
        Ok(Repeating(tokio::spawn(async move {
            loop {
                faults.drop_watches();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })))
    };
    let Some((rig, before, after)) = under_fault("watch-drops", 124, dropping).await? else {
        return Ok(());
    };
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
    rig.shutdown().await
}

/// History compacted, every open watch dropped, and the next 30 watch requests answered
/// `410 Gone`: every watcher has to relist, some several times, before the change is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_410_gone() -> Result<()> {
    let storm = |faults: &Faults| {
        inject(faults, Matcher::verb(Verb::Watch), 410, 30)?;
        faults.compact_history();
        faults.drop_watches();
        Ok(())
    };
    let Some((rig, before, after)) = under_fault("410-storm", 125, storm).await? else {
        return Ok(());
    };
    let relists =
        after.requests(Verb::List, "httproutes") - before.requests(Verb::List, "httproutes");
    let served = injected_since(&before, &after, 410);
    eprintln!(
        "fault {}: 410 served {served} times, HTTPRoutes relisted {relists} times",
        rig.name
    );
    ensure!(served == 30, "the whole storm was served: {served} of 30");
    rig.shutdown().await
}

/// The controller's status writes meet `409 Conflict`, five for routes and five for
/// Gateways, and must be retried until they land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_status_writes() -> Result<()> {
    let conflicts = |faults: &Faults| {
        for resource in ["httproutes/status", "gateways/status"] {
            inject(faults, Matcher::verb(Verb::Patch).on(resource), 409, 5)?;
        }
        Ok(())
    };
    let Some((rig, before, after)) = under_fault("409-on-status", 126, conflicts).await? else {
        return Ok(());
    };
    let served = injected_since(&before, &after, 409);
    ensure!(served == 10, "ten status writes met a conflict: {served}");
    rig.shutdown().await
}

/// Every request to the API server 300 ms slower, watches dropped so the controller has to
/// come back through that, and `500`s for its next watches and status writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_a_latency_spike() -> Result<()> {
    let spike = |faults: &Faults| {
        faults.add_latency(LatencyFault {
            matcher: Matcher::any(),
            millis: 300,
        });
        inject(faults, Matcher::verb(Verb::Watch), 500, 5)?;
        for resource in ["httproutes/status", "gateways/status"] {
            inject(faults, Matcher::verb(Verb::Patch).on(resource), 500, 3)?;
        }
        faults.drop_watches();
        Ok(())
    };
    let Some((rig, before, after)) = under_fault("500s-and-latency", 127, spike).await? else {
        return Ok(());
    };
    let served = injected_since(&before, &after, 500);
    let delayed = after.delayed_requests - before.delayed_requests;
    eprintln!(
        "fault {}: 500 served {served} times, {delayed} requests delayed by 300 ms",
        rig.name
    );
    ensure!(
        served == 11,
        "every injected 500 was served: {served} of 11"
    );
    ensure!(delayed > 0, "requests were delayed");
    rig.shutdown().await
}
