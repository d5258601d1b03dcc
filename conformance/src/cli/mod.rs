//! The `gatesim` commands: wiring of the library's loader, targets and engine.

/// Prints a line to stdout; a closed stdout (`gatesim list | head`) is not an error worth a
/// panic, so write errors are ignored.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod args;
mod cluster;
pub mod fuzz;
mod output;
mod upstream;

pub use cluster::{cluster, tools};
pub use upstream::upstream;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use gatesim_conformance::outcome::{Outcome, ScenarioResult};
use gatesim_conformance::report::{Implementation, ReportOptions};
use gatesim_conformance::run::{self, Environment, Plan, Progress, SelectionFlags, Settings};
use gatesim_conformance::scenario::{
    LoadOptions, Loader, Profile, Scenario, default_scenarios_dir,
};
use gatesim_conformance::target::{
    ClusterOptions, ClusterTarget, KindCluster, KindOptions, LocalOptions, LocalTarget, RunClass,
    SimOptions, SimTarget, Target, kind,
};

use args::{
    CheckArgs, EnvoyChoice, ImplementationArgs, ListArgs, RunArgs, SelectionArgs, TargetArgs,
    TargetKind,
};
use output::RunInfo;

const REPOSITORY: &str = "https://github.com/gatesim/gatesim";

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "error",
        1 => "warn",
        2 => "info",
        _ => "debug",
    };
    // The kube client logs every failed request as an error; waiting for a starting API
    // server fails many on purpose, and the real failures come back as errors anyway.
    let default = if verbose < 2 {
        format!("{default},kube_client::client::builder=off")
    } else {
        default.to_owned()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(gatesim_reference::terminal::color_for(&std::io::stderr()))
        .try_init();
}

fn flags(selection: &SelectionArgs) -> SelectionFlags {
    SelectionFlags {
        supported_features: selection.supported_features.clone(),
        exempt_features: selection.exempt_features.clone(),
        all_features: selection.all_features,
        profiles: selection.conformance_profiles.clone(),
        run_test: selection.run_test.clone(),
        skip_tests: selection.skip_tests.clone(),
        skip_provisional: selection.skip_provisional_tests,
    }
}

/// Loads every scenario under the given paths (the project's suite by default); every broken
/// file is reported with its position.
fn load(paths: &[PathBuf], base_dir: Option<&Path>) -> Result<(Vec<Scenario>, Vec<PathBuf>)> {
    let paths = if paths.is_empty() {
        vec![default_scenarios_dir()]
    } else {
        paths.to_vec()
    };
    let mut loader = Loader::new(LoadOptions {
        base_dir: base_dir.map(Path::to_path_buf),
    });
    match loader.load_all(&paths) {
        Ok(scenarios) => Ok((scenarios, paths)),
        Err(errors) => bail!("the scenarios do not load:\n{errors}"),
    }
}

