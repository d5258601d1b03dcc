//! `gatesim fuzz`: generated cases checked in process and live, with a progress line and a
//! summary; a failure is shrunk and written out as a regression scenario.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use gatesim_conformance::fuzz::{FuzzOptions, LiveSession, Progress, Property, Summary, runner};
use gatesim_conformance::run::{Environment, Settings};
use gatesim_conformance::scenario::{LoadOptions, default_scenarios_dir};
use gatesim_generate::GenConfig;
use gatesim_reference::translate::translate;

use super::args::{FuzzArgs, TargetKind};

/// Prints progress: one line rewritten in place on a terminal, a plain line every few
/// seconds otherwise (logs, CI).
struct Reporter {
    terminal: bool,
    last: std::cell::Cell<Duration>,
}

impl Reporter {
    fn line(p: &Progress) -> String {
        let secs = p.elapsed.as_secs_f64().max(1e-9);
        let state = if p.shrinking { ", shrinking" } else { "" };
        format!(
            "fuzz: {} cases ({:.1}/s), {} live, {} failures, {:.0}s{state}",
            p.cases,
            f64::from(p.cases) / secs,
            p.live_cases,
            p.failures,
            p.elapsed.as_secs_f64()
        )
    }

    fn show(&self, p: &Progress) {
        use std::io::Write as _;
        let mut out = std::io::stdout();
        if self.terminal {
            let _ = write!(out, "\r\x1b[2K{}", Reporter::line(p));
            let _ = out.flush();
        } else if p.elapsed >= self.last.get() + Duration::from_secs(5) {
            self.last.set(p.elapsed);
            let _ = writeln!(out, "{}", Reporter::line(p));
        }
    }
}

fn summary_lines(summary: &Summary, seed: u64) -> Vec<String> {
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    let mut lines = vec![format!(
        "fuzz: {} cases in {:.1}s ({:.1} cases/s; {} checked live), seed {seed:#x}: {}",
        summary.cases,
        secs,
        f64::from(summary.cases) / secs,
        summary.live_cases,
        if summary.failure.is_some() {
            "1 property fails"
        } else {
            "every property holds"
        }
    )];
    if let Some(c) = &summary.failure {
        lines.push(format!(
            "FAIL {} (seed {}, shrunk to {} routes and {} grants)",
            c.property.name(),
            c.seed,
            c.world.routes.len(),
            c.world.grants.len()
        ));
        lines.extend(c.message.lines().map(|l| format!("  {l}")));
        match &c.path {
            Some(path) => lines.push(format!(
                "regression scenario: {}\nreplay: gatesim run {}",
                path.display(),
                path.display()
            )),
            None => lines.push(format!("regression scenario:\n{}", c.scenario)),
        }
    }
    lines
}

pub fn fuzz(args: FuzzArgs) -> Result<ExitCode> {
    super::init_logging(args.verbose);
    if args.no_live && args.targeting.target != TargetKind::Sim {
        bail!("--no-live checks the reference translator in process; it needs --target sim");
    }
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let out: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| default_scenarios_dir().join("regressions"));
    let stop = Arc::new(AtomicBool::new(false));
    let in_process: Vec<Property> = match args.targeting.target {
        // The vendor's implementation is judged by its traffic and status only.
        TargetKind::Cluster | TargetKind::Kind => Vec::new(),
        // Live runs prove 0 NACKs through the ACK barrier; without them Envoy validates.
        // The local target runs our controller in process too, so its translation is checked.
        TargetKind::Sim | TargetKind::Local if args.no_live => Property::IN_PROCESS.to_vec(),
        TargetKind::Sim | TargetKind::Local => Property::IN_PROCESS
            .into_iter()
            .filter(|p| *p != Property::EnvoyAccepts)
            .collect(),
    };
    let options = FuzzOptions {
        cases: args.cases,
        seed,
        time: args.time,
        config: GenConfig {
            invalid_percent: args.invalid_percent.min(100),
            ..GenConfig::default()
        },
        properties: in_process,
        out: Some(out),
        stop: Some(Arc::clone(&stop)),
        ..FuzzOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Ctrl-C and SIGTERM end the run between checks; the summary, the live session's shutdown
    // and the removal of its work directory still happen below.
    let stop_on_signal = Arc::clone(&stop);
    runtime.spawn(async move {
        gatesim_reference::terminal::shutdown_signal().await;
        stop_on_signal.store(true, Ordering::Relaxed);
    });
    let envoy = if args.no_live {
        Some(match args.targeting.envoy_binary("--no-live")? {
            Some(path) => path,
            None => gatesim_reference::infra::envoy::locate().context("finding Envoy")?,
        })
    } else {
        None
    };
    let session = if args.no_live {
        None
    } else {
        let target = runtime.block_on(async {
            tokio::select! {
                target = super::start_target(&args.targeting) => target,
                _ = gatesim_reference::terminal::shutdown_signal() => {
                    bail!("interrupted while starting the target")
                }
            }
        })?;
        let settings = Settings {
            poll_interval: super::poll_interval(&target),
            ..Settings::default()
        };
        let env = Arc::new(Environment::new(target, settings));
        let dir = std::env::temp_dir().join(format!("gatesim-fuzz-{}", std::process::id()));
        Some(LiveSession::new(env, dir, LoadOptions::default()))
    };
    let reporter = Reporter {
        terminal: std::io::stdout().is_terminal(),
        last: std::cell::Cell::new(Duration::ZERO),
    };
    say!(
        "gatesim fuzz: target {}, seed {seed:#x}, up to {} cases{}",
        match args.targeting.target {
            TargetKind::Sim if args.no_live => "in-process",
            TargetKind::Sim => "sim",
            _ => "cluster",
        },
        args.cases,
        args.time
            .map(|t| format!(" or {}s", t.as_secs()))
            .unwrap_or_default()
    );
    let summary = runner::run(
        &options,
        &translate,
        envoy.as_deref(),
        session.as_ref().map(|s| (s, runtime.handle())),
        &|p| reporter.show(&p),
    );
    if reporter.terminal {
        say!();
    }
    for line in summary_lines(&summary, seed) {
        say!("{line}");
    }
    let interrupted = stop.load(Ordering::Relaxed);
    if interrupted {
        say!("interrupted: stopping the proxies and removing what this run created");
    }
    if let Some(session) = session {
        runtime.block_on(session.shutdown());
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(if interrupted {
        ExitCode::from(130)
    } else if summary.failure.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
