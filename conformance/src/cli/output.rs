//! What a run prints and writes. Kept behind these few functions so that the report module
//! (ConformanceReport, JUnit, terminal tables) can take over in one place.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use gatesim_conformance::outcome::{Outcome, ScenarioResult};
use gatesim_conformance::scenario::{Level, Profile};

/// The implementation a report describes.
#[derive(Clone, Debug)]
pub struct Implementation {
    pub organization: String,
    pub project: String,
    pub url: String,
    pub version: String,
    pub contact: Vec<String>,
}

/// Facts about a run for its header and its report.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub target: String,
    pub target_lines: Vec<(String, String)>,
    pub gateway_class: String,
    pub controller: String,
    pub supported: BTreeSet<String>,
    pub features_source: String,
    pub profiles: Vec<Profile>,
    pub implementation: Implementation,
    pub mode: String,
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

pub fn header(info: &RunInfo, counts: (usize, usize, usize), concurrency: usize) {
    let mut out = format!("gatesim run: target {}\n", info.target);
    for (k, v) in &info.target_lines {
        let _ = writeln!(out, "  {k:<13} {v}");
    }
    let _ = writeln!(
        out,
        "  {:<13} {} (controller {})",
        "GatewayClass", info.gateway_class, info.controller
    );
    let features: Vec<&str> = info.supported.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "  {:<13} {} ({})",
        "features",
        features.join(", "),
        info.features_source
    );
    let _ = writeln!(
        out,
        "  {:<13} {} to run, {} skipped, {} unsupported; up to {concurrency} at once",
        "scenarios", counts.0, counts.1, counts.2
    );
    print!("{out}");
}

pub fn setup_line(what: &str, took: Duration) {
    println!("  {what:<13} {}", secs(took));
}

/// One line per finished scenario.
pub fn progress(result: &ScenarioResult, root: Option<&Path>) {
    let tag = match &result.outcome {
        Outcome::Passed => "PASS",
        Outcome::Failed(_) => "FAIL",
        Outcome::Skipped { .. } => "SKIP",
        Outcome::Unsupported { .. } => "----",
    };
    let path = root
        .and_then(|r| result.path.strip_prefix(r).ok())
        .unwrap_or(&result.path);
    println!(
        "{tag}  {:<52} {:>7}  {}",
        result.name,
        secs(result.duration),
        path.display()
    );
}

/// Every failure, in full.
pub fn failures(results: &[ScenarioResult]) {
    for result in results {
        let Outcome::Failed(f) = &result.outcome else {
            continue;
        };
        println!("\n--- FAIL {} ({})", result.name, result.path.display());
        if let Some((index, key)) = &f.step {
            println!("step {index} ({key})");
        }
        if let Some(case) = &f.case {
            println!("case: {case}");
        }
        println!("{}", f.message.trim_end());
        if let Some(status) = &f.related_status {
            println!("related status:");
            for line in status.lines() {
                println!("  {line}");
            }
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Unsupported { .. } => {}
        }
    }

    fn result(&self) -> &'static str {
        if self.failed > 0 {
            "failure"
        } else if self.skipped > 0 {
            "partial"
        } else {
            "success"
        }
    }
}

fn tallies(results: &[ScenarioResult], profile: Profile) -> (Tally, Tally) {
    let mut core = Tally::default();
    let mut extended = Tally::default();
    for r in results {
        match profile.level(&r.features) {
            Some(Level::Core) => core.add(&r.outcome),
            Some(Level::Extended) => extended.add(&r.outcome),
            None => {}
        }
    }
    (core, extended)
}

/// The profiles to summarize: the requested ones, or every one that counts a result.
fn profiles_of(info: &RunInfo, results: &[ScenarioResult]) -> Vec<Profile> {
    if !info.profiles.is_empty() {
        return info.profiles.clone();
    }
    Profile::ALL
        .into_iter()
        .filter(|p| {
            results.iter().any(|r| {
                !matches!(r.outcome, Outcome::Unsupported { .. }) && p.level(&r.features).is_some()
            })
        })
        .collect()
}

