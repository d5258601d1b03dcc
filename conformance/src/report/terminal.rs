//! What the person running the suite reads: a line per scenario as it finishes, a summary table
//! per profile at the end, and a block per failure with everything needed to start debugging
//! without re-running. Every function returns the text; the caller decides where it goes.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use super::conformance::{ConformanceReport, RunResult, Status};
use super::failure;
use crate::outcome::{Failure, Outcome, ScenarioResult};
use crate::scenario::features::k8sgateway_features;
use crate::scenario::{Level, Profile};

/// Width of a progress line, status word to the end of the right-hand column.
pub const LINE_WIDTH: usize = 72;

/// Whether to colour: only for a terminal, and never when `NO_COLOR` is set to a non-empty value
/// (the no-color.org rule, which lets an empty `NO_COLOR=` in a CI file mean "unset").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };
    pub const COLOR: Style = Style { color: true };

    pub fn decide(is_terminal: bool, no_color: Option<&OsStr>) -> Style {
        Style {
            color: gatesim_reference::terminal::use_color(is_terminal, no_color),
        }
    }

    /// The style for output written to `stream` (usually `std::io::stdout()`).
    pub fn detect(stream: &impl IsTerminal) -> Style {
        Style {
            color: gatesim_reference::terminal::color_for(stream),
        }
    }

    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{sgr}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }
}

const GREEN: &str = "32";
const RED: &str = "1;31";
const YELLOW: &str = "33";
const BOLD: &str = "1";
const DIM: &str = "2";

/// `PASS  HTTPRouteHeaderMatching ........ 0.84s`: the status word, the name, a dot leader, and
/// on the right the duration, or for a scenario that did not run, why. No trailing newline.
pub fn progress_line(result: &ScenarioResult, style: Style) -> String {
    let (word, colour, right) = match &result.outcome {
        Outcome::Passed => ("PASS", GREEN, human(result.duration)),
        Outcome::Failed(_) => ("FAIL", RED, human(result.duration)),
        Outcome::Skipped { reason } => ("SKIP", YELLOW, format!("skipped: {reason}")),
        Outcome::Unsupported { missing } => (
            "SKIP",
            YELLOW,
            format!("unsupported: {}", missing.join(", ")),
        ),
    };
    let used = word.len() + 2 + width(&result.name) + 2 + width(&right);
    let dots = LINE_WIDTH.saturating_sub(used).max(3);
    format!(
        "{}  {} {} {right}",
        style.paint(colour, word),
        result.name,
        style.paint(DIM, &".".repeat(dots)),
    )
}

/// The table of every profile in the report (core and, when counted, extended), with how
/// many of upstream's tests for that profile and level the suite has, then a line for each of
/// `profiles` that counted nothing, then the run's totals and wall time. A profile whose
/// scenarios never use its own route kind (only shared Gateway tests) is not called a success:
/// its result says what is missing.
pub fn summary(
    report: &ConformanceReport,
    results: &[ScenarioResult],
    profiles: &[Profile],
    wall: Duration,
    style: Style,
) -> String {
    let mut out = String::new();
    if report.profiles.is_empty() {
        out.push_str("No conformance profile counted any of these scenarios.\n");
    } else {
        let name_width = report
            .profiles
            .iter()
            .map(|p| width(&p.name))
            .chain([width("Profile")])
            .max()
            .unwrap_or(0);
        let header = format!(
            "{:<name_width$}  {:<8}  {:>6}  {:>7}  {:>6}  {:>8}  Result",
            "Profile", "Level", "Passed", "Skipped", "Failed", "Upstream"
        );
        let _ = writeln!(out, "{}", style.paint(BOLD, &header));
        for report in &report.profiles {
            let Ok(profile) = report.name.parse::<Profile>() else {
                continue;
            };
            let row = Row {
                profile,
                results,
                name_width,
                style,
            };
            row.write(&mut out, &report.name, Level::Core, &report.core);
            if let Some(extended) = &report.extended {
                row.write(&mut out, "", Level::Extended, &extended.status);
            }
        }
    }
    if report.profile(Profile::K8sGateway.name()).is_some() {
        out.push_str(&by_kind(results, style));
    }
    for profile in profiles {
        if report.profiles.iter().all(|p| p.name != profile.name()) {
            let _ = match (
                profile.upstream_tests(Level::Core),
                profile.upstream_tests(Level::Extended),
            ) {
                (Some(core), Some(extended)) => writeln!(
                    out,
                    "{profile}: 0 of {core} core and 0 of {extended} extended upstream tests in this suite",
                ),
                _ => writeln!(out, "{profile}: no scenario in this suite"),
            };
        }
    }
    let _ = writeln!(out, "{}", totals(results, wall));
    out
}

