//! `expect-access-log`: reads a file the proxies write in the scenario directory until every
//! listed line is there, within the step's bound.

use std::time::{Duration, Instant};

use super::exec::{Execution, StepFailure};
use crate::scenario::ExpectAccessLog;
use crate::scenario::access_log::first_unmatched;

/// Between reads of the file.
const POLL: Duration = Duration::from_millis(50);
/// How much of the file a failure shows, from its end.
const SHOWN_LINES: usize = 20;

impl Execution<'_> {
    pub(super) async fn expect_access_log(
        &self,
        step: &ExpectAccessLog,
    ) -> Result<(), StepFailure> {
        let Some(dir) = &self.scenario_dir else {
            return Err(StepFailure {
                case: None,
                message: "expect-access-log: this run has no scenario directory".to_owned(),
                related: None,
            });
        };
        let path = dir.join(&step.file);
        let within = step.within();
        let started = Instant::now();
        loop {
            let read = tokio::fs::read_to_string(&path).await;
            let missing = match &read {
                Ok(text) => first_unmatched(&step.lines, text),
                Err(_) => step.lines.first(),
            };
            let Some(missing) = missing else {
                return Ok(());
            };
            if started.elapsed() >= within {
                let shown = match &read {
                    Ok(text) => {
                        let lines: Vec<&str> = text.lines().collect();
                        let tail = &lines[lines.len().saturating_sub(SHOWN_LINES)..];
                        format!(
                            "the file has {} lines, the last {}:\n{}",
                            lines.len(),
                            tail.len(),
                            tail.iter()
                                .map(|l| format!("  | {l}"))
                                .collect::<Vec<_>>()
                                .join("\n")
                        )
                    }
                    Err(e) => format!("the file is not there ({e})"),
                };
                return Err(StepFailure {
                    case: Some(step.file.clone()),
                    message: format!(
                        "access log {}: expected {} within {within:?} (entries are found in the \
                         order listed, each on its own line); {shown}",
                        path.display(),
                        missing.describe()
                    ),
                    related: self.related_status(Some(&step.gateway)).await,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