pub fn check(args: CheckArgs) -> Result<ExitCode> {
    let (scenarios, _) = load(&args.paths, args.base_dir.as_deref())?;
    let steps: usize = scenarios.iter().map(|s| s.steps.len()).sum();
    say!(
        "ok: {} scenarios, {steps} steps, every file valid",
        scenarios.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn list(args: ListArgs) -> Result<ExitCode> {
    let flags = flags(&args.selection);
    flags.validate()?;
    let (scenarios, _) = load(&args.selection.paths, args.selection.base_dir.as_deref())?;
    flags.check_names(&scenarios)?;
    let (inferred, source) = if flags.infers_features() {
        (
            gatesim_reference::translate::features::SUPPORTED
                .iter()
                .map(|f| (*f).to_owned())
                .collect::<Vec<_>>(),
            "what the sim target's GatewayClass reports",
        )
    } else {
        (Vec::new(), "from the flags")
    };
    let supported = flags.supported(&inferred);
    say!(
        "supported features ({source}): {}",
        supported.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    let plan = Plan::new(scenarios, &flags, supported);
    say!(
        "\n{:<52} {:<20} {:<24} features",
        "scenario",
        "profile",
        "decision"
    );
    for (scenario, decision) in &plan.entries {
        // The first profile that counts the scenario: GATEWAY-HTTP for upstream's HTTP tests,
        // K8SGATEWAY for the extension resources' scenarios.
        let level = Profile::ALL
            .into_iter()
            .find_map(|p| scenario.level(p).map(|l| (p, l)))
            .map_or_else(
                || "-".to_owned(),
                |(p, l)| match l {
                    gatesim_conformance::scenario::Level::Core => format!("{p} core"),
                    gatesim_conformance::scenario::Level::Extended => format!("{p} extended"),
                },
            );
        let decision = match decision {
            run::Decision::Run => "run".to_owned(),
            run::Decision::Skip(why) => format!("skip: {why}"),
            run::Decision::Unsupported(missing) => format!("unsupported: {}", missing.join(",")),
        };
        say!(
            "{:<52} {:<20} {:<24} {}",
            scenario.name,
            level,
            decision,
            scenario.feature_names().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The report's implementation block. For the reference controller (`ours`) every field has
/// a default; for anything else a report needs them all, as upstream requires.
fn implementation(args: &ImplementationArgs, ours: bool, report: bool) -> Result<Implementation> {
    let pick = |given: &Option<String>, default: &str, flag: &str| -> Result<String> {
        match (given, ours, report) {
            (Some(v), _, _) => Ok(v.clone()),
            (None, true, _) | (None, false, false) => Ok(default.to_owned()),
            (None, false, true) => {
                bail!("--report-output needs --{flag} describing the implementation under test")
            }
        }
    };
    let contact = if !args.contact.is_empty() {
        args.contact.clone()
    } else if ours || !report {
        vec![format!("{REPOSITORY}/issues")]
    } else {
        bail!("--report-output needs --contact describing the implementation under test")
    };
    Ok(Implementation {
        contact,
        organization: pick(&args.organization, "gatesim", "organization")?,
        project: pick(&args.project, "gatesim-reference", "project")?,
        url: pick(&args.url, REPOSITORY, "url")?,
        version: pick(
            &args.implementation_version,
            &format!("v{}", env!("CARGO_PKG_VERSION")),
            "version",
        )?,
    })
}

/// echo-basic of the Gateway API release gatesim follows, for clusters without our images.
const ECHO_BASIC: &str = "registry.k8s.io/gateway-api/echo-basic:v1.5.1";

async fn connect_cluster(
    gateway_class: String,
    kubeconfig: Option<PathBuf>,
    echo_image: String,
) -> Result<Target> {
    let cluster = ClusterTarget::connect(ClusterOptions {
        kubeconfig,
        gateway_class,
        echo_image,
        ready_timeout: Duration::from_secs(300),
    })
    .await
    .context("connecting to the cluster")?;
    Ok(Target::Cluster(Box::new(cluster)))
}

/// Bring the kind cluster up and install the project into it; on failure, take down what
/// was brought up (as a finished run would).
async fn start_kind(args: &TargetArgs) -> Result<(Target, KindCluster)> {
    let mut options = KindOptions::new(args.cluster_name.clone());
    if let Some(config) = &args.kind_config {
        options.config = config.clone();
    }
    options.keep = args.keep;
    options.gateway_api_crds = args.gateway_api_crds.clone();
    let kind = KindCluster::up(options)
        .await
        .context("bringing up the kind cluster")?;
    let echo_image = args
        .echo_image
        .clone()
        .unwrap_or_else(|| kind::project_images()[1].clone());
    let ready = async {
        kind.install()
            .await
            .context("installing gatesim into the kind cluster")?;
        // The GatewayClass deploy/ installs.
        let class = args
            .gateway_class
            .clone()
            .unwrap_or_else(|| "gatesim".to_owned());
        connect_cluster(class, Some(kind.kubeconfig().to_path_buf()), echo_image).await
    }
    .await;
    match ready {
        Ok(target) => Ok((target, kind)),
        Err(e) => {
            if let Err(down) = kind.down().await {
                say!("  tearing down the kind cluster failed too: {down}");
            }
            Err(e)
        }
    }
}

/// How often status is polled: simkube answers in microseconds, a cluster's API server does
/// not.
fn poll_interval(target: &Target) -> Duration {
    match target {
        Target::Sim(_) => Duration::from_millis(20),
        Target::Cluster(_) => Duration::from_millis(100),
        Target::Local(_) => Duration::from_millis(50),
    }
}

async fn start_target(args: &TargetArgs) -> Result<Target> {
    // The GatewayClass of the in-process controller (sim and local).
    let own_class = || RunClass {
        gateway_class: args
            .gateway_class
            .clone()
            .unwrap_or_else(|| "gatesim".to_owned()),
        controller_name: args.controller_name.clone(),
    };
    match args.target {
        TargetKind::Sim => {
            let mut options = SimOptions::new(own_class());
            match &args.envoy {
                Some(EnvoyChoice::Binary(path)) => options.envoy = Some(path.clone()),
                Some(EnvoyChoice::Docker) => options.envoy_image = Some(args.envoy_image.clone()),
                None => {}
            }
            options.envoy_log_level = args.envoy_log_level.clone();
            let sim = SimTarget::start(options)
                .await
                .context("starting the sim target")?;
            Ok(Target::Sim(Box::new(sim)))
        }
        TargetKind::Cluster => {
            let echo = args
                .echo_image
                .clone()
                .unwrap_or_else(|| ECHO_BASIC.to_owned());
            let class = args
                .gateway_class
                .clone()
                .unwrap_or_else(|| "gateway-conformance".to_owned());
            connect_cluster(class, args.kubeconfig.clone(), echo).await
        }
        TargetKind::Local => {
            let local = LocalTarget::start(LocalOptions {
                class: own_class(),
                layout: cluster::layout(&args::StateDirArgs {
                    state_dir: args.state_dir.clone(),
                }),
                node_program: std::env::current_exe().context("finding the gatesim binary")?,
                echo_image: args
                    .echo_image
                    .clone()
                    .unwrap_or_else(|| ECHO_BASIC.to_owned()),
                envoy: args.envoy_binary("--target local")?,
                envoy_log_level: args.envoy_log_level.clone(),
                address_network: None,
                keep_cluster: args.keep_cluster,
                ready_timeout: Duration::from_secs(300),
            })
            .await
            .context("starting the local target")?;
            Ok(Target::Local(Box::new(local)))
        }
        TargetKind::Kind => bail!(
            "the kind target brings up a cluster around a whole run: use it with `gatesim run`"
        ),
    }
}

/// Shuts the environment down once no scenario task holds it any more (tasks of an interrupted
/// run are dropped by the runtime shortly after they are aborted).
async fn shut_down(mut env: Arc<Environment>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(env) {
            Ok(env) => return env.shutdown().await,
            Err(shared) if Instant::now() < deadline => {
                env = shared;
                tokio::task::yield_now().await;
            }
            Err(_) => {
                return tracing::warn!("environment still in use at shutdown; not cleaned up");
            }
        }
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    init_logging(args.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_suite(args)).map(|(code, _)| code)
}

/// Runs the scenarios as `gatesim run` does (printing as it goes); the exit status and each
/// scenario's result (`None` when Ctrl-C or SIGTERM stopped the run).
pub async fn run_suite(args: RunArgs) -> Result<(ExitCode, Option<Vec<ScenarioResult>>)> {
    let started = Instant::now();
    let flags = flags(&args.selection);
    flags.validate()?;
    let implementation = implementation(
        &args.implementation,
        // sim, local and kind run the reference controller, which the defaults describe.
        matches!(
            args.targeting.target,
            TargetKind::Sim | TargetKind::Local | TargetKind::Kind
        ),
        args.report_output.is_some(),
    )?;
    let (scenarios, _) = load(&args.selection.paths, args.selection.base_dir.as_deref())?;
    flags.check_names(&scenarios)?;

    // From here on Ctrl-C and SIGTERM stop the run gracefully: proxies stopped, and nothing
    // this run created left behind.
    let signal = gatesim_reference::terminal::shutdown_signal();
    tokio::pin!(signal);
    let starting = async {
        match args.targeting.target {
            TargetKind::Kind => {
                let (target, kind) = start_kind(&args.targeting).await?;
                Ok::<_, anyhow::Error>((target, Some(kind)))
            }
            _ => Ok((start_target(&args.targeting).await?, None)),
        }
    };
    let (target, kind) = tokio::select! {
        started = starting => started?,
        _ = &mut signal => bail!("interrupted while starting the target"),
    };
    let target_started = started.elapsed();
    let mut target_lines = target.header();
    if let Some(kind) = &kind {
        target_lines.extend(kind.header());
    }
    let class = target.class().clone();
    let settings = Settings {
        consecutive: args.consecutive,
        within: args.within,
        poll_interval: poll_interval(&target),
        progress: Some(Progress(Arc::new(|line: &str| say!("  {line}")))),
        ..Settings::default()
    };
    let env = Arc::new(Environment::new(target, settings));
    let (inferred, features_source) = if flags.infers_features() {
        let features = env
            .class_features(Duration::from_secs(180))
            .await
            .context("reading the GatewayClass's supported features")?;
        (
            features,
            format!("from GatewayClass {} status", class.gateway_class),
        )
    } else {
        (Vec::new(), "from the flags".to_owned())
    };
    let plan = Plan::new(scenarios, &flags, flags.supported(&inferred));
    if let Some(mut why) = plan.nothing_to_run() {
        if flags.run_test.is_some() && plan.supported.is_empty() {
            why.push_str(
                " (--run-test stops supported features being read from the GatewayClass, as \
                 upstream)",
            );
        }
        shut_down(env).await;
        if let Some(kind) = kind {
            kind.down().await.context("tearing down the kind cluster")?;
        }
        bail!("{why}");
    }
    let to_run = plan.to_run();
    let not_run = plan.not_run();
    let info = RunInfo {
        target: env.target().name().to_owned(),
        target_lines,
        gateway_class: class.gateway_class.clone(),
        controller: class.controller_name.clone(),
        features: plan.supported.iter().cloned().collect(),
        features_source,
    };
    let mut report_options = ReportOptions::new(implementation, jiff::Zoned::now());
    report_options.profiles = flags.profiles.clone();
    report_options.features = flags.feature_selection(&inferred);
    report_options.mode = args.implementation.mode.clone();
    let skipped = not_run
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }))
        .count();
    output::header(
        &info,
        (to_run.len(), skipped, not_run.len() - skipped),
        args.concurrency,
    );
    output::setup_line("target up", target_started);
    let mut setup = started.elapsed();
    let mut scenarios_started = Instant::now();
    let work = async {
        for (name, result) in run::prepare_bases(&env, &to_run).await {
            match result {
                Ok(took) => output::setup_line(&format!("base {name}"), took),
                Err(e) => say!("  base {name} FAILED: {e}"),
            }
        }
        setup = started.elapsed();
        say!();
        scenarios_started = Instant::now();
        run::run_all(
            Arc::clone(&env),
            &to_run,
            args.concurrency,
            output::progress,
        )
        .await
    };
    let run_results = tokio::select! {
        results = work => results,
        _ = &mut signal => {
            say!("\ninterrupted: stopping the proxies and removing what this run created");
            shut_down(env).await;
            if let Some(kind) = kind {
                kind.down().await.context("tearing down the kind cluster")?;
            }
            return Ok((ExitCode::from(130), None));
        }
    };
    let scenarios_took = scenarios_started.elapsed();

    let mut results: Vec<ScenarioResult> = Vec::new();
    let mut ran = run_results.into_iter();
    let mut skipped_results = not_run.into_iter();
    for (_, decision) in &plan.entries {
        let next = if *decision == run::Decision::Run {
            ran.next()
        } else {
            skipped_results.next()
        };
        results.extend(next);
    }

    output::failures(&results);
    let teardown_started = Instant::now();
    shut_down(env).await;
    if let Some(kind) = kind {
        kind.down().await.context("tearing down the kind cluster")?;
    }
    let teardown = teardown_started.elapsed();
    let report = output::build_report(&results, &report_options);
    // The report states only the profiles asked for, as upstream's does; the terminal shows
    // every profile that counts a scenario even when none was asked for.
    if report_options.profiles.is_empty() {
        let mut all = report_options.clone();
        all.profiles = gatesim_conformance::scenario::features::Profile::ALL.to_vec();
        output::summary(
            &output::build_report(&results, &all),
            &results,
            &[],
            started.elapsed(),
        );
    } else {
        output::summary(
            &report,
            &results,
            &report_options.profiles,
            started.elapsed(),
        );
    }
    say!(
        "time: setup {:.2}s (target {:.2}s), scenarios {:.2}s, teardown {:.2}s",
        setup.as_secs_f64(),
        target_started.as_secs_f64(),
        scenarios_took.as_secs_f64(),
        teardown.as_secs_f64()
    );
    if let Some(path) = &args.report_output {
        output::write_report(path, &report)?;
        say!("report: {}", path.display());
    }
    if let Some(path) = &args.junit {
        output::write_junit(path, &format!("gatesim {}", info.target), &results)?;
        say!("junit: {}", path.display());
    }
    let failed = results.iter().any(|r| r.outcome.is_failure());
    let code = if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, Some(results)))
}
