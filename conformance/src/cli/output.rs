//! What a run prints and writes: the run header is the CLI's own; progress lines, failure
//! blocks, the per-profile table, the ConformanceReport and JUnit come from `report`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use gatesim_conformance::outcome::ScenarioResult;
use gatesim_conformance::report::{self, ConformanceReport, ReportOptions, terminal};
use gatesim_conformance::scenario::Profile;

/// Facts about a run for its header.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub target: String,
    pub target_lines: Vec<(String, String)>,
    pub gateway_class: String,
    pub controller: String,
    pub features: Vec<String>,
    pub features_source: String,
}

pub fn style() -> terminal::Style {
    terminal::Style::detect(&std::io::stdout())
}

pub fn header(info: &RunInfo, counts: (usize, usize, usize), concurrency: usize) {
    let mut out = format!("gatesim run: target {}\n", info.target);
    let mut line = |k: &str, v: &str| {
        let _ = writeln!(out, "  {k:<13} {v}");
    };
    for (k, v) in &info.target_lines {
        line(k, v);
    }
    line(
        "GatewayClass",
        &format!("{} (controller {})", info.gateway_class, info.controller),
    );
    line(
        "features",
        &format!("{} ({})", info.features.join(", "), info.features_source),
    );
    line(
        "scenarios",
        &format!(
            "{} to run, {} skipped, {} unsupported; up to {concurrency} at once",
            counts.0, counts.1, counts.2
        ),
    );
    say!("{}", out.trim_end());
}

pub fn setup_line(what: &str, took: Duration) {
    say!("  {what:<13} {}", terminal::human(took));
}

pub fn progress(result: &ScenarioResult) {
    say!("{}", terminal::progress_line(result, style()));
}

pub fn failures(results: &[ScenarioResult]) {
    let text = terminal::failures(results, style());
    if !text.is_empty() {
        say!("\n{text}");
    }
}

pub fn summary(
    report: &ConformanceReport,
    results: &[ScenarioResult],
    profiles: &[Profile],
    wall: Duration,
) {
    say!(
        "\n{}",
        terminal::summary(report, results, profiles, wall, style())
    );
}

pub fn build_report(results: &[ScenarioResult], options: &ReportOptions) -> ConformanceReport {
    report::build(results, options)
}

pub fn write_report(path: &Path, report: &ConformanceReport) -> Result<()> {
    report
        .implementation
        .validate()
        .context("--report-output")?;
    let text = report.to_yaml().context("rendering the report")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub fn write_junit(path: &Path, name: &str, results: &[ScenarioResult]) -> Result<()> {
    std::fs::write(path, report::junit::to_xml(name, results))
        .with_context(|| format!("writing {}", path.display()))
}
