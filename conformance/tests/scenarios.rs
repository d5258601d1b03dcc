//! Every scenario file of the suite, on the `sim` target, as one named trial
//! (`sim/httproute/HTTPRouteHeaderMatching`), so `cargo test` filters, lists and reports them
//! like any test. All trials share one environment (one simkube, one controller, base fixtures
//! applied once); trials that clash (see `run::schedule`) wait for each other.
//!
//! Without Envoy the trials are skipped with a loud `SKIP:` line, unless
//! `GATESIM_REQUIRE_ALL=1`, where they fail.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use gatesim_conformance::outcome::Outcome;
use gatesim_conformance::report::terminal::{Style, failure_block};
use gatesim_conformance::run::{Environment, Settings, select};
use gatesim_conformance::scenario::{LoadOptions, Scenario, default_scenarios_dir, load_dir};
use gatesim_conformance::target::{RunClass, SimOptions, SimTarget, Target};

/// The environment every trial shares, started by the first trial that needs it.
struct Shared {
    runtime: tokio::runtime::Runtime,
    env: Arc<Environment>,
}

type Started = Result<Arc<Shared>, String>;

fn start(envoy: PathBuf) -> Started {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    let mut options = SimOptions::new(RunClass {
        gateway_class: "gatesim".to_owned(),
        controller_name: "gatesim.dev/reference-controller".to_owned(),
    });
    options.envoy = Some(envoy);
    let target = runtime
        .block_on(SimTarget::start(options))
        .map_err(|e| format!("starting the sim target: {e}"))?;
    let settings = Settings {
        poll_interval: std::time::Duration::from_millis(20),
        ..Settings::default()
    };
    let env = Arc::new(Environment::new(Target::Sim(Box::new(target)), settings));
    Ok(Arc::new(Shared { runtime, env }))
}

/// `sim/<directory>/<name>`, the directory relative to the suite's root.
fn trial_name(root: &Path, scenario: &Scenario) -> String {
    let dir = scenario
        .path
        .parent()
        .and_then(|p| p.strip_prefix(root).ok())
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty());
    match dir {
        Some(dir) => format!("sim/{dir}/{}", scenario.name),
        None => format!("sim/{}", scenario.name),
    }
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = default_scenarios_dir();
    let scenarios = match load_dir(&root, &LoadOptions::default()) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("the suite does not load:\n{errors}");
            return ExitCode::FAILURE;
        }
    };
    // What the sim target's GatewayClass reports: the features a run without flags tests.
    let inferred: Vec<String> = gatesim_reference::translate::features::SUPPORTED
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    let flags = select::SelectionFlags::default();
    let supported = flags.supported(&inferred);

    // Envoy is looked for only when a trial is going to run, so `--list` needs nothing.
    let envoy: Arc<OnceLock<Result<Option<PathBuf>, String>>> = Arc::new(OnceLock::new());
    let shared: Arc<Mutex<Option<Started>>> = Arc::new(Mutex::new(None));

    let trials: Vec<Trial> = scenarios
        .into_iter()
        .map(|scenario| {
            let name = trial_name(&root, &scenario);
            let decision = select::decide(&scenario, &flags, &supported);
            let envoy = Arc::clone(&envoy);
            let shared = Arc::clone(&shared);
            Trial::ignorable_test(name, move || {
                if let select::Decision::Unsupported(missing) = decision {
                    return Ok(Completion::ignored_with(format!(
                        "the sim target does not support {}",
                        missing.join(", ")
                    )));
                }
                let found = envoy.get_or_init(|| {
                    gatesim_reference::infra::envoy::locate_or_skip("scenario trials")
                        .map_err(|e| e.to_string())
                });
                let envoy = match found {
                    Ok(Some(path)) => path.clone(),
                    Ok(None) => {
                        return Ok(Completion::ignored_with("SKIP: Envoy is unavailable"));
                    }
                    Err(e) => return Err(Failed::from(format!("Envoy is required: {e}"))),
                };
                let env = {
                    let mut slot = shared.lock().unwrap_or_else(|e| e.into_inner());
                    slot.get_or_insert_with(|| start(envoy)).clone()
                };
                let env = env.map_err(Failed::from)?;
                let result = env.runtime.block_on(env.env.run(&scenario));
                match &result.outcome {
                    Outcome::Passed => Ok(Completion::Completed),
                    Outcome::Failed(f) => {
                        Err(Failed::from(failure_block(&result, f, Style::PLAIN)))
                    }
                    Outcome::Skipped { reason } => Ok(Completion::ignored_with(reason)),
                    Outcome::Unsupported { missing } => Ok(Completion::ignored_with(format!(
                        "unsupported: {}",
                        missing.join(", ")
                    ))),
                }
            })
        })
        .collect();

    let conclusion = libtest_mimic::run(&args, trials);

    // Stop the proxies gracefully; the trials (and their clones of the environment) are done.
    let started = shared.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(Ok(shared)) = started
        && let Ok(shared) = Arc::try_unwrap(shared)
    {
        let Shared { runtime, env } = shared;
        if let Ok(env) = Arc::try_unwrap(env) {
            runtime.block_on(env.shutdown());
        }
    }
    conclusion.exit_code()
}
