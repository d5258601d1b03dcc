//! The engine: decide what runs, apply base fixtures once, run scenarios side by side where
//! they cannot disturb each other (see [`schedule`]), and turn each into a [`ScenarioResult`].

mod access_log;
mod env;
mod exec;
mod http;
pub mod schedule;
pub mod select;
pub mod status;

pub use env::{Environment, Progress, Settings};
pub use select::{Decision, SelectionFlags};

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::outcome::{Outcome, ScenarioResult};
use crate::scenario::{HarnessObject, Object, Scenario};

/// Every scenario of a run with what happens to it.
pub struct Plan {
    pub supported: BTreeSet<String>,
    pub entries: Vec<(Arc<Scenario>, Decision)>,
}

impl Plan {
    pub fn new(
        scenarios: Vec<Scenario>,
        flags: &SelectionFlags,
        supported: BTreeSet<String>,
    ) -> Plan {
        let entries = scenarios
            .into_iter()
            .map(|s| {
                let decision = select::decide(&s, flags, &supported);
                (Arc::new(s), decision)
            })
            .collect();
        Plan { supported, entries }
    }

    pub fn to_run(&self) -> Vec<Arc<Scenario>> {
        self.entries
            .iter()
            .filter(|(_, d)| *d == Decision::Run)
            .map(|(s, _)| Arc::clone(s))
            .collect()
    }

    /// Why nothing would run, and how to include scenarios; `None` when something runs.
    pub fn nothing_to_run(&self) -> Option<String> {
        if self.entries.iter().any(|(_, d)| *d == Decision::Run) {
            return None;
        }
        if self.entries.is_empty() {
            return Some("nothing to run: no scenario was found under the given paths".to_owned());
        }
        let mut missing = BTreeSet::new();
        let mut unsupported = 0;
        for (_, decision) in &self.entries {
            if let Decision::Unsupported(features) = decision {
                unsupported += 1;
                missing.extend(features.iter().cloned());
            }
        }
        let skipped = self.entries.len() - unsupported;
        let mut why = format!(
            "nothing ran: all {} scenarios were left out",
            self.entries.len()
        );
        if unsupported > 0 {
            let missing: Vec<String> = missing.into_iter().collect();
            why.push_str(&format!(
                "; {unsupported} need features that are not supported here ({}); include them \
                 with --supported-features {} or --all-features, or name a profile with \
                 --conformance-profiles",
                missing.join(", "),
                missing.join(",")
            ));
        }
        if skipped > 0 {
            why.push_str(&format!(
                "; {skipped} were skipped by --run-test, --skip-tests or \
                 --skip-provisional-tests"
            ));
        }
        Some(why)
    }

    /// Results for the scenarios that are not run.
    pub fn not_run(&self) -> Vec<ScenarioResult> {
        self.entries
            .iter()
            .filter_map(|(s, d)| {
                let outcome = match d {
                    Decision::Run => return None,
                    Decision::Skip(reason) => Outcome::Skipped {
                        reason: reason.clone(),
                    },
                    Decision::Unsupported(missing) => Outcome::Unsupported {
                        missing: missing.clone(),
                    },
                };
                Some(result_without_run(s, outcome))
            })
            .collect()
    }
}

/// Objects in the order they can be applied: Namespaces first, then TestCertificates (echo
/// backends serve them and Gateways reference them), then everything else as written.
pub fn apply_order(objects: &[Object]) -> Vec<&Object> {
    // Backends before the objects that may name their addresses (`${BACKEND_ADDRESS:...}`).
    let rank = |o: &Object| match (o.kind(), o.harness()) {
        ("Namespace", None) => 0,
        (_, Some(HarnessObject::TestCertificate(_))) => 1,
        (_, Some(HarnessObject::EchoBackend(_))) => 2,
        _ => 3,
    };
    let mut ordered: Vec<&Object> = objects.iter().collect();
    ordered.sort_by_key(|o| rank(o));
    ordered
}

/// Whether a reference names a harness kind (materialized by the target, nothing to wait for
/// in the API).
pub(crate) fn is_harness_ref(r: &crate::scenario::ObjectRef) -> bool {
    r.api_version
        .as_deref()
        .is_some_and(|v| v.starts_with(crate::scenario::HARNESS_GROUP))
}

pub fn result_without_run(scenario: &Scenario, outcome: Outcome) -> ScenarioResult {
    ScenarioResult {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        path: scenario.path.clone(),
        features: scenario
            .feature_names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        provisional: scenario.provisional,
        outcome,
        duration: Duration::ZERO,
    }
}

/// Applies every base fixture the scenarios name (once each); returns how long each took.
pub async fn prepare_bases(
    env: &Environment,
    scenarios: &[Arc<Scenario>],
) -> Vec<(String, Result<Duration, String>)> {
    let mut done: Vec<(String, Result<Duration, String>)> = Vec::new();
    for scenario in scenarios {
        if let Some(base) = &scenario.base
            && !done.iter().any(|(name, _)| *name == base.name)
        {
            let result = env.ensure_base(base).await.map(|(_, took)| took);
            done.push((base.name.clone(), result));
        }
    }
    done
}

/// Runs `scenarios`, at most `concurrency` at once and never two that clash, calling
/// `on_done` as each finishes. Results come back in the order of `scenarios`.
pub async fn run_all(
    env: Arc<Environment>,
    scenarios: &[Arc<Scenario>],
    concurrency: usize,
    mut on_done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    let claims: Vec<schedule::Claims> = scenarios.iter().map(|s| schedule::claims(s)).collect();
    let contention = schedule::contention(&claims);
    let mut pending: Vec<usize> = (0..scenarios.len()).collect();
    pending.sort_by_key(|&i| (Reverse(contention[i]), i));
    let mut results: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    let mut running = JoinSet::new();
    let mut tasks = HashMap::new();
    let concurrency = concurrency.max(1);
    loop {
        let mut i = 0;
        while running.len() < concurrency && i < pending.len() {
            let index = pending[i];
            match env.locks().try_acquire(&claims[index]) {
                Some(guard) => {
                    pending.remove(i);
                    let env = Arc::clone(&env);
                    let scenario = Arc::clone(&scenarios[index]);
                    let handle = running.spawn(async move {
                        let result = env.run_unlocked(&scenario).await;
                        drop(guard);
                        (index, result)
                    });
                    tasks.insert(handle.id(), index);
                }
                None => i += 1,
            }
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (index, result) = match joined {
            Ok((_, done)) => done,
            Err(e) => {
                let Some(&index) = tasks.get(&e.id()) else {
                    continue;
                };
                let failure = crate::outcome::Failure {
                    step: None,
                    case: None,
                    message: format!("the scenario's task failed: {e}"),
                    related_status: None,
                };
                (
                    index,
                    result_without_run(&scenarios[index], Outcome::Failed(failure)),
                )
            }
        };
        on_done(&result);
        results[index] = Some(result);
    }
    results
        .into_iter()
        .zip(scenarios)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                result_without_run(
                    s,
                    Outcome::Skipped {
                        reason: "not run".to_owned(),
                    },
                )
            })
        })
        .collect()
}
