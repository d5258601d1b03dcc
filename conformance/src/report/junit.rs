//! JUnit XML for CI test views (GitHub test reporters, GitLab `artifacts:reports:junit`,
//! Jenkins `junit`).
//!
//! Layout: one `<testsuites>` root holding one `<testsuite>` per scenario directory
//! (`httproute`, `gateway`, ...), the way go-junit-report groups Go tests by package. Every
//! scenario appears exactly once; a suite per conformance profile would repeat the scenarios that
//! several profiles count and inflate the totals CI shows. `classname` is the directory too, so
//! views that group by class and views that group by suite agree.
//!
//! Only the attributes every consumer reads are written (`name`, `tests`, `failures`, `errors`,
//! `skipped`, `time`; `name`, `classname`, `time` on test cases); `errors` is always 0 because
//! the runner reports harness trouble as a failure of the scenario it hit.

use std::fmt::Write as _;
use std::time::Duration;

use super::failure;
use crate::outcome::{Outcome, ScenarioResult};

/// The document for one run; `name` names the run (for example `gatesim sim`).
pub fn to_xml(name: &str, results: &[ScenarioResult]) -> String {
    let mut groups: Vec<(String, Vec<&ScenarioResult>)> = Vec::new();
    for result in results {
        let group = failure::group(&result.path);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => members.push(result),
            None => groups.push((group, vec![result])),
        }
    }

    let all: Vec<&ScenarioResult> = results.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites {}>", counts(name, &all));
    for (group, members) in &groups {
        let _ = writeln!(out, "  <testsuite {}>", counts(group, members));
        for result in members {
            write_case(&mut out, group, result);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn counts(name: &str, results: &[&ScenarioResult]) -> String {
    let failures = results.iter().filter(|r| r.outcome.is_failure()).count();
    let skipped = results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Skipped { .. } | Outcome::Unsupported { .. }
            )
        })
        .count();
    let time: Duration = results.iter().map(|r| r.duration).sum();
    format!(
        "name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\"",
        attribute(name),
        results.len(),
        seconds(time)
    )
}

fn write_case(out: &mut String, group: &str, result: &ScenarioResult) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attribute(&result.name),
        attribute(group),
        seconds(result.duration)
    );
    match &result.outcome {
        Outcome::Passed => out.push_str("/>\n"),
        Outcome::Failed(f) => {
            let kind = f.step.as_ref().map_or("failure", |(_, key)| key.as_str());
            let body = format!("file: {}\n{}", result.path.display(), failure::details(f));
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                attribute(&failure::headline(f)),
                attribute(kind),
                text(&body)
            );
        }
        Outcome::Skipped { reason } => skipped(out, reason),
        Outcome::Unsupported { missing } => {
            skipped(
                out,
                &format!("unsupported features: {}", missing.join(", ")),
            );
        }
    }
}

fn skipped(out: &mut String, message: &str) {
    let _ = write!(
        out,
        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
        attribute(message)
    );
}

/// Seconds with millisecond precision, the form every consumer parses.
fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Character data: markup characters escaped, characters XML 1.0 cannot carry at all (most C0
/// controls, such as the ESC of a stray colour code) written out as `\u{1b}` so nothing is lost.
pub(crate) fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value: as `text`, plus both quotes and the whitespace a parser would otherwise
/// normalise to spaces.
pub(crate) fn attribute(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if !allowed_in_xml(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// XML 1.0's `Char` production (surrogates cannot occur in a Rust string).
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_unrepresentable_characters() {
        assert_eq!(text("a<b>&c\"d'"), "a&lt;b&gt;&amp;c\"d'");
        assert_eq!(
            attribute("a<b>&c\"d'\n\te"),
            "a&lt;b&gt;&amp;c&quot;d&apos;&#10;&#9;e"
        );
        assert_eq!(text("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(text("\u{fffe}\u{fffd}"), "\\u{fffe}\u{fffd}");
        assert_eq!(text("]]>"), "]]&gt;");
    }

    #[test]
    fn seconds_have_millisecond_precision() {
        assert_eq!(seconds(Duration::from_millis(840)), "0.840");
        assert_eq!(seconds(Duration::ZERO), "0.000");
        assert_eq!(seconds(Duration::from_secs(75)), "75.000");
    }
}
