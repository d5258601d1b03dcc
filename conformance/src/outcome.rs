//! What running a scenario produced: the data the runner hands to the report writers.

use std::path::PathBuf;
use std::time::Duration;

/// The result of one scenario in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioResult {
    /// The scenario's `name` (the upstream ShortName where one exists).
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    /// Feature names, as the scenario lists them.
    pub features: Vec<String>,
    pub provisional: bool,
    pub outcome: Outcome,
    /// Wall time from the first apply to the last check (zero when not run).
    pub duration: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// Explicitly skipped (`--skip-tests`, or not selected by `--run-test`); counted as Skipped,
    /// as upstream counts it.
    Skipped {
        reason: String,
    },
    /// Not run because a feature it needs is not supported: upstream does not count these.
    Unsupported {
        missing: Vec<String>,
    },
}

/// Where and why a scenario failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// 0-based index of the failing step, and its key (`expect-http`, ...).
    pub step: Option<(usize, String)>,
    /// The case within the step (`expect-http` case name or index, object for `expect-status`).
    pub case: Option<String>,
    /// Expected against observed, already readable (multi-line).
    pub message: String,
    /// The status of the objects involved, when the failure concerns them (YAML).
    pub related_status: Option<String>,
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}