pub fn summary(info: &RunInfo, results: &[ScenarioResult], wall: Duration) {
    println!();
    println!(
        "{:<14} {:<9} {:>7} {:>7} {:>8}  result",
        "profile", "level", "passed", "failed", "skipped"
    );
    for profile in profiles_of(info, results) {
        let (core, extended) = tallies(results, profile);
        for (level, t) in [("core", core), ("extended", extended)] {
            if level == "extended" && t.passed + t.failed + t.skipped == 0 {
                continue;
            }
            println!(
                "{:<14} {:<9} {:>7} {:>7} {:>8}  {}",
                profile.name(),
                level,
                t.passed,
                t.failed,
                t.skipped,
                t.result()
            );
        }
    }
    let failed = results.iter().filter(|r| r.outcome.is_failure()).count();
    let passed = results
        .iter()
        .filter(|r| r.outcome == Outcome::Passed)
        .count();
    println!(
        "\n{passed} passed, {failed} failed, {} not run, in {}",
        results.len() - passed - failed,
        secs(wall)
    );
}

/// A ConformanceReport in upstream's shape (`conformance/apis/v1`).
pub fn write_report(path: &Path, info: &RunInfo, results: &[ScenarioResult]) -> Result<()> {
    let mut profiles = Vec::new();
    for profile in profiles_of(info, results) {
        let (core, extended) = tallies(results, profile);
        let status = |t: Tally, level: Level| {
            let names = |pick: fn(&Outcome) -> bool| -> Vec<&str> {
                results
                    .iter()
                    .filter(|r| profile.level(&r.features) == Some(level) && pick(&r.outcome))
                    .map(|r| r.name.as_str())
                    .collect()
            };
            json!({
                "result": t.result(),
                "statistics": {"Passed": t.passed, "Skipped": t.skipped, "Failed": t.failed},
                "skippedTests": names(|o| matches!(o, Outcome::Skipped { .. })),
                "failedTests": names(Outcome::is_failure),
            })
        };
        let supported: Vec<&str> = profile
            .extended_features()
            .filter(|f| info.supported.contains(*f))
            .collect();
        let unsupported: Vec<&str> = profile
            .extended_features()
            .filter(|f| !info.supported.contains(*f))
            .collect();
        let mut ext = status(extended, Level::Extended);
        ext["supportedFeatures"] = json!(supported);
        ext["unsupportedFeatures"] = json!(unsupported);
        let summary = format!(
            "Core tests {}.{}",
            if core.failed == 0 { "succeeded" } else { "failed" },
            if extended.passed + extended.failed + extended.skipped == 0 {
                String::new()
            } else if extended.failed == 0 {
                " Extended tests succeeded.".to_owned()
            } else {
                " Extended tests failed.".to_owned()
            }
        );
        profiles.push(json!({
            "name": profile.name(),
            "summary": summary,
            "core": status(core, Level::Core),
            "extended": ext,
        }));
    }
    let provisional: Vec<&str> = results
        .iter()
        .filter(|r| r.provisional && r.outcome == Outcome::Passed)
        .map(|r| r.name.as_str())
        .collect();
    let imp = &info.implementation;
    let report = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ConformanceReport",
        "date": jiff::Timestamp::now().to_string(),
        "gatewayAPIVersion": "v1.6.1",
        "gatewayAPIChannel": "experimental",
        "mode": info.mode,
        "implementation": {
            "organization": imp.organization,
            "project": imp.project,
            "url": imp.url,
            "version": imp.version,
            "contact": imp.contact,
        },
        "profiles": profiles,
        "succeededProvisionalTests": provisional,
    });
    let text = serde_yaml::to_string(&report).context("rendering the report")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn write_junit(path: &Path, target: &str, results: &[ScenarioResult]) -> Result<()> {
    let failures = results.iter().filter(|r| r.outcome.is_failure()).count();
    let skipped = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped { .. } | Outcome::Unsupported { .. }))
        .count();
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"gatesim-{target}\" \
         tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{total:.3}\">\n",
        results.len()
    );
    for r in results {
        let _ = write!(
            xml,
            "  <testcase classname=\"{target}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&r.name),
            r.duration.as_secs_f64()
        );
        match &r.outcome {
            Outcome::Passed => xml.push_str("/>\n"),
            Outcome::Failed(f) => {
                let _ = write!(
                    xml,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    xml_escape(f.message.lines().next().unwrap_or_default()),
                    xml_escape(&f.message)
                );
            }
            Outcome::Skipped { reason } => {
                let _ = write!(
                    xml,
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>\n",
                    xml_escape(reason)
                );
            }
            Outcome::Unsupported { missing } => {
                let _ = write!(
                    xml,
                    ">\n    <skipped message=\"unsupported features: {}\"/>\n  </testcase>\n",
                    xml_escape(&missing.join(", "))
                );
            }
        }
    }
    xml.push_str("</testsuite>\n");
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}
