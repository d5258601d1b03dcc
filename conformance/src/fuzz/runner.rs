//! The fuzzing loop: generate cases from a seed, check every property, and when one fails let
//! proptest shrink the case and write the smallest failing one out as a scenario.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gatesim_generate::{Case, GenConfig, World, corrupt, request, strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::live::LiveSession;
use super::properties::{self, Property, Translate};
use super::scenario::{self, Origin};

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Cases to generate (the run also ends at `time`).
    pub cases: u32,
    pub seed: u64,
    pub time: Option<Duration>,
    pub config: GenConfig,
    /// In-process properties to check; every one by default.
    pub properties: Vec<Property>,
    /// Where shrunk counterexamples are written; nowhere when `None`.
    pub out: Option<PathBuf>,
    /// Bound on shrinking steps.
    pub max_shrink_iters: u32,
    /// Set from outside (Ctrl-C) to end the run: unlike the time limit it also cuts shrinking
    /// short, keeping the smallest failing case found so far.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            cases: 100,
            seed: 0,
            time: None,
            config: GenConfig::default(),
            properties: Property::IN_PROCESS.to_vec(),
            out: None,
            max_shrink_iters: 512,
            stop: None,
        }
    }
}

/// A shrunk counterexample.
#[derive(Clone, Debug)]
pub struct Counterexample {
    pub property: Property,
    /// The seed of the batch that found it (`--seed` reproduces it with `--cases` of one batch).
    pub seed: String,
    pub message: String,
    pub world: World,
    pub requests: Vec<gatesim_generate::Request>,
    /// The scenario as written (also when `out` is `None`).
    pub scenario: String,
    pub path: Option<PathBuf>,
}

/// Where a run stands, for progress lines.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub cases: u32,
    pub live_cases: u32,
    pub failures: u32,
    pub elapsed: Duration,
    pub shrinking: bool,
}

#[derive(Debug)]
pub struct Summary {
    pub cases: u32,
    pub live_cases: u32,
    pub elapsed: Duration,
    pub failure: Option<Counterexample>,
}

/// Cases per proptest run; each batch has its own seed, so a long run can stop between
/// batches at its time limit and every counterexample names a seed that reproduces it.
const BATCH: u32 = 16;

/// Bound on shrinking a live failure, in milliseconds.
const LIVE_SHRINK_MS: u32 = 180_000;

fn batch_seed(seed: u64, batch: u64) -> u64 {
    seed.wrapping_add(batch)
}

fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Checks one case: every in-process property, then (with a session) live.
fn check_case(
    case: &Case,
    options: &FuzzOptions,
    translate: Translate<'_>,
    envoy: Option<&Path>,
    live: Option<(&LiveSession, &tokio::runtime::Handle)>,
    seed: &str,
) -> Result<(), (Property, String)> {
    let translated = properties::translate_world(
        translate,
        &case.world,
        corrupt::resolve(&case.world, case.corruption),
    )?;
    for &p in &options.properties {
        properties::check(p, translate, &translated, envoy).map_err(|m| (p, m))?;
    }
    if let Some((session, handle)) = live {
        let requests = request::resolve(&case.world, &case.requests);
        let text = scenario::write(
            &case.world,
            &requests,
            &Origin {
                seed: seed.to_owned(),
                property: Property::RoutingMatchesOracle.name().to_owned(),
            },
        );
        handle.block_on(session.check(&text))?;
    }
    Ok(())
}

/// Runs cases until `options.cases` or `options.time` is reached or a property fails; blocking
/// (live checks are driven on `live`'s runtime handle, so call this off the async threads).
pub fn run(
    options: &FuzzOptions,
    translate: Translate<'_>,
    envoy: Option<&Path>,
    live: Option<(&LiveSession, &tokio::runtime::Handle)>,
    progress: &dyn Fn(Progress),
) -> Summary {
    let started = Instant::now();
    let deadline = options.time.map(|t| started + t);
    let stopped = || {
        options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    };
    let cases = Cell::new(0u32);
    let live_cases = Cell::new(0u32);
    let shrinking = Cell::new(false);
    let report = |failures: u32| {
        progress(Progress {
            cases: cases.get(),
            live_cases: live_cases.get(),
            failures,
            elapsed: started.elapsed(),
            shrinking: shrinking.get(),
        })
    };
    let mut batch = 0u64;
    while cases.get() < options.cases && deadline.is_none_or(|d| Instant::now() < d) && !stopped() {
        let seed = batch_seed(options.seed, batch);
        let seed_text = format!("{seed:#x}");
        batch += 1;
        let in_batch = BATCH.min(options.cases - cases.get());
        let config = Config {
            cases: in_batch,
            max_shrink_iters: options.max_shrink_iters,
            // A failing live case waits out its timeouts on every shrinking step.
            max_shrink_time: if live.is_some() { LIVE_SHRINK_MS } else { 0 },
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng(seed));
        let last: RefCell<Option<(Property, String)>> = RefCell::new(None);
        let result = runner.run(&strategy::case(options.config), |case| {
            // Past the time limit the rest of the batch passes unchecked (and uncounted);
            // shrinking a failure found in time goes on, unless the run is stopped.
            if stopped() || (!shrinking.get() && deadline.is_some_and(|d| Instant::now() >= d)) {
                return Ok(());
            }
            let outcome = check_case(&case, options, translate, envoy, live, &seed_text);
            if !shrinking.get() {
                cases.set(cases.get() + 1);
                if live.is_some() {
                    live_cases.set(live_cases.get() + 1);
                }
            }
            match outcome {
                Ok(()) => {
                    report(u32::from(shrinking.get()));
                    Ok(())
                }
                Err((property, message)) => {
                    shrinking.set(true);
                    report(1);
                    let reason = format!("{}: {message}", property.name());
                    *last.borrow_mut() = Some((property, message));
                    Err(TestCaseError::fail(reason))
                }
            }
        });
        if let Err(TestError::Fail(reason, minimal)) = result {
            // The minimal case's own failure (shrinking may have moved to another property).
            let recheck = if stopped() {
                Ok(())
            } else {
                check_case(&minimal, options, translate, envoy, live, &seed_text)
            };
            let (property, message) = match recheck {
                Err(found) => found,
                Ok(()) => last
                    .borrow()
                    .clone()
                    .unwrap_or((Property::NoPanic, reason.message().to_owned())),
            };
            let requests = request::resolve(&minimal.world, &minimal.requests);
            let origin = Origin {
                seed: seed_text.clone(),
                property: property.name().to_owned(),
            };
            let text = scenario::write(&minimal.world, &requests, &origin);
            let path = options.out.as_ref().and_then(|dir| {
                let path = dir.join(format!("{}-{seed_text}.yaml", property.name()));
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, &text))
                    .ok()
                    .map(|()| path)
            });
            return Summary {
                cases: cases.get(),
                live_cases: live_cases.get(),
                elapsed: started.elapsed(),
                failure: Some(Counterexample {
                    property,
                    seed: seed_text,
                    message,
                    world: minimal.world,
                    requests,
                    scenario: text,
                    path,
                }),
            };
        }
    }
    Summary {
        cases: cases.get(),
        live_cases: live_cases.get(),
        elapsed: started.elapsed(),
        failure: None,
    }
}
