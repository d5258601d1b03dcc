//! The harness at scale: one scenario of N HTTPRoutes run end to end on the sim target
//! (simkube, the in-process controller, real Envoy and echo backends), from the first apply
//! to the last status and request checked. Prints `figure<TAB>value<TAB>target` lines that
//! `ci/bench` gathers, and the peak resident memory of the whole process.
//!
//! `cargo bench -p gatesim-conformance --bench harness_scale` (sizes 1,000 and 4,000; with
//! `GATESIM_BENCH_SMOKE=1` one scenario of 100 routes, to check that the bench still runs).

#[path = "../tests/scale_support.rs"]
mod scale_support;
#[path = "../tests/sim_support/mod.rs"]
mod sim_support;

use std::time::Instant;

/// The `gatesim` binary's allocator, so that the figures are what `gatesim run` gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail};
use gatesim_conformance::outcome::Outcome;

fn main() -> Result<()> {
    let smoke = std::env::var("GATESIM_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let sizes: &[usize] = if smoke { &[100] } else { &[1_000, 4_000] };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(sizes))
}

async fn run(sizes: &[usize]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    for (i, &n) in sizes.iter().enumerate() {
        let scenario = scale_support::many_routes(dir.path(), &format!("Scale{n}"), n);
        // A network per size: the next environment never meets the last one's sockets.
        let Some(env) = sim_support::environment_with(
            "harness scale bench",
            90 + i as u8,
            None,
            sim_support::settings(),
        )
        .await
        else {
            bail!("Envoy is needed for this bench");
        };
        let started = Instant::now();
        let result = env.run(&scenario).await;
        let whole = started.elapsed();
        env.shutdown().await;
        if let Outcome::Failed(f) = &result.outcome {
            bail!("Scale{n} failed: {}", f.message);
        }
        let target = if n == 4_000 { "< 5 s" } else { "-" };
        println!(
            "harness: {n} routes, one scenario end to end\t{:.2} s\t{target}",
            result.duration.as_secs_f64()
        );
        println!(
            "harness: {n} routes, with the removal of its objects\t{:.2} s\t-",
            whole.as_secs_f64()
        );
    }
    println!(
        "harness: peak resident memory (simkube, controller, harness in one process)\t{} MiB\t-",
        peak_rss_mib().context("reading /proc/self/status")?
    );
    Ok(())
}

fn peak_rss_mib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line")?;
    Ok(kib / 1024)
}
