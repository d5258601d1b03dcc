//! Per-test verdicts of a suite run, read from where they are written: upstream's
//! `go test -v` output (`--- PASS: TestConformance/<ShortName> (0.31s)`), a JUnit XML file
//! (ours, or upstream's through go-junit-report), or our own run's results.

use std::collections::BTreeMap;

use crate::outcome::{Outcome, ScenarioResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// Test ShortName to verdict.
pub type Verdicts = BTreeMap<String, Verdict>;

/// The verdict of one `go test -v` line about a direct subtest of `TestConformance`.
pub fn parse_line(line: &str) -> Option<(String, Verdict)> {
    let rest = line.trim_start().strip_prefix("--- ")?;
    let (word, rest) = rest.split_once(": ")?;
    let verdict = match word {
        "PASS" => Verdict::Pass,
        "FAIL" => Verdict::Fail,
        "SKIP" => Verdict::Skip,
        _ => return None,
    };
    let name = rest.split_whitespace().next()?;
    let short = name.strip_prefix("TestConformance/")?;
    // Deeper subtests (cases within a test) are not tests of their own.
    (!short.is_empty() && !short.contains('/')).then(|| (short.to_owned(), verdict))
}

/// Every test verdict in `go test -v` output.
pub fn from_go_test(output: &str) -> Verdicts {
    output.lines().filter_map(parse_line).collect()
}

/// The verdicts of our own run.
pub fn from_results(results: &[ScenarioResult]) -> Verdicts {
    results
        .iter()
        .map(|r| {
            let verdict = match r.outcome {
                Outcome::Passed => Verdict::Pass,
                Outcome::Failed(_) => Verdict::Fail,
                Outcome::Skipped { .. } | Outcome::Unsupported { .. } => Verdict::Skip,
            };
            (r.name.clone(), verdict)
        })
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Verdicts from JUnit XML: a test case with a `<failure>` or `<error>` failed, one with
/// `<skipped>` was skipped, any other passed. Names are taken after their last `/`, so
/// `TestConformance/HTTPRouteSimple` reads as `HTTPRouteSimple`.
pub fn from_junit(xml: &str) -> Verdicts {
    let mut out = Verdicts::new();
    let mut rest = xml;
    while let Some(at) = rest.find("<testcase") {
        rest = &rest[at..];
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        let self_closing = tag.ends_with('/');
        let body_end = if self_closing {
            tag_end
        } else {
            rest.find("</testcase>").unwrap_or(rest.len())
        };
        let body = &rest[tag_end.min(body_end)..body_end];
        if let Some(name) = attribute(tag, "name") {
            let short = name.rsplit('/').next().unwrap_or(&name).to_owned();
            let verdict = if body.contains("<failure") || body.contains("<error") {
                Verdict::Fail
            } else if body.contains("<skipped") {
                Verdict::Skip
            } else {
                Verdict::Pass
            };
            out.insert(short, verdict);
        }
        rest = &rest[body_end.min(rest.len())..];
        if rest.starts_with("<testcase") {
            rest = &rest["<testcase".len()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_test_lines_give_direct_subtests_only() {
        let output = "\
=== RUN   TestConformance/HTTPRouteSimpleSameNamespace
    --- PASS: TestConformance/HTTPRouteSimpleSameNamespace (0.15s)
        --- PASS: TestConformance/HTTPRouteSimpleSameNamespace/0_request_to_'/' (0.01s)
    --- FAIL: TestConformance/HTTPRouteWeight (30.34s)
    --- SKIP: TestConformance/GRPCRouteHeaderMatching (0.00s)
--- FAIL: TestConformance (31.00s)
FAIL
";
        let v = from_go_test(output);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v["HTTPRouteSimpleSameNamespace"], Verdict::Pass);
        assert_eq!(v["HTTPRouteWeight"], Verdict::Fail);
        assert_eq!(v["GRPCRouteHeaderMatching"], Verdict::Skip);
    }

    #[test]
    fn junit_cases_read_by_their_children() {
        let xml = r#"<?xml version="1.0"?>
<testsuites><testsuite name="httproute">
    <testcase name="HTTPRouteSimpleSameNamespace" classname="httproute" time="0.1"/>
    <testcase name="TestConformance/HTTPRouteWeight" classname="x" time="1">
      <failure message="a &amp; b" type="expect-http">boom</failure>
    </testcase>
    <testcase name="GRPCRouteHeaderMatching" classname="x" time="0">
      <skipped message="unsupported"/>
    </testcase>
</testsuite></testsuites>"#;
        let v = from_junit(xml);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v["HTTPRouteSimpleSameNamespace"], Verdict::Pass);
        assert_eq!(v["HTTPRouteWeight"], Verdict::Fail);
        assert_eq!(v["GRPCRouteHeaderMatching"], Verdict::Skip);
    }
}