/// The K8SGATEWAY profile per kind: one row per K8sGateway feature, counting every scenario
/// that lists it (a scenario with two such features counts in both rows). Scenarios that did
/// not run because a feature is unsupported are shown apart from those skipped by the flags.
fn by_kind(results: &[ScenarioResult], style: Style) -> String {
    let rows: Vec<&str> = k8sgateway_features().collect();
    let name_width = rows
        .iter()
        .map(|r| width(r))
        .chain([width("K8SGATEWAY kind")])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let header = format!(
        "{:<name_width$}  {:>6}  {:>7}  {:>6}  {:>11}",
        "K8SGATEWAY kind", "Passed", "Skipped", "Failed", "Unsupported"
    );
    let _ = writeln!(out, "{}", style.paint(BOLD, &header));
    for feature in rows {
        let listed: Vec<&Outcome> = results
            .iter()
            .filter(|r| r.features.iter().any(|f| f == feature))
            .map(|r| &r.outcome)
            .collect();
        let count = |f: fn(&Outcome) -> bool| listed.iter().filter(|o| f(o)).count();
        let failed = count(Outcome::is_failure);
        let line = format!(
            "{feature:<name_width$}  {:>6}  {:>7}  {:>6}  {:>11}",
            count(|o| matches!(o, Outcome::Passed)),
            count(|o| matches!(o, Outcome::Skipped { .. })),
            failed,
            count(|o| matches!(o, Outcome::Unsupported { .. })),
        );
        let line = if failed > 0 {
            style.paint(RED, &line)
        } else {
            line
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

/// One table row: a profile at one level.
struct Row<'a> {
    profile: Profile,
    results: &'a [ScenarioResult],
    name_width: usize,
    style: Style,
}

impl Row<'_> {
    fn write(&self, out: &mut String, name: &str, level: Level, status: &Status) {
        let counted: Vec<&ScenarioResult> = self
            .results
            .iter()
            .filter(|r| self.profile.level(&r.features) == Some(level))
            .collect();
        let missing = self
            .profile
            .own_feature()
            .filter(|own| !counted.iter().any(|r| r.features.iter().any(|f| f == own)));
        let (colour, result) = match status.result {
            RunResult::Success if missing.is_some() => (
                YELLOW,
                format!("untested: no {} scenario", missing.unwrap_or_default()),
            ),
            RunResult::Success => (GREEN, status.result.as_str().to_owned()),
            RunResult::Partial => (YELLOW, status.result.as_str().to_owned()),
            RunResult::Failure => (RED, status.result.as_str().to_owned()),
        };
        let upstream = match self.profile.upstream_tests(level) {
            Some(total) => format!("{} of {total}", counted.len()),
            // No upstream suite to be measured against: our own scenarios only.
            None => "-".to_owned(),
        };
        let s = status.statistics;
        let level = match level {
            Level::Core => "core",
            Level::Extended => "extended",
        };
        let name_width = self.name_width;
        let _ = writeln!(
            out,
            "{name:<name_width$}  {level:<8}  {:>6}  {:>7}  {:>6}  {upstream:>8}  {}",
            s.passed,
            s.skipped,
            s.failed,
            self.style.paint(colour, &result)
        );
    }
}

fn totals(results: &[ScenarioResult], wall: Duration) -> String {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let noun = if results.len() == 1 {
        "scenario"
    } else {
        "scenarios"
    };
    format!(
        "{} {noun} in {}: {} passed, {} failed, {} skipped, {} unsupported",
        results.len(),
        human(wall),
        count(|o| matches!(o, Outcome::Passed)),
        count(Outcome::is_failure),
        count(|o| matches!(o, Outcome::Skipped { .. })),
        count(|o| matches!(o, Outcome::Unsupported { .. })),
    )
}

/// A block per failed scenario, separated by blank lines; empty when nothing failed.
pub fn failures(results: &[ScenarioResult], style: Style) -> String {
    results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(f) => Some(failure_block(r, f, style)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `FAIL  name  file`, then the step, case, expected against observed and related status,
/// indented under it.
pub fn failure_block(result: &ScenarioResult, failure: &Failure, style: Style) -> String {
    let mut out = format!(
        "{}  {}  {}\n",
        style.paint(RED, "FAIL"),
        style.paint(BOLD, &result.name),
        result.path.display()
    );
    for line in failure::details(failure).lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// `0.84s` under a minute, `2m05.3s` above.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else {
        let tenths = (secs * 10.0).round() as u64;
        let (minutes, rest) = (tenths / 600, tenths % 600);
        format!("{minutes}m{:02}.{}s", rest / 10, rest % 10)
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert_eq!(Style::decide(true, None), Style::COLOR);
        assert_eq!(Style::decide(false, None), Style::PLAIN);
        assert_eq!(Style::decide(true, Some(OsStr::new("1"))), Style::PLAIN);
        assert_eq!(Style::decide(true, Some(OsStr::new(""))), Style::COLOR);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(840)), "0.84s");
        assert_eq!(human(Duration::from_millis(125_300)), "2m05.3s");
        assert_eq!(human(Duration::ZERO), "0.00s");
        assert_eq!(human(Duration::from_millis(119_970)), "2m00.0s");
    }
}
